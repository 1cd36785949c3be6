/*
 * ngx_http_s3_proxy_module: credentials that rotate.
 *
 * A location signs with keys that can change while nginx runs when its
 * s3_proxy_credentials names a provider (web-identity, container, imds),
 * or names a profile (profile=NAME, or auto without keys in the
 * environment), or is auto with neither keys nor a profile with keys: then
 * the first provider the environment configures, in the order of the AWS
 * SDKs' default chain: web identity (STS AssumeRoleWithWebIdentity), the
 * container endpoint (ECS, EKS Pod Identity), the EC2 instance metadata
 * service (IMDSv2).
 *
 *   - A profile's files (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE) are
 *     looked at every 2 seconds by one worker (stat()); when either
 *     changed, it reads them and the core finds the profile's keys again.
 *   - One shared memory zone, "s3_proxy_credentials", holds each
 *     provider's current credentials and a version; it outlives a reload,
 *     so new workers sign at once and nothing is fetched again early.
 *   - Each worker looks at every provider once a second.  The one that
 *     takes the zone's lock first while a refresh is due fetches; the
 *     others keep signing with the credentials in the zone.
 *   - A fetch is a few tiny HTTP/1.1 exchanges on nginx's event loop
 *     (ngx_http_s3_proxy_fetch.c).
 *   - A worker that sees a new version resolves its own signing settings
 *     with the new credentials (a new generation, so the core derives a
 *     new signing key); requests in flight keep the settings they were
 *     signed with until they end.
 *
 * Secrets (secret keys, session tokens, web identity and authorization
 * tokens) are never logged, at any level: log lines name the provider, the
 * access key id, the expiry and the reason of a failure.  The zone's copy
 * of a secret is cleared when it is replaced, and a worker's copies when
 * the last request that signed with them ends.
 */

#include "ngx_http_s3_proxy_credentials.h"


static ngx_http_s3_proxy_provider_t *ngx_http_s3_proxy_provider_env(
    ngx_conf_t *cf, ngx_uint_t source);
static ngx_http_s3_proxy_provider_t *ngx_http_s3_proxy_provider_profile(
    ngx_conf_t *cf, s3p_settings_t *raw, s3p_signing_t *signing);
static ngx_int_t ngx_http_s3_proxy_check_resolve(ngx_conf_t *cf,
    ngx_http_s3_proxy_loc_conf_t *conf, s3p_settings_t *raw,
    s3p_signing_t *signing);
static void ngx_http_s3_proxy_file_check(ngx_http_s3_proxy_provider_t *p);
static ngx_int_t ngx_http_s3_proxy_file_read(ngx_http_s3_proxy_provider_t *p,
    const s3p_str_t *path, ngx_http_s3_proxy_stamp_t *stamp, s3p_str_t *out);
static ngx_int_t ngx_http_s3_proxy_provider_url(ngx_conf_t *cf,
    ngx_http_s3_proxy_provider_t *p, ngx_str_t *url, ngx_uint_t local_only);
static ngx_int_t ngx_http_s3_proxy_creds_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_s3_proxy_tick(ngx_event_t *ev);
static int64_t ngx_http_s3_proxy_cap(ngx_http_s3_proxy_creds_t *creds,
    time_t expiration, time_t now);
static ngx_int_t ngx_http_s3_proxy_resolve(ngx_http_s3_proxy_creds_t *creds,
    ngx_log_t *log, time_t now);
static void ngx_http_s3_proxy_release(ngx_http_s3_proxy_resolved_t *rs);
static void ngx_http_s3_proxy_request_done(void *data);
static char *ngx_http_s3_proxy_getenv_str(ngx_conf_t *cf, const char *name,
    ngx_str_t *value);


/*
 * Keys that let the core check a provider's location at configuration
 * time; never used to sign: such a location always signs with the
 * provider's current credentials, or answers 503.
 */
static u_char  ngx_http_s3_proxy_check_key[] = "ASIACHECKONLY";



static ngx_str_t  ngx_http_s3_proxy_zone_name =
    ngx_string("s3_proxy_credentials");


