/*
 * ngx_http_s3_proxy_module: authenticated, read-only access to private S3
 * buckets.  This file holds the s3_proxy_* directives, how their values
 * are inherited, and what the module registers with nginx; the other
 * files are listed in ngx_http_s3_proxy_module.h.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_s3_proxy_module.h"


static void *ngx_http_s3_proxy_create_srv_conf(ngx_conf_t *cf);
static char *ngx_http_s3_proxy_mount(ngx_conf_t *cf,
    ngx_http_s3_proxy_loc_conf_t *conf);
static void *ngx_http_s3_proxy_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_s3_proxy_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_s3_proxy(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_s3_proxy_post(ngx_conf_t *cf, void *post,
    void *data);
static ngx_int_t ngx_http_s3_proxy_init(ngx_conf_t *cf);


/*
 * A value the core checks where its directive stands, once nginx's own
 * slot has read it (an ngx_conf_post_t, as ngx_conf_num_bounds_t is)
 */
typedef struct {
    ngx_conf_post_handler_pt   post_handler;
    ngx_uint_t                 seconds;  /* a time_t, not an ngx_str_t */
    ngx_uint_t                 declare;  /* it decides where requests go */
} ngx_http_s3_proxy_post_t;


static ngx_http_s3_proxy_post_t  ngx_http_s3_proxy_lifetime =
    { ngx_http_s3_proxy_post, 1, 0 };
static ngx_http_s3_proxy_post_t  ngx_http_s3_proxy_value =
    { ngx_http_s3_proxy_post, 0, 0 };
static ngx_http_s3_proxy_post_t  ngx_http_s3_proxy_where =
    { ngx_http_s3_proxy_post, 0, 1 };


