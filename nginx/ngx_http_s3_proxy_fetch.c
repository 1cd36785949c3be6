/*
 * ngx_http_s3_proxy_module: a provider's refresh, carried out.
 *
 * The core takes each step (s3p_provider_next()) and answers with one
 * action, which this file carries out: an exchange with the provider (a
 * connection of its own made on nginx's event loop with
 * ngx_event_connect_peer(), over TLS with nginx's SSL client connection,
 * SNI and the certificate verified; the request sent, the answer read
 * until the server closes), files read whole, credentials stored in the
 * zone, or a retry later.  The module speaks HTTP itself because nginx's
 * upstream and subrequest machinery needs a client request to hang from,
 * and a refresh has none.
 */

#include "ngx_http_s3_proxy_credentials.h"


/* the TLS connection's state (ngx_ssl_connection_t) and little else */
#define NGX_HTTP_S3_PROXY_SSL_POOL  1024


static void ngx_http_s3_proxy_fetch_next(ngx_http_s3_proxy_provider_t *p,
    s3p_provider_step_t *step);
static void ngx_http_s3_proxy_fetch_end(ngx_http_s3_proxy_provider_t *p,
    s3p_provider_step_t *step);
static void ngx_http_s3_proxy_fetch_connect(ngx_http_s3_proxy_provider_t *p);
static void ngx_http_s3_proxy_fetch_write(ngx_event_t *wev);
static void ngx_http_s3_proxy_fetch_read(ngx_event_t *rev);
#if (NGX_HTTP_SSL)
static void ngx_http_s3_proxy_fetch_handshake(ngx_connection_t *c);
#endif
static void ngx_http_s3_proxy_fetch_failed(ngx_http_s3_proxy_provider_t *p,
    const char *reason);
static void ngx_http_s3_proxy_fetch_close(ngx_http_s3_proxy_provider_t *p);


void
ngx_http_s3_proxy_fetch_start(ngx_http_s3_proxy_provider_t *p)
{
    s3p_provider_step_t  step;

    ngx_memzero(&step, sizeof(s3p_provider_step_t));

    p->fetching = 1;

    /* the request and the answer: one block, or none */

    p->buf = ngx_alloc(S3P_PROVIDER_REQUEST_MAX + S3P_PROVIDER_ANSWER_MAX,
                       p->log);

    if (p->buf == NULL) {
        step.event = S3P_EVENT_FAILED;
        step.data.data = (u_char *) "out of memory";
        step.data.len = sizeof("out of memory") - 1;

    } else {
        step.event = S3P_EVENT_START;
    }

    ngx_http_s3_proxy_fetch_next(p, &step);
}


/*
 * Asks the core for the next step and carries it out: files at once, an
 * exchange on the event loop (which comes back here), and the end.
 */

static void
ngx_http_s3_proxy_fetch_next(ngx_http_s3_proxy_provider_t *p,
    s3p_provider_step_t *step)
{
    u_char      small[512], *out;
    size_t      cap;
    ngx_int_t   rc;
    ngx_str_t   files[2];
    ngx_uint_t  i, read;

    ngx_memzero(files, sizeof(files));
    read = 0;

    out = p->buf ? p->buf : small;
    cap = p->buf ? S3P_PROVIDER_REQUEST_MAX : sizeof(small);

    for ( ;; ) {
        ngx_shmtx_lock(&p->shpool->mutex);

        if (ngx_http_s3_proxy_slot_ours(p)) {
            step->expiration = p->slot->version ? p->slot->expiration : 0;
            step->failures = (uint32_t) p->slot->failures;
        }

        ngx_shmtx_unlock(&p->shpool->mutex);

        step->now = ngx_time();

        s3p_provider_next(&p->core, step, out, cap);

        for (i = 0; i < 2 && read; i++) {
            if (files[i].data) {
                ngx_explicit_memzero(files[i].data, files[i].len);
                ngx_free(files[i].data);
                ngx_str_null(&files[i]);
            }
        }

        if (step->action != S3P_DO_READ) {
            break;
        }

        /* the files asked for, each read whole or not at all */

        step->event = S3P_EVENT_FILES;
        read = 1;

        for (i = 0; i < 2; i++) {
            step->files[i].len = 0;
            step->files[i].data = NULL;
            step->file_status[i] = S3P_FILE_MISSING;

            if (step->paths[i].len == 0) {
                continue;
            }

            rc = ngx_http_s3_proxy_read_file((u_char *) step->paths[i].data,
                                             step->file_max, p->log,
                                             &files[i]);

            step->file_status[i] = (rc == NGX_OK) ? S3P_FILE_READ
                                   : (rc == NGX_DECLINED) ? S3P_FILE_MISSING
                                   : S3P_FILE_UNREADABLE;
            step->files[i].data = files[i].data;
            step->files[i].len = files[i].len;
        }
    }

    if (step->action != S3P_DO_EXCHANGE || p->buf == NULL) {
        ngx_http_s3_proxy_fetch_end(p, step);
        return;
    }

    p->request = step->request;
    p->timeout = (ngx_msec_t) step->timeout;

    ngx_http_s3_proxy_fetch_connect(p);
}


