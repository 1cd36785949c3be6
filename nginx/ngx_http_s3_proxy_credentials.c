/*
 * ngx_http_s3_proxy_module: credentials that rotate.
 *
 * The core decides where each location's credentials come from
 * (s3p_provider_configure(): the environment's keys, a profile of the shared
 * files, or a provider: web identity, the container endpoint, IMDS) and every
 * step of a refresh (ngx_http_s3_proxy_fetch.c carries them out).  Here: the
 * providers of a configuration, resolved and with their TLS context; one shared
 * zone, "s3_proxy_credentials", that holds each one's current credentials and a
 * version and outlives a reload, so new workers sign at once; and what a
 * request signs with: a worker that sees a new version resolves its own signing
 * settings with it, a request holds the settings it was signed with until it
 * ends, and the last request of replaced settings clears and frees them.
 *
 * Secrets are never logged (the core's messages name the provider, the
 * access key id, the expiry, why it failed); the zone clears replaced ones.
 */

#include "ngx_http_s3_proxy_credentials.h"


/* A worker's signing settings resolved with one version of credentials. */
typedef struct {
    s3p_signing_t              signing;
    ngx_uint_t                 refs;           /* current, and requests */
    size_t                     size;           /* of this whole block */
    ngx_atomic_uint_t          version;        /* what they were made from */
    time_t                     expiration;
    int64_t                    capped;         /* X-Amz-Expires used */
} ngx_http_s3_proxy_resolved_t;


/* What a location signs with: a provider and its own s3_proxy_expires. */
struct ngx_http_s3_proxy_creds_s {
    ngx_http_s3_proxy_provider_t  *provider;
    s3p_settings_t                 raw;        /* keys: from the zone */
    s3p_str_t                      identity;   /* cache key's, as configured */
    int64_t                        expires;    /* resolved s3_proxy_expires */
    int64_t                        window;     /*   and presign window */
    ngx_http_s3_proxy_resolved_t  *current;    /* the worker's, or NULL */
    time_t                         logged;     /* "nothing valid" logged */
};


static ngx_int_t ngx_http_s3_proxy_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_http_s3_proxy_resolved_t *ngx_http_s3_proxy_resolve(
    ngx_http_s3_proxy_creds_t *creds, ngx_log_t *log, time_t now);
static void ngx_http_s3_proxy_release(void *data);


static ngx_str_t  ngx_http_s3_proxy_zone_name =
    ngx_string("s3_proxy_credentials");


/*
 * The source of a location's credentials, by the core: NGX_OK with
 * `provider` the new provider (the environment's keys too: stored once and
 * verified with S3); `raw`
 * then names the source the core chose.  NGX_ERROR when logged.
 */

