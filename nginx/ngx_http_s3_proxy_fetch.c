/*
 * ngx_http_s3_proxy_module: a provider's refresh, carried out: the files
 * it reads (checked at start), and each step the core takes.  Each
 * worker's timer looks at every provider once a second; the core says
 * whether this worker fetches (s3p_slot_claim()), takes each step
 * (s3p_provider_next()) and writes the outcome into the zone
 * (s3p_slot_record()).  Here: files read whole, or an exchange on a
 * connection of the provider's own on nginx's event loop, over TLS with
 * nginx's SSL client connection.  docs/design.md says why.
 */

#include "ngx_http_s3_proxy_credentials.h"


/* how often each worker looks at the zone */
#define NGX_HTTP_S3_PROXY_TICK      1000

/* the TLS connection's state (ngx_ssl_connection_t) and little else */
#define NGX_HTTP_S3_PROXY_SSL_POOL  1024


static void ngx_http_s3_proxy_tick(ngx_event_t *ev);
static void ngx_http_s3_proxy_fetch_next(ngx_http_s3_proxy_provider_t *p,
    const char *failed);
static void ngx_http_s3_proxy_fetch_io(ngx_event_t *ev);
#if (NGX_HTTP_SSL)
static void ngx_http_s3_proxy_fetch_handshake(ngx_connection_t *c);
#endif


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
    ngx_uint_t                     claimed;
    ngx_http_s3_proxy_provider_t  *p;

    p = ev->data;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_add_timer(ev, NGX_HTTP_S3_PROXY_TICK);

    if (p->peer.connection) {
        return;
    }

    /* a check with S3 gets the keys in use, into the answer's room */

    p->step.now = ngx_time();

    ngx_shmtx_lock(&p->shpool->mutex);

    claimed = ngx_http_s3_proxy_slot_ours(p)
              && s3p_slot_claim(p->slot, ngx_pid, &p->step,
                                p->buf + S3P_PROVIDER_REQUEST_MAX);

    ngx_shmtx_unlock(&p->shpool->mutex);

    if (claimed) {
        ngx_http_s3_proxy_fetch_next(p, NULL);
    }
}


/*
 * Carries out the core's next step, after what `p->step` says happened
 * (or the exchange `failed`, and why): files at once, an exchange on the
 * event loop (which comes back here), or the fetch's outcome, written
 * into the zone and logged.
 */

