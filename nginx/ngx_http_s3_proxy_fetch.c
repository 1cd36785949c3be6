/*
 * ngx_http_s3_proxy_module: a provider's refresh, carried out.
 *
 * Each worker's timer looks at every provider once a second: the worker
 * that takes the zone's lock first while a refresh is due does it, the
 * others keep signing with the credentials in the zone; so is a check of
 * the keys in use with S3 (at start, reload, and after they changed).
 * The core takes each step (s3p_provider_next()) and answers with one
 * action, which this file carries out: an exchange with one of the
 * provider's hosts (the provider, STS, S3; a connection of its
 * own made on nginx's event loop with ngx_event_connect_peer(), over TLS
 * with nginx's SSL client connection, SNI and the certificate verified;
 * the request sent, the answer read until the server closes), files read
 * whole, credentials stored in the zone, or a retry later.  The module
 * speaks HTTP itself because nginx's upstream and subrequest machinery
 * needs a client request to hang from, and a refresh has none.
 */

#include "ngx_http_s3_proxy_credentials.h"


/* how often each worker looks at the zone; a fetch older is taken over */
#define NGX_HTTP_S3_PROXY_TICK         1000
#define NGX_HTTP_S3_PROXY_STALE_FETCH  30

/* the TLS connection's state (ngx_ssl_connection_t) and little else */
#define NGX_HTTP_S3_PROXY_SSL_POOL     1024


static void ngx_http_s3_proxy_tick(ngx_event_t *ev);
static void ngx_http_s3_proxy_fetch_next(ngx_http_s3_proxy_provider_t *p,
    s3p_event_t event, u_char *data, size_t len);
static void ngx_http_s3_proxy_fetch_io(ngx_event_t *ev);
#if (NGX_HTTP_SSL)
static void ngx_http_s3_proxy_fetch_handshake(ngx_connection_t *c);
#endif
static void ngx_http_s3_proxy_fetch_failed(ngx_http_s3_proxy_provider_t *p,
    const char *reason);
static void ngx_http_s3_proxy_fetch_close(ngx_http_s3_proxy_provider_t *p);


/* Each worker looks at each provider once a second. */

ngx_int_t
ngx_http_s3_proxy_credentials_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                      i;
    ngx_array_t                    *providers;
    ngx_http_s3_proxy_provider_t  **pp;
    ngx_http_s3_proxy_main_conf_t  *smcf;

    smcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_s3_proxy_module);

    if (smcf == NULL || smcf->creds == NULL) {
        return NGX_OK;
    }

    providers = smcf->creds;
    pp = providers->elts;

    for (i = 0; i < providers->nelts; i++) {
        pp[i]->tick.handler = ngx_http_s3_proxy_tick;
        pp[i]->tick.data = pp[i];
        pp[i]->tick.log = cycle->log;
        pp[i]->tick.cancelable = 1;

        /* the first look at once: a cold start fetches without delay */
        ngx_add_timer(&pp[i]->tick, 1);
    }

    return NGX_OK;
}


static void
ngx_http_s3_proxy_tick(ngx_event_t *ev)
{
    time_t                         now;
    ngx_uint_t                     claim, verify;
    ngx_http_s3_proxy_slot_t      *slot;
    ngx_http_s3_proxy_provider_t  *p;

    p = ev->data;
    slot = p->slot;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_add_timer(ev, NGX_HTTP_S3_PROXY_TICK);

    if (p->peer.connection) {
        return;
    }

    now = ngx_time();

    ngx_shmtx_lock(&p->shpool->mutex);

    claim = ngx_http_s3_proxy_slot_ours(p)
            && (slot->fetching == 0
                || now - slot->fetch_start > NGX_HTTP_S3_PROXY_STALE_FETCH);

    /* a refresh first; else a check of the keys in use, when due */

    verify = claim && now < slot->refresh
             && slot->verify && slot->version && slot->expiration > now;
    claim = claim && (now >= slot->refresh || verify);

    if (claim) {
        slot->fetching = ngx_pid;
        slot->fetch_start = now;
    }

    if (verify) {
        slot->verify = 0;
        ngx_memcpy(p->buf + S3P_PROVIDER_REQUEST_MAX, slot->keys,
                   slot->len[0] + slot->len[1] + slot->len[2]);
    }

    ngx_shmtx_unlock(&p->shpool->mutex);

    if (claim) {
        ngx_http_s3_proxy_fetch_next(p, verify ? S3P_EVENT_VERIFY
                                               : S3P_EVENT_START, NULL, 0);
    }
}


