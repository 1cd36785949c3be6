/*
 * ngx_http_s3_proxy_module: what the files of credentials that rotate
 * share (ngx_http_s3_proxy_credentials.c: the providers, their zone and
 * timer; ngx_http_s3_proxy_fetch.c: carrying out a provider's steps;
 * ngx_http_s3_proxy_rotation.c: what a request signs with).  Which
 * source, and each step, are the core's (s3p_provider_*()).
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

/* how often each worker looks at the zone; a fetch older is taken over */
#define NGX_HTTP_S3_PROXY_TICK          1000
#define NGX_HTTP_S3_PROXY_STALE_FETCH   30


/*
 * One provider's credentials, in shared memory.  A slot found by its id
 * keeps it across reloads; one that changes hands gets a new generation,
 * which the workers of an older configuration see, and stop reading it.
 */
typedef struct {
    u_char                     id[S3P_PROVIDER_ID_LEN];
    ngx_uint_t                 used;
    ngx_atomic_t               generation;

    ngx_atomic_t               version;        /* 0: none yet */
    time_t                     expiration;
    time_t                     refresh;        /* next fetch is due */
    ngx_pid_t                  fetching;       /* the worker fetching */
    time_t                     fetch_start;
    ngx_uint_t                 failures;       /* of the current streak */

    size_t                     access_key_len;
    size_t                     secret_key_len;
    size_t                     token_len;
    u_char                     access_key[S3P_ACCESS_KEY_MAX];
    u_char                     secret_key[S3P_SECRET_KEY_MAX];
    u_char                     token[S3P_SESSION_TOKEN_MAX];
} ngx_http_s3_proxy_slot_t;


typedef struct {
    ngx_http_s3_proxy_slot_t   slots[NGX_HTTP_S3_PROXY_SLOTS];
} ngx_http_s3_proxy_shctx_t;


/* One provider: the core's state, its endpoint, the worker's fetch. */
typedef struct {
    s3p_provider_t             core;
    ngx_url_t                  url;
#if (NGX_HTTP_SSL)
    ngx_ssl_t                 *ssl;
#endif
    s3p_str_t                  seed[3];        /* a profile's keys now */

    ngx_http_s3_proxy_slot_t  *slot;
    ngx_atomic_uint_t          generation;     /* the slot's, when taken */
    ngx_slab_pool_t           *shpool;

    ngx_event_t                tick;
    ngx_peer_connection_t      peer;
    ngx_log_t                 *log;
    ngx_uint_t                 fetching;
    u_char                    *buf;            /* request, then answer */
    s3p_str_t                  request;
    size_t                     sent;
    size_t                     answer_len;
    ngx_msec_t                 timeout;
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


/* whether the provider's slot is still its own (the zone's lock held) */
#define ngx_http_s3_proxy_slot_ours(p)                                      \
    ((p)->slot != NULL && (p)->slot->generation == (p)->generation)


/* ngx_http_s3_proxy_credentials.c */
ngx_uint_t ngx_http_s3_proxy_store(ngx_http_s3_proxy_slot_t *slot,
    s3p_str_t *keys, time_t expiration);

/* ngx_http_s3_proxy_fetch.c */
void ngx_http_s3_proxy_fetch_start(ngx_http_s3_proxy_provider_t *p);


#endif /* _NGX_HTTP_S3_PROXY_CREDENTIALS_H_INCLUDED_ */
