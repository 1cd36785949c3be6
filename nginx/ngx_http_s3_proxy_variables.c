/*
 * ngx_http_s3_proxy_module: the $s3_proxy_* variables.
 *
 * The core names them and says what each is for a request (the signed
 * URL and headers of a proxied request, its bucket and key, the session
 * token, the cache key, the client's conditional headers for S3); C
 * registers them and hands the core what it knows of the request.  The
 * shipped s3_proxy.conf hands them to proxy_pass; docs/design.md says
 * how they serve proxy_cache.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_s3_proxy_module.h"


static ngx_int_t ngx_http_s3_proxy_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


/* The client's headers, in the order of s3p_conditional_t. */
static size_t  ngx_http_s3_proxy_headers[] = {
    offsetof(ngx_http_request_t, headers_in.range),
    offsetof(ngx_http_request_t, headers_in.if_range),
    offsetof(ngx_http_request_t, headers_in.if_match),
    offsetof(ngx_http_request_t, headers_in.if_none_match),
    offsetof(ngx_http_request_t, headers_in.if_modified_since),
    offsetof(ngx_http_request_t, headers_in.if_unmodified_since)
};


ngx_int_t
ngx_http_s3_proxy_add_variables(ngx_conf_t *cf)
{
    uint32_t              i, flags;
    ngx_str_t             name;
    ngx_http_variable_t  *var;

    for (i = 0; s3p_variable_name(i, (s3p_str_t *) &name, &flags); i++) {

        var = ngx_http_add_variable(cf, &name, NGX_HTTP_VAR_NOCACHEABLE
                                    | ((flags & S3P_VARIABLE_NOHASH)
                                       ? NGX_HTTP_VAR_NOHASH : 0));
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = ngx_http_s3_proxy_variable;
        var->data = i;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_s3_proxy_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_int_t                      rc;
    ngx_str_t                      value;
    ngx_uint_t                     i;
    s3p_variable_t                 in;
    ngx_table_elt_t               *h;
    ngx_http_s3_proxy_ctx_t       *ctx;
    ngx_http_s3_proxy_loc_conf_t  *slcf;
    ngx_http_variable_value_t     *nv;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_s3_proxy_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_s3_proxy_module);

    /*
     * a clone refreshing a stale cache entry in the background
     * (proxy_cache_background_update) takes its parent's answer
     */

    if (ctx == NULL && r->background && r->parent != NULL) {
        ctx = ngx_http_get_module_ctx(r->parent, ngx_http_s3_proxy_module);
        ngx_http_set_ctx(r, ctx, ngx_http_s3_proxy_module);
    }

    ngx_memzero(&in, sizeof(s3p_variable_t));

    in.index = (uint32_t) data;
    in.now = ngx_time();
    in.method.data = r->method_name.data;
    in.method.len = r->method_name.len;

    if (slcf->core != NULL) {
        in.signing = (ctx != NULL && ctx->signing != NULL)
                     ? ctx->signing : slcf->core->signing;
    }

    if (slcf->creds != NULL) {
        ngx_http_s3_proxy_credentials_source(slcf->creds,
                                             (ngx_str_t *) &in.source);
    }

    if (ctx != NULL) {
        in.result = &ctx->result;
        in.s3_error = ctx->s3_error;
        in.expiration = (ctx->expiration == NGX_MAX_TIME_T_VALUE)
                        ? S3P_NEVER : ctx->expiration;
    }

    if (r->upstream != NULL) {
        in.upstream_method.data = r->upstream->method.data;
        in.upstream_method.len = r->upstream->method.len;
        in.cacheable = r->upstream->cacheable;
    }

    for (i = 0; i < S3P_CONDITIONALS; i++) {
        h = *(ngx_table_elt_t **)
                 ((u_char *) r + ngx_http_s3_proxy_headers[i]);

        if (h != NULL) {
            in.headers[i].data = h->value.data;
            in.headers[i].len = h->value.len;
        }
    }

    rc = s3p_variable(&in, ngx_http_s3_proxy_alloc, r->pool,
                      (s3p_str_t *) &value);

    if (rc == S3P_VARIABLE_NGINX) {
        nv = ngx_http_get_variable(r, &value,
                                   ngx_hash_key(value.data, value.len));
        if (nv == NULL) {
            return NGX_ERROR;
        }

        *v = *nv;

        return NGX_OK;
    }

    if (rc != S3P_OK) {
        return NGX_ERROR;
    }

    /* empty values are not found */

    v->len = value.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = (value.len == 0);
    v->data = value.data;

    return NGX_OK;
}
