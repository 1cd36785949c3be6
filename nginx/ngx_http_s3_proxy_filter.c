/*
 * ngx_http_s3_proxy_module: S3's answers to proxied requests, a header and
 * body filter.
 *
 * Every answer proxied from S3 loses here the x-amz-* headers the Swift
 * core hides (request ids and encryption unless s3_proxy_pass_headers
 * passes them; the object's metadata, version and checksums stay, but
 * not checksums in the answer to a Range).  Two
 * answers are collected and replaced by what the core writes:
 *
 *   - a redirect or an error of S3's (3xx but 304, 400 or more), whose
 *     Location is hidden with S3's other headers: its document carries
 *     what helps whoever holds the credentials debug a request (the
 *     access key id, the string to sign and canonical request with the
 *     session token, request and host ids).  It keeps its status and
 *     headers (Retry-After included); its body (at most
 *     S3P_ERROR_BODY_MAX bytes kept) becomes a clean document, the same
 *     Code with a fixed Message.  The code goes
 *     to the error log at the level the core chooses: error for the
 *     operator's problems, info for the client's;
 *   - a listing page to render (s3_proxy_listing on: a folder without an
 *     index page): S3's ListObjectsV2 XML becomes the HTML page;
 *   - a listing below a key prefix (s3_proxy_prefix): S3's XML, its keys
 *     made relative to the prefix.
 *
 * Answers nginx makes itself (its own error pages, an operator's
 * error_page with proxy_intercept_errors, which replaces S3's answer
 * before any filter sees it) pass untouched.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_s3_proxy_module.h"


static ngx_int_t ngx_http_s3_proxy_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_s3_proxy_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_s3_proxy_object(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx);
static void ngx_http_s3_proxy_replace(ngx_http_request_t *r, char *type,
    char *charset);
static ngx_int_t ngx_http_s3_proxy_collect(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx, ngx_chain_t *in, size_t max);
static ngx_int_t ngx_http_s3_proxy_clean(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx, s3p_str_t *page);
static ngx_int_t ngx_http_s3_proxy_render(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx, s3p_str_t *page);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


ngx_int_t
ngx_http_s3_proxy_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_s3_proxy_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_s3_proxy_body_filter;

    return NGX_OK;
}


static ngx_int_t
ngx_http_s3_proxy_header_filter(ngx_http_request_t *r)
{
    s3p_str_t                      name;
    ngx_uint_t                     i, pass, status;
    ngx_list_part_t               *part;
    ngx_table_elt_t               *h;
    ngx_http_upstream_t           *u;
    ngx_http_s3_proxy_ctx_t       *ctx;
    ngx_http_core_loc_conf_t      *clcf;
    ngx_http_s3_proxy_loc_conf_t  *slcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_s3_proxy_module);
    slcf = ngx_http_get_module_loc_conf(r, ngx_http_s3_proxy_module);

    /*
     * An answer of an "s3_proxy on" location that the module never
     * decided, and that is no error page of nginx's nor its redirect of
     * "/eu" to the location "/eu/": something in the location answered
     * before it ("return", "rewrite ... redirect").  The rewrite module
     * shows no module its settings, so nginx -t cannot see them; each
     * such answer is logged.
     */

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (ctx == NULL && r == r->main && slcf->core != NULL
        && r->err_status < NGX_HTTP_BAD_REQUEST
        && !(r->err_status && r->uri.len + 1 == clcf->name.len))
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "s3 proxy: location \"%V\" answered %ui before the "
                      "module decided: its \"return\" or \"rewrite\" "
                      "answers first", &clcf->name, r->headers_out.status);
    }

    if (ctx == NULL || ctx->result.action != S3P_ACTION_PROXY) {
        return ngx_http_next_header_filter(r);
    }
    pass = slcf->raw.pass_headers & (S3P_PASS_REQUEST_ID|S3P_PASS_SSE);

    if (r->headers_in.range) {
        pass |= S3P_ANSWER_RANGE;
    }

    if (ctx->result.disposition.len) {
        pass |= S3P_ANSWER_DISPOSITION;
    }

    part = &r->headers_out.headers.part;
    i = 0;

    while ((h = ngx_http_s3_proxy_next_header(&part, &i))) {
        name.len = h->key.len;
        name.data = h->key.data;

        if (h->hash && !s3p_response_header_visible(&name, (uint32_t) pass)) {
            h->hash = 0;

            /* nginx's header filter writes a Location of its own */

            if (h == r->headers_out.location) {
                r->headers_out.location = NULL;
            }
        }
    }

    /*
     * S3's own redirect or error: its status, not one nginx or a filter
     * set; a folder's 404 that its listing replaces is discarded as it is
     * (ngx_http_s3_proxy_fallback.c)
     */

    u = r->upstream;
    status = r->headers_out.status;

    /* S3's own answer, not one proxy_cache kept (for s3_proxy_status) */

    if (u != NULL && !r->cached && u->headers_in.status_n) {
        ngx_http_s3_proxy_status_s3(r, u->headers_in.status_n, 0);
    }

    if (status >= NGX_HTTP_SPECIAL_RESPONSE
        && status != NGX_HTTP_NOT_MODIFIED
        && u != NULL
        && u->headers_in.status_n == status
        && !r->err_status
        && !ngx_http_s3_proxy_falls_back(r, ctx))
    {
        if (!r->header_only && r->method != NGX_HTTP_HEAD) {
            ngx_http_s3_proxy_replace(r, "application/xml", NULL);
            ctx->cleaning = 1;
            return NGX_OK;
        }

        /* a HEAD: no document to clean, but the status is logged */

        if (ngx_http_s3_proxy_clean(r, ctx, NULL) == NGX_ERROR) {
            return NGX_ERROR;
        }

        return ngx_http_next_header_filter(r);
    }

    if (status < NGX_HTTP_BAD_REQUEST
        && ngx_http_s3_proxy_object(r, ctx) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ctx->result.render == S3P_RENDER_NONE
        || ctx->result.render >= S3P_RENDER_DOCUMENT
        || status != NGX_HTTP_OK)
    {
        return ngx_http_next_header_filter(r);
    }

    /*
     * A listing below a key prefix: S3's XML, its keys made relative; or
     * a folder listing: S3's XML turned into HTML.
     */

    if (ctx->result.render == S3P_RENDER_LISTING_XML) {
        ngx_http_s3_proxy_replace(r, "application/xml", NULL);

    } else {
        ngx_http_s3_proxy_replace(r, "text/html", "utf-8");

        if (ngx_http_s3_proxy_add_header(r, "Content-Security-Policy",
                                         (u_char *) s3p_listing_csp(),
                                         ngx_strlen(s3p_listing_csp()))
            == NULL
            || ngx_http_s3_proxy_add_header(r, "X-Content-Type-Options",
                                            (u_char *) "nosniff",
                                            sizeof("nosniff") - 1)
               == NULL)
        {
            return NGX_ERROR;
        }
    }

    /* HEAD: S3 sends no listing to render; the headers are the answer */

    if (r->header_only || r->method == NGX_HTTP_HEAD) {
        return ngx_http_next_header_filter(r);
    }

    ctx->rendering = 1;

    return NGX_OK;
}


