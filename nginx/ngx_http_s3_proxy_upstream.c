/*
 * ngx_http_s3_proxy_module: a keepalive upstream for each S3 host.
 *
 * s3_proxy_pass.conf says "proxy_pass $s3_proxy_url;".  With a variable in
 * proxy_pass, nginx looks the URL's host up among the configuration's
 * upstreams before it resolves anything (ngx_http_upstream_init_request());
 * without a match it makes a new connection, and over TLS a new
 * handshake, for every request.  So for each host a location contacts
 * (s3p_upstreams(): the endpoint's, or with virtual-hosted addressing
 * "<bucket>.<host>" for each bucket the configuration names) the module
 * declares, while nginx reads the http block, an upstream as if the
 * configuration said
 *
 *     upstream s3.eu-west-1.amazonaws.com {
 *         server s3.eu-west-1.amazonaws.com:443 resolve;
 *         zone s3_proxy:s3.eu-west-1.amazonaws.com 64k;
 *         keepalive 32;
 *     }
 *
 * and it does say so: nginx parses these lines as configuration, as it
 * parses "nginx -g", so that the upstream, keepalive and zone modules set
 * the block up with their own directives and initialisation.  Idle
 * connections are kept per worker, TLS sessions per peer.  A host with a
 * port of its own gets the upstream "<host>_<port>", which the URL then
 * names (nginx matches an upstream{} only to a URL without a port).
 *
 * The lines are parsed when a directive that decides where a location's
 * requests go is read (s3_proxy on, the marker of s3_proxy_pass.conf, and
 * the location's s3_proxy_endpoint, _region, _bucket, _buckets,
 * _addressing and _credentials after s3_proxy on): nginx initialises
 * upstreams before it merges locations.  The values are the location's,
 * else its server's, else the http block's (an enclosing location's are
 * not known yet); a host no location ends up using has an upstream that
 * nothing uses.  When the location is merged, its URLs name the upstreams
 * if each of its hosts has one.
 *
 * DNS.  "resolve" (nginx 1.27.3 and later, with a "resolver" in the http
 * block before the location) re-resolves the name at run time and follows
 * S3's addresses.  Otherwise nginx resolves the server's name when it
 * reads the configuration, and the addresses stay until the next reload;
 * a name that does not resolve then gets no upstream and, as before, its
 * requests resolve it through "resolver" and open their own connections.
 *
 * An upstream of the same name that the configuration already has (an
 * operator's upstream{} before the location, or another location's
 * proxy_pass) is left as it is, and nginx uses it.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_s3_proxy_module.h"


/* idle connections kept per worker and upstream */
#define NGX_HTTP_S3_PROXY_KEEPALIVE  "32"

/* the shared zone of an upstream that resolves at run time */
#define NGX_HTTP_S3_PROXY_ZONE_SIZE  "64k"

#if (nginx_version >= 1027003 && NGX_HTTP_UPSTREAM_ZONE)
#define NGX_HTTP_S3_PROXY_RESOLVE  1
#else
#define NGX_HTTP_S3_PROXY_RESOLVE  0
#endif


static ngx_int_t ngx_http_s3_proxy_upstream_list(ngx_conf_t *cf,
    ngx_http_s3_proxy_loc_conf_t *conf, s3p_upstream_t **list,
    size_t *count);
static void ngx_http_s3_proxy_upstream_layer(ngx_http_s3_proxy_loc_conf_t *to,
    ngx_http_s3_proxy_loc_conf_t *from);
static ngx_int_t ngx_http_s3_proxy_upstream_declare(ngx_conf_t *cf,
    s3p_upstream_t *ups);
static ngx_int_t ngx_http_s3_proxy_upstream_parse(ngx_conf_t *cf,
    ngx_str_t *text);
static ngx_http_upstream_srv_conf_t *ngx_http_s3_proxy_upstream_find(
    ngx_conf_t *cf, s3p_str_t *name);


/*
 * Called where a directive that decides where the location's requests go
 * has been read, `conf` the location's (server's, http block's) settings
 * as they stand.
 */

