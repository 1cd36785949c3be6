/*
 * ngx_http_s3_proxy_module: answers to proxied requests, a header and body
 * filter.  The core plans each one (s3p_answer_plan()): which of S3's
 * headers the client sees, its type, status and headers, and whether its
 * body is sent, collected and replaced (S3's errors cleaned, listings
 * rendered), discarded, or replaced by the next step's answer: a
 * subrequest, whose status and headers become the main request's.
 * docs/design.md says why.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_s3_proxy_module.h"


static ngx_int_t ngx_http_s3_proxy_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_s3_proxy_send_header(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx, ngx_uint_t next);
static ngx_http_s3_proxy_ctx_t *ngx_http_s3_proxy_kept(ngx_http_request_t *r);
static ngx_int_t ngx_http_s3_proxy_copy_header(ngx_http_request_t *r);
static ngx_int_t ngx_http_s3_proxy_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_s3_proxy_collect(ngx_http_request_t *r,
    ngx_http_s3_proxy_body_t *body, ngx_chain_t *in);
static ngx_int_t ngx_http_s3_proxy_replace(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx, s3p_body_t how, s3p_str_t *page);


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
    int32_t                        s3;
    uint32_t                       flags;
    s3p_str_t                      page;
    ngx_uint_t                     i, next;
    s3p_answer_t                   plan;
    s3p_header_t                  *add;
    ngx_list_part_t               *part;
    ngx_table_elt_t               *h;
    ngx_http_s3_proxy_ctx_t       *ctx;
    ngx_http_core_loc_conf_t      *clcf;
    ngx_http_s3_proxy_loc_conf_t  *slcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_s3_proxy_module);
    slcf = ngx_http_get_module_loc_conf(r, ngx_http_s3_proxy_module);
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    /*
     * An answer the module never decided, no error page of nginx's nor
     * its redirect of "/eu" to the location "/eu/": the location's
     * "return" or "rewrite" answered first.
     */

    if (ctx == NULL && r == r->main && slcf->core != NULL
        && r->err_status < NGX_HTTP_BAD_REQUEST
        && !(r->err_status && r->uri.len + 1 == clcf->name.len))
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "s3 proxy: location \"%V\" answered %ui before the "
                      "module decided: its \"return\" or \"rewrite\" "
                      "answers first", &clcf->name, r->headers_out.status);
    }

    /* after the location's error_page for S3's 404: the steps allowed */

    if (ctx == NULL) {
        ctx = ngx_http_s3_proxy_kept(r);
        next = (ctx != NULL
                && s3p_falls_back(&ctx->result,
                                  (int32_t) r->headers_out.status, 1));

        return ngx_http_s3_proxy_send_header(r, ctx, next);
    }

    if (ctx->result.action != S3P_ACTION_PROXY) {
        return ngx_http_s3_proxy_send_header(r, ctx, 0);
    }

    s3 = r->upstream ? (int32_t) r->upstream->headers_in.status_n : 0;

    /* S3's own answer, not one proxy_cache kept (for s3_proxy_status) */

    if (s3 && !r->cached) {
        ngx_http_s3_proxy_status_count(r, NULL, s3, 0);
    }

    flags = slcf->raw.pass_headers & (S3P_PASS_REQUEST_ID|S3P_PASS_SSE);
    flags |= (r->headers_in.range ? S3P_ANSWER_RANGE : 0)
             | (r->err_status ? S3P_ANSWER_NGINX : 0)
             | (ctx->answer >= S3P_BODY_DISCARD ? S3P_ANSWER_DISCARDING : 0)
             | (r->header_only || r->method == NGX_HTTP_HEAD
                ? 0 : S3P_ANSWER_BODY);

    s3p_answer_plan(&ctx->result, (int32_t) r->headers_out.status, s3, flags,
                    &plan);

    part = &r->headers_out.headers.part;
    i = 0;

    while ((h = ngx_http_s3_proxy_next_header(&part, &i))) {
        if (h->hash
            && !s3p_response_header_visible((s3p_str_t *) &h->key, plan.pass))
        {
            h->hash = 0;

            /* nginx's header filter writes a Location of its own */

            if (h == r->headers_out.location) {
                r->headers_out.location = NULL;
            }
        }
    }

    if (plan.replace) {
        ngx_http_clear_content_length(r);
        ngx_http_clear_accept_ranges(r);
        ngx_http_clear_last_modified(r);
        ngx_http_clear_etag(r);

        if (r->headers_out.content_encoding) {
            r->headers_out.content_encoding->hash = 0;
            r->headers_out.content_encoding = NULL;
        }

        r->filter_need_in_memory = 1;
    }

    if (plan.type) {
        r->headers_out.content_type.data = (u_char *) plan.content_type.data;
        r->headers_out.content_type.len = plan.content_type.len;
        r->headers_out.content_type_len = plan.content_type.len;
        r->headers_out.content_type_lowcase = NULL;
        r->headers_out.charset.data = (u_char *) plan.charset.data;
        r->headers_out.charset.len = plan.charset.len;
    }

    if (plan.status) {
        r->headers_out.status = plan.status;
        ngx_str_null(&r->headers_out.status_line);
    }

    for (add = plan.headers; add < plan.headers + plan.nheaders; add++) {
        if (ngx_http_s3_proxy_add_header(r, add->name,
                                         (u_char *) add->value.data,
                                         add->value.len)
            == NULL)
        {
            return NGX_ERROR;
        }
    }

    if (plan.body == S3P_BODY_CLEAN || plan.body == S3P_BODY_RENDER) {

        /* the header waits for the body that replaces S3's */

        ctx->answer = plan.body;
        ctx->body.max = (plan.body == S3P_BODY_RENDER) ? S3P_LISTING_XML_MAX
                                                       : S3P_ERROR_BODY_MAX;
        return NGX_OK;
    }

    if (plan.body == S3P_BODY_LOG
        && ngx_http_s3_proxy_replace(r, ctx, plan.body, &page) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (plan.body == S3P_BODY_DISCARD) {
        ctx->answer = plan.body;
        r->headers_out.content_length_n = 0;
    }

    return ngx_http_s3_proxy_send_header(r, ctx,
                                         plan.body == S3P_BODY_NEXT_STEP);
}


