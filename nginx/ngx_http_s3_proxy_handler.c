/*
 * ngx_http_s3_proxy_module: the request phase.
 *
 * At the precontent phase (after access checks such as auth_basic and
 * auth_request) each request of a location with "s3_proxy on" is handed
 * to the Swift core, which decides its route and signs it:
 *
 *   - refuse:   answer the status (405 with Allow, 403, 400), contact nothing;
 *   - redirect: answer 307 with a presigned URL on the external endpoint;
 *   - proxy:    store the signed URL and headers in the request context and
 *               decline, so that proxy_pass (from the shipped s3_proxy.conf
 *               snippet) fetches them through $s3_proxy_* variables.
 *
 * This file holds no signing logic: it moves bytes between nginx and Swift
 * (CShim/include/s3_proxy_core.h).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_s3_proxy_module.h"


static ngx_int_t ngx_http_s3_proxy_request_target(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx, s3p_request_t *req);
static void ngx_http_s3_proxy_client_signing(ngx_http_request_t *r,
    s3p_request_t *req);
static ngx_int_t ngx_http_s3_proxy_redirect(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx);
static ngx_int_t ngx_http_s3_proxy_refuse(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx);
static ngx_int_t ngx_http_s3_proxy_escaped_uri(ngx_http_request_t *r,
    ngx_str_t *uri);
static void ngx_http_s3_proxy_wake(ngx_http_request_t *r);


/*
 * At the server rewrite phase, before nginx looks the location up: an S3
 * client's request for "/eu", the bucket of "location /eu/ { s3_proxy_bucket
 * real; }" as SDKs address it (ListObjectsV2 "GET /eu?list-type=2",
 * HeadBucket "HEAD /eu"), would get nginx's 301 to "/eu/" from the find
 * config phase, which SDKs do not follow.  When the core says it is one
 * (s3p_bucket_root()), its URI becomes the mount's, as the rewrite module
 * rewrites at this phase; browsers keep the 301.
 */

ngx_int_t
ngx_http_s3_proxy_bucket_root(ngx_http_request_t *r)
{
    u_char                         *p;
    ngx_uint_t                      i;
    s3p_request_t                   req;
    ngx_http_s3_proxy_loc_conf_t  **mount;
    ngx_http_s3_proxy_srv_conf_t   *sscf;

    sscf = ngx_http_get_module_srv_conf(r, ngx_http_s3_proxy_module);

    if (sscf->mounts == NULL || r->uri.len == 0
        || r->uri.data[r->uri.len - 1] == '/')
    {
        return NGX_DECLINED;
    }

    ngx_memzero(&req, sizeof(s3p_request_t));

    req.method.data = r->method_name.data;
    req.method.len = r->method_name.len;
    req.path.data = r->uri.data;
    req.path.len = r->uri.len;
    req.query.data = r->args.data;
    req.query.len = r->args.len;

    if (r->headers_in.user_agent) {
        req.user_agent.data = r->headers_in.user_agent->value.data;
        req.user_agent.len = r->headers_in.user_agent->value.len;
    }

    ngx_http_s3_proxy_client_signing(r, &req);

    mount = sscf->mounts->elts;

    for (i = 0; i < sscf->mounts->nelts; i++) {
        if (!s3p_bucket_root(mount[i]->core, &req)) {
            continue;
        }

        p = ngx_pnalloc(r->pool, mount[i]->mount.len);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(p, mount[i]->mount.data, mount[i]->mount.len);

        /* the request line stays the client's: the core routes "/eu" */

        r->uri.data = p;
        r->uri.len = mount[i]->mount.len;

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "s3 proxy: bucket root \"%V\"", &r->uri);

        return NGX_DECLINED;
    }

    return NGX_DECLINED;
}


