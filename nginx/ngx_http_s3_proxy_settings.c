/*
 * ngx_http_s3_proxy_module: the S3 settings.
 *
 * The credentials and endpoint come from the environment, read once per
 * configuration cycle; each location with "s3_proxy on" resolves them,
 * with its own directives, into the settings handed to the Swift core
 * (s3p_config_t).  Every decision about S3 that C still takes is in
 * ngx_http_s3_proxy_s3_settings() below.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_s3_proxy_module.h"


static ngx_int_t ngx_http_s3_proxy_getenv(ngx_conf_t *cf, const char *name,
    ngx_str_t *value);
static void ngx_http_s3_proxy_wipe(void *data);


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
     * Unset and empty are the same; ngx_http_s3_proxy_s3_settings()
     * supplies the defaults.
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
 * S3 DECISIONS TAKEN IN C.  Everything the nginx side still decides about
 * S3 itself is in this one function, so that one call into the Swift
 * core's definition of the settings can replace it:
 *
 *   - AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are required;
 *   - AWS_DEFAULT_REGION defaults to "us-east-1";
 *   - AWS_ENDPOINT_HOST defaults to "s3.<region>.amazonaws.com";
 *   - AWS_ENDPOINT_HOST_EXTERNAL defaults to AWS_ENDPOINT_HOST;
 *   - AWS_ENDPOINT_SCHEME defaults to "https";
 *   - s3_proxy_expires defaults to 300s and lies between 1s and 7d (the
 *     longest a SigV4 presigned URL lives);
 *   - s3_proxy_index defaults to "index.html" and is one key segment;
 *   - S3_PROXY_BUCKETS, when set, names at least one bucket.
 *
 * Each error names the directive that set the value, with its file and
 * line; values from the environment are blamed on "s3_proxy".
 */

char *
ngx_http_s3_proxy_s3_settings(ngx_conf_t *cf,
    ngx_http_s3_proxy_loc_conf_t *conf, s3p_config_t *core)
{
    u_char                   *p;
    size_t                    len;
    ngx_http_s3_proxy_pos_t  *pos;

    pos = &conf->enable_pos;

    if (core->access_key.len == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"s3_proxy\" requires AWS_ACCESS_KEY_ID "
                      "in the environment in %s:%ui",
                      pos->file_name, pos->line);
        return NGX_CONF_ERROR;
    }

    if (core->secret_key.len == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"s3_proxy\" requires AWS_SECRET_ACCESS_KEY "
                      "in the environment in %s:%ui",
                      pos->file_name, pos->line);
        return NGX_CONF_ERROR;
    }

    if (core->region.len == 0) {
        core->region.data = (const uint8_t *) "us-east-1";
        core->region.len = sizeof("us-east-1") - 1;
    }

    if (core->host.len == 0) {
        len = sizeof("s3..amazonaws.com") - 1 + core->region.len;

        p = ngx_pnalloc(cf->pool, len);
        if (p == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_sprintf(p, "s3.%*s.amazonaws.com",
                    core->region.len, core->region.data);

        core->host.data = p;
        core->host.len = len;
    }

    if (core->external_host.len == 0) {
        core->external_host = core->host;
    }

    if (core->scheme.len == 0) {
        core->scheme.data = (const uint8_t *) "https";
        core->scheme.len = sizeof("https") - 1;
    }

    if (conf->expires == NGX_CONF_UNSET) {
        core->expires = 300;

    } else if (conf->expires < 1 || conf->expires > 604800) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"s3_proxy_expires\" must be between 1s and 7d "
                      "in %s:%ui",
                      conf->expires_pos.file_name, conf->expires_pos.line);
        return NGX_CONF_ERROR;

    } else {
        core->expires = (uint32_t) conf->expires;
    }

    if (conf->index.data == NULL) {
        core->index.data = (const uint8_t *) "index.html";
        core->index.len = sizeof("index.html") - 1;

    } else if (conf->index.len == 0
               || ngx_strlchr(conf->index.data,
                              conf->index.data + conf->index.len, '/')
               || ngx_strcmp(conf->index.data, ".") == 0
               || ngx_strcmp(conf->index.data, "..") == 0)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"s3_proxy_index\" must be a file name, "
                      "not \"%V\" in %s:%ui", &conf->index,
                      conf->index_pos.file_name, conf->index_pos.line);
        return NGX_CONF_ERROR;

    } else {
        core->index.data = conf->index.data;
        core->index.len = conf->index.len;
    }

    if (conf->buckets != NULL && conf->buckets->nelts == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"s3_proxy\": S3_PROXY_BUCKETS names no bucket "
                      "in %s:%ui", pos->file_name, pos->line);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * The Swift core checks the resolved settings, normalises the endpoint
 * hosts and prepares what every signed answer takes from them.  These are
 * the only calls into s3p_* at configuration time besides the allowlist
 * names checked in ngx_http_s3_proxy_list().
 */

char *
ngx_http_s3_proxy_core(ngx_conf_t *cf, ngx_http_s3_proxy_loc_conf_t *conf,
    s3p_config_t *core)
{
    size_t                    len;
    u_char                    err[256], *hosts, *prepared;
    ngx_http_s3_proxy_pos_t  *pos;

    pos = &conf->enable_pos;

    if (s3p_config_check(core, err, sizeof(err)) != S3P_OK) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "\"s3_proxy\": %s in %s:%ui",
                      err, pos->file_name, pos->line);
        return NGX_CONF_ERROR;
    }

    len = core->host.len + core->external_host.len;

    hosts = ngx_pnalloc(cf->pool, len);
    if (hosts == NULL) {
        return NGX_CONF_ERROR;
    }

    if (s3p_config_normalize(core, hosts, len) != S3P_OK) {
        return NGX_CONF_ERROR;
    }

    len = s3p_config_prepare_bound(core);

    prepared = ngx_pnalloc(cf->pool, len);
    if (prepared == NULL) {
        return NGX_CONF_ERROR;
    }

    if (s3p_config_prepare(core, prepared, len) != S3P_OK) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"s3_proxy\": cannot prepare the signing settings "
                      "in %s:%ui", pos->file_name, pos->line);
        return NGX_CONF_ERROR;
    }

    conf->core = core;

    return NGX_CONF_OK;
}
