/*
 * ngx_http_s3_proxy_module: a keepalive upstream for each S3 endpoint.
 *
 * s3_proxy.conf says "proxy_pass $s3_proxy_url;".  With a variable in
 * proxy_pass, nginx looks the URL's host and port up among the
 * configuration's upstreams before it resolves anything
 * (ngx_http_upstream_init_request()); without a match it makes a new
 * connection, and over TLS a new handshake, for every request.  So for each
 * endpoint its locations use (with virtual-hosted addressing, each
 * "<bucket>.<host>" the configuration names), the module adds an upstream
 * of that name and port, as if the configuration had said
 *
 *     upstream s3.eu-west-1.amazonaws.com {    (port 443)
 *         server s3.eu-west-1.amazonaws.com:443 resolve;
 *         zone s3_proxy:s3.eu-west-1.amazonaws.com:443 64k;
 *         keepalive 32;
 *     }
 *
 * and nginx's own directive handlers read those lines, so the upstream,
 * keepalive and zone modules set it up as they would any upstream{}:
 * idle connections are kept per worker, TLS sessions per peer.
 *
 * DNS.  "resolve" (nginx 1.27.3 and later, with a "resolver" for the
 * location) re-resolves the name at run time and follows S3's addresses.
 * Older nginx resolves upstream servers only when it reads its
 * configuration: there the module resolves the name then and lists the
 * addresses, which stay until the next reload.  If the name does not
 * resolve then, the module adds no upstream and, as before, every request
 * resolves it through "resolver" and opens its own connection.
 *
 * An upstream of the same name and port that the configuration already has
 * (an operator's upstream{}, or another location's proxy_pass) is left as
 * it is and nginx uses it.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_s3_proxy_module.h"


/* idle connections kept per worker and endpoint */
#define NGX_HTTP_S3_PROXY_KEEPALIVE  "32"

/* the shared zone of an upstream that resolves at run time */
#define NGX_HTTP_S3_PROXY_ZONE_SIZE  "64k"

#if (nginx_version >= 1027003 && NGX_HTTP_UPSTREAM_ZONE)
#define NGX_HTTP_S3_PROXY_RESOLVE  1
#else
#define NGX_HTTP_S3_PROXY_RESOLVE  0
#endif


static ngx_int_t ngx_http_s3_proxy_upstream_bucket(ngx_conf_t *cf,
    ngx_str_t *scheme, const s3p_str_t *bucket, const s3p_str_t *host);
static ngx_http_upstream_srv_conf_t *ngx_http_s3_proxy_upstream_find(
    ngx_conf_t *cf, ngx_url_t *u);
static ngx_int_t ngx_http_s3_proxy_upstream_servers(ngx_conf_t *cf,
    ngx_url_t *u, ngx_str_t *text);
static ngx_http_upstream_srv_conf_t *ngx_http_s3_proxy_upstream_create(
    ngx_conf_t *cf, ngx_url_t *u, ngx_str_t *text);
static ngx_int_t ngx_http_s3_proxy_upstream_init(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *uscf);
static ngx_module_t *ngx_http_s3_proxy_keepalive_module(ngx_conf_t *cf);
static ngx_int_t ngx_http_s3_proxy_upstream_safe(ngx_str_t *s);


/*
 * The upstreams of one location: its endpoint's host with path-style
 * addressing; with virtual-hosted addressing "<bucket>.<host>" for its one
 * bucket or each bucket of its allowlist.  A location that reaches any
 * bucket by virtual-hosted addressing gets none: its hosts are not known
 * before requests name them, which keep the per-request connections.
 */

