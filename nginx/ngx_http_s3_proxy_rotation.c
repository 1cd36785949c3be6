/*
 * ngx_http_s3_proxy_module: what a request signs with, when the
 * credentials rotate.
 *
 * A worker that sees a new version of its location's credentials in the
 * zone resolves its own signing settings with them (a new generation);
 * a request holds the settings it was signed with until it ends, and the
 * last request of retired settings clears and frees them.
 */

#include "ngx_http_s3_proxy_credentials.h"


static ngx_int_t ngx_http_s3_proxy_resolve(ngx_http_s3_proxy_creds_t *creds,
    ngx_log_t *log, time_t now);
static void ngx_http_s3_proxy_release(ngx_http_s3_proxy_resolved_t *rs);
static void ngx_http_s3_proxy_request_done(void *data);


/*
 * The signing settings a request of this location uses now.  NGX_OK with
 * `signing` set (held until the request ends); NGX_AGAIN when the source
 * never gave credentials yet (a cold start: worth waiting briefly);
 * NGX_BUSY when no valid credentials exist (the caller answers 503;
 * logged here).
 */

ngx_int_t
ngx_http_s3_proxy_credentials_signing(ngx_http_request_t *r,
    ngx_http_s3_proxy_creds_t *creds, const s3p_signing_t **signing)
{
    time_t                         now;
    ngx_uint_t                     version;
    ngx_pool_cleanup_t            *cln;
    ngx_http_s3_proxy_slot_t      *slot;
    ngx_http_s3_proxy_provider_t  *p;

    p = creds->provider;
    slot = p->slot;
    now = ngx_time();

    version = (slot && slot->generation == p->generation) ? slot->version : 0;

    if (creds->current == NULL || version != creds->version
        || s3p_presign_cap(creds->expires, creds->window, creds->expiration,
                           now)
           != creds->capped)
    {
        if (version == 0
            || ngx_http_s3_proxy_resolve(creds, r->connection->log, now)
               != NGX_OK)
        {
            goto none;
        }
    }

    if (creds->expiration <= now || creds->current == NULL) {
        goto none;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_s3_proxy_request_done;
    cln->data = creds->current;
    creds->current->refs++;

    *signing = &creds->current->signing;

    return NGX_OK;

none:

    if (version == 0 && slot != NULL && slot->failures == 0
        && slot->generation == p->generation)
    {
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
 * Resolves the location's settings with the zone's credentials into this
 * worker's memory (a block of its own, cleared when freed).
 */

static ngx_int_t
ngx_http_s3_proxy_resolve(ngx_http_s3_proxy_creds_t *creds, ngx_log_t *log,
    time_t now)
{
    u_char                         err[256], *keys, *k;
    size_t                         bound, size;
    int64_t                        cap;
    time_t                         expiration;
    ngx_atomic_uint_t              version;
    s3p_settings_t                 settings;
    s3p_environment_t              env;
    ngx_http_s3_proxy_slot_t      *slot;
    ngx_http_s3_proxy_resolved_t  *rs;
    ngx_http_s3_proxy_provider_t  *p;

    p = creds->provider;
    slot = p->slot;

    size = S3P_ACCESS_KEY_MAX + S3P_SECRET_KEY_MAX + S3P_SESSION_TOKEN_MAX;

    keys = ngx_alloc(size, log);
    if (keys == NULL) {
        return NGX_ERROR;
    }

    env = *creds->raw.env;
    k = keys;

    ngx_shmtx_lock(&p->shpool->mutex);

    if (!ngx_http_s3_proxy_slot_ours(p)) {
        ngx_shmtx_unlock(&p->shpool->mutex);
        ngx_free(keys);
        return NGX_DECLINED;
    }

    version = slot->version;
    expiration = slot->expiration;

    env.access_key_id.data = k;
    env.access_key_id.len = slot->access_key_len;
    k = ngx_cpymem(k, slot->access_key, slot->access_key_len);

    env.secret_access_key.data = k;
    env.secret_access_key.len = slot->secret_key_len;
    k = ngx_cpymem(k, slot->secret_key, slot->secret_key_len);

    env.session_token.data = k;
    env.session_token.len = slot->token_len;
    (void) ngx_cpymem(k, slot->token, slot->token_len);

    ngx_shmtx_unlock(&p->shpool->mutex);

    settings = creds->raw;
    settings.env = &env;

    /* presigned URLs never outlive their credentials */

    cap = s3p_presign_cap(creds->expires, creds->window, expiration, now);

    if (cap != 0) {
        settings.expires = cap;
        settings.window = S3P_UNSET;
    }

    rs = NULL;

    if (expiration <= now || env.access_key_id.len == 0
        || env.secret_access_key.len == 0)
    {
        goto failed;
    }

    bound = s3p_signing_bound(&settings);

    rs = ngx_alloc(sizeof(ngx_http_s3_proxy_resolved_t) + bound, log);
    if (rs == NULL) {
        goto failed;
    }

    ngx_memzero(rs, sizeof(ngx_http_s3_proxy_resolved_t) + bound);
    rs->size = sizeof(ngx_http_s3_proxy_resolved_t) + bound;

    if (s3p_signing_resolve(&settings, &rs->signing, (u_char *) (rs + 1),
                            bound, err, sizeof(err))
        != S3P_OK)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "s3 proxy: credentials from \"%*s\" cannot sign: %s",
                      p->core.name.len, p->core.name.data, err);
        goto failed;
    }

    /* the resolved settings hold their own copies */

    ngx_explicit_memzero(keys, size);
    ngx_free(keys);

    if (creds->current) {
        creds->current->retired = 1;
        ngx_http_s3_proxy_release(creds->current);
    }

    creds->current = rs;
    rs->refs = 1;           /* the location's own reference */
    creds->version = version;
    creds->expiration = expiration;
    creds->capped = cap;

    return NGX_OK;

failed:

    ngx_explicit_memzero(keys, size);
    ngx_free(keys);

    if (rs) {
        ngx_explicit_memzero(rs, rs->size);
        ngx_free(rs);
    }

    return NGX_DECLINED;
}


static void
ngx_http_s3_proxy_release(ngx_http_s3_proxy_resolved_t *rs)
{
    if (--rs->refs == 0 && rs->retired) {
        ngx_explicit_memzero(rs, rs->size);
        ngx_free(rs);
    }
}


static void
ngx_http_s3_proxy_request_done(void *data)
{
    ngx_http_s3_proxy_release(data);
}
