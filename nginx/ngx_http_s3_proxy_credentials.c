/*
 * ngx_http_s3_proxy_module: credentials that rotate.
 *
 * The core decides where each location's credentials come from
 * (s3p_provider_configure(): the environment's keys, a profile of the
 * shared files, or a provider: web identity, the container endpoint,
 * IMDS) and every step of a refresh (ngx_http_s3_proxy_fetch.c carries
 * them out).  Here: the providers of a configuration, resolved and with
 * their TLS context; one shared zone, "s3_proxy_credentials", that holds
 * each one's current credentials and a version and outlives a reload, so
 * new workers sign at once; and each worker's timer, which looks at every
 * provider once a second: the worker that takes the zone's lock first
 * while a refresh is due does it, the others keep signing with the
 * credentials in the zone.
 *
 * Secrets are never logged: the core's messages name the provider, the
 * access key id, the expiry and the reason of a failure.  The zone's copy
 * of a secret is cleared when it is replaced.
 */

#include "ngx_http_s3_proxy_credentials.h"


static ngx_int_t ngx_http_s3_proxy_endpoint(ngx_conf_t *cf,
    ngx_http_s3_proxy_provider_t *p, ngx_http_s3_proxy_pos_t *pos);
static ngx_int_t ngx_http_s3_proxy_creds_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_http_s3_proxy_slot_t *ngx_http_s3_proxy_take_slot(
    ngx_http_s3_proxy_shctx_t *sh, ngx_http_s3_proxy_creds_conf_t *ccf,
    ngx_uint_t n);
static void ngx_http_s3_proxy_tick(ngx_event_t *ev);


static ngx_str_t  ngx_http_s3_proxy_zone_name =
    ngx_string("s3_proxy_credentials");


/*
 * The source of a location's credentials, by the core: NGX_OK with `p`
 * NULL for keys that never change, else a new provider; `raw` then names
 * the source the core chose.  NGX_ERROR when logged.
 */

ngx_int_t
ngx_http_s3_proxy_provider(ngx_conf_t *cf, ngx_http_s3_proxy_loc_conf_t *conf,
    s3p_settings_t *raw, void **provider)
{
    u_char                        err[256];
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

    if (p->core.source == S3P_CREDENTIALS_ENV) {
        return NGX_OK;
    }

    *provider = p;

    return NGX_OK;
}


/*
 * A location whose keys rotate, once its settings were resolved with
 * `provider`'s source (`signing`): locations with the same provider share
 * it; a new one's endpoint is resolved, and a profile's keys as read now
 * seed the zone.
 */

