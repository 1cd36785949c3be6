/*
 * ngx_http_s3_proxy_module: the built-in folder listing, a header and body
 * filter.
 *
 * Every answer proxied from S3 loses here the x-amz-* headers the Swift
 * core hides (request ids and encryption unless s3_proxy_pass_headers
 * passes them; the object's metadata, version and checksums stay).  When
 * the Swift core marked a proxied request as a listing page to render
 * (s3_proxy_listing on: a folder without an index page), the filter
 * collects S3's ListObjectsV2 XML, has Swift render it as HTML, and sends
 * that page instead, with its own headers.  The collecting is shared with
 * the error filter (ngx_http_s3_proxy_errors.c).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_s3_proxy_module.h"


/*
 * What a listing request holds at most: S3's XML page, at most
 * S3P_LISTING_XML_MAX bytes (one buffer: a smaller one outgrown is freed),
 * then the HTML page, allocated at its exact size (the core renders at most
 * S3P_LISTING_ROWS rows, whatever the XML holds), once the XML is freed.
 */

#define NGX_HTTP_S3_PROXY_NOT_FOUND                                           \
    "<!DOCTYPE html><html><head><title>404 Not Found</title></head>"         \
    "<body><h1>404 Not Found</h1></body></html>\n"


static ngx_int_t ngx_http_s3_proxy_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_s3_proxy_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_s3_proxy_render(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx);
static uint8_t *ngx_http_s3_proxy_page_alloc(void *pool, size_t size);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


ngx_int_t
ngx_http_s3_proxy_listing_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_s3_proxy_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_s3_proxy_body_filter;

    return NGX_OK;
}


/*
 * S3's own response headers that the core hides (request ids, encryption,
 * anything not about the object) stay behind the proxy.
 */

static ngx_int_t
ngx_http_s3_proxy_header_filter(ngx_http_request_t *r)
{
    s3p_str_t                      name;
    ngx_uint_t                     i, pass;
    ngx_list_part_t               *part;
    ngx_table_elt_t               *h;
    ngx_http_s3_proxy_ctx_t       *ctx;
    ngx_http_s3_proxy_loc_conf_t  *slcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_s3_proxy_module);

    if (ctx == NULL || ctx->result.action != S3P_ACTION_PROXY) {
        return ngx_http_next_header_filter(r);
    }

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_s3_proxy_module);
    pass = slcf->pass_headers & (S3P_PASS_REQUEST_ID|S3P_PASS_SSE);

    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash == 0) {
            continue;
        }

        name.len = h[i].key.len;
        name.data = h[i].key.data;

        if (!s3p_response_header_visible(&name, (uint32_t) pass)) {
            h[i].hash = 0;
        }
    }

    if (ctx->result.render == S3P_RENDER_NONE
        || r->headers_out.status != NGX_HTTP_OK)
    {
        return ngx_http_next_header_filter(r);
    }

    /*
     * A folder listing: the page is S3's XML turned into HTML, so its
     * headers wait for the body (see the body filter).
     */

    ngx_http_clear_content_length(r);
    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);

    r->headers_out.content_type_len = sizeof("text/html") - 1;
    ngx_str_set(&r->headers_out.content_type, "text/html");
    ngx_str_set(&r->headers_out.charset, "utf-8");
    r->headers_out.content_type_lowcase = NULL;

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

    /* HEAD: S3 sends no listing to render; the headers are the answer */

    if (r->header_only || r->method == NGX_HTTP_HEAD) {
        return ngx_http_next_header_filter(r);
    }

    ctx->rendering = 1;
    r->filter_need_in_memory = 1;

    return NGX_OK;
}


/* Collects one listing page of XML, then sends the rendered HTML. */

static ngx_int_t
ngx_http_s3_proxy_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_int_t                 rc;
    ngx_http_s3_proxy_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_s3_proxy_module);

    if (ctx == NULL || !ctx->rendering) {
        return ngx_http_next_body_filter(r, in);
    }

    rc = ngx_http_s3_proxy_collect(r, ctx, in, S3P_LISTING_XML_MAX);

    if (ctx->truncated) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "s3 proxy: listing page larger than %uz bytes",
                      (size_t) S3P_LISTING_XML_MAX);
        rc = NGX_ERROR;
    }

    if (rc == NGX_AGAIN) {
        return NGX_OK;
    }

    ctx->rendering = 0;

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    return ngx_http_s3_proxy_render(r, ctx);
}


/*
 * Collects an answer of S3's that a filter replaces, consuming `in`:
 * NGX_AGAIN until its last buffer, then NGX_OK; NGX_ERROR if memory runs
 * out.  At most `max` bytes are kept, in one buffer (a smaller one
 * outgrown is freed); beyond them the answer is read but not kept, and
 * ctx->truncated says so.  This filter runs before nginx's copy filter,
 * so an answer proxy_cache writes to its temporary file, or sends from
 * the cache, comes as file buffers: they are read here, as the copy
 * filter would (from the page cache: the file was just written or read).
 */

ngx_int_t
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


/* The collected answer is no longer needed. */

void
ngx_http_s3_proxy_collected(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx)
{
    if (ctx->body) {
        ngx_pfree(r->pool, ctx->body);
        ctx->body = NULL;
    }

    ctx->body_len = 0;
    ctx->body_cap = 0;
}


static ngx_int_t
ngx_http_s3_proxy_render(ngx_http_request_t *r, ngx_http_s3_proxy_ctx_t *ctx)
{
    int32_t       status;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    s3p_str_t     page;
    ngx_chain_t   out;

    /* rendered once, into the request's pool at the page's exact size */

    rc = s3p_render_listing(&ctx->result, ctx->body, ctx->body_len,
                            ngx_http_s3_proxy_page_alloc, r->pool, &page,
                            &status);

    if (rc != S3P_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "s3 proxy: rendering a listing failed");
        return NGX_ERROR;
    }

    ngx_http_s3_proxy_collected(r, ctx);

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    /* a prefix that holds no objects is not a folder */

    if (status == NGX_HTTP_NOT_FOUND) {
        r->headers_out.status = NGX_HTTP_NOT_FOUND;
        ngx_str_null(&r->headers_out.status_line);
        ngx_str_set(&r->headers_out.content_type, "text/html");
        r->headers_out.content_type_len = sizeof("text/html") - 1;

        b->pos = (u_char *) NGX_HTTP_S3_PROXY_NOT_FOUND;
        b->last = b->pos + sizeof(NGX_HTTP_S3_PROXY_NOT_FOUND) - 1;

    } else {
        b->pos = (u_char *) page.data;
        b->last = b->pos + page.len;
    }

    b->memory = 1;

    r->headers_out.content_length_n = b->last - b->pos;

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


static uint8_t *
ngx_http_s3_proxy_page_alloc(void *pool, size_t size)
{
    return ngx_pnalloc(pool, size);
}
