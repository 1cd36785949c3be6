/*
 * ngx_http_s3_proxy_module: what its C files share.
 *
 *   ngx_http_s3_proxy_module.c     the module, its directives, merging
 *   ngx_http_s3_proxy_settings.c   the environment and the S3 settings
 *                                  resolved for the Swift core
 *   ngx_http_s3_proxy_upstream.c   a keepalive upstream per S3 endpoint
 *   ngx_http_s3_proxy_handler.c    the request phase: route, redirect,
 *                                  refuse, hand over to proxy_pass
 *   ngx_http_s3_proxy_variables.c  the $s3_proxy_* variables
 *   ngx_http_s3_proxy_listing.c    the built-in folder listing filter
 *
 * The Swift core is reached through CShim/include/s3_proxy_core.h only.
 */

#ifndef _NGX_HTTP_S3_PROXY_MODULE_H_INCLUDED_
#define _NGX_HTTP_S3_PROXY_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "s3_proxy_core.h"


/* Where a directive stands, for errors found after it was parsed. */
typedef struct {
    u_char                    *file_name;
    ngx_uint_t                 line;
} ngx_http_s3_proxy_pos_t;


/* Signing settings resolved for one set of raw values. */
typedef struct {
    s3p_settings_t             raw;
    s3p_signing_t             *signing;
} ngx_http_s3_proxy_signing_t;


/*
 * What the environment and the shared credentials files held when nginx
 * read its configuration: the defaults of the location directives.
 */
typedef struct {
    s3p_environment_t          env;
    ngx_array_t               *buckets;    /* S3_PROXY_BUCKETS, of ngx_str_t */

    /*
     * The signing settings resolved so far, one per set of raw values:
     * locations that sign alike share one, so workers derive one signing
     * key a day for them.
     */
    ngx_array_t               *signings;   /* of ngx_http_s3_proxy_signing_t */
} ngx_http_s3_proxy_main_conf_t;


typedef struct {
    ngx_flag_t                 enable;
    time_t                     expires;
    time_t                     window;       /* 0: off */
    ngx_array_t               *buckets;    /* of ngx_str_t */
    ngx_array_t               *params;     /* of ngx_str_t */
    ngx_array_t               *stream;     /* of ngx_str_t; NULL: off */
    ngx_flag_t                 listing;
    ngx_str_t                  index;
    ngx_str_t                  bucket;

    /* where S3 is and how to sign for it, resolved by the core */
    ngx_str_t                  endpoint;
    ngx_str_t                  external_endpoint;
    ngx_str_t                  region;
    ngx_uint_t                 credentials;  /* s3p_credentials_source_t */
    ngx_str_t                  profile;
    ngx_uint_t                 addressing;   /* s3p_addressing_t */

    /* a prefix location's prefix, not part of the S3 path */
    ngx_str_t                  mount;

    ngx_http_s3_proxy_pos_t    enable_pos;

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


/* ngx_http_s3_proxy_module.c */
ngx_int_t ngx_http_s3_proxy_split(ngx_array_t *a, ngx_str_t *value);

/* ngx_http_s3_proxy_settings.c */
void *ngx_http_s3_proxy_create_main_conf(ngx_conf_t *cf);
char *ngx_http_s3_proxy_core(ngx_conf_t *cf,
    ngx_http_s3_proxy_loc_conf_t *conf, ngx_http_s3_proxy_main_conf_t *smcf,
    s3p_config_t *core);

/* ngx_http_s3_proxy_upstream.c */
ngx_int_t ngx_http_s3_proxy_upstreams(ngx_conf_t *cf,
    const s3p_config_t *core);
ngx_int_t ngx_http_s3_proxy_upstream_add(ngx_conf_t *cf, ngx_str_t *scheme,
    ngx_str_t *host);

/* ngx_http_s3_proxy_handler.c */
ngx_int_t ngx_http_s3_proxy_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_s3_proxy_content_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_s3_proxy_escaped_uri(ngx_http_request_t *r,
    ngx_str_t *uri);
ngx_table_elt_t *ngx_http_s3_proxy_add_header(ngx_http_request_t *r,
    const char *key, u_char *value, size_t len);

/* ngx_http_s3_proxy_variables.c */
ngx_int_t ngx_http_s3_proxy_add_variables(ngx_conf_t *cf);

/* ngx_http_s3_proxy_listing.c */
ngx_int_t ngx_http_s3_proxy_listing_init(ngx_conf_t *cf);


extern ngx_module_t  ngx_http_s3_proxy_module;


#endif /* _NGX_HTTP_S3_PROXY_MODULE_H_INCLUDED_ */