ngx_int_t
ngx_http_s3_proxy_credentials_conf(ngx_conf_t *cf,
    ngx_http_s3_proxy_loc_conf_t *conf, void *provider, s3p_settings_t *raw,
    s3p_signing_t *signing, ngx_http_s3_proxy_creds_t **creds)
{
    u_char                          *s;
    ngx_uint_t                       i;
    s3p_str_t                        keys[3];
    ngx_http_s3_proxy_creds_t       *cr;
    ngx_http_s3_proxy_provider_t    *p, **pp;
    ngx_http_s3_proxy_creds_conf_t  *ccf;
    ngx_http_s3_proxy_main_conf_t   *smcf;

    p = provider;
    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_s3_proxy_module);

    if (smcf->creds == NULL) {
        ccf = ngx_pcalloc(cf->pool, sizeof(ngx_http_s3_proxy_creds_conf_t));
        if (ccf == NULL
            || ngx_array_init(&ccf->providers, cf->pool, 1,
                              sizeof(ngx_http_s3_proxy_provider_t *))
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        ccf->zone = ngx_shared_memory_add(cf, &ngx_http_s3_proxy_zone_name,
                        sizeof(ngx_http_s3_proxy_shctx_t) + 65536,
                        &ngx_http_s3_proxy_module);
        if (ccf->zone == NULL) {
            return NGX_ERROR;
        }

        ccf->zone->init = ngx_http_s3_proxy_creds_init_zone;
        ccf->zone->data = ccf;

        smcf->creds = ccf;
    }

    ccf = smcf->creds;
    pp = ccf->providers.elts;

    for (i = 0; i < ccf->providers.nelts; i++) {
        if (ngx_memcmp(pp[i]->core.id, p->core.id, S3P_PROVIDER_ID_LEN) == 0) {
            p = pp[i];
            break;
        }
    }

    if (i == ccf->providers.nelts) {
        if (ccf->providers.nelts == NGX_HTTP_S3_PROXY_SLOTS) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"s3_proxy\": more than %d credential "
                               "sources", NGX_HTTP_S3_PROXY_SLOTS);
            return NGX_ERROR;
        }

        pp = ngx_array_push(&ccf->providers);
        if (pp == NULL) {
            return NGX_ERROR;
        }

        *pp = p;

        if (p->core.source != S3P_CREDENTIALS_PROFILE
            && ngx_http_s3_proxy_endpoint(cf, p, &conf->enable_pos) != NGX_OK)
        {
            return NGX_ERROR;
        }

        /* the keys as read now; the copies are wiped with the settings */

        keys[0] = signing->access_key;
        keys[1] = signing->secret_key;
        keys[2] = signing->session_token;

        for (i = 0; p->core.source == S3P_CREDENTIALS_PROFILE && i < 3; i++) {
            s = ngx_pnalloc(cf->pool, keys[i].len + 1);
            if (s == NULL
                || ngx_http_s3_proxy_wipe_later(cf, s, keys[i].len) != NGX_OK)
            {
                return NGX_ERROR;
            }

            ngx_memcpy(s, keys[i].data, keys[i].len);
            p->seed[i].data = s;
            p->seed[i].len = keys[i].len;
        }
    }

    cr = ngx_pcalloc(cf->pool, sizeof(ngx_http_s3_proxy_creds_t));
    if (cr == NULL) {
        return NGX_ERROR;
    }

    cr->provider = p;
    cr->raw = *raw;
    cr->raw.credentials = S3P_CREDENTIALS_ENV;
    cr->expires = signing->expires;
    cr->window = signing->window;

    /* what the core leaves before expiry: the longest presigned lifetime */

    p->core.lead = ngx_max(p->core.lead, signing->expires + signing->window);

    *creds = cr;

    return NGX_OK;
}


/*
 * The provider's endpoint, resolved now, as nginx resolves upstream
 * servers named in its configuration, and each address checked by the
 * core; for https, a TLS context trusting the core's CA bundle.
 */

static ngx_int_t
ngx_http_s3_proxy_endpoint(ngx_conf_t *cf, ngx_http_s3_proxy_provider_t *p,
    ngx_http_s3_proxy_pos_t *pos)
{
    u_char               err[256], *a;
    size_t               len;
    ngx_str_t            url;
    ngx_uint_t           i;
#if (NGX_HTTP_SSL)
    ngx_str_t            bundle;
    ngx_pool_cleanup_t  *cln;
#endif

    url.data = (u_char *) p->core.url.data;
    url.len = p->core.url.len;

    p->url.url.data = (u_char *) p->core.host.data;
    p->url.url.len = p->core.host.len;
    p->url.default_port = (in_port_t) p->core.port;
    p->url.no_resolve = 0;

    if (ngx_parse_url(cf->pool, &p->url) != NGX_OK || p->url.naddrs == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"s3_proxy\": the %*s endpoint \"%V\": %s in %s:%ui",
                      p->core.name.len, p->core.name.data, &url,
                      p->url.err ? p->url.err : "no address",
                      pos->file_name, pos->line);
        return NGX_ERROR;
    }

    for (i = 0; i < p->url.naddrs; i++) {
        if (p->url.addrs[i].sockaddr->sa_family == AF_INET) {
            a = (u_char *) &((struct sockaddr_in *)
                                 p->url.addrs[i].sockaddr)->sin_addr;
            len = 4;
#if (NGX_HAVE_INET6)
        } else if (p->url.addrs[i].sockaddr->sa_family == AF_INET6) {
            a = ((struct sockaddr_in6 *)
                     p->url.addrs[i].sockaddr)->sin6_addr.s6_addr;
            len = 16;
#endif
        } else {
            continue;
        }

        if (s3p_provider_address(&p->core, a, len, err, sizeof(err))
            != S3P_OK)
        {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"s3_proxy\": %s in %s:%ui",
                          err, pos->file_name, pos->line);
            return NGX_ERROR;
        }
    }

    if (!p->core.tls) {
        return NGX_OK;
    }

