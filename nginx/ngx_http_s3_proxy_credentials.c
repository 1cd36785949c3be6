/*
 * ngx_http_s3_proxy_module: credentials that rotate.
 *
 * Without keys in the environment, a location signs with temporary
 * credentials from the first provider the environment configures, in the
 * order of the AWS SDKs' default chain: web identity (STS
 * AssumeRoleWithWebIdentity), the container endpoint (ECS, EKS Pod
 * Identity), then the EC2 instance metadata service (IMDSv2).
 *
 *   - One shared memory zone, "s3_proxy_credentials", holds each
 *     provider's current credentials and a version; it outlives a reload,
 *     so new workers sign at once and nothing is fetched again early.
 *   - Each worker looks at every provider once a second.  The one that
 *     takes the zone's lock first while a refresh is due fetches; the
 *     others keep signing with the credentials in the zone.
 *   - A fetch is a few tiny HTTP/1.1 exchanges with a fixed peer (IMDS's
 *     PUT token, GET role, GET credentials; or one GET; or one POST), made
 *     on nginx's event loop with ngx_event_connect_peer().  The module
 *     speaks HTTP itself because nginx's upstream and subrequest machinery
 *     needs a client request to hang from, and a refresh has none.  The
 *     requests are written and the answers read by the Swift core
 *     (s3p_provider_request(), s3p_provider_answer()).
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

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>
#include <ngx_http.h>

#include "ngx_http_s3_proxy_module.h"


#define NGX_HTTP_S3_PROXY_SLOTS         16
#define NGX_HTTP_S3_PROXY_KEY_MAX       128
#define NGX_HTTP_S3_PROXY_SECRET_MAX    256
#define NGX_HTTP_S3_PROXY_TOKEN_MAX     8192
#define NGX_HTTP_S3_PROXY_ID_MAX        512
#define NGX_HTTP_S3_PROXY_ANSWER_MAX    65536
#define NGX_HTTP_S3_PROXY_REQUEST_MAX   16384

/* how often each worker looks at the zone, and how long a fetch may take */
#define NGX_HTTP_S3_PROXY_TICK          1000
#define NGX_HTTP_S3_PROXY_TIMEOUT       5000
#define NGX_HTTP_S3_PROXY_STALE_FETCH   30

/* retries after a failure: 1 s, doubling, at most 60 s */
#define NGX_HTTP_S3_PROXY_BACKOFF_MAX   60


typedef enum {
    NGX_HTTP_S3_PROXY_WEB_IDENTITY = 1,
    NGX_HTTP_S3_PROXY_CONTAINER,
    NGX_HTTP_S3_PROXY_IMDS
} ngx_http_s3_proxy_source_e;


/* One provider's credentials, in shared memory. */
typedef struct {
    u_char                     id[NGX_HTTP_S3_PROXY_ID_MAX];
    size_t                     id_len;         /* 0: a free slot */

    ngx_atomic_t               version;        /* 0: none yet */
    time_t                     expiration;
    time_t                     refresh;        /* next fetch is due */
    ngx_pid_t                  fetching;       /* the worker fetching */
    time_t                     fetch_start;
    ngx_uint_t                 failures;       /* of the current streak */

    size_t                     access_key_len;
    size_t                     secret_key_len;
    size_t                     token_len;
    u_char                     access_key[NGX_HTTP_S3_PROXY_KEY_MAX];
    u_char                     secret_key[NGX_HTTP_S3_PROXY_SECRET_MAX];
    u_char                     token[NGX_HTTP_S3_PROXY_TOKEN_MAX];
} ngx_http_s3_proxy_slot_t;


typedef struct {
    ngx_http_s3_proxy_slot_t   slots[NGX_HTTP_S3_PROXY_SLOTS];
} ngx_http_s3_proxy_shctx_t;


