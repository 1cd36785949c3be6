/*
 * ngx_http_s3_proxy_module: what the files of credentials that rotate
 * share (docs/design.md, "Credentials that rotate").  Which source, each
 * step of a refresh and what a zone slot holds are the core's
 * (s3p_provider_*(), s3p_slot_*()).
 */

#ifndef _NGX_HTTP_S3_PROXY_CREDENTIALS_H_INCLUDED_
#define _NGX_HTTP_S3_PROXY_CREDENTIALS_H_INCLUDED_


#include "ngx_http_s3_proxy_module.h"    /* nginx's http, events, peers */


#define NGX_HTTP_S3_PROXY_SLOTS  16


/* One provider's credentials, in shared memory: the core writes them. */
typedef s3p_slot_t  ngx_http_s3_proxy_slot_t;


/* One provider: the core's state, its endpoint, the worker's fetch. */
typedef struct {
    s3p_provider_t             core;
    ngx_url_t                  url[S3P_TARGETS];   /* the core's targets */
#if (NGX_HTTP_SSL)
    ngx_ssl_t                 *ssl;
#endif
    s3p_signing_t             *seed;           /* a profile's keys now */

    ngx_http_s3_proxy_slot_t  *slot;
    uint64_t                   generation;     /* the slot's, when taken */
    ngx_slab_pool_t           *shpool;

    ngx_event_t                tick;
    ngx_peer_connection_t      peer;           /* while exchanging */
    s3p_provider_step_t        step;           /* the fetch's last */
    u_char                    *buf;            /* request, then answer */
    size_t                     sent;
    size_t                     answer_len;
} ngx_http_s3_proxy_provider_t;


/* whether the provider's slot is still its own */
#define ngx_http_s3_proxy_slot_ours(p)                                      \
    ((p)->slot != NULL && (p)->slot->generation == (p)->generation)


#endif /* _NGX_HTTP_S3_PROXY_CREDENTIALS_H_INCLUDED_ */
