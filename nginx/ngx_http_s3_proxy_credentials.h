/*
 * ngx_http_s3_proxy_module: what the three files of credentials that
 * rotate share (ngx_http_s3_proxy_credentials.c: the providers, their
 * zone, what a request signs with; ngx_http_s3_proxy_provider.c: what a
 * provider reaches; ngx_http_s3_proxy_fetch.c: a provider's refresh
 * carried out).  Which source, and each step, are the core's
 * (s3p_provider_*()).
 */

#ifndef _NGX_HTTP_S3_PROXY_CREDENTIALS_H_INCLUDED_
#define _NGX_HTTP_S3_PROXY_CREDENTIALS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>
#include <ngx_http.h>

#include "ngx_http_s3_proxy_module.h"


#define NGX_HTTP_S3_PROXY_SLOTS  16

#define NGX_HTTP_S3_PROXY_KEYS_MAX                                          \
    (S3P_ACCESS_KEY_MAX + S3P_SECRET_KEY_MAX + S3P_SESSION_TOKEN_MAX)


/*
 * One provider's credentials, in shared memory.  A slot found by its id
 * keeps it across reloads; one that changes hands gets a new generation
 * (0: never used), which the workers of an older configuration see, and
 * stop reading it.
 */
typedef struct {
    u_char                     id[S3P_PROVIDER_ID_LEN];
    ngx_atomic_t               generation;

    ngx_atomic_t               version;        /* 0: none yet */
    time_t                     expiration;
    time_t                     refresh;        /* next fetch is due */
    ngx_pid_t                  fetching;       /* the worker fetching */
    time_t                     fetch_start;
    ngx_uint_t                 failures;       /* of the current streak */

    /* for s3_proxy_status, since the slot was taken */
    ngx_uint_t                 refreshes;
    ngx_uint_t                 refresh_failures;
    time_t                     refreshed;      /* the last success */
    s3p_verification_t         verification;   /* the last check with S3 */
    size_t                     error_len;
    u_char                     error[S3P_STATUS_ERROR_MAX];  /* the last */

    /* the keys in use are due to be checked with S3 */
    ngx_uint_t                 verify;

    /* the access key, the secret key and the token, one after another */
    size_t                     len[3];
    u_char                     keys[NGX_HTTP_S3_PROXY_KEYS_MAX];
} ngx_http_s3_proxy_slot_t;


/* One provider: the core's state, its endpoint, the worker's fetch. */
typedef struct {
    s3p_provider_t             core;
    ngx_url_t                  url[S3P_TARGETS];   /* the core's targets */
    ngx_int_t                  target;         /* while exchanging */
#if (NGX_HTTP_SSL)
    ngx_ssl_t                 *ssl;
#endif
    s3p_signing_t             *seed;           /* a profile's keys now */

    ngx_http_s3_proxy_slot_t  *slot;
    ngx_atomic_uint_t          generation;     /* the slot's, when taken */
    ngx_slab_pool_t           *shpool;

    ngx_event_t                tick;
    ngx_peer_connection_t      peer;           /* while exchanging */
    u_char                    *buf;            /* request, then answer */
    s3p_str_t                  request;
    size_t                     sent;
    size_t                     answer_len;
    ngx_msec_t                 timeout;
} ngx_http_s3_proxy_provider_t;


/* whether the provider's slot is still its own */
#define ngx_http_s3_proxy_slot_ours(p)                                      \
    ((p)->slot != NULL && (p)->slot->generation == (p)->generation)


/* ngx_http_s3_proxy_provider.c */
ngx_int_t ngx_http_s3_proxy_endpoint(ngx_conf_t *cf,
    ngx_http_s3_proxy_provider_t *p, ngx_http_s3_proxy_pos_t *pos);

/* ngx_http_s3_proxy_fetch.c */
ngx_uint_t ngx_http_s3_proxy_store(ngx_http_s3_proxy_slot_t *slot,
    s3p_str_t *access_key, s3p_str_t *secret_key, s3p_str_t *token,
    time_t expiration);


#endif /* _NGX_HTTP_S3_PROXY_CREDENTIALS_H_INCLUDED_ */