/*
 * The header sent on; or, `next`, the next step answers instead: a nested
 * subrequest to the main request's URI, in its location again, where the
 * request phase signs the step after this one for result.fallback (at
 * most 7 steps, as `step` holds), and this answer is discarded.  The last
 * step's header becomes the main request's, whose own was held back.
 */

static ngx_int_t
ngx_http_s3_proxy_send_header(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx, ngx_uint_t next)
{
    ngx_http_request_t       *sr;
    ngx_http_s3_proxy_ctx_t  *mctx, *sctx;

    mctx = (r == r->main) ? ctx
                          : ngx_http_get_module_ctx(r->main,
                                                    ngx_http_s3_proxy_module);

    if (next && mctx != NULL && ctx->step < 7) {
        sctx = ngx_pcalloc(r->pool, sizeof(ngx_http_s3_proxy_ctx_t));

        if (sctx == NULL
            || ngx_http_subrequest(r, &mctx->uri, NULL, &sr, NULL, 0)
               != NGX_OK)
        {
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

    if (mctx != NULL && mctx->listing_sr == r
        && (ngx_http_s3_proxy_copy_header(r) != NGX_OK
            || ngx_http_next_header_filter(r->main) == NGX_ERROR))
    {
        return NGX_ERROR;
    }

    return ngx_http_next_header_filter(r);
}


/*
 * The context kept for an internal redirect of the main request (the
 * location's error_page), as the realip module keeps its own.
 */

static ngx_http_s3_proxy_ctx_t *
ngx_http_s3_proxy_kept(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t  *cln;

    for (cln = r->pool->cleanup; cln && r == r->main && r->internal;
         cln = cln->next)
    {
        if (cln->handler == ngx_http_s3_proxy_keep) {
            return cln->data;
        }
    }

    return NULL;
}


/* The last step's status and headers, in place of the main request's. */

static ngx_int_t
ngx_http_s3_proxy_copy_header(ngx_http_request_t *r)
{
    ngx_uint_t               i;
    ngx_list_part_t         *part;
    ngx_table_elt_t         *h, *copy;
    ngx_http_headers_out_t  *out;

    out = &r->main->headers_out;

    ngx_memzero(out, sizeof(ngx_http_headers_out_t));

    if (ngx_list_init(&out->headers, r->pool, 20, sizeof(ngx_table_elt_t))
        != NGX_OK
        || ngx_list_init(&out->trailers, r->pool, 4, sizeof(ngx_table_elt_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    out->status = r->headers_out.status;
    out->status_line = r->headers_out.status_line;
    out->content_type_len = r->headers_out.content_type_len;
    out->content_type = r->headers_out.content_type;
    out->charset = r->headers_out.charset;
    out->content_length_n = r->headers_out.content_length_n;
    out->last_modified_time = -1;

    part = &r->headers_out.headers.part;
    i = 0;

    while ((h = ngx_http_s3_proxy_next_header(&part, &i))) {
        if (h->hash == 0) {
            continue;
        }

        copy = ngx_list_push(&out->headers);
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


/*
 * The body: sent on, or collected and replaced, or discarded (the main
 * request's end goes on: nginx sends it after the next step's answer).
 * The last step's is not sent for a HEAD.
 */

static ngx_int_t
ngx_http_s3_proxy_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_int_t                  rc;
    ngx_buf_t                 *b;
    s3p_str_t                  page;
    ngx_uint_t                 replace, discard, next;
    ngx_chain_t                out;
    ngx_http_s3_proxy_ctx_t   *ctx, *mctx;
    ngx_http_s3_proxy_body_t   none;

    ctx = ngx_http_get_module_ctx(r, ngx_http_s3_proxy_module);
    mctx = ngx_http_get_module_ctx(r->main, ngx_http_s3_proxy_module);

    replace = (ctx != NULL && (ctx->answer == S3P_BODY_CLEAN
                               || ctx->answer == S3P_BODY_RENDER));
    discard = (mctx != NULL
               && ((ctx != NULL && ctx->answer >= S3P_BODY_DISCARD)
                   || (r != r->main && r->main->header_only
                       && mctx->listing_sr == r)));

    if (!replace && !discard) {
        return ngx_http_next_body_filter(r, in);
    }

    ngx_memzero(&none, sizeof(ngx_http_s3_proxy_body_t));

    rc = ngx_http_s3_proxy_collect(r, replace ? &ctx->body : &none, in);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_AGAIN) {
        return replace ? NGX_OK : ngx_http_next_body_filter(r, NULL);
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    if (replace) {
        rc = ngx_http_s3_proxy_replace(r, ctx, ctx->answer, &page);

        ctx->answer = S3P_BODY_AS_IS;

        if (ctx->body.data) {
            ngx_pfree(r->pool, ctx->body.data);
        }

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }

        /* a listing's 404 (no folder there) may lead to the next step */

        r->headers_out.content_length_n = page.len;

        next = s3p_falls_back(&ctx->result, (int32_t) r->headers_out.status,
                              0);
        rc = ngx_http_s3_proxy_send_header(r, ctx, next);

        if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
            return rc;
        }

        discard = discard || ctx->answer == S3P_BODY_NEXT_STEP;

        if (!discard) {
            b->pos = (u_char *) page.data;
            b->last = b->pos + page.len;
            b->memory = 1;
        }
    }

    if (discard && r != r->main) {
        return ngx_http_next_body_filter(r, NULL);
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}


/*
 * Collects an answer, consuming `in`: NGX_AGAIN until its last buffer,
 * then NGX_OK; NGX_ERROR if memory runs out.  At most body->max bytes are
 * kept, in one buffer (a smaller one outgrown is freed); beyond them the
 * answer is read, not kept, and body->truncated says so.  File buffers
 * (proxy_cache's) are read as nginx's copy filter would.
 */

static ngx_int_t
ngx_http_s3_proxy_collect(ngx_http_request_t *r,
    ngx_http_s3_proxy_body_t *body, ngx_chain_t *in)
{
    u_char       *p;
    size_t        size, cap;
    ngx_buf_t    *b;
    ngx_uint_t    last;
    ngx_chain_t  *cl;

    last = 0;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;
        size = ngx_min((size_t) ngx_buf_size(b), body->max - body->len);
        body->truncated |= (size < (size_t) ngx_buf_size(b));

        if (body->len + size > body->cap) {
            cap = ngx_max(ngx_max(2 * body->cap, body->len + size), 16384);
            cap = ngx_min(cap, body->max);

            p = ngx_pnalloc(r->pool, cap);
            if (p == NULL) {
                return NGX_ERROR;
            }

            if (body->data) {
                ngx_memcpy(p, body->data, body->len);
                ngx_pfree(r->pool, body->data);
            }

            body->data = p;
            body->cap = cap;
        }

        if (size && ngx_buf_in_memory(b)) {
            ngx_memcpy(body->data + body->len, b->pos, size);

        } else if (size
                   && ngx_read_file(b->file, body->data + body->len, size,
                                    b->file_pos)
                      != (ssize_t) size)
        {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "s3 proxy: reading S3's answer from \"%V\" failed",
                          &b->file->name);
            return NGX_ERROR;
        }

        body->len += size;
        b->pos = b->last;
        b->file_pos = b->file_last;
        last |= (b->last_buf || b->last_in_chain);
    }

    return last ? NGX_OK : NGX_AGAIN;
}


/*
 * What replaces S3's body (`how`, the plan's), written by the core, which
 * words the log line and chooses its level: S3's error document cleaned,
 * whose code is counted, or, for a HEAD, only its status logged; a
 * listing's page, rendered once into the request's pool at its exact size
 * (404 when no folder is there).
 */

static ngx_int_t
ngx_http_s3_proxy_replace(ngx_http_request_t *r, ngx_http_s3_proxy_ctx_t *ctx,
    s3p_body_t how, s3p_str_t *page)
{
    ngx_int_t          rc;
    ngx_uint_t         level;
    s3p_replacement_t  rp;

    rc = s3p_answer_body(&ctx->result, how, (int32_t) r->headers_out.status,
                         ctx->body.data, ctx->body.len, ctx->body.truncated,
                         ngx_http_s3_proxy_alloc, r->pool, &rp);

    level = (rp.log == S3P_LOG_ERROR) ? NGX_LOG_ERR : NGX_LOG_INFO;

    if (rp.message.len) {
        ngx_log_error(level, r->connection->log, 0, "s3 proxy: %*s",
                      rp.message.len, rp.message.data);
    }

    if (rp.code.len) {
        ctx->s3_error = rp.code;
        ngx_http_s3_proxy_status_count(r, NULL, 0, rp.counter);
    }

    if (rp.status) {
        r->headers_out.status = rp.status;
        ngx_str_null(&r->headers_out.status_line);
    }

    *page = rp.page;

    return (rc == S3P_OK) ? NGX_OK : NGX_ERROR;
}
