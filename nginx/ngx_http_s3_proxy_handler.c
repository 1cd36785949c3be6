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
    s3p_request_t *req);
static void ngx_http_s3_proxy_client_signing(ngx_http_request_t *r,
    s3p_request_t *req);
static ngx_int_t ngx_http_s3_proxy_request_pages(ngx_http_request_t *r,
    ngx_http_s3_proxy_loc_conf_t *slcf);
static ngx_int_t ngx_http_s3_proxy_redirect(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx);
static ngx_int_t ngx_http_s3_proxy_refuse(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx);
static ngx_int_t ngx_http_s3_proxy_sign_get(ngx_http_request_t *r,
    const s3p_config_t *core, ngx_http_s3_proxy_ctx_t *ctx,
    s3p_request_t *req);
static ngx_int_t ngx_http_s3_proxy_s3_error(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx);
static ngx_int_t ngx_http_s3_proxy_unavailable(ngx_http_request_t *r);
static void ngx_http_s3_proxy_wake(ngx_http_request_t *r);


ngx_int_t
ngx_http_s3_proxy_handler(ngx_http_request_t *r)
{
    u_char                        *out;
    size_t                         bound;
    ngx_int_t                      rc;
    s3p_config_t                   now;
    s3p_request_t                  req;
    const s3p_config_t            *core;
    ngx_http_s3_proxy_ctx_t       *ctx;
    ngx_http_s3_proxy_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_s3_proxy_module);

    if (!slcf->enable || slcf->core == NULL) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_s3_proxy_module);

    if (ctx != NULL && !ctx->waiting) {
        return NGX_DECLINED;
    }

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_s3_proxy_ctx_t));
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ctx->waiting = 0;

    if (ngx_http_s3_proxy_request_target(r, &req) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* a provider's credentials: the ones current now, if any are valid */

    core = slcf->core;
    ctx->signing = core->signing;

    if (slcf->creds != NULL) {
        rc = ngx_http_s3_proxy_credentials_signing(r, slcf->creds,
                                                   &ctx->signing);

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

        if (rc == NGX_BUSY || rc == NGX_AGAIN) {
            return ngx_http_s3_proxy_unavailable(r);
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

    switch (ctx->result.action) {

    case S3P_ACTION_REDIRECT:
        return ngx_http_s3_proxy_redirect(r, ctx);

    case S3P_ACTION_PROXY:
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "s3 proxy: proxy \"%*s\"",
                       ctx->result.url.len, ctx->result.url.data);

        /*
         * S3 gets no request body (proxy_pass_request_body off), so none is
         * read: proxy_pass then builds the upstream request at once,
         * instead of after a body that a client trickles in.
         */

        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (r->method == NGX_HTTP_HEAD
            && ngx_http_s3_proxy_sign_get(r, core, ctx, &req) != NGX_OK)
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
 * The location's content handler, proxy_pass, wrapped, and this request's
 * copy of its upstream settings changed.  Why no stock mechanism does:
 *
 *   - a folder's index page, with built-in listings on, must bring S3's
 *     404 to the module's error page ($s3_proxy_fallback), while every
 *     other 404 of S3 (an SDK's missing object) keeps S3's own XML, and
 *     every other 404 gets the operator's own error_page, if any.  nginx
 *     decides interception in ngx_http_upstream_intercept_errors() from
 *     the location's proxy_intercept_errors flag alone, before any filter
 *     sees the answer, and once intercepted S3's body is gone: turned on in
 *     s3_proxy.conf it would replace every 404, and a second pass cannot
 *     get S3's answer back (same location, so intercepted again: an SDK
 *     then gets nginx's HTML 404, not NoSuchKey).  The flag takes no
 *     variable, is not allowed in "if", and a location of its own would
 *     be a named one, which nginx allows at server level only, outside
 *     the location that includes the snippet.  So interception is turned
 *     on for this request alone, on a copy of the settings; a listing to
 *     render is read in memory, never from a temporary file.  Likewise
 *     error_page takes the first page for a status, so this request alone
 *     gets a copy of the location's settings with the module's page first
 *     (built by ngx_http_s3_proxy_fallback_pages() when nginx reads the
 *     configuration).
 */

ngx_int_t
ngx_http_s3_proxy_content_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_uint_t                     intercept, in_memory;
    ngx_http_upstream_conf_t      *ucf;
    ngx_http_s3_proxy_ctx_t       *ctx, *pctx;
    ngx_http_s3_proxy_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_s3_proxy_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_s3_proxy_module);

    if (ctx != NULL && ctx->result.fallback.len && slcf->listing
        && ngx_http_s3_proxy_request_pages(r, slcf) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * proxy_cache_background_update refreshes a stale entry in a clone of
     * the request (NGX_HTTP_SUBREQUEST_CLONE), which starts at this phase:
     * the precontent handler never ran for it.  It fetches what its parent
     * was answered from, so it takes the parent's signed answer (signed
     * moments ago, well within S3's clock skew).
     */

    ctx = ngx_http_get_module_ctx(r, ngx_http_s3_proxy_module);

    if (ctx == NULL && r->parent != NULL && r->background) {
        pctx = ngx_http_get_module_ctx(r->parent, ngx_http_s3_proxy_module);

        if (pctx != NULL && pctx->result.action == S3P_ACTION_PROXY) {
            ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_s3_proxy_ctx_t));
            if (ctx == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            ctx->result = pctx->result;
            ctx->get_authorization = pctx->get_authorization;
            ctx->signing = pctx->signing;   /* held by the shared pool */

            ngx_http_set_ctx(r, ctx, ngx_http_s3_proxy_module);
        }
    }

    rc = slcf->proxy_handler(r);

    if (ctx == NULL || r->upstream == NULL || slcf->core == NULL) {
        return rc;
    }

    intercept = ctx->result.fallback.len && slcf->core->listings
                && !r->upstream->conf->intercept_errors;

    in_memory = ctx->result.render != S3P_RENDER_NONE
                && r->upstream->conf->max_temp_file_size != 0;

    if (intercept || in_memory) {
        ucf = ngx_palloc(r->pool, sizeof(ngx_http_upstream_conf_t));
        if (ucf == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        *ucf = *r->upstream->conf;

        if (intercept) {
            ucf->intercept_errors = 1;
        }

        if (in_memory) {
            ucf->max_temp_file_size = 0;
        }

        r->upstream->conf = ucf;
    }

    return rc;
}


/*
 * A proxied HEAD signed as GET too.  With proxy_cache, nginx fetches the
 * HEAD of a cache miss as a GET (proxy_cache_convert_head, on by default),
 * deciding so in ngx_http_upstream_cache() before proxy_pass evaluates the
 * signed headers; $s3_proxy_authorization then takes this signature
 * (ngx_http_s3_proxy_variables.c).  Only the method differs: the same
 * route, URL and instant.
 */

static ngx_int_t
ngx_http_s3_proxy_sign_get(ngx_http_request_t *r, const s3p_config_t *core,
    ngx_http_s3_proxy_ctx_t *ctx, s3p_request_t *req)
{
    u_char        *out;
    size_t         bound;
    s3p_result_t   get;

    req->method.data = (u_char *) "GET";
    req->method.len = sizeof("GET") - 1;

    bound = s3p_output_bound(core, req);

    out = ngx_pnalloc(r->pool, bound);
    if (out == NULL) {
        return NGX_ERROR;
    }

    if (s3p_handle(core, req, out, bound, &get) != S3P_OK
        || get.action != S3P_ACTION_PROXY)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "s3 proxy: signing a HEAD as GET failed");
        return NGX_ERROR;
    }

    ctx->get_authorization = get.authorization;

    return NGX_OK;
}


/*
 * This request's location settings, with the core module's a copy whose
 * error pages start with the module's fallback page.  nginx takes the
 * settings from the location again at an internal redirect, such as the
 * fallback pass.
 */

static ngx_int_t
ngx_http_s3_proxy_request_pages(ngx_http_request_t *r,
    ngx_http_s3_proxy_loc_conf_t *slcf)
{
    void                      **loc_conf;
    ngx_http_core_loc_conf_t   *clcf;

    loc_conf = ngx_palloc(r->pool, sizeof(void *) * ngx_http_max_module);
    if (loc_conf == NULL) {
        return NGX_ERROR;
    }

    clcf = ngx_palloc(r->pool, sizeof(ngx_http_core_loc_conf_t));
    if (clcf == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(loc_conf, r->loc_conf, sizeof(void *) * ngx_http_max_module);

    *clcf = *(ngx_http_core_loc_conf_t *)
                r->loc_conf[ngx_http_core_module.ctx_index];

    clcf->error_pages = slcf->fallback_pages;

    loc_conf[ngx_http_core_module.ctx_index] = clcf;
    r->loc_conf = loc_conf;

    return NGX_OK;
}


/*
 * The request target as the client sent it: the raw path and query of the
 * request line.  S3 does not normalise paths, so $uri (slashes merged, dot
 * segments resolved) is not what the client asked for.  After an internal
 * redirect the raw line no longer applies, and the new URI is escaped back.
 */

static ngx_int_t
ngx_http_s3_proxy_request_target(ngx_http_request_t *r, s3p_request_t *req)
{
    u_char     *p, *q;
    size_t      len;
    ngx_str_t   uri;

    req->method.data = r->method_name.data;
    req->method.len = r->method_name.len;
    req->now = (int64_t) ngx_time();

    if (r->headers_in.user_agent) {
        req->user_agent.data = r->headers_in.user_agent->value.data;
        req->user_agent.len = r->headers_in.user_agent->value.len;

    } else {
        req->user_agent.data = NULL;
        req->user_agent.len = 0;
    }

    ngx_http_s3_proxy_client_signing(r, req);

    req->fallback = 0;

    /*
     * The fallback pass: S3 answered 404 for a folder's index page, and
     * error_page brought the request back to the folder path the module
     * gave it, already encoded.
     */

    if (r->internal
        && r->error_page
        && r->args.len == sizeof(S3P_FALLBACK_MARKER) - 1
        && ngx_strncmp(r->args.data, S3P_FALLBACK_MARKER,
                       sizeof(S3P_FALLBACK_MARKER) - 1)
           == 0)
    {
        req->fallback = 1;
        req->path.data = r->uri.data;
        req->path.len = r->uri.len;
        req->query.data = NULL;
        req->query.len = 0;

        return NGX_OK;
    }

    if (r->valid_unparsed_uri && r == r->main) {
        p = r->unparsed_uri.data;
        len = r->unparsed_uri.len;

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
 * headers, which nginx does not index.
 */

static void
ngx_http_s3_proxy_client_signing(ngx_http_request_t *r, s3p_request_t *req)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    ngx_memzero(&req->authorization, sizeof(s3p_str_t));
    ngx_memzero(&req->amz_date, sizeof(s3p_str_t));
    ngx_memzero(&req->amz_content_sha256, sizeof(s3p_str_t));

    if (r->headers_in.authorization) {
        req->authorization.data = r->headers_in.authorization->value.data;
        req->authorization.len = r->headers_in.authorization->value.len;
    }

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("x-amz-date") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "x-amz-date",
                               sizeof("x-amz-date") - 1)
               == 0)
        {
            req->amz_date.data = h[i].value.data;
            req->amz_date.len = h[i].value.len;

        } else if (h[i].key.len == sizeof("x-amz-content-sha256") - 1
                   && ngx_strncasecmp(h[i].key.data,
                                      (u_char *) "x-amz-content-sha256",
                                      sizeof("x-amz-content-sha256") - 1)
                      == 0)
        {
            req->amz_content_sha256.data = h[i].value.data;
            req->amz_content_sha256.len = h[i].value.len;
        }
    }
}


