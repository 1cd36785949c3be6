/*
 * ngx_http_s3_proxy_module: the S3 settings.
 *
 * The environment and the shared credentials and config files are read
 * once per configuration cycle, in the master; each location with
 * "s3_proxy on" hands them, with its own directives, to the Swift core,
 * which holds every setting's default, check and normal form
 * (s3p_signing_resolve()).  C takes no decision about S3 here: it moves
 * the values and reports the core's verdict at the "s3_proxy" directive
 * that uses them.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_s3_proxy_module.h"


/* the largest shared credentials or config file read */
#define NGX_HTTP_S3_PROXY_FILE_MAX  (1024 * 1024)


static ngx_int_t ngx_http_s3_proxy_getenv(ngx_conf_t *cf, const char *name,
    s3p_str_t *value);
static ngx_int_t ngx_http_s3_proxy_read_shared(ngx_conf_t *cf,
    const char *name, const char *home_path, s3p_str_t *path,
    s3p_str_t *contents);
static ngx_int_t ngx_http_s3_proxy_wipe_later(ngx_conf_t *cf, u_char *data,
    size_t len);
static void ngx_http_s3_proxy_wipe(void *data);
static ngx_int_t ngx_http_s3_proxy_same(const s3p_str_t *a,
    const s3p_str_t *b);
static s3p_signing_t *ngx_http_s3_proxy_signing(ngx_conf_t *cf,
    ngx_http_s3_proxy_loc_conf_t *conf, ngx_http_s3_proxy_main_conf_t *smcf);


/* the environment variables the core takes defaults from */

typedef struct {
    const char                *name;
    size_t                     offset;
} ngx_http_s3_proxy_env_t;


static ngx_http_s3_proxy_env_t  ngx_http_s3_proxy_env[] = {
    { "AWS_ACCESS_KEY_ID", offsetof(s3p_environment_t, access_key_id) },
    { "AWS_SECRET_ACCESS_KEY",
      offsetof(s3p_environment_t, secret_access_key) },
    { "AWS_SESSION_TOKEN", offsetof(s3p_environment_t, session_token) },
    { "AWS_PROFILE", offsetof(s3p_environment_t, profile) },
    { "AWS_REGION", offsetof(s3p_environment_t, region) },
    { "AWS_DEFAULT_REGION", offsetof(s3p_environment_t, default_region) },
    { "AWS_ENDPOINT_HOST", offsetof(s3p_environment_t, host) },
    { "AWS_ENDPOINT_SCHEME", offsetof(s3p_environment_t, scheme) },
    { "AWS_ENDPOINT_HOST_EXTERNAL",
      offsetof(s3p_environment_t, external_host) },
    { "AWS_ENDPOINT_SCHEME_EXTERNAL",
      offsetof(s3p_environment_t, external_scheme) },
    { NULL, 0 }
};


void *
ngx_http_s3_proxy_create_main_conf(ngx_conf_t *cf)
{
    char                           *env;
    ngx_str_t                       value;
    ngx_http_s3_proxy_env_t        *e;
    ngx_http_s3_proxy_main_conf_t  *smcf;

    smcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_s3_proxy_main_conf_t));
    if (smcf == NULL) {
        return NULL;
    }

    /*
     * The environment is read once per configuration cycle; nginx keeps
     * the master's environment, so a changed variable takes a restart,
     * while the shared files are read again on reload.  Unset and empty
     * are the same; the core supplies the defaults.
     */

    for (e = ngx_http_s3_proxy_env; e->name; e++) {
        if (ngx_http_s3_proxy_getenv(cf, e->name,
                                     (s3p_str_t *) ((u_char *) &smcf->env
                                                    + e->offset))
            != NGX_OK)
        {
            return NULL;
        }
    }

    if (ngx_http_s3_proxy_read_shared(cf, "AWS_SHARED_CREDENTIALS_FILE",
                                      "/.aws/credentials",
                                      &smcf->env.credentials_path,
                                      &smcf->env.credentials_file)
        != NGX_OK
        || ngx_http_s3_proxy_read_shared(cf, "AWS_CONFIG_FILE",
                                         "/.aws/config",
                                         &smcf->env.config_path,
                                         &smcf->env.config_file)
           != NGX_OK)
    {
        return NULL;
    }

    /* the default bucket allowlist, as `make run` passes it */

    env = getenv("S3_PROXY_BUCKETS");

    if (env != NULL && *env != '\0') {
        smcf->buckets = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
        if (smcf->buckets == NULL) {
            return NULL;
        }

        value.data = (u_char *) env;
        value.len = ngx_strlen(env);

        if (ngx_http_s3_proxy_split(smcf->buckets, &value) != NGX_OK) {
            return NULL;
        }
    }

    return smcf;
}


