/*
 * ngx_http_s3_proxy_module: the $s3_proxy_* variables.
 *
 * What the Swift core answered for a proxied request (the signed URL and
 * headers, its host, the bucket and key) and what the configuration fixes
 * (the session token).  The shipped s3_proxy.conf hands them to
 * proxy_pass.  With proxy_cache, the key is $s3_proxy_cache_key and the
 * client's range and conditional headers stay with nginx, which answers
 * them from the cached object.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_s3_proxy_module.h"


enum {
    ngx_http_s3_proxy_var_url = 0,
    ngx_http_s3_proxy_var_authorization,
    ngx_http_s3_proxy_var_date,
    ngx_http_s3_proxy_var_bucket,
    ngx_http_s3_proxy_var_key,
    ngx_http_s3_proxy_var_host
};


enum {
    ngx_http_s3_proxy_var_content_sha256 = 0,
    ngx_http_s3_proxy_var_security_token
};


static void ngx_http_s3_proxy_set_variable(ngx_http_variable_value_t *v,
    const uint8_t *data, size_t len);
static ngx_uint_t ngx_http_s3_proxy_upstream_get(ngx_http_request_t *r);
static ngx_int_t ngx_http_s3_proxy_cache_key_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_s3_proxy_client_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_s3_proxy_result_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_s3_proxy_action_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_s3_proxy_conf_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_http_s3_proxy_vars[] = {

    { ngx_string("s3_proxy_url"), NULL,
      ngx_http_s3_proxy_result_variable, ngx_http_s3_proxy_var_url,
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_NOHASH, 0 },

    { ngx_string("s3_proxy_authorization"), NULL,
      ngx_http_s3_proxy_result_variable, ngx_http_s3_proxy_var_authorization,
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_NOHASH, 0 },

    { ngx_string("s3_proxy_date"), NULL,
      ngx_http_s3_proxy_result_variable, ngx_http_s3_proxy_var_date,
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_NOHASH, 0 },

    { ngx_string("s3_proxy_bucket"), NULL,
      ngx_http_s3_proxy_result_variable, ngx_http_s3_proxy_var_bucket,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("s3_proxy_key"), NULL,
      ngx_http_s3_proxy_result_variable, ngx_http_s3_proxy_var_key,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("s3_proxy_action"), NULL,
      ngx_http_s3_proxy_action_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("s3_proxy_host"), NULL,
      ngx_http_s3_proxy_result_variable, ngx_http_s3_proxy_var_host,
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_NOHASH, 0 },

    { ngx_string("s3_proxy_content_sha256"), NULL,
      ngx_http_s3_proxy_conf_variable, ngx_http_s3_proxy_var_content_sha256,
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_NOHASH, 0 },

    { ngx_string("s3_proxy_security_token"), NULL,
      ngx_http_s3_proxy_conf_variable, ngx_http_s3_proxy_var_security_token,
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_NOHASH, 0 },

    { ngx_string("s3_proxy_cache_key"), NULL,
      ngx_http_s3_proxy_cache_key_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("s3_proxy_range"), NULL,
      ngx_http_s3_proxy_client_variable,
      offsetof(ngx_http_request_t, headers_in.range),
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_NOHASH, 0 },

    { ngx_string("s3_proxy_if_range"), NULL,
      ngx_http_s3_proxy_client_variable,
      offsetof(ngx_http_request_t, headers_in.if_range),
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_NOHASH, 0 },

    { ngx_string("s3_proxy_if_match"), NULL,
      ngx_http_s3_proxy_client_variable,
      offsetof(ngx_http_request_t, headers_in.if_match),
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_NOHASH, 0 },

    { ngx_string("s3_proxy_if_none_match"), NULL,
      ngx_http_s3_proxy_client_variable,
      offsetof(ngx_http_request_t, headers_in.if_none_match),
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_NOHASH, 0 },

    { ngx_string("s3_proxy_if_modified_since"), NULL,
      ngx_http_s3_proxy_client_variable,
      offsetof(ngx_http_request_t, headers_in.if_modified_since),
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_NOHASH, 0 },

    { ngx_string("s3_proxy_if_unmodified_since"), NULL,
      ngx_http_s3_proxy_client_variable,
      offsetof(ngx_http_request_t, headers_in.if_unmodified_since),
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_NOHASH, 0 },

      ngx_http_null_variable
};


/* SHA-256 of the empty payload of a GET or HEAD. */
static ngx_str_t  ngx_http_s3_proxy_empty_sha256 =
    ngx_string(S3P_EMPTY_PAYLOAD_SHA256);


ngx_int_t
ngx_http_s3_proxy_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_s3_proxy_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static void
ngx_http_s3_proxy_set_variable(ngx_http_variable_value_t *v,
    const uint8_t *data, size_t len)
{
    if (len == 0) {
        v->not_found = 1;
        return;
    }

    v->len = len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = (u_char *) data;
}