/* One provider: configuration, then the fetching worker's state. */
typedef struct {
    ngx_http_s3_proxy_source_e source;
    ngx_str_t                  name;           /* for logs */
    ngx_str_t                  id;             /* finds its slot */
    ngx_url_t                  url;
    ngx_str_t                  host;           /* Host header */
    ngx_str_t                  path;           /* container: path+query */
    ngx_str_t                  token;          /* container: Authorization */
    ngx_str_t                  token_file;     /* read for each fetch */
    ngx_str_t                  role_arn;
    ngx_str_t                  session_name;
    ngx_flag_t                 imds_v1;        /* fallback allowed */
    time_t                     lead;           /* largest s3_proxy_expires */
#if (NGX_HTTP_SSL)
    ngx_ssl_t                 *ssl;
#endif

    ngx_http_s3_proxy_slot_t  *slot;
    ngx_slab_pool_t           *shpool;

    /* the worker's fetch */
    ngx_event_t                tick;
    ngx_peer_connection_t      peer;
    ngx_log_t                 *log;
    s3p_step_t                 step;
    ngx_uint_t                 fetching;
    u_char                    *request;
    size_t                     request_len;
    size_t                     sent;
    u_char                    *answer;
    size_t                     answer_len;
    u_char                     imds_token[1024];
    size_t                     imds_token_len;
    u_char                     role[1024];
    size_t                     role_len;
} ngx_http_s3_proxy_provider_t;


/* A worker's signing settings resolved with one version of credentials. */
typedef struct {
    s3p_signing_t              signing;
    ngx_uint_t                 refs;           /* requests signing with it */
    ngx_uint_t                 retired;
    size_t                     size;           /* of this whole block */
} ngx_http_s3_proxy_resolved_t;


/* What a location signs with: a provider and its own s3_proxy_expires. */
struct ngx_http_s3_proxy_creds_s {
    ngx_http_s3_proxy_provider_t  *provider;
    s3p_signing_t                  raw;        /* the settings but keys */
    int64_t                        expires;    /* resolved s3_proxy_expires */

    /* the worker's current settings and what they were made from */
    ngx_http_s3_proxy_resolved_t  *current;
    ngx_atomic_uint_t              version;
    int64_t                        capped;     /* X-Amz-Expires used */
    time_t                         expiration;
    time_t                         logged;     /* "nothing valid" logged */
};


typedef struct {
    ngx_array_t                providers;      /* of ..._provider_t * */
    ngx_shm_zone_t            *zone;
} ngx_http_s3_proxy_creds_conf_t;


static ngx_http_s3_proxy_provider_t *ngx_http_s3_proxy_provider_env(
    ngx_conf_t *cf);
static ngx_int_t ngx_http_s3_proxy_provider_url(ngx_conf_t *cf,
    ngx_http_s3_proxy_provider_t *p, ngx_str_t *url, ngx_uint_t local_only);
static ngx_int_t ngx_http_s3_proxy_creds_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_s3_proxy_tick(ngx_event_t *ev);
static void ngx_http_s3_proxy_fetch_start(ngx_http_s3_proxy_provider_t *p);
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
 * What a location signs with when the environment holds no keys: the
 * provider the environment configures, with the location's raw settings
 * (`raw`, keys left empty).  NULL when
 * no provider is configured, or on error (`rc` NGX_ERROR, logged).  One
 * provider per configuration cycle; locations share it.
 */

ngx_http_s3_proxy_creds_t *
ngx_http_s3_proxy_credentials(ngx_conf_t *cf, s3p_signing_t *raw,
    ngx_int_t *rc)
{
    ngx_http_s3_proxy_creds_t       *creds;
    ngx_http_s3_proxy_provider_t    *p, **pp;
    ngx_http_s3_proxy_creds_conf_t  *ccf;
    ngx_http_s3_proxy_main_conf_t   *smcf;

    *rc = NGX_OK;

    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_s3_proxy_module);

    if (smcf->creds == NULL) {
        ccf = ngx_pcalloc(cf->pool, sizeof(ngx_http_s3_proxy_creds_conf_t));
        if (ccf == NULL) {
            *rc = NGX_ERROR;
            return NULL;
        }

        if (ngx_array_init(&ccf->providers, cf->pool, 1,
                           sizeof(ngx_http_s3_proxy_provider_t *))
            != NGX_OK)
        {
            *rc = NGX_ERROR;
            return NULL;
        }

        smcf->creds = ccf;
    }

    ccf = smcf->creds;

    /* the environment configures one provider per cycle */

    pp = ccf->providers.elts;
    p = ccf->providers.nelts ? pp[0] : NULL;

    if (p == NULL) {
        p = ngx_http_s3_proxy_provider_env(cf);

        if (p == NGX_CONF_ERROR) {
            *rc = NGX_ERROR;
            return NULL;
        }

        if (p == NULL) {
            return NULL;
        }

        pp = ngx_array_push(&ccf->providers);
        if (pp == NULL) {
            *rc = NGX_ERROR;
            return NULL;
        }

        *pp = p;
    }

    if (ccf->zone == NULL) {
        ccf->zone = ngx_shared_memory_add(cf, &ngx_http_s3_proxy_zone_name,
                        sizeof(ngx_http_s3_proxy_shctx_t) + 65536,
                        &ngx_http_s3_proxy_module);
        if (ccf->zone == NULL) {
            *rc = NGX_ERROR;
            return NULL;
        }

        ccf->zone->init = ngx_http_s3_proxy_creds_init_zone;
        ccf->zone->data = ccf;
    }

    creds = ngx_pcalloc(cf->pool, sizeof(ngx_http_s3_proxy_creds_t));
    if (creds == NULL) {
        *rc = NGX_ERROR;
        return NULL;
    }

    creds->provider = p;
    creds->raw = *raw;

    return creds;
}


