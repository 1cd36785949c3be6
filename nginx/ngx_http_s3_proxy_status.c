/*
 * ngx_http_s3_proxy_module: s3_proxy_status, the module's state.
 *
 * With "s3_proxy_status" in a location, every worker adds to the
 * counters (s3p_status_counters_t) with atomic adds, in a shared zone,
 * "s3_proxy_status", that nginx keeps across reloads (same name, size and
 * tag): requests by route and by location and bucket, S3's answers by
 * status and error code.  A location's rows are found by its name and
 * bucket, in every configuration.  The location answers
 * with a copy of the counters and each credential source's health, in
 * the page the core writes (JSON, or Prometheus's text format).
 */

#include "ngx_http_s3_proxy_credentials.h"


/* A location's name, or a bucket's, kept at most. */
#define NGX_HTTP_S3_PROXY_NAME_MAX  128


typedef struct {
    s3p_status_counters_t      counters;
    size_t                     len[S3P_STATUS_LOCATIONS];
    u_char                     name[S3P_STATUS_LOCATIONS]
                                   [2 * NGX_HTTP_S3_PROXY_NAME_MAX + 1];
} ngx_http_s3_proxy_status_shm_t;


static ngx_int_t ngx_http_s3_proxy_status_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_s3_proxy_status_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_s3_proxy_status_sources(ngx_http_request_t *r,
    ngx_http_s3_proxy_main_conf_t *smcf, s3p_status_t *st);


#define ngx_http_s3_proxy_add(counter)                                        \
    (void) ngx_atomic_fetch_add((ngx_atomic_t *) &(counter), 1)


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
 * A location with "s3_proxy on": its rows, by name and bucket (its own,
 * then those of its allowlist), each listed once.
 */

ngx_int_t
ngx_http_s3_proxy_status_location(ngx_conf_t *cf,
    ngx_http_s3_proxy_loc_conf_t *conf, ngx_str_t *name)
{
    ngx_str_t                      *bucket, own;
    ngx_uint_t                      i, k, n;
    s3p_status_location_t          *loc;
    ngx_http_s3_proxy_main_conf_t  *smcf;

    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_s3_proxy_module);

    if (smcf->status_zone == NULL) {
        return NGX_OK;
    }

    n = conf->buckets ? conf->buckets->nelts : 0;

    conf->status_rows = ngx_palloc(cf->pool, (n + 1) * sizeof(ngx_uint_t));
    if (conf->status_rows == NULL) {
        return NGX_ERROR;
    }

    /* its own bucket as written: a name, or the variables that make it */

    ngx_str_null(&own);

    if (conf->bucket) {
        own = conf->bucket->value;
    }

    for (k = 0; k <= n; k++) {
        bucket = k ? (ngx_str_t *) conf->buckets->elts + k - 1 : &own;
        loc = smcf->status_locations->elts;

        for (i = 0; i < smcf->status_locations->nelts; i++) {
            if (loc[i].name.len == name->len
                && loc[i].bucket.len == bucket->len
                && ngx_memcmp(loc[i].name.data, name->data, name->len) == 0
                && ngx_memcmp(loc[i].bucket.data, bucket->data, bucket->len)
                   == 0)
            {
                break;
            }
        }

        if (i == smcf->status_locations->nelts) {
            loc = ngx_array_push(smcf->status_locations);
            if (loc == NULL) {
                return NGX_ERROR;
            }

            loc->name.data = name->data;
            loc->name.len = name->len;
            loc->bucket.data = bucket->data;
            loc->bucket.len = bucket->len;
            loc->row = S3P_STATUS_LOCATIONS;
        }

        conf->status_rows[k] = i;
    }

    return NGX_OK;
}


/*
 * The zone, new or kept from the configuration before: each location
 * finds the row of its name, or takes a free one, for the zone's life.
 */

static ngx_int_t
ngx_http_s3_proxy_status_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    u_char                           key[2 * NGX_HTTP_S3_PROXY_NAME_MAX + 1];
    u_char                          *p;
    size_t                           len;
    ngx_uint_t                       i, j;
    ngx_slab_pool_t                 *shpool;
    s3p_status_location_t           *loc;
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
    loc = smcf->status_locations->elts;

    ngx_shmtx_lock(&shpool->mutex);

    for (i = 0; i < smcf->status_locations->nelts; i++) {

        /* the key: the name, a NUL, the bucket; capped */

        p = ngx_cpymem(key, loc[i].name.data,
                       ngx_min(loc[i].name.len, NGX_HTTP_S3_PROXY_NAME_MAX));
        *p++ = '\0';
        p = ngx_cpymem(p, loc[i].bucket.data,
                       ngx_min(loc[i].bucket.len, NGX_HTTP_S3_PROXY_NAME_MAX));
        len = p - key;

        for (j = 0; j < S3P_STATUS_LOCATIONS; j++) {
            if (shm->len[j] == 0) {
                shm->len[j] = len;
                ngx_memcpy(shm->name[j], key, len);
            }

            if (shm->len[j] == len && ngx_memcmp(shm->name[j], key, len) == 0) {
                loc[i].row = j;
                break;
            }
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    smcf->stats = &shm->counters;

    return NGX_OK;
}


/* A request decided (ctx->result.route): its route's counters. */

void
ngx_http_s3_proxy_status_route(ngx_http_request_t *r,
    ngx_http_s3_proxy_ctx_t *ctx)
{
    ngx_uint_t                      route, status, row, k;
    s3p_status_location_t          *loc;
    s3p_status_counters_t          *stats;
    ngx_http_s3_proxy_loc_conf_t   *slcf;
    ngx_http_s3_proxy_main_conf_t  *smcf;

    smcf = ngx_http_get_module_main_conf(r, ngx_http_s3_proxy_module);
    stats = smcf->stats;

    if (stats == NULL) {
        return;
    }

    route = ctx->result.route;
    status = ctx->result.status;

    if (route >= S3P_ROUTES) {
        return;
    }

    ngx_http_s3_proxy_add(stats->requests[route]);

    if (ctx->result.cached) {
        ngx_http_s3_proxy_add(stats->redirects_cached);
    }

    if (route == S3P_ROUTE_REFUSED && status >= 100 && status < 600) {
        ngx_http_s3_proxy_add(stats->refused[status - 100]);
    }

    /* the row of the request's allowed bucket, else the location's own */

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_s3_proxy_module);
    k = (ngx_uint_t) ctx->result.allowed;            /* -1: none */
    k = (slcf->buckets && k < slcf->buckets->nelts) ? k + 1 : 0;

    if (slcf->status_rows == NULL) {
        return;
    }

    loc = smcf->status_locations->elts;
    row = loc[slcf->status_rows[k]].row;

    if (row < S3P_STATUS_LOCATIONS) {
        ngx_http_s3_proxy_add(stats->locations[row][route]);
    }
}


