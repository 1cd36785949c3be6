/*
 * ngx_http_s3_proxy_module: authenticated, read-only access to private S3
 * buckets.
 *
 * At the precontent phase (after access checks such as auth_basic and
 * auth_request) each request of a location with "s3_proxy on" is handed
 * to the Swift core, which decides its route and signs it:
 *
 *   - refuse:   answer the status (405 with Allow, 403, 400), contact nothing;
 *   - redirect: answer 307 with a presigned URL on the external endpoint;
 *   - proxy:    store the signed URL and headers in the request context and
 *               decline, so that proxy_pass (from the shipped s3_proxy.conf
 *               snippet) fetches them through $s3_proxy_* variables.
 *
 * This file holds no signing logic: it moves bytes between nginx and Swift
 * (CShim/include/s3_proxy_core.h).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "s3_proxy_core.h"


#define NGX_HTTP_S3_PROXY_DEFAULT_EXPIRES  300

/* the largest listing page rendered: S3 sends at most 1,000 keys a page */
#define NGX_HTTP_S3_PROXY_MAX_LISTING      (8 * 1024 * 1024)


/* Settings read from the environment once per configuration cycle. */
typedef struct {
    ngx_str_t                  access_key;
    ngx_str_t                  secret_key;
    ngx_str_t                  session_token;
    ngx_str_t                  region;
    ngx_str_t                  host;
    ngx_str_t                  external_host;
    ngx_str_t                  scheme;
    ngx_array_t               *buckets;    /* S3_PROXY_BUCKETS, of ngx_str_t */
} ngx_http_s3_proxy_main_conf_t;


typedef struct {
    ngx_flag_t                 enable;
    time_t                     expires;
    ngx_array_t               *buckets;    /* of ngx_str_t */
    ngx_array_t               *params;     /* of ngx_str_t */
    ngx_array_t               *stream;     /* of ngx_str_t; NULL: off */
    ngx_flag_t                 listing;
    ngx_str_t                  index;

    /* resolved settings handed to Swift; NULL where disabled */
    s3p_config_t              *core;

    /* the location's own content handler: proxy_pass from s3_proxy.conf */
    ngx_http_handler_pt        proxy_handler;
} ngx_http_s3_proxy_loc_conf_t;


/* What the Swift core answered for one request. */
typedef struct {
    s3p_result_t               result;

    /* a listing page being rendered: S3's XML, collected */
    u_char                    *xml;
    size_t                     xml_len;
    size_t                     xml_cap;
    unsigned                   rendering:1;
} ngx_http_s3_proxy_ctx_t;


static ngx_int_t ngx_http_s3_proxy_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_s3_proxy_content_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_s3_proxy_request_target(ngx_http_request_t *r,
    s3p_request_t *req);
static ngx_int_t ngx_http_s3_proxy_redirect(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx);
static ngx_int_t ngx_http_s3_proxy_refuse(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx);
static ngx_table_elt_t *ngx_http_s3_proxy_add_header(ngx_http_request_t *r,
    const char *key, u_char *value, size_t len);

static ngx_int_t ngx_http_s3_proxy_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_s3_proxy_result_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_s3_proxy_action_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_s3_proxy_conf_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

