/*
 * The boundary between ngx_http_s3_proxy_module (C) and its Swift core.
 *
 * This header is the single source of truth: the nginx module includes it,
 * and Swift implements each function with @c @implementation, so the
 * compiler rejects any drift between the two.
 *
 * Rules of the boundary:
 * - C owns all memory.  Swift reads the inputs and writes into buffers that
 *   C allocated from the request pool; no Swift allocation crosses over.
 * - The clock is an argument (nginx's cached time); Swift never reads it.
 * - Every function returns a small status; nothing traps on input.
 */

#ifndef S3_PROXY_CORE_H
#define S3_PROXY_CORE_H

#include <stddef.h>
#include <stdint.h>


/* A byte string; the same layout as nginx's ngx_str_t. */
typedef struct {
    size_t           len;
    const uint8_t   *data;
} s3p_str_t;


/*
 * The settings a signature depends on: credentials, region, endpoints and
 * the presigned URL lifetime.  C fills in the raw values (empty, or
 * S3P_UNSET for `expires`: not configured); s3p_signing_resolve() applies
 * the defaults, checks and normalises the values, and writes what every
 * signed answer takes from them alone.  Resolved settings are read-only:
 * changed settings are a new s3p_signing_t, with a new `generation`.
 */
typedef struct {
    s3p_str_t        access_key;
    s3p_str_t        secret_key;
    s3p_str_t        session_token;   /* empty: none */
    s3p_str_t        region;
    s3p_str_t        host;            /* proxied requests: "host[:port]" */
    s3p_str_t        external_host;   /* redirects: "host[:port]" */
    s3p_str_t        scheme;          /* "http" or "https" */
    int64_t          expires;         /* presigned URL lifetime, seconds */

    /* written by s3p_signing_resolve() */
    s3p_str_t        prepared;        /* the Swift core's layout */
    uint64_t         generation;      /* unique in the process */
} s3p_signing_t;

#define S3P_UNSET  (-1)


/* Which clients get objects streamed through the proxy, not redirected. */
typedef enum {
    S3P_STREAM_DEFAULT = 0,           /* S3 SDKs and CLIs: the core's list, */
                                      /*   no User-Agent, and S3-signed */
    S3P_STREAM_OFF = 1,               /* nobody: every object redirects */
    S3P_STREAM_LIST = 2               /* User-Agents containing an entry, */
                                      /*   and what `stream_match` adds */
} s3p_stream_t;

/* With S3P_STREAM_LIST, clients recognised besides their User-Agent. */
#define S3P_STREAM_NO_AGENT  1        /* requests without a User-Agent */
#define S3P_STREAM_SIGNED    2        /* requests that carry S3 signing: */
                                      /*   an AWS Authorization, */
                                      /*   x-amz-date, x-amz-content-sha256 */


/*
 * What one location answers, resolved at configuration time and never
 * written afterwards.  What each worker learns while it runs (the day's
 * signing key, HMAC states, the timestamp) is kept per thread by the core,
 * keyed by the signing settings' generation.
 */
typedef struct {
    const s3p_signing_t *signing;     /* resolved */

    const s3p_str_t *buckets;         /* buckets clients may reach; */
    size_t           nbuckets;        /*   none listed: any */
    const s3p_str_t *params;          /* query parameters requests may */
    size_t           nparams;         /*   carry besides listing ones */
    s3p_stream_t     stream;
    const s3p_str_t *stream_agents;   /* with S3P_STREAM_LIST: substrings, */
    size_t           nstream_agents;  /*   matched case-insensitively */
    s3p_str_t        index;           /* a folder's page; empty: the */
                                      /*   default, "index.html" */
    int32_t          listings;        /* 1: built-in folder listings */

    uint32_t         stream_match;    /* with S3P_STREAM_LIST: S3P_STREAM_* */
                                      /*   flags (NO_AGENT, SIGNED) */
    const s3p_str_t *ignore_params;   /* query parameters dropped, never */
    size_t           nignore_params;  /*   signed or forwarded */
} s3p_config_t;


/* One client request, as nginx received it. */
typedef struct {
    s3p_str_t        method;          /* "GET", "HEAD", ... */
    s3p_str_t        path;            /* raw path, before any '?' */
    s3p_str_t        query;           /* raw query, without the '?' */
    s3p_str_t        user_agent;      /* empty: none sent */
    s3p_str_t        authorization;   /* the client's own signature */
    s3p_str_t        amz_date;        /*   headers, only to recognise S3 */
    s3p_str_t        amz_content_sha256; /* clients; empty: none sent */
    int64_t          now;             /* Unix time, seconds */
    int32_t          fallback;        /* 1: S3 answered 404 for this */
                                      /*   path's index page */
} s3p_request_t;


/* How a proxied answer reaches the client. */
typedef enum {
    S3P_RENDER_NONE = 0,              /* S3's answer, unchanged */
    S3P_RENDER_LISTING = 1,           /* a folder listing's first page */
    S3P_RENDER_LISTING_MORE = 2,      /* a later page of it */
    S3P_RENDER_S3_ERROR = 3           /* a refusal to an S3 client: */
                                      /*   `url` holds S3's XML error */
} s3p_render_t;


/* What to do with a request. */
typedef enum {
    S3P_ACTION_REFUSE = 0,            /* answer `status`, contact nothing */
    S3P_ACTION_REDIRECT = 1,          /* 307 to `location` */
    S3P_ACTION_PROXY = 2              /* proxy_pass to `url`, signed */
} s3p_action_t;


