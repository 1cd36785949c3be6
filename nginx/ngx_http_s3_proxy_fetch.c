/*
 * ngx_http_s3_proxy_module: the credential providers' HTTP exchanges.
 *
 * A fetch is a few tiny HTTP/1.1 exchanges with a fixed peer (IMDSv2's PUT
 * token, GET role, GET credentials; the container endpoint's GET; STS's
 * POST), each on a connection of its own ("Connection: close"), made on
 * nginx's event loop with ngx_event_connect_peer(); STS over https with
 * nginx's SSL client connection, SNI and the certificate verified.  The
 * module speaks HTTP itself because nginx's upstream and subrequest
 * machinery needs a client request to hang from, and a refresh has none.
 * The requests are written and the answers read by the Swift core
 * (s3p_provider_request(), s3p_provider_answer()): C moves bytes.
 *
 * Nothing here logs a secret: failures name the provider and the reason.
 */

#include "ngx_http_s3_proxy_credentials.h"

/* after nginx's headers, which choose the system's feature macros */
#include <dlfcn.h>


/* the TLS connection's state (ngx_ssl_connection_t) and little else */
#define NGX_HTTP_S3_PROXY_SSL_POOL  1024


#if (NGX_HTTP_SSL)

/*
 * The two libssl calls nginx wraps nowhere (SNI on a client connection,
 * the verdict on its certificate), taken from the nginx that loaded the
 * module, which links libssl: the module itself needs libcrypto only, and
 * an nginx built without SSL takes no https provider.
 */

static long (*ngx_http_s3_proxy_ssl_ctrl)(SSL *ssl, int cmd, long larg,
    void *parg);
static long (*ngx_http_s3_proxy_ssl_verify_result)(const SSL *ssl);


ngx_int_t
ngx_http_s3_proxy_fetch_ssl_init(ngx_log_t *log)
{
    if (ngx_http_s3_proxy_ssl_ctrl == NULL) {
        ngx_http_s3_proxy_ssl_ctrl = (long (*)(SSL *, int, long, void *))
            dlsym(RTLD_DEFAULT, "SSL_ctrl");
        ngx_http_s3_proxy_ssl_verify_result = (long (*)(const SSL *))
            dlsym(RTLD_DEFAULT, "SSL_get_verify_result");
    }

    if (ngx_http_s3_proxy_ssl_ctrl == NULL
        || ngx_http_s3_proxy_ssl_verify_result == NULL)
    {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "s3 proxy: https providers need libssl's SSL_ctrl and "
                      "SSL_get_verify_result, which this nginx lacks");
        return NGX_ERROR;
    }

    return NGX_OK;
}

#endif


static ngx_int_t ngx_http_s3_proxy_fetch_step(
    ngx_http_s3_proxy_provider_t *p);
static void ngx_http_s3_proxy_fetch_write(ngx_event_t *wev);
static void ngx_http_s3_proxy_fetch_read(ngx_event_t *rev);
#if (NGX_HTTP_SSL)
static void ngx_http_s3_proxy_fetch_handshake(ngx_connection_t *c);
#endif
static void ngx_http_s3_proxy_fetch_answer(ngx_http_s3_proxy_provider_t *p);
static void ngx_http_s3_proxy_fetch_close(ngx_http_s3_proxy_provider_t *p);
static void ngx_http_s3_proxy_fetch_done(ngx_http_s3_proxy_provider_t *p,
    s3p_provider_answer_t *answer);
static void ngx_http_s3_proxy_fetch_failed(ngx_http_s3_proxy_provider_t *p,
    const char *reason);
static ngx_int_t ngx_http_s3_proxy_read_file(ngx_http_s3_proxy_provider_t *p,
    ngx_str_t *name, ngx_str_t *value);


void
ngx_http_s3_proxy_fetch_start(ngx_http_s3_proxy_provider_t *p)
{
    if (p->request == NULL) {
        p->request = ngx_alloc(NGX_HTTP_S3_PROXY_REQUEST_MAX, p->log);
        p->answer = ngx_alloc(NGX_HTTP_S3_PROXY_ANSWER_MAX, p->log);

        if (p->request == NULL || p->answer == NULL) {
            ngx_http_s3_proxy_fetch_failed(p, "out of memory");
            return;
        }
    }

    p->fetching = 1;
    p->imds_token_len = 0;
    p->role_len = 0;

    switch (p->source) {

    case NGX_HTTP_S3_PROXY_WEB_IDENTITY:
        p->step = S3P_STEP_STS;
        break;

    case NGX_HTTP_S3_PROXY_CONTAINER:
        p->step = S3P_STEP_CONTAINER;
        break;

    default:
        p->step = S3P_STEP_IMDS_TOKEN;
    }

    (void) ngx_http_s3_proxy_fetch_step(p);
}