static void *ngx_http_s3_proxy_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_s3_proxy_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_s3_proxy_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_s3_proxy(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_s3_proxy_expires(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_s3_proxy_list(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_s3_proxy_stream_agents(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_s3_proxy_getenv(ngx_conf_t *cf, const char *name,
    ngx_str_t *value);
static ngx_int_t ngx_http_s3_proxy_split(ngx_array_t *a, ngx_str_t *value);
static s3p_str_t *ngx_http_s3_proxy_str_list(ngx_conf_t *cf,
    ngx_array_t *a);
static ngx_int_t ngx_http_s3_proxy_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_s3_proxy_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_s3_proxy_render(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx);
static ngx_int_t ngx_http_s3_proxy_fallback_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_s3_proxy_escaped_uri(ngx_http_request_t *r,
    ngx_str_t *uri);
static void ngx_http_s3_proxy_wipe(void *data);
static ngx_int_t ngx_http_s3_proxy_init(ngx_conf_t *cf);


/* marks s3_proxy_allow_params: its names are parameters, not buckets */
static ngx_uint_t  ngx_http_s3_proxy_params_post;


static ngx_command_t  ngx_http_s3_proxy_commands[] = {

    { ngx_string("s3_proxy"),
      NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_http_s3_proxy,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_s3_proxy_loc_conf_t, enable),
      NULL },

    { ngx_string("s3_proxy_expires"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_s3_proxy_expires,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_s3_proxy_loc_conf_t, expires),
      NULL },

    { ngx_string("s3_proxy_buckets"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_s3_proxy_list,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_s3_proxy_loc_conf_t, buckets),
      NULL },

    { ngx_string("s3_proxy_allow_params"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_s3_proxy_list,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_s3_proxy_loc_conf_t, params),
      &ngx_http_s3_proxy_params_post },

    { ngx_string("s3_proxy_stream_agents"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_s3_proxy_stream_agents,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_s3_proxy_loc_conf_t, stream),
      NULL },

    { ngx_string("s3_proxy_listing"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_s3_proxy_loc_conf_t, listing),
      NULL },

    { ngx_string("s3_proxy_index"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_s3_proxy_loc_conf_t, index),
      NULL },

      ngx_null_command
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static ngx_http_module_t  ngx_http_s3_proxy_module_ctx = {
    ngx_http_s3_proxy_add_variables,       /* preconfiguration */
    ngx_http_s3_proxy_init,                /* postconfiguration */

    ngx_http_s3_proxy_create_main_conf,    /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_s3_proxy_create_loc_conf,     /* create location configuration */
    ngx_http_s3_proxy_merge_loc_conf       /* merge location configuration */
};


ngx_module_t  ngx_http_s3_proxy_module = {
    NGX_MODULE_V1,
    &ngx_http_s3_proxy_module_ctx,         /* module context */
    ngx_http_s3_proxy_commands,            /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


enum {
    ngx_http_s3_proxy_var_url = 0,
    ngx_http_s3_proxy_var_authorization,
    ngx_http_s3_proxy_var_date,
    ngx_http_s3_proxy_var_bucket,
    ngx_http_s3_proxy_var_key
};


enum {
    ngx_http_s3_proxy_var_host = 0,
    ngx_http_s3_proxy_var_content_sha256,
    ngx_http_s3_proxy_var_security_token
};


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
      ngx_http_s3_proxy_conf_variable, ngx_http_s3_proxy_var_host,
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_NOHASH, 0 },

    { ngx_string("s3_proxy_content_sha256"), NULL,
      ngx_http_s3_proxy_conf_variable, ngx_http_s3_proxy_var_content_sha256,
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_NOHASH, 0 },

    { ngx_string("s3_proxy_security_token"), NULL,
      ngx_http_s3_proxy_conf_variable, ngx_http_s3_proxy_var_security_token,
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_NOHASH, 0 },

    { ngx_string("s3_proxy_fallback"), NULL,
      ngx_http_s3_proxy_fallback_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_NOHASH, 0 },

      ngx_http_null_variable
};


/* SHA-256 of the empty payload of a GET or HEAD. */
static ngx_str_t  ngx_http_s3_proxy_empty_sha256 =
    ngx_string(S3P_EMPTY_PAYLOAD_SHA256);


/* The request phase */

static ngx_int_t
ngx_http_s3_proxy_handler(ngx_http_request_t *r)
{
    u_char                        *out;
    size_t                         bound;
    ngx_int_t                      rc;
    s3p_request_t                  req;
    ngx_http_s3_proxy_ctx_t       *ctx;
    ngx_http_s3_proxy_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_s3_proxy_module);

    if (!slcf->enable || slcf->core == NULL) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_s3_proxy_module);

    if (ctx != NULL) {
        return NGX_DECLINED;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_s3_proxy_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_s3_proxy_request_target(r, &req) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    bound = s3p_output_bound(slcf->core, &req);

    out = ngx_pnalloc(r->pool, bound);
    if (out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = s3p_handle(slcf->core, &req, out, bound, &ctx->result);

    if (rc != S3P_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "s3 proxy: signing failed (%i)", rc);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_s3_proxy_module);

    switch (ctx->result.action) {

    case S3P_ACTION_REDIRECT:
        return ngx_http_s3_proxy_redirect(r, ctx);

    case S3P_ACTION_PROXY:
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "s3 proxy: proxy \"%*s\"",
                       ctx->result.url.len, ctx->result.url.data);

        /*
         * S3 gets no request body (proxy_pass_request_body off), so none is
         * read: proxy_pass then builds the upstream request at once, while
         * the content handler below holds debug logging of the signed
         * headers, instead of after a body that a client trickles in.
         */

        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* the content phase handler, proxy_pass, takes it from here */
        return NGX_DECLINED;

    default:
        return ngx_http_s3_proxy_refuse(r, ctx);
    }
}


/*
 * The location's content handler, proxy_pass, wrapped: with a session token
 * configured, nginx's debug log would otherwise dump it with the signed
 * request headers.  Debug logging pauses while proxy_pass builds the
 * upstream request, which it does before it first returns.
 */

static ngx_int_t
ngx_http_s3_proxy_content_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_uint_t                     level, intercept, in_memory;
    ngx_http_upstream_conf_t      *ucf;
    ngx_http_s3_proxy_ctx_t       *ctx;
    ngx_http_s3_proxy_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_s3_proxy_module);

    if (slcf->core == NULL || slcf->core->session_token.len == 0) {
        rc = slcf->proxy_handler(r);

    } else {
        level = r->connection->log->log_level;
        r->connection->log->log_level &= ~NGX_LOG_DEBUG_ALL;

        rc = slcf->proxy_handler(r);

        r->connection->log->log_level = level;
    }

    /*
     * A folder's index page, with built-in listings on: S3's 404 goes to
     * error_page ($s3_proxy_fallback in s3_proxy.conf) instead of the
     * client.  Only this request's copy of the upstream settings changes;
     * every other answer from S3 passes through untouched.
     */

    ctx = ngx_http_get_module_ctx(r, ngx_http_s3_proxy_module);

    if (ctx == NULL || r->upstream == NULL || slcf->core == NULL) {
        return rc;
    }

    intercept = ctx->result.fallback.len && slcf->core->listings
                && !r->upstream->conf->intercept_errors;

    /* a listing to render is read in memory, never from a temporary file */

    in_memory = ctx->result.render != S3P_RENDER_NONE
                && r->upstream->conf->max_temp_file_size != 0;

    if (intercept || in_memory) {
        ucf = ngx_palloc(r->pool, sizeof(ngx_http_upstream_conf_t));
        if (ucf == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        *ucf = *r->upstream->conf;

        if (intercept) {
            ucf->intercept_errors = 1;
        }

        if (in_memory) {
            ucf->max_temp_file_size = 0;
        }

        r->upstream->conf = ucf;
    }

    return rc;
}


