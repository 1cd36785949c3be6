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


/* What a variable reads; `offset` is into the request's context. */
typedef enum {
    ngx_http_s3_proxy_var_signed = 0,   /* of a proxied request only */
    ngx_http_s3_proxy_var_routed,       /* of any request routed */
    ngx_http_s3_proxy_var_authorization,
    ngx_http_s3_proxy_var_action,
    ngx_http_s3_proxy_var_content_sha256,
    ngx_http_s3_proxy_var_security_token,
    ngx_http_s3_proxy_var_cache_key,
    ngx_http_s3_proxy_var_source,
    ngx_http_s3_proxy_var_expires,
    ngx_http_s3_proxy_var_request_id,
    ngx_http_s3_proxy_var_client        /* `offset` into the request */
} ngx_http_s3_proxy_var_e;


typedef struct {
    ngx_str_t                  name;
    ngx_http_s3_proxy_var_e    kind;
    size_t                     offset;
} ngx_http_s3_proxy_var_t;


static ngx_int_t ngx_http_s3_proxy_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_s3_proxy_client_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, size_t offset);
static ngx_uint_t ngx_http_s3_proxy_upstream_get(ngx_http_request_t *r);
static ngx_int_t ngx_http_s3_proxy_log_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, ngx_uint_t kind,
    ngx_http_s3_proxy_ctx_t *ctx, ngx_http_s3_proxy_loc_conf_t *slcf);
static ngx_int_t ngx_http_s3_proxy_value(ngx_http_variable_value_t *v,
    const u_char *data, size_t len);


#define ngx_http_s3_proxy_result(field)                                       \
    offsetof(ngx_http_s3_proxy_ctx_t, result.field)
#define ngx_http_s3_proxy_header_in(field)                                    \
    offsetof(ngx_http_request_t, headers_in.field)


static ngx_http_s3_proxy_var_t  ngx_http_s3_proxy_vars[] = {

    { ngx_string("s3_proxy_url"), ngx_http_s3_proxy_var_signed,
      ngx_http_s3_proxy_result(url) },
    { ngx_string("s3_proxy_authorization"),
      ngx_http_s3_proxy_var_authorization, 0 },
    { ngx_string("s3_proxy_date"), ngx_http_s3_proxy_var_signed,
      ngx_http_s3_proxy_result(amz_date) },
    { ngx_string("s3_proxy_host"), ngx_http_s3_proxy_var_signed,
      ngx_http_s3_proxy_result(host) },
    { ngx_string("s3_proxy_checksum_mode"), ngx_http_s3_proxy_var_signed,
      ngx_http_s3_proxy_result(checksum_mode) },
    { ngx_string("s3_proxy_bucket"), ngx_http_s3_proxy_var_routed,
      ngx_http_s3_proxy_result(bucket) },
    { ngx_string("s3_proxy_key"), ngx_http_s3_proxy_var_routed,
      ngx_http_s3_proxy_result(key) },
    { ngx_string("s3_proxy_prefix"), ngx_http_s3_proxy_var_routed,
      ngx_http_s3_proxy_result(prefix) },
    { ngx_string("s3_proxy_action"), ngx_http_s3_proxy_var_action, 0 },
    { ngx_string("s3_proxy_content_sha256"),
      ngx_http_s3_proxy_var_content_sha256, 0 },
    { ngx_string("s3_proxy_security_token"),
      ngx_http_s3_proxy_var_security_token, 0 },
    { ngx_string("s3_proxy_cache_key"), ngx_http_s3_proxy_var_cache_key, 0 },
    { ngx_string("s3_proxy_credentials_source"), ngx_http_s3_proxy_var_source,
      0 },
    { ngx_string("s3_proxy_credentials_expires"),
      ngx_http_s3_proxy_var_expires, 0 },
    { ngx_string("s3_proxy_s3_error"), ngx_http_s3_proxy_var_routed,
      offsetof(ngx_http_s3_proxy_ctx_t, s3_error) },
    { ngx_string("s3_proxy_request_id"), ngx_http_s3_proxy_var_request_id,
      0 },
    { ngx_string("s3_proxy_range"), ngx_http_s3_proxy_var_client,
      ngx_http_s3_proxy_header_in(range) },
    { ngx_string("s3_proxy_if_range"), ngx_http_s3_proxy_var_client,
      ngx_http_s3_proxy_header_in(if_range) },
    { ngx_string("s3_proxy_if_match"), ngx_http_s3_proxy_var_client,
      ngx_http_s3_proxy_header_in(if_match) },
    { ngx_string("s3_proxy_if_none_match"), ngx_http_s3_proxy_var_client,
      ngx_http_s3_proxy_header_in(if_none_match) },
    { ngx_string("s3_proxy_if_modified_since"), ngx_http_s3_proxy_var_client,
      ngx_http_s3_proxy_header_in(if_modified_since) },
    { ngx_string("s3_proxy_if_unmodified_since"),
      ngx_http_s3_proxy_var_client,
      ngx_http_s3_proxy_header_in(if_unmodified_since) },

    { ngx_null_string, 0, 0 }
};


