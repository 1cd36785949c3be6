/*
 * ngx_http_s3_proxy_module: the handlers of the directives that nginx's
 * stock slot setters cannot read (a list, "off", a kind of value), each
 * value checked by the core where its directive stands, so that nginx -t
 * names the line.  The command table is in ngx_http_s3_proxy_module.c.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_s3_proxy_module.h"


static char *ngx_http_s3_proxy_list(ngx_conf_t *cf, ngx_array_t **a,
    ngx_http_s3_proxy_loc_conf_t *slcf);
static char *ngx_http_s3_proxy_kind(ngx_conf_t *cf, int32_t *field,
    ngx_http_s3_proxy_loc_conf_t *slcf);


/* s3_proxy_presign_window time | off */

char *
ngx_http_s3_proxy_window(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_s3_proxy_loc_conf_t  *slcf = conf;

    ngx_str_t  *value;

    value = cf->args->elts;

    if (slcf->window == NGX_CONF_UNSET
        && ngx_strcmp(value[1].data, "off") == 0)
    {
        slcf->window = 0;
        return NGX_CONF_OK;
    }

    /* a window is a presigned URL lifetime too: 1 second to 7 days */

    return ngx_conf_set_sec_slot(cf, cmd, conf);
}


/*
 * s3_proxy_buckets, s3_proxy_allow_params and s3_proxy_ignore_params:
 * names, space- or comma-separated
 */

char *
ngx_http_s3_proxy_buckets(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_s3_proxy_loc_conf_t  *slcf = conf;

    return ngx_http_s3_proxy_list(cf, &slcf->buckets, slcf);
}


char *
ngx_http_s3_proxy_allow_params(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_s3_proxy_loc_conf_t  *slcf = conf;

    return ngx_http_s3_proxy_list(cf, &slcf->params, slcf);
}


char *
ngx_http_s3_proxy_ignore_params(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_s3_proxy_loc_conf_t  *slcf = conf;

    return ngx_http_s3_proxy_list(cf, &slcf->ignore_params, slcf);
}


/* s3_proxy_proxy_types mime-type ... */

char *
ngx_http_s3_proxy_proxy_types(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_s3_proxy_loc_conf_t  *slcf = conf;

    return ngx_http_s3_proxy_list(cf, &slcf->proxy_types, slcf);
}


/* s3_proxy_error_document key [status] */

