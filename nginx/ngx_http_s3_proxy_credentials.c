/*
 * ngx_http_s3_proxy_module: credentials that rotate: each location's
 * source (the core's choice), the providers of a configuration and the
 * hosts they reach (resolved now, with a TLS context), the shared zone
 * that keeps each one's keys across reloads, and what a request signs
 * with.  docs/design.md, "Credentials that rotate", says how.
 */

#include "ngx_http_s3_proxy_credentials.h"


/*
 * A worker's memory for one location's settings resolved with one
 * version of credentials (the core's signing follows it), held by the
 * location while current, and by each request that signs with them.
 */
typedef struct {
    ngx_uint_t                 refs;
    size_t                     size;           /* of this whole block */
} ngx_http_s3_proxy_resolved_t;


/* What a location signs with: a provider, and what the worker holds. */
struct ngx_http_s3_proxy_creds_s {
    ngx_http_s3_proxy_provider_t  *provider;
    s3p_held_t                     held;       /* the core's */
    ngx_http_s3_proxy_resolved_t  *current;    /* held.signing's memory */
};


static ngx_int_t ngx_http_s3_proxy_endpoint(ngx_conf_t *cf,
    ngx_http_s3_proxy_provider_t *p, ngx_http_s3_proxy_pos_t *pos);
static ngx_int_t ngx_http_s3_proxy_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static uint8_t *ngx_http_s3_proxy_resolved_alloc(void *data, size_t size);
static void ngx_http_s3_proxy_release(void *data);


static ngx_str_t  ngx_http_s3_proxy_zone_name =
    ngx_string("s3_proxy_credentials");


/*
 * The source of a location's credentials, by the core: NGX_OK with
 * `provider` the new provider (the environment's keys too: stored once and
 * verified with S3); `raw` then names the source the core chose.
 * NGX_ERROR when logged.
 */

ngx_int_t
ngx_http_s3_proxy_provider(ngx_conf_t *cf, ngx_http_s3_proxy_loc_conf_t *conf,
    s3p_settings_t *raw, void **provider)
{
    u_char                         err[S3P_MESSAGE_MAX];
    ngx_http_s3_proxy_provider_t  *p;

    p = ngx_pcalloc(cf->pool, sizeof(ngx_http_s3_proxy_provider_t));
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (s3p_provider_configure(raw, &p->core, err, sizeof(err)) != S3P_OK) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "\"s3_proxy\": %s in %s:%ui",
                      err, conf->enable_pos.file_name, conf->enable_pos.line);
        return NGX_ERROR;
    }

    raw->credentials = p->core.source;
    *provider = p;

    return NGX_OK;
}


/*
 * A location whose keys rotate, once its settings were resolved with
 * `provider`'s source (`signing`): locations with the same provider share
 * it; a new one's endpoint is resolved, and its first location's keys
 * (`signing`'s, wiped with the configuration) may seed the zone.
 */

ngx_int_t
ngx_http_s3_proxy_credentials_conf(ngx_conf_t *cf,
    ngx_http_s3_proxy_loc_conf_t *conf, void *provider, s3p_settings_t *raw,
    s3p_signing_t *signing, ngx_http_s3_proxy_creds_t **creds)
{
    u_char                          err[S3P_MESSAGE_MAX];
    ngx_uint_t                      i;
    ngx_array_t                    *providers;
    ngx_shm_zone_t                 *zone;
    ngx_http_s3_proxy_creds_t      *cr;
    ngx_http_s3_proxy_provider_t   *p, **pp;
    ngx_http_s3_proxy_main_conf_t  *smcf;

    p = provider;
    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_s3_proxy_module);

    if (smcf->creds == NULL) {
        smcf->creds = ngx_array_create(cf->pool, 1,
                                       sizeof(ngx_http_s3_proxy_provider_t *));
        zone = ngx_shared_memory_add(cf, &ngx_http_s3_proxy_zone_name,
                   sizeof(ngx_http_s3_proxy_slot_t) * NGX_HTTP_S3_PROXY_SLOTS
                   + 65536, &ngx_http_s3_proxy_module);

        if (smcf->creds == NULL || zone == NULL) {
            return NGX_ERROR;
        }

        zone->init = ngx_http_s3_proxy_init_zone;
        zone->data = smcf->creds;
    }

    providers = smcf->creds;
    pp = providers->elts;

    for (i = 0; i < providers->nelts; i++) {
        if (ngx_memcmp(pp[i]->core.id, p->core.id, S3P_PROVIDER_ID_LEN) == 0) {
            p = pp[i];
            break;
        }
    }

    if (i == providers->nelts) {
        if (i == NGX_HTTP_S3_PROXY_SLOTS) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"s3_proxy\": more than %d credential "
                               "sources", NGX_HTTP_S3_PROXY_SLOTS);
            return NGX_ERROR;
        }

        /* the request and the answer of an exchange, made now or never */

        p->buf = ngx_palloc(cf->pool, S3P_PROVIDER_REQUEST_MAX
                                      + S3P_PROVIDER_ANSWER_MAX);
        pp = ngx_array_push(providers);

        if (p->buf == NULL || pp == NULL) {
            return NGX_ERROR;
        }

        *pp = p;
        p->seed = signing;

        /* S3 verifies the keys on the location's bucket, when it has one */

        if (!s3p_provider_verify_target(&p->core, signing, conf->core, err,
                                        sizeof(err)))
        {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, cf->log, 0, "s3 proxy: %s", err);
        }

        if (ngx_http_s3_proxy_endpoint(cf, p, &conf->enable_pos) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    cr = ngx_pcalloc(cf->pool, sizeof(ngx_http_s3_proxy_creds_t));
    if (cr == NULL) {
        return NGX_ERROR;
    }

    cr->provider = p;
    cr->held.raw = *raw;
    cr->held.raw.credentials = S3P_CREDENTIALS_ENV;
    cr->held.configured = signing;

    /* what the core leaves before expiry: the longest presigned lifetime */

    p->core.lead = ngx_max(p->core.lead, signing->expires + signing->window);

    *creds = cr;

    return NGX_OK;
}


