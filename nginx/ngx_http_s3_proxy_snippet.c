/*
 * ngx_http_s3_proxy_module: what a location with "s3_proxy on" needs
 * besides the module's own settings, and the checks that it has it.
 *
 *   - the shipped snippet, s3_proxy.conf, with its proxy_pass: it holds
 *     a marker directive, "s3_proxy_snippet", because nginx lets no module
 *     see which file a location included or where proxy_pass points;
 *   - certificate verification of HTTPS endpoints: the module's defaults
 *     (proxy_ssl_verify on, proxy_ssl_verify_depth 4,
 *     proxy_ssl_trusted_certificate of the system's CA bundle,
 *     proxy_ssl_server_name on) for each one the location and the levels
 *     above it leave unset, so that the operator's own proxy_ssl_*
 *     directives, before or after the include, win without being
 *     "duplicate";
 *   - a resolver for an endpoint given by name.
 *
 * The TLS defaults must be in place before the proxy module merges its
 * settings (and builds the SSL context from them), after which nginx no
 * longer tells set from unset; the main module, whose filters must come
 * after nginx's own, merges last.  So they belong to a second, small
 * module in the same file, which nginx/config orders before
 * ngx_http_proxy_module.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_s3_proxy_module.h"


#define NGX_HTTP_S3_PROXY_CA_BUNDLE  "/etc/ssl/certs/ca-certificates.crt"


typedef struct {
    char                      *name;
    ngx_str_t                  value;
    ngx_uint_t                 str;        /* a string slot, not a number */
} ngx_http_s3_proxy_tls_default_t;


static void *ngx_http_s3_proxy_snippet_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_s3_proxy_snippet_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_s3_proxy_snippet_init_main_conf(ngx_conf_t *cf,
    void *conf);
