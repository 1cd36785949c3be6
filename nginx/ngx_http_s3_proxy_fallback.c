/*
 * ngx_http_s3_proxy_module: a folder's listing in place of its index
 * page's 404, a header and body filter, after the module's others.
 *
 * With built-in listings, a folder is proxied as its index page.  When
 * that answers 404, its header is held back and its body discarded, and a
 * subrequest for the folder, which the request phase signs as the
 * folder's listing (ngx_http_s3_proxy_handler.c), answers instead.  nginx
 * writes a subrequest's body through the main request but sends only the
 * main request's header: the subrequest's status and headers become the
 * main request's, sent before that body.  nginx reads the 404 whole, so
 * its connection to S3 stays open for the next request.
 *
 * The 404 may come as the location's own error_page for 404, with
 * proxy_intercept_errors on, after an internal redirect that cleared the
 * module's context: the context is kept, as the realip module keeps its
 * own, in a cleanup of the request's pool.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_s3_proxy_module.h"


static ngx_int_t ngx_http_s3_proxy_fallback_header_filter(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_s3_proxy_fallback_body_filter(
    ngx_http_request_t *r, ngx_chain_t *in);
static ngx_http_s3_proxy_ctx_t *ngx_http_s3_proxy_fallback_ctx(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_s3_proxy_fallback(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx);
static ngx_uint_t ngx_http_s3_proxy_is_listing(ngx_http_request_t *r);
static ngx_int_t ngx_http_s3_proxy_answer(ngx_http_request_t *r);
static ngx_int_t ngx_http_s3_proxy_discard(ngx_http_request_t *r,
    ngx_chain_t *in);
static void ngx_http_s3_proxy_fallback_cleanup(void *data);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


ngx_int_t
ngx_http_s3_proxy_fallback_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_s3_proxy_fallback_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_s3_proxy_fallback_body_filter;

    return NGX_OK;
}


/*
 * Called by the request phase for a folder's index page: the context
 * outlives an internal redirect, and says where the folder is.
 */

ngx_int_t
ngx_http_s3_proxy_fallback_keep(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx)
{
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_s3_proxy_fallback_cleanup;
    cln->data = ctx;

    ctx->uri = r->uri;

    return NGX_OK;
}


/* it marks the context kept: the pool frees it */

static void
ngx_http_s3_proxy_fallback_cleanup(void *data)
{
}


static ngx_int_t
ngx_http_s3_proxy_fallback_header_filter(ngx_http_request_t *r)
{
    ngx_http_s3_proxy_ctx_t  *ctx;

    if (r == r->main) {

        if (r->headers_out.status == NGX_HTTP_NOT_FOUND) {
            ctx = ngx_http_s3_proxy_fallback_ctx(r);

            if (ctx != NULL && ctx->result.fallback.len
                && ctx->listing_sr == NULL)
            {
                return ngx_http_s3_proxy_fallback(r, ctx);
            }
        }

        return ngx_http_next_header_filter(r);
    }

    if (ngx_http_s3_proxy_is_listing(r)
        && ngx_http_s3_proxy_answer(r) == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_s3_proxy_fallback_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in)
{
    ngx_http_s3_proxy_ctx_t  *ctx;

    if (r == r->main) {
        ctx = ngx_http_get_module_ctx(r, ngx_http_s3_proxy_module);

        if (ctx != NULL && ctx->discarding) {
            return ngx_http_s3_proxy_discard(r, in);
        }

    } else if (r->main->header_only && ngx_http_s3_proxy_is_listing(r)) {

        /* a HEAD: the listing's headers are the answer */

        return ngx_http_s3_proxy_discard(r, in);
    }

    return ngx_http_next_body_filter(r, in);
}


/* a main request's context, or the one an internal redirect cleared */

static ngx_http_s3_proxy_ctx_t *
ngx_http_s3_proxy_fallback_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t       *cln;
    ngx_http_s3_proxy_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_s3_proxy_module);

    if (ctx != NULL || !r->internal) {
        return ctx;
    }

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_s3_proxy_fallback_cleanup) {
            return cln->data;
        }
    }

    return NULL;
}


/*
 * The subrequest goes to the folder's URI, in its location again, where
 * the request phase finds its context set to sign it as the listing of
 * result.fallback.  The 404's header is held back.
 */

static ngx_int_t
ngx_http_s3_proxy_fallback(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx)
{
    ngx_http_request_t       *sr;
    ngx_http_s3_proxy_ctx_t  *sctx;

    sctx = ngx_pcalloc(r->pool, sizeof(ngx_http_s3_proxy_ctx_t));
    if (sctx == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_subrequest(r, &ctx->uri, NULL, &sr, NULL, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    sctx->listing = 1;
    sctx->result.fallback = ctx->result.fallback;
    ngx_http_set_ctx(sr, sctx, ngx_http_s3_proxy_module);

    ctx->listing_sr = sr;
    ctx->discarding = 1;
    ngx_http_set_ctx(r, ctx, ngx_http_s3_proxy_module);

    return NGX_OK;
}


/* whether r is the subrequest that lists a folder for its main request */

static ngx_uint_t
ngx_http_s3_proxy_is_listing(ngx_http_request_t *r)
{
    ngx_http_s3_proxy_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_s3_proxy_module);

    return ctx != NULL && ctx->listing_sr == r;
}


/*
 * The listing's status and headers, in place of the 404's, as the main
 * request's, which are sent.
 */

static ngx_int_t
ngx_http_s3_proxy_answer(ngx_http_request_t *r)
{
    ngx_uint_t           i;
    ngx_list_part_t     *part;
    ngx_table_elt_t     *h, *copy;
    ngx_http_request_t  *mr;

    mr = r->main;

    ngx_memzero(&mr->headers_out, sizeof(ngx_http_headers_out_t));

    if (ngx_list_init(&mr->headers_out.headers, r->pool, 20,
                      sizeof(ngx_table_elt_t))
        != NGX_OK
        || ngx_list_init(&mr->headers_out.trailers, r->pool, 4,
                         sizeof(ngx_table_elt_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    mr->headers_out.status = r->headers_out.status;
    mr->headers_out.status_line = r->headers_out.status_line;
    mr->headers_out.content_type_len = r->headers_out.content_type_len;
    mr->headers_out.content_type = r->headers_out.content_type;
    mr->headers_out.charset = r->headers_out.charset;
    mr->headers_out.content_length_n = r->headers_out.content_length_n;
    mr->headers_out.last_modified_time = -1;

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

        copy = ngx_list_push(&mr->headers_out.headers);
        if (copy == NULL) {
            return NGX_ERROR;
        }

        *copy = h[i];
#if (nginx_version >= 1023000)
        copy->next = NULL;
#endif
    }

    return ngx_http_next_header_filter(mr);
}


/*
 * Consumes a body that is not sent.  Of the 404's, the end of the response
 * goes on: nginx sends it after the listing.
 */

static ngx_int_t
ngx_http_s3_proxy_discard(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t    *b;
    ngx_uint_t    last;
    ngx_chain_t  *cl, out;

    last = 0;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (b->last_buf) {
            last = 1;
        }

        b->pos = b->last;

        if (b->in_file) {
            b->file_pos = b->file_last;
        }
    }

    if (!last) {
        return ngx_http_next_body_filter(r, NULL);
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->last_buf = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}
