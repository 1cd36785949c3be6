/*
 * ngx_http_s3_proxy_module: a keepalive upstream{} for each S3 host, the
 * core's text read in the http block (docs/design.md, "Upstreams").
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_s3_proxy_module.h"


#if (nginx_version >= 1027003 && NGX_HTTP_UPSTREAM_ZONE)
#define NGX_HTTP_S3_PROXY_RESOLVE  1
#else
#define NGX_HTTP_S3_PROXY_RESOLVE  0
#endif


static ngx_int_t ngx_http_s3_proxy_upstreams(ngx_conf_t *cf,
    ngx_http_s3_proxy_loc_conf_t *conf, ngx_uint_t declare);
static ngx_int_t ngx_http_s3_proxy_upstream_parse(ngx_conf_t *cf,
    s3p_str_t *text);


/* After a directive that decides where the location's requests go. */

char *
ngx_http_s3_proxy_upstreams_declare(ngx_conf_t *cf,
    ngx_http_s3_proxy_loc_conf_t *conf)
{
    if (conf->enable == 1
        && ngx_http_s3_proxy_upstreams(cf, conf, 1) == NGX_ERROR)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * When the location is merged: whether its URLs name upstreams, and
 * whether it has a resolver for the hosts it reaches otherwise.
 */

ngx_int_t
ngx_http_s3_proxy_upstreams_ready(ngx_conf_t *cf,
    ngx_http_s3_proxy_loc_conf_t *conf, s3p_config_t *core)
{
    ngx_int_t                  rc;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    core->resolver = (clcf->resolver != NULL
                      && clcf->resolver->connections.nelts);

    rc = ngx_http_s3_proxy_upstreams(cf, conf, 0);
    core->upstreams = (rc == NGX_OK);

    return (rc == NGX_ERROR) ? NGX_ERROR : NGX_OK;
}


/*
 * The core's upstreams for a location's raw settings: a merged location's,
 * or, to declare them, the location's values, else its server's, else
 * the http block's (none if they are bad).  Those nginx does not know are
 * declared, but for names that did not resolve before: each is tried, and
 * warned about, once.  NGX_OK when there are some and nginx knew each.
 */

static ngx_int_t
ngx_http_s3_proxy_upstreams(ngx_conf_t *cf,
    ngx_http_s3_proxy_loc_conf_t *conf, ngx_uint_t declare)
{
    size_t                           i, k, n, count;
    ngx_int_t                        rc;
    ngx_url_t                        u;
    s3p_str_t                       *tried;
    ngx_uint_t                       resolve;
    s3p_settings_t                   raw, inner;
    s3p_upstream_t                  *list;
    ngx_http_conf_ctx_t             *ctx;
    ngx_http_core_loc_conf_t        *clcf;
    ngx_http_core_srv_conf_t        *cscf;
    ngx_http_upstream_srv_conf_t   **uscfp;
    ngx_http_upstream_main_conf_t   *umcf;
    ngx_http_s3_proxy_loc_conf_t    *lcf, *levels[3];
    ngx_http_s3_proxy_main_conf_t   *smcf;

    levels[0] = conf;
    n = 1;
    resolve = 0;

    if (declare) {
        cscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_core_module);
        ctx = (ngx_http_conf_ctx_t *)
                  cf->cycle->conf_ctx[ngx_http_module.index];

        levels[1] = cscf->ctx->loc_conf[ngx_http_s3_proxy_module.ctx_index];
        levels[2] = ctx->loc_conf[ngx_http_s3_proxy_module.ctx_index];
        n = 3;

        /* what resolves upstreams at run time: the http block's resolver */

        clcf = ctx->loc_conf[ngx_http_core_module.ctx_index];

        resolve = NGX_HTTP_S3_PROXY_RESOLVE && clcf->resolver != NULL
                  && clcf->resolver->connections.nelts;
    }

    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_s3_proxy_module);
    umcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_upstream_module);

    s3p_settings_init(&raw);

    /* from the outermost level in: an inner value replaces an outer one */

    while (n--) {
        lcf = levels[n];
        inner = lcf->raw;
        s3p_settings_merge(&inner, &raw);
        raw = inner;
    }

    raw.env = &smcf->env;

    /* settings that do not resolve have none: the merge names why */

    if (s3p_upstreams(&raw, (int32_t) resolve,
                      declare ? smcf->upstreams->elts : NULL,
                      declare ? smcf->upstreams->nelts : 0,
                      ngx_http_s3_proxy_alloc, cf->temp_pool,
                      &list, &count)
        == S3P_E_SPACE)
    {
        return NGX_ERROR;
    }

    rc = count ? NGX_OK : NGX_DECLINED;
    uscfp = umcf->upstreams.elts;

    for (i = 0; i < count; i++) {

        /* an upstream{} of that name, as requests look it up */

        for (k = 0; k < umcf->upstreams.nelts; k++) {
            if (uscfp[k]->host.len == list[i].name.len
                && ngx_strncasecmp(uscfp[k]->host.data,
                                   (u_char *) list[i].name.data,
                                   list[i].name.len)
                   == 0)
            {
                break;
            }
        }

        if (k < umcf->upstreams.nelts) {
            continue;
        }

        rc = NGX_DECLINED;

        if (!declare) {
            continue;
        }

        if (!resolve) {

            /* resolved now, as nginx resolves the "server" line */

            ngx_memzero(&u, sizeof(ngx_url_t));

            u.url.len = list[i].server.len;
            u.url.data = (u_char *) list[i].server.data;

            if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.naddrs == 0) {
                ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                                   "\"s3_proxy\": endpoint \"%V\" %s: its "
                                   "requests resolve it each time and share "
                                   "no connections",
                                   &u.host,
                                   u.err ? u.err : "could not be resolved");

                tried = ngx_array_push(smcf->upstreams);
                if (tried == NULL) {
                    return NGX_ERROR;
                }

                *tried = list[i].name;
                continue;
            }
        }

        if (ngx_http_s3_proxy_upstream_parse(cf, &list[i].block) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return rc;
}


/*
 * Configuration text read in the http block, as ngx_conf_param() reads
 * "nginx -g", but as a block's contents, its "}" at the end.
 */

static ngx_int_t
ngx_http_s3_proxy_upstream_parse(ngx_conf_t *cf, s3p_str_t *text)
{
    char             *rv;
    ngx_buf_t         b;
    ngx_conf_t        saved;
    ngx_conf_file_t   conf_file;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, cf->log, 0, "s3 proxy: \"%*s\"",
                   text->len, text->data);

    ngx_memzero(&b, sizeof(ngx_buf_t));

    b.start = (u_char *) text->data;
    b.pos = b.start;
    b.last = b.start + text->len;
    b.end = b.last;
    b.temporary = 1;

    /* the directive's file and line, read from the text */

    conf_file = *cf->conf_file;
    conf_file.buffer = &b;

    saved = *cf;

    cf->args = ngx_array_create(cf->temp_pool, 4, sizeof(ngx_str_t));
    if (cf->args == NULL) {
        return NGX_ERROR;
    }

    cf->ctx = cf->cycle->conf_ctx[ngx_http_module.index];
    cf->conf_file = &conf_file;
    cf->handler = NULL;
    cf->module_type = NGX_HTTP_MODULE;
    cf->cmd_type = NGX_HTTP_MAIN_CONF;

    rv = ngx_conf_parse(cf, NULL);

    *cf = saved;

    return (rv == NGX_CONF_OK) ? NGX_OK : NGX_ERROR;
}