/* The core's verdict: new credentials stored, or a retry later. */

static void
ngx_http_s3_proxy_fetch_end(ngx_http_s3_proxy_provider_t *p,
    s3p_provider_step_t *step)
{
    s3p_str_t                  keys[3];
    ngx_uint_t                 changed;
    ngx_http_s3_proxy_slot_t  *slot;

    slot = p->slot;
    changed = 0;

    ngx_shmtx_lock(&p->shpool->mutex);

    if (ngx_http_s3_proxy_slot_ours(p)) {

        if (step->action == S3P_DO_STORE) {
            keys[0] = step->access_key;
            keys[1] = step->secret_key;
            keys[2] = step->session_token;

            changed = ngx_http_s3_proxy_store(slot, keys,
                                              step->expires == S3P_NEVER
                                              ? NGX_MAX_TIME_T_VALUE
                                              : (time_t) step->expires);
        }

        slot->refresh = (time_t) step->refresh;
        slot->failures = step->streak;
        slot->fetching = 0;
    }

    ngx_shmtx_unlock(&p->shpool->mutex);

    if (step->message.len
        && (step->action == S3P_DO_RETRY || changed))
    {
        ngx_log_error((step->action == S3P_DO_RETRY
                       ? NGX_LOG_ERR : NGX_LOG_NOTICE), p->log, 0,
                      "s3 proxy: %*s", step->message.len, step->message.data);
    }

    if (p->buf) {
        ngx_explicit_memzero(p->buf, S3P_PROVIDER_REQUEST_MAX
                                     + S3P_PROVIDER_ANSWER_MAX);
        ngx_free(p->buf);
        p->buf = NULL;
    }

    p->fetching = 0;
}


/* Connects for one exchange; its request is in p->request. */

static void
ngx_http_s3_proxy_fetch_connect(ngx_http_s3_proxy_provider_t *p)
{
    ngx_int_t          rc;
    ngx_connection_t  *c;

    p->sent = 0;
    p->answer_len = 0;

    ngx_memzero(&p->peer, sizeof(ngx_peer_connection_t));
    p->peer.sockaddr = p->url.addrs[0].sockaddr;
    p->peer.socklen = p->url.addrs[0].socklen;
    p->peer.name = &p->url.addrs[0].name;
    p->peer.get = ngx_event_get_peer;
    p->peer.log = p->log;
    p->peer.log_error = NGX_ERROR_ERR;

    rc = ngx_event_connect_peer(&p->peer);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        ngx_http_s3_proxy_fetch_failed(p, "connect() failed");
        return;
    }

    c = p->peer.connection;
    c->data = p;
    c->log = p->log;
    c->read->log = p->log;
    c->write->log = p->log;
    c->write->handler = ngx_http_s3_proxy_fetch_write;
    c->read->handler = ngx_http_s3_proxy_fetch_read;

    ngx_add_timer(c->write, p->timeout);

    /* with NGX_AGAIN, sending (or the TLS handshake) waits for connect */

    if (rc == NGX_OK) {
        ngx_http_s3_proxy_fetch_write(c->write);
    }
}