ngx_int_t
ngx_http_s3_proxy_provider(ngx_conf_t *cf, ngx_http_s3_proxy_loc_conf_t *conf,
    s3p_settings_t *raw, void **provider)
{
    u_char                         err[S3P_MESSAGE_MAX];
    ngx_http_s3_proxy_provider_t  *p;

    *provider = NULL;

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
 * it; a new one's endpoint is resolved, and a profile's keys as read now
 * (`signing`'s, wiped with the configuration) seed the zone.
 */

ngx_int_t
ngx_http_s3_proxy_credentials_conf(ngx_conf_t *cf,
    ngx_http_s3_proxy_loc_conf_t *conf, void *provider, s3p_settings_t *raw,
    s3p_signing_t *signing, ngx_http_s3_proxy_creds_t **creds)
{
    ngx_uint_t                      i;
    ngx_array_t                    *providers;
    ngx_shm_zone_t                 *zone;
    ngx_http_s3_proxy_creds_t      *cr;
    ngx_http_s3_proxy_provider_t   *p, **pp;
    ngx_http_s3_proxy_main_conf_t  *smcf;

    p = provider;
    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_s3_proxy_module);

    if (smcf->creds == NULL) {
        providers = ngx_array_create(cf->pool, 1,
                                     sizeof(ngx_http_s3_proxy_provider_t *));
        if (providers == NULL) {
            return NGX_ERROR;
        }

        zone = ngx_shared_memory_add(cf, &ngx_http_s3_proxy_zone_name,
                   sizeof(ngx_http_s3_proxy_slot_t) * NGX_HTTP_S3_PROXY_SLOTS
                   + 65536, &ngx_http_s3_proxy_module);
        if (zone == NULL) {
            return NGX_ERROR;
        }

        zone->init = ngx_http_s3_proxy_init_zone;
        zone->data = providers;

        smcf->creds = providers;
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

        pp = ngx_array_push(providers);
        if (pp == NULL) {
            return NGX_ERROR;
        }

        *pp = p;

        /* the request and the answer of an exchange, made now or never */

        p->buf = ngx_palloc(cf->pool, S3P_PROVIDER_REQUEST_MAX
                                      + S3P_PROVIDER_ANSWER_MAX);
        if (p->buf == NULL) {
            return NGX_ERROR;
        }

        if ((p->core.source == S3P_CREDENTIALS_PROFILE
             || p->core.source == S3P_CREDENTIALS_ENV)
            && !p->core.assume)
        {
            p->seed = signing;
        }

        /*
         * where S3 verifies the keys: this location's endpoint and its
         * bucket, when not chosen per request
         */

        s3p_provider_verify_target(&p->core, signing,
                   (conf->bucket && conf->bucket->lengths == NULL)
                   ? (s3p_str_t *) &conf->bucket->value : NULL,
                   conf->core->buckets, conf->core->nbuckets);

        if (p->core.targets[S3P_TARGET_S3].host.len == 0) {
            ngx_log_debug2(NGX_LOG_DEBUG_HTTP, cf->log, 0,
                           "s3 proxy: credentials from \"%*s\" are not "
                           "verified with S3: no bucket (s3_proxy_bucket, "
                           "s3_proxy_buckets)", p->core.name.len,
                           p->core.name.data);
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
    cr->raw = *raw;
    cr->raw.credentials = S3P_CREDENTIALS_ENV;
    cr->identity = signing->cache_identity;
    cr->expires = signing->expires;
    cr->window = signing->window;

    /* what the core leaves before expiry: the longest presigned lifetime */

    p->core.lead = ngx_max(p->core.lead, signing->expires + signing->window);

    *creds = cr;

    return NGX_OK;
}


/*
 * The zone: kept across reloads (nginx maps it again with the same name
 * and size).  Each provider takes its own slot, found by its id; one new
 * to the zone takes a slot no provider of this configuration has, a
 * never used one first, which gets a new generation, so that the workers
 * of an older configuration that still read it stop there.
 */

static ngx_int_t
ngx_http_s3_proxy_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_uint_t                      i, j, k, taken;
    ngx_array_t                    *providers;
    ngx_slab_pool_t                *shpool;
    ngx_atomic_uint_t               generation;
    ngx_http_s3_proxy_slot_t       *slots, *s;
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
    taken = 0;

    ngx_shmtx_lock(&shpool->mutex);

    for (i = 0; i < providers->nelts; i++) {
        pp[i]->shpool = shpool;
        pp[i]->slot = NULL;

        for (j = 0; j < NGX_HTTP_S3_PROXY_SLOTS; j++) {
            if (slots[j].generation
                && ngx_memcmp(slots[j].id, pp[i]->core.id,
                              S3P_PROVIDER_ID_LEN) == 0)
            {
                pp[i]->slot = &slots[j];
                taken |= 1 << j;
            }
        }
    }

    for (i = 0; i < providers->nelts; i++) {
        p = pp[i];

        for (j = 0, k = NGX_HTTP_S3_PROXY_SLOTS;
             p->slot == NULL && j < NGX_HTTP_S3_PROXY_SLOTS;
             j++)
        {
            if (!(taken & (1 << j))
                && (k == NGX_HTTP_S3_PROXY_SLOTS
                    || (slots[k].generation && slots[j].generation == 0)))
            {
                k = j;
            }
        }

        if (p->slot == NULL && k < NGX_HTTP_S3_PROXY_SLOTS) {
            s = &slots[k];
            generation = s->generation + 1;
            ngx_explicit_memzero(s, sizeof(ngx_http_s3_proxy_slot_t));
            s->generation = generation;
            ngx_memcpy(s->id, p->core.id, S3P_PROVIDER_ID_LEN);
            p->slot = s;
            taken |= 1 << k;
        }

        if (p->slot == NULL) {
            ngx_shmtx_unlock(&shpool->mutex);
            return NGX_ERROR;
        }

        p->generation = p->slot->generation;

        /* each configuration verifies the keys in use once */

        p->slot->verify = (p->core.targets[S3P_TARGET_S3].host.len != 0);

        /* a profile's keys as this configuration read the files */

        if (p->seed) {
            p->slot->refresh = 0;

            if (ngx_http_s3_proxy_store(p->slot, &p->seed->access_key,
                                        &p->seed->secret_key,
                                        &p->seed->session_token,
                                        NGX_MAX_TIME_T_VALUE))
            {
                ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                              "s3 proxy: credentials from \"%*s\": access "
                              "key id \"%*s\"", p->core.name.len,
                              p->core.name.data, p->seed->access_key.len,
                              p->seed->access_key.data);
            }
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return NGX_OK;
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
 * The signing settings a request of this location uses now.  NGX_OK with
 * ctx->signing and its expiration set (held until the request ends);
 * NGX_AGAIN when the source never gave credentials yet (a cold start:
 * worth waiting briefly);
 * NGX_BUSY when no valid credentials exist (the caller answers 503;
 * logged here).
 */

ngx_int_t
ngx_http_s3_proxy_credentials_signing(ngx_http_request_t *r,
    ngx_http_s3_proxy_creds_t *creds, ngx_http_s3_proxy_ctx_t *ctx)
{
    time_t                         now;
    ngx_uint_t                     ours, version;
    ngx_pool_cleanup_t            *cln;
    ngx_http_s3_proxy_resolved_t  *rs;
    ngx_http_s3_proxy_provider_t  *p;

    p = creds->provider;
    now = ngx_time();
    ours = ngx_http_s3_proxy_slot_ours(p);
    version = ours ? p->slot->version : 0;
    rs = creds->current;

    if (rs == NULL || version != rs->version
        || s3p_presign_cap(creds->expires, creds->window, rs->expiration, now)
           != rs->capped)
    {
        rs = version ? ngx_http_s3_proxy_resolve(creds, r->connection->log,
                                                 now)
                     : NULL;
    }

    if (rs != NULL && rs->expiration > now) {
        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }

        cln->handler = ngx_http_s3_proxy_release;
        cln->data = rs;
        rs->refs++;

        ctx->signing = &rs->signing;
        ctx->expiration = rs->expiration;

        return NGX_OK;
    }

    if (version == 0 && ours && p->slot->failures == 0) {
        return NGX_AGAIN;
    }

    if (creds->logged != now) {
        creds->logged = now;
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "s3 proxy: no valid credentials from \"%*s\" yet",
                      p->core.name.len, p->core.name.data);
    }

    return NGX_BUSY;
}


/*
 * The location's settings resolved with the zone's credentials into this
 * worker's memory (a block of its own, cleared when freed), and made
 * current; NULL if they cannot be.  The core copies the keys from the
 * zone, locked meanwhile.
 */

static ngx_http_s3_proxy_resolved_t *
ngx_http_s3_proxy_resolve(ngx_http_s3_proxy_creds_t *creds, ngx_log_t *log,
    time_t now)
{
    int                            rc;
    u_char                         err[S3P_MESSAGE_MAX];
    size_t                         size;
    int64_t                        cap;
    s3p_settings_t                 settings;
    s3p_environment_t              env;
    ngx_http_s3_proxy_slot_t      *slot;
    ngx_http_s3_proxy_resolved_t  *rs;
    ngx_http_s3_proxy_provider_t  *p;

    p = creds->provider;
    slot = p->slot;
    env = *creds->raw.env;
    settings = creds->raw;
    settings.env = &env;
    rs = NULL;
    rc = S3P_OK;

    ngx_shmtx_lock(&p->shpool->mutex);

    if (!ngx_http_s3_proxy_slot_ours(p) || slot->expiration <= now) {
        goto done;
    }

    env.access_key_id.data = slot->keys;
    env.access_key_id.len = slot->len[0];
    env.secret_access_key.data = slot->keys + slot->len[0];
    env.secret_access_key.len = slot->len[1];
    env.session_token.data = slot->keys + slot->len[0] + slot->len[1];
    env.session_token.len = slot->len[2];

    /* presigned URLs never outlive their credentials */

    cap = s3p_presign_cap(creds->expires, creds->window, slot->expiration,
                          now);

    if (cap != 0) {
        settings.expires = cap;
        settings.window = S3P_UNSET;
    }

    size = sizeof(ngx_http_s3_proxy_resolved_t) + s3p_signing_bound(&settings);

    rs = ngx_calloc(size, log);
    if (rs == NULL) {
        goto done;
    }

    rs->refs = 1;           /* the location's own reference */
    rs->size = size;
    rs->version = slot->version;
    rs->expiration = slot->expiration;
    rs->capped = cap;

    rc = s3p_signing_resolve(&settings, &rs->signing, (u_char *) (rs + 1),
                             size - sizeof(ngx_http_s3_proxy_resolved_t),
                             err, sizeof(err));

done:

    ngx_shmtx_unlock(&p->shpool->mutex);

    if (rc != S3P_OK) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "s3 proxy: credentials from \"%*s\" cannot sign: %s",
                      p->core.name.len, p->core.name.data, err);
        ngx_http_s3_proxy_release(rs);
        return NULL;
    }

    if (rs != NULL) {
        rs->signing.cache_identity = creds->identity;   /* keys rotate */
        if (creds->current) {
            ngx_http_s3_proxy_release(creds->current);
        }

        creds->current = rs;
    }

    return rs;
}


/* A request ends, or settings are replaced: the last one frees them. */

static void
ngx_http_s3_proxy_release(void *data)
{
    ngx_http_s3_proxy_resolved_t  *rs = data;

    if (--rs->refs == 0) {
        ngx_explicit_memzero(rs, rs->size);
        ngx_free(rs);
    }
}
