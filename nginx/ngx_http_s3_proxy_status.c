/*
 * ngx_http_s3_proxy_module: s3_proxy_status, counters in a shared zone and
 * the page the core writes of them (docs/design.md, "Status").
 */

#include "ngx_http_s3_proxy_credentials.h"


typedef struct {
    s3p_status_counters_t      counters;
    s3p_status_rows_t          rows;
} ngx_http_s3_proxy_status_shm_t;


static ngx_int_t ngx_http_s3_proxy_status_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_s3_proxy_status_handler(ngx_http_request_t *r);


static ngx_str_t  ngx_http_s3_proxy_status_zone =
    ngx_string("s3_proxy_status");


char *
ngx_http_s3_proxy_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t       *clcf;
    ngx_http_s3_proxy_main_conf_t  *smcf;

    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_s3_proxy_module);

    if (smcf->status_zone == NULL) {
        smcf->status_locations = ngx_array_create(cf->pool, 4,
                                     sizeof(s3p_status_location_t));
        if (smcf->status_locations == NULL) {
            return NGX_CONF_ERROR;
        }

        smcf->status_zone = ngx_shared_memory_add(cf,
                                &ngx_http_s3_proxy_status_zone,
                                sizeof(ngx_http_s3_proxy_status_shm_t)
                                + 65536, &ngx_http_s3_proxy_module);
        if (smcf->status_zone == NULL) {
            return NGX_CONF_ERROR;
        }

        smcf->status_zone->init = ngx_http_s3_proxy_status_init_zone;
        smcf->status_zone->data = smcf;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_s3_proxy_status_handler;

    return NGX_CONF_OK;
}


/*
 * A location with "s3_proxy on": its rows, by name and bucket (its own as
 * written, then those of its allowlist), as the core fills them
 */

ngx_int_t
ngx_http_s3_proxy_status_location(ngx_conf_t *cf,
    ngx_http_s3_proxy_loc_conf_t *conf, ngx_str_t *name)
{
    ngx_uint_t                      n;
    s3p_status_location_t          *loc;
    ngx_http_s3_proxy_main_conf_t  *smcf;

    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_s3_proxy_module);

    if (smcf->status_zone == NULL) {
        return NGX_OK;
    }

    n = conf->core->nbuckets + 1;

    loc = ngx_array_push_n(smcf->status_locations, n);
    if (loc == NULL) {
        return NGX_ERROR;
    }

    conf->status_row = smcf->status_locations->nelts - n;

    s3p_status_location(conf->core, (s3p_str_t *) name,
                        conf->bucket ? (s3p_str_t *) &conf->bucket->value
                                     : NULL, loc);

    return NGX_OK;
}


/*
 * The zone, new or kept from the configuration before: each location
 * finds the row of its name, or takes a free one, for the zone's life.
 */

static ngx_int_t
ngx_http_s3_proxy_status_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t                 *shpool;
    ngx_http_s3_proxy_status_shm_t  *shm;
    ngx_http_s3_proxy_main_conf_t   *smcf;

    smcf = shm_zone->data;
    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (!shm_zone->shm.exists && data == NULL) {
        shpool->data = ngx_slab_calloc(shpool,
                                      sizeof(ngx_http_s3_proxy_status_shm_t));
        if (shpool->data == NULL) {
            return NGX_ERROR;
        }
    }

    shm = shpool->data;

    ngx_shmtx_lock(&shpool->mutex);
    s3p_status_rows(smcf->status_locations->elts,
                    smcf->status_locations->nelts, &shm->rows);
    ngx_shmtx_unlock(&shpool->mutex);

    smcf->stats = &shm->counters;

    return NGX_OK;
}


/*
 * A request decided (`ctx`), counted by its route and by the row of its
 * allowed bucket, else its location's own; or, `ctx` NULL, S3's answer
 * with `status`; or, `status` 0, an error with `code`: the counters the
 * core says, one each.
 */

