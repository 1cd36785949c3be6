/*
 * ngx_http_s3_proxy_module: the request phase.  Each request of a location
 * with "s3_proxy on" is handed to the Swift core, which refuses it (its
 * status), redirects it (307 to a presigned URL) or signs it for the
 * snippet's proxy_pass, which fetches it through the $s3_proxy_*
 * variables.  docs/design.md, "The request", says how.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_s3_proxy_module.h"


static ngx_int_t ngx_http_s3_proxy_request(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx, s3p_request_t *req);
static void ngx_http_s3_proxy_request_init(ngx_http_request_t *r,
    s3p_request_t *req);
static ngx_int_t ngx_http_s3_proxy_unavailable(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx, ngx_int_t rc);


/*
 * At the server rewrite phase: an S3 client's request for "/eu", the
 * bucket of "location /eu/" as SDKs address it, gets the mount's URI.
 */

ngx_int_t
ngx_http_s3_proxy_bucket_root(ngx_http_request_t *r)
{
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

    ngx_http_s3_proxy_request_init(r, &req);

    mount = sscf->mounts->elts;

    /* the request line stays the client's: the core routes "/eu" */

    for (i = 0; i < sscf->mounts->nelts; i++) {
        if (s3p_bucket_root(mount[i]->core, &req)) {
            /* the configuration's bytes, as an internal redirect's are */
            r->uri = mount[i]->mount;

            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "s3 proxy: bucket root \"%V\"", &r->uri);
            break;
        }
    }

    return NGX_DECLINED;
}


ngx_int_t
ngx_http_s3_proxy_handler(ngx_http_request_t *r)
{
    u_char                        *out;
    size_t                         bound;
    ngx_int_t                      rc;
    ngx_event_t                   *wev;
    s3p_config_t                   now;
    const s3p_str_t               *h;
    s3p_request_t                  req;
    const s3p_config_t            *core;
    ngx_http_s3_proxy_ctx_t       *ctx;
    ngx_pool_cleanup_t            *cln;
    ngx_http_complex_value_t       cv;
    ngx_http_s3_proxy_loc_conf_t  *slcf;

    static ngx_str_t  xml = ngx_string("application/xml");

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_s3_proxy_module);

    if (!slcf->enable || slcf->core == NULL) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_s3_proxy_module);

    /* decided already, unless it is a next step to sign */

    if (ctx != NULL && !ctx->waiting && !ctx->listing) {
        return NGX_DECLINED;
    }

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_s3_proxy_ctx_t));
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    /* waiting for credentials: the timer's event runs the phases again */

    if (ctx->waiting) {
        wev = r->connection->write;

        if (!wev->timedout) {
            return (ngx_handle_write_event(wev, 0) == NGX_OK)
                   ? NGX_AGAIN : NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        wev->timedout = 0;
        ctx->waiting = 0;
        r->read_event_handler = ngx_http_block_reading;
    }

    if (ngx_http_s3_proxy_request(r, ctx, &req) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* a provider's credentials: the ones current now, if any are valid */

    core = slcf->core;
    ctx->signing = core->signing;

    if (slcf->creds != NULL) {
        rc = ngx_http_s3_proxy_credentials_signing(r, slcf->creds, ctx);

        if (rc != NGX_OK) {
            return ngx_http_s3_proxy_unavailable(r, ctx, rc);
        }

        now = *core;
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
    ngx_http_s3_proxy_status_count(r, ctx, 0, 0);

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

    /* a redirect's URL, or an S3 client's refusal: S3's XML error */

    ngx_memzero(&cv, sizeof(ngx_http_complex_value_t));
    cv.value.data = (u_char *) ctx->result.url.data;
    cv.value.len = ctx->result.url.len;

    switch (ctx->result.action) {

    case S3P_ACTION_REDIRECT:
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "s3 proxy: redirect \"%*s\"",
                       ctx->result.key.len, ctx->result.key.data);

        return ngx_http_send_response(r, NGX_HTTP_TEMPORARY_REDIRECT, NULL,
                                      &cv);

    case S3P_ACTION_PROXY:
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "s3 proxy: proxy \"%*s\"",
                       ctx->result.url.len, ctx->result.url.data);

        /* S3 gets no request body, so none is read (docs/design.md) */

        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* a page that may fall back: kept for the location's error_page */

        if (ctx->result.fallback.len && r == r->main) {
            cln = ngx_pool_cleanup_add(r->pool, 0);
            if (cln == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            cln->handler = ngx_http_s3_proxy_keep;
            cln->data = ctx;
            ctx->uri = r->uri;
        }

        /* the content phase handler, proxy_pass, takes it from here */
        return NGX_DECLINED;

    default:
        break;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "s3 proxy: refused with %i",
                  (ngx_int_t) ctx->result.status);

    /* its body is never read: announced, it closes the connection */

    if (r->headers_in.content_length_n > 0 || r->headers_in.chunked) {
        r->keepalive = 0;
    }

    if (ctx->result.render != S3P_RENDER_S3_ERROR) {
        return ctx->result.status;
    }

    ngx_http_finalize_request(r, ngx_http_send_response(r, ctx->result.status,
                                                        &xml, &cv));
    return NGX_DONE;
}


/*
 * The request as the core reads it: its method and headers, the values of
 * s3_proxy_bucket and s3_proxy_prefix with variables, and the target as
 * the client sent it, or the one of the next step to sign, whose step
 * before S3 answered with result.status; after an internal redirect, $uri,
 * which the core escapes back into a path (docs/design.md).
 */

static ngx_int_t
ngx_http_s3_proxy_request(ngx_http_request_t *r, ngx_http_s3_proxy_ctx_t *ctx,
    s3p_request_t *req)
{
    ngx_http_s3_proxy_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_s3_proxy_module);

    ngx_http_s3_proxy_request_init(r, req);

    req->now = (int64_t) ngx_time();

    if (((slcf->core->per_request & S3P_PER_REQUEST_BUCKET)
         && ngx_http_complex_value(r, slcf->bucket, (ngx_str_t *) &req->bucket)
            != NGX_OK)
        || ((slcf->core->per_request & S3P_PER_REQUEST_PREFIX)
            && ngx_http_complex_value(r, slcf->prefix,
                                      (ngx_str_t *) &req->prefix)
               != NGX_OK))
    {
        return NGX_ERROR;
    }

    if (ctx->listing) {
        req->fallback = ctx->step;
        req->status = ctx->result.status;
        req->target = ctx->result.fallback;

    } else if (r->valid_unparsed_uri && r == r->main) {
        ngx_memcpy(&req->target, &r->unparsed_uri, sizeof(s3p_str_t));
    }

    return NGX_OK;
}