/*
 * Tells the core what happened (the connection of an exchange closed) and
 * carries out its next step: files at once, an exchange on the event loop
 * (which comes back here), and its verdict: new credentials stored, or a
 * retry later.
 */

static void
ngx_http_s3_proxy_fetch_next(ngx_http_s3_proxy_provider_t *p,
    s3p_event_t event, u_char *data, size_t len)
{
    ngx_int_t                  rc;
    ngx_uint_t                 i, changed;
    ngx_pool_t                *pool;
    s3p_provider_step_t        step;
    ngx_connection_t          *c;
    ngx_http_s3_proxy_slot_t  *slot;

    ngx_http_s3_proxy_fetch_close(p);

    slot = p->slot;
    pool = NULL;
    ngx_memzero(&step, sizeof(s3p_provider_step_t));

    step.event = event;
    step.data.data = data;
    step.data.len = len;

    if (event == S3P_EVENT_VERIFY) {
        /* the keys, as the tick copied them from the zone */

        step.keys[0].data = p->buf + S3P_PROVIDER_REQUEST_MAX;
        step.keys[0].len = slot->len[0];
        step.keys[1].data = step.keys[0].data + slot->len[0];
        step.keys[1].len = slot->len[1];
        step.keys[2].data = step.keys[1].data + slot->len[1];
        step.keys[2].len = slot->len[2];
    }

    for ( ;; ) {
        ngx_shmtx_lock(&p->shpool->mutex);

        if (ngx_http_s3_proxy_slot_ours(p)) {
            step.expiration = slot->version ? slot->expiration : 0;
            step.failures = (uint32_t) slot->failures;
        }

        ngx_shmtx_unlock(&p->shpool->mutex);

        step.now = ngx_time();

        s3p_provider_next(&p->core, &step, p->buf, S3P_PROVIDER_REQUEST_MAX);

        /* the files read for the step: wiped with their pool */

        if (pool) {
            ngx_destroy_pool(pool);
            pool = NULL;
        }

        if (step.action != S3P_DO_READ) {
            break;
        }

        /* the files asked for, each read whole or not at all */

        step.event = S3P_EVENT_FILES;
        pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, p->tick.log);

        /* s3p_str_t has ngx_str_t's layout */

        for (i = 0; i < 2; i++) {
            ngx_str_null(&step.files[i]);

            rc = (step.paths[i].len == 0) ? NGX_DECLINED
                 : (pool == NULL) ? NGX_ERROR
                 : ngx_http_s3_proxy_read_file((u_char *) step.paths[i].data,
                                               step.file_max, pool,
                                               (ngx_str_t *) &step.files[i]);

            step.file_status[i] = (rc == NGX_OK) ? S3P_FILE_READ
                                   : (rc == NGX_DECLINED) ? S3P_FILE_MISSING
                                   : S3P_FILE_UNREADABLE;
        }
    }

    if (step.action == S3P_DO_EXCHANGE
        && (step.target < 0 || step.target >= S3P_TARGETS
            || p->url[step.target].naddrs == 0))
    {
        ngx_http_s3_proxy_fetch_failed(p, "no such target");
        return;
    }

    if (step.action == S3P_DO_EXCHANGE) {
        p->target = step.target;
        p->request = step.request;
        p->timeout = (ngx_msec_t) step.timeout;
        p->sent = 0;
        p->answer_len = 0;

        ngx_memzero(&p->peer, sizeof(ngx_peer_connection_t));
        p->peer.sockaddr = p->url[p->target].addrs[0].sockaddr;
        p->peer.socklen = p->url[p->target].addrs[0].socklen;
        p->peer.name = &p->url[p->target].addrs[0].name;
        p->peer.get = ngx_event_get_peer;
        p->peer.log = p->tick.log;
        p->peer.log_error = NGX_ERROR_ERR;

        rc = ngx_event_connect_peer(&p->peer);

        if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
            ngx_http_s3_proxy_fetch_failed(p, "connect() failed");
            return;
        }

        c = p->peer.connection;
        c->data = p;
        c->write->handler = ngx_http_s3_proxy_fetch_io;
        c->read->handler = ngx_http_s3_proxy_fetch_io;

        ngx_add_timer(c->write, p->timeout);

        /* with NGX_AGAIN, sending (or TLS's handshake) waits for connect */

        if (rc == NGX_OK) {
            ngx_http_s3_proxy_fetch_io(c->write);
        }

        return;
    }

    changed = 0;

    ngx_shmtx_lock(&p->shpool->mutex);

    if (ngx_http_s3_proxy_slot_ours(p) && step.action == S3P_DO_VERIFIED) {
        slot->verification = (step.refused == 1) ? S3P_VERIFICATION_FAILED
                             : (step.refused == 0) ? S3P_VERIFICATION_OK
                             : S3P_VERIFICATION_UNKNOWN;
        slot->fetching = 0;

    } else if (ngx_http_s3_proxy_slot_ours(p)) {

        if (step.action == S3P_DO_STORE) {
            changed = ngx_http_s3_proxy_store(slot, &step.access_key,
                                              &step.secret_key,
                                              &step.session_token,
                                              step.expires == S3P_NEVER
                                              ? NGX_MAX_TIME_T_VALUE
                                              : (time_t) step.expires);
        }

        if (step.action == S3P_DO_STORE) {
            slot->refreshes++;
            slot->refreshed = step.now;
            slot->verify |= changed
                            && p->core.targets[S3P_TARGET_S3].host.len != 0;

        } else {
            slot->refresh_failures++;

            if (step.message.len) {
                slot->error_len = ngx_min(step.message.len,
                                          S3P_STATUS_ERROR_MAX);
                ngx_memcpy(slot->error, step.message.data, slot->error_len);
            }
        }

        slot->refresh = (time_t) step.refresh;
        slot->failures = step.streak;
        slot->fetching = 0;
    }

    ngx_shmtx_unlock(&p->shpool->mutex);

    if (step.message.len
        && (step.action != S3P_DO_STORE || changed))
    {
        ngx_log_error((step.action == S3P_DO_RETRY || step.refused == 1
                       ? NGX_LOG_ERR
                       : step.action == S3P_DO_VERIFIED ? NGX_LOG_INFO
                       : NGX_LOG_NOTICE), p->tick.log, 0,
                      "s3 proxy: %*s", step.message.len, step.message.data);
    }

    ngx_explicit_memzero(p->buf, S3P_PROVIDER_REQUEST_MAX
                                 + S3P_PROVIDER_ANSWER_MAX);
}


