/*
 * ngx_http_s3_proxy_module: S3's error answers to proxied requests, a
 * header and body filter.
 *
 * S3's error document carries what helps whoever holds the credentials
 * debug a request: the access key id, the string to sign and canonical
 * request (with the session token), request and host ids.  For a request
 * this module proxied, an answer of S3's with a status of 400 or more
 * keeps its status and headers (Retry-After included), and its body is
 * collected (at most S3P_ERROR_BODY_MAX bytes kept) and replaced by the
 * clean document the Swift core writes: the same Code, a fixed Message.
 * The code goes to the error log, at the level the core chooses: error
 * for the operator's problems (credentials, permissions, throttling, S3
 * failing), info for the client's (a missing key, a failed precondition).
 *
 * Answers nginx makes itself (its own error pages, an operator's
 * error_page with proxy_intercept_errors, which replaces S3's answer
 * before any filter sees it) pass untouched.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_s3_proxy_module.h"


static ngx_int_t ngx_http_s3_proxy_errors_header_filter(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_s3_proxy_errors_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_s3_proxy_errors_send(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx);
static void ngx_http_s3_proxy_errors_log(ngx_http_request_t *r,
    s3p_s3_error_t *err);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


ngx_int_t
ngx_http_s3_proxy_errors_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_s3_proxy_errors_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_s3_proxy_errors_body_filter;

    return NGX_OK;
}


static ngx_int_t
ngx_http_s3_proxy_errors_header_filter(ngx_http_request_t *r)
{
    u_char                    out[S3P_ERROR_OUT_MAX];
    ngx_http_upstream_t      *u;
    s3p_s3_error_t            err;
    ngx_http_s3_proxy_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_s3_proxy_module);
    u = r->upstream;

    /*
     * S3's own answer: its status, not one nginx or a filter set; a
     * folder's 404 that its listing replaces is discarded as it is
     * (ngx_http_s3_proxy_fallback.c)
     */

    if (ctx == NULL
        || ctx->result.action != S3P_ACTION_PROXY
        || r->headers_out.status < NGX_HTTP_BAD_REQUEST
        || u == NULL
        || u->headers_in.status_n != r->headers_out.status
        || r->err_status
        || (r == r->main && ctx->result.fallback.len
            && r->headers_out.status == NGX_HTTP_NOT_FOUND))
    {
        return ngx_http_next_header_filter(r);
    }

    if (r->header_only || r->method == NGX_HTTP_HEAD) {

        /* a HEAD: no document, so no code; the status alone is logged */

        if (s3p_s3_error((int32_t) r->headers_out.status, NULL, 0, out,
                         sizeof(out), &err)
            == S3P_OK)
        {
            err.code.len = 0;
            ngx_http_s3_proxy_errors_log(r, &err);
        }

        return ngx_http_next_header_filter(r);
    }

    /* the document is replaced: its headers wait for the body */

    ngx_http_clear_content_length(r);
    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);

    if (r->headers_out.content_encoding) {
        r->headers_out.content_encoding->hash = 0;
        r->headers_out.content_encoding = NULL;
    }

    r->headers_out.content_type_len = sizeof("application/xml") - 1;
    ngx_str_set(&r->headers_out.content_type, "application/xml");
    r->headers_out.content_type_lowcase = NULL;
    ngx_str_null(&r->headers_out.charset);

    ctx->cleaning = 1;
    ctx->truncated = 0;
    r->filter_need_in_memory = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_s3_proxy_errors_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_int_t                 rc;
    ngx_http_s3_proxy_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_s3_proxy_module);

    if (ctx == NULL || !ctx->cleaning) {
        return ngx_http_next_body_filter(r, in);
    }

    /* beyond S3P_ERROR_BODY_MAX, S3's document is read, not kept */

    rc = ngx_http_s3_proxy_collect(r, ctx, in, S3P_ERROR_BODY_MAX);

    if (rc == NGX_AGAIN) {
        return NGX_OK;
    }

    ctx->cleaning = 0;

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    return ngx_http_s3_proxy_errors_send(r, ctx);
}


static ngx_int_t
ngx_http_s3_proxy_errors_send(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx)
{
    ngx_int_t        rc;
    ngx_buf_t       *b;
    ngx_chain_t      out;
    s3p_s3_error_t   err;

    b = ngx_create_temp_buf(r->pool, S3P_ERROR_OUT_MAX);
    if (b == NULL) {
        return NGX_ERROR;
    }

    rc = s3p_s3_error((int32_t) r->headers_out.status, ctx->body,
                      ctx->body_len, b->pos, S3P_ERROR_OUT_MAX, &err);

    ngx_http_s3_proxy_collected(r, ctx);

    if (rc != S3P_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "s3 proxy: cleaning an error of S3's failed");
        return NGX_ERROR;
    }

    ngx_http_s3_proxy_errors_log(r, &err);

    b->pos = (u_char *) err.body.data;
    b->last = b->pos + err.body.len;

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


static void
ngx_http_s3_proxy_errors_log(ngx_http_request_t *r, s3p_s3_error_t *err)
{
    ngx_uint_t  level;

    level = (err->log == S3P_LOG_ERROR) ? NGX_LOG_ERR : NGX_LOG_INFO;

    if (err->code.len == 0) {
        ngx_log_error(level, r->connection->log, 0,
                      "s3 proxy: S3 answered %ui", r->headers_out.status);
        return;
    }

    ngx_log_error(level, r->connection->log, 0,
                  "s3 proxy: S3 answered %ui \"%*s\"", r->headers_out.status,
                  err->code.len, err->code.data);
}
