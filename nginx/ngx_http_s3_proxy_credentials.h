/*
 * ngx_http_s3_proxy_module: what the files of credentials that rotate
 * share (ngx_http_s3_proxy_credentials.c: sources, zone, files, the
 * workers' signing settings; ngx_http_s3_proxy_fetch.c: the providers'
 * HTTP exchanges).
 */

#ifndef _NGX_HTTP_S3_PROXY_CREDENTIALS_H_INCLUDED_
#define _NGX_HTTP_S3_PROXY_CREDENTIALS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>
#include <ngx_http.h>

#include "ngx_http_s3_proxy_module.h"


#define NGX_HTTP_S3_PROXY_SLOTS         16
#define NGX_HTTP_S3_PROXY_KEY_MAX       128
#define NGX_HTTP_S3_PROXY_SECRET_MAX    256
#define NGX_HTTP_S3_PROXY_TOKEN_MAX     8192
#define NGX_HTTP_S3_PROXY_ID_MAX        512
#define NGX_HTTP_S3_PROXY_ANSWER_MAX    65536
#define NGX_HTTP_S3_PROXY_REQUEST_MAX   16384

/* how often each worker looks at the zone, and how long a fetch may take */
#define NGX_HTTP_S3_PROXY_TICK          1000
#define NGX_HTTP_S3_PROXY_TIMEOUT       5000
#define NGX_HTTP_S3_PROXY_STALE_FETCH   30

/* how often a profile's files are looked at */
#define NGX_HTTP_S3_PROXY_FILE_CHECK    2
#define NGX_HTTP_S3_PROXY_FILE_MAX      (1024 * 1024)

/* retries after a failure: 1 s, doubling, at most 60 s */
#define NGX_HTTP_S3_PROXY_BACKOFF_MAX   60


/* what a shared file was when last read */
typedef struct {
    time_t                     mtime;
    off_t                      size;
    ngx_file_uniq_t            uniq;
} ngx_http_s3_proxy_stamp_t;


/* One provider's credentials, in shared memory. */
typedef struct {
    u_char                     id[NGX_HTTP_S3_PROXY_ID_MAX];
    size_t                     id_len;         /* 0: a free slot */

    ngx_atomic_t               version;        /* 0: none yet */
    time_t                     expiration;
    time_t                     refresh;        /* next fetch is due */
    ngx_pid_t                  fetching;       /* the worker fetching */
    time_t                     fetch_start;
    ngx_uint_t                 failures;       /* of the current streak */
    ngx_http_s3_proxy_stamp_t  stamps[2];      /* a profile's two files */

    size_t                     access_key_len;
    size_t                     secret_key_len;
    size_t                     token_len;
    u_char                     access_key[NGX_HTTP_S3_PROXY_KEY_MAX];
    u_char                     secret_key[NGX_HTTP_S3_PROXY_SECRET_MAX];
    u_char                     token[NGX_HTTP_S3_PROXY_TOKEN_MAX];
} ngx_http_s3_proxy_slot_t;


typedef struct {
    ngx_http_s3_proxy_slot_t   slots[NGX_HTTP_S3_PROXY_SLOTS];
} ngx_http_s3_proxy_shctx_t;


/* One provider: configuration, then the fetching worker's state. */
typedef struct {
    ngx_uint_t                 source;         /* NGX_HTTP_S3_PROXY_IMDS... */
                                               /*   or 0: a profile's files */
    ngx_str_t                  name;           /* for logs */
    ngx_str_t                  id;             /* finds its slot */
    ngx_url_t                  url;
    ngx_str_t                  host;           /* Host header */
    ngx_str_t                  path;           /* container: path+query */
    ngx_str_t                  token;          /* container: Authorization */
    ngx_str_t                  token_file;     /* read for each fetch */
    ngx_str_t                  role_arn;
    ngx_str_t                  session_name;
    ngx_flag_t                 imds_v1;        /* fallback allowed */
    time_t                     lead;           /* largest s3_proxy_expires */

    /* a profile: its raw settings, and the keys read at configuration */
    s3p_settings_t             raw;
    s3p_str_t                  seed[3];
#if (NGX_HTTP_SSL)
    ngx_ssl_t                 *ssl;
#endif

    ngx_http_s3_proxy_slot_t  *slot;
    ngx_slab_pool_t           *shpool;

    /* the worker's fetch */
    ngx_event_t                tick;
    ngx_peer_connection_t      peer;
    ngx_log_t                 *log;
    s3p_step_t                 step;
    ngx_uint_t                 fetching;
    u_char                    *request;
    size_t                     request_len;
    size_t                     sent;
    u_char                    *answer;
    size_t                     answer_len;
    u_char                     imds_token[1024];
    size_t                     imds_token_len;
    u_char                     role[1024];
    size_t                     role_len;
} ngx_http_s3_proxy_provider_t;


/* A worker's signing settings resolved with one version of credentials. */
typedef struct {
    s3p_signing_t              signing;
    ngx_uint_t                 refs;           /* requests signing with it */
    ngx_uint_t                 retired;
    size_t                     size;           /* of this whole block */
} ngx_http_s3_proxy_resolved_t;


/* What a location signs with: a provider and its own s3_proxy_expires. */
struct ngx_http_s3_proxy_creds_s {
    ngx_http_s3_proxy_provider_t  *provider;
    s3p_settings_t                 raw;        /* keys: from the zone */
    int64_t                        expires;    /* resolved s3_proxy_expires */
    int64_t                        window;     /*   and presign window */

    /* the worker's current settings and what they were made from */
    ngx_http_s3_proxy_resolved_t  *current;
    ngx_atomic_uint_t              version;
    int64_t                        capped;     /* X-Amz-Expires used */
    time_t                         expiration;
    time_t                         logged;     /* "nothing valid" logged */
};


typedef struct {
    ngx_array_t                providers;      /* of ..._provider_t * */
    ngx_shm_zone_t            *zone;
} ngx_http_s3_proxy_creds_conf_t;


/* keys from files do not expire */
#define NGX_HTTP_S3_PROXY_NEVER  NGX_MAX_TIME_T_VALUE


/* ngx_http_s3_proxy_credentials.c */
ngx_uint_t ngx_http_s3_proxy_store(ngx_http_s3_proxy_slot_t *slot,
    s3p_str_t *keys, time_t expiration);

/* ngx_http_s3_proxy_refresh.c */
ngx_int_t ngx_http_s3_proxy_creds_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);

/* ngx_http_s3_proxy_fetch.c */
void ngx_http_s3_proxy_fetch_start(ngx_http_s3_proxy_provider_t *p);
#if (NGX_HTTP_SSL)
ngx_int_t ngx_http_s3_proxy_fetch_ssl_init(ngx_log_t *log);
#endif


#endif /* _NGX_HTTP_S3_PROXY_CREDENTIALS_H_INCLUDED_ */