/*
 * An object S3 found, as the core answers it: nginx's type for its key
 * (nginx's charset filter adds the location's charset), a download's
 * Content-Disposition, an error document's status, or a folder's
 * redirect, whose body is discarded (ngx_http_s3_proxy_fallback.c).
 */

static ngx_int_t
ngx_http_s3_proxy_object(ngx_http_request_t *r, ngx_http_s3_proxy_ctx_t *ctx)
{
    s3p_result_t  *res;

    res = &ctx->result;

    if (res->content_type.len) {
        r->headers_out.content_type.data = (u_char *) res->content_type.data;
        r->headers_out.content_type.len = res->content_type.len;
        r->headers_out.content_type_len = res->content_type.len;
        r->headers_out.content_type_lowcase = NULL;
        ngx_str_null(&r->headers_out.charset);
    }

    if (res->disposition.len
        && ngx_http_s3_proxy_add_header(r, "Content-Disposition",
                                        (u_char *) res->disposition.data,
                                        res->disposition.len)
           == NULL)
    {
        return NGX_ERROR;
    }

    if (res->render == S3P_RENDER_DOCUMENT) {
        r->headers_out.status = res->status;
        ngx_str_null(&r->headers_out.status_line);
    }

    if (res->render != S3P_RENDER_FOLDER) {
        return NGX_OK;
    }

    ngx_http_s3_proxy_replace(r, "", NULL);
    r->headers_out.content_type_len = 0;
    r->headers_out.content_length_n = 0;
    r->headers_out.status = NGX_HTTP_MOVED_TEMPORARILY;
    ngx_str_null(&r->headers_out.status_line);
    ctx->discarding = 1;

    if (ngx_http_s3_proxy_add_header(r, "Location",
                                     (u_char *) res->header_value.data,
                                     res->header_value.len)
        == NULL)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The headers of a body that is replaced: they describe S3's, so they
 * wait for the new one, which sets its length.
 */

static void
ngx_http_s3_proxy_replace(ngx_http_request_t *r, char *type, char *charset)
{
    ngx_http_clear_content_length(r);
    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);

    if (r->headers_out.content_encoding) {
        r->headers_out.content_encoding->hash = 0;
        r->headers_out.content_encoding = NULL;
    }

    r->headers_out.content_type.data = (u_char *) type;
    r->headers_out.content_type.len = ngx_strlen(type);
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    r->headers_out.charset.data = (u_char *) charset;
    r->headers_out.charset.len = charset ? ngx_strlen(charset) : 0;

    r->filter_need_in_memory = 1;
}