/*
 * The request target as the client sent it: the raw path and query of the
 * request line.  S3 does not normalise paths, so $uri (slashes merged, dot
 * segments resolved) is not what the client asked for.  After an internal
 * redirect the raw line no longer applies, and the new URI is escaped back.
 */

static ngx_int_t
ngx_http_s3_proxy_request_target(ngx_http_request_t *r, s3p_request_t *req)
{
    u_char     *p, *q;
    size_t      len;
    ngx_str_t   uri;

    req->method.data = r->method_name.data;
    req->method.len = r->method_name.len;
    req->now = (int64_t) ngx_time();

    if (r->headers_in.user_agent) {
        req->user_agent.data = r->headers_in.user_agent->value.data;
        req->user_agent.len = r->headers_in.user_agent->value.len;

    } else {
        req->user_agent.data = NULL;
        req->user_agent.len = 0;
    }

    req->fallback = 0;

    /*
     * The fallback pass: S3 answered 404 for a folder's index page, and
     * error_page brought the request back to the folder path the module
     * gave it, already encoded.
     */

    if (r->internal
        && r->error_page
        && r->args.len == sizeof(S3P_FALLBACK_MARKER) - 1
        && ngx_strncmp(r->args.data, S3P_FALLBACK_MARKER,
                       sizeof(S3P_FALLBACK_MARKER) - 1)
           == 0)
    {
        req->fallback = 1;
        req->path.data = r->uri.data;
        req->path.len = r->uri.len;
        req->query.data = NULL;
        req->query.len = 0;

        return NGX_OK;
    }

    if (r->valid_unparsed_uri && r == r->main) {
        p = r->unparsed_uri.data;
        len = r->unparsed_uri.len;

        q = ngx_strlchr(p, p + len, '?');

        req->path.data = p;
        req->path.len = (q ? q : p + len) - p;
        req->query.data = q ? q + 1 : p + len;
        req->query.len = q ? (size_t) (p + len - q - 1) : 0;

        return NGX_OK;
    }

    if (ngx_http_s3_proxy_escaped_uri(r, &uri) != NGX_OK) {
        return NGX_ERROR;
    }

    req->path.data = uri.data;
    req->path.len = uri.len;
    req->query.data = r->args.data;
    req->query.len = r->args.len;

    return NGX_OK;
}


/* $uri, decoded and normalised by nginx, escaped back into a path */

