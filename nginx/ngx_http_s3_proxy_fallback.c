/*
 * ngx_http_s3_proxy_module: the next step of a path in place of S3's 404
 * or 403 (a folder's listing, a website's folder redirect, its error
 * document): a subrequest, whose status and headers become the main
 * request's; and the context kept for the location's error_page
 * (docs/design.md).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_s3_proxy_module.h"


static void ngx_http_s3_proxy_fallback_cleanup(void *data);


/* called by the request phase for a page that may fall back */

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


/* The context kept for an internal redirect of the main request, if any. */

ngx_http_s3_proxy_ctx_t *
ngx_http_s3_proxy_fallback_kept(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t  *cln;

    if (r != r->main || !r->internal) {
        return NULL;
    }

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_s3_proxy_fallback_cleanup) {
            return cln->data;
        }
    }

    return NULL;
}


/*
 * The next step: a subrequest to the main request's URI, in its location
 * again, where the request phase finds its context set to sign the step
 * after this one for result.fallback.  This answer is discarded.
 */

ngx_int_t
ngx_http_s3_proxy_fallback(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx)
{
    ngx_http_request_t       *sr;
    ngx_http_s3_proxy_ctx_t  *mctx, *sctx;

    mctx = (r == r->main) ? ctx
                          : ngx_http_get_module_ctx(r->main,
                                                    ngx_http_s3_proxy_module);

    if (mctx == NULL || ctx->step == 7) {       /* the most `step` holds */
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
    ctx->answer = S3P_BODY_NEXT_STEP;
    ngx_http_set_ctx(r, ctx, ngx_http_s3_proxy_module);

    return NGX_OK;
}


/* The last step's status and headers, in place of the main request's. */

ngx_int_t
ngx_http_s3_proxy_fallback_answer(ngx_http_request_t *r)
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

    return NGX_OK;
}