static void
ngx_http_s3_proxy_fetch_next(ngx_http_s3_proxy_provider_t *p,
    const char *failed)
{
    ngx_int_t             rc;
    ngx_uint_t            i;
    ngx_url_t            *u;
    s3p_say_t             say;
    ngx_pool_t           *pool;
    ngx_connection_t     *c;
    s3p_provider_step_t  *step;

    /* the exchange's connection is done with (its answer is in p->buf) */

    c = p->peer.connection;
    pool = c ? c->pool : NULL;

    if (c) {
#if (NGX_HTTP_SSL)
        if (c->ssl) {
            c->ssl->no_wait_shutdown = 1;
            (void) ngx_ssl_shutdown(c);
        }
#endif

        ngx_close_connection(c);
        p->peer.connection = NULL;
    }

    step = &p->step;

    if (failed) {
        step->event = S3P_EVENT_FAILED;
        step->data.data = (const uint8_t *) failed;
        step->data.len = ngx_strlen(failed);
    }

    for ( ;; ) {
        step->now = ngx_time();

        s3p_provider_next(&p->core, step, p->buf, S3P_PROVIDER_REQUEST_MAX);

        /* the TLS connection's pool, or the files read (wiped), go now */

        if (pool) {
            ngx_destroy_pool(pool);
            ngx_memzero(step->files, sizeof(step->files));
            pool = NULL;
        }

        if (step->action != S3P_DO_READ) {
            break;
        }

        /* each read whole or not at all; s3p_str_t has ngx_str_t's layout */

        step->event = S3P_EVENT_FILES;
        pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, p->tick.log);

        for (i = 0; i < 2; i++) {
            rc = (step->paths[i].len == 0) ? NGX_DECLINED
                 : (pool == NULL) ? NGX_ERROR
                 : ngx_http_s3_proxy_read_file((u_char *) step->paths[i].data,
                                               step->file_max, pool,
                                               (ngx_str_t *) &step->files[i]);

            step->file_status[i] = (rc == NGX_OK) ? S3P_FILE_READ
                                   : (rc == NGX_DECLINED) ? S3P_FILE_MISSING
                                   : S3P_FILE_UNREADABLE;
        }
    }

    if (step->action == S3P_DO_EXCHANGE) {
        if (step->target < 0 || step->target >= S3P_TARGETS
            || p->url[step->target].naddrs == 0)
        {
            ngx_http_s3_proxy_fetch_next(p, "no such target");
            return;
        }

        u = &p->url[step->target];
        p->sent = 0;
        p->answer_len = 0;

        ngx_memzero(&p->peer, sizeof(ngx_peer_connection_t));
        p->peer.sockaddr = u->addrs[0].sockaddr;
        p->peer.socklen = u->addrs[0].socklen;
        p->peer.name = &u->addrs[0].name;
        p->peer.get = ngx_event_get_peer;
        p->peer.log = p->tick.log;
        p->peer.log_error = NGX_ERROR_ERR;

        rc = ngx_event_connect_peer(&p->peer);

        if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
            ngx_http_s3_proxy_fetch_next(p, "connect() failed");
            return;
        }

        c = p->peer.connection;
        c->data = p;
        c->write->handler = ngx_http_s3_proxy_fetch_io;
        c->read->handler = ngx_http_s3_proxy_fetch_io;

        ngx_add_timer(c->write, (ngx_msec_t) step->timeout);

        /* with NGX_AGAIN, sending (or TLS's handshake) waits for connect */

        if (rc == NGX_OK) {
            ngx_http_s3_proxy_fetch_io(c->write);
        }

        return;
    }

    ngx_shmtx_lock(&p->shpool->mutex);

    say = s3p_slot_record(ngx_http_s3_proxy_slot_ours(p) ? p->slot : NULL,
                          &p->core, step);

    ngx_shmtx_unlock(&p->shpool->mutex);

    if (say != S3P_SAY_NOTHING) {
        ngx_log_error(((say == S3P_SAY_ERROR) ? NGX_LOG_ERR
                       : (say == S3P_SAY_NOTICE) ? NGX_LOG_NOTICE
                       : NGX_LOG_INFO),
                      p->tick.log, 0, "s3 proxy: %*s", step->message.len,
                      step->message.data);
    }

    ngx_explicit_memzero(p->buf, S3P_PROVIDER_REQUEST_MAX
                                 + S3P_PROVIDER_ANSWER_MAX);
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
    const char                    *reason;
    s3p_str_t                     *request;
    ngx_connection_t              *c;
    ngx_http_s3_proxy_provider_t  *p;

    c = ev->data;
    p = c->data;
    request = &p->step.request;
    answer = p->buf + S3P_PROVIDER_REQUEST_MAX;

    if (ev->timedout) {
        reason = "timed out";
        goto failed;
    }

#if (NGX_HTTP_SSL)
    if (p->core.targets[p->step.target].tls && c->ssl == NULL) {

        /*
         * ngx_ssl_create_connection() allocates from c->pool, which a
         * connection of ngx_event_connect_peer() lacks; closing destroys it
         */

        c->pool = ngx_create_pool(NGX_HTTP_S3_PROXY_SSL_POOL, c->log);

        if (c->pool == NULL
            || ngx_ssl_create_connection(p->ssl, c, NGX_SSL_CLIENT) != NGX_OK
            || SSL_set_tlsext_host_name(c->ssl->connection,
                           (char *) p->core.targets[p->step.target].host.data)
               == 0)
        {
            reason = "TLS setup failed";
            goto failed;
        }

        c->ssl->handler = ngx_http_s3_proxy_fetch_handshake;

        if (ngx_ssl_handshake(c) != NGX_AGAIN) {
            ngx_http_s3_proxy_fetch_handshake(c);
        }

        return;
    }