char *
ngx_http_s3_proxy_upstreams_declare(ngx_conf_t *cf,
    ngx_http_s3_proxy_loc_conf_t *conf)
{
    size_t                          i, count;
    s3p_upstream_t                 *list;
    ngx_http_conf_ctx_t            *ctx;
    ngx_http_core_srv_conf_t       *cscf;
    ngx_http_s3_proxy_loc_conf_t    layered;

    if (conf->enable != 1) {
        return NGX_CONF_OK;
    }

    /* the location's values, else its server's, else the http block's */

    layered = *conf;

    cscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_core_module);

    if (cscf->ctx) {
        ngx_http_s3_proxy_upstream_layer(&layered,
            cscf->ctx->loc_conf[ngx_http_s3_proxy_module.ctx_index]);
    }

    ctx = (ngx_http_conf_ctx_t *) cf->cycle->conf_ctx[ngx_http_module.index];

    ngx_http_s3_proxy_upstream_layer(&layered,
        ctx->loc_conf[ngx_http_s3_proxy_module.ctx_index]);

    if (ngx_http_s3_proxy_upstream_list(cf, &layered, &list, &count)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < count; i++) {
        if (ngx_http_s3_proxy_upstream_declare(cf, &list[i]) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/*
 * Called when the location is merged: its proxied URLs name its hosts'
 * upstreams if each has one.
 */

ngx_int_t
ngx_http_s3_proxy_upstreams_ready(ngx_conf_t *cf,
    ngx_http_s3_proxy_loc_conf_t *conf, s3p_config_t *core)
{
    size_t           i, count;
    s3p_upstream_t  *list;

    if (ngx_http_s3_proxy_upstream_list(cf, conf, &list, &count) != NGX_OK) {
        return NGX_ERROR;
    }

    /* hosts that requests name (any bucket, virtual-hosted): none */

    if (count == 0) {
        return NGX_OK;
    }

    for (i = 0; i < count; i++) {
        if (ngx_http_s3_proxy_upstream_find(cf, &list[i].name) == NULL) {
            return NGX_OK;
        }
    }

    core->upstreams = 1;

    return NGX_OK;
}


/* the core's answer for a location's raw settings; none if they are bad */

static ngx_int_t
ngx_http_s3_proxy_upstream_list(ngx_conf_t *cf,
    ngx_http_s3_proxy_loc_conf_t *conf, s3p_upstream_t **list, size_t *count)
{
    u_char                         *buf;
    size_t                          n, i;
    ngx_str_t                      *names;
    s3p_str_t                       bucket, *buckets;
    ngx_array_t                    *a;
    s3p_settings_t                  raw;
    ngx_http_s3_proxy_main_conf_t  *smcf;

    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_s3_proxy_module);

    ngx_memzero(&raw, sizeof(s3p_settings_t));

    raw.endpoint.len = conf->endpoint.len;
    raw.endpoint.data = conf->endpoint.data;
    raw.region.len = conf->region.len;
    raw.region.data = conf->region.data;
    raw.profile.len = conf->profile.len;
    raw.profile.data = conf->profile.data;
    raw.addressing = (conf->addressing == NGX_CONF_UNSET_UINT)
                     ? S3P_ADDRESSING_PATH
                     : (s3p_addressing_t) conf->addressing;
    raw.env = &smcf->env;

    bucket.len = conf->bucket.len;
    bucket.data = conf->bucket.data;

    a = (conf->buckets == NGX_CONF_UNSET_PTR) ? smcf->buckets : conf->buckets;

    n = (a == NULL) ? 0 : a->nelts;

    buckets = ngx_palloc(cf->temp_pool, (n + 1) * sizeof(s3p_str_t));
    *list = ngx_palloc(cf->temp_pool, (n + 1) * sizeof(s3p_upstream_t));
    buf = ngx_pnalloc(cf->temp_pool, (n + 1) * S3P_UPSTREAM_MAX);

    if (buckets == NULL || *list == NULL || buf == NULL) {
        return NGX_ERROR;
    }

    names = (a == NULL) ? NULL : a->elts;

    for (i = 0; i < n; i++) {
        buckets[i].len = names[i].len;
        buckets[i].data = names[i].data;
    }

    *count = 0;

    /* settings that do not resolve have none: the merge names why */

    (void) s3p_upstreams(&raw, &bucket, buckets, n, *list, n + 1, buf,
                         (n + 1) * S3P_UPSTREAM_MAX, count);

    return NGX_OK;
}


static void
ngx_http_s3_proxy_upstream_layer(ngx_http_s3_proxy_loc_conf_t *to,
    ngx_http_s3_proxy_loc_conf_t *from)
{
    if (to->endpoint.data == NULL) {
        to->endpoint = from->endpoint;
    }

    if (to->region.data == NULL) {
        to->region = from->region;
    }

    if (to->credentials == NGX_CONF_UNSET_UINT) {
        to->credentials = from->credentials;
        to->profile = from->profile;
    }

    if (to->addressing == NGX_CONF_UNSET_UINT) {
        to->addressing = from->addressing;
    }

    if (to->bucket.data == NULL) {
        to->bucket = from->bucket;
    }

    if (to->buckets == NGX_CONF_UNSET_PTR) {
        to->buckets = from->buckets;
    }
}


/* the upstream{} of one host, unless the configuration has one */

static ngx_int_t
ngx_http_s3_proxy_upstream_declare(ngx_conf_t *cf, s3p_upstream_t *ups)
{
    u_char                         *p;
    size_t                          len;
    ngx_str_t                       text, *tried;
    ngx_url_t                       u;
    ngx_uint_t                      i, resolve;
    ngx_http_s3_proxy_main_conf_t  *smcf;
#if (NGX_HTTP_S3_PROXY_RESOLVE)
    ngx_http_conf_ctx_t            *ctx;
    ngx_http_core_loc_conf_t       *clcf;
#endif

    if (ngx_http_s3_proxy_upstream_find(cf, &ups->name) != NULL) {
        return NGX_OK;
    }

    /* a name that did not resolve is tried (and warned about) once */

    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_s3_proxy_module);

    if (smcf->upstreams == NULL) {
        smcf->upstreams = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
        if (smcf->upstreams == NULL) {
            return NGX_ERROR;
        }
    }

    tried = smcf->upstreams->elts;

    for (i = 0; i < smcf->upstreams->nelts; i++) {
        if (tried[i].len == ups->name.len
            && ngx_strncmp(tried[i].data, ups->name.data, ups->name.len) == 0)
        {
            return NGX_OK;
        }
    }

    tried = ngx_array_push(smcf->upstreams);
    if (tried == NULL) {
        return NGX_ERROR;
    }

    tried->len = ups->name.len;
    tried->data = ngx_pnalloc(cf->pool, ups->name.len);
    if (tried->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(tried->data, ups->name.data, ups->name.len);

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url.len = ups->server.len;
    u.url.data = (u_char *) ups->server.data;
    u.no_resolve = 1;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"s3_proxy\": endpoint \"%*s\": %s",
                           ups->server.len, ups->server.data,
                           u.err ? u.err : "invalid");
        return NGX_ERROR;
    }

    resolve = 0;

    if (u.naddrs == 0) {

        /* a name */

#if (NGX_HTTP_S3_PROXY_RESOLVE)

        /* what resolves upstreams: the http block's resolver */

        ctx = (ngx_http_conf_ctx_t *)
                  cf->cycle->conf_ctx[ngx_http_module.index];
        clcf = ctx->loc_conf[ngx_http_core_module.ctx_index];

        resolve = (clcf->resolver != NULL
                   && clcf->resolver->connections.nelts);
#endif

        if (!resolve) {

            /* resolved now, as nginx resolves the "server" line */

            ngx_memzero(&u, sizeof(ngx_url_t));

            u.url.len = ups->server.len;
            u.url.data = (u_char *) ups->server.data;

            if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.naddrs == 0) {
                ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                                   "\"s3_proxy\": endpoint \"%V\" %s: its "
                                   "requests resolve it each time and share "
                                   "no connections",
                                   &u.host,
                                   u.err ? u.err : "could not be resolved");
                return NGX_OK;
            }
        }
    }

    len = sizeof("upstream  {\nserver  resolve;\nzone s3_proxy:  ;\n"
                 "keepalive ;\n}\n}\n")
          + 2 * ups->name.len + ups->server.len
          + sizeof(NGX_HTTP_S3_PROXY_ZONE_SIZE)
          + sizeof(NGX_HTTP_S3_PROXY_KEEPALIVE);

    p = ngx_pnalloc(cf->temp_pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    text.data = p;

    p = ngx_sprintf(p, "upstream %*s {\nserver %*s%s;\n",
                    ups->name.len, ups->name.data,
                    ups->server.len, ups->server.data,
                    resolve ? " resolve" : "");

    if (resolve) {
        p = ngx_sprintf(p, "zone s3_proxy:%*s "
                        NGX_HTTP_S3_PROXY_ZONE_SIZE ";\n",
                        ups->name.len, ups->name.data);
    }

    /* the "}" that closes the block, then the one that ends the text */

    p = ngx_sprintf(p, "keepalive " NGX_HTTP_S3_PROXY_KEEPALIVE ";\n}\n}\n");

    text.len = p - text.data;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, cf->log, 0, "s3 proxy: \"%V\"", &text);

    return ngx_http_s3_proxy_upstream_parse(cf, &text);
}


