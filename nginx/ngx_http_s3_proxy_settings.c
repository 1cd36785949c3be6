/*
 * ngx_http_s3_proxy_module: the S3 settings.
 *
 * The environment and the shared credentials and config files are read
 * once per configuration cycle, in the master.  The Swift core reads,
 * checks and inherits each directive's values (s3p_settings_directive(),
 * s3p_settings_merge()) and holds every setting's default and normal
 * form (s3p_config_settings(), s3p_signing_resolve()).  C takes no
 * decision about S3 here: it moves the values, adds what only nginx knows
 * and reports the core's verdict at the directive's line.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_s3_proxy_module.h"


static ngx_int_t ngx_http_s3_proxy_getenv(ngx_conf_t *cf, const char *name,
    s3p_str_t *value);
static void ngx_http_s3_proxy_read_shared(ngx_conf_t *cf,
    const s3p_str_t *path, s3p_str_t *contents);
static ngx_str_t *ngx_http_s3_proxy_wipe_later(ngx_pool_t *pool,
    u_char *data, size_t len);
static void ngx_http_s3_proxy_wipe(void *data);
static void ngx_http_s3_proxy_per_request_value(ngx_http_complex_value_t *cv,
    s3p_str_t *value, uint32_t *per_request, uint32_t flag);
static s3p_signing_t *ngx_http_s3_proxy_signing(ngx_conf_t *cf,
    ngx_http_s3_proxy_loc_conf_t *conf, ngx_http_s3_proxy_main_conf_t *smcf);


void *
ngx_http_s3_proxy_create_main_conf(ngx_conf_t *cf)
{
    u_char                         *paths;
    size_t                          i, len;
    s3p_str_t                      *vars;
    const char                     *name;
    ngx_http_s3_proxy_main_conf_t  *smcf;

    smcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_s3_proxy_main_conf_t));
    if (smcf == NULL) {
        return NULL;
    }

    /*
     * The environment is read once per configuration cycle; nginx keeps
     * the master's environment, so a changed variable takes a restart,
     * while the shared files are read again on reload.  Which variables
     * are the core's; unset and empty are the same.
     */

    vars = &smcf->env.access_key_id;

    for (i = 0; i < S3P_ENV_VARIABLES; i++) {
        name = s3p_environment_name(i);

        if (name == NULL) {
            break;
        }

        if (ngx_http_s3_proxy_getenv(cf, name, &vars[i]) != NGX_OK) {
            return NULL;
        }
    }

    /* the shared credentials and config files, where the core says */

    len = 2 * smcf->env.home.len + smcf->env.credentials_file_name.len
          + smcf->env.config_file_name.len + sizeof("/.aws/credentials") * 2;

    paths = ngx_pnalloc(cf->pool, len);
    if (paths == NULL
        || s3p_environment_paths(&smcf->env, paths, len) != S3P_OK)
    {
        return NULL;
    }

    ngx_http_s3_proxy_read_shared(cf, &smcf->env.credentials_path,
                                  &smcf->env.credentials_file);
    ngx_http_s3_proxy_read_shared(cf, &smcf->env.config_path,
                                  &smcf->env.config_file);

    return smcf;
}


/* A variable's value, copied; the copy is wiped with the configuration. */

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

    return ngx_http_s3_proxy_wipe_later(cf->pool, copy, len) ? NGX_OK
                                                              : NGX_ERROR;
}


/*
 * A shared credentials or config file of the AWS CLI.  A file that is
 * missing or unreadable reads as empty: the core names it if a location
 * needs a profile from it.  Its contents are wiped with the configuration.
 */

static void
ngx_http_s3_proxy_read_shared(ngx_conf_t *cf, const s3p_str_t *path,
    s3p_str_t *contents)
{
    ngx_str_t  file;

    ngx_str_null(&file);

    if (path->len
        && ngx_http_s3_proxy_read_file((u_char *) path->data, S3P_FILE_MAX,
                                       cf->pool, &file)
           == NGX_ERROR)
    {
        ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                      "s3 proxy: \"%s\" is not a readable file of at most "
                      "%d bytes, not read", path->data, S3P_FILE_MAX);
    }

    contents->data = file.data;
    contents->len = file.len;
}


