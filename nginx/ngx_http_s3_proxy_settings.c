/*
 * ngx_http_s3_proxy_module: the S3 settings.
 *
 * The credentials and endpoint come from the environment, read once per
 * configuration cycle; each location with "s3_proxy on" hands them, with
 * its own directives, to the Swift core, which holds every setting's
 * default, check and normal form (s3p_signing_resolve()).  C takes no
 * decision about S3 here: it moves the values and reports the core's
 * verdict at the "s3_proxy" directive that uses them.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_s3_proxy_module.h"


static ngx_int_t ngx_http_s3_proxy_getenv(ngx_conf_t *cf, const char *name,
    ngx_str_t *value);
static void ngx_http_s3_proxy_wipe(void *data);
static s3p_signing_t *ngx_http_s3_proxy_signing(ngx_conf_t *cf,
    ngx_http_s3_proxy_loc_conf_t *conf, ngx_http_s3_proxy_main_conf_t *smcf);


void *
ngx_http_s3_proxy_create_main_conf(ngx_conf_t *cf)
{
    char                           *env;
    ngx_str_t                       value;
    ngx_http_s3_proxy_main_conf_t  *smcf;

    smcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_s3_proxy_main_conf_t));
    if (smcf == NULL) {
        return NULL;
    }

    /*
     * The environment is read once per configuration cycle; nginx keeps
     * the master's environment, so a changed credential takes a restart.
     * Unset and empty are the same; the core supplies the defaults.
     */

    if (ngx_http_s3_proxy_getenv(cf, "AWS_ACCESS_KEY_ID", &smcf->access_key)
        != NGX_OK
        || ngx_http_s3_proxy_getenv(cf, "AWS_SECRET_ACCESS_KEY",
                                    &smcf->secret_key)
           != NGX_OK
        || ngx_http_s3_proxy_getenv(cf, "AWS_SESSION_TOKEN",
                                    &smcf->session_token)
           != NGX_OK
        || ngx_http_s3_proxy_getenv(cf, "AWS_DEFAULT_REGION", &smcf->region)
           != NGX_OK
        || ngx_http_s3_proxy_getenv(cf, "AWS_ENDPOINT_HOST", &smcf->host)
           != NGX_OK
        || ngx_http_s3_proxy_getenv(cf, "AWS_ENDPOINT_HOST_EXTERNAL",
                                    &smcf->external_host)
           != NGX_OK
        || ngx_http_s3_proxy_getenv(cf, "AWS_ENDPOINT_SCHEME", &smcf->scheme)
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
ngx_http_s3_proxy_getenv(ngx_conf_t *cf, const char *name, ngx_str_t *value)
{
    char                *env;
    ngx_pool_cleanup_t  *cln;

    env = getenv(name);

    if (env == NULL || *env == '\0') {
        ngx_str_null(value);
        return NGX_OK;
    }

    value->len = ngx_strlen(env);
    value->data = ngx_pnalloc(cf->pool, value->len);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(value->data, env, value->len);

    /* credentials are wiped when the configuration is released */

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_s3_proxy_wipe;
    cln->data = value;

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
    u_char                    err[256];
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
 * values, or new ones resolved by the core.  NULL on error (logged).
 */

static s3p_signing_t *
ngx_http_s3_proxy_signing(ngx_conf_t *cf, ngx_http_s3_proxy_loc_conf_t *conf,
    ngx_http_s3_proxy_main_conf_t *smcf)
{
    size_t                        len;
    u_char                        err[256], *resolved;
    int64_t                       expires;
    ngx_str_t                    *wipe, scheme, host;
    ngx_uint_t                    i;
    s3p_signing_t                *signing;
    ngx_pool_cleanup_t           *cln;
    ngx_http_s3_proxy_pos_t      *pos;
    ngx_http_s3_proxy_signing_t  *known;

    pos = &conf->enable_pos;

    expires = (conf->expires == NGX_CONF_UNSET)
              ? S3P_UNSET : (int64_t) conf->expires;

    if (smcf->signings == NULL) {
        smcf->signings = ngx_array_create(cf->pool, 2,
                                          sizeof(ngx_http_s3_proxy_signing_t));
        if (smcf->signings == NULL) {
            return NULL;
        }
    }

    known = smcf->signings->elts;

    for (i = 0; i < smcf->signings->nelts; i++) {
        if (known[i].expires == expires) {
            return known[i].signing;
        }
    }

    signing = ngx_pcalloc(cf->pool, sizeof(s3p_signing_t));
    if (signing == NULL) {
        return NULL;
    }

    signing->access_key.len = smcf->access_key.len;
    signing->access_key.data = smcf->access_key.data;
    signing->secret_key.len = smcf->secret_key.len;
    signing->secret_key.data = smcf->secret_key.data;
    signing->session_token.len = smcf->session_token.len;
    signing->session_token.data = smcf->session_token.data;
    signing->region.len = smcf->region.len;
    signing->region.data = smcf->region.data;
    signing->host.len = smcf->host.len;
    signing->host.data = smcf->host.data;
    signing->external_host.len = smcf->external_host.len;
    signing->external_host.data = smcf->external_host.data;
    signing->scheme.len = smcf->scheme.len;
    signing->scheme.data = smcf->scheme.data;
    signing->expires = expires;

    len = s3p_signing_bound(signing);

    resolved = ngx_pnalloc(cf->pool, len);
    if (resolved == NULL) {
        return NULL;
    }

    /* the resolved settings hold a copy of the secret: wiped likewise */

    cln = ngx_pool_cleanup_add(cf->pool, sizeof(ngx_str_t));
    if (cln == NULL) {
        return NULL;
    }

    wipe = cln->data;
    wipe->data = resolved;
    wipe->len = len;
    cln->handler = ngx_http_s3_proxy_wipe;

    ngx_memzero(resolved, len);

    if (s3p_signing_resolve(signing, resolved, len, err, sizeof(err))
        != S3P_OK)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "\"s3_proxy\": %s in %s:%ui",
                      err, pos->file_name, pos->line);
        return NULL;
    }

    /* proxied requests to the endpoint reuse connections */

    scheme.len = signing->scheme.len;
    scheme.data = (u_char *) signing->scheme.data;
    host.len = signing->host.len;
    host.data = (u_char *) signing->host.data;

    if (ngx_http_s3_proxy_upstream_add(cf, &scheme, &host) != NGX_OK) {
        return NULL;
    }

    known = ngx_array_push(smcf->signings);
    if (known == NULL) {
        return NULL;
    }

    known->expires = expires;
    known->signing = signing;

    return signing;
}