static ngx_int_t
ngx_http_s3_proxy_escaped_uri(ngx_http_request_t *r, ngx_str_t *uri)
{
    u_char     *p, *q;
    uintptr_t   escape;

    escape = 2 * ngx_escape_uri(NULL, r->uri.data, r->uri.len,
                                NGX_ESCAPE_URI);

    p = ngx_pnalloc(r->pool, r->uri.len + escape);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (escape) {
        q = (u_char *) ngx_escape_uri(p, r->uri.data, r->uri.len,
                                      NGX_ESCAPE_URI);
    } else {
        q = ngx_cpymem(p, r->uri.data, r->uri.len);
    }

    uri->data = p;
    uri->len = q - p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_s3_proxy_redirect(ngx_http_request_t *r, ngx_http_s3_proxy_ctx_t *ctx)
{
    ngx_table_elt_t  *h;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "s3 proxy: redirect \"%*s\"",
                   ctx->result.key.len, ctx->result.key.data);

    ngx_http_clear_location(r);

    h = ngx_http_s3_proxy_add_header(r, "Location",
                                     (u_char *) ctx->result.url.data,
                                     ctx->result.url.len);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.location = h;

    return NGX_HTTP_TEMPORARY_REDIRECT;
}


static ngx_int_t
ngx_http_s3_proxy_refuse(ngx_http_request_t *r, ngx_http_s3_proxy_ctx_t *ctx)
{
    ngx_table_elt_t  *h;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "s3 proxy: refused with %D", ctx->result.status);

    /*
     * A refused request's body is never read: a client that announced one
     * (with "Expect: 100-continue" it never sends it) gets the connection
     * closed, so that nginx cannot take the next request for that body.
     */

    if (r->headers_in.content_length_n > 0 || r->headers_in.chunked) {
        r->keepalive = 0;
    }

    if (ctx->result.status == NGX_HTTP_NOT_ALLOWED) {
        h = ngx_http_s3_proxy_add_header(r, "Allow", (u_char *) "GET, HEAD",
                                         sizeof("GET, HEAD") - 1);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (ctx->result.status < NGX_HTTP_BAD_REQUEST
        || ctx->result.status >= NGX_HTTP_INTERNAL_SERVER_ERROR)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ctx->result.status;
}


static ngx_table_elt_t *
ngx_http_s3_proxy_add_header(ngx_http_request_t *r, const char *key,
    u_char *value, size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NULL;
    }

    /*
     * ngx_list_push() memory is not zeroed: every field is set.  nginx
     * reads no lowcase_key of a response header; 1.23.0 added next.
     */

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value.data = value;
    h->value.len = len;
    h->lowcase_key = NULL;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return h;
}


/* Variables */

static ngx_int_t
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
    s3p_str_t                 *s;
    ngx_http_s3_proxy_ctx_t   *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_s3_proxy_module);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {

    case ngx_http_s3_proxy_var_url:
        s = &ctx->result.url;
        break;

    case ngx_http_s3_proxy_var_authorization:
        s = &ctx->result.authorization;
        break;

    case ngx_http_s3_proxy_var_date:
        s = &ctx->result.amz_date;
        break;

    case ngx_http_s3_proxy_var_bucket:
        s = &ctx->result.bucket;
        break;

    default: /* ngx_http_s3_proxy_var_key */
        s = &ctx->result.key;
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

    ctx = ngx_http_get_module_ctx(r, ngx_http_s3_proxy_module);

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
    s3p_str_t                     *s;
    ngx_http_s3_proxy_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_s3_proxy_module);

    if (slcf->core == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {

    case ngx_http_s3_proxy_var_host:
        s = &slcf->core->host;
        break;

    case ngx_http_s3_proxy_var_content_sha256:
        ngx_http_s3_proxy_set_variable(v, ngx_http_s3_proxy_empty_sha256.data,
                                       ngx_http_s3_proxy_empty_sha256.len);
        return NGX_OK;

    default: /* ngx_http_s3_proxy_var_security_token */
        s = &slcf->core->session_token;
        break;
    }

    ngx_http_s3_proxy_set_variable(v, s->data, s->len);

    return NGX_OK;
}