/* $s3_proxy_action, by s3p_action_t */
static ngx_str_t  ngx_http_s3_proxy_actions[] = {
    ngx_string("refuse"),
    ngx_string("redirect"),
    ngx_string("proxy")
};


/* SHA-256 of the empty payload of a GET or HEAD. */
static ngx_str_t  ngx_http_s3_proxy_empty_sha256 =
    ngx_string(S3P_EMPTY_PAYLOAD_SHA256);


ngx_int_t
ngx_http_s3_proxy_add_variables(ngx_conf_t *cf)
{
    ngx_uint_t                flags;
    ngx_http_variable_t      *var;
    ngx_http_s3_proxy_var_t  *v;

    for (v = ngx_http_s3_proxy_vars; v->name.len; v++) {

        /* what may be read by name at run time (SSI, perl): no signature */

        flags = NGX_HTTP_VAR_NOCACHEABLE;

        if (v->kind != ngx_http_s3_proxy_var_routed
            && v->kind != ngx_http_s3_proxy_var_action
            && v->kind != ngx_http_s3_proxy_var_cache_key
            && v->kind < ngx_http_s3_proxy_var_source)
        {
            flags |= NGX_HTTP_VAR_NOHASH;
        }

        var = ngx_http_add_variable(cf, &v->name, flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = ngx_http_s3_proxy_variable;
        var->data = (uintptr_t) v;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_s3_proxy_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_s3_proxy_var_t  *var = (ngx_http_s3_proxy_var_t *) data;

    u_char                        *p;
    ngx_str_t                      method;
    s3p_str_t                      fixed;
    const s3p_str_t               *s;
    ngx_http_s3_proxy_ctx_t       *ctx;
    ngx_http_s3_proxy_loc_conf_t  *slcf;

    v->not_found = 1;
    s = NULL;

    if (var->kind == ngx_http_s3_proxy_var_client) {
        return ngx_http_s3_proxy_client_variable(r, v, var->offset);
    }

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_s3_proxy_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_s3_proxy_module);

    /*
     * proxy_cache_background_update refreshes a stale entry in a clone of
     * the request (NGX_HTTP_SUBREQUEST_CLONE), which starts at the content
     * phase: the precontent handler never ran for it.  It fetches what its
     * parent was answered from, so it takes the parent's context and signed
     * answer (signed moments ago, well within S3's clock skew); being
     * header_only, it collects no body into it.
     */

    if (ctx == NULL && r->background && r->parent != NULL) {
        ctx = ngx_http_get_module_ctx(r->parent, ngx_http_s3_proxy_module);
        ngx_http_set_ctx(r, ctx, ngx_http_s3_proxy_module);
    }

    switch (var->kind) {

    case ngx_http_s3_proxy_var_content_sha256:
        s = (slcf->core != NULL)
            ? (s3p_str_t *) &ngx_http_s3_proxy_empty_sha256 : NULL;
        break;

    case ngx_http_s3_proxy_var_action:
        s = (ctx != NULL)
            ? (s3p_str_t *) &ngx_http_s3_proxy_actions[ctx->result.action]
            : NULL;
        break;

    case ngx_http_s3_proxy_var_security_token:

        /* the request's own: a provider's credentials rotate */

        s = (slcf->core == NULL) ? NULL
            : (ctx != NULL && ctx->signing != NULL)
            ? &ctx->signing->session_token
            : &slcf->core->signing->session_token;
        break;

    case ngx_http_s3_proxy_var_routed:
        s = (ctx != NULL)
            ? (s3p_str_t *) ((u_char *) ctx + var->offset) : NULL;
        break;

    case ngx_http_s3_proxy_var_source:
    case ngx_http_s3_proxy_var_expires:
    case ngx_http_s3_proxy_var_request_id:
        return ngx_http_s3_proxy_log_variable(r, v, var->kind, ctx, slcf);

    default:

        /* the URL and signed headers exist for proxied requests only */

        if (ctx == NULL || ctx->result.action != S3P_ACTION_PROXY) {
            return NGX_OK;
        }

        if (var->kind == ngx_http_s3_proxy_var_signed) {
            s = (s3p_str_t *) ((u_char *) ctx + var->offset);

        } else if (var->kind == ngx_http_s3_proxy_var_authorization) {

            /* a HEAD that proxy_cache fetches as a GET: the GET's */

            s = (ngx_http_s3_proxy_upstream_get(r)
                 && ctx->result.get_authorization.len)
                ? &ctx->result.get_authorization : &ctx->result.authorization;

        } else {

            /*
             * $s3_proxy_cache_key: the method S3 is asked with and the
             * core's cache key: the canonical S3 URL, the
             * x-amz-checksum-mode header when it is sent, the region,
             * whose credentials sign it and the variant served ("GET
             * https://host/bucket/key?query us-east-1 env:<hash> s3"), for
             * proxy_cache_key.  Two requests for the same S3 answer,
             * signed alike and served alike, share it however the client
             * spelled them; it holds no signature, date, secret or other
             * client header.  proxy_cache evaluates it after turning a
             * HEAD into a GET, so a HEAD and a GET share the cached GET.
             */

            if (ngx_http_s3_proxy_upstream_get(r)) {
                ngx_str_set(&method, "GET");

            } else {
                method = r->method_name;
            }

            fixed.len = method.len + 1 + ctx->result.cache_key.len;

            p = ngx_pnalloc(r->pool, fixed.len);
            if (p == NULL) {
                return NGX_ERROR;
            }

            fixed.data = p;
            p = ngx_cpymem(p, method.data, method.len);
            *p++ = ' ';
            ngx_memcpy(p, ctx->result.cache_key.data,
                       ctx->result.cache_key.len);

            s = &fixed;
        }

        break;
    }

    return (s != NULL) ? ngx_http_s3_proxy_value(v, s->data, s->len) : NGX_OK;
}


/* A value found: empty ones are "not found" */

static ngx_int_t
ngx_http_s3_proxy_value(ngx_http_variable_value_t *v, const u_char *data,
    size_t len)
{
    if (len) {
        v->len = len;
        v->valid = 1;
        v->no_cacheable = 1;
        v->not_found = 0;
        v->data = (u_char *) data;
    }

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
 * $s3_proxy_range, $s3_proxy_if_match and the other range and conditional
 * headers of the client, for S3.  A request that proxy_cache may store
 * fetches the whole object instead (a partial or 304 answer would be
 * cached for everyone), and nginx answers the client's range and
 * conditionals from it; as proxy_cache does by default, its revalidation
 * (proxy_cache_revalidate) still sends the cached Last-Modified and ETag.
 * An error document is the whole object (S3P_RENDER_DOCUMENT): none.
 */

static ngx_int_t
ngx_http_s3_proxy_client_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, size_t offset)
{
    ngx_str_t                   name;
    ngx_table_elt_t            *h;
    ngx_http_s3_proxy_ctx_t    *ctx;
    ngx_http_variable_value_t  *cached;

    ctx = ngx_http_get_module_ctx(r, ngx_http_s3_proxy_module);

    if (r->upstream == NULL || !r->upstream->cacheable) {
        h = *(ngx_table_elt_t **) ((char *) r + offset);

        if (h == NULL
            || (ctx != NULL && ctx->result.render == S3P_RENDER_DOCUMENT))
        {
            return NGX_OK;
        }

        return ngx_http_s3_proxy_value(v, h->value.data, h->value.len);
    }

    if (offset == ngx_http_s3_proxy_header_in(if_modified_since)) {
        ngx_str_set(&name, "upstream_cache_last_modified");

    } else if (offset == ngx_http_s3_proxy_header_in(if_none_match)) {
        ngx_str_set(&name, "upstream_cache_etag");

    } else {
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


/*
 * For the access log, of a request redirected or proxied: the source its
 * credentials came from, the seconds until they expire (empty for keys
 * that never do), S3's x-amz-request-id (hidden from the client unless
 * s3_proxy_pass_headers passes it).
 */

static ngx_int_t
ngx_http_s3_proxy_log_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, ngx_uint_t kind,
    ngx_http_s3_proxy_ctx_t *ctx, ngx_http_s3_proxy_loc_conf_t *slcf)
{
    u_char                     *p;
    time_t                      left;
    ngx_str_t                   name;
    ngx_http_variable_value_t  *id;

    if (ctx == NULL || ctx->result.action == S3P_ACTION_REFUSE) {
        return NGX_OK;
    }

    if (kind == ngx_http_s3_proxy_var_request_id) {
        if (ctx->result.action != S3P_ACTION_PROXY) {
            return NGX_OK;
        }

        ngx_str_set(&name, "upstream_http_x_amz_request_id");

        id = ngx_http_get_variable(r, &name, ngx_hash_key(name.data,
                                                          name.len));
        if (id == NULL) {
            return NGX_ERROR;
        }

        *v = *id;

        return NGX_OK;
    }

    if (kind == ngx_http_s3_proxy_var_source) {
        if (slcf->creds) {
            ngx_http_s3_proxy_credentials_source(slcf->creds, &name);

        } else {
            ngx_str_set(&name, S3P_CREDENTIALS_ENV_NAME);
        }

        return ngx_http_s3_proxy_value(v, name.data, name.len);
    }

    if (slcf->creds == NULL || ctx->expiration == NGX_MAX_TIME_T_VALUE) {
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    left = ngx_max(ctx->expiration - ngx_time(), 0);

    return ngx_http_s3_proxy_value(v, p, ngx_sprintf(p, "%T", left) - p);
}
