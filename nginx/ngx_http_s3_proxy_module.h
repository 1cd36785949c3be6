/*
 * ngx_http_s3_proxy_module: what its C files share.  Each file says what
 * it holds in its first comment; docs/design.md maps them.  The Swift
 * core is reached through CShim/include/s3_proxy_core.h only.
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


/* Keys that rotate: a provider's, or a profile's (_credentials.c). */
typedef struct ngx_http_s3_proxy_creds_s  ngx_http_s3_proxy_creds_t;


/* Signing settings resolved: locations that sign alike share them. */
typedef struct {
    s3p_settings_t             raw;
    s3p_signing_t             *signing;
    ngx_http_s3_proxy_creds_t *creds;      /* NULL: keys from the env */
} ngx_http_s3_proxy_signing_t;


typedef struct {
    s3p_environment_t          env;        /* as nginx read its config */
    ngx_array_t               *signings;   /* of ngx_http_s3_proxy_signing_t */
    void                      *creds;      /* providers, their zone */
    ngx_array_t               *upstreams;  /* hosts that did not resolve */
                                           /*   (s3p_str_t, in temp_pool) */

    /* s3_proxy_status: its zone, counters (NULL: off), locations */
    ngx_shm_zone_t            *status_zone;
    s3p_status_counters_t     *stats;
    ngx_array_t               *status_locations;  /* s3p_status_location_t */
} ngx_http_s3_proxy_main_conf_t;


typedef struct {
    ngx_flag_t                 enable;
    ngx_http_s3_proxy_pos_t    enable_pos;
    ngx_http_s3_proxy_pos_t    snippet_pos;  /* s3_proxy.conf's marker */
    s3p_settings_t             raw;          /* every other setting (Swift) */
    ngx_http_complex_value_t  *bucket;       /* s3_proxy_bucket and */
    ngx_http_complex_value_t  *prefix;       /*   _prefix, per request */
    ngx_str_t                  mount;        /* not part of the S3 path */
    s3p_config_t              *core;         /* resolved; NULL: disabled */
    ngx_http_s3_proxy_creds_t *creds;        /* NULL: core's signing's keys */
    ngx_uint_t                 status_row;   /* its own, then its buckets' */
} ngx_http_s3_proxy_loc_conf_t;


/* A server's locations S3 clients ask as a bucket (s3p_bucket_root()). */
typedef struct {
    ngx_array_t               *mounts;  /* of ngx_http_s3_proxy_loc_conf_t * */
} ngx_http_s3_proxy_srv_conf_t;


/* An answer of S3's being collected: a listing's XML, an error. */
typedef struct {
    u_char                    *data;
    size_t                     len;
    size_t                     cap;
    size_t                     max;        /* kept at most */
    unsigned                   truncated:1;
} ngx_http_s3_proxy_body_t;


/* What the Swift core answered for one request. */
typedef struct {
    s3p_result_t               result;
    const s3p_signing_t       *signing;    /* what the request signed with */

    /* what becomes of S3's answer (s3p_body_t), and its body collected */
    unsigned                   answer:3;
    ngx_http_s3_proxy_body_t   body;

    /*
     * a page that may fall back: its URI, and the subrequest of the last
     * step, whose answer is the main request's (ngx_http_s3_proxy_filter.c)
     */
    ngx_str_t                  uri;
    ngx_http_request_t        *listing_sr;

    /*
     * that subrequest, the `step`-th for the path: result.fallback is the
     * path to sign, result.status S3's answer to the step before
     */
    unsigned                   listing:1;
    unsigned                   step:3;

    /* what the request signed with expires then (the logs' variables) */
    time_t                     expiration;

    /* S3's error code of a proxied error answer */
    s3p_str_t                  s3_error;

    /* waiting for a provider's first credentials: how many times */
    unsigned                   waits:6;
    unsigned                   waiting:1;
} ngx_http_s3_proxy_ctx_t;


/* ngx_http_s3_proxy_settings.c */
void *ngx_http_s3_proxy_create_main_conf(ngx_conf_t *cf);
ngx_int_t ngx_http_s3_proxy_read_file(u_char *path, size_t max,
    ngx_pool_t *pool, ngx_str_t *contents);
uint8_t *ngx_http_s3_proxy_alloc(void *pool, size_t size);
char *ngx_http_s3_proxy_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);

/* ngx_http_s3_proxy_upstream.c */
char *ngx_http_s3_proxy_upstreams_declare(ngx_conf_t *cf,
    ngx_http_s3_proxy_loc_conf_t *conf);
ngx_int_t ngx_http_s3_proxy_upstreams_ready(ngx_conf_t *cf,
    ngx_http_s3_proxy_loc_conf_t *conf, s3p_config_t *core);

/* ngx_http_s3_proxy_handler.c */
ngx_int_t ngx_http_s3_proxy_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_s3_proxy_bucket_root(ngx_http_request_t *r);
void ngx_http_s3_proxy_keep(void *data);
ngx_table_elt_t *ngx_http_s3_proxy_next_header(ngx_list_part_t **part,
    ngx_uint_t *i);
ngx_table_elt_t *ngx_http_s3_proxy_add_header(ngx_http_request_t *r,
    const char *key, u_char *value, size_t len);
s3p_str_t ngx_http_s3_proxy_type(const void *data, const uint8_t *ext,
    size_t len);

/* ngx_http_s3_proxy_variables.c */
ngx_int_t ngx_http_s3_proxy_add_variables(ngx_conf_t *cf);

/* ngx_http_s3_proxy_filter.c */
ngx_int_t ngx_http_s3_proxy_filter_init(ngx_conf_t *cf);

/* ngx_http_s3_proxy_credentials.c */
ngx_int_t ngx_http_s3_proxy_provider(ngx_conf_t *cf,
    ngx_http_s3_proxy_loc_conf_t *conf, s3p_settings_t *raw,
    void **provider);
ngx_int_t ngx_http_s3_proxy_credentials_conf(ngx_conf_t *cf,
    ngx_http_s3_proxy_loc_conf_t *conf, void *provider, s3p_settings_t *raw,
    s3p_signing_t *signing, ngx_http_s3_proxy_creds_t **creds);
ngx_int_t ngx_http_s3_proxy_credentials_signing(ngx_http_request_t *r,
    ngx_http_s3_proxy_creds_t *creds, ngx_http_s3_proxy_ctx_t *ctx);
void ngx_http_s3_proxy_credentials_source(ngx_http_s3_proxy_creds_t *creds,
    ngx_str_t *name);

/* ngx_http_s3_proxy_status.c */
char *ngx_http_s3_proxy_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_s3_proxy_status_location(ngx_conf_t *cf,
    ngx_http_s3_proxy_loc_conf_t *conf, ngx_str_t *name);
void ngx_http_s3_proxy_status_count(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx, ngx_uint_t status, uint32_t code);

/* ngx_http_s3_proxy_fetch.c */
ngx_int_t ngx_http_s3_proxy_credentials_init_module(ngx_cycle_t *cycle);
ngx_int_t ngx_http_s3_proxy_credentials_init_process(ngx_cycle_t *cycle);


extern ngx_module_t  ngx_http_s3_proxy_module;


#endif /* _NGX_HTTP_S3_PROXY_MODULE_H_INCLUDED_ */