/*
 * Puts keys into a slot (its lock held), by the core (s3p_store_keys()):
 * 1 when they changed, and the version moved.
 */

ngx_uint_t
ngx_http_s3_proxy_store(ngx_http_s3_proxy_slot_t *slot,
    s3p_str_t *access_key, s3p_str_t *secret_key, s3p_str_t *token,
    time_t expiration)
{
    s3p_str_t  keys[3];

    keys[0] = *access_key;
    keys[1] = *secret_key;
    keys[2] = *token;

    if (!s3p_store_keys(keys, slot->version != 0
                              && slot->expiration == expiration,
                        slot->keys, slot->len))
    {
        return 0;
    }

    slot->expiration = expiration;

    (void) ngx_atomic_fetch_add(&slot->version, 1);

    return 1;
}


/*
 * The exchange, on either of the connection's events: TLS's handshake
 * first, then the request sent, then the answer read until the server
 * closes it.
 */

static void
ngx_http_s3_proxy_fetch_io(ngx_event_t *ev)
{
    u_char                        *answer;
    ssize_t                        n;
    ngx_connection_t              *c;
    ngx_http_s3_proxy_provider_t  *p;

    c = ev->data;
    p = c->data;
    answer = p->buf + S3P_PROVIDER_REQUEST_MAX;

    if (ev->timedout) {
        ngx_http_s3_proxy_fetch_failed(p, "timed out");
        return;
    }

#if (NGX_HTTP_SSL)
    if (p->core.targets[p->target].tls && c->ssl == NULL) {

        /*
         * ngx_ssl_create_connection() allocates from c->pool, which a
         * connection of ngx_event_connect_peer() lacks; closing destroys it
         */

        c->pool = ngx_create_pool(NGX_HTTP_S3_PROXY_SSL_POOL, c->log);

        if (c->pool == NULL
            || ngx_ssl_create_connection(p->ssl, c, NGX_SSL_CLIENT) != NGX_OK
            || SSL_set_tlsext_host_name(c->ssl->connection,
                           (char *) p->core.targets[p->target].host.data)
               == 0)
        {
            ngx_http_s3_proxy_fetch_failed(p, "TLS setup failed");
            return;
        }

        if (ngx_ssl_handshake(c) == NGX_AGAIN) {
            c->ssl->handler = ngx_http_s3_proxy_fetch_handshake;
            return;
        }

        ngx_http_s3_proxy_fetch_handshake(c);
        return;
    }
#endif

    if (p->sent < p->request.len) {

        do {
            n = c->send(c, (u_char *) p->request.data + p->sent,
                        p->request.len - p->sent);

            if (n == NGX_AGAIN) {
                if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
                    ngx_http_s3_proxy_fetch_failed(p, "send() failed");
                }

                return;
            }

            if (n <= 0) {
                ngx_http_s3_proxy_fetch_failed(p, "send() failed");
                return;
            }

            p->sent += n;

        } while (p->sent < p->request.len);

        /* sent: the answer's wait begins */

        if (c->write->timer_set) {
            ngx_del_timer(c->write);
        }

        ngx_add_timer(c->read, p->timeout);
    }

    for ( ;; ) {
        if (p->answer_len == S3P_PROVIDER_ANSWER_MAX) {
            ngx_http_s3_proxy_fetch_failed(p, "an answer too large");
            return;
        }

        n = c->recv(c, answer + p->answer_len,
                    S3P_PROVIDER_ANSWER_MAX - p->answer_len);

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
                ngx_http_s3_proxy_fetch_failed(p, "recv() failed");
            }

            return;
        }

        if (n == NGX_ERROR) {
            ngx_http_s3_proxy_fetch_failed(p, "recv() failed");
            return;
        }

        if (n == 0) {
            break;
        }

        p->answer_len += n;
    }

    ngx_http_s3_proxy_fetch_next(p, S3P_EVENT_ANSWER, answer, p->answer_len);
}