/* $uri, decoded and normalised by nginx, escaped back into a path */

ngx_int_t
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

    if (escape) {
        q = (u_char *) ngx_escape_uri(p, r->uri.data, r->uri.len,
                                      NGX_ESCAPE_URI);
    } else {
        q = ngx_cpymem(p, r->uri.data, r->uri.len);
    }

    uri->data = p;
    uri->len = q - p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_s3_proxy_redirect(ngx_http_request_t *r, ngx_http_s3_proxy_ctx_t *ctx)
{
    u_char           *p, *last;
    ngx_table_elt_t  *h;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "s3 proxy: redirect \"%*s\"",
                   ctx->result.key.len, ctx->result.key.data);

    ngx_http_clear_location(r);

    h = ngx_http_s3_proxy_add_header(r, "Location",
                                     (u_char *) ctx->result.url.data,
                                     ctx->result.url.len);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.location = h;

    /* with a presign window, the URL stays the same until the window ends */

    if (ctx->result.max_age >= 0) {
        p = ngx_pnalloc(r->pool, sizeof("private, max-age=") - 1
                                 + NGX_TIME_T_LEN);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        last = ngx_sprintf(p, "private, max-age=%L", ctx->result.max_age);

        if (ngx_http_s3_proxy_add_header(r, "Cache-Control", p, last - p)
            == NULL)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return NGX_HTTP_TEMPORARY_REDIRECT;
}