static void
ngx_http_s3_proxy_fetch_write(ngx_event_t *wev)
{
    ssize_t                        n;
    ngx_connection_t              *c;
    ngx_http_s3_proxy_provider_t  *p;

    c = wev->data;
    p = c->data;

    if (wev->timedout) {
        ngx_http_s3_proxy_fetch_failed(p, "timed out");
        return;
    }

#if (NGX_HTTP_SSL)
    if (p->ssl && c->ssl == NULL) {
        ngx_int_t  rc;

        /*
         * ngx_ssl_create_connection() allocates from c->pool, which a
         * connection of ngx_event_connect_peer() lacks; closing destroys it
         */

        c->pool = ngx_create_pool(NGX_HTTP_S3_PROXY_SSL_POOL, p->log);

        if (c->pool == NULL
            || ngx_ssl_create_connection(p->ssl, c, NGX_SSL_CLIENT) != NGX_OK
            || SSL_set_tlsext_host_name(c->ssl->connection,
                                        (char *) p->core.host.data) == 0)
        {
            ngx_http_s3_proxy_fetch_failed(p, "TLS setup failed");
            return;
        }

        rc = ngx_ssl_handshake(c);

        if (rc == NGX_AGAIN) {
            c->ssl->handler = ngx_http_s3_proxy_fetch_handshake;
            return;
        }

        ngx_http_s3_proxy_fetch_handshake(c);
        return;
    }
#endif

    while (p->sent < p->request.len) {
        n = c->send(c, (u_char *) p->request.data + p->sent,
                    p->request.len - p->sent);

        if (n == NGX_AGAIN) {
            if (ngx_handle_write_event(wev, 0) != NGX_OK) {
                ngx_http_s3_proxy_fetch_failed(p, "send() failed");
            }

            return;
        }

        if (n <= 0) {
            ngx_http_s3_proxy_fetch_failed(p, "send() failed");
            return;
        }

        p->sent += n;
    }

    if (wev->timer_set) {
        ngx_del_timer(wev);
    }

    ngx_add_timer(c->read, p->timeout);

    if (c->read->ready) {
        ngx_http_s3_proxy_fetch_read(c->read);
        return;
    }

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_http_s3_proxy_fetch_failed(p, "recv() failed");
    }
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

    if (ngx_ssl_check_host(c, &p->url.host) != NGX_OK) {
        ngx_http_s3_proxy_fetch_failed(p, "the certificate does not name "
                                          "the host");
        return;
    }

    c->write->handler = ngx_http_s3_proxy_fetch_write;
    c->read->handler = ngx_http_s3_proxy_fetch_read;

    ngx_http_s3_proxy_fetch_write(c->write);
}

#endif


static void
ngx_http_s3_proxy_fetch_read(ngx_event_t *rev)
{
    u_char                        *answer;
    ssize_t                        n;
    ngx_connection_t              *c;
    s3p_provider_step_t            step;
    ngx_http_s3_proxy_provider_t  *p;

    c = rev->data;
    p = c->data;
    answer = p->buf + S3P_PROVIDER_REQUEST_MAX;

    if (rev->timedout) {
        ngx_http_s3_proxy_fetch_failed(p, "timed out");
        return;
    }

    for ( ;; ) {
        if (p->answer_len == S3P_PROVIDER_ANSWER_MAX) {
            ngx_http_s3_proxy_fetch_failed(p, "an answer too large");
            return;
        }

        n = c->recv(c, answer + p->answer_len,
                    S3P_PROVIDER_ANSWER_MAX - p->answer_len);

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(rev, 0) != NGX_OK) {
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

    ngx_http_s3_proxy_fetch_close(p);

    ngx_memzero(&step, sizeof(s3p_provider_step_t));
    step.event = S3P_EVENT_ANSWER;
    step.data.data = answer;
    step.data.len = p->answer_len;

    ngx_http_s3_proxy_fetch_next(p, &step);
}


static void
ngx_http_s3_proxy_fetch_failed(ngx_http_s3_proxy_provider_t *p,
    const char *reason)
{
    s3p_provider_step_t  step;

    ngx_http_s3_proxy_fetch_close(p);

    ngx_memzero(&step, sizeof(s3p_provider_step_t));
    step.event = S3P_EVENT_FAILED;
    step.data.data = (u_char *) reason;
    step.data.len = ngx_strlen(reason);

    ngx_http_s3_proxy_fetch_next(p, &step);
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
