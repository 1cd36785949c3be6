/*
 * ngx_http_s3_proxy_module: the S3 settings: the environment, the shared
 * files, and a location's settings resolved by the core with what only
 * nginx knows (docs/design.md, "Settings").
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_s3_proxy_module.h"


static uint8_t *ngx_http_s3_proxy_secret_alloc(void *pool, size_t size);
static void ngx_http_s3_proxy_wipe(void *data);
static s3p_signing_t *ngx_http_s3_proxy_signing(ngx_conf_t *cf,
    ngx_http_s3_proxy_loc_conf_t *conf, ngx_http_s3_proxy_main_conf_t *smcf);


/*
 * The environment is read once per configuration cycle: nginx keeps the
 * master's, so a changed variable takes a restart.  The shared files are
 * read again on reload.  Copies of both are wiped with the configuration.
 */

void *
ngx_http_s3_proxy_create_main_conf(ngx_conf_t *cf)
{
    ngx_uint_t                      i;
    s3p_str_t                      *path, *file;
    ngx_str_t                       contents;
    ngx_http_s3_proxy_main_conf_t  *smcf;

    smcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_s3_proxy_main_conf_t));
    if (smcf == NULL) {
        return NULL;
    }

    if (s3p_environment_read(&smcf->env, getenv,
                             ngx_http_s3_proxy_secret_alloc, cf->pool)
        != S3P_OK)
    {
        return NULL;
    }

    /* a file missing or unreadable reads as empty: the core names it */

    for (i = 0; i < 2; i++) {
        path = i ? &smcf->env.config_path : &smcf->env.credentials_path;
        file = i ? &smcf->env.config_file : &smcf->env.credentials_file;

        ngx_str_null(&contents);

        if (path->len
            && ngx_http_s3_proxy_read_file((u_char *) path->data,
                                           S3P_FILE_MAX, cf->pool, &contents)
               == NGX_ERROR)
        {
            ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                          "s3 proxy: \"%s\" is not a readable file of at "
                          "most %d bytes, not read", path->data, S3P_FILE_MAX);
        }

        file->len = contents.len;
        file->data = contents.data;
    }

    return smcf;
}


/*
 * A small file (`path` NUL-terminated), read whole into `contents`,
 * allocated from `pool` and wiped with it: NGX_OK; NGX_DECLINED when it
 * does not exist; NGX_ERROR when it is not a regular file, is larger than
 * `max`, or is not read whole at once.
 */

ngx_int_t
ngx_http_s3_proxy_read_file(u_char *path, size_t max, ngx_pool_t *pool,
    ngx_str_t *contents)
{
    u_char           *buf;
    size_t            size;
    ngx_int_t         rc;
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

    buf = ngx_http_s3_proxy_secret_alloc(pool, size);

    if (buf != NULL && ngx_read_file(&file, buf, size, 0) == (ssize_t) size) {
        contents->data = buf;
        contents->len = size;
        rc = NGX_OK;
    }

done:

    (void) ngx_close_file(file.fd);

    return rc;
}


/* Memory for secrets (`pool`: a pool), wiped when the pool is destroyed. */

static uint8_t *
ngx_http_s3_proxy_secret_alloc(void *pool, size_t size)
{
    ngx_str_t           *wipe;
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(pool, sizeof(ngx_str_t));
    if (cln == NULL) {
        return NULL;
    }

    wipe = cln->data;

    wipe->data = ngx_pcalloc(pool, size);
    if (wipe->data == NULL) {
        return NULL;
    }

    wipe->len = size;
    cln->handler = ngx_http_s3_proxy_wipe;

    return wipe->data;
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

    /* a bucket or prefix with variables comes with each request */

    if (conf->bucket && conf->bucket->lengths) {
        core->per_request |= S3P_PER_REQUEST_BUCKET;

    } else if (conf->bucket) {
        core->bucket.len = conf->bucket->value.len;
        core->bucket.data = conf->bucket->value.data;
    }

    if (conf->prefix && conf->prefix->lengths) {
        core->per_request |= S3P_PER_REQUEST_PREFIX;

    } else if (conf->prefix) {
        core->prefix.len = conf->prefix->value.len;
        core->prefix.data = conf->prefix->value.data;
    }

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
    ngx_uint_t                    i;
    s3p_settings_t                resolve;
    s3p_signing_t                *signing;
    ngx_http_s3_proxy_creds_t    *creds;
    ngx_http_s3_proxy_signing_t  *known;

    if (smcf->signings == NULL) {
        smcf->signings = ngx_array_create(cf->pool, 2,
                                          sizeof(ngx_http_s3_proxy_signing_t));
        if (smcf->signings == NULL) {
            return NULL;
        }
    }

    known = smcf->signings->elts;

    for (i = 0; i < smcf->signings->nelts; i++) {
        if (s3p_settings_same(&known[i].raw, &conf->raw)) {
            conf->creds = known[i].creds;
            return known[i].signing;
        }
    }

    /* where the keys come from, by the core: `resolve` names the source */

    resolve = conf->raw;

    if (ngx_http_s3_proxy_provider(cf, conf, &resolve, &provider) != NGX_OK) {
        return NULL;
    }

    /* the resolved settings hold a copy of the secret: wiped likewise */

    len = s3p_signing_bound(&resolve);

    signing = ngx_pcalloc(cf->pool, sizeof(s3p_signing_t));
    resolved = ngx_http_s3_proxy_secret_alloc(cf->pool, len);

    if (signing == NULL || resolved == NULL) {
        return NULL;
    }

    if (s3p_signing_resolve(&resolve, signing, resolved, len, err,
                            sizeof(err))
        != S3P_OK)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "\"s3_proxy\": %s in %s:%ui",
                      err, conf->enable_pos.file_name, conf->enable_pos.line);
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

    known->raw = conf->raw;
    known->signing = signing;
    known->creds = creds;

    conf->creds = creds;

    return signing;
}