/* Collects S3's answer, then sends what replaces it. */

static ngx_int_t
ngx_http_s3_proxy_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_int_t                 rc;
    ngx_buf_t                *b;
    s3p_str_t                 page;
    ngx_chain_t               out;
    ngx_http_s3_proxy_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_s3_proxy_module);

    if (ctx == NULL || !(ctx->cleaning || ctx->rendering)) {
        return ngx_http_next_body_filter(r, in);
    }

    /* beyond S3P_ERROR_BODY_MAX, an error document is read, not kept */

    rc = ngx_http_s3_proxy_collect(r, ctx, in, ctx->rendering
                                               ? S3P_LISTING_XML_MAX
                                               : S3P_ERROR_BODY_MAX);

    if (ctx->rendering && ctx->truncated) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "s3 proxy: listing page larger than %uz bytes",
                      (size_t) S3P_LISTING_XML_MAX);
        rc = NGX_ERROR;
    }

    if (rc == NGX_AGAIN) {
        return NGX_OK;
    }

    if (rc == NGX_OK) {
        rc = ctx->rendering ? ngx_http_s3_proxy_render(r, ctx, &page)
                            : ngx_http_s3_proxy_clean(r, ctx, &page);
    }

    ctx->rendering = 0;
    ctx->cleaning = 0;
    ctx->truncated = 0;

    if (ctx->body) {
        ngx_pfree(r->pool, ctx->body);
    }

    ctx->body = NULL;
    ctx->body_len = 0;
    ctx->body_cap = 0;

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = (u_char *) page.data;
    b->last = b->pos + page.len;
    b->memory = 1;

    r->headers_out.content_length_n = page.len;

    rc = ngx_http_next_header_filter(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}


/*
 * Collects an answer of S3's that the filter replaces, consuming `in`:
 * NGX_AGAIN until its last buffer, then NGX_OK; NGX_ERROR if memory runs
 * out.  At most `max` bytes are kept, in one buffer (a smaller one
 * outgrown is freed); beyond them the answer is read but not kept, and
 * ctx->truncated says so.  This filter runs before nginx's copy filter,
 * so an answer proxy_cache writes to its temporary file, or sends from
 * the cache, comes as file buffers: they are read here, as the copy
 * filter would (from the page cache: the file was just written or read).
 */