static ngx_int_t
ngx_http_s3_proxy_result_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    const s3p_str_t           *s;
    ngx_http_s3_proxy_ctx_t   *ctx;

    ctx = ngx_http_s3_proxy_get_ctx(r);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {

    case ngx_http_s3_proxy_var_url:
        s = &ctx->result.url;
        break;

    case ngx_http_s3_proxy_var_authorization:
        s = ngx_http_s3_proxy_upstream_get(r) && ctx->get_authorization.len
            ? &ctx->get_authorization : &ctx->result.authorization;
        break;

    case ngx_http_s3_proxy_var_date:
        s = &ctx->result.amz_date;
        break;

    case ngx_http_s3_proxy_var_bucket:
        s = &ctx->result.bucket;
        break;

    case ngx_http_s3_proxy_var_key:
        s = &ctx->result.key;
        break;

    default: /* ngx_http_s3_proxy_var_host */
        s = &ctx->result.host;
        break;
    }

    /* the URL and signed headers exist for proxied requests only */

    if (data != ngx_http_s3_proxy_var_bucket
        && data != ngx_http_s3_proxy_var_key
        && ctx->result.action != S3P_ACTION_PROXY)
    {
        v->not_found = 1;
        return NGX_OK;
    }

    ngx_http_s3_proxy_set_variable(v, s->data, s->len);

    return NGX_OK;
}


static ngx_int_t
ngx_http_s3_proxy_action_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                 action;
    ngx_http_s3_proxy_ctx_t  *ctx;

    ctx = ngx_http_s3_proxy_get_ctx(r);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (ctx->result.action) {

    case S3P_ACTION_REDIRECT:
        ngx_str_set(&action, "redirect");
        break;

    case S3P_ACTION_PROXY:
        ngx_str_set(&action, "proxy");
        break;

    default:
        ngx_str_set(&action, "refuse");
        break;
    }

    ngx_http_s3_proxy_set_variable(v, action.data, action.len);

    return NGX_OK;
}


static ngx_int_t
ngx_http_s3_proxy_conf_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    const s3p_str_t               *s;
    ngx_http_s3_proxy_ctx_t       *ctx;
    ngx_http_s3_proxy_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_s3_proxy_module);

    if (slcf->core == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {

    case ngx_http_s3_proxy_var_content_sha256:
        ngx_http_s3_proxy_set_variable(v, ngx_http_s3_proxy_empty_sha256.data,
                                       ngx_http_s3_proxy_empty_sha256.len);
        return NGX_OK;

    default: /* ngx_http_s3_proxy_var_security_token */

        /* the request's own: a provider's credentials rotate */

        ctx = ngx_http_s3_proxy_get_ctx(r);

        s = (ctx != NULL && ctx->signing != NULL)
            ? &ctx->signing->session_token
            : &slcf->core->signing->session_token;
        break;
    }

    ngx_http_s3_proxy_set_variable(v, s->data, s->len);

    return NGX_OK;
}


/*
 * Whether proxy_cache turned this HEAD into a GET for S3
 * (proxy_cache_convert_head): ngx_http_upstream_cache() sets u->method,
 * which nothing else sets, before proxy_pass builds the request.
 */

static ngx_uint_t
ngx_http_s3_proxy_upstream_get(ngx_http_request_t *r)
{
    return r->upstream != NULL
           && r->upstream->method.len == sizeof("GET") - 1
           && ngx_strncmp(r->upstream->method.data, "GET",
                          sizeof("GET") - 1)
              == 0;
}


/*
 * $s3_proxy_cache_key: the method S3 is asked with and the canonical S3
 * URL ("GET https://host/bucket/key?query"), for proxy_cache_key.  Two
 * requests for the same S3 answer share it however the client spelled
 * them; it holds no signature, date or client header.  proxy_cache
 * evaluates it after turning a HEAD into a GET, so a HEAD and a GET share
 * the cached GET.
 */

static ngx_int_t
ngx_http_s3_proxy_cache_key_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                   *p;
    ngx_str_t                 method;
    ngx_http_s3_proxy_ctx_t  *ctx;

    ctx = ngx_http_s3_proxy_get_ctx(r);

    if (ctx == NULL || ctx->result.action != S3P_ACTION_PROXY) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (ngx_http_s3_proxy_upstream_get(r)) {
        ngx_str_set(&method, "GET");

    } else {
        method = r->method_name;
    }

    p = ngx_pnalloc(r->pool, method.len + 1 + ctx->result.url.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;
    p = ngx_cpymem(p, method.data, method.len);
    *p++ = ' ';
    p = ngx_cpymem(p, ctx->result.url.data, ctx->result.url.len);

    v->len = p - v->data;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/*
 * $s3_proxy_range, $s3_proxy_if_match and the other range and conditional
 * headers of the client, for S3.  A request that proxy_cache may store
 * fetches the whole object instead (a partial or 304 answer would be
 * cached for everyone), and nginx answers the client's range and
 * conditionals from it; as proxy_cache does by default, its revalidation
 * (proxy_cache_revalidate) still sends the cached Last-Modified and ETag.
 */

static ngx_int_t
ngx_http_s3_proxy_client_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                   name;
    ngx_table_elt_t            *h;
    ngx_http_variable_value_t  *cached;

    if (r->upstream == NULL || !r->upstream->cacheable) {
        h = *(ngx_table_elt_t **) ((char *) r + data);

        if (h == NULL) {
            v->not_found = 1;
            return NGX_OK;
        }

        ngx_http_s3_proxy_set_variable(v, h->value.data, h->value.len);
        return NGX_OK;
    }

    if (data == offsetof(ngx_http_request_t, headers_in.if_modified_since)) {
        ngx_str_set(&name, "upstream_cache_last_modified");

    } else if (data == offsetof(ngx_http_request_t, headers_in.if_none_match))
    {
        ngx_str_set(&name, "upstream_cache_etag");

    } else {
        v->not_found = 1;
        return NGX_OK;
    }

    cached = ngx_http_get_variable(r, &name, ngx_hash_key(name.data,
                                                          name.len));
    if (cached == NULL) {
        return NGX_ERROR;
    }

    *v = *cached;

    return NGX_OK;
}
