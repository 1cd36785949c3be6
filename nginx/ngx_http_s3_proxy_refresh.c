/*
 * ngx_http_s3_proxy_module: credentials that rotate, refreshed.
 *
 * The shared zone that holds each provider's credentials (kept across
 * reloads), each worker's timer that looks at it once a second and takes
 * the fetch when a refresh is due, and the watch over a profile's files.
 * What the sources are is read in ngx_http_s3_proxy_credentials.c.
 */

#include "ngx_http_s3_proxy_credentials.h"


static void ngx_http_s3_proxy_tick(ngx_event_t *ev);
static void ngx_http_s3_proxy_file_check(ngx_http_s3_proxy_provider_t *p);
static ngx_int_t ngx_http_s3_proxy_file_read(ngx_http_s3_proxy_provider_t *p,
    const s3p_str_t *path, ngx_http_s3_proxy_stamp_t *stamp, s3p_str_t *out);


/*
 * The zone: kept across reloads (nginx maps it again with the same name
 * and size), so each provider finds its slot and its credentials.
 */

ngx_int_t
ngx_http_s3_proxy_creds_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_uint_t                       i, j, used;
    ngx_slab_pool_t                 *shpool;
    ngx_http_s3_proxy_slot_t        *slot;
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
        p->slot = NULL;

        for (j = 0; j < NGX_HTTP_S3_PROXY_SLOTS; j++) {
            slot = &sh->slots[j];

            if (slot->id_len == p->id.len
                && ngx_memcmp(slot->id, p->id.data, p->id.len) == 0)
            {
                p->slot = slot;
                break;
            }
        }

        if (p->slot != NULL) {
            continue;
        }

        /* a free slot, else one this configuration does not use */

        for (j = 0; j < NGX_HTTP_S3_PROXY_SLOTS && p->slot == NULL; j++) {
            if (sh->slots[j].id_len == 0) {
                p->slot = &sh->slots[j];
            }
        }

        for (j = 0; j < NGX_HTTP_S3_PROXY_SLOTS && p->slot == NULL; j++) {
            slot = &sh->slots[j];
            used = 0;

            for (used = 0; used < i; used++) {
                if (pp[used]->slot == slot) {
                    break;
                }
            }

            if (used == i) {
                p->slot = slot;
            }
        }

        if (p->slot == NULL) {
            ngx_shmtx_unlock(&shpool->mutex);
            return NGX_ERROR;
        }

        slot = p->slot;
        ngx_explicit_memzero(slot, sizeof(ngx_http_s3_proxy_slot_t));
        ngx_memcpy(slot->id, p->id.data, p->id.len);
        slot->id_len = p->id.len;
    }

    /*
     * A profile's keys as this configuration read them: a reload reads
     * the files again.  Their stamps are cleared, so the first look reads
     * them once more (and changes nothing when they are the same).
     */

    for (i = 0; i < ccf->providers.nelts; i++) {
        p = pp[i];

        if (p->source != 0) {
            continue;
        }

        ngx_memzero(p->slot->stamps, sizeof(p->slot->stamps));
        p->slot->refresh = 0;

        if (ngx_http_s3_proxy_store(p->slot, p->seed,
                                    NGX_HTTP_S3_PROXY_NEVER))
        {
            ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                          "s3 proxy: credentials from \"%V\": access key "
                          "id \"%*s\"", &p->name, p->seed[0].len,
                          p->seed[0].data);
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return NGX_OK;
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

    if (now >= slot->refresh
        && (slot->fetching == 0
            || now - slot->fetch_start > NGX_HTTP_S3_PROXY_STALE_FETCH))
    {
        slot->fetching = ngx_pid;
        slot->fetch_start = now;
        claim = 1;
    }

    ngx_shmtx_unlock(&p->shpool->mutex);

    if (!claim) {
        return;
    }

    if (p->source == 0) {
        ngx_http_s3_proxy_file_check(p);
        return;
    }

    ngx_http_s3_proxy_fetch_start(p);
}


/*
 * Puts keys into a slot (its lock held), the old secret and token
 * cleared; 1 when they changed, and the version moved.
 */