/*
 * A small file (`path` NUL-terminated), read whole into `contents`,
 * allocated from `pool` and wiped with it: NGX_OK; NGX_DECLINED when it
 * does not exist; NGX_ERROR when it is not a regular file, is larger than
 * `max`, or cannot be read whole.
 */

ngx_int_t
ngx_http_s3_proxy_read_file(u_char *path, size_t max, ngx_pool_t *pool,
    ngx_str_t *contents)
{
    u_char           *buf;
    size_t            size, got;
    ssize_t           n;
    ngx_int_t         rc;
    ngx_str_t        *wipe;
    ngx_file_t        file;
    ngx_file_info_t   fi;

    ngx_str_null(contents);
    ngx_memzero(&file, sizeof(ngx_file_t));

    file.fd = ngx_open_file(path, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (file.fd == NGX_INVALID_FILE) {
        return (ngx_errno == NGX_ENOENT) ? NGX_DECLINED : NGX_ERROR;
    }

    file.name.data = path;
    file.name.len = ngx_strlen(path);
    file.log = pool->log;

    rc = NGX_ERROR;

    if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR || !ngx_is_file(&fi)
        || ngx_file_size(&fi) > (off_t) max)
    {
        goto done;
    }

    size = (size_t) ngx_file_size(&fi);

    /* what is read is wiped with the pool, however far the read got */

    buf = ngx_pnalloc(pool, size);
    wipe = (buf == NULL) ? NULL : ngx_http_s3_proxy_wipe_later(pool, buf, 0);

    if (wipe == NULL) {
        goto done;
    }

    for (got = 0; got < size; got += n) {
        n = ngx_read_file(&file, buf + got, size - got, got);

        if (n <= 0) {
            goto done;
        }

        wipe->len = got + n;
    }

    contents->data = buf;
    contents->len = size;
    rc = NGX_OK;

done:

    (void) ngx_close_file(file.fd);

    return rc;
}


/* `len` bytes at `data`, wiped when `pool` is destroyed: the record */

static ngx_str_t *
ngx_http_s3_proxy_wipe_later(ngx_pool_t *pool, u_char *data, size_t len)
{
    ngx_str_t           *wipe;
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(pool, sizeof(ngx_str_t));
    if (cln == NULL) {
        return NULL;
    }

    wipe = cln->data;
    wipe->data = data;
    wipe->len = len;
    cln->handler = ngx_http_s3_proxy_wipe;

    return wipe;
}


static void
ngx_http_s3_proxy_wipe(void *data)
{
    ngx_str_t  *value = data;

    ngx_explicit_memzero(value->data, value->len);
}


/* Memory for the core's lists, from a configuration's pool (`pool`). */

uint8_t *
ngx_http_s3_proxy_conf_alloc(void *pool, size_t size)
{
    return ngx_palloc(pool, size);
}


/*
 * Resolves a location's settings through the Swift core, with what only
 * nginx knows: its mount, its bucket and prefix, its "types", its signing
 * (credentials that rotate, upstreams) and its status counters.  Errors
 * name the "s3_proxy" directive's own line.
 */