/* Connects and sends one step's request; NGX_ERROR: failed (handled). */

static ngx_int_t
ngx_http_s3_proxy_fetch_step(ngx_http_s3_proxy_provider_t *p)
{
    ngx_int_t                rc;
    ngx_str_t                file;
    ngx_connection_t        *c;
    s3p_provider_request_t   req;

    ngx_memzero(&req, sizeof(s3p_provider_request_t));
    ngx_str_null(&file);

    req.step = p->step;
    req.host.data = p->host.data;
    req.host.len = p->host.len;
    req.path.data = p->path.data;
    req.path.len = p->path.len;

    switch (p->step) {

    case S3P_STEP_STS:
        if (ngx_http_s3_proxy_read_file(p, &p->token_file, &file) != NGX_OK) {
            return NGX_ERROR;
        }

        req.role.data = p->role_arn.data;
        req.role.len = p->role_arn.len;
        req.session_name.data = p->session_name.data;
        req.session_name.len = p->session_name.len;
        req.web_identity.data = file.data;
        req.web_identity.len = file.len;
        break;

    case S3P_STEP_CONTAINER:
        if (p->token_file.len) {
            if (ngx_http_s3_proxy_read_file(p, &p->token_file, &file)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            /* the header's value: the file without its final newline */

            while (file.len && (file.data[file.len - 1] == '\n'
                                || file.data[file.len - 1] == '\r'))
            {
                file.len--;
            }

            req.token.data = file.data;
            req.token.len = file.len;

        } else {
            req.token.data = p->token.data;
            req.token.len = p->token.len;
        }

        break;

    case S3P_STEP_IMDS_ROLE:
    case S3P_STEP_IMDS_CREDENTIALS:
        req.token.data = p->imds_token;
        req.token.len = p->imds_token_len;
        req.role.data = p->role;
        req.role.len = p->role_len;
        break;

    default:
        break;
    }

    p->request_len = s3p_provider_request(&req, p->request,
                                          NGX_HTTP_S3_PROXY_REQUEST_MAX);

    if (file.data) {
        ngx_explicit_memzero(file.data, file.len);
        ngx_free(file.data);
    }

    if (p->request_len == 0) {
        ngx_http_s3_proxy_fetch_failed(p, p->step == S3P_STEP_CONTAINER
                                       ? "the authorization token is not "
                                         "a header value"
                                       : "the request does not fit");
        return NGX_ERROR;
    }

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
        if (p->peer.connection) {
            ngx_close_connection(p->peer.connection);
            p->peer.connection = NULL;
        }

        ngx_http_s3_proxy_fetch_failed(p, "connect() failed");
        return NGX_ERROR;
    }

    c = p->peer.connection;
    c->data = p;
    c->log = p->log;
    c->read->log = p->log;
    c->write->log = p->log;
    c->write->handler = ngx_http_s3_proxy_fetch_write;
    c->read->handler = ngx_http_s3_proxy_fetch_read;

    ngx_add_timer(c->write, NGX_HTTP_S3_PROXY_TIMEOUT);

    /* with NGX_AGAIN, sending (or the TLS handshake) waits for connect */

    if (rc == NGX_OK) {
        ngx_http_s3_proxy_fetch_write(c->write);
    }

    return NGX_OK;
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
        if (c->pool == NULL) {
            ngx_http_s3_proxy_fetch_failed(p, "TLS setup failed");
            return;
        }

        if (ngx_ssl_create_connection(p->ssl, c, NGX_SSL_CLIENT) != NGX_OK) {
            ngx_http_s3_proxy_fetch_failed(p, "TLS setup failed");
            return;
        }

        {
            u_char  name[256];

            if (p->url.host.len >= sizeof(name)) {
                ngx_http_s3_proxy_fetch_failed(p, "host name too long");
                return;
            }

            ngx_memcpy(name, p->url.host.data, p->url.host.len);
            name[p->url.host.len] = '\0';

            /* SSL_set_tlsext_host_name(), a macro over SSL_ctrl() */

            if (ngx_http_s3_proxy_ssl_ctrl(c->ssl->connection,
                                           SSL_CTRL_SET_TLSEXT_HOSTNAME,
                                           TLSEXT_NAMETYPE_host_name, name)
                == 0)
            {
                ngx_http_s3_proxy_fetch_failed(p, "TLS SNI failed");
                return;
            }
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

    while (p->sent < p->request_len) {
        n = c->send(c, p->request + p->sent, p->request_len - p->sent);

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

    ngx_add_timer(c->read, NGX_HTTP_S3_PROXY_TIMEOUT);

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

    verified = ngx_http_s3_proxy_ssl_verify_result(c->ssl->connection);

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
    ssize_t                        n;
    ngx_connection_t              *c;
    ngx_http_s3_proxy_provider_t  *p;

    c = rev->data;
    p = c->data;

    if (rev->timedout) {
        ngx_http_s3_proxy_fetch_failed(p, "timed out");
        return;
    }

    for ( ;; ) {
        if (p->answer_len == NGX_HTTP_S3_PROXY_ANSWER_MAX) {
            ngx_http_s3_proxy_fetch_failed(p, "an answer too large");
            return;
        }

        n = c->recv(c, p->answer + p->answer_len,
                    NGX_HTTP_S3_PROXY_ANSWER_MAX - p->answer_len);

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
    ngx_http_s3_proxy_fetch_answer(p);
}


static void
ngx_http_s3_proxy_fetch_answer(ngx_http_s3_proxy_provider_t *p)
{
    u_char                 err[128], *out;
    ngx_int_t              rc;
    s3p_provider_answer_t  answer;

    out = ngx_alloc(p->answer_len + 1, p->log);
    if (out == NULL) {
        ngx_http_s3_proxy_fetch_failed(p, "out of memory");
        return;
    }

    err[0] = '\0';

    rc = s3p_provider_answer(p->step, p->answer, p->answer_len, out,
                             p->answer_len + 1, &answer, err, sizeof(err));

    ngx_explicit_memzero(p->answer, p->answer_len);

    if (rc != S3P_OK) {
        ngx_free(out);

        /* IMDSv1: no token when the service does not give one */

        if (p->step == S3P_STEP_IMDS_TOKEN && p->imds_v1
            && (answer.status == 403 || answer.status == 404
                || answer.status == 405))
        {
            p->step = S3P_STEP_IMDS_ROLE;
            (void) ngx_http_s3_proxy_fetch_step(p);
            return;
        }

        ngx_http_s3_proxy_fetch_failed(p, (char *) err);
        return;
    }

    switch (p->step) {

    case S3P_STEP_IMDS_TOKEN:
    case S3P_STEP_IMDS_ROLE:
        if (p->step == S3P_STEP_IMDS_TOKEN) {
            p->imds_token_len = ngx_min(answer.value.len,
                                        sizeof(p->imds_token));
            ngx_memcpy(p->imds_token, answer.value.data, p->imds_token_len);
            p->step = S3P_STEP_IMDS_ROLE;

        } else {
            p->role_len = ngx_min(answer.value.len, sizeof(p->role));
            ngx_memcpy(p->role, answer.value.data, p->role_len);
            p->step = S3P_STEP_IMDS_CREDENTIALS;
        }

        ngx_free(out);
        (void) ngx_http_s3_proxy_fetch_step(p);
        return;

    default:
        ngx_http_s3_proxy_fetch_done(p, &answer);
        ngx_explicit_memzero(out, p->answer_len + 1);
        ngx_free(out);
        ngx_explicit_memzero(p->imds_token, sizeof(p->imds_token));
        p->imds_token_len = 0;
    }
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


/*
 * New credentials: into the zone (the old secret cleared), with the next
 * refresh leaving at least the longest presigned lifetime plus a margin
 * (a quarter of their life, at most 5 minutes), and at most half their
 * life ahead when they live shorter than that.
 */

static void
ngx_http_s3_proxy_fetch_done(ngx_http_s3_proxy_provider_t *p,
    s3p_provider_answer_t *answer)
{
    time_t                     now, life, refresh, margin;
    s3p_str_t                  keys[3];
    ngx_uint_t                 changed;
    ngx_http_s3_proxy_slot_t  *slot;

    slot = p->slot;
    now = ngx_time();
    life = (time_t) answer->expiration - now;

    if (life <= 0) {
        ngx_http_s3_proxy_fetch_failed(p, "the credentials have expired");
        return;
    }

    if (answer->access_key.len > NGX_HTTP_S3_PROXY_KEY_MAX
        || answer->secret_key.len > NGX_HTTP_S3_PROXY_SECRET_MAX
        || answer->session_token.len > NGX_HTTP_S3_PROXY_TOKEN_MAX)
    {
        ngx_http_s3_proxy_fetch_failed(p, "the credentials are too long");
        return;
    }

    margin = ngx_min(life / 4, 300);
    refresh = (time_t) answer->expiration - p->lead - margin;

    if (refresh < now + life / 2) {
        refresh = now + life / 2;
    }

    if (refresh < now + 1) {
        refresh = now + 1;
    }

    keys[0] = answer->access_key;
    keys[1] = answer->secret_key;
    keys[2] = answer->session_token;

    ngx_shmtx_lock(&p->shpool->mutex);

    changed = ngx_http_s3_proxy_store(slot, keys,
                                      (time_t) answer->expiration);

    slot->refresh = refresh;
    slot->fetching = 0;
    slot->failures = 0;

    ngx_shmtx_unlock(&p->shpool->mutex);

    p->fetching = 0;

    if (changed) {
        ngx_log_error(NGX_LOG_NOTICE, p->log, 0,
                      "s3 proxy: credentials from \"%V\": access key id "
                      "\"%*s\", expiring in %T s, next refresh in %T s",
                      &p->name, answer->access_key.len,
                      answer->access_key.data, life, refresh - now);
    }
}


/*
 * A failed fetch: the credentials in the zone stay in use until they
 * expire; the next try comes after 1, 2, 4 ... 60 seconds.  Logged once
 * per streak of failures.
 */

static void
ngx_http_s3_proxy_fetch_failed(ngx_http_s3_proxy_provider_t *p,
    const char *reason)
{
    time_t                     now, delay, expiration;
    ngx_uint_t                 failures;
    ngx_http_s3_proxy_slot_t  *slot;

    ngx_http_s3_proxy_fetch_close(p);

    slot = p->slot;
    now = ngx_time();

    ngx_shmtx_lock(&p->shpool->mutex);

    failures = ++slot->failures;
    delay = (failures > 6) ? NGX_HTTP_S3_PROXY_BACKOFF_MAX
                           : ngx_min((time_t) 1 << (failures - 1),
                                     NGX_HTTP_S3_PROXY_BACKOFF_MAX);
    slot->refresh = now + delay;
    slot->fetching = 0;
    expiration = slot->version ? slot->expiration : 0;

    ngx_shmtx_unlock(&p->shpool->mutex);

    p->fetching = 0;
    ngx_explicit_memzero(p->imds_token, sizeof(p->imds_token));
    p->imds_token_len = 0;

    if (failures != 1) {
        return;
    }

    if (expiration > now) {
        ngx_log_error(NGX_LOG_ERR, p->log, 0,
                      "s3 proxy: credentials from \"%V\" not refreshed: %s; "
                      "the current ones stay in use for %T s",
                      &p->name, reason, expiration - now);

    } else {
        ngx_log_error(NGX_LOG_ERR, p->log, 0,
                      "s3 proxy: no credentials from \"%V\": %s",
                      &p->name, reason);
    }
}


/* A token file's content, read whole; NGX_ERROR: failed (handled). */

static ngx_int_t
ngx_http_s3_proxy_read_file(ngx_http_s3_proxy_provider_t *p, ngx_str_t *name,
    ngx_str_t *value)
{
    u_char           path[NGX_MAX_PATH];
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_file_info_t  fi;

    if (name->len >= sizeof(path)) {
        ngx_http_s3_proxy_fetch_failed(p, "the token file's name is too long");
        return NGX_ERROR;
    }

    ngx_memcpy(path, name->data, name->len);
    path[name->len] = '\0';

    fd = ngx_open_file(path, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_http_s3_proxy_fetch_failed(p, "the token file cannot be opened");
        return NGX_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR
        || ngx_file_size(&fi) > NGX_HTTP_S3_PROXY_TOKEN_MAX
        || ngx_file_size(&fi) == 0)
    {
        ngx_close_file(fd);
        ngx_http_s3_proxy_fetch_failed(p, "the token file is empty, too "
                                          "large or unreadable");
        return NGX_ERROR;
    }

    value->data = ngx_alloc((size_t) ngx_file_size(&fi), p->log);
    if (value->data == NULL) {
        ngx_close_file(fd);
        ngx_http_s3_proxy_fetch_failed(p, "out of memory");
        return NGX_ERROR;
    }

    n = read(fd, value->data, (size_t) ngx_file_size(&fi));
    ngx_close_file(fd);

    if (n <= 0) {
        ngx_free(value->data);
        value->data = NULL;
        ngx_http_s3_proxy_fetch_failed(p, "the token file cannot be read");
        return NGX_ERROR;
    }

    value->len = n;

    return NGX_OK;
}