ngx_int_t
ngx_http_s3_proxy_handler(ngx_http_request_t *r)
{
    u_char                        *out;
    size_t                         bound;
    ngx_int_t                      rc;
    s3p_config_t                   now;
    const s3p_str_t               *h;
    s3p_request_t                  req;
    const s3p_config_t            *core;
    ngx_http_s3_proxy_ctx_t       *ctx;
    ngx_http_s3_proxy_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_s3_proxy_module);

    if (!slcf->enable || slcf->core == NULL) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_s3_proxy_module);

    /* decided already, unless it is a folder's listing to sign */

    if (ctx != NULL && !ctx->waiting && !ctx->listing) {
        return NGX_DECLINED;
    }

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_s3_proxy_ctx_t));
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ctx->waiting = 0;

    core = slcf->core;

    /* s3_proxy_bucket and s3_proxy_prefix with variables: their values */

    if (ngx_http_s3_proxy_request_target(r, ctx, &req) != NGX_OK
        || ((core->per_request & S3P_PER_REQUEST_BUCKET)
            && ngx_http_complex_value(r, slcf->bucket,
                                      (ngx_str_t *) &req.bucket)
               != NGX_OK)
        || ((core->per_request & S3P_PER_REQUEST_PREFIX)
            && ngx_http_complex_value(r, slcf->prefix,
                                      (ngx_str_t *) &req.prefix)
               != NGX_OK))
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* a provider's credentials: the ones current now, if any are valid */

    ctx->signing = core->signing;

    if (slcf->creds != NULL) {
        rc = ngx_http_s3_proxy_credentials_signing(r, slcf->creds, ctx);

        /*
         * A cold start: the first fetch is under way.  The request waits
         * for it, 100 ms at a time, at most 3 seconds, as limit_req delays
         * one.
         */

        if (rc == NGX_AGAIN && ctx->waits < 30) {
            ctx->waits++;
            ctx->waiting = 1;
            ngx_http_set_ctx(r, ctx, ngx_http_s3_proxy_module);

            r->read_event_handler = ngx_http_test_reading;
            r->write_event_handler = ngx_http_s3_proxy_wake;
            ngx_add_timer(r->connection->write, 100);

            return NGX_AGAIN;
        }

        if (rc == NGX_AGAIN) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "s3 proxy: no credentials after waiting 3 s");
        }

        /*
         * No valid credentials from the location's provider (yet): 503,
         * and the client may try again in a second.  Nothing is signed.
         */

        if (rc == NGX_BUSY || rc == NGX_AGAIN) {
            ctx->result.route = S3P_ROUTE_UNAVAILABLE;
            ctx->result.allowed = -1;
            ngx_http_s3_proxy_status_route(r, ctx);

            if (ngx_http_discard_request_body(r) != NGX_OK) {
                r->keepalive = 0;
            }

            if (ngx_http_s3_proxy_add_header(r, "Retry-After",
                                             (u_char *) "1", 1)
                == NULL)
            {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            return NGX_HTTP_SERVICE_UNAVAILABLE;
        }

        if (rc != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        now = *slcf->core;
        now.signing = ctx->signing;
        core = &now;
    }

    bound = s3p_output_bound(core, &req);

    out = ngx_pnalloc(r->pool, bound);
    if (out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = s3p_handle(core, &req, out, bound, &ctx->result);

    if (rc != S3P_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "s3 proxy: signing failed (%i)", rc);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_s3_proxy_module);
    ngx_http_s3_proxy_status_route(r, ctx);

    /* the header the core answers with: Allow, Cache-Control */

    h = &ctx->result.header_value;

    if (ctx->result.header != NULL
        && ctx->result.render != S3P_RENDER_FOLDER
        && ngx_http_s3_proxy_add_header(r, ctx->result.header,
                                        (u_char *) h->data, h->len)
           == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    switch (ctx->result.action) {

    case S3P_ACTION_REDIRECT:
        return ngx_http_s3_proxy_redirect(r, ctx);

    case S3P_ACTION_PROXY:
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "s3 proxy: proxy \"%*s\"",
                       ctx->result.url.len, ctx->result.url.data);

        /*
         * S3 gets no request body (proxy_pass_request_body off), so none is
         * read: proxy_pass then builds the upstream request at once, not
         * after a body that a client trickles in.
         */

        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ctx->result.fallback.len && r == r->main
            && ngx_http_s3_proxy_fallback_keep(r, ctx) != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* the content phase handler, proxy_pass, takes it from here */
        return NGX_DECLINED;

    default:
        return ngx_http_s3_proxy_refuse(r, ctx);
    }
}


/*
 * The request target as the client sent it: the raw path and query of the
 * request line.  S3 does not normalise paths, so $uri (slashes merged, dot
 * segments resolved) is not what the client asked for.  After an internal
 * redirect the raw line no longer applies, and the new URI is escaped back.
 */

