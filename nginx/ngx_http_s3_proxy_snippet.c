/*
 * ngx_http_s3_proxy_module: the checks that a location with "s3_proxy on"
 * has the shipped snippet, s3_proxy.conf, whose marker directive is
 * "s3_proxy_snippet" (why a marker: docs/design.md, "Settings").
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_s3_proxy_module.h"


/* s3_proxy_snippet: the marker, where the snippet was included */

char *
ngx_http_s3_proxy_snippet(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_s3_proxy_loc_conf_t  *slcf = conf;

    if (slcf->snippet_pos.file_name) {
        return "is duplicate: s3_proxy.conf is included twice";
    }

    slcf->snippet_pos.file_name = cf->conf_file->file.name.data;
    slcf->snippet_pos.line = cf->conf_file->line;

    /* the location's settings before the include: its upstreams */

    return ngx_http_s3_proxy_upstreams_declare(cf, slcf);
}


/*
 * Called by the module's merge: the snippet is there exactly where
 * "s3_proxy on" is, and the location has no content handler of its own.
 */

char *
ngx_http_s3_proxy_check_snippet(ngx_conf_t *cf,
    ngx_http_s3_proxy_loc_conf_t *conf, ngx_http_s3_proxy_loc_conf_t *prev)
{
    u_char                     err[S3P_MESSAGE_MAX];
    ngx_http_s3_proxy_pos_t   *pos;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    /*
     * an "if" or "limit_except" block carries on its location's snippet; a
     * location does not
     */

    if (conf->snippet_pos.file_name == NULL && clcf->noname) {
        conf->snippet_pos = prev->snippet_pos;
        conf->snippet_inherited = clcf->lmt_excpt ? 2 : 1;
    }

    if (s3p_check_snippet(conf->enable != 0,
                          conf->snippet_pos.file_name != NULL,
                          (int32_t) conf->snippet_inherited,
                          clcf->handler != NULL,
                          err, sizeof(err))
        == S3P_OK)
    {
        return NGX_CONF_OK;
    }

    pos = conf->enable ? &conf->enable_pos : &conf->snippet_pos;

    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                  "\"s3_proxy\" in location \"%V\" %s in %s:%ui",
                  &clcf->name, err, pos->file_name, pos->line);

    return NGX_CONF_ERROR;
}