static ngx_int_t
ngx_http_s3_proxy_collect(ngx_http_request_t *r, ngx_http_s3_proxy_ctx_t *ctx,
    ngx_chain_t *in, size_t max)
{
    u_char       *body;
    size_t        size, cap;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_uint_t    last;
    ngx_chain_t  *cl;

    last = 0;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_in_memory(b)) {
            size = b->last - b->pos;

        } else if (b->in_file) {
            size = (size_t) (b->file_last - b->file_pos);

        } else {
            size = 0;
        }

        if (size && ctx->body_len + size > max) {
            ctx->truncated = 1;
            size = max - ctx->body_len;
        }

        if (size && ctx->body_len + size > ctx->body_cap) {
            cap = ngx_max(2 * ctx->body_cap, ctx->body_len + size);
            cap = ngx_max(cap, ngx_min(16384, max));
            cap = ngx_min(cap, max);

            body = ngx_pnalloc(r->pool, cap);
            if (body == NULL) {
                return NGX_ERROR;
            }

            if (ctx->body_len) {
                ngx_memcpy(body, ctx->body, ctx->body_len);
            }

            if (ctx->body) {
                ngx_pfree(r->pool, ctx->body);
            }

            ctx->body = body;
            ctx->body_cap = cap;
        }

        if (size && ngx_buf_in_memory(b)) {
            ngx_memcpy(ctx->body + ctx->body_len, b->pos, size);

        } else if (size) {
            n = ngx_read_file(b->file, ctx->body + ctx->body_len, size,
                              b->file_pos);

            if (n != (ssize_t) size) {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "s3 proxy: reading S3's answer from \"%V\" "
                              "failed", &b->file->name);
                return NGX_ERROR;
            }
        }

        ctx->body_len += size;

        b->pos = b->last;

        if (b->in_file) {
            b->file_pos = b->file_last;
        }

        if (b->last_buf || b->last_in_chain) {
            last = 1;
        }
    }

    return last ? NGX_OK : NGX_AGAIN;
}


/*
 * S3's error document cleaned into `page`, and its code logged at the
 * level the core chose; without `page` (a HEAD: no document, so no code),
 * the status alone is logged.
 */

static ngx_int_t
ngx_http_s3_proxy_clean(ngx_http_request_t *r, ngx_http_s3_proxy_ctx_t *ctx,
    s3p_str_t *page)
{
    u_char          *out;
    ngx_uint_t       level;
    s3p_s3_error_t   err;

    out = ngx_pnalloc(r->pool, S3P_ERROR_OUT_MAX);
    if (out == NULL) {
        return NGX_ERROR;
    }

    if (s3p_s3_error((int32_t) r->headers_out.status, ctx->body,
                     ctx->body_len, out, S3P_ERROR_OUT_MAX, &err)
        != S3P_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "s3 proxy: cleaning an error of S3's failed");
        return NGX_ERROR;
    }

    level = (err.log == S3P_LOG_ERROR) ? NGX_LOG_ERR : NGX_LOG_INFO;

    ctx->s3_error = err.code;
    ngx_http_s3_proxy_status_s3(r, 0, err.counter);

    if (page == NULL) {
        ngx_log_error(level, r->connection->log, 0,
                      "s3 proxy: S3 answered %ui", r->headers_out.status);
        return NGX_OK;
    }

    ngx_log_error(level, r->connection->log, 0,
                  "s3 proxy: S3 answered %ui \"%*s\"", r->headers_out.status,
                  err.code.len, err.code.data);

    *page = err.body;

    return NGX_OK;
}


static ngx_int_t
ngx_http_s3_proxy_render(ngx_http_request_t *r, ngx_http_s3_proxy_ctx_t *ctx,
    s3p_str_t *page)
{
    int32_t  status;

    /* rendered once, into the request's pool at the page's exact size */

    if (s3p_render_listing(&ctx->result, ctx->body, ctx->body_len,
                           ngx_http_s3_proxy_page_alloc, r->pool, page,
                           &status)
        != S3P_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "s3 proxy: rendering a listing failed");
        return NGX_ERROR;
    }

    /* a prefix that holds no objects is not a folder */

    if (status == NGX_HTTP_NOT_FOUND) {
        r->headers_out.status = NGX_HTTP_NOT_FOUND;
        ngx_str_null(&r->headers_out.status_line);
    }

    return NGX_OK;
}


/* Memory for a page the core writes (s3p_alloc_t): the request's pool. */

uint8_t *
ngx_http_s3_proxy_page_alloc(void *pool, size_t size)
{
    return ngx_pnalloc(pool, size);
}