/*
 * The answer for one request: slices of the caller's output buffer.
 * For a redirect, `url` is the presigned Location.  For a proxied request,
 * `url` is what proxy_pass fetches (scheme://host/path?query, exactly as
 * signed), and `authorization` and `amz_date` are its signed headers.
 * For a folder's index page, `fallback` is where nginx comes back if S3
 * answers 404 (the folder path with the fallback marker as its query).
 * A refusal to a client the location streams to (an S3 client) has
 * render S3P_RENDER_S3_ERROR and, in `url`, the body to answer with: an
 * S3 XML error, which S3 clients parse.
 */
typedef struct {
    s3p_action_t     action;
    int32_t          status;          /* HTTP status when refused */
    s3p_str_t        bucket;
    s3p_str_t        key;             /* decoded object key */
    s3p_str_t        url;
    s3p_str_t        authorization;
    s3p_str_t        amz_date;
    s3p_str_t        fallback;
    s3p_render_t     render;
} s3p_result_t;


/* The query of the fallback pass: the URI nginx comes back to carries it. */
#define S3P_FALLBACK_MARKER  "s3-proxy-fallback"

/*
 * x-amz-content-sha256 of every proxied request: the SHA-256 of the empty
 * payload of a GET or HEAD (signed by Swift, sent by the snippet).
 */
#define S3P_EMPTY_PAYLOAD_SHA256                                              \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


/* Status codes of the functions below. */
#define S3P_OK           0
#define S3P_E_CONFIG    -1            /* a configuration value is invalid */
#define S3P_E_SPACE     -2            /* the output buffer is too small */
#define S3P_E_CRYPTO    -3            /* libcrypto failed */


/*
 * The size of output buffer that s3p_handle() needs for `req`: it never
 * answers S3P_E_SPACE with a buffer this large.
 */
size_t s3p_output_bound(const s3p_config_t *conf, const s3p_request_t *req);

/*
 * Decides what `req` gets and, when it is redirected or proxied, signs it.
 * Writes into `out` (capacity `cap`); the slices of `result` point into it.
 * Refusals are not errors: they return S3P_OK with action REFUSE.  Never
 * allocates, and never writes to `conf`.
 */
int s3p_handle(const s3p_config_t *conf, const s3p_request_t *req,
    uint8_t *out, size_t cap, s3p_result_t *result);

/*
 * The room s3p_signing_resolve() needs for `signing`'s raw values.
 */
size_t s3p_signing_bound(const s3p_signing_t *signing);

/*
 * Resolves raw signing settings, once, at configuration time: applies the
 * defaults (region "us-east-1", host "s3.<region>.amazonaws.com", external
 * host the host, scheme "https", expires 300 s), checks every value, and
 * writes the normalised values (hosts lowercase and without the scheme's
 * default port, as clients write a Host header) and the prepared parts of
 * every signed answer into `out` (capacity at least s3p_signing_bound()),
 * pointing the fields at them and giving `signing` a new generation.  On
 * a bad value writes a message naming the setting into `err` (capacity
 * `err_cap`, NUL-terminated) and returns S3P_E_CONFIG.
 */
int s3p_signing_resolve(s3p_signing_t *signing, uint8_t *out, size_t cap,
    uint8_t *err, size_t err_cap);

/*
 * Checks a location's configuration once, at `nginx -t` time: its
 * allowlists and index page name.  On failure writes a message naming the
 * setting into `err` (capacity `cap`, NUL-terminated) and returns
 * S3P_E_CONFIG.
 */
int s3p_config_check(const s3p_config_t *conf, uint8_t *err, size_t cap);

/*
 * Checks one name of an allowlist directive where the directive stands:
 * S3P_OK for a valid bucket name (s3_proxy_buckets) or query parameter
 * name (s3_proxy_allow_params); otherwise S3P_E_CONFIG, with why in `err`
 * (capacity `cap`, NUL-terminated).
 */
int s3p_check_bucket_name(const s3p_str_t *name, uint8_t *err, size_t cap);
int s3p_check_parameter_name(const s3p_str_t *name, uint8_t *err,
    size_t cap);

/*
 * Checks the value of one location directive where it stands: the
 * presigned URL lifetime in seconds (s3_proxy_expires) and the page a
 * folder serves (s3_proxy_index).  S3P_OK, or S3P_E_CONFIG with why in
 * `err` (capacity `cap`, NUL-terminated), to follow the directive's name.
 */
int s3p_check_expires(int64_t seconds, uint8_t *err, size_t cap);
int s3p_check_index_name(const s3p_str_t *name, uint8_t *err, size_t cap);

/*
 * The largest ListObjectsV2 answer rendered: one S3 page (at most 1,000
 * keys or folders of at most 1,024 bytes each, XML-escaped) fits.
 */
#define S3P_LISTING_XML_MAX  8388608   /* 8 MiB */

/*
 * Renders a ListObjectsV2 answer (`xml`, one page, at most
 * S3P_LISTING_XML_MAX bytes) as the HTML listing of the folder named by
 * `result` (its bucket and key): at most S3P_LISTING_ROWS rows, whatever
 * the XML holds.  Writes the page into `out` and its length into
 * `out_len`, and the status to answer with into `status`: 200, or 404 when
 * the first page of a folder holds nothing (a prefix without objects is not
 * a folder; nothing is written then).  With `out` NULL or `cap` smaller
 * than the page, writes nothing, sets `out_len` to the page's exact size
 * and returns S3P_E_SPACE: the caller allocates that and calls again.
 */
#define S3P_LISTING_ROWS  1000

int s3p_render_listing(const s3p_result_t *result, const uint8_t *xml,
    size_t xml_len, uint8_t *out, size_t cap, size_t *out_len,
    int32_t *status);

/* The Content-Security-Policy of rendered listings, NUL-terminated. */
const char *s3p_listing_csp(void);

#endif /* S3_PROXY_CORE_H */