ngx_int_t
ngx_http_s3_proxy_upstreams(ngx_conf_t *cf, const s3p_config_t *core)
{
    ngx_str_t             scheme, host;
    ngx_uint_t            i;
    const s3p_signing_t  *signing;

    signing = core->signing;

    scheme.len = signing->scheme.len;
    scheme.data = (u_char *) signing->scheme.data;

    if (signing->addressing == S3P_ADDRESSING_PATH) {
        host.len = signing->host.len;
        host.data = (u_char *) signing->host.data;

        return ngx_http_s3_proxy_upstream_add(cf, &scheme, &host);
    }

    if (core->bucket.len) {
        return ngx_http_s3_proxy_upstream_bucket(cf, &scheme, &core->bucket,
                                                 &signing->host);
    }

    for (i = 0; i < core->nbuckets; i++) {
        if (ngx_http_s3_proxy_upstream_bucket(cf, &scheme, &core->buckets[i],
                                              &signing->host)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_s3_proxy_upstream_bucket(ngx_conf_t *cf, ngx_str_t *scheme,
    const s3p_str_t *bucket, const s3p_str_t *host)
{
    u_char     *p;
    ngx_str_t   name;

    name.len = bucket->len + 1 + host->len;
    name.data = ngx_pnalloc(cf->pool, name.len);
    if (name.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(name.data, bucket->data, bucket->len);
    *p++ = '.';
    ngx_memcpy(p, host->data, host->len);

    return ngx_http_s3_proxy_upstream_add(cf, scheme, &name);
}


/*
 * Adds the keepalive upstream for one endpoint: `scheme` is "http" or
 * "https", `host` "name[:port]" as s3p_signing_resolve() wrote it, which is
 * exactly the host of the $s3_proxy_url the core writes.  NGX_OK when the
 * endpoint has an upstream now or keeps today's per-request connections;
 * NGX_ERROR on a configuration error (logged).
 */

ngx_int_t
ngx_http_s3_proxy_upstream_add(ngx_conf_t *cf, ngx_str_t *scheme,
    ngx_str_t *host)
{
    ngx_url_t                      u;
    ngx_str_t                      text;
    ngx_http_upstream_srv_conf_t  *uscf;

    if (ngx_http_s3_proxy_upstream_safe(host) != NGX_OK) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"s3_proxy\": endpoint \"%V\" is not a host name",
                      host);
        return NGX_ERROR;
    }

    /* the proxy module parses $s3_proxy_url's host and port alike */

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = *host;
    u.default_port = (scheme->len == 5
                      && ngx_strncmp(scheme->data, "https", 5) == 0)
                     ? 443 : 80;
    u.no_resolve = 1;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"s3_proxy\": endpoint \"%V\": %s", host,
                      u.err ? u.err : "invalid");
        return NGX_ERROR;
    }

    if (ngx_http_s3_proxy_upstream_find(cf, &u) != NULL) {
        return NGX_OK;
    }

    if (ngx_http_s3_proxy_upstream_servers(cf, &u, &text) != NGX_OK) {
        return NGX_ERROR;
    }

    if (text.len == 0) {
        return NGX_OK;
    }

    uscf = ngx_http_s3_proxy_upstream_create(cf, &u, &text);
    if (uscf == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"s3_proxy\": no upstream for endpoint \"%V\"", host);
        return NGX_ERROR;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, cf->log, 0,
                   "s3 proxy: upstream \"%V\" port %d: \"%V\"",
                   &uscf->host, (int) uscf->port, &text);

    return NGX_OK;
}


/*
 * The upstream that ngx_http_upstream_init_request() would pick for a URL
 * with this host and port, if the configuration has one.
 */

static ngx_http_upstream_srv_conf_t *
ngx_http_s3_proxy_upstream_find(ngx_conf_t *cf, ngx_url_t *u)
{
    ngx_uint_t                      i;
    ngx_http_upstream_srv_conf_t  **uscfp;
    ngx_http_upstream_main_conf_t  *umcf;

    umcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_upstream_module);

    uscfp = umcf->upstreams.elts;

    for (i = 0; i < umcf->upstreams.nelts; i++) {

        if (uscfp[i]->host.len == u->host.len
            && ((uscfp[i]->port == 0 && u->no_port)
                || uscfp[i]->port == u->port)
            && ngx_strncasecmp(uscfp[i]->host.data, u->host.data,
                               u->host.len)
               == 0)
        {
            return uscfp[i];
        }
    }

    return NULL;
}