static ngx_int_t
ngx_http_s3_proxy_request_target(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx, s3p_request_t *req)
{
    u_char     *p, *q;
    size_t      len;
    ngx_str_t   uri;

    ngx_memzero(req, sizeof(s3p_request_t));

    req->method.data = r->method_name.data;
    req->method.len = r->method_name.len;
    req->now = (int64_t) ngx_time();

    if (r->headers_in.user_agent) {
        req->user_agent.data = r->headers_in.user_agent->value.data;
        req->user_agent.len = r->headers_in.user_agent->value.len;
    }

    ngx_http_s3_proxy_client_signing(r, req);

    /*
     * A fallback pass: S3 answered the path's step before with a status
     * the core named, and the module asks again for the path and query
     * the core gave it (ngx_http_s3_proxy_fallback()).
     */

    if (ctx->listing) {
        req->fallback = ctx->step;
        req->status = ctx->result.status;
    }

    if (ctx->listing || (r->valid_unparsed_uri && r == r->main)) {
        p = ctx->listing ? (u_char *) ctx->result.fallback.data
                         : r->unparsed_uri.data;
        len = ctx->listing ? ctx->result.fallback.len : r->unparsed_uri.len;

        q = ngx_strlchr(p, p + len, '?');

        req->path.data = p;
        req->path.len = (q ? q : p + len) - p;
        req->query.data = q ? q + 1 : p + len;
        req->query.len = q ? (size_t) (p + len - q - 1) : 0;

        return NGX_OK;
    }

    if (ngx_http_s3_proxy_escaped_uri(r, &uri) != NGX_OK) {
        return NGX_ERROR;
    }

    req->path.data = uri.data;
    req->path.len = uri.len;
    req->query.data = r->args.data;
    req->query.len = r->args.len;

    return NGX_OK;
}


/*
 * What S3 clients send when they sign, for the core to recognise them:
 * the Authorization header and the x-amz-date and x-amz-content-sha256
 * headers, which nginx does not index; and x-amz-checksum-mode, which the
 * core sends on for them.
 */

static void
ngx_http_s3_proxy_client_signing(ngx_http_request_t *r, s3p_request_t *req)
{
    s3p_str_t        *found[3];
    ngx_uint_t        i, k;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    static ngx_str_t  names[] = {
        ngx_string("x-amz-date"),
        ngx_string("x-amz-content-sha256"),
        ngx_string("x-amz-checksum-mode")
    };

    found[0] = &req->amz_date;
    found[1] = &req->amz_content_sha256;
    found[2] = &req->checksum_mode;

    if (r->headers_in.authorization) {
        req->authorization.data = r->headers_in.authorization->value.data;
        req->authorization.len = r->headers_in.authorization->value.len;
    }

    part = &r->headers_in.headers.part;
    i = 0;

    while ((h = ngx_http_s3_proxy_next_header(&part, &i))) {
        for (k = 0; k < 3; k++) {
            if (h->key.len == names[k].len
                && ngx_strncasecmp(h->key.data, names[k].data, names[k].len)
                   == 0)
            {
                found[k]->data = h->value.data;
                found[k]->len = h->value.len;
            }
        }
    }
}


/* $uri, decoded and normalised by nginx, escaped back into a path */

static ngx_int_t
ngx_http_s3_proxy_escaped_uri(ngx_http_request_t *r, ngx_str_t *uri)
{
    u_char     *p, *q;
    uintptr_t   escape;

    escape = 2 * ngx_escape_uri(NULL, r->uri.data, r->uri.len,
                                NGX_ESCAPE_URI);

    p = ngx_pnalloc(r->pool, r->uri.len + escape);
    if (p == NULL) {
        return NGX_ERROR;
    }

    q = (u_char *) ngx_escape_uri(p, r->uri.data, r->uri.len, NGX_ESCAPE_URI);

    uri->data = p;
    uri->len = q - p;

    return NGX_OK;
}


/*
 * A redirect, and a refusal to an S3 client (S3's XML error, which it
 * parses): answered as nginx's "return" answers, the URL or the document
 * being the core's.
 */