#if (NGX_HTTP_SSL)

static void
ngx_http_s3_proxy_fetch_handshake(ngx_connection_t *c)
{
    long                           verified;
    ngx_http_s3_proxy_provider_t  *p;

    p = c->data;

    if (!c->ssl->handshaked) {
        ngx_http_s3_proxy_fetch_failed(p, "TLS handshake failed");
        return;
    }

    verified = SSL_get_verify_result(c->ssl->connection);

    if (verified != X509_V_OK) {
        ngx_http_s3_proxy_fetch_failed(p, X509_verify_cert_error_string(
                                              verified));
        return;
    }

    if (ngx_ssl_check_host(c, &p->url[p->target].host) != NGX_OK) {
        ngx_http_s3_proxy_fetch_failed(p, "the certificate does not name "
                                          "the host");
        return;
    }

    c->write->handler = ngx_http_s3_proxy_fetch_io;
    c->read->handler = ngx_http_s3_proxy_fetch_io;

    ngx_http_s3_proxy_fetch_io(c->write);
}

#endif


static void
ngx_http_s3_proxy_fetch_failed(ngx_http_s3_proxy_provider_t *p,
    const char *reason)
{
    ngx_http_s3_proxy_fetch_next(p, S3P_EVENT_FAILED, (u_char *) reason,
                                 ngx_strlen(reason));
}


static void
ngx_http_s3_proxy_fetch_close(ngx_http_s3_proxy_provider_t *p)
{
    ngx_pool_t        *pool;
    ngx_connection_t  *c;

    c = p->peer.connection;

    if (c == NULL) {
        return;
    }

#if (NGX_HTTP_SSL)
    if (c->ssl) {
        c->ssl->no_wait_shutdown = 1;
        (void) ngx_ssl_shutdown(c);
    }
#endif

    pool = c->pool;

    ngx_close_connection(c);
    p->peer.connection = NULL;

    if (pool) {
        ngx_destroy_pool(pool);
    }
}
