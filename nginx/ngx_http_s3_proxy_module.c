/*
 * ngx_http_s3_proxy_module: authenticated, read-only access to private S3
 * buckets.  This file holds the s3_proxy_* directives and what the module
 * registers with nginx; the core reads and inherits every setting that
 * needs nothing of nginx.  The other files are listed in
 * ngx_http_s3_proxy_module.h.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_s3_proxy_module.h"


static void *ngx_http_s3_proxy_create_srv_conf(ngx_conf_t *cf);
static void *ngx_http_s3_proxy_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_s3_proxy(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_s3_proxy_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_s3_proxy_per_request(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_s3_proxy_snippet(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_s3_proxy_init(ngx_conf_t *cf);


/* a setting the core reads, at any level: its name, its number of values */

#define NGX_HTTP_S3_PROXY_SETTING(name, args)                                 \
    { ngx_string(name),                                                       \
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|(args),          \
      ngx_http_s3_proxy_set, NGX_HTTP_LOC_CONF_OFFSET, 0, NULL }

/* one nginx may evaluate per request too: the field of its complex value */

#define NGX_HTTP_S3_PROXY_PER_REQUEST(name, field)                            \
    { ngx_string(name),                                                       \
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,  \
      ngx_http_s3_proxy_per_request, NGX_HTTP_LOC_CONF_OFFSET,                \
      offsetof(ngx_http_s3_proxy_loc_conf_t, field), NULL }