static ngx_int_t
ngx_http_s3_proxy_redirect(ngx_http_request_t *r, ngx_http_s3_proxy_ctx_t *ctx)
{
    ngx_http_complex_value_t   cv;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "s3 proxy: redirect \"%*s\"",
                   ctx->result.key.len, ctx->result.key.data);

    ngx_memzero(&cv, sizeof(ngx_http_complex_value_t));
    cv.value.data = (u_char *) ctx->result.url.data;
    cv.value.len = ctx->result.url.len;

    return ngx_http_send_response(r, NGX_HTTP_TEMPORARY_REDIRECT, NULL, &cv);
}


static ngx_int_t
ngx_http_s3_proxy_refuse(ngx_http_request_t *r, ngx_http_s3_proxy_ctx_t *ctx)
{
    ngx_int_t                  status;
    ngx_http_complex_value_t   cv;

    static ngx_str_t  xml = ngx_string("application/xml");

    status = ctx->result.status;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "s3 proxy: refused with %i", status);

    /*
     * A refused request's body is never read: a client that announced one
     * (with "Expect: 100-continue" it never sends it) gets the connection
     * closed, so that nginx cannot take the next request for that body.
     */

    if (r->headers_in.content_length_n > 0 || r->headers_in.chunked) {
        r->keepalive = 0;
    }

    if ((status < NGX_HTTP_BAD_REQUEST
         || status >= NGX_HTTP_INTERNAL_SERVER_ERROR)
        && status != NGX_HTTP_NOT_IMPLEMENTED)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->result.render != S3P_RENDER_S3_ERROR) {
        return status;
    }

    ngx_memzero(&cv, sizeof(ngx_http_complex_value_t));
    cv.value.data = (u_char *) ctx->result.url.data;
    cv.value.len = ctx->result.url.len;

    ngx_http_finalize_request(r, ngx_http_send_response(r, status, &xml,
                                                        &cv));
    return NGX_DONE;
}


/*
 * Walks a list of headers: the one after *part's *i-th (start with the
 * list's first part and 0), NULL after the last.
 */

ngx_table_elt_t *
ngx_http_s3_proxy_next_header(ngx_list_part_t **part, ngx_uint_t *i)
{
    while (*i >= (*part)->nelts) {
        if ((*part)->next == NULL) {
            return NULL;
        }

        *part = (*part)->next;
        *i = 0;
    }

    return (ngx_table_elt_t *) (*part)->elts + (*i)++;
}


ngx_table_elt_t *
ngx_http_s3_proxy_add_header(ngx_http_request_t *r, const char *key,
    u_char *value, size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NULL;
    }

    /*
     * ngx_list_push() memory is not zeroed: every field is set.  nginx
     * reads no lowcase_key of a response header; 1.23.0 added next.
     */

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value.data = value;
    h->value.len = len;
    h->lowcase_key = NULL;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return h;
}


/*
 * The core's lookup of a key's type: nginx's "types" of the location, as
 * ngx_http_set_content_type() finds a URI's (its default_type when none
 * matches; an extension longer than 64 bytes matches none).
 */

s3p_str_t
ngx_http_s3_proxy_type(const void *data, const uint8_t *ext, size_t len)
{
    u_char                     c, lowcase[64];
    s3p_str_t                  type;
    ngx_str_t                 *found;
    ngx_uint_t                 i, hash;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = (ngx_http_core_loc_conf_t *) data;
    found = NULL;

    if (len && len <= sizeof(lowcase) && clcf->types_hash.size) {
        hash = 0;

        for (i = 0; i < len; i++) {
            c = ngx_tolower(ext[i]);
            hash = ngx_hash(hash, c);
            lowcase[i] = c;
        }

        found = ngx_hash_find(&clcf->types_hash, hash, lowcase, len);
    }

    if (found == NULL) {
        found = &clcf->default_type;
    }

    type.len = found->len;
    type.data = found->data;

    return type;
}


static void
ngx_http_s3_proxy_wake(ngx_http_request_t *r)
{
    ngx_event_t  *wev;

    wev = r->connection->write;

    if (!wev->timedout) {
        if (ngx_handle_write_event(wev, 0) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        }

        return;
    }

    wev->timedout = 0;

    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_core_run_phases;

    ngx_http_core_run_phases(r);
}