static ngx_int_t
ngx_http_s3_proxy_getenv(ngx_conf_t *cf, const char *name, s3p_str_t *value)
{
    char    *env;
    size_t   len;
    u_char  *copy;

    env = getenv(name);

    if (env == NULL || *env == '\0') {
        value->len = 0;
        value->data = NULL;
        return NGX_OK;
    }

    len = ngx_strlen(env);

    copy = ngx_pnalloc(cf->pool, len);
    if (copy == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(copy, env, len);

    value->len = len;
    value->data = copy;

    /* credentials are wiped when the configuration is released */

    return ngx_http_s3_proxy_wipe_later(cf, copy, len);
}


/*
 * A shared credentials or config file of the AWS CLI: the path in the
 * environment variable `name`, else `home_path` below $HOME.  A file that
 * is missing or unreadable reads as empty: the core names it if a location
 * needs a profile from it.
 */

static ngx_int_t
ngx_http_s3_proxy_read_shared(ngx_conf_t *cf, const char *name,
    const char *home_path, s3p_str_t *path, s3p_str_t *contents)
{
    char             *env, *home;
    u_char           *p, *buf;
    size_t            len;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_file_t        file;
    ngx_file_info_t   fi;

    contents->len = 0;
    contents->data = NULL;
    path->len = 0;
    path->data = NULL;

    env = getenv(name);
    home = getenv("HOME");

    if (env != NULL && *env != '\0') {

        if (env[0] == '~' && env[1] == '/' && home != NULL) {
            len = ngx_strlen(home) + ngx_strlen(env + 1);
        } else {
            len = ngx_strlen(env);
            home = NULL;
        }

    } else if (home != NULL && *home != '\0') {
        len = ngx_strlen(home) + ngx_strlen(home_path);
        env = NULL;

    } else {
        return NGX_OK;
    }

    p = ngx_pnalloc(cf->pool, len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (env == NULL) {
        ngx_sprintf(p, "%s%s%Z", home, home_path);

    } else if (home != NULL) {
        ngx_sprintf(p, "%s%s%Z", home, env + 1);

    } else {
        ngx_sprintf(p, "%s%Z", env);
    }

    path->data = p;
    path->len = len;

    fd = ngx_open_file(p, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        return NGX_OK;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.fd = fd;
    file.name.data = p;
    file.name.len = len;
    file.log = cf->log;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR
        || !ngx_is_file(&fi)
        || ngx_file_size(&fi) > NGX_HTTP_S3_PROXY_FILE_MAX)
    {
        ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                      "s3 proxy: \"%s\" is not a file of at most %d bytes, "
                      "not read", p, NGX_HTTP_S3_PROXY_FILE_MAX);
        goto done;
    }

    len = (size_t) ngx_file_size(&fi);

    buf = ngx_pnalloc(cf->pool, len + 1);
    if (buf == NULL) {
        (void) ngx_close_file(fd);
        return NGX_ERROR;
    }

    /* the file holds secrets: wiped with the configuration */

    if (ngx_http_s3_proxy_wipe_later(cf, buf, len + 1) != NGX_OK) {
        (void) ngx_close_file(fd);
        return NGX_ERROR;
    }

    n = ngx_read_file(&file, buf, len, 0);

    if (n >= 0) {
        contents->data = buf;
        contents->len = (size_t) n;
    }

done:

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%s\" failed", p);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_s3_proxy_wipe_later(ngx_conf_t *cf, u_char *data, size_t len)
{
    ngx_str_t           *wipe;
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(cf->pool, sizeof(ngx_str_t));
    if (cln == NULL) {
        return NGX_ERROR;
    }

    wipe = cln->data;
    wipe->data = data;
    wipe->len = len;
    cln->handler = ngx_http_s3_proxy_wipe;

    return NGX_OK;
}


static void
ngx_http_s3_proxy_wipe(void *data)
{
    ngx_str_t  *value = data;

    ngx_explicit_memzero(value->data, value->len);
}


/*
 * Resolves a location's settings through the Swift core: its signing
 * settings (raw values from the environment and s3_proxy_expires) and its
 * allowlists.  Errors name the "s3_proxy" directive's own line.
 */

char *
ngx_http_s3_proxy_core(ngx_conf_t *cf, ngx_http_s3_proxy_loc_conf_t *conf,
    ngx_http_s3_proxy_main_conf_t *smcf, s3p_config_t *core)
{
    u_char                    err[S3P_MESSAGE_MAX];
    s3p_signing_t            *signing;
    ngx_http_s3_proxy_pos_t  *pos;

    pos = &conf->enable_pos;

    if (conf->buckets != NULL && conf->buckets->nelts == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"s3_proxy\": S3_PROXY_BUCKETS names no bucket "
                      "in %s:%ui", pos->file_name, pos->line);
        return NGX_CONF_ERROR;
    }

    signing = ngx_http_s3_proxy_signing(cf, conf, smcf);
    if (signing == NULL) {
        return NGX_CONF_ERROR;
    }

    core->signing = signing;

    /* proxied requests to the location's hosts reuse connections */

    if (ngx_http_s3_proxy_upstreams_ready(cf, conf, core) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (s3p_config_check(core, err, sizeof(err)) != S3P_OK) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "\"s3_proxy\": %s in %s:%ui",
                      err, pos->file_name, pos->line);
        return NGX_CONF_ERROR;
    }

    conf->core = core;

    return NGX_CONF_OK;
}