/*
 * The provider's hosts (the core's targets), resolved now as nginx
 * resolves the servers its configuration names, each address of its own
 * endpoint checked by the core; for https, a TLS context that trusts the
 * core's CA bundle.
 */

static ngx_int_t
ngx_http_s3_proxy_endpoint(ngx_conf_t *cf, ngx_http_s3_proxy_provider_t *p,
    ngx_http_s3_proxy_pos_t *pos)
{
    u_char               err[S3P_MESSAGE_MAX];
    ngx_uint_t           i, t, tls;
    ngx_url_t           *u;
    s3p_target_t        *target;
#if (NGX_HTTP_SSL)
    ngx_str_t            bundle;
    ngx_pool_cleanup_t  *cln;
#endif

    tls = 0;

    for (t = 0; t < S3P_TARGETS; t++) {
        target = &p->core.targets[t];
        u = &p->url[t];

        if (target->host.len == 0) {
            continue;
        }

        tls |= target->tls;
        u->url.data = (u_char *) target->host.data;
        u->url.len = target->host.len;
        u->default_port = (in_port_t) target->port;

        if (ngx_parse_url(cf->pool, u) != NGX_OK || u->naddrs == 0) {
            u->naddrs = 0;

            /* the S3 target may be an upstream{} name: then not verified */

            if (s3p_endpoint_problem(&p->core, S3P_ENDPOINT_UNRESOLVED, t,
                                     u->err ? u->err : "no address",
                                     err, sizeof(err))
                != S3P_OK)
            {
                goto failed;
            }

            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, cf->log, 0, "s3 proxy: %s", err);
            continue;
        }

        for (i = 0; t == S3P_TARGET_PROVIDER && i < u->naddrs; i++) {
            if (s3p_provider_address(&p->core, u->addrs[i].sockaddr,
                                     err, sizeof(err))
                != S3P_OK)
            {
                goto failed;
            }
        }
    }

    if (!tls) {
        return NGX_OK;
    }

#if (NGX_HTTP_SSL)
    p->ssl = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t));
    cln = ngx_pool_cleanup_add(cf->pool, 0);

    if (p->ssl == NULL || cln == NULL) {
        return NGX_ERROR;
    }

    p->ssl->log = cf->log;

    if (ngx_ssl_create(p->ssl, NGX_SSL_TLSv1_2|NGX_SSL_TLSv1_3, NULL)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* freed with the configuration, not leaked at each reload */

    cln->handler = ngx_ssl_cleanup_ctx;
    cln->data = p->ssl;

    bundle.data = (u_char *) p->core.ca_bundle.data;
    bundle.len = p->core.ca_bundle.len;

    if (ngx_ssl_trusted_certificate(cf, p->ssl, &bundle, 2) == NGX_OK) {
        return NGX_OK;
    }

    s3p_endpoint_problem(&p->core, S3P_ENDPOINT_CA_BUNDLE, -1, NULL, err,
                         sizeof(err));
#else
    s3p_endpoint_problem(&p->core, S3P_ENDPOINT_NO_TLS, -1, NULL, err,
                         sizeof(err));
#endif

failed:

    ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "\"s3_proxy\": %s in %s:%ui",
                  err, pos->file_name, pos->line);

    return NGX_ERROR;
}


/*
 * The zone: kept across reloads (nginx maps it again with the same name
 * and size).  The core gives each provider its slot (s3p_slots_take())
 * and starts it with this configuration (s3p_slot_start()).
 */