static ngx_int_t
ngx_http_s3_proxy_fallback_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                   *p;
    ngx_str_t                 uri;
    ngx_http_s3_proxy_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_s3_proxy_module);

    if (ctx != NULL && ctx->result.fallback.len) {
        ngx_http_s3_proxy_set_variable(v, ctx->result.fallback.data,
                                       ctx->result.fallback.len);
        return NGX_OK;
    }

    /* any other 404 of nginx's own comes back as a plain 404 */

    if (ngx_http_s3_proxy_escaped_uri(r, &uri) != NGX_OK) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(r->pool, uri.len + sizeof("?" S3P_FALLBACK_MARKER) - 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;
    p = ngx_cpymem(p, uri.data, uri.len);
    p = ngx_cpymem(p, "?" S3P_FALLBACK_MARKER,
                   sizeof("?" S3P_FALLBACK_MARKER) - 1);

    v->len = p - v->data;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/* Configuration */

static void *
ngx_http_s3_proxy_create_main_conf(ngx_conf_t *cf)
{
    char                           *env;
    ngx_str_t                       value;
    ngx_http_s3_proxy_main_conf_t  *smcf;

    smcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_s3_proxy_main_conf_t));
    if (smcf == NULL) {
        return NULL;
    }

    /*
     * The environment is read once per configuration cycle; nginx keeps
     * the master's environment, so a changed credential takes a restart.
     */

    if (ngx_http_s3_proxy_getenv(cf, "AWS_ACCESS_KEY_ID", &smcf->access_key)
        != NGX_OK
        || ngx_http_s3_proxy_getenv(cf, "AWS_SECRET_ACCESS_KEY",
                                    &smcf->secret_key)
           != NGX_OK
        || ngx_http_s3_proxy_getenv(cf, "AWS_SESSION_TOKEN",
                                    &smcf->session_token)
           != NGX_OK
        || ngx_http_s3_proxy_getenv(cf, "AWS_DEFAULT_REGION", &smcf->region)
           != NGX_OK
        || ngx_http_s3_proxy_getenv(cf, "AWS_ENDPOINT_HOST", &smcf->host)
           != NGX_OK
        || ngx_http_s3_proxy_getenv(cf, "AWS_ENDPOINT_HOST_EXTERNAL",
                                    &smcf->external_host)
           != NGX_OK
        || ngx_http_s3_proxy_getenv(cf, "AWS_ENDPOINT_SCHEME", &smcf->scheme)
           != NGX_OK)
    {
        return NULL;
    }

    if (smcf->region.len == 0) {
        ngx_str_set(&smcf->region, "us-east-1");
    }

    if (smcf->host.len == 0) {
        smcf->host.len = sizeof("s3..amazonaws.com") - 1 + smcf->region.len;
        smcf->host.data = ngx_pnalloc(cf->pool, smcf->host.len);
        if (smcf->host.data == NULL) {
            return NULL;
        }

        ngx_sprintf(smcf->host.data, "s3.%V.amazonaws.com", &smcf->region);
    }

    if (smcf->external_host.len == 0) {
        smcf->external_host = smcf->host;
    }

    if (smcf->scheme.len == 0) {
        ngx_str_set(&smcf->scheme, "https");
    }

    /* the default bucket allowlist, as `make run` passes it */

    env = getenv("S3_PROXY_BUCKETS");

    if (env != NULL && *env != '\0') {
        smcf->buckets = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
        if (smcf->buckets == NULL) {
            return NULL;
        }

        value.data = (u_char *) env;
        value.len = ngx_strlen(env);

        if (ngx_http_s3_proxy_split(smcf->buckets, &value) != NGX_OK) {
            return NULL;
        }
    }

    return smcf;
}


static ngx_int_t
ngx_http_s3_proxy_getenv(ngx_conf_t *cf, const char *name, ngx_str_t *value)
{
    char                *env;
    ngx_pool_cleanup_t  *cln;

    env = getenv(name);

    if (env == NULL || *env == '\0') {
        ngx_str_null(value);
        return NGX_OK;
    }

    value->len = ngx_strlen(env);
    value->data = ngx_pnalloc(cf->pool, value->len);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(value->data, env, value->len);

    /* credentials are wiped when the configuration is released */

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_s3_proxy_wipe;
    cln->data = value;

    return NGX_OK;
}


static void
ngx_http_s3_proxy_wipe(void *data)
{
    ngx_str_t  *value = data;

    ngx_explicit_memzero(value->data, value->len);
}


