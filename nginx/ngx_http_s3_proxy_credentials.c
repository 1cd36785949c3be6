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
 *
 * This file reads the configuration: which source each location takes.
 * The zone, the workers' timer and the files' watch are in
 * ngx_http_s3_proxy_refresh.c; what a request signs with, in
 * ngx_http_s3_proxy_rotation.c.
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
static ngx_int_t ngx_http_s3_proxy_provider_url(ngx_conf_t *cf,
    ngx_http_s3_proxy_provider_t *p, ngx_str_t *url, ngx_uint_t local_only);
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