/*
 * The lines inside the upstream{}: its servers, keepalive and, to resolve
 * at run time, a zone.  An empty `text` when the name cannot be resolved
 * and nothing resolves it later.
 */

static ngx_int_t
ngx_http_s3_proxy_upstream_servers(ngx_conf_t *cf, ngx_url_t *u,
    ngx_str_t *text)
{
    size_t                     len;
    u_char                    *p;
    ngx_url_t                  r;
    ngx_uint_t                 i;
#if (NGX_HTTP_S3_PROXY_RESOLVE)
    ngx_http_core_loc_conf_t  *clcf;
#endif

    ngx_str_null(text);

    r = *u;

    if (u->naddrs == 0) {

#if (NGX_HTTP_S3_PROXY_RESOLVE)

        /* the location's resolver: merged before this module's settings */

        clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

        if (clcf->resolver != NULL && clcf->resolver->connections.nelts) {

            len = sizeof("server :65535 resolve;\nzone s3_proxy::65535 ;\n")
                  + 2 * u->host.len + sizeof(NGX_HTTP_S3_PROXY_ZONE_SIZE)
                  + sizeof("keepalive ;\n")
                  + sizeof(NGX_HTTP_S3_PROXY_KEEPALIVE);

            p = ngx_pnalloc(cf->pool, len);
            if (p == NULL) {
                return NGX_ERROR;
            }

            text->data = p;
            p = ngx_sprintf(p, "server %V:%d resolve;\n"
                            "zone s3_proxy:%V:%d " NGX_HTTP_S3_PROXY_ZONE_SIZE
                            ";\n",
                            &u->host, (int) u->port, &u->host, (int) u->port);

            if (ngx_http_s3_proxy_keepalive_module(cf) != NULL) {
                p = ngx_sprintf(p, "keepalive " NGX_HTTP_S3_PROXY_KEEPALIVE
                                ";\n");
            }

            text->len = p - text->data;

            return NGX_OK;
        }

#endif

        /* resolved now, as nginx resolves a "server" line without resolve */

        ngx_memzero(&r, sizeof(ngx_url_t));

        r.url = u->url;
        r.default_port = u->default_port;

        if (ngx_parse_url(cf->pool, &r) != NGX_OK || r.naddrs == 0) {
            ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                          "\"s3_proxy\": endpoint \"%V\" %s: its requests "
                          "resolve it each time and share no connections",
                          &u->host,
                          r.err ? r.err : "could not be resolved now");
            return NGX_OK;
        }
    }

    len = sizeof("keepalive ;\n") + sizeof(NGX_HTTP_S3_PROXY_KEEPALIVE);

    for (i = 0; i < r.naddrs; i++) {
        len += sizeof("server ;\n") + r.addrs[i].name.len;
    }

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    text->data = p;

    for (i = 0; i < r.naddrs; i++) {
        p = ngx_sprintf(p, "server %V;\n", &r.addrs[i].name);
    }

    /* nginx built without the keepalive module: an upstream all the same */

    if (ngx_http_s3_proxy_keepalive_module(cf) != NULL) {
        p = ngx_cpymem(p, "keepalive " NGX_HTTP_S3_PROXY_KEEPALIVE ";\n",
                       sizeof("keepalive " NGX_HTTP_S3_PROXY_KEEPALIVE ";\n")
                       - 1);
    }

    text->len = p - text->data;

    return NGX_OK;
}


/*
 * What ngx_http_upstream() does for an upstream{} block, with the block's
 * lines given as text, and the URL's port kept: an upstream{} block has no
 * port, and "127.0.0.1:9000" must match the host 127.0.0.1 with port 9000.
 */