/*
 * The location's signing settings: the ones already resolved for the same
 * raw values, or new ones resolved by the core.  NULL on error (logged).
 */

static s3p_signing_t *
ngx_http_s3_proxy_signing(ngx_conf_t *cf, ngx_http_s3_proxy_loc_conf_t *conf,
    ngx_http_s3_proxy_main_conf_t *smcf)
{
    size_t                        len;
    u_char                        err[S3P_MESSAGE_MAX], *resolved;
    ngx_int_t                     rc;
    ngx_uint_t                    i;
    s3p_settings_t                raw;
    s3p_signing_t                *signing;
    ngx_http_s3_proxy_pos_t      *pos;
    ngx_http_s3_proxy_creds_t    *creds;
    ngx_http_s3_proxy_signing_t  *known;

    pos = &conf->enable_pos;

    ngx_memzero(&raw, sizeof(s3p_settings_t));

    raw.endpoint.len = conf->endpoint.len;
    raw.endpoint.data = conf->endpoint.data;
    raw.external_endpoint.len = conf->external_endpoint.len;
    raw.external_endpoint.data = conf->external_endpoint.data;
    raw.region.len = conf->region.len;
    raw.region.data = conf->region.data;
    raw.credentials = (s3p_credentials_source_t) conf->credentials;
    raw.profile.len = conf->profile.len;
    raw.profile.data = conf->profile.data;
    raw.addressing = (s3p_addressing_t) conf->addressing;
    raw.expires = (conf->expires == NGX_CONF_UNSET)
                  ? S3P_UNSET : (int64_t) conf->expires;
    raw.window = (conf->window == 0) ? S3P_UNSET : (int64_t) conf->window;
    raw.env = &smcf->env;

    if (smcf->signings == NULL) {
        smcf->signings = ngx_array_create(cf->pool, 2,
                                          sizeof(ngx_http_s3_proxy_signing_t));
        if (smcf->signings == NULL) {
            return NULL;
        }
    }

    known = smcf->signings->elts;

    for (i = 0; i < smcf->signings->nelts; i++) {
        if (ngx_http_s3_proxy_same(&known[i].raw.endpoint, &raw.endpoint)
            && ngx_http_s3_proxy_same(&known[i].raw.external_endpoint,
                                      &raw.external_endpoint)
            && ngx_http_s3_proxy_same(&known[i].raw.region, &raw.region)
            && ngx_http_s3_proxy_same(&known[i].raw.profile, &raw.profile)
            && known[i].raw.credentials == raw.credentials
            && known[i].raw.addressing == raw.addressing
            && known[i].raw.expires == raw.expires
            && known[i].raw.window == raw.window)
        {
            conf->creds = known[i].creds;
            return known[i].signing;
        }
    }

    signing = ngx_pcalloc(cf->pool, sizeof(s3p_signing_t));
    if (signing == NULL) {
        return NULL;
    }

    len = s3p_signing_bound(&raw);

    resolved = ngx_pcalloc(cf->pool, len);
    if (resolved == NULL) {
        return NULL;
    }

    /* the resolved settings hold a copy of the secret: wiped likewise */

    if (ngx_http_s3_proxy_wipe_later(cf, resolved, len) != NGX_OK) {
        return NULL;
    }

    rc = s3p_signing_resolve(&raw, signing, resolved, len, err, sizeof(err));

    /* keys that rotate: a provider's, or a profile's in the shared files */

    if (ngx_http_s3_proxy_credentials_conf(cf, conf, &raw, signing, rc, &creds)
        != NGX_OK)
    {
        return NULL;
    }

    if (creds == NULL && rc != S3P_OK) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "\"s3_proxy\": %s in %s:%ui",
                      err, pos->file_name, pos->line);
        return NULL;
    }

    known = ngx_array_push(smcf->signings);
    if (known == NULL) {
        return NULL;
    }

    known->raw = raw;
    known->signing = signing;
    known->creds = creds;

    conf->creds = creds;

    return signing;
}


static ngx_int_t
ngx_http_s3_proxy_same(const s3p_str_t *a, const s3p_str_t *b)
{
    return a->len == b->len
           && (a->len == 0 || ngx_memcmp(a->data, b->data, a->len) == 0);
}