static ngx_int_t
ngx_http_s3_proxy_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    int                             rc;
    ngx_uint_t                      i;
    ngx_array_t                    *providers;
    s3p_provider_t                 *cores[NGX_HTTP_S3_PROXY_SLOTS];
    ngx_slab_pool_t                *shpool;
    ngx_http_s3_proxy_slot_t       *slots;
    ngx_http_s3_proxy_provider_t  **pp, *p;

    providers = shm_zone->data;
    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (!shm_zone->shm.exists && data == NULL) {
        shpool->data = ngx_slab_calloc(shpool,
                                       sizeof(ngx_http_s3_proxy_slot_t)
                                       * NGX_HTTP_S3_PROXY_SLOTS);
        if (shpool->data == NULL) {
            return NGX_ERROR;
        }
    }

    slots = shpool->data;
    pp = providers->elts;

    for (i = 0; i < providers->nelts; i++) {
        cores[i] = &pp[i]->core;
    }

    ngx_shmtx_lock(&shpool->mutex);

    rc = s3p_slots_take(slots, NGX_HTTP_S3_PROXY_SLOTS, cores,
                        providers->nelts);

    for (i = 0; rc == S3P_OK && i < providers->nelts; i++) {
        p = pp[i];
        p->shpool = shpool;
        p->slot = &slots[p->core.slot];
        p->generation = p->slot->generation;

        if (s3p_slot_start(p->slot, &p->core, p->seed)) {
            ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                          "s3 proxy: credentials from \"%*s\": access "
                          "key id \"%*s\"", p->core.name.len,
                          p->core.name.data, p->seed->access_key.len,
                          p->seed->access_key.data);
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return (rc == S3P_OK) ? NGX_OK : NGX_ERROR;
}


/* The name of the location's source: "imds", "profile=NAME"... */

void
ngx_http_s3_proxy_credentials_source(ngx_http_s3_proxy_creds_t *creds,
    ngx_str_t *name)
{
    name->data = (u_char *) creds->provider->core.name.data;
    name->len = creds->provider->core.name.len;
}


/*
 * The signing settings a request of this location uses now (the core's
 * choice).  NGX_OK with ctx->signing and its expiration set (held until
 * the request ends); NGX_AGAIN when the source never gave credentials yet
 * (a cold start: worth waiting briefly); NGX_BUSY when no valid
 * credentials exist (the caller answers 503; logged here).
 */

ngx_int_t
ngx_http_s3_proxy_credentials_signing(ngx_http_request_t *r,
    ngx_http_s3_proxy_creds_t *creds, ngx_http_s3_proxy_ctx_t *ctx)
{
    u_char                         err[S3P_MESSAGE_MAX];
    s3p_use_t                      use;
    ngx_pool_cleanup_t            *cln;
    ngx_http_s3_proxy_resolved_t  *rs;
    ngx_http_s3_proxy_provider_t  *p;

    p = creds->provider;

    use = s3p_held_use(ngx_http_s3_proxy_slot_ours(p) ? p->slot : NULL,
                       &creds->held, ngx_time());

    if (use == S3P_USE_RENEW) {

        /* the core copies the keys from the zone, into memory of its own */

        rs = NULL;
        ngx_shmtx_lock(&p->shpool->mutex);

        use = s3p_held_renew(ngx_http_s3_proxy_slot_ours(p) ? p->slot : NULL,
                             &creds->held, ngx_time(),
                             ngx_http_s3_proxy_resolved_alloc, &rs, err,
                             sizeof(err));

        ngx_shmtx_unlock(&p->shpool->mutex);

        if (err[0]) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "s3 proxy: credentials from \"%*s\" cannot sign: %s",
                          p->core.name.len, p->core.name.data, err);
        }

        if (use == S3P_USE_SIGN) {
            ngx_http_s3_proxy_release(creds->current);
            creds->current = rs;

        } else {
            ngx_http_s3_proxy_release(rs);
        }
    }

    if (use == S3P_USE_SIGN) {
        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }

        cln->handler = ngx_http_s3_proxy_release;
        cln->data = creds->current;
        creds->current->refs++;

        ctx->signing = creds->held.signing;
        ctx->expiration = creds->held.expiration;

        return NGX_OK;
    }

    if (use == S3P_USE_SAY) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "s3 proxy: no valid credentials from \"%*s\" yet",
                      p->core.name.len, p->core.name.data);
    }

    return (use == S3P_USE_WAIT) ? NGX_AGAIN : NGX_BUSY;
}


/*
 * Memory for the settings the core resolves (s3p_alloc_t): a block of
 * the worker's own, held by the location, cleared when freed.
 */

static uint8_t *
ngx_http_s3_proxy_resolved_alloc(void *data, size_t size)
{
    ngx_http_s3_proxy_resolved_t  **rs = data;

    size += sizeof(ngx_http_s3_proxy_resolved_t);

    *rs = ngx_calloc(size, ngx_cycle->log);
    if (*rs == NULL) {
        return NULL;
    }

    (*rs)->refs = 1;
    (*rs)->size = size;

    return (uint8_t *) (*rs + 1);
}


/* A request ends, or settings are replaced: the last one frees them. */

static void
ngx_http_s3_proxy_release(void *data)
{
    ngx_http_s3_proxy_resolved_t  *rs = data;

    if (rs != NULL && --rs->refs == 0) {
        ngx_explicit_memzero(rs, rs->size);
        ngx_free(rs);
    }
}