/*
 * Configuration text read in the http block, as ngx_conf_param() reads
 * "nginx -g": a buffer in place of a file.  nginx takes no blocks in a
 * parameter, so the text is read as a block's contents (a file's
 * descriptor, with nothing left to read from the file), its "}" at the
 * end.  Errors name the directive's file and line.
 */

static ngx_int_t
ngx_http_s3_proxy_upstream_parse(ngx_conf_t *cf, ngx_str_t *text)
{
    char             *rv;
    ngx_buf_t         b;
    ngx_conf_t        saved;
    ngx_conf_file_t   conf_file;

    ngx_memzero(&b, sizeof(ngx_buf_t));

    b.start = text->data;
    b.pos = text->data;
    b.last = text->data + text->len;
    b.end = b.last;
    b.temporary = 1;

    ngx_memzero(&conf_file, sizeof(ngx_conf_file_t));

    conf_file.file.fd = cf->conf_file->file.fd;
    conf_file.file.name = cf->conf_file->file.name;
    conf_file.file.log = cf->log;
    conf_file.line = cf->conf_file->line;
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


/* an upstream{} of that name (nginx's list, as requests look it up) */

static ngx_http_upstream_srv_conf_t *
ngx_http_s3_proxy_upstream_find(ngx_conf_t *cf, s3p_str_t *name)
{
    ngx_uint_t                      i;
    ngx_http_upstream_srv_conf_t  **uscfp;
    ngx_http_upstream_main_conf_t  *umcf;

    umcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_upstream_module);

    uscfp = umcf->upstreams.elts;

    for (i = 0; i < umcf->upstreams.nelts; i++) {
        if (uscfp[i]->host.len == name->len
            && ngx_strncasecmp(uscfp[i]->host.data, (u_char *) name->data,
                               name->len)
               == 0)
        {
            return uscfp[i];
        }
    }

    return NULL;
}