static ngx_http_upstream_srv_conf_t *
ngx_http_s3_proxy_upstream_create(ngx_conf_t *cf, ngx_url_t *u,
    ngx_str_t *text)
{
    char                           *rv;
    void                           *mconf;
    ngx_buf_t                       b;
    ngx_uint_t                      m;
    ngx_conf_t                      pcf;
    ngx_conf_file_t                 conf_file;
    ngx_http_module_t              *module;
    ngx_http_conf_ctx_t            *ctx, *http_ctx;
    ngx_http_upstream_srv_conf_t   *uscf, **uscfp;
    ngx_http_upstream_main_conf_t  *umcf;

    uscf = ngx_pcalloc(cf->pool, sizeof(ngx_http_upstream_srv_conf_t));
    if (uscf == NULL) {
        return NULL;
    }

    uscf->flags = NGX_HTTP_UPSTREAM_CREATE
#if (NGX_HTTP_S3_PROXY_RESOLVE)
                  |NGX_HTTP_UPSTREAM_MODIFY
#endif
                  |NGX_HTTP_UPSTREAM_WEIGHT
                  |NGX_HTTP_UPSTREAM_MAX_FAILS
                  |NGX_HTTP_UPSTREAM_FAIL_TIMEOUT;
    uscf->host = u->host;
    uscf->file_name = cf->conf_file->file.name.data;
    uscf->line = cf->conf_file->line;
    uscf->port = u->port;
    uscf->no_port = u->no_port;
#if (NGX_HTTP_S3_PROXY_RESOLVE)
    uscf->resolver_timeout = NGX_CONF_UNSET_MSEC;
#endif

    uscf->servers = ngx_array_create(cf->pool, 4,
                                     sizeof(ngx_http_upstream_server_t));
    if (uscf->servers == NULL) {
        return NULL;
    }

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_conf_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    http_ctx = cf->ctx;
    ctx->main_conf = http_ctx->main_conf;

    ctx->srv_conf = ngx_pcalloc(cf->pool, sizeof(void *) * ngx_http_max_module);
    if (ctx->srv_conf == NULL) {
        return NULL;
    }

    ctx->loc_conf = ngx_pcalloc(cf->pool, sizeof(void *) * ngx_http_max_module);
    if (ctx->loc_conf == NULL) {
        return NULL;
    }

    for (m = 0; cf->cycle->modules[m]; m++) {
        if (cf->cycle->modules[m]->type != NGX_HTTP_MODULE) {
            continue;
        }

        module = cf->cycle->modules[m]->ctx;

        if (module->create_srv_conf) {
            mconf = module->create_srv_conf(cf);
            if (mconf == NULL) {
                return NULL;
            }

            ctx->srv_conf[cf->cycle->modules[m]->ctx_index] = mconf;
        }

        if (module->create_loc_conf) {
            mconf = module->create_loc_conf(cf);
            if (mconf == NULL) {
                return NULL;
            }

            ctx->loc_conf[cf->cycle->modules[m]->ctx_index] = mconf;
        }
    }

    ctx->srv_conf[ngx_http_upstream_module.ctx_index] = uscf;
    uscf->srv_conf = ctx->srv_conf;

    /* the lines, read as "-g" reads its directives */

    ngx_memzero(&b, sizeof(ngx_buf_t));

    b.start = text->data;
    b.pos = text->data;
    b.last = text->data + text->len;
    b.end = b.last;
    b.temporary = 1;

    ngx_memzero(&conf_file, sizeof(ngx_conf_file_t));

    conf_file.file.fd = NGX_INVALID_FILE;
    conf_file.buffer = &b;

    pcf = *cf;

    cf->args = ngx_array_create(cf->temp_pool, 4, sizeof(ngx_str_t));
    if (cf->args == NULL) {
        return NULL;
    }

    cf->ctx = ctx;
    cf->conf_file = &conf_file;
    cf->handler = NULL;
    cf->module_type = NGX_HTTP_MODULE;
    cf->cmd_type = NGX_HTTP_UPS_CONF;

    rv = ngx_conf_parse(cf, NULL);

    *cf = pcf;

    if (rv != NGX_CONF_OK || uscf->servers->nelts == 0) {
        return NULL;
    }

    umcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_upstream_module);

    uscfp = ngx_array_push(&umcf->upstreams);
    if (uscfp == NULL) {
        return NULL;
    }

    *uscfp = uscf;

    if (ngx_http_s3_proxy_upstream_init(cf, uscf) != NGX_OK) {
        return NULL;
    }

    return uscf;
}