/*
 * The location's s3_proxy_expires, as the core resolved it: refreshes
 * leave at least the longest presigned lifetime of the provider's
 * locations.
 */

void
ngx_http_s3_proxy_credentials_expires(ngx_http_s3_proxy_creds_t *creds,
    int64_t expires)
{
    creds->expires = expires;

    if ((time_t) expires > creds->provider->lead) {
        creds->provider->lead = (time_t) expires;
    }
}


static ngx_http_s3_proxy_provider_t *
ngx_http_s3_proxy_provider_env(ngx_conf_t *cf)
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

    if (p->token_file.len && p->role_arn.len) {
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

    if (v.len || full.len) {
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

        if (ngx_ssl_trusted_certificate(cf, p->ssl,
                &(ngx_str_t) ngx_string("/etc/ssl/certs/ca-certificates.crt"),
                2)
            != NGX_OK)
        {
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


void
ngx_http_s3_proxy_credentials_check_keys(s3p_signing_t *signing)
{
    signing->access_key.data = ngx_http_s3_proxy_check_key;
    signing->access_key.len = sizeof(ngx_http_s3_proxy_check_key) - 1;
    signing->secret_key = signing->access_key;
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

    if (claim) {
        ngx_http_s3_proxy_fetch_start(p);
    }
}


static void
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

            if (SSL_set_tlsext_host_name(c->ssl->connection, (char *) name)
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

    ngx_close_connection(c);
    p->peer.connection = NULL;
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

    ngx_shmtx_lock(&p->shpool->mutex);

    changed = slot->access_key_len != answer->access_key.len
              || ngx_memcmp(slot->access_key, answer->access_key.data,
                            answer->access_key.len) != 0
              || slot->token_len != answer->session_token.len
              || ngx_memcmp(slot->token, answer->session_token.data,
                            answer->session_token.len) != 0
              || slot->expiration != (time_t) answer->expiration;

    if (changed) {
        ngx_explicit_memzero(slot->secret_key, sizeof(slot->secret_key));
        ngx_explicit_memzero(slot->token, sizeof(slot->token));

        ngx_memcpy(slot->access_key, answer->access_key.data,
                   answer->access_key.len);
        slot->access_key_len = answer->access_key.len;
        ngx_memcpy(slot->secret_key, answer->secret_key.data,
                   answer->secret_key.len);
        slot->secret_key_len = answer->secret_key.len;
        ngx_memcpy(slot->token, answer->session_token.data,
                   answer->session_token.len);
        slot->token_len = answer->session_token.len;
        slot->expiration = (time_t) answer->expiration;

        ngx_atomic_fetch_add(&slot->version, 1);
    }

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


/*
 * The signing settings a request of this location uses now.  NGX_OK with
 * `signing` set (held until the request ends); NGX_BUSY when no valid
 * credentials exist (the caller answers 503, logged here).
 */

ngx_int_t
ngx_http_s3_proxy_credentials_signing(ngx_http_request_t *r,
    ngx_http_s3_proxy_creds_t *creds, const s3p_signing_t **signing)
{
    time_t                         now;
    int64_t                        capped;
    ngx_uint_t                     version;
    ngx_pool_cleanup_t            *cln;
    ngx_http_s3_proxy_slot_t      *slot;
    ngx_http_s3_proxy_provider_t  *p;

    p = creds->provider;
    slot = p->slot;
    now = ngx_time();

    version = slot ? slot->version : 0;

    /* presigned URLs never outlive their credentials */

    capped = creds->expires;

    if (creds->expiration - now < capped) {
        capped = creds->expiration - now;
    }

    if (creds->current == NULL || version != creds->version
        || capped != creds->capped)
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

    if (creds->logged != now) {
        creds->logged = now;
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "s3 proxy: no valid credentials from \"%V\" yet",
                      &p->name);
    }

    return NGX_BUSY;
}


/*
 * Resolves the location's settings with the zone's credentials into this
 * worker's memory (one block, cleared when freed).
 */

static ngx_int_t
ngx_http_s3_proxy_resolve(ngx_http_s3_proxy_creds_t *creds, ngx_log_t *log,
    time_t now)
{
    u_char                        *block, *keys, err[256];
    size_t                         bound, size;
    int64_t                        expires;
    ngx_atomic_uint_t              version;
    s3p_signing_t                 *s;
    ngx_http_s3_proxy_slot_t      *slot;
    ngx_http_s3_proxy_resolved_t  *rs;
    ngx_http_s3_proxy_provider_t  *p;

    p = creds->provider;
    slot = p->slot;

    size = sizeof(ngx_http_s3_proxy_resolved_t)
           + NGX_HTTP_S3_PROXY_KEY_MAX + NGX_HTTP_S3_PROXY_SECRET_MAX
           + NGX_HTTP_S3_PROXY_TOKEN_MAX;

    block = ngx_alloc(size, log);
    if (block == NULL) {
        return NGX_ERROR;
    }

    rs = (ngx_http_s3_proxy_resolved_t *) block;
    keys = block + sizeof(ngx_http_s3_proxy_resolved_t);
    s = &rs->signing;
    *s = creds->raw;

    ngx_shmtx_lock(&p->shpool->mutex);

    version = slot->version;
    creds->expiration = slot->expiration;

    s->access_key.data = keys;
    s->access_key.len = slot->access_key_len;
    ngx_memcpy(keys, slot->access_key, slot->access_key_len);
    keys += slot->access_key_len;

    s->secret_key.data = keys;
    s->secret_key.len = slot->secret_key_len;
    ngx_memcpy(keys, slot->secret_key, slot->secret_key_len);
    keys += slot->secret_key_len;

    s->session_token.data = keys;
    s->session_token.len = slot->token_len;
    ngx_memcpy(keys, slot->token, slot->token_len);

    ngx_shmtx_unlock(&p->shpool->mutex);

    expires = creds->expires;

    if (creds->expiration - now < expires) {
        expires = creds->expiration - now;
    }

    if (expires < 1 || s->access_key.len == 0 || s->secret_key.len == 0) {
        ngx_explicit_memzero(block, size);
        ngx_free(block);
        return NGX_DECLINED;
    }

    s->expires = expires;

    /* the resolved parts follow in a block of their own */

    bound = s3p_signing_bound(s);

    rs = ngx_alloc(sizeof(ngx_http_s3_proxy_resolved_t) + bound, log);
    if (rs == NULL) {
        ngx_explicit_memzero(block, size);
        ngx_free(block);
        return NGX_ERROR;
    }

    ngx_memzero(rs, sizeof(ngx_http_s3_proxy_resolved_t) + bound);
    rs->signing = *s;
    rs->size = sizeof(ngx_http_s3_proxy_resolved_t) + bound;

    if (s3p_signing_resolve(&rs->signing, (u_char *) (rs + 1), bound, err,
                            sizeof(err))
        != S3P_OK)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "s3 proxy: credentials from \"%V\" cannot sign: %s",
                      &p->name, err);
        ngx_explicit_memzero(block, size);
        ngx_free(block);
        ngx_explicit_memzero(rs, rs->size);
        ngx_free(rs);
        return NGX_ERROR;
    }

    /* the resolved settings hold their own copies: the first block goes */

    ngx_explicit_memzero(block, size);
    ngx_free(block);

    if (creds->current) {
        creds->current->retired = 1;
        ngx_http_s3_proxy_release(creds->current);
    }

    creds->current = rs;
    rs->refs = 1;           /* the location's own reference */
    creds->version = version;
    creds->capped = expires;

    return NGX_OK;
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