char *
ngx_http_s3_proxy_core(ngx_conf_t *cf, ngx_http_s3_proxy_loc_conf_t *conf,
    ngx_http_core_loc_conf_t *clcf)
{
    u_char                          err[S3P_MESSAGE_MAX];
    s3p_config_t                   *core;
    ngx_http_s3_proxy_main_conf_t  *smcf;

    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_s3_proxy_module);

    core = ngx_pcalloc(cf->pool, sizeof(s3p_config_t));
    if (core == NULL) {
        return NGX_CONF_ERROR;
    }

    conf->raw.env = &smcf->env;

    if (s3p_config_settings(core, &conf->raw, ngx_http_s3_proxy_conf_alloc,
                            cf->pool)
        != S3P_OK)
    {
        return NGX_CONF_ERROR;
    }

    core->mount.len = conf->mount.len;
    core->mount.data = conf->mount.data;

    ngx_http_s3_proxy_per_request_value(conf->bucket, &core->bucket,
                                        &core->per_request,
                                        S3P_PER_REQUEST_BUCKET);
    ngx_http_s3_proxy_per_request_value(conf->prefix, &core->prefix,
                                        &core->per_request,
                                        S3P_PER_REQUEST_PREFIX);

    /* websites: the type of a key is nginx's "types" of the location */

    core->type = ngx_http_s3_proxy_type;
    core->type_data = clcf;

    /* the credentials and the counters read the location's buckets */

    conf->core = core;

    if (ngx_http_s3_proxy_status_location(cf, conf, &clcf->name) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    core->signing = ngx_http_s3_proxy_signing(cf, conf, smcf);
    if (core->signing == NULL) {
        return NGX_CONF_ERROR;
    }

    /* proxied requests to the location's hosts reuse connections */

    if (ngx_http_s3_proxy_upstreams_ready(cf, conf, core) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (s3p_config_check(core, err, sizeof(err)) != S3P_OK) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "\"s3_proxy\": %s in %s:%ui",
                      err, conf->enable_pos.file_name, conf->enable_pos.line);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * s3_proxy_bucket's and s3_proxy_prefix's value for the core: a constant
 * as it is; with variables, `flag` in *per_request, and each request
 * brings its value (the handler's)
 */

static void
ngx_http_s3_proxy_per_request_value(ngx_http_complex_value_t *cv,
    s3p_str_t *value, uint32_t *per_request, uint32_t flag)
{
    if (cv != NULL && cv->lengths != NULL) {
        *per_request |= flag;

    } else if (cv != NULL) {
        value->len = cv->value.len;
        value->data = cv->value.data;
    }
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
    void                         *provider;
    ngx_int_t                     rc;
    ngx_uint_t                    i;
    s3p_settings_t                raw, resolve;
    s3p_signing_t                *signing;
    ngx_http_s3_proxy_pos_t      *pos;
    ngx_http_s3_proxy_creds_t    *creds;
    ngx_http_s3_proxy_signing_t  *known;

    pos = &conf->enable_pos;

    raw = conf->raw;

    if (smcf->signings == NULL) {
        smcf->signings = ngx_array_create(cf->pool, 2,
                                          sizeof(ngx_http_s3_proxy_signing_t));
        if (smcf->signings == NULL) {
            return NULL;
        }
    }

    known = smcf->signings->elts;

    for (i = 0; i < smcf->signings->nelts; i++) {
        if (s3p_settings_same(&known[i].raw, &raw)) {
            conf->creds = known[i].creds;
            return known[i].signing;
        }
    }

    signing = ngx_pcalloc(cf->pool, sizeof(s3p_signing_t));
    if (signing == NULL) {
        return NULL;
    }

    /* where the keys come from, by the core: `resolve` names the source */

    resolve = raw;

    if (ngx_http_s3_proxy_provider(cf, conf, &resolve, &provider) != NGX_OK) {
        return NULL;
    }

    len = s3p_signing_bound(&resolve);

    resolved = ngx_pcalloc(cf->pool, len);
    if (resolved == NULL) {
        return NULL;
    }

    /* the resolved settings hold a copy of the secret: wiped likewise */

    if (ngx_http_s3_proxy_wipe_later(cf->pool, resolved, len) == NULL) {
        return NULL;
    }

    rc = s3p_signing_resolve(&resolve, signing, resolved, len, err,
                             sizeof(err));

    if (rc != S3P_OK) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "\"s3_proxy\": %s in %s:%ui",
                      err, pos->file_name, pos->line);
        return NULL;
    }

    /* keys that rotate: a provider's, or a profile's in the shared files */

    creds = NULL;

    if (provider != NULL
        && ngx_http_s3_proxy_credentials_conf(cf, conf, provider, &resolve,
                                              signing, &creds)
           != NGX_OK)
    {
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

