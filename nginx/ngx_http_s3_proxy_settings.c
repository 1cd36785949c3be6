/*
 * ngx_http_s3_proxy_module: the S3 settings: the environment, the shared
 * files, and a location's settings merged and resolved by the core with
 * what only nginx knows (docs/design.md, "Settings").
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_s3_proxy_module.h"


static uint8_t *ngx_http_s3_proxy_secret_alloc(void *pool, size_t size);
static void ngx_http_s3_proxy_wipe(void *data);
static ngx_http_s3_proxy_signing_t *ngx_http_s3_proxy_signing(
    ngx_conf_t *cf, ngx_http_s3_proxy_loc_conf_t *conf,
    ngx_http_s3_proxy_main_conf_t *smcf);


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
    ngx_http_s3_proxy_main_conf_t  *smcf;

    smcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_s3_proxy_main_conf_t));
    if (smcf == NULL) {
        return NULL;
    }

    /* the hosts that did not resolve live as long as it is read */

    smcf->signings = ngx_array_create(cf->pool, 2,
                                      sizeof(ngx_http_s3_proxy_signing_t));
    smcf->upstreams = ngx_array_create(cf->temp_pool, 4, sizeof(s3p_str_t));

    if (smcf->signings == NULL || smcf->upstreams == NULL) {
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

        if (path->len
            && ngx_http_s3_proxy_read_file((u_char *) path->data,
                                           S3P_FILE_MAX, cf->pool,
                                           (ngx_str_t *) file)
               == NGX_ERROR)
        {
            ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                          "s3 proxy: \"%s\" is not a readable file of at "
                          "most %d bytes, not read", path->data, S3P_FILE_MAX);
        }
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
    ngx_fd_t          fd;
    ngx_int_t         rc;
    ngx_file_info_t   fi;

    ngx_str_null(contents);

    fd = ngx_open_file(path, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        return (ngx_errno == NGX_ENOENT) ? NGX_DECLINED : NGX_ERROR;
    }

    rc = NGX_ERROR;

    if (ngx_fd_info(fd, &fi) != NGX_FILE_ERROR && ngx_is_file(&fi)
        && ngx_file_size(&fi) <= (off_t) max)
    {
        size = (size_t) ngx_file_size(&fi);
        buf = ngx_http_s3_proxy_secret_alloc(pool, size);

        if (buf != NULL && ngx_read_fd(fd, buf, size) == (ssize_t) size) {
            contents->data = buf;
            contents->len = size;
            rc = NGX_OK;
        }
    }

    (void) ngx_close_file(fd);

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


/*
 * Memory the core asks for (s3p_alloc_t): its lists and pages, from
 * `pool`, the configuration's or the request's.
 */

uint8_t *
ngx_http_s3_proxy_alloc(void *pool, size_t size)
{
    return ngx_palloc(pool, size);
}


/*
 * A location's settings, merged, and resolved through the Swift core with
 * what only nginx knows: its mount, its "types", its signing (credentials
 * that rotate, upstreams) and its status counters.  Errors name the
 * "s3_proxy" directive's own line.
 */

char *
ngx_http_s3_proxy_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_s3_proxy_loc_conf_t *prev = parent;
    ngx_http_s3_proxy_loc_conf_t *conf = child;

    u_char                          err[NGX_MAX_CONF_ERRSTR];
    uint32_t                        flags;
    s3p_config_t                   *core;
    ngx_http_s3_proxy_pos_t        *pos;
    ngx_http_core_loc_conf_t       *clcf;
    ngx_http_s3_proxy_signing_t    *signing;
    ngx_http_s3_proxy_srv_conf_t   *sscf;
    ngx_http_s3_proxy_loc_conf_t  **mount;
    ngx_http_s3_proxy_main_conf_t  *smcf;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);

    if (conf->enable_pos.file_name == NULL) {
        conf->enable_pos = prev->enable_pos;
    }

    /* unset stays unset: the core's defaults apply (s3_proxy_core.h) */

    ngx_conf_merge_ptr_value(conf->bucket, prev->bucket, NULL);
    ngx_conf_merge_ptr_value(conf->prefix, prev->prefix, NULL);
    s3p_settings_merge(&conf->raw, &prev->raw);

    /*
     * the core chooses the mount and checks that the snippet is where
     * "s3_proxy on" is (docs/design.md, "Settings")
     */

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    flags = (conf->enable ? S3P_LOCATION_ON : 0)
            | (conf->snippet_pos.file_name ? S3P_LOCATION_SNIPPET : 0)
            | (prev->snippet_pos.file_name ? S3P_LOCATION_OUTER_SNIPPET : 0)
            | (clcf->handler ? S3P_LOCATION_HANDLER : 0)
            | (clcf->noname && !clcf->lmt_excpt ? S3P_LOCATION_IF : 0)
            | (clcf->lmt_excpt ? S3P_LOCATION_LIMIT_EXCEPT : 0)
            | (clcf->exact_match || clcf->named ? S3P_LOCATION_WHOLE_PATH : 0);