#if (NGX_HTTP_SSL)
    p->ssl = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t));
    if (p->ssl == NULL) {
        return NGX_ERROR;
    }

    p->ssl->log = cf->log;

    if (ngx_ssl_create(p->ssl, NGX_SSL_TLSv1_2|NGX_SSL_TLSv1_3, NULL)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* freed with the configuration, not leaked at each reload */

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_ssl_cleanup_ctx(p->ssl);
        return NGX_ERROR;
    }

    cln->handler = ngx_ssl_cleanup_ctx;
    cln->data = p->ssl;

    bundle.data = (u_char *) p->core.ca_bundle.data;
    bundle.len = p->core.ca_bundle.len;

    if (ngx_ssl_trusted_certificate(cf, p->ssl, &bundle, 2) != NGX_OK) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"s3_proxy\": the %*s endpoint \"%V\": the CA bundle "
                      "\"%*s\" (AWS_CA_BUNDLE, or the system's) cannot be "
                      "loaded in %s:%ui", p->core.name.len, p->core.name.data,
                      &url, p->core.ca_bundle.len, p->core.ca_bundle.data,
                      pos->file_name, pos->line);
        return NGX_ERROR;
    }

    return NGX_OK;
#else
    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                  "\"s3_proxy\": the %*s endpoint \"%V\" needs nginx built "
                  "with SSL in %s:%ui", p->core.name.len, p->core.name.data,
                  &url, pos->file_name, pos->line);
    return NGX_ERROR;
#endif
}


/*
 * The zone: kept across reloads (nginx maps it again with the same name
 * and size), so each provider finds its slot by its id.
 */

static ngx_int_t
ngx_http_s3_proxy_creds_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_uint_t                       i;
    ngx_slab_pool_t                 *shpool;
    ngx_http_s3_proxy_shctx_t       *sh;
    ngx_http_s3_proxy_provider_t   **pp, *p;
    ngx_http_s3_proxy_creds_conf_t  *ccf;

    ccf = shm_zone->data;
    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists || data != NULL) {
        sh = shpool->data;

    } else {
        sh = ngx_slab_calloc(shpool, sizeof(ngx_http_s3_proxy_shctx_t));
        if (sh == NULL) {
            return NGX_ERROR;
        }

        shpool->data = sh;
    }

    pp = ccf->providers.elts;

    ngx_shmtx_lock(&shpool->mutex);

    for (i = 0; i < ccf->providers.nelts; i++) {
        p = pp[i];
        p->shpool = shpool;
        p->slot = ngx_http_s3_proxy_take_slot(sh, ccf, i);

        if (p->slot == NULL) {
            ngx_shmtx_unlock(&shpool->mutex);
            return NGX_ERROR;
        }

        p->generation = p->slot->generation;

        /* a profile's keys as this configuration read the files */

        if (p->core.source == S3P_CREDENTIALS_PROFILE) {
            p->slot->refresh = 0;

            if (ngx_http_s3_proxy_store(p->slot, p->seed, NGX_MAX_TIME_T_VALUE))
            {
                ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                              "s3 proxy: credentials from \"%*s\": access "
                              "key id \"%*s\"", p->core.name.len,
                              p->core.name.data, p->seed[0].len,
                              p->seed[0].data);
            }
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return NGX_OK;
}


/*
 * The slot of the n-th provider (the lock held): its own, by its id;
 * else a free one; else one this configuration does not use, which gets
 * a new generation, so that the workers of an older configuration that
 * still read it stop there.
 */

static ngx_http_s3_proxy_slot_t *
ngx_http_s3_proxy_take_slot(ngx_http_s3_proxy_shctx_t *sh,
    ngx_http_s3_proxy_creds_conf_t *ccf, ngx_uint_t n)
{
    ngx_uint_t                      i, j, nelts;
    ngx_atomic_uint_t               generation;
    ngx_http_s3_proxy_slot_t       *slot, *free;
    ngx_http_s3_proxy_provider_t  **pp;

    pp = ccf->providers.elts;
    nelts = ccf->providers.nelts;
    free = NULL;

    for (i = 0; i < NGX_HTTP_S3_PROXY_SLOTS; i++) {
        slot = &sh->slots[i];

        if (slot->used
            && ngx_memcmp(slot->id, pp[n]->core.id, S3P_PROVIDER_ID_LEN) == 0)
        {
            return slot;
        }

        if (free == NULL && !slot->used) {
            free = slot;
        }
    }

    for (i = 0; i < NGX_HTTP_S3_PROXY_SLOTS && free == NULL; i++) {
        slot = &sh->slots[i];

        for (j = 0; j < nelts; j++) {
            if (pp[j]->slot == slot
                || ngx_memcmp(slot->id, pp[j]->core.id, S3P_PROVIDER_ID_LEN)
                   == 0)
            {
                break;
            }
        }

        if (j == nelts) {
            free = slot;
        }
    }

    if (free == NULL) {
        return NULL;
    }

    generation = free->generation + 1;
    ngx_explicit_memzero(free, sizeof(ngx_http_s3_proxy_slot_t));
    free->generation = generation;
    ngx_memcpy(free->id, pp[n]->core.id, S3P_PROVIDER_ID_LEN);
    free->used = 1;

    return free;
}