/* The method, $uri and $args, and each header offered to the core. */

static void
ngx_http_s3_proxy_request_init(ngx_http_request_t *r, s3p_request_t *req)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    ngx_memzero(req, sizeof(s3p_request_t));

    ngx_memcpy(&req->method, &r->method_name, sizeof(s3p_str_t));
    ngx_memcpy(&req->path, &r->uri, sizeof(s3p_str_t));
    ngx_memcpy(&req->query, &r->args, sizeof(s3p_str_t));
    req->decoded = 1;

    part = &r->headers_in.headers.part;
    i = 0;

    while ((h = ngx_http_s3_proxy_next_header(&part, &i))) {
        s3p_request_header(req, (s3p_str_t *) &h->key,
                           (s3p_str_t *) &h->value);
    }
}


/*
 * No valid credentials from the location's provider (yet).  On a cold
 * start, the first fetch under way, the request waits for it, 100 ms at a
 * time, at most 3 seconds, as limit_req delays one; then 503, and the
 * client may try again in a second.  Nothing is signed.
 */

static ngx_int_t
ngx_http_s3_proxy_unavailable(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx, ngx_int_t rc)
{
    if (rc == NGX_AGAIN && ctx->waits++ < 30) {
        ctx->waiting = 1;
        ngx_http_set_ctx(r, ctx, ngx_http_s3_proxy_module);

        r->read_event_handler = ngx_http_test_reading;
        ngx_add_timer(r->connection->write, 100);

        return NGX_AGAIN;
    }

    if (rc == NGX_AGAIN) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "s3 proxy: no credentials after waiting 3 s");

    } else if (rc != NGX_BUSY) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->result.route = S3P_ROUTE_UNAVAILABLE;
    ctx->result.allowed = -1;
    ngx_http_s3_proxy_status_count(r, ctx, 0, 0);

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    if (ngx_http_s3_proxy_add_header(r, "Retry-After", (u_char *) "1", 1)
        == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_HTTP_SERVICE_UNAVAILABLE;
}


/* The cleanup that marks a context kept, which the pool frees. */

void
ngx_http_s3_proxy_keep(void *data)
{
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


/* A response header; nginx reads no lowcase_key of one. */

ngx_table_elt_t *
ngx_http_s3_proxy_add_header(ngx_http_request_t *r, const char *key,
    u_char *value, size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NULL;
    }

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
 * matches).
 */

s3p_str_t
ngx_http_s3_proxy_type(const void *data, const uint8_t *ext, size_t len)
{
    ngx_str_t                 *type;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = (ngx_http_core_loc_conf_t *) data;
    type = NULL;

    if (len && clcf->types_hash.size) {
        type = ngx_hash_find(&clcf->types_hash,
                             ngx_hash_key((u_char *) ext, len),
                             (u_char *) ext, len);
    }

    if (type == NULL) {
        type = &clcf->default_type;
    }

    return *(s3p_str_t *) type;
}