void
ngx_http_s3_proxy_status_count(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx, ngx_uint_t status, uint32_t code)
{
    size_t                          i, n, at[S3P_STATUS_BUMPS];
    uint64_t                       *counters;
    s3p_status_event_t              ev;
    s3p_status_location_t          *loc;
    ngx_http_s3_proxy_loc_conf_t   *slcf;
    ngx_http_s3_proxy_main_conf_t  *smcf;

    smcf = ngx_http_get_module_main_conf(r, ngx_http_s3_proxy_module);
    slcf = ngx_http_get_module_loc_conf(r, ngx_http_s3_proxy_module);
    counters = (uint64_t *) smcf->stats;

    if (counters == NULL) {
        return;
    }

    ngx_memzero(&ev, sizeof(s3p_status_event_t));

    ev.result = ctx ? &ctx->result : NULL;
    ev.status = (int32_t) ngx_min(status, NGX_MAX_INT32_VALUE);
    ev.code = code;

    /* the zone's counters: every enabled location has its rows */

    if (ctx && slcf->core) {
        loc = smcf->status_locations->elts;
        ev.rows = loc + slcf->status_row;
        ev.nrows = slcf->core->nbuckets + 1;
    }

    n = s3p_status_count(&ev, at);

    for (i = 0; i < n; i++) {
        (void) ngx_atomic_fetch_add((ngx_atomic_t *) &counters[at[i]], 1);
    }
}


/*
 * The page: a copy of the counters, and what the core shows of each
 * provider's slot, read under the credentials' zone lock (no secret key).
 */

static ngx_int_t
ngx_http_s3_proxy_status_handler(ngx_http_request_t *r)
{
    u_char                         *p;
    ngx_str_t                       type;
    ngx_uint_t                      i, n;
    const char                     *ct;
    s3p_status_t                   *st;
    s3p_status_source_t            *src;
    ngx_http_complex_value_t        cv;
    ngx_http_s3_proxy_slot_t       *slot;
    ngx_http_s3_proxy_signing_t    *known;
    ngx_http_s3_proxy_provider_t  **pp;
    ngx_http_s3_proxy_main_conf_t  *smcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    smcf = ngx_http_get_module_main_conf(r, ngx_http_s3_proxy_module);

    n = smcf->creds ? ((ngx_array_t *) smcf->creds)->nelts : 0;

    st = ngx_pcalloc(r->pool, sizeof(s3p_status_t)
                              + n * (sizeof(s3p_status_source_t)
                                     + S3P_ACCESS_KEY_MAX
                                     + S3P_STATUS_ERROR_MAX));
    if (st == NULL || smcf->stats == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(&st->counters, smcf->stats, sizeof(s3p_status_counters_t));

    st->now = ngx_time();
    st->locations = smcf->status_locations->elts;
    st->nlocations = smcf->status_locations->nelts;
    st->query.data = r->args.data;
    st->query.len = r->args.len;

#if (NGX_HTTP_HEADERS)
    if (r->headers_in.accept) {
        st->accept.data = r->headers_in.accept->value.data;
        st->accept.len = r->headers_in.accept->value.len;
    }
#endif

    src = (s3p_status_source_t *) (st + 1);
    st->sources = src;
    p = (u_char *) (src + n);
    pp = smcf->creds ? ((ngx_array_t *) smcf->creds)->elts : NULL;

    for (i = 0; i < n; i++) {
        ngx_shmtx_lock(&pp[i]->shpool->mutex);

        slot = ngx_http_s3_proxy_slot_ours(pp[i]) ? pp[i]->slot : NULL;
        p += s3p_slot_status(slot, &pp[i]->core, &src[i], p);

        ngx_shmtx_unlock(&pp[i]->shpool->mutex);
    }

    st->nsources = n;
    known = smcf->signings ? smcf->signings->elts : NULL;

    for (i = 0; known && i < smcf->signings->nelts; i++) {
        if (known[i].creds == NULL) {
            st->env_access_key = &known[i].signing->access_key;
            break;
        }
    }

    ngx_memzero(&cv, sizeof(ngx_http_complex_value_t));

    if (s3p_status(st, ngx_http_s3_proxy_alloc, r->pool,
                   (s3p_str_t *) &cv.value, &ct)
        != S3P_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    type.data = (u_char *) ct;
    type.len = ngx_strlen(ct);

    return ngx_http_send_response(r, NGX_HTTP_OK, &type, &cv);
}
