/*
 * ngx_http_s3_proxy_module: the next step of a path in place of S3's 404
 * (or 403), a header and body filter, after the module's others.
 *
 * The core names, for a proxied request, the statuses of S3's that send
 * its path to a next step (a folder's listing in place of its index
 * page, a website's folder redirect, its error document).  Such an
 * answer's header is held back and its body discarded (read whole, so
 * the connection to S3 stays open), and a subrequest for the path, which
 * the request phase signs as the next step, answers instead; its own
 * answer may lead to the step after, a subrequest of its own.  nginx
 * writes a subrequest's body through the main request but sends only the
 * main request's header: the last step's status and headers become it.
 *
 * The 404 may come as the location's error_page for 404 (with
 * proxy_intercept_errors on), after an internal redirect that cleared the
 * module's context: the context is kept in a cleanup of the request's
 * pool, as the realip module keeps its own.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_s3_proxy_module.h"


static ngx_int_t ngx_http_s3_proxy_fallback_header_filter(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_s3_proxy_fallback_body_filter(
    ngx_http_request_t *r, ngx_chain_t *in);
static ngx_int_t ngx_http_s3_proxy_fallback(ngx_http_request_t *r);
static ngx_int_t ngx_http_s3_proxy_answer(ngx_http_request_t *r);
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


/* called by the request phase for a folder's index page */

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


/* it marks the context kept, which the pool frees */

static void
ngx_http_s3_proxy_fallback_cleanup(void *data)
{
}


/*
 * The main request's context says which subrequest lists its folder:
 * that one's header is sent as the main request's too.
 */

static ngx_int_t
ngx_http_s3_proxy_fallback_header_filter(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_http_s3_proxy_ctx_t  *ctx;

    rc = ngx_http_s3_proxy_fallback(r);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_s3_proxy_module);

    if (ctx != NULL && ctx->listing_sr == r
        && ngx_http_s3_proxy_answer(r) == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    return ngx_http_next_header_filter(r);
}


/*
 * The body not sent: the 404's, or the listing's of a HEAD, whose headers
 * are the answer.  Of the 404's, the end of the response goes on: nginx
 * sends it after the listing.
 */

static ngx_int_t
ngx_http_s3_proxy_fallback_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in)
{
    ngx_buf_t                *b;
    ngx_uint_t                last;
    ngx_chain_t              *cl, out;
    ngx_http_s3_proxy_ctx_t  *ctx, *rctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_s3_proxy_module);
    rctx = ngx_http_get_module_ctx(r, ngx_http_s3_proxy_module);

    if (ctx == NULL
        || !((rctx != NULL && rctx->discarding)
             || (r != r->main && r->main->header_only
                 && ctx->listing_sr == r)))
    {
        return ngx_http_next_body_filter(r, in);
    }

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


/* whether S3's answer to `r` sends its path to the next step */

ngx_uint_t
ngx_http_s3_proxy_falls_back(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx)
{
    return !ctx->discarding
           && s3p_falls_back(&ctx->result, (int32_t) r->headers_out.status);
}


/*
 * The next step: a subrequest to the main request's URI, in its
 * location again, where the request phase finds its context set to sign
 * the step after this one for result.fallback.  This answer's header is
 * held back.  After an internal redirect (the location's own error_page),
 * the context is the one kept, and only the steps the core allows there
 * follow.
 */

static ngx_int_t
ngx_http_s3_proxy_fallback(ngx_http_request_t *r)
{
    ngx_uint_t                kept;
    ngx_pool_cleanup_t       *cln;
    ngx_http_request_t       *sr;
    ngx_http_s3_proxy_ctx_t  *ctx, *mctx, *sctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_s3_proxy_module);
    kept = 0;

    for (cln = r->pool->cleanup;
         ctx == NULL && r == r->main && r->internal && cln;
         cln = cln->next)
    {
        if (cln->handler == ngx_http_s3_proxy_fallback_cleanup) {
            ctx = cln->data;
            kept = 1;
        }
    }

    if (ctx == NULL
        || !ngx_http_s3_proxy_falls_back(r, ctx)
        || (kept && !(ctx->result.fallback_on & S3P_FALLBACK_ERROR_PAGE))
        || ctx->step == 7)                  /* the most `step` holds */
    {
        return NGX_DECLINED;
    }

    mctx = (r == r->main) ? ctx
                          : ngx_http_get_module_ctx(r->main,
                                                    ngx_http_s3_proxy_module);
    if (mctx == NULL) {
        return NGX_DECLINED;
    }

    sctx = ngx_pcalloc(r->pool, sizeof(ngx_http_s3_proxy_ctx_t));
    if (sctx == NULL) {
        return NGX_ERROR;
    }

    /* nested: its answer comes before this one's end, which is discarded */

    if (ngx_http_subrequest(r, &mctx->uri, NULL, &sr, NULL, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    sctx->listing = 1;
    sctx->step = ctx->step + 1;
    sctx->result.fallback = ctx->result.fallback;
    sctx->result.status = (int32_t) r->headers_out.status;
    ngx_http_set_ctx(sr, sctx, ngx_http_s3_proxy_module);

    mctx->listing_sr = sr;
    ctx->discarding = 1;
    ngx_http_set_ctx(r, ctx, ngx_http_s3_proxy_module);

    return NGX_OK;
}


/* the listing's status and headers, in place of the 404's, are sent */

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
    i = 0;

    while ((h = ngx_http_s3_proxy_next_header(&part, &i))) {

        if (h->hash == 0) {
            continue;
        }

        copy = ngx_list_push(&mr->headers_out.headers);
        if (copy == NULL) {
            return NGX_ERROR;
        }

        *copy = *h;
#if (nginx_version >= 1023000)
        copy->next = NULL;
#endif
    }

    return ngx_http_next_header_filter(mr);
}
