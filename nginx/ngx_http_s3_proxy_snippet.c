/*
 * ngx_http_s3_proxy_module: what a location with "s3_proxy on" needs
 * besides the module's own settings, and the checks that it has it.
 *
 *   - the shipped s3_proxy_pass.conf (which s3_proxy.conf includes), with
 *     its proxy_pass: it holds the module's marker directive,
 *     "s3_proxy_snippet", because nginx lets no module see which file a
 *     location included or where its proxy_pass points;
 *   - a resolver for an endpoint given by name.
 *
 * Certificate verification of https endpoints is configuration too: the
 * shipped s3_proxy_tls.conf (which s3_proxy.conf includes) holds it, and a
 * location that needs other TLS settings includes s3_proxy_pass.conf with
 * lines of its own instead.  The module neither reads nor sets the proxy
 * module's settings.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_s3_proxy_module.h"


/* s3_proxy_snippet: the marker, where the snippet was included */

char *
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


/*
 * Called by the module's merge: the snippet is there exactly where
 * "s3_proxy on" is, and the location has no content handler of its own.
 */

char *
ngx_http_s3_proxy_check_snippet(ngx_conf_t *cf,
    ngx_http_s3_proxy_loc_conf_t *conf, ngx_http_s3_proxy_loc_conf_t *prev)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    /* an "if" block carries on its location's snippet; a location does not */

    if (conf->snippet_pos.file_name == NULL && clcf->noname) {
        conf->snippet_pos = prev->snippet_pos;
        conf->snippet_inherited = 1;
    }

    if (!conf->enable) {

        if (conf->snippet_pos.file_name && !conf->snippet_inherited) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "location \"%V\" includes s3_proxy.conf without "
                          "\"s3_proxy on\", so its requests would go "
                          "unsigned, in %s:%ui",
                          &clcf->name, conf->snippet_pos.file_name,
                          conf->snippet_pos.line);
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    if (conf->snippet_pos.file_name == NULL) {

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

    if (conf->snippet_inherited && clcf->handler != NULL) {
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
 * Called by the module's merge once the settings are resolved: a
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

    if (conf->core == NULL || conf->core->signing == NULL
        || conf->core->upstreams)
    {
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