/* Each worker looks at each provider once a second. */

ngx_int_t
ngx_http_s3_proxy_credentials_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                       i;
    ngx_http_s3_proxy_provider_t   **pp, *p;
    ngx_http_s3_proxy_main_conf_t   *smcf;
    ngx_http_s3_proxy_creds_conf_t  *ccf;

    smcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_s3_proxy_module);

    if (smcf == NULL || smcf->creds == NULL) {
        return NGX_OK;
    }

    ccf = smcf->creds;
    pp = ccf->providers.elts;

    for (i = 0; i < ccf->providers.nelts; i++) {
        p = pp[i];

        if (p->slot == NULL) {
            continue;
        }

        p->log = cycle->log;
        p->tick.handler = ngx_http_s3_proxy_tick;
        p->tick.data = p;
        p->tick.log = cycle->log;
        p->tick.cancelable = 1;

        /* the first look at once: a cold start fetches without delay */
        ngx_add_timer(&p->tick, 1);
    }

    return NGX_OK;
}


static void
ngx_http_s3_proxy_tick(ngx_event_t *ev)
{
    time_t                         now;
    ngx_uint_t                     claim;
    ngx_http_s3_proxy_slot_t      *slot;
    ngx_http_s3_proxy_provider_t  *p;

    p = ev->data;
    slot = p->slot;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_add_timer(&p->tick, NGX_HTTP_S3_PROXY_TICK);

    if (p->fetching) {
        return;
    }

    now = ngx_time();
    claim = 0;

    ngx_shmtx_lock(&p->shpool->mutex);

    if (ngx_http_s3_proxy_slot_ours(p)
        && now >= slot->refresh
        && (slot->fetching == 0
            || now - slot->fetch_start > NGX_HTTP_S3_PROXY_STALE_FETCH))
    {
        slot->fetching = ngx_pid;
        slot->fetch_start = now;
        claim = 1;
    }

    ngx_shmtx_unlock(&p->shpool->mutex);

    if (claim) {
        ngx_http_s3_proxy_fetch_start(p);
    }
}


/*
 * Puts keys into a slot (its lock held), the old secret and token
 * cleared; 1 when they changed, and the version moved.
 */

ngx_uint_t
ngx_http_s3_proxy_store(ngx_http_s3_proxy_slot_t *slot, s3p_str_t *keys,
    time_t expiration)
{
    if (keys[0].len > S3P_ACCESS_KEY_MAX
        || keys[1].len > S3P_SECRET_KEY_MAX
        || keys[2].len > S3P_SESSION_TOKEN_MAX)
    {
        return 0;
    }

    if (slot->version != 0
        && slot->access_key_len == keys[0].len
        && ngx_memcmp(slot->access_key, keys[0].data, keys[0].len) == 0
        && slot->secret_key_len == keys[1].len
        && ngx_memcmp(slot->secret_key, keys[1].data, keys[1].len) == 0
        && slot->token_len == keys[2].len
        && ngx_memcmp(slot->token, keys[2].data, keys[2].len) == 0
        && slot->expiration == expiration)
    {
        return 0;
    }

    ngx_explicit_memzero(slot->secret_key, sizeof(slot->secret_key));
    ngx_explicit_memzero(slot->token, sizeof(slot->token));

    ngx_memcpy(slot->access_key, keys[0].data, keys[0].len);
    slot->access_key_len = keys[0].len;
    ngx_memcpy(slot->secret_key, keys[1].data, keys[1].len);
    slot->secret_key_len = keys[1].len;
    ngx_memcpy(slot->token, keys[2].data, keys[2].len);
    slot->token_len = keys[2].len;
    slot->expiration = expiration;

    (void) ngx_atomic_fetch_add(&slot->version, 1);

    return 1;
}