/*
 * What a location signs with, once its raw settings were resolved by the
 * core (`resolved`: its status): NGX_OK and `creds` NULL for keys that
 * never change (the environment's), or `creds` for keys that rotate, with
 * `signing` resolved for them; NGX_ERROR when logged.  Locations with the
 * same source share one provider.
 */

ngx_int_t
ngx_http_s3_proxy_credentials_conf(ngx_conf_t *cf,
    ngx_http_s3_proxy_loc_conf_t *conf, s3p_settings_t *raw,
    s3p_signing_t *signing, ngx_int_t resolved,
    ngx_http_s3_proxy_creds_t **creds)
{
    ngx_uint_t                       i;
    const s3p_environment_t         *env;
    ngx_http_s3_proxy_creds_t       *cr;
    ngx_http_s3_proxy_provider_t    *p, **pp;
    ngx_http_s3_proxy_creds_conf_t  *ccf;
    ngx_http_s3_proxy_main_conf_t   *smcf;

    *creds = NULL;
    env = raw->env;

    switch (conf->credentials) {

    case S3P_CREDENTIALS_ENV:
        return NGX_OK;

    case S3P_CREDENTIALS_PROFILE:
        if (resolved != S3P_OK) {
            return NGX_OK;              /* the caller says why */
        }

        p = ngx_http_s3_proxy_provider_profile(cf, raw, signing);
        break;

    case S3P_CREDENTIALS_AUTO:
        if (env->access_key_id.len || env->secret_access_key.len) {
            return NGX_OK;
        }

        if (resolved == S3P_OK) {
            p = ngx_http_s3_proxy_provider_profile(cf, raw, signing);
            break;
        }

        p = ngx_http_s3_proxy_provider_env(cf, 0);

        if (p == NULL) {
            return NGX_OK;              /* the caller says why */
        }

        break;

    default:
        p = ngx_http_s3_proxy_provider_env(cf, conf->credentials);
    }

    if (p == NULL || p == NGX_CONF_ERROR) {
        return NGX_ERROR;
    }

    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_s3_proxy_module);

    if (smcf->creds == NULL) {
        ccf = ngx_pcalloc(cf->pool, sizeof(ngx_http_s3_proxy_creds_conf_t));
        if (ccf == NULL) {
            return NGX_ERROR;
        }

        if (ngx_array_init(&ccf->providers, cf->pool, 1,
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

    /* the same source for another location: the same provider */

    pp = ccf->providers.elts;

    for (i = 0; i < ccf->providers.nelts; i++) {
        if (pp[i]->id.len == p->id.len
            && ngx_memcmp(pp[i]->id.data, p->id.data, p->id.len) == 0)
        {
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
    }

    /* a provider's location is checked with keys it never signs with */

    if (p->source != 0
        && ngx_http_s3_proxy_check_resolve(cf, conf, raw, signing) != NGX_OK)
    {
        return NGX_ERROR;
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

    /* refreshes leave at least the longest presigned lifetime */

    if ((time_t) (signing->expires + signing->window) > p->lead) {
        p->lead = (time_t) (signing->expires + signing->window);
    }

    *creds = cr;

    return NGX_OK;
}


static ngx_int_t
ngx_http_s3_proxy_check_resolve(ngx_conf_t *cf,
    ngx_http_s3_proxy_loc_conf_t *conf, s3p_settings_t *raw,
    s3p_signing_t *signing)
{
    u_char                   err[256], *out;
    size_t                   len;
    s3p_settings_t           check;
    s3p_environment_t        env;
    ngx_http_s3_proxy_pos_t *pos;

    pos = &conf->enable_pos;

    env = *raw->env;
    env.access_key_id.data = ngx_http_s3_proxy_check_key;
    env.access_key_id.len = sizeof(ngx_http_s3_proxy_check_key) - 1;
    env.secret_access_key = env.access_key_id;
    env.session_token.len = 0;
    env.session_token.data = NULL;

    check = *raw;
    check.credentials = S3P_CREDENTIALS_ENV;
    check.env = &env;

    len = s3p_signing_bound(&check);

    out = ngx_pcalloc(cf->pool, len);
    if (out == NULL) {
        return NGX_ERROR;
    }

    if (s3p_signing_resolve(&check, signing, out, len, err, sizeof(err))
        != S3P_OK)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "\"s3_proxy\": %s in %s:%ui",
                      err, pos->file_name, pos->line);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * A profile of the shared files, whose keys the core found in them now
 * (in `signing`): they seed the zone, and the files are watched.
 */

static ngx_http_s3_proxy_provider_t *
ngx_http_s3_proxy_provider_profile(ngx_conf_t *cf, s3p_settings_t *raw,
    s3p_signing_t *signing)
{
    u_char                        *s;
    size_t                         len;
    ngx_uint_t                     i;
    s3p_str_t                      profile, keys[3];
    const s3p_environment_t       *env;
    ngx_http_s3_proxy_provider_t  *p;

    p = ngx_pcalloc(cf->pool, sizeof(ngx_http_s3_proxy_provider_t));
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    env = raw->env;

    if (raw->profile.len) {
        profile = raw->profile;

    } else if (env->profile.len) {
        profile = env->profile;

    } else {
        profile.data = (u_char *) "default";
        profile.len = sizeof("default") - 1;
    }

    p->name.len = sizeof("profile=") - 1 + profile.len;
    p->name.data = ngx_pnalloc(cf->pool, p->name.len);
    if (p->name.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(p->name.data, "profile=%*s", profile.len, profile.data);

    len = p->name.len + env->credentials_path.len + env->config_path.len + 2;

    p->id.data = ngx_pnalloc(cf->pool, len);
    if (p->id.data == NULL) {
        return NGX_CONF_ERROR;
    }

    s = ngx_sprintf(p->id.data, "%V %*s %*s", &p->name,
                    env->credentials_path.len, env->credentials_path.data,
                    env->config_path.len, env->config_path.data);
    p->id.len = s - p->id.data;

    p->raw = *raw;

    /* the keys as read now; the copies are wiped with the configuration */

    keys[0] = signing->access_key;
    keys[1] = signing->secret_key;
    keys[2] = signing->session_token;

    for (i = 0; i < 3; i++) {
        p->seed[i].len = keys[i].len;

        if (keys[i].len == 0) {
            continue;
        }

        s = ngx_pnalloc(cf->pool, keys[i].len);
        if (s == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memcpy(s, keys[i].data, keys[i].len);
        p->seed[i].data = s;
    }

    return p;
}


/*
 * The provider `source` (NGX_HTTP_S3_PROXY_WEB_IDENTITY...), or with 0
 * the first one the environment configures: NULL for none, and
 * NGX_CONF_ERROR when a named one is not configured (logged).
 */

static ngx_http_s3_proxy_provider_t *
ngx_http_s3_proxy_provider_env(ngx_conf_t *cf, ngx_uint_t source)
{
    u_char                        *s;
    ngx_str_t                      v, url, full, region;
    ngx_http_s3_proxy_provider_t  *p;

    p = ngx_pcalloc(cf->pool, sizeof(ngx_http_s3_proxy_provider_t));
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    /* 1. web identity: a token file and a role */

    if (ngx_http_s3_proxy_getenv_str(cf, "AWS_WEB_IDENTITY_TOKEN_FILE",
                                     &p->token_file) != NGX_CONF_OK
        || ngx_http_s3_proxy_getenv_str(cf, "AWS_ROLE_ARN", &p->role_arn)
           != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (source == NGX_HTTP_S3_PROXY_WEB_IDENTITY
        && (p->token_file.len == 0 || p->role_arn.len == 0))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"s3_proxy_credentials web-identity\" requires "
                           "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN in "
                           "the environment");
        return NGX_CONF_ERROR;
    }

    if (p->token_file.len && p->role_arn.len
        && (source == 0 || source == NGX_HTTP_S3_PROXY_WEB_IDENTITY))
    {
        p->source = NGX_HTTP_S3_PROXY_WEB_IDENTITY;
        ngx_str_set(&p->name, "web-identity");

        if (ngx_http_s3_proxy_getenv_str(cf, "AWS_ROLE_SESSION_NAME",
                                         &p->session_name) != NGX_CONF_OK
            || ngx_http_s3_proxy_getenv_str(cf, "AWS_ENDPOINT_URL_STS", &url)
               != NGX_CONF_OK
            || ngx_http_s3_proxy_getenv_str(cf, "AWS_DEFAULT_REGION", &region)
               != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }

        if (p->session_name.len == 0) {
            ngx_str_set(&p->session_name, "ngx_http_s3_proxy_module");
        }

        if (url.len == 0) {
            if (region.len == 0) {
                ngx_str_set(&region, "us-east-1");
            }

            url.len = sizeof("https://sts..amazonaws.com") - 1 + region.len;
            url.data = ngx_pnalloc(cf->pool, url.len);
            if (url.data == NULL) {
                return NGX_CONF_ERROR;
            }

            ngx_sprintf(url.data, "https://sts.%V.amazonaws.com", &region);
        }

        if (ngx_http_s3_proxy_provider_url(cf, p, &url, 0) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        goto done;
    }

    ngx_str_null(&p->token_file);
    ngx_str_null(&p->role_arn);

    /* 2. the container endpoint */

    if (ngx_http_s3_proxy_getenv_str(cf,
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", &v) != NGX_CONF_OK
        || ngx_http_s3_proxy_getenv_str(cf,
               "AWS_CONTAINER_CREDENTIALS_FULL_URI", &full) != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (source == NGX_HTTP_S3_PROXY_CONTAINER && v.len == 0 && full.len == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"s3_proxy_credentials container\" requires "
                           "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or "
                           "AWS_CONTAINER_CREDENTIALS_FULL_URI in the "
                           "environment");
        return NGX_CONF_ERROR;
    }

    if ((v.len || full.len)
        && (source == 0 || source == NGX_HTTP_S3_PROXY_CONTAINER))
    {
        p->source = NGX_HTTP_S3_PROXY_CONTAINER;
        ngx_str_set(&p->name, "container");

        if (v.len) {
            url.len = sizeof("http://169.254.170.2") - 1 + v.len;
            url.data = ngx_pnalloc(cf->pool, url.len);
            if (url.data == NULL) {
                return NGX_CONF_ERROR;
            }

            ngx_sprintf(url.data, "http://169.254.170.2%V", &v);

            if (ngx_http_s3_proxy_provider_url(cf, p, &url, 0) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

        } else if (ngx_http_s3_proxy_provider_url(cf, p, &full, 1)
                   != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        if (ngx_http_s3_proxy_getenv_str(cf,
                "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &p->token_file)
            != NGX_CONF_OK
            || ngx_http_s3_proxy_getenv_str(cf,
                   "AWS_CONTAINER_AUTHORIZATION_TOKEN", &p->token)
               != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }

        goto done;
    }

    /* 3. the instance metadata service, unless turned off */

    if (ngx_http_s3_proxy_getenv_str(cf, "AWS_EC2_METADATA_DISABLED", &v)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (v.len == 4 && ngx_strncasecmp(v.data, (u_char *) "true", 4) == 0) {
        if (source == NGX_HTTP_S3_PROXY_IMDS) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"s3_proxy_credentials imds\": "
                               "AWS_EC2_METADATA_DISABLED is true");
            return NGX_CONF_ERROR;
        }

        return NULL;
    }

    if (source != 0 && source != NGX_HTTP_S3_PROXY_IMDS) {
        return NULL;
    }

    p->source = NGX_HTTP_S3_PROXY_IMDS;
    ngx_str_set(&p->name, "imds");

    if (ngx_http_s3_proxy_getenv_str(cf, "AWS_EC2_METADATA_V1_DISABLED", &v)
        != NGX_CONF_OK
        || ngx_http_s3_proxy_getenv_str(cf,
               "AWS_EC2_METADATA_SERVICE_ENDPOINT", &url) != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    p->imds_v1 = !(v.len == 4
                   && ngx_strncasecmp(v.data, (u_char *) "true", 4) == 0);

    if (url.len == 0) {
        ngx_str_set(&url, "http://169.254.169.254");
    }

    if (ngx_http_s3_proxy_provider_url(cf, p, &url, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

done:

    /* the slot of the same provider survives a reload: found by this */

    p->id.len = p->name.len + 1 + url.len + 1 + p->role_arn.len;

    if (p->id.len > NGX_HTTP_S3_PROXY_ID_MAX) {
        p->id.len = NGX_HTTP_S3_PROXY_ID_MAX;
    }

    p->id.data = ngx_pnalloc(cf->pool, p->id.len);
    if (p->id.data == NULL) {
        return NGX_CONF_ERROR;
    }

    s = ngx_snprintf(p->id.data, p->id.len, "%V %V %V", &p->name,
                     &p->url.url, &p->role_arn);
    p->id.len = s - p->id.data;

    return p;
}


/*
 * The provider's endpoint, resolved now, as nginx resolves upstream
 * servers named in its configuration.  "local_only": plain http only to a
 * loopback or link-local address, as the SDKs allow a container's full
 * URI.
 */

static ngx_int_t
ngx_http_s3_proxy_provider_url(ngx_conf_t *cf,
    ngx_http_s3_proxy_provider_t *p, ngx_str_t *url, ngx_uint_t local_only)
{
    u_char               *a;
    ngx_uint_t            i, https, local;
#if (NGX_HTTP_SSL)
    ngx_str_t             bundle, name;
    ngx_pool_cleanup_t   *cln;
#endif
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6  *sin6;
#endif

    if (url->len > 8 && ngx_strncasecmp(url->data, (u_char *) "https://", 8)
                        == 0)
    {
        https = 1;
        p->url.url.data = url->data + 8;
        p->url.url.len = url->len - 8;
        p->url.default_port = 443;

    } else if (url->len > 7
               && ngx_strncasecmp(url->data, (u_char *) "http://", 7) == 0)
    {
        https = 0;
        p->url.url.data = url->data + 7;
        p->url.url.len = url->len - 7;
        p->url.default_port = 80;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"s3_proxy\": the %V endpoint \"%V\" is not "
                           "an http:// or https:// URL", &p->name, url);
        return NGX_ERROR;
    }

    p->url.uri_part = 1;

    if (ngx_parse_url(cf->pool, &p->url) != NGX_OK || p->url.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"s3_proxy\": the %V endpoint \"%V\": %s",
                           &p->name, url,
                           p->url.err ? p->url.err : "no address");
        return NGX_ERROR;
    }

    p->host.len = p->url.host.len + sizeof(":65535") - 1;
    p->host.data = ngx_pnalloc(cf->pool, p->host.len);
    if (p->host.data == NULL) {
        return NGX_ERROR;
    }

    p->host.len = (p->url.no_port || p->url.port == p->url.default_port)
                  ? (size_t) (ngx_sprintf(p->host.data, "%V", &p->url.host)
                              - p->host.data)
                  : (size_t) (ngx_sprintf(p->host.data, "%V:%d",
                                          &p->url.host, (int) p->url.port)
                              - p->host.data);

    p->path = p->url.uri;

    if (local_only && !https) {
        for (i = 0; i < p->url.naddrs; i++) {
            local = 0;

            switch (p->url.addrs[i].sockaddr->sa_family) {

#if (NGX_HAVE_INET6)
            case AF_INET6:
                sin6 = (struct sockaddr_in6 *) p->url.addrs[i].sockaddr;
                a = sin6->sin6_addr.s6_addr;
                local = IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr)
                        || IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr)
                        /* EKS Pod Identity: fd00:ec2::23 */
                        || (a[0] == 0xfd && a[1] == 0 && a[2] == 0x0e
                            && a[3] == 0xc2);
                break;
#endif

            case AF_INET:
                sin = (struct sockaddr_in *) p->url.addrs[i].sockaddr;
                a = (u_char *) &sin->sin_addr.s_addr;
                local = a[0] == 127 || (a[0] == 169 && a[1] == 254);
                break;
            }

            if (!local) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"s3_proxy\": "
                                   "AWS_CONTAINER_CREDENTIALS_FULL_URI "
                                   "\"%V\" must be https, or name a "
                                   "loopback or link-local host", url);
                return NGX_ERROR;
            }
        }
    }

    if (https) {
#if (NGX_HTTP_SSL)
        if (ngx_http_s3_proxy_fetch_ssl_init(cf->log) != NGX_OK) {
            return NGX_ERROR;
        }

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

        /* the CAs to trust: AWS_CA_BUNDLE, as the AWS SDKs take it */

        if (ngx_http_s3_proxy_getenv_str(cf, "AWS_CA_BUNDLE", &bundle)
            != NGX_CONF_OK)
        {
            return NGX_ERROR;
        }

        if (bundle.len == 0) {
            ngx_str_set(&bundle, "/etc/ssl/certs/ca-certificates.crt");
        }

        name = bundle;

        if (ngx_ssl_trusted_certificate(cf, p->ssl, &bundle, 2) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"s3_proxy\": the %V endpoint \"%V\": the "
                               "CA bundle \"%V\" (AWS_CA_BUNDLE, or the "
                               "system's) cannot be loaded",
                               &p->name, url, &name);
            return NGX_ERROR;
        }
#else
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"s3_proxy\": the %V endpoint \"%V\" needs "
                           "nginx built with SSL", &p->name, url);
        return NGX_ERROR;
#endif
    }

    return NGX_OK;
}


static char *
ngx_http_s3_proxy_getenv_str(ngx_conf_t *cf, const char *name,
    ngx_str_t *value)
{
    char  *env;

    env = getenv(name);

    if (env == NULL || *env == '\0') {
        ngx_str_null(value);
        return NGX_CONF_OK;
    }

    value->len = ngx_strlen(env);
    value->data = ngx_pnalloc(cf->pool, value->len);
    if (value->data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(value->data, env, value->len);

    return NGX_CONF_OK;
}


/*
 * The zone: kept across reloads (nginx maps it again with the same name
 * and size), so each provider finds its slot and its credentials.
 */

static ngx_int_t
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

    version = slot ? slot->version : 0;

    if (creds->current == NULL || version != creds->version
        || ngx_http_s3_proxy_cap(creds, creds->expiration, now)
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

    if (version == 0 && slot != NULL && slot->failures == 0) {
        return NGX_AGAIN;
    }

    if (creds->logged != now) {
        creds->logged = now;
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "s3 proxy: no valid credentials from \"%V\" yet",
                      &p->name);
    }

    return NGX_BUSY;
}


/*
 * Presigned URLs never outlive their credentials: while they live longer
 * than s3_proxy_expires (plus the presign window) nothing is capped (0);
 * otherwise URLs are signed for their remaining life, without a window.
 */

static int64_t
ngx_http_s3_proxy_cap(ngx_http_s3_proxy_creds_t *creds, time_t expiration,
    time_t now)
{
    if (expiration - now >= creds->expires + creds->window) {
        return 0;
    }

    return ngx_min(creds->expires, (int64_t) (expiration - now));
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

    size = NGX_HTTP_S3_PROXY_KEY_MAX + NGX_HTTP_S3_PROXY_SECRET_MAX
           + NGX_HTTP_S3_PROXY_TOKEN_MAX;

    keys = ngx_alloc(size, log);
    if (keys == NULL) {
        return NGX_ERROR;
    }

    env = *creds->raw.env;
    k = keys;

    ngx_shmtx_lock(&p->shpool->mutex);

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

    cap = ngx_http_s3_proxy_cap(creds, expiration, now);

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
                      "s3 proxy: credentials from \"%V\" cannot sign: %s",
                      &p->name, err);
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