ngx_uint_t
ngx_http_s3_proxy_store(ngx_http_s3_proxy_slot_t *slot, s3p_str_t *keys,
    time_t expiration)
{
    if (keys[0].len > NGX_HTTP_S3_PROXY_KEY_MAX
        || keys[1].len > NGX_HTTP_S3_PROXY_SECRET_MAX
        || keys[2].len > NGX_HTTP_S3_PROXY_TOKEN_MAX)
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


/*
 * A profile's files, looked at by the worker that claimed the look: when
 * either changed (time, size or inode), both are read and the core finds
 * the profile's keys in them again.  Local files are read at once, as
 * nginx reads its own; a file that cannot be used keeps the keys in use.
 */

static void
ngx_http_s3_proxy_file_check(ngx_http_s3_proxy_provider_t *p)
{
    u_char                     err[256], *out;
    size_t                     len;
    time_t                     now;
    ngx_int_t                  rc;
    ngx_uint_t                 i, changed, failures;
    s3p_str_t                  contents[2], keys[3];
    const s3p_str_t           *path;
    s3p_signing_t              signing;
    s3p_settings_t             settings;
    s3p_environment_t          env;
    ngx_http_s3_proxy_slot_t  *slot;
    ngx_http_s3_proxy_stamp_t  stamps[2];

    slot = p->slot;
    now = ngx_time();
    env = *p->raw.env;

    ngx_memzero(contents, sizeof(contents));
    ngx_memzero(stamps, sizeof(stamps));

    /* stat() both; what cannot be read is said when both are read */

    if (ngx_http_s3_proxy_file_read(p, &env.credentials_path, &stamps[0],
                                    NULL)
        == NGX_OK
        && ngx_http_s3_proxy_file_read(p, &env.config_path, &stamps[1],
                                       NULL)
           == NGX_OK
        && ngx_memcmp(stamps, slot->stamps, sizeof(stamps)) == 0)
    {
        goto unchanged;
    }

    /* changed: read both (a file being replaced reads as it was, or new) */

    out = NULL;
    len = 0;

    for (i = 0; i < 2; i++) {
        path = i ? &env.config_path : &env.credentials_path;

        rc = ngx_http_s3_proxy_file_read(p, path, &stamps[i], &contents[i]);

        if (rc != NGX_OK) {
            ngx_snprintf(err, sizeof(err), "cannot read \"%*s\"%Z",
                         path->len, path->data);
            break;
        }
    }

    env.credentials_file = contents[0];
    env.config_file = contents[1];

    settings = p->raw;
    settings.env = &env;

    if (rc == NGX_OK) {
        len = s3p_signing_bound(&settings);
        out = ngx_alloc(len, p->log);
    }

    if (rc != NGX_OK) {
        /* said above */

    } else if (out == NULL) {
        rc = NGX_ERROR;
        ngx_cpystrn(err, (u_char *) "out of memory", sizeof(err));

    } else {
        ngx_memzero(out, len);
        ngx_memzero(&signing, sizeof(s3p_signing_t));
        rc = (s3p_signing_resolve(&settings, &signing, out, len, err,
                                  sizeof(err))
              == S3P_OK) ? NGX_OK : NGX_ERROR;
    }

    changed = 0;
    failures = 0;

    ngx_shmtx_lock(&p->shpool->mutex);

    if (rc == NGX_OK) {
        keys[0] = signing.access_key;
        keys[1] = signing.secret_key;
        keys[2] = signing.session_token;
        changed = ngx_http_s3_proxy_store(slot, keys,
                                          NGX_HTTP_S3_PROXY_NEVER);
        slot->failures = 0;
        ngx_memcpy(slot->stamps, stamps, sizeof(stamps));

    } else {
        failures = ++slot->failures;
    }

    slot->refresh = now + NGX_HTTP_S3_PROXY_FILE_CHECK;
    slot->fetching = 0;

    ngx_shmtx_unlock(&p->shpool->mutex);

    if (changed) {
        ngx_log_error(NGX_LOG_NOTICE, p->log, 0,
                      "s3 proxy: credentials from \"%V\": access key id "
                      "\"%*s\"", &p->name, signing.access_key.len,
                      signing.access_key.data);
    }

    if (failures == 1) {
        ngx_log_error(NGX_LOG_ERR, p->log, 0,
                      "s3 proxy: credentials from \"%V\" not refreshed: %s; "
                      "the current ones stay in use", &p->name, err);
    }

    if (out) {
        ngx_explicit_memzero(out, len);
        ngx_free(out);
    }

    for (i = 0; i < 2; i++) {
        if (contents[i].data) {
            ngx_explicit_memzero((u_char *) contents[i].data,
                                 contents[i].len);
            ngx_free((u_char *) contents[i].data);
        }
    }

    return;

unchanged:

    ngx_shmtx_lock(&p->shpool->mutex);
    slot->refresh = now + NGX_HTTP_S3_PROXY_FILE_CHECK;
    slot->fetching = 0;
    ngx_shmtx_unlock(&p->shpool->mutex);
}


/*
 * A shared file's stamp and, with `out`, its contents (allocated; none
 * for a file that is missing).  NGX_ERROR only for a file that exists but
 * cannot be read.
 */

static ngx_int_t
ngx_http_s3_proxy_file_read(ngx_http_s3_proxy_provider_t *p,
    const s3p_str_t *path, ngx_http_s3_proxy_stamp_t *stamp, s3p_str_t *out)
{
    u_char           *buf;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_file_t        file;
    ngx_file_info_t   fi;

    ngx_memzero(stamp, sizeof(ngx_http_s3_proxy_stamp_t));

    if (path->len == 0) {
        return NGX_OK;
    }

    /* the path was written NUL-terminated (settings.c) */

    fd = ngx_open_file(path->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        return (ngx_errno == NGX_ENOENT) ? NGX_OK : NGX_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR || !ngx_is_file(&fi)
        || ngx_file_size(&fi) > NGX_HTTP_S3_PROXY_FILE_MAX)
    {
        (void) ngx_close_file(fd);
        return NGX_ERROR;
    }

    stamp->mtime = ngx_file_mtime(&fi);
    stamp->size = ngx_file_size(&fi);
    stamp->uniq = ngx_file_uniq(&fi);

    if (out == NULL) {
        (void) ngx_close_file(fd);
        return NGX_OK;
    }

    buf = ngx_alloc((size_t) stamp->size + 1, p->log);
    if (buf == NULL) {
        (void) ngx_close_file(fd);
        return NGX_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.fd = fd;
    file.name.data = (u_char *) path->data;
    file.name.len = path->len;
    file.log = p->log;

    n = ngx_read_file(&file, buf, (size_t) stamp->size, 0);
    (void) ngx_close_file(fd);

    if (n < 0) {
        ngx_free(buf);
        return NGX_ERROR;
    }

    out->data = buf;
    out->len = (size_t) n;

    return NGX_OK;
}