/*
 * The upstream is added while locations are merged, after the upstream
 * module and the keepalive module initialised every upstream there was
 * (their init_main_conf), so it gets what they do here: the balancer's
 * init_upstream (round robin, which keepalive before nginx 1.29 wraps),
 * then, where the keepalive module sets pools up in its own
 * init_main_conf, that, over a list holding this upstream alone.
 */

static ngx_int_t
ngx_http_s3_proxy_upstream_init(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *uscf)
{
    char                           *rv;
    void                          **main_conf;
    ngx_module_t                   *module;
    ngx_http_module_t              *ctx;
    ngx_http_conf_ctx_t             tmp, *saved;
    ngx_http_upstream_init_pt       init;
    ngx_http_upstream_srv_conf_t  **uscfp;
    ngx_http_upstream_main_conf_t  *umcf, one;

    init = uscf->peer.init_upstream ? uscf->peer.init_upstream
                                    : ngx_http_upstream_init_round_robin;

    if (init(cf, uscf) != NGX_OK) {
        return NGX_ERROR;
    }

    module = ngx_http_s3_proxy_keepalive_module(cf);

    if (module == NULL) {
        return NGX_OK;
    }

    ctx = module->ctx;

    if (ctx->init_main_conf == NULL) {
        return NGX_OK;
    }

    umcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_upstream_module);

    one = *umcf;

    if (ngx_array_init(&one.upstreams, cf->temp_pool, 1,
                       sizeof(ngx_http_upstream_srv_conf_t *))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    uscfp = ngx_array_push(&one.upstreams);
    if (uscfp == NULL) {
        return NGX_ERROR;
    }

    *uscfp = uscf;

    main_conf = ngx_palloc(cf->temp_pool,
                           sizeof(void *) * ngx_http_max_module);
    if (main_conf == NULL) {
        return NGX_ERROR;
    }

    saved = cf->ctx;
    tmp = *saved;

    ngx_memcpy(main_conf, tmp.main_conf, sizeof(void *) * ngx_http_max_module);
    main_conf[ngx_http_upstream_module.ctx_index] = &one;
    tmp.main_conf = main_conf;

    cf->ctx = &tmp;

    rv = ctx->init_main_conf(cf, main_conf[module->ctx_index]);

    cf->ctx = saved;

    return (rv == NGX_CONF_OK) ? NGX_OK : NGX_ERROR;
}


/*
 * nginx's keepalive module, looked up by name: nginx can be built without
 * it (--without-http_upstream_keepalive_module).
 */

static ngx_module_t *
ngx_http_s3_proxy_keepalive_module(ngx_conf_t *cf)
{
    ngx_uint_t  m;

    for (m = 0; cf->cycle->modules[m]; m++) {
        if (cf->cycle->modules[m]->type == NGX_HTTP_MODULE
            && ngx_strcmp(cf->cycle->modules[m]->name,
                          "ngx_http_upstream_keepalive_module")
               == 0)
        {
            return cf->cycle->modules[m];
        }
    }

    return NULL;
}


/*
 * The host becomes part of the upstream{} lines: only a host name, an IP
 * address and a port (the core has checked it is one) may go there.
 */

static ngx_int_t
ngx_http_s3_proxy_upstream_safe(ngx_str_t *s)
{
    u_char      c;
    ngx_uint_t  i;

    if (s->len == 0) {
        return NGX_ERROR;
    }

    for (i = 0; i < s->len; i++) {
        c = s->data[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9')
            || c == '.' || c == '-' || c == '_' || c == ':'
            || c == '[' || c == ']')
        {
            continue;
        }

        return NGX_ERROR;
    }

    return NGX_OK;
}