static ngx_int_t
ngx_http_s3_proxy_refuse(ngx_http_request_t *r, ngx_http_s3_proxy_ctx_t *ctx)
{
    ngx_table_elt_t  *h;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "s3 proxy: refused with %D", ctx->result.status);

    /*
     * A refused request's body is never read: a client that announced one
     * (with "Expect: 100-continue" it never sends it) gets the connection
     * closed, so that nginx cannot take the next request for that body.
     */

    if (r->headers_in.content_length_n > 0 || r->headers_in.chunked) {
        r->keepalive = 0;
    }

    if (ctx->result.status == NGX_HTTP_NOT_ALLOWED) {
        h = ngx_http_s3_proxy_add_header(r, "Allow", (u_char *) "GET, HEAD",
                                         sizeof("GET, HEAD") - 1);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if ((ctx->result.status < NGX_HTTP_BAD_REQUEST
         || ctx->result.status >= NGX_HTTP_INTERNAL_SERVER_ERROR)
        && ctx->result.status != NGX_HTTP_NOT_IMPLEMENTED)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->result.render == S3P_RENDER_S3_ERROR) {
        return ngx_http_s3_proxy_s3_error(r, ctx);
    }

    return ctx->result.status;
}


/* a refusal to an S3 client: S3's XML error, which it parses */

static ngx_int_t
ngx_http_s3_proxy_s3_error(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    r->headers_out.status = ctx->result.status;
    r->headers_out.content_length_n = ctx->result.url.len;

    ngx_str_set(&r->headers_out.content_type, "application/xml");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        ngx_http_finalize_request(r, rc);
        return NGX_DONE;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = (u_char *) ctx->result.url.data;
    b->last = b->pos + ctx->result.url.len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    ngx_http_finalize_request(r, ngx_http_output_filter(r, &out));

    return NGX_DONE;
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
 * No valid credentials from the location's provider (yet): 503, and the
 * client may try again in a second.  Nothing is signed.
 */

static ngx_int_t
ngx_http_s3_proxy_unavailable(ngx_http_request_t *r)
{
    ngx_table_elt_t  *h;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    h = ngx_http_s3_proxy_add_header(r, "Retry-After", (u_char *) "1", 1);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_HTTP_SERVICE_UNAVAILABLE;
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