static void *
ngx_http_s3_proxy_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_s3_proxy_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_s3_proxy_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->core = NULL;
     */

    conf->enable = NGX_CONF_UNSET;
    conf->expires = NGX_CONF_UNSET;
    conf->buckets = NGX_CONF_UNSET_PTR;
    conf->params = NGX_CONF_UNSET_PTR;
    conf->stream = NGX_CONF_UNSET_PTR;
    conf->listing = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_http_s3_proxy_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_s3_proxy_loc_conf_t *prev = parent;
    ngx_http_s3_proxy_loc_conf_t *conf = child;

    size_t                          len;
    u_char                          err[256], *hosts, *prepared;
    s3p_config_t                   *core;
    ngx_http_core_loc_conf_t       *clcf;
    ngx_http_s3_proxy_main_conf_t  *smcf;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_sec_value(conf->expires, prev->expires,
                             NGX_HTTP_S3_PROXY_DEFAULT_EXPIRES);

    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_s3_proxy_module);

    ngx_conf_merge_ptr_value(conf->buckets, prev->buckets, smcf->buckets);
    ngx_conf_merge_ptr_value(conf->params, prev->params, NULL);

    if (conf->stream == NGX_CONF_UNSET_PTR) {
        conf->stream = prev->stream;
    }

    ngx_conf_merge_value(conf->listing, prev->listing, 0);
    ngx_conf_merge_str_value(conf->index, prev->index, "index.html");

    if (conf->index.len == 0
        || ngx_strlchr(conf->index.data, conf->index.data + conf->index.len,
                       '/')
        || ngx_strcmp(conf->index.data, ".") == 0
        || ngx_strcmp(conf->index.data, "..") == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"s3_proxy_index\" must be a file name, "
                           "not \"%V\"", &conf->index);
        return NGX_CONF_ERROR;
    }

    if (!conf->enable) {
        return NGX_CONF_OK;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler == NULL && clcf->noname && prev->proxy_handler) {

        /*
         * An "if" block inside the location: at run time it keeps the
         * location's content handler, this module's wrapper, which then
         * reads the block's configuration.
         */

        conf->proxy_handler = prev->proxy_handler;

    } else if (clcf->handler == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"s3_proxy\" in location \"%V\" needs proxy_pass: "
                           "add \"include s3_proxy.conf;\" to it",
                           &clcf->name);
        return NGX_CONF_ERROR;
    }

    if (clcf->handler != NULL
        && clcf->handler != ngx_http_s3_proxy_content_handler)
    {
        conf->proxy_handler = clcf->handler;
        clcf->handler = ngx_http_s3_proxy_content_handler;
    }

    core = ngx_pcalloc(cf->pool, sizeof(s3p_config_t));
    if (core == NULL) {
        return NGX_CONF_ERROR;
    }

    core->access_key.len = smcf->access_key.len;
    core->access_key.data = smcf->access_key.data;
    core->secret_key.len = smcf->secret_key.len;
    core->secret_key.data = smcf->secret_key.data;
    core->session_token.len = smcf->session_token.len;
    core->session_token.data = smcf->session_token.data;
    core->region.len = smcf->region.len;
    core->region.data = smcf->region.data;
    core->host.len = smcf->host.len;
    core->host.data = smcf->host.data;
    core->external_host.len = smcf->external_host.len;
    core->external_host.data = smcf->external_host.data;
    core->scheme.len = smcf->scheme.len;
    core->scheme.data = smcf->scheme.data;
    core->expires = (uint32_t) conf->expires;
    core->index.len = conf->index.len;
    core->index.data = conf->index.data;
    core->listings = conf->listing ? 1 : 0;

    if (conf->buckets != NULL && conf->buckets->nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"s3_proxy\": S3_PROXY_BUCKETS names no bucket");
        return NGX_CONF_ERROR;
    }

    if (conf->buckets != NULL) {
        core->buckets = ngx_http_s3_proxy_str_list(cf, conf->buckets);
        if (core->buckets == NULL) {
            return NGX_CONF_ERROR;
        }

        core->nbuckets = conf->buckets->nelts;
    }

    if (conf->params != NULL) {
        core->params = ngx_http_s3_proxy_str_list(cf, conf->params);
        if (core->params == NULL) {
            return NGX_CONF_ERROR;
        }

        core->nparams = conf->params->nelts;
    }

    if (conf->stream == NGX_CONF_UNSET_PTR) {
        core->stream = S3P_STREAM_DEFAULT;

    } else if (conf->stream == NULL) {
        core->stream = S3P_STREAM_OFF;

    } else {
        core->stream = S3P_STREAM_LIST;
        core->stream_agents = ngx_http_s3_proxy_str_list(cf, conf->stream);
        if (core->stream_agents == NULL) {
            return NGX_CONF_ERROR;
        }

        core->nstream_agents = conf->stream->nelts;
    }

    if (s3p_config_check(core, err, sizeof(err)) != S3P_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"s3_proxy\": %s", err);
        return NGX_CONF_ERROR;
    }

    hosts = ngx_pnalloc(cf->pool, core->host.len + core->external_host.len);
    if (hosts == NULL) {
        return NGX_CONF_ERROR;
    }

    if (s3p_config_normalize(core, hosts,
                             core->host.len + core->external_host.len)
        != S3P_OK)
    {
        return NGX_CONF_ERROR;
    }

    len = s3p_config_prepare_bound(core);

    prepared = ngx_pnalloc(cf->pool, len);
    if (prepared == NULL) {
        return NGX_CONF_ERROR;
    }

    if (s3p_config_prepare(core, prepared, len) != S3P_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"s3_proxy\": cannot prepare the signing settings");
        return NGX_CONF_ERROR;
    }

    conf->core = core;

    return NGX_CONF_OK;
}


