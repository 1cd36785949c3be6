/*
 * ngx_http_s3_proxy_module: what a credential provider reaches, checked
 * and prepared at configuration time: the hosts of its exchanges (the
 * core's targets: its own endpoint, STS, S3 to verify keys with),
 * resolved as nginx resolves upstream servers, with a TLS context; and
 * the files its refresh reads, which the worker processes must be able
 * to read.
 */

#include "ngx_http_s3_proxy_credentials.h"


/*
 * The provider's endpoint, resolved now, as nginx resolves upstream
 * servers named in its configuration, and each address checked by the
 * core; for https, a TLS context trusting the core's CA bundle.
 */

ngx_int_t
ngx_http_s3_proxy_endpoint(ngx_conf_t *cf, ngx_http_s3_proxy_provider_t *p,
    ngx_http_s3_proxy_pos_t *pos)
{
    u_char               err[S3P_MESSAGE_MAX], *a;
    size_t               len;
    ngx_str_t            url;
    ngx_uint_t           i, t, tls;
    ngx_url_t           *u;
    struct sockaddr     *sa;
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
        url.data = (u_char *) target->url.data;
        url.len = target->url.len;

        u->url.data = (u_char *) target->host.data;
        u->url.len = target->host.len;
        u->default_port = (in_port_t) target->port;

        if ((ngx_parse_url(cf->pool, u) != NGX_OK || u->naddrs == 0)
            && t == S3P_TARGET_S3)
        {
            /* an upstream{} name, say: the keys are not verified */
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, cf->log, 0,
                           "s3 proxy: \"%V\" cannot be resolved now: the "
                           "keys are not verified with S3", &url);
            u->naddrs = 0;
            target->host.len = 0;
            continue;
        }

        if (u->naddrs == 0) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"s3_proxy\": the %*s endpoint \"%V\": %s in %s:%ui",
                          p->core.name.len, p->core.name.data, &url,
                          u->err ? u->err : "no address",
                          pos->file_name, pos->line);
            return NGX_ERROR;
        }

        for (i = 0; t == S3P_TARGET_PROVIDER && i < u->naddrs; i++) {
            sa = u->addrs[i].sockaddr;

            if (sa->sa_family == AF_INET) {
                a = (u_char *) &((struct sockaddr_in *) sa)->sin_addr;
                len = 4;
#if (NGX_HAVE_INET6)
            } else if (sa->sa_family == AF_INET6) {
                a = ((struct sockaddr_in6 *) sa)->sin6_addr.s6_addr;
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

    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                  "\"s3_proxy\": the %*s endpoint \"%V\": the CA bundle "
                  "\"%*s\" (AWS_CA_BUNDLE, or the system's) cannot be "
                  "loaded in %s:%ui", p->core.name.len, p->core.name.data,
                  &url, p->core.ca_bundle.len, p->core.ca_bundle.data,
                  pos->file_name, pos->line);
#else
    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                  "\"s3_proxy\": the %*s endpoint \"%V\" needs nginx built "
                  "with SSL in %s:%ui", p->core.name.len, p->core.name.data,
                  &url, pos->file_name, pos->line);
#endif

    return NGX_ERROR;
}


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

            if (path->len == 0) {
                continue;
            }

            fd = ngx_open_file(path->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

            if (fd != NGX_INVALID_FILE) {
                (void) ngx_close_file(fd);
                continue;
            }

            if (ngx_errno == NGX_ENOENT) {
                continue;
            }

            ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                          "s3 proxy: the worker processes' user \"%s\" "
                          "cannot read \"%s\", which credentials from "
                          "\"%*s\" are refreshed from: they will not "
                          "rotate; make the file and its directories "
                          "readable by \"%s\", or name a file it can read",
                          ccf->username, path->data, pp[i]->core.name.len,
                          pp[i]->core.name.data, ccf->username);
        }
    }

    _exit(0);
}