static ngx_command_t  ngx_http_s3_proxy_commands[] = {

    { ngx_string("s3_proxy"),
      NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_http_s3_proxy,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_s3_proxy_loc_conf_t, enable),
      NULL },

    NGX_HTTP_S3_PROXY_SETTING("s3_proxy_expires", NGX_CONF_TAKE1),
    NGX_HTTP_S3_PROXY_SETTING("s3_proxy_presign_window", NGX_CONF_TAKE1),
    NGX_HTTP_S3_PROXY_SETTING("s3_proxy_buckets", NGX_CONF_1MORE),
    NGX_HTTP_S3_PROXY_SETTING("s3_proxy_allow_params", NGX_CONF_1MORE),
    NGX_HTTP_S3_PROXY_SETTING("s3_proxy_ignore_params", NGX_CONF_1MORE),
    NGX_HTTP_S3_PROXY_SETTING("s3_proxy_stream_agents", NGX_CONF_1MORE),
    NGX_HTTP_S3_PROXY_SETTING("s3_proxy_listing", NGX_CONF_FLAG),
    NGX_HTTP_S3_PROXY_SETTING("s3_proxy_index", NGX_CONF_TAKE1),

    NGX_HTTP_S3_PROXY_PER_REQUEST("s3_proxy_bucket", bucket),
    NGX_HTTP_S3_PROXY_PER_REQUEST("s3_proxy_prefix", prefix),

    NGX_HTTP_S3_PROXY_SETTING("s3_proxy_endpoint", NGX_CONF_TAKE1),
    NGX_HTTP_S3_PROXY_SETTING("s3_proxy_external_endpoint", NGX_CONF_TAKE1),
    NGX_HTTP_S3_PROXY_SETTING("s3_proxy_region", NGX_CONF_TAKE1),
    NGX_HTTP_S3_PROXY_SETTING("s3_proxy_credentials", NGX_CONF_1MORE),
    NGX_HTTP_S3_PROXY_SETTING("s3_proxy_addressing", NGX_CONF_TAKE1),
    NGX_HTTP_S3_PROXY_SETTING("s3_proxy_pass_headers", NGX_CONF_1MORE),

    { ngx_string("s3_proxy_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_s3_proxy_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    NGX_HTTP_S3_PROXY_SETTING("s3_proxy_website", NGX_CONF_FLAG),
    NGX_HTTP_S3_PROXY_SETTING("s3_proxy_types", NGX_CONF_FLAG),
    NGX_HTTP_S3_PROXY_SETTING("s3_proxy_proxy_types", NGX_CONF_1MORE),
    NGX_HTTP_S3_PROXY_SETTING("s3_proxy_download_param", NGX_CONF_TAKE1),
    NGX_HTTP_S3_PROXY_SETTING("s3_proxy_error_document", NGX_CONF_TAKE12),

    { ngx_string("s3_proxy_snippet"),
      NGX_HTTP_LOC_CONF|NGX_HTTP_LIF_CONF|NGX_CONF_NOARGS,
      ngx_http_s3_proxy_snippet,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_s3_proxy_module_ctx = {
    ngx_http_s3_proxy_add_variables,       /* preconfiguration */
    ngx_http_s3_proxy_init,                /* postconfiguration */

    ngx_http_s3_proxy_create_main_conf,    /* create main configuration */
    NULL,                                  /* init main configuration */

    ngx_http_s3_proxy_create_srv_conf,     /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_s3_proxy_create_loc_conf,     /* create location configuration */
    ngx_http_s3_proxy_merge_loc_conf       /* merge location configuration */
};


ngx_module_t  ngx_http_s3_proxy_module = {
    NGX_MODULE_V1,
    &ngx_http_s3_proxy_module_ctx,         /* module context */
    ngx_http_s3_proxy_commands,            /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_s3_proxy_credentials_init_module, /* init module */
    ngx_http_s3_proxy_credentials_init_process, /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_s3_proxy_create_srv_conf(ngx_conf_t *cf)
{
    /* set by ngx_pcalloc(): mounts = NULL */

    return ngx_pcalloc(cf->pool, sizeof(ngx_http_s3_proxy_srv_conf_t));
}


static void *
ngx_http_s3_proxy_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_s3_proxy_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_s3_proxy_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->mount = { 0, NULL };
     *     conf->core = NULL;
     *     conf->creds = NULL;
     */

    conf->enable = NGX_CONF_UNSET;
    conf->bucket = NGX_CONF_UNSET_PTR;
    conf->prefix = NGX_CONF_UNSET_PTR;
    s3p_settings_init(&conf->raw);

    return conf;
}


static char *
ngx_http_s3_proxy(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_s3_proxy_loc_conf_t  *slcf = conf;

    char  *rv;

    /* what is found wrong once the location is complete points here */

    slcf->enable_pos.file_name = cf->conf_file->file.name.data;
    slcf->enable_pos.line = cf->conf_file->line;

    rv = ngx_conf_set_flag_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    return ngx_http_s3_proxy_upstreams_declare(cf, slcf);
}


/*
 * Every other setting: the core checks the values where the directive
 * stands, so that nginx -t names its line, and keeps them in the raw
 * settings, lists in cf->pool.  One that decides where the location's
 * requests go declares its upstreams.
 */

static char *
ngx_http_s3_proxy_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_s3_proxy_loc_conf_t  *slcf = conf;

    int       rc;
    u_char    err[NGX_MAX_CONF_ERRSTR];
    uint32_t  what;

    rc = s3p_settings_directive(&slcf->raw, cf->args->elts, cf->args->nelts,
                                ngx_http_s3_proxy_alloc, cf->pool,
                                &what, err, sizeof(err));

    if (rc == S3P_E_CONFIG || (what & S3P_DIRECTIVE_WARN)) {
        ngx_conf_log_error((what & S3P_DIRECTIVE_WARN) ? NGX_LOG_WARN
                                                       : NGX_LOG_EMERG,
                           cf, 0, "%s", err);
    }

    if (rc != S3P_OK) {
        return NGX_CONF_ERROR;
    }

    if (what & S3P_DIRECTIVE_WHERE) {
        return ngx_http_s3_proxy_upstreams_declare(cf, slcf);
    }

    return NGX_CONF_OK;
}


/*
 * s3_proxy_bucket and s3_proxy_prefix: with variables, nginx evaluates the
 * value for each request and the core checks it then; the core keeps a
 * constant one.
 */

static char *
ngx_http_s3_proxy_per_request(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *rv;

    rv = ngx_http_set_complex_value_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    return ngx_http_s3_proxy_set(cf, cmd, conf);
}


/* s3_proxy_snippet: the marker, where the snippet was included */

static char *
ngx_http_s3_proxy_snippet(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_s3_proxy_loc_conf_t  *slcf = conf;

    if (slcf->snippet_pos.file_name) {
        return "is duplicate: s3_proxy.conf is included twice";
    }

    slcf->snippet_pos.file_name = cf->conf_file->file.name.data;
    slcf->snippet_pos.line = cf->conf_file->line;

    /* the location's settings before the include: its upstreams */

    return ngx_http_s3_proxy_upstreams_declare(cf, slcf);
}


static ngx_int_t
ngx_http_s3_proxy_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    /* after the access phase, so that auth_basic and friends come first */

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_s3_proxy_handler;

    /* before nginx finds the location: its 301 from "/eu" to "/eu/" */

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_SERVER_REWRITE_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_s3_proxy_bucket_root;

    /* in the filter chain: S3's answers, then nginx's own */

    return ngx_http_s3_proxy_filter_init(cf);
}