/* s3_proxy_pass_headers: S3's response headers hidden unless named */
static ngx_conf_bitmask_t  ngx_http_s3_proxy_pass_headers_mask[] = {
    { ngx_string("off"), NGX_HTTP_S3_PROXY_PASS_OFF },
    { ngx_string("request-id"), S3P_PASS_REQUEST_ID },
    { ngx_string("sse"), S3P_PASS_SSE },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_s3_proxy_commands[] = {

    { ngx_string("s3_proxy"),
      NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_http_s3_proxy,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_s3_proxy_loc_conf_t, enable),
      NULL },

    { ngx_string("s3_proxy_expires"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_s3_proxy_loc_conf_t, expires),
      &ngx_http_s3_proxy_lifetime },

    { ngx_string("s3_proxy_presign_window"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_s3_proxy_window,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_s3_proxy_loc_conf_t, window),
      &ngx_http_s3_proxy_lifetime },

    { ngx_string("s3_proxy_buckets"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_s3_proxy_buckets,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("s3_proxy_allow_params"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_s3_proxy_allow_params,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("s3_proxy_ignore_params"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_s3_proxy_ignore_params,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("s3_proxy_stream_agents"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_s3_proxy_stream_agents,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_s3_proxy_loc_conf_t, stream),
      NULL },

    { ngx_string("s3_proxy_listing"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_s3_proxy_loc_conf_t, listing),
      NULL },

    { ngx_string("s3_proxy_index"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_s3_proxy_loc_conf_t, index),
      &ngx_http_s3_proxy_value },

    { ngx_string("s3_proxy_bucket"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_s3_proxy_per_request,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_s3_proxy_loc_conf_t, bucket),
      NULL },

    { ngx_string("s3_proxy_prefix"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_s3_proxy_per_request,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_s3_proxy_loc_conf_t, prefix),
      NULL },

    { ngx_string("s3_proxy_endpoint"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_s3_proxy_loc_conf_t, raw.endpoint),
      &ngx_http_s3_proxy_where },

    { ngx_string("s3_proxy_external_endpoint"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_s3_proxy_loc_conf_t, raw.external_endpoint),
      &ngx_http_s3_proxy_where },

    { ngx_string("s3_proxy_region"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_s3_proxy_loc_conf_t, raw.region),
      &ngx_http_s3_proxy_where },

    { ngx_string("s3_proxy_credentials"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_s3_proxy_credentials,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("s3_proxy_addressing"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_s3_proxy_addressing,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("s3_proxy_pass_headers"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_conf_set_bitmask_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_s3_proxy_loc_conf_t, pass_headers),
      &ngx_http_s3_proxy_pass_headers_mask },

    { ngx_string("s3_proxy_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_s3_proxy_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("s3_proxy_website"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_s3_proxy_loc_conf_t, website),
      NULL },

    { ngx_string("s3_proxy_types"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_s3_proxy_loc_conf_t, types),
      NULL },

    { ngx_string("s3_proxy_proxy_types"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_s3_proxy_proxy_types,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("s3_proxy_download_param"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_s3_proxy_loc_conf_t, download),
      &ngx_http_s3_proxy_value },

    { ngx_string("s3_proxy_error_document"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_s3_proxy_error_document,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

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
     *     conf->core = NULL;
     *     conf->pass_headers = 0;
     */

    conf->enable = NGX_CONF_UNSET;
    conf->expires = NGX_CONF_UNSET;
    conf->window = NGX_CONF_UNSET;
    conf->buckets = NGX_CONF_UNSET_PTR;
    conf->bucket = NGX_CONF_UNSET_PTR;
    conf->prefix = NGX_CONF_UNSET_PTR;
    conf->params = NGX_CONF_UNSET_PTR;
    conf->ignore_params = NGX_CONF_UNSET_PTR;
    conf->stream = NGX_CONF_UNSET_PTR;
    conf->listing = NGX_CONF_UNSET;
    conf->raw.credentials = S3P_CREDENTIALS_UNSET;
    conf->raw.addressing = S3P_ADDRESSING_UNSET;
    conf->website = NGX_CONF_UNSET;
    conf->types = NGX_CONF_UNSET;
    conf->proxy_types = NGX_CONF_UNSET_PTR;
    conf->error_status = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_http_s3_proxy_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_s3_proxy_loc_conf_t *prev = parent;
    ngx_http_s3_proxy_loc_conf_t *conf = child;

    ngx_http_core_loc_conf_t       *clcf;
    ngx_http_s3_proxy_main_conf_t  *smcf;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);

    if (conf->enable_pos.file_name == NULL) {
        conf->enable_pos = prev->enable_pos;
    }

    /* unset stays unset: the core's defaults apply (s3_proxy_core.h) */

    ngx_conf_merge_sec_value(conf->expires, prev->expires, NGX_CONF_UNSET);
    ngx_conf_merge_sec_value(conf->window, prev->window, 0);
    ngx_conf_merge_str_value(conf->index, prev->index, "");
    ngx_conf_merge_ptr_value(conf->bucket, prev->bucket, NULL);
    ngx_conf_merge_ptr_value(conf->prefix, prev->prefix, NULL);
    s3p_settings_merge(&conf->raw, &prev->raw);

    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_s3_proxy_module);

    ngx_conf_merge_ptr_value(conf->buckets, prev->buckets, smcf->buckets);
    ngx_conf_merge_ptr_value(conf->params, prev->params, NULL);
    ngx_conf_merge_ptr_value(conf->ignore_params, prev->ignore_params, NULL);

    if (conf->stream == NGX_CONF_UNSET_PTR) {
        conf->stream = prev->stream;
        conf->stream_match = prev->stream_match;
    }

    ngx_conf_merge_value(conf->listing, prev->listing, 0);
    ngx_conf_merge_value(conf->website, prev->website, 0);
    ngx_conf_merge_value(conf->types, prev->types, 0);
    ngx_conf_merge_ptr_value(conf->proxy_types, prev->proxy_types, NULL);
    ngx_conf_merge_str_value(conf->download, prev->download, "");

    if (conf->error_status == NGX_CONF_UNSET) {
        conf->error_document = prev->error_document;
        conf->error_status = prev->error_status;
    }
    ngx_conf_merge_bitmask_value(conf->pass_headers, prev->pass_headers,
                                 NGX_CONF_BITMASK_SET
                                 |NGX_HTTP_S3_PROXY_PASS_OFF);

    /* the snippet is where "s3_proxy on" is, and only there */

    if (ngx_http_s3_proxy_check_snippet(cf, conf, prev) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (!conf->enable) {
        return NGX_CONF_OK;
    }

    /*
     * A prefix location's prefix is its mount: requests below it name S3
     * paths without it.  Regex, exact and named locations keep the whole
     * path; an "if" or "limit_except" block keeps its location's.
     */

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->noname) {
        conf->mount = prev->mount;

    } else if (clcf->exact_match || clcf->named
#if (NGX_PCRE)
               || clcf->regex
#endif
              )
    {
        ngx_str_null(&conf->mount);

    } else {
        conf->mount = clcf->name;
    }

    if (ngx_http_s3_proxy_status_location(cf, conf, &clcf->name) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_s3_proxy_core(cf, conf, smcf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    /* websites: the type of a key is nginx's "types" of the location */

    conf->core->website = (int32_t) conf->website;
    conf->core->types = (int32_t) conf->types;
    conf->core->download.len = conf->download.len;
    conf->core->download.data = conf->download.data;
    conf->core->error_document.len = conf->error_document.len;
    conf->core->error_document.data = conf->error_document.data;
    conf->core->error_status = (int32_t) ngx_max(conf->error_status, 0);
    conf->core->type = ngx_http_s3_proxy_type;
    conf->core->type_data = clcf;

    if (conf->proxy_types != NULL) {
        conf->core->proxy_types = conf->proxy_types->elts;
        conf->core->nproxy_types = conf->proxy_types->nelts;
    }

    return clcf->noname ? NGX_CONF_OK : ngx_http_s3_proxy_mount(cf, conf);
}


/*
 * A prefix location with its own bucket, known to its server: nginx
 * merges each server's locations with the server's configuration in
 * cf->ctx, and ngx_http_s3_proxy_bucket_root() looks the mounts up
 * before nginx finds a location.
 */

static char *
ngx_http_s3_proxy_mount(ngx_conf_t *cf, ngx_http_s3_proxy_loc_conf_t *conf)
{
    ngx_http_s3_proxy_loc_conf_t  **mount;
    ngx_http_s3_proxy_srv_conf_t   *sscf;

    if (conf->bucket == NULL || conf->mount.len < 2) {
        return NGX_CONF_OK;
    }

    sscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_s3_proxy_module);

    if (sscf->mounts == NULL) {
        sscf->mounts = ngx_array_create(cf->pool, 2, sizeof(void *));
        if (sscf->mounts == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    mount = ngx_array_push(sscf->mounts);
    if (mount == NULL) {
        return NGX_CONF_ERROR;
    }

    *mount = conf;

    return NGX_CONF_OK;
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
 * The core's check of a value that nginx's slot has just set (`data`: an
 * ngx_str_t, or a time_t).  A value that decides where the location's
 * requests go declares its upstreams.
 */

static char *
ngx_http_s3_proxy_post(ngx_conf_t *cf, void *post, void *data)
{
    ngx_http_s3_proxy_post_t  *p = post;

    ngx_str_t  *value;

    value = cf->args->elts;

    if (ngx_http_s3_proxy_check(cf, &value[1], 1,
                                p->seconds ? *(time_t *) data : 0, NULL)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (!p->declare) {
        return NGX_CONF_OK;
    }

    return ngx_http_s3_proxy_upstreams_declare(cf,
               ngx_http_conf_get_module_loc_conf(cf, ngx_http_s3_proxy_module));
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