char *
ngx_http_s3_proxy_error_document(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_s3_proxy_loc_conf_t  *slcf = conf;

    int32_t     kinds[2];
    ngx_str_t  *value;

    if (slcf->error_status != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;
    kinds[1] = 0;

    if (ngx_http_s3_proxy_check(cf, &value[1], cf->args->nelts - 1, 0, kinds)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    slcf->error_document = value[1];
    slcf->error_status = kinds[1];

    return NGX_CONF_OK;
}


static char *
ngx_http_s3_proxy_list(ngx_conf_t *cf, ngx_array_t **a,
    ngx_http_s3_proxy_loc_conf_t *slcf)
{
    ngx_str_t  *value;

    if (*a != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    *a = ngx_http_s3_proxy_split(cf->pool, &value[1], cf->args->nelts - 1);
    if (*a == NULL) {
        return NGX_CONF_ERROR;
    }

    /* each name is checked here, so that nginx -t points at this line */

    if (ngx_http_s3_proxy_check(cf, (*a)->elts, (*a)->nelts, 0, NULL)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* s3_proxy_buckets: the hosts of virtual-hosted addressing */

    return ngx_http_s3_proxy_upstreams_declare(cf, slcf);
}


/* s3_proxy_stream_agents off | none | signed | substring ... */

char *
ngx_http_s3_proxy_stream_agents(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_s3_proxy_loc_conf_t  *slcf = conf;

    int32_t     *kinds;
    ngx_str_t   *value, *agent;
    ngx_uint_t   i, n;

    if (slcf->stream != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;
    n = cf->args->nelts - 1;

    kinds = ngx_palloc(cf->temp_pool, n * sizeof(int32_t));
    if (kinds == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_s3_proxy_check(cf, &value[1], n, 0, kinds) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (kinds[0] == S3P_STREAM_NOBODY) {
        slcf->stream = NULL;
        return NGX_CONF_OK;
    }

    slcf->stream = ngx_array_create(cf->pool, n, sizeof(ngx_str_t));
    if (slcf->stream == NULL) {
        return NGX_CONF_ERROR;
    }

    /* User-Agent substrings, and clients named by what they send */

    for (i = 0; i < n; i++) {
        if (kinds[i] != 0) {
            slcf->stream_match |= kinds[i];
            continue;
        }

        agent = ngx_array_push(slcf->stream);
        if (agent == NULL) {
            return NGX_CONF_ERROR;
        }

        *agent = value[i + 1];
    }

    return NGX_CONF_OK;
}


/*
 * s3_proxy_bucket and s3_proxy_prefix: a value with variables is evaluated
 * for each request and checked by the core then; a constant one is
 * checked here, so that nginx -t points at its line, and costs requests
 * nothing more.
 */

char *
ngx_http_s3_proxy_per_request(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char       *rv;
    ngx_str_t  *value;

    rv = ngx_http_set_complex_value_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    /* no "$": the value compiled is a constant */

    value = cf->args->elts;

    if (ngx_http_script_variables_count(&value[1]) == 0
        && ngx_http_s3_proxy_check(cf, &value[1], 1, 0, NULL) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* a constant bucket names the host of virtual-hosted addressing */

    return ngx_http_s3_proxy_upstreams_declare(cf, conf);
}


/*
 * Their value for the core: a constant as it is; with variables, `flag`
 * in *per_request, and each request brings its value (the handler's)
 */

void
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
 * s3_proxy_credentials auto | env | profile=NAME | web-identity | container
 * | imds [role=ARN [external_id=ID] [session_name=NAME] [duration=TIME]]
 * and s3_proxy_addressing path | virtual: which one, as the core reads it
 */

char *
ngx_http_s3_proxy_credentials(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_s3_proxy_loc_conf_t  *slcf = conf;

    int32_t      kinds[1 + S3P_ROLE_PARAMS];
    u_char      *eq;
    ngx_str_t   *value;
    s3p_str_t   *role;
    ngx_uint_t   i, n;

    value = cf->args->elts;
    n = cf->args->nelts - 1;

    if (n > 1 + S3P_ROLE_PARAMS) {
        return "has too many parameters";
    }

    if (ngx_http_s3_proxy_check(cf, &value[1], n, 0, kinds) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* the role's parameters: each value after its '=' */

    for (i = 1; i < n; i++) {
        role = &slcf->raw.role[kinds[i] - 1];
        eq = ngx_strlchr(value[1 + i].data,
                         value[1 + i].data + value[1 + i].len, '=');
        role->data = eq + 1;
        role->len = value[1 + i].data + value[1 + i].len - (eq + 1);
    }

    return ngx_http_s3_proxy_kind(cf, (int32_t *) &slcf->raw.credentials,
                                  slcf);
}


char *
ngx_http_s3_proxy_addressing(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_s3_proxy_loc_conf_t  *slcf = conf;

    return ngx_http_s3_proxy_kind(cf, (int32_t *) &slcf->raw.addressing,
                                  slcf);
}


/*
 * s3p_credentials_source_t and s3p_addressing_t hold S3P_UNSET (-1) when
 * not configured: enums with a negative value are ints
 */

static char *
ngx_http_s3_proxy_kind(ngx_conf_t *cf, int32_t *field,
    ngx_http_s3_proxy_loc_conf_t *slcf)
{
    u_char     *last;
    int32_t     kind;
    ngx_str_t  *value;

    if (*field != S3P_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_s3_proxy_check(cf, &value[1], 1, 0, &kind) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    *field = kind;

    if (field == (int32_t *) &slcf->raw.credentials) {
        if (kind != S3P_CREDENTIALS_PROFILE) {
            return NGX_CONF_OK;
        }

        /* profile=NAME: the profile's region decides the default endpoint */

        last = value[1].data + value[1].len;
        slcf->raw.profile.data = ngx_strlchr(value[1].data, last, '=') + 1;
        slcf->raw.profile.len = last - slcf->raw.profile.data;
    }

    /* virtual-hosted addressing names the hosts */

    return ngx_http_s3_proxy_upstreams_declare(cf, slcf);
}