#endif

    while (p->sent < request->len) {
        n = c->send(c, (u_char *) request->data + p->sent,
                    request->len - p->sent);

        if (n == NGX_AGAIN && ngx_handle_write_event(c->write, 0) == NGX_OK) {
            return;
        }

        if (n <= 0) {
            reason = "send() failed";
            goto failed;
        }

        p->sent += n;
    }

    /* sent: the answer's wait begins */

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
        ngx_add_timer(c->read, (ngx_msec_t) p->step.timeout);
    }

    for ( ;; ) {
        if (p->answer_len == S3P_PROVIDER_ANSWER_MAX) {
            reason = "an answer too large";
            goto failed;
        }

        n = c->recv(c, answer + p->answer_len,
                    S3P_PROVIDER_ANSWER_MAX - p->answer_len);

        if (n == NGX_AGAIN && ngx_handle_read_event(c->read, 0) == NGX_OK) {
            return;
        }

        if (n == NGX_AGAIN || n == NGX_ERROR) {
            reason = "recv() failed";
            goto failed;
        }

        if (n == 0) {
            p->step.event = S3P_EVENT_ANSWER;
            p->step.data.data = answer;
            p->step.data.len = p->answer_len;

            ngx_http_s3_proxy_fetch_next(p, NULL);
            return;
        }

        p->answer_len += n;
    }

failed:

    ngx_http_s3_proxy_fetch_next(p, reason);
}


#if (NGX_HTTP_SSL)

static void
ngx_http_s3_proxy_fetch_handshake(ngx_connection_t *c)
{
    long                           verified;
    const char                    *reason;
    ngx_http_s3_proxy_provider_t  *p;

    p = c->data;
    verified = c->ssl->handshaked ? SSL_get_verify_result(c->ssl->connection)
                                  : X509_V_OK;

    reason = !c->ssl->handshaked ? "TLS handshake failed"
             : (verified != X509_V_OK)
               ? X509_verify_cert_error_string(verified)
             : (ngx_ssl_check_host(c, &p->url[p->step.target].host)
                != NGX_OK)
               ? "the certificate does not name the host"
             : NULL;

    if (reason) {
        ngx_http_s3_proxy_fetch_next(p, reason);
        return;
    }

    c->write->handler = ngx_http_s3_proxy_fetch_io;
    c->read->handler = ngx_http_s3_proxy_fetch_io;

    ngx_http_s3_proxy_fetch_io(c->write);
}

#endif


/*
 * The files a refresh reads (the core's `reads`) must be readable by the
 * worker processes, which run as the "user" directive's user: nginx -t,
 * start and reload warn about each one they cannot read.  The master, as
 * root, forks a child that takes that user, opens them, and warns.
 */

ngx_int_t
ngx_http_s3_proxy_credentials_init_module(ngx_cycle_t *cycle)
{
    int                             status;
    u_char                          msg[NGX_MAX_ERROR_STR];
    ngx_fd_t                        fd;
    ngx_pid_t                       pid;
    ngx_uint_t                      i, j;
    s3p_str_t                      *path;
    ngx_array_t                    *providers;
    ngx_core_conf_t                *ccf;
    ngx_http_s3_proxy_provider_t  **pp;
    ngx_http_s3_proxy_main_conf_t  *smcf;

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);
    smcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_s3_proxy_module);

    if (smcf == NULL || smcf->creds == NULL || geteuid() != 0
        || ccf->user == (ngx_uid_t) NGX_CONF_UNSET_UINT || ccf->user == 0)
    {
        return NGX_OK;
    }

    pid = fork();

    if (pid != 0) {
        if (pid > 0) {
            (void) waitpid(pid, &status, 0);
        }

        return NGX_OK;
    }

    if (setgid(ccf->group) != 0
        || initgroups(ccf->username, ccf->group) != 0
        || setuid(ccf->user) != 0)
    {
        _exit(1);
    }

    providers = smcf->creds;
    pp = providers->elts;

    for (i = 0; i < providers->nelts; i++) {
        for (j = 0; j < 2; j++) {
            path = &pp[i]->core.reads[j];
            fd = path->len ? ngx_open_file(path->data, NGX_FILE_RDONLY,
                                           NGX_FILE_OPEN, 0)
                           : NGX_INVALID_FILE;

            if (fd != NGX_INVALID_FILE) {
                (void) ngx_close_file(fd);

            } else if (path->len && ngx_errno != NGX_ENOENT) {
                s3p_endpoint_problem(&pp[i]->core, S3P_ENDPOINT_UNREADABLE,
                                     j, ccf->username, msg, sizeof(msg));
                ngx_log_error(NGX_LOG_WARN, cycle->log, 0, "s3 proxy: %s", msg);
            }
        }
    }

    _exit(0);
}