/* S3's answer with `status`; or, `status` 0, an error with `code`. */

void
ngx_http_s3_proxy_status_s3(ngx_http_request_t *r, ngx_uint_t status,
    uint32_t code)
{
    s3p_status_counters_t          *stats;
    ngx_http_s3_proxy_main_conf_t  *smcf;

    smcf = ngx_http_get_module_main_conf(r, ngx_http_s3_proxy_module);
    stats = smcf->stats;

    if (stats == NULL) {
        return;
    }

    if (status >= 100 && status < 600) {
        ngx_http_s3_proxy_add(stats->s3_answers[status - 100]);

    } else if (status == 0 && code < S3P_S3_ERRORS) {
        ngx_http_s3_proxy_add(stats->s3_errors[code]);
    }
}


static ngx_int_t
ngx_http_s3_proxy_status_handler(ngx_http_request_t *r)
{
    s3p_str_t                       page;
    ngx_str_t                       type;
    const char                     *ct;
    s3p_status_t                   *st;
    ngx_http_complex_value_t        cv;
    ngx_http_s3_proxy_main_conf_t  *smcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    smcf = ngx_http_get_module_main_conf(r, ngx_http_s3_proxy_module);

    st = ngx_pcalloc(r->pool, sizeof(s3p_status_t));
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

    if (ngx_http_s3_proxy_status_sources(r, smcf, st) != NGX_OK
        || s3p_status(st, ngx_http_s3_proxy_page_alloc, r->pool, &page, &ct)
           != S3P_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    type.data = (u_char *) ct;
    type.len = ngx_strlen(ct);

    ngx_memzero(&cv, sizeof(ngx_http_complex_value_t));
    cv.value.data = (u_char *) page.data;
    cv.value.len = page.len;

    return ngx_http_send_response(r, NGX_HTTP_OK, &type, &cv);
}


/*
 * Each credential source of the configuration, read from the credentials'
 * zone (its lock held): the providers', then the environment's static
 * keys if a location signs with them.
 */

static ngx_int_t
ngx_http_s3_proxy_status_sources(ngx_http_request_t *r,
    ngx_http_s3_proxy_main_conf_t *smcf, s3p_status_t *st)
{
    u_char                         *p;
    ngx_uint_t                      i, n;
    s3p_status_source_t            *src;
    ngx_http_s3_proxy_slot_t       *slot;
    ngx_http_s3_proxy_signing_t    *known;
    ngx_http_s3_proxy_provider_t  **pp;

    n = (smcf->creds ? ((ngx_array_t *) smcf->creds)->nelts : 0) + 1;

    src = ngx_pcalloc(r->pool, n * (sizeof(s3p_status_source_t)
                                    + S3P_ACCESS_KEY_MAX
                                    + S3P_STATUS_ERROR_MAX));
    if (src == NULL) {
        return NGX_ERROR;
    }

    st->sources = src;
    p = (u_char *) (src + n);
    pp = smcf->creds ? ((ngx_array_t *) smcf->creds)->elts : NULL;

    for (i = 0; i + 1 < n; i++, src++) {
        src->name.data = pp[i]->core.name.data;
        src->name.len = pp[i]->core.name.len;
        slot = pp[i]->slot;

        ngx_shmtx_lock(&pp[i]->shpool->mutex);

        if (ngx_http_s3_proxy_slot_ours(pp[i])) {
            src->expiration = (slot->version == 0) ? 0
                              : (slot->expiration == NGX_MAX_TIME_T_VALUE)
                              ? S3P_NEVER : slot->expiration;
            src->refreshed = slot->refreshed;
            src->successes = slot->refreshes;
            src->failures = slot->refresh_failures;
            src->streak = (uint32_t) slot->failures;
            src->verification = slot->verification;

            src->access_key.data = p;
            src->access_key.len = slot->version ? slot->len[0] : 0;
            p = ngx_cpymem(p, slot->keys, src->access_key.len);

            src->error.data = p;
            src->error.len = slot->error_len;
            p = ngx_cpymem(p, slot->error, slot->error_len);
        }

        ngx_shmtx_unlock(&pp[i]->shpool->mutex);
    }

    st->nsources = n - 1;
    known = smcf->signings ? smcf->signings->elts : NULL;

    for (i = 0; known && i < smcf->signings->nelts; i++) {
        if (known[i].creds == NULL) {
            ngx_str_set(&src->name, S3P_CREDENTIALS_ENV_NAME);
            src->access_key = known[i].signing->access_key;
            src->expiration = S3P_NEVER;
            st->nsources = n;
            break;
        }
    }

    return NGX_OK;
}