#if (NGX_PCRE)
    flags |= clcf->regex ? S3P_LOCATION_WHOLE_PATH : 0;
#endif

    conf->mount = prev->mount;

    if (s3p_location(flags, (s3p_str_t *) &clcf->name,
                     (s3p_str_t *) &conf->mount, err, sizeof(err))
        != S3P_OK)
    {
        pos = conf->enable ? &conf->enable_pos : &conf->snippet_pos;
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "%s in %s:%ui",
                      err, pos->file_name, pos->line);
        return NGX_CONF_ERROR;
    }

    if (!conf->enable) {
        return NGX_CONF_OK;
    }

    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_s3_proxy_module);

    core = ngx_pcalloc(cf->pool, sizeof(s3p_config_t));
    if (core == NULL) {
        return NGX_CONF_ERROR;
    }

    conf->raw.env = &smcf->env;

    if (s3p_config_settings(core, &conf->raw, ngx_http_s3_proxy_alloc,
                            cf->pool)
        != S3P_OK)
    {
        return NGX_CONF_ERROR;
    }

    core->mount.len = conf->mount.len;
    core->mount.data = conf->mount.data;

    /* websites: the type of a key is nginx's "types" of the location */

    core->type = ngx_http_s3_proxy_type;
    core->type_data = clcf;

    /* the credentials and the counters read the location's buckets */

    conf->core = core;

    if (ngx_http_s3_proxy_status_location(cf, conf, &clcf->name) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    signing = ngx_http_s3_proxy_signing(cf, conf, smcf);
    if (signing == NULL) {
        return NGX_CONF_ERROR;
    }

    core->signing = signing->signing;
    conf->creds = signing->creds;

    /* proxied requests to the location's hosts reuse connections */

    if (ngx_http_s3_proxy_upstreams_ready(cf, conf, core) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (s3p_config_check(core, err, sizeof(err)) != S3P_OK) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "\"s3_proxy\": %s in %s:%ui",
                      err, conf->enable_pos.file_name, conf->enable_pos.line);
        return NGX_CONF_ERROR;
    }

    /*
     * a prefix location with its own bucket is known to its server, for
     * ngx_http_s3_proxy_bucket_root() (cf->ctx: the server's, while nginx
     * merges its locations)
     */

    if (clcf->noname || conf->bucket == NULL || conf->mount.len < 2) {
        return NGX_CONF_OK;
    }

    sscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_s3_proxy_module);

    if (sscf->mounts == NULL) {
        sscf->mounts = ngx_array_create(cf->pool, 2, sizeof(void *));
        if (sscf->mounts == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    mount = ngx_array_push(sscf->mounts);
    if (mount == NULL) {
        return NGX_CONF_ERROR;
    }

    *mount = conf;

    return NGX_CONF_OK;
}


/*
 * The location's signing settings: the ones already resolved for the same
 * raw values, or new ones resolved by the core, with the credentials that
 * rotate.  NULL on error (logged).
 */

static ngx_http_s3_proxy_signing_t *
ngx_http_s3_proxy_signing(ngx_conf_t *cf, ngx_http_s3_proxy_loc_conf_t *conf,
    ngx_http_s3_proxy_main_conf_t *smcf)
{
    size_t                        len;
    u_char                        err[S3P_MESSAGE_MAX];
    void                         *provider;
    ngx_uint_t                    i;
    s3p_settings_t                resolve;
    s3p_signing_t                *signing;
    ngx_http_s3_proxy_signing_t  *known;

    known = smcf->signings->elts;

    for (i = 0; i < smcf->signings->nelts; i++) {
        if (s3p_settings_same(&known[i].raw, &conf->raw)) {
            return &known[i];
        }
    }

    /* where the keys come from, by the core: `resolve` names the source */

    resolve = conf->raw;

    if (ngx_http_s3_proxy_provider(cf, conf, &resolve, &provider) != NGX_OK) {
        return NULL;
    }

    /* the resolved settings, after them, hold a copy of the secret */

    len = s3p_signing_bound(&resolve);

    signing = (s3p_signing_t *) ngx_http_s3_proxy_secret_alloc(cf->pool,
                                                  sizeof(s3p_signing_t) + len);
    known = ngx_array_push(smcf->signings);

    if (signing == NULL || known == NULL) {
        return NULL;
    }

    known->raw = conf->raw;
    known->signing = signing;
    known->creds = NULL;

    if (s3p_signing_resolve(&resolve, signing, (u_char *) (signing + 1), len,
                            err, sizeof(err))
        != S3P_OK)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "\"s3_proxy\": %s in %s:%ui",
                      err, conf->enable_pos.file_name, conf->enable_pos.line);
        return NULL;
    }

    /* keys that rotate: a provider's, or a profile's in the shared files */

    if (provider != NULL
        && ngx_http_s3_proxy_credentials_conf(cf, conf, provider, &resolve,
                                              signing, &known->creds)
           != NGX_OK)
    {
        return NULL;
    }

    return known;
}