static char *
ngx_http_s3_proxy(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char                           *rv;
    ngx_http_s3_proxy_loc_conf_t   *slcf = conf;
    ngx_http_s3_proxy_main_conf_t  *smcf;

    rv = ngx_conf_set_flag_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK || !slcf->enable) {
        return rv;
    }

    /* name the missing credential where the directive stands */

    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_s3_proxy_module);

    if (smcf->access_key.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"s3_proxy\" requires AWS_ACCESS_KEY_ID "
                           "in the environment");
        return NGX_CONF_ERROR;
    }

    if (smcf->secret_key.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"s3_proxy\" requires AWS_SECRET_ACCESS_KEY "
                           "in the environment");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* s3_proxy_buckets and s3_proxy_allow_params: names, space- or comma-separated */

static char *
ngx_http_s3_proxy_list(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    int            rc;
    u_char         err[128];
    s3p_str_t      item;
    ngx_str_t     *value, *name;
    ngx_uint_t     i;
    ngx_array_t  **a;

    a = (ngx_array_t **) (p + cmd->offset);

    if (*a != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    *a = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
    if (*a == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        if (ngx_http_s3_proxy_split(*a, &value[i]) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    if ((*a)->nelts == 0) {
        return "needs at least one name";
    }

    /* each name is checked here, so that nginx -t points at this line */

    name = (*a)->elts;

    for (i = 0; i < (*a)->nelts; i++) {
        item.len = name[i].len;
        item.data = name[i].data;

        rc = (cmd->post == NULL)
             ? s3p_check_bucket_name(&item, err, sizeof(err))
             : s3p_check_parameter_name(&item, err, sizeof(err));

        if (rc != S3P_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\": \"%V\" %s",
                               &cmd->name, &name[i], err);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* s3_proxy_stream_agents off | substring ... */

static char *
ngx_http_s3_proxy_stream_agents(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_s3_proxy_loc_conf_t  *slcf = conf;

    ngx_str_t    *value, *agent;
    ngx_uint_t    i;

    if (slcf->stream != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        slcf->stream = NULL;
        return NGX_CONF_OK;
    }

    slcf->stream = ngx_array_create(cf->pool, cf->args->nelts,
                                    sizeof(ngx_str_t));
    if (slcf->stream == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {
        if (value[i].len == 0) {
            return "takes no empty User-Agent substring";
        }

        agent = ngx_array_push(slcf->stream);
        if (agent == NULL) {
            return NGX_CONF_ERROR;
        }

        *agent = value[i];
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_s3_proxy_split(ngx_array_t *a, ngx_str_t *value)
{
    u_char     *p, *last, *start;
    ngx_str_t  *name;

    p = value->data;
    last = p + value->len;

    while (p < last) {

        while (p < last && (*p == ',' || *p == ' ' || *p == '\t')) {
            p++;
        }

        start = p;

        while (p < last && *p != ',' && *p != ' ' && *p != '\t') {
            p++;
        }

        if (p == start) {
            break;
        }

        name = ngx_array_push(a);
        if (name == NULL) {
            return NGX_ERROR;
        }

        name->len = p - start;
        name->data = ngx_pnalloc(a->pool, name->len);
        if (name->data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(name->data, start, name->len);
    }

    return NGX_OK;
}


static s3p_str_t *
ngx_http_s3_proxy_str_list(ngx_conf_t *cf, ngx_array_t *a)
{
    ngx_str_t   *names;
    s3p_str_t   *list;
    ngx_uint_t   i;

    list = ngx_pcalloc(cf->pool, (a->nelts + 1) * sizeof(s3p_str_t));
    if (list == NULL) {
        return NULL;
    }

    names = a->elts;

    for (i = 0; i < a->nelts; i++) {
        list[i].len = names[i].len;
        list[i].data = names[i].data;
    }

    return list;
}


static char *
ngx_http_s3_proxy_expires(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char                          *rv;
    ngx_http_s3_proxy_loc_conf_t  *slcf = conf;

    rv = ngx_conf_set_sec_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (slcf->expires < 1 || slcf->expires > 604800) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"s3_proxy_expires\" must be between 1s and 7d");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_s3_proxy_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    /* after the access phase, so that auth_basic and friends come first */

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_s3_proxy_handler;

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_s3_proxy_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_s3_proxy_body_filter;

    return NGX_OK;
}


/*
 * S3's own x-amz-* and x-amzn-* response headers (request ids, encryption,
 * version ids, metadata) stay behind the proxy.
 */

static ngx_int_t
ngx_http_s3_proxy_header_filter(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_uint_t                     i, level;
    ngx_list_part_t               *part;
    ngx_table_elt_t               *h;
    ngx_http_s3_proxy_ctx_t       *ctx;
    ngx_http_s3_proxy_loc_conf_t  *slcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_s3_proxy_module);

    if (ctx == NULL || ctx->result.action == S3P_ACTION_REFUSE) {
        return ngx_http_next_header_filter(r);
    }

    if (ctx->result.action == S3P_ACTION_REDIRECT) {
        slcf = ngx_http_get_module_loc_conf(r, ngx_http_s3_proxy_module);

        if (slcf->core == NULL || slcf->core->session_token.len == 0) {
            return ngx_http_next_header_filter(r);
        }

        /* the header filter's debug dump would show the token */

        level = r->connection->log->log_level;
        r->connection->log->log_level &= ~NGX_LOG_DEBUG_ALL;

        rc = ngx_http_next_header_filter(r);

        r->connection->log->log_level = level;

        return rc;
    }

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

        if (h[i].key.len >= sizeof("x-amz") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "x-amz",
                               sizeof("x-amz") - 1)
               == 0)
        {
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
    u_char                   *xml;
    size_t                    size, cap;
    ngx_uint_t                last;
    ngx_chain_t              *cl;
    ngx_http_s3_proxy_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_s3_proxy_module);

    if (ctx == NULL || !ctx->rendering) {
        return ngx_http_next_body_filter(r, in);
    }

    last = 0;

    for (cl = in; cl; cl = cl->next) {
        size = cl->buf->last - cl->buf->pos;

        if (size && ctx->xml_len + size > NGX_HTTP_S3_PROXY_MAX_LISTING) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "s3 proxy: listing page larger than %uz bytes",
                          (size_t) NGX_HTTP_S3_PROXY_MAX_LISTING);
            ctx->rendering = 0;
            return NGX_ERROR;
        }

        if (size && ctx->xml_len + size > ctx->xml_cap) {
            cap = ngx_max(2 * ctx->xml_cap, ctx->xml_len + size);
            cap = ngx_max(cap, 16384);

            xml = ngx_pnalloc(r->pool, cap);
            if (xml == NULL) {
                return NGX_ERROR;
            }

            if (ctx->xml_len) {
                ngx_memcpy(xml, ctx->xml, ctx->xml_len);
            }

            ctx->xml = xml;
            ctx->xml_cap = cap;
        }

        if (size) {
            ngx_memcpy(ctx->xml + ctx->xml_len, cl->buf->pos, size);
            ctx->xml_len += size;
        }

        cl->buf->pos = cl->buf->last;

        if (cl->buf->last_buf || cl->buf->last_in_chain) {
            last = 1;
        }
    }

    if (!last) {
        return NGX_OK;
    }

    ctx->rendering = 0;

    return ngx_http_s3_proxy_render(r, ctx);
}


static ngx_int_t
ngx_http_s3_proxy_render(ngx_http_request_t *r, ngx_http_s3_proxy_ctx_t *ctx)
{
    size_t        bound, len;
    int32_t       status;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    bound = s3p_render_bound(&ctx->result, ctx->xml_len);

    b = ngx_create_temp_buf(r->pool, bound);
    if (b == NULL) {
        return NGX_ERROR;
    }

    if (s3p_render_listing(&ctx->result, ctx->xml, ctx->xml_len, b->pos,
                           bound, &len, &status)
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
        ngx_str_set(&r->headers_out.content_type, "text/html");
        r->headers_out.content_type_len = sizeof("text/html") - 1;

        b->last = ngx_cpymem(b->pos,
                             "<!DOCTYPE html><html><head><title>404 Not Found"
                             "</title></head><body><h1>404 Not Found</h1>"
                             "</body></html>\n",
                             sizeof("<!DOCTYPE html><html><head><title>404 "
                                    "Not Found</title></head><body><h1>404 "
                                    "Not Found</h1></body></html>\n") - 1);
    } else {
        b->last = b->pos + len;
    }

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