static ngx_int_t ngx_http_s3_proxy_snippet_preconfiguration(ngx_conf_t *cf);
static char *ngx_http_s3_proxy_snippet(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_module_t *ngx_http_s3_proxy_proxy_module(ngx_conf_t *cf);
static ngx_command_t *ngx_http_s3_proxy_proxy_command(ngx_module_t *m,
    char *name);
static ngx_uint_t ngx_http_s3_proxy_tls_is_set(
    ngx_http_s3_proxy_snippet_conf_t *conf, ngx_command_t *cmd,
    ngx_uint_t str);


static ngx_http_s3_proxy_tls_default_t  ngx_http_s3_proxy_tls_defaults[] = {
    { "proxy_ssl_verify", ngx_string("on"), 0 },
    { "proxy_ssl_verify_depth", ngx_string("4"), 0 },
    { "proxy_ssl_trusted_certificate",
      ngx_string(NGX_HTTP_S3_PROXY_CA_BUNDLE), 1 },
    { "proxy_ssl_server_name", ngx_string("on"), 0 },
    { NULL, ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_s3_proxy_snippet_commands[] = {

    { ngx_string("s3_proxy_snippet"),
      NGX_HTTP_LOC_CONF|NGX_HTTP_LIF_CONF|NGX_CONF_NOARGS,
      ngx_http_s3_proxy_snippet,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_s3_proxy_snippet_module_ctx = {
    ngx_http_s3_proxy_snippet_preconfiguration, /* preconfiguration */
    NULL,                                  /* postconfiguration */

    NULL,                                  /* create main configuration */
    ngx_http_s3_proxy_snippet_init_main_conf, /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_s3_proxy_snippet_create_loc_conf, /* create location conf */
    ngx_http_s3_proxy_snippet_merge_loc_conf   /* merge location conf */
};


ngx_module_t  ngx_http_s3_proxy_snippet_module = {
    NGX_MODULE_V1,
    &ngx_http_s3_proxy_snippet_module_ctx, /* module context */
    ngx_http_s3_proxy_snippet_commands,    /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_s3_proxy_snippet_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_s3_proxy_snippet_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_s3_proxy_snippet_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->pos = { NULL, 0 };
     *     conf->parent = NULL;
     *     conf->proxy = NULL;
     */

    return conf;
}


/* the marker: where the snippet was included */

static char *
ngx_http_s3_proxy_snippet(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_s3_proxy_snippet_conf_t  *sncf = conf;

    if (sncf->pos.file_name) {
        return "is duplicate: s3_proxy.conf is included twice";
    }

    sncf->pos.file_name = cf->conf_file->file.name.data;
    sncf->pos.line = cf->conf_file->line;

    return NGX_CONF_OK;
}


/* the module must merge before ngx_http_proxy_module: see above */

static ngx_int_t
ngx_http_s3_proxy_snippet_preconfiguration(ngx_conf_t *cf)
{
    ngx_uint_t     m;
    ngx_module_t  *proxy;

    proxy = ngx_http_s3_proxy_proxy_module(cf);
    if (proxy == NULL) {
        return NGX_OK;
    }

    for (m = 0; cf->cycle->modules[m]; m++) {

        if (cf->cycle->modules[m] == &ngx_http_s3_proxy_snippet_module) {
            return NGX_OK;
        }

        if (cf->cycle->modules[m] == proxy) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "ngx_http_s3_proxy_module must be built as a "
                               "dynamic module (load_module), so that its "
                               "TLS defaults come before the proxy's");
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* the http level's proxy settings, which no merge names */

static char *
ngx_http_s3_proxy_snippet_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_module_t                      *proxy;
    ngx_http_conf_ctx_t               *ctx;
    ngx_http_s3_proxy_snippet_conf_t  *sncf;

    proxy = ngx_http_s3_proxy_proxy_module(cf);
    if (proxy == NULL) {
        return NGX_CONF_OK;
    }

    ctx = cf->ctx;
    sncf = ctx->loc_conf[ngx_http_s3_proxy_snippet_module.ctx_index];
    sncf->proxy = ctx->loc_conf[proxy->ctx_index];

    return NGX_CONF_OK;
}


static char *
ngx_http_s3_proxy_snippet_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_s3_proxy_snippet_conf_t *prev = parent;
    ngx_http_s3_proxy_snippet_conf_t *conf = child;

    char                             *rv;
    ngx_str_t                         args[2];
    ngx_array_t                       a, *saved;
    ngx_module_t                     *proxy;
    ngx_command_t                    *cmd;
    ngx_http_conf_ctx_t              *ctx;
    ngx_http_core_loc_conf_t         *clcf;
    ngx_http_s3_proxy_loc_conf_t     *slcf;
    ngx_http_s3_proxy_tls_default_t  *d;

    /* an "if" block carries on its location's snippet; a location does not */

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (conf->pos.file_name == NULL && clcf->noname) {
        conf->pos = prev->pos;
        conf->inherited = 1;
    }

    proxy = ngx_http_s3_proxy_proxy_module(cf);
    if (proxy == NULL) {
        return NGX_CONF_OK;
    }

    ctx = cf->ctx;
    conf->parent = prev;
    conf->proxy = ctx->loc_conf[proxy->ctx_index];

    /* s3_proxy is allowed in locations only, and read here unmerged */

    slcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_s3_proxy_module);

    if (slcf->enable != 1) {
        return NGX_CONF_OK;
    }

    /*
     * Each default is set as the directive itself would set it, through
     * the proxy module's own handler, unless this level or one above it
     * set the directive already.
     */

    a.elts = args;
    a.nelts = 2;
    a.size = sizeof(ngx_str_t);
    a.nalloc = 2;
    a.pool = cf->pool;

    for (d = ngx_http_s3_proxy_tls_defaults; d->name; d++) {

        cmd = ngx_http_s3_proxy_proxy_command(proxy, d->name);
        if (cmd == NULL) {
            continue;
        }

        if (ngx_http_s3_proxy_tls_is_set(conf, cmd, d->str)) {
            continue;
        }

        args[0] = cmd->name;
        args[1] = d->value;

        saved = cf->args;
        cf->args = &a;

        rv = cmd->set(cf, cmd, conf->proxy);

        cf->args = saved;

        if (rv != NGX_CONF_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"s3_proxy\" cannot default \"%V %V\": %s",
                               &args[0], &args[1], rv);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/*
 * Whether a proxy directive is set at this level or one above it, read
 * where the directive's own handler writes it (its slot: a flag or number
 * is NGX_CONF_UNSET until set, a string empty).
 */

static ngx_uint_t
ngx_http_s3_proxy_tls_is_set(ngx_http_s3_proxy_snippet_conf_t *conf,
    ngx_command_t *cmd, ngx_uint_t str)
{
    u_char  *p;

    for ( /* void */ ; conf; conf = conf->parent) {

        if (conf->proxy == NULL) {
            continue;
        }

        p = (u_char *) conf->proxy + cmd->offset;

        if (str ? ((ngx_str_t *) p)->data != NULL
                : *(ngx_int_t *) p != NGX_CONF_UNSET)
        {
            return 1;
        }
    }

    return 0;
}


static ngx_module_t *
ngx_http_s3_proxy_proxy_module(ngx_conf_t *cf)
{
    ngx_uint_t  m;

    for (m = 0; cf->cycle->modules[m]; m++) {
        if (ngx_strcmp(cf->cycle->modules[m]->name, "ngx_http_proxy_module")
            == 0)
        {
            return cf->cycle->modules[m];
        }
    }

    return NULL;
}


static ngx_command_t *
ngx_http_s3_proxy_proxy_command(ngx_module_t *m, char *name)
{
    ngx_command_t  *cmd;

    for (cmd = m->commands; cmd->name.len; cmd++) {
        if (cmd->name.len == ngx_strlen(name)
            && ngx_strncmp(cmd->name.data, name, cmd->name.len) == 0)
        {
            return cmd;
        }
    }

    return NULL;
}


/*
 * Called by the main module's merge: the snippet is there exactly where
 * "s3_proxy on" is, and the location has no content handler of its own.
 */

char *
ngx_http_s3_proxy_check_snippet(ngx_conf_t *cf,
    ngx_http_s3_proxy_loc_conf_t *conf)
{
    ngx_http_core_loc_conf_t          *clcf;
    ngx_http_s3_proxy_snippet_conf_t  *sncf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    sncf = ngx_http_conf_get_module_loc_conf(cf,
                                             ngx_http_s3_proxy_snippet_module);

    if (!conf->enable) {

        if (sncf->pos.file_name && !sncf->inherited) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "location \"%V\" includes s3_proxy.conf without "
                          "\"s3_proxy on\", so its requests would go "
                          "unsigned, in %s:%ui",
                          &clcf->name, sncf->pos.file_name, sncf->pos.line);
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    if (sncf->pos.file_name == NULL) {

        if (clcf->handler == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"s3_proxy\" in location \"%V\" needs proxy_pass: "
                          "add \"include s3_proxy.conf;\" to it in %s:%ui",
                          &clcf->name, conf->enable_pos.file_name,
                          conf->enable_pos.line);
        } else {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"s3_proxy\" in location \"%V\" has a content "
                          "handler of its own (a proxy_pass?), which would "
                          "get the requests unsigned: use \"include "
                          "s3_proxy.conf;\" instead (an s3_proxy.conf "
                          "without \"s3_proxy_snippet;\" is older than the "
                          "module: install the new one) in %s:%ui",
                          &clcf->name, conf->enable_pos.file_name,
                          conf->enable_pos.line);
        }

        return NGX_CONF_ERROR;
    }

    if (sncf->inherited && clcf->handler != NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"s3_proxy\" in location \"%V\" has an \"if\" block "
                      "with a content handler of its own (a proxy_pass?), "
                      "which would get the requests unsigned, in %s:%ui",
                      &clcf->name, conf->enable_pos.file_name,
                      conf->enable_pos.line);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * Called by the main module's merge once the settings are resolved: a
 * named endpoint can be resolved.
 */

char *
ngx_http_s3_proxy_check_resolver(ngx_conf_t *cf,
    ngx_http_s3_proxy_loc_conf_t *conf)
{
    ngx_url_t                        u;
    ngx_uint_t                       i;
    const s3p_str_t                 *host;
    ngx_http_core_loc_conf_t        *clcf;
    ngx_http_upstream_srv_conf_t   **uscf;
    ngx_http_upstream_main_conf_t   *umcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    /*
     * proxy_pass with variables resolves a host name at request time, and
     * only through "resolver"; nginx's own check comes with the first
     * request ("no resolver defined to resolve ...", 502).  An address
     * needs none, nor does a name that an upstream{} block defines.
     */

    if (conf->core == NULL || conf->core->signing == NULL) {
        return NGX_CONF_OK;
    }

    host = &conf->core->signing->host;

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url.data = (u_char *) host->data;
    u.url.len = host->len;
    u.no_resolve = 1;

    if (conf->core->signing->addressing == S3P_ADDRESSING_VIRTUAL) {

        /*
         * Virtual-hosted requests go to "<bucket>.<host>": a name even for
         * an address, one per bucket; only a location's own bucket can be
         * known here.
         */

        if (conf->core->bucket.len == 0) {
            goto resolver;
        }

        u.url.len = conf->core->bucket.len + 1 + host->len;
        u.url.data = ngx_pnalloc(cf->pool, u.url.len);
        if (u.url.data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_sprintf(u.url.data, "%*s.%*s", conf->core->bucket.len,
                    conf->core->bucket.data, host->len, host->data);
    }

    if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.naddrs > 0) {
        return NGX_CONF_OK;
    }

    umcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_upstream_module);
    uscf = umcf->upstreams.elts;

    /* as ngx_http_upstream_init_request() matches them */

    for (i = 0; i < umcf->upstreams.nelts; i++) {
        if (uscf[i]->host.len == u.host.len
            && ((uscf[i]->port == 0 && u.no_port) || uscf[i]->port == u.port)
            && ngx_strncasecmp(uscf[i]->host.data, u.host.data, u.host.len)
               == 0)
        {
            return NGX_CONF_OK;
        }
    }

resolver:

    if (clcf->resolver == NULL || clcf->resolver->connections.nelts == 0) {
        if (u.host.len == 0) {
            u.host.data = (u_char *) host->data;
            u.host.len = host->len;
        }

        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"s3_proxy\" in location \"%V\" reaches the endpoint "
                      "\"%V\" by name: add a \"resolver\" to the http, "
                      "server or location block, in %s:%ui",
                      &clcf->name, &u.host, conf->enable_pos.file_name,
                      conf->enable_pos.line);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}
