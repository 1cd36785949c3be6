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
#include <sys/socket.h>
#include <netinet/in.h>


/* A byte string; the same layout as nginx's ngx_str_t. */
typedef struct {
    size_t           len;
    const uint8_t   *data;
} s3p_str_t;


/*
 * Memory for what the core learns the size of only by computing it (an
 * answer, a setting's list): C's allocator (`data` is its own, such as a
 * request's pool), asked once for exactly `size` bytes, aligned for any
 * of the header's types; NULL when it has none.
 */
typedef uint8_t *(*s3p_alloc_t)(void *data, size_t size);


/*
 * What the master's environment held when nginx read its configuration:
 * the defaults of the location directives and what the credential chain
 * reads (empty: unset).  Which variable fills which field is the core's:
 * the first S3P_ENV_VARIABLES fields are the variables, in the order of
 * s3p_environment_name(); s3p_environment_read() fills them once, and C
 * wipes the copies with the configuration.
 */
typedef struct {
    s3p_str_t        access_key_id;         /* AWS_ACCESS_KEY_ID */
    s3p_str_t        secret_access_key;     /* AWS_SECRET_ACCESS_KEY */
    s3p_str_t        session_token;         /* AWS_SESSION_TOKEN */
    s3p_str_t        profile;               /* AWS_PROFILE */
    s3p_str_t        region;                /* AWS_REGION */
    s3p_str_t        default_region;        /* AWS_DEFAULT_REGION */
    s3p_str_t        host;                  /* AWS_ENDPOINT_HOST */
    s3p_str_t        scheme;                /* AWS_ENDPOINT_SCHEME */
    s3p_str_t        external_host;         /* AWS_ENDPOINT_HOST_EXTERNAL */
    s3p_str_t        external_scheme;       /* AWS_ENDPOINT_SCHEME_EXTERNAL */
    s3p_str_t        buckets;               /* S3_PROXY_BUCKETS */
    s3p_str_t        home;                  /* HOME */
    s3p_str_t        credentials_file_name; /* AWS_SHARED_CREDENTIALS_FILE */
    s3p_str_t        config_file_name;      /* AWS_CONFIG_FILE */
    s3p_str_t        web_identity_token_file;  /* AWS_WEB_IDENTITY_... */
    s3p_str_t        role_arn;              /* AWS_ROLE_ARN */
    s3p_str_t        role_session_name;     /* AWS_ROLE_SESSION_NAME */
    s3p_str_t        sts_endpoint;          /* AWS_ENDPOINT_URL_STS */
    s3p_str_t        container_relative_uri;   /* AWS_CONTAINER_... */
    s3p_str_t        container_full_uri;
    s3p_str_t        container_token;       /* ..._AUTHORIZATION_TOKEN */
    s3p_str_t        container_token_file;  /* ..._AUTHORIZATION_TOKEN_FILE */
    s3p_str_t        imds_disabled;         /* AWS_EC2_METADATA_DISABLED */
    s3p_str_t        imds_v1_disabled;      /* ..._V1_DISABLED */
    s3p_str_t        imds_endpoint;         /* ..._SERVICE_ENDPOINT */
    s3p_str_t        ca_bundle;             /* AWS_CA_BUNDLE */

    /*
     * the shared credentials and config files: where (written by
     * s3p_environment_paths(), NUL-terminated) and, as C read them, what
     * they hold (empty: missing or unreadable)
     */
    s3p_str_t        credentials_path;
    s3p_str_t        config_path;
    s3p_str_t        credentials_file;
    s3p_str_t        config_file;
} s3p_environment_t;

#define S3P_ENV_VARIABLES  26

/* The name of the i-th variable, NUL-terminated; NULL from the last on. */
const char *s3p_environment_name(size_t i);

/*
 * Where the shared credentials and config files are (the variables, else
 * below HOME): writes their paths into `out` (capacity `cap`), each
 * NUL-terminated, and `env`'s credentials_path and config_path (empty:
 * none).  S3P_OK, or S3P_E_SPACE.
 */
int s3p_environment_paths(s3p_environment_t *env, uint8_t *out, size_t cap);

/*
 * Reads the environment once: each variable of the core's through `get`
 * (getenv(); unset and empty are the same) into its field, copied into
 * memory from `alloc(data, ...)`, which C wipes with the configuration;
 * then the shared files' paths, as s3p_environment_paths() writes them.
 * S3P_OK, or S3P_E_SPACE when `alloc` answers NULL.
 */
int s3p_environment_read(s3p_environment_t *env,
    char *(*get)(const char *name), s3p_alloc_t alloc, void *data);


/* Where a location's credentials come from (s3_proxy_credentials). */
typedef enum {
    S3P_CREDENTIALS_UNSET = -1,       /* not configured: inherited, else */
                                      /*   auto */
    S3P_CREDENTIALS_AUTO = 0,         /* the first source of the chain */
                                      /*   that is configured */
                                      /*   (s3p_provider_configure()) */
    S3P_CREDENTIALS_ENV = 1,          /* AWS_ACCESS_KEY_ID and friends */
    S3P_CREDENTIALS_PROFILE = 2,      /* a profile of the shared files */
    S3P_CREDENTIALS_WEB_IDENTITY = 3, /* STS AssumeRoleWithWebIdentity */
    S3P_CREDENTIALS_CONTAINER = 4,    /* ECS, EKS Pod Identity */
    S3P_CREDENTIALS_IMDS = 5          /* the EC2 instance metadata service */
} s3p_credentials_source_t;


/*
 * s3_proxy_credentials SOURCE role=ARN [external_id=ID] [session_name=NAME]
 * [duration=TIME]: the parameters' places in s3p_settings_t's `role`.
 */
#define S3P_ROLE_ARN           0
#define S3P_ROLE_EXTERNAL_ID   1
#define S3P_ROLE_SESSION_NAME  2
#define S3P_ROLE_DURATION      3
#define S3P_ROLE_PARAMS        4


/* How requests name the bucket to S3 (s3_proxy_addressing). */
typedef enum {
    S3P_ADDRESSING_UNSET = -1,        /* not configured: inherited, else */
                                      /*   path */
    S3P_ADDRESSING_PATH = 0,          /* https://host/bucket/key */
    S3P_ADDRESSING_VIRTUAL = 1        /* https://bucket.host/key */
} s3p_addressing_t;


/*
 * A location's raw settings: its directives' values as written (NULL,
 * empty, S3P_UNSET or *_UNSET: not configured; s3p_settings_init()) and
 * the environment.  The signing ones, from `endpoint` to `window`, are
 * what s3p_signing_resolve() turns into an s3p_signing_t; the others
 * s3p_config_settings() turns into the location's s3p_config_t.  List
 * values are slices of the directives' arguments.
 */
typedef struct {
    s3p_str_t        endpoint;              /* s3_proxy_endpoint */
    s3p_str_t        external_endpoint;     /* s3_proxy_external_endpoint */
    s3p_str_t        region;                /* s3_proxy_region */
    s3p_credentials_source_t  credentials;  /* s3_proxy_credentials */
    s3p_str_t        profile;               /*   its profile=NAME */
    s3p_str_t        role[S3P_ROLE_PARAMS]; /*   role=, external_id=, */
                                            /*   session_name=, duration= */
                                            /*   values (S3P_ROLE_*) */
    s3p_addressing_t addressing;            /* s3_proxy_addressing */
    int64_t          expires;               /* s3_proxy_expires, seconds */
    int64_t          window;                /* s3_proxy_presign_window, */
                                            /*   seconds; 0, S3P_UNSET: off */
    const s3p_environment_t  *env;

    const s3p_str_t *buckets;               /* s3_proxy_buckets */
    size_t           nbuckets;
    const s3p_str_t *params;                /* s3_proxy_allow_params */
    size_t           nparams;
    const s3p_str_t *ignore_params;         /* s3_proxy_ignore_params */
    size_t           nignore_params;
    int32_t          stream;                /* s3_proxy_stream_agents: */
    uint32_t         stream_match;          /*   an s3p_stream_t and, with */
    const s3p_str_t *stream_agents;         /*   S3P_STREAM_LIST, as in */
    size_t           nstream_agents;        /*   s3p_config_t */
    int32_t          listing;               /* s3_proxy_listing: 0, 1 */
    s3p_str_t        index;                 /* s3_proxy_index */
    uint32_t         pass_headers;          /* s3_proxy_pass_headers: */
                                            /*   S3P_PASS_* bits and the */
                                            /*   core's own; 0: not */
                                            /*   configured */
    int32_t          website;               /* s3_proxy_website: 0, 1 */
    int32_t          types;                 /* s3_proxy_types: 0, 1 */
    const s3p_str_t *proxy_types;           /* s3_proxy_proxy_types */
    size_t           nproxy_types;
    s3p_str_t        download;              /* s3_proxy_download_param */
    s3p_str_t        error_document;        /* s3_proxy_error_document: */
    int32_t          error_status;          /*   its key and status (0: */
                                            /*   S3's) */
    s3p_str_t        bucket;                /* s3_proxy_bucket, */
    s3p_str_t        prefix;                /* s3_proxy_prefix: constant */
    uint32_t         per_request;           /*   values; with variables, */
                                            /*   S3P_PER_REQUEST_* bits */
} s3p_settings_t;

#define S3P_UNSET  (-1)

/* Raw settings with nothing configured: a location's before its block. */
void s3p_settings_init(s3p_settings_t *settings);

/*
 * Reads one location directive where it stands, so that nginx -t points
 * at its line: `args` (`n` of them) are its name and values as nginx read
 * them, which `settings` keeps slices of; a list's slices go into memory
 * from `alloc(data, ...)`.  What nginx's slots said before, it says:
 * "is duplicate" for a second one at the same level (s3_proxy_pass_headers
 * adds to the first), "invalid value" for a time nginx does not read
 * ("1h 30m"), the messages of flags and bitmasks.  s3_proxy_bucket and
 * s3_proxy_prefix, which C also compiles: a value with variables (a "$")
 * sets its S3P_PER_REQUEST_* bit, a constant one is checked and kept.
 *
 * S3P_OK, with S3P_DIRECTIVE_* bits in `what`; S3P_E_CONFIG with the whole
 * message nginx -t shows in `err` (capacity `cap`, NUL-terminated);
 * S3P_E_SPACE when `alloc` answers NULL.
 */
#define S3P_DIRECTIVE_WHERE  1        /* it decides which hosts requests */
                                      /*   go to: declare them */
#define S3P_DIRECTIVE_WARN   2        /* `err` is a warning, to log at */
                                      /*   warn level (a bitmask's value */
                                      /*   given twice, as nginx says) */

int s3p_settings_directive(s3p_settings_t *settings, const s3p_str_t *args,
    size_t n, s3p_alloc_t alloc, void *data, uint32_t *what, uint8_t *err,
    size_t cap);

/*
 * A location's raw settings inherited as nginx inherits a directive's
 * value: each one `conf` has not configured is `prev`'s (the profile name
 * and role go with s3_proxy_credentials, the key with its status, a
 * per-request bit with its value).  `env`
 * is left as it is.
 */
void s3p_settings_merge(s3p_settings_t *conf, const s3p_settings_t *prev);

/*
 * Whether two locations' raw signing settings are the same (1), so that
 * they share one resolved s3p_signing_t, or not (0).  Their `env` and
 * other settings are not compared.
 */
int s3p_settings_same(const s3p_settings_t *a, const s3p_settings_t *b);


/*
 * The settings a signature depends on, resolved once, at configuration
 * time, by s3p_signing_resolve(): every default applied, every value
 * checked and in normal form (hosts lowercase and without their scheme's
 * default port, as clients write a Host header), and the parts of every
 * signed answer that depend on them alone prepared.  Resolved settings
 * are read-only: changed settings are a new s3p_signing_t, with a new
 * `generation`.
 */
typedef struct {
    s3p_str_t        access_key;
    s3p_str_t        secret_key;
    s3p_str_t        session_token;   /* empty: none */
    s3p_str_t        region;
    s3p_str_t        scheme;          /* proxied requests: "http", "https" */
    s3p_str_t        host;            /*   and "host[:port]" */
    s3p_str_t        external_scheme; /* redirects */
    s3p_str_t        external_host;
    s3p_addressing_t addressing;
    int64_t          expires;         /* presigned URL lifetime, seconds */
    int64_t          window;          /* presigned URLs' signing times are */
                                      /*   multiples of it; 0: off */

    s3p_str_t        cache_identity;  /* "<region> <source>:<hash>": */
                                      /*   whose credentials sign, for */
                                      /*   cache keys (never a secret; */
                                      /*   the same when keys rotate) */

    s3p_str_t        prepared;        /* the Swift core's layout */
    uint64_t         generation;      /* unique in the process */
} s3p_signing_t;


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
 * The MIME type nginx's "types" give a file name extension (`ext`, `len`
 * bytes, lowercased; none, `len` 0, when the key has none or one longer
 * than S3P_TYPE_EXT_MAX bytes), its "default_type" when none matches;
 * `data` is the location's s3p_config_t `type_data`.  The core uses a
 * type of at most S3P_TYPE_MAX bytes, and none longer.
 */
typedef s3p_str_t (*s3p_type_t)(const void *data, const uint8_t *ext,
    size_t len);

#define S3P_TYPE_MAX      128
#define S3P_TYPE_EXT_MAX  64


/*
 * What one location answers, resolved at configuration time and never
 * written afterwards.  What each worker learns while it runs (the day's
 * signing key, HMAC states, the timestamp) is kept per thread by the core,
 * keyed by the signing settings' generation.
 */
typedef struct {
    const s3p_signing_t *signing;     /* resolved */

    s3p_str_t        mount;           /* a prefix location's prefix, not */
                                      /*   part of the S3 path; empty: the */
                                      /*   whole path is (regex, exact) */
    s3p_str_t        bucket;          /* the location's one bucket: the */
                                      /*   path is its key; empty: the */
                                      /*   path's first segment names it */

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
    int32_t          upstreams;       /* 1: each host it contacts has its */
                                      /*   upstream{} (s3p_upstreams()), */
                                      /*   which proxied URLs then name */
    int32_t          resolver;        /* 1: it has a "resolver"; without */
                                      /*   one, or an upstream{}, a host */
                                      /*   it reaches by name fails the */
                                      /*   check (s3p_config_check()) */

    /* websites (issue 23): what browsers get; S3 clients get S3's answers */
    int32_t          website;         /* 1: s3_proxy_website on */
    int32_t          types;           /* 1: s3_proxy_types on */
    const s3p_str_t *proxy_types;     /* s3_proxy_proxy_types; none: */
    size_t           nproxy_types;    /*   "text/html" with website on */
    s3p_str_t        download;        /* s3_proxy_download_param as */
                                      /*   written ("off"); empty: the */
                                      /*   default, "download" */
    s3p_str_t        error_document;  /* s3_proxy_error_document's key; */
    int32_t          error_status;    /*   its status (0: S3's) */
    s3p_type_t       type;            /* nginx's "types" of the location */
    const void      *type_data;       /*   (s3p_type_t) */

    s3p_str_t        prefix;          /* s3_proxy_prefix: what every key */
                                      /*   of the location begins with; */
                                      /*   empty: none, or per request */
    uint32_t         per_request;     /* S3P_PER_REQUEST_* flags: the */
                                      /*   value comes with each request */
} s3p_config_t;

/*
 * Settings with nginx variables, evaluated by C for each request and
 * checked by the core then (s3p_request_t `bucket` and `prefix`): an
 * empty or invalid value is refused with 403.  A bucket from variables is
 * always addressed path-style, so that requests go to the endpoint's host
 * whatever its value.
 */
#define S3P_PER_REQUEST_BUCKET  1     /* s3_proxy_bucket */
#define S3P_PER_REQUEST_PREFIX  2     /* s3_proxy_prefix */


/* One client request, as nginx received it. */
typedef struct {
    s3p_str_t        method;          /* "GET", "HEAD", ... */
    s3p_str_t        path;            /* raw path, before any '?' */
    s3p_str_t        query;           /* raw query, without the '?' */
    s3p_str_t        user_agent;      /* empty: none sent */
    s3p_str_t        authorization;   /* the client's own signature */
    s3p_str_t        amz_date;        /*   headers, only to recognise S3 */
    s3p_str_t        amz_content_sha256; /* clients; empty: none sent */
    s3p_str_t        checksum_mode;   /* x-amz-checksum-mode, sent on for */
                                      /*   an S3 client's object as */
                                      /*   "ENABLED"; empty: none sent */
    int64_t          now;             /* Unix time, seconds */
    int32_t          fallback;        /* n: S3 answered `status` to the */
                                      /*   n-th request for this path (a */
                                      /*   result's `fallback`, asked */
                                      /*   again); 0: the first request */
    int32_t          status;
    s3p_str_t        bucket;          /* S3P_PER_REQUEST_BUCKET, */
    s3p_str_t        prefix;          /*   _PREFIX: the values evaluated */
    s3p_str_t        target;          /* the raw target, "path?query", */
                                      /*   which the core splits at its */
                                      /*   first '?'; empty: `path` and */
                                      /*   `query` are given */
    int32_t          decoded;         /* 1: that `path` is nginx's decoded */
                                      /*   URI, escaped back by the core */
                                      /*   as ngx_escape_uri() does with */
                                      /*   NGX_ESCAPE_URI */
} s3p_request_t;


/*
 * One header of the request, offered to the core (nginx's list, in order;
 * `name` in any case): it keeps in `req` the User-Agent (the first one
 * sent), the Authorization, and x-amz-date, x-amz-content-sha256 and
 * x-amz-checksum-mode (the last of each); other headers change nothing.
 */
void s3p_request_header(s3p_request_t *req, const s3p_str_t *name,
    const s3p_str_t *value);


/* How a proxied answer reaches the client. */
typedef enum {
    S3P_RENDER_NONE = 0,              /* S3's answer, unchanged */
    S3P_RENDER_LISTING = 1,           /* a folder listing's first page */
    S3P_RENDER_LISTING_MORE = 2,      /* a later page of it */
    S3P_RENDER_S3_ERROR = 3,          /* a refusal to an S3 client: */
                                      /*   `url` holds S3's XML error */
    S3P_RENDER_LISTING_XML = 4,       /* S3's ListObjects XML, its keys */
                                      /*   made relative to `prefix` */
    S3P_RENDER_DOCUMENT = 5,          /* an error document: S3's 200 is */
                                      /*   answered with `status`; the */
                                      /*   whole object, asked without */
                                      /*   the client's range and */
                                      /*   conditional headers */
    S3P_RENDER_FOLDER = 6             /* a folder's index page exists: */
                                      /*   S3's 200 is answered 302 with */
                                      /*   `header` (Location), no body */
} s3p_render_t;

/* Which of S3's answers send a request to its `fallback` (bits). */
#define S3P_FALLBACK_404      0x0001
#define S3P_FALLBACK_403      0x0002
#define S3P_FALLBACK_ERROR_PAGE  0x0004   /* also after the location's */
                                          /*   own error_page answered */


/* What to do with a request. */
typedef enum {
    S3P_ACTION_REFUSE = 0,            /* answer `status`, contact nothing */
    S3P_ACTION_REDIRECT = 1,          /* 307 to `location` */
    S3P_ACTION_PROXY = 2              /* proxy_pass to `url`, signed */
} s3p_action_t;


/*
 * Which way a request went, for the status counters (s3_proxy_status):
 * what the core decided, and UNAVAILABLE, C's 503 when a location's
 * credentials are missing.
 */
typedef enum {
    S3P_ROUTE_REDIRECT = 0,           /* 307 to a presigned URL */
    S3P_ROUTE_INDEX_PAGE = 1,         /* a folder's index page, proxied */
    S3P_ROUTE_XML_LISTING = 2,        /* ListObjects for an S3 client */
    S3P_ROUTE_BUILTIN_LISTING = 3,    /* a folder's listing, rendered */
    S3P_ROUTE_STREAM = 4,             /* an object streamed to a client */
    S3P_ROUTE_REFUSED = 5,            /* refused, by `status` */
    S3P_ROUTE_UNAVAILABLE = 6,        /* 503: no valid credentials */
    S3P_ROUTES = 7
} s3p_route_t;


/*
 * The answer for one request: slices of the caller's output buffer.
 * For a redirect, `url` is the presigned Location.  For a proxied request,
 * `url` is what proxy_pass fetches (scheme://host/path?query, exactly as
 * signed), `authorization` and `amz_date` its signed headers, and `host`
 * its Host header.  A proxied HEAD is signed as a GET too, at the same
 * instant, into `get_authorization`: with proxy_cache, nginx fetches the
 * HEAD of a cache miss as a GET (proxy_cache_convert_head, on by
 * default), deciding so after the request phase.
 * `checksum_mode` is the x-amz-checksum-mode header a proxied request
 * sends S3, signed ("ENABLED"; empty: none): an S3 client's GetObject and
 * HeadObject that sent it.  `cache_key` is what a cached answer belongs
 * to, for $s3_proxy_cache_key after the method: `url`, " x-amz-checksum-
 * mode:ENABLED" when that header is sent, then " <region> <source>:<hash>
 * <variant>": the hash names the credentials' identity (their source and
 * its profile, role or endpoint; never a secret), the variant what the
 * client gets made of S3's answer ("s3": an S3 client's, as sent; "page":
 * a browser's, as sent; "fallback": a page whose 404 or 403 the next step
 * replaces, a folder's listing or an error document; "listing": a built-in
 * listing; "error-document": a website's error document; "folder-check":
 * a website folder's check).
 * When S3's answer is one `fallback_on` names (a folder's index page
 * with built-in listings, a page of a website), `fallback` is the path
 * (and query) to ask again, with the request's `fallback` one more and
 * `status` S3's: the folder's listing, the folder redirect's check, the
 * error document.
 * A refusal to a client the location streams to (an S3 client) has
 * render S3P_RENDER_S3_ERROR and, in `url`, the body to answer with: an
 * S3 XML error, which S3 clients parse.
 */
typedef struct {
    s3p_action_t     action;
    int32_t          status;          /* HTTP status when refused: 400, */
                                      /*   403, 404, 405 or 501 */
    s3p_str_t        bucket;
    s3p_str_t        key;             /* decoded object key */
    s3p_str_t        url;
    s3p_str_t        authorization;
    s3p_str_t        amz_date;
    s3p_str_t        host;            /* the Host S3 gets (proxy) */
    s3p_str_t        get_authorization; /* a proxied HEAD's signature */
                                      /*   as a GET, which proxy_cache */
                                      /*   sends S3 for a HEAD's miss */
    s3p_str_t        checksum_mode;   /* the x-amz-checksum-mode sent */
    s3p_str_t        cache_key;       /* $s3_proxy_cache_key, after */
                                      /*   its method */
    s3p_str_t        fallback;
    uint32_t         fallback_on;     /* S3P_FALLBACK_* */
    s3p_str_t        content_type;    /* a proxied answer's Content-Type */
                                      /*   (s3_proxy_types); empty: S3's */
    s3p_str_t        disposition;     /* a proxied answer's */
                                      /*   Content-Disposition; empty: */
                                      /*   S3's */
    s3p_str_t        download;        /* a listing's download parameter: */
                                      /*   links beside files; empty: none */
    s3p_str_t        base;            /* a listing's links: the client's */
                                      /*   path of the bucket, with `/` */
    s3p_str_t        prefix;          /* the key prefix (s3_proxy_prefix) */
                                      /*   `key` begins with; empty: none */
    s3p_render_t     render;
    int64_t          max_age;         /* a redirect's Cache-Control */
                                      /*   max-age (presign window); */
                                      /*   -1: none */
    const char      *header;          /* a header the answer carries, */
    s3p_str_t        header_value;    /*   NUL-terminated (NULL: none): */
                                      /*   Allow with a 405, */
                                      /*   Cache-Control with max_age */
    s3p_route_t      route;           /* for the status counters */
    int32_t          allowed;         /*   and the bucket's place in */
                                      /*   `buckets`; -1: not there */
    int32_t          cached;          /* 1: a redirect whose signature */
                                      /*   came from the hot-key cache */
} s3p_result_t;


/*
 * Whether `req` (its `path` nginx's decoded URI, before nginx looks its
 * location up, read as it is: its `target` and `decoded` are not) is an
 * S3 client's request at the root of `conf`'s one bucket, addressed
 * path-style as the mount without its final `/`: `GET
 * /eu?list-type=2...` (ListObjectsV2, V1) or `HEAD /eu` (HeadBucket) for
 * `location /eu/` with s3_proxy_bucket.  1: it is answered as the
 * mount's root (`/eu/`), whose routing checks it like any request; 0:
 * nginx's own 301 to `/eu/` stands (browsers, other methods, locations
 * without their own bucket).
 */
int s3p_bucket_root(const s3p_config_t *conf, const s3p_request_t *req);


/*
 * x-amz-content-sha256 of every proxied request: the SHA-256 of the empty
 * payload of a GET or HEAD (signed by Swift, sent by the snippet).
 */
#define S3P_EMPTY_PAYLOAD_SHA256                                              \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


/*
 * The room C gives a message of the core's (the `err` of the functions
 * below): a longer one is cut to fit, NUL included.
 */
#define S3P_MESSAGE_MAX  256


/* Status codes of the functions below. */
#define S3P_OK           0
#define S3P_E_CONFIG    -1            /* a configuration value is invalid */
#define S3P_E_SPACE     -2            /* the output buffer is too small */
#define S3P_E_CRYPTO    -3            /* libcrypto failed */


/*
 * The size of output buffer that s3p_handle() needs for `req` (a decoded
 * path escaped back included): it never answers S3P_E_SPACE with a
 * buffer this large.
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
 * The room s3p_signing_resolve() needs for `settings`, from the lengths of
 * its raw values alone: nothing is parsed or resolved, so that a resolve
 * reads the settings once.  It is at most about seven times the length of
 * the raw values, the environment's and the shared files' together.
 */
size_t s3p_signing_bound(const s3p_settings_t *settings);

/*
 * Resolves a location's raw settings, once, at configuration time, into
 * `signing`, whose values and prepared parts it writes into `out`
 * (capacity at least s3p_signing_bound()); `signing` gets a new
 * generation.  Each value comes from the first of:
 *
 *   credentials      by s3_proxy_credentials: env: AWS_ACCESS_KEY_ID,
 *                    AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN;
 *                    profile=NAME: that profile of the shared credentials
 *                    file, else of the config file; auto: env when
 *                    AWS_ACCESS_KEY_ID is set, else the profile AWS_PROFILE
 *                    or "default"
 *   region           s3_proxy_region, AWS_REGION, AWS_DEFAULT_REGION, the
 *                    profile's region in the config file, "us-east-1"
 *   host, scheme     s3_proxy_endpoint (a scheme it leaves out:
 *                    AWS_ENDPOINT_SCHEME, then "https");
 *                    else AWS_ENDPOINT_HOST and AWS_ENDPOINT_SCHEME, then
 *                    "s3.<region>.amazonaws.com" and "https"
 *   external         s3_proxy_external_endpoint (a scheme it leaves out:
 *                    AWS_ENDPOINT_SCHEME_EXTERNAL, then the endpoint's);
 *                    else, with s3_proxy_endpoint, the endpoint; else
 *                    AWS_ENDPOINT_HOST_EXTERNAL and
 *                    AWS_ENDPOINT_SCHEME_EXTERNAL, each defaulting to the
 *                    endpoint's
 *   expires          s3_proxy_expires, 300 s
 *   window           s3_proxy_presign_window, off; with a window W a
 *                    presigned URL is signed at the start of its window
 *                    (a multiple of W) for expires + W seconds, at most
 *                    7 days
 *
 * On a bad value writes a message naming the setting into `err` (capacity
 * `err_cap`, NUL-terminated) and returns S3P_E_CONFIG.
 */
int s3p_signing_resolve(const s3p_settings_t *settings,
    s3p_signing_t *signing, uint8_t *out, size_t cap, uint8_t *err,
    size_t err_cap);

/*
 * The upstreams a location's proxied requests go to, so that nginx keeps
 * connections to them: one per host the location contacts, from its raw
 * settings alone, no credentials needed.  That is the endpoint's host with
 * path-style addressing; with virtual-hosted addressing "<bucket>.<host>"
 * for its constant s3_proxy_bucket (`settings->bucket`), else for each of its
 * allowlist (s3_proxy_buckets, else S3_PROXY_BUCKETS; none without either:
 * those hosts are known only when requests name them).  For each:
 *
 *   name     the host that a proxied URL names in a location whose
 *            s3p_config_t `upstreams` is set: the host itself on its
 *            scheme's default port, "<host>_<port>" on another, since nginx
 *            matches an upstream{} block only to a URL without a port (the
 *            Host header and the signature keep "<host>:<port>"); an IPv6
 *            address with a port has none
 *   server   "host:port"
 *   block    the configuration that declares it, for nginx to read in the
 *            http block as the rest of a block, so followed by a "}":
 *
 *                upstream NAME {
 *                    server SERVER resolve;
 *                    zone s3_proxy:NAME 64k;
 *                    keepalive 32;
 *                }
 *                }
 *
 *            "resolve" and the zone (nginx 1.27.3: re-resolve the name at
 *            run time) only with `resolve` set and a host that is a name
 *
 * Leaves out the hosts named in `tried` (`ntried`: those C tried before).
 * The entries and their bytes go into memory from `alloc(data, size)`
 * (aligned for pointers), `out` and `count` hold them, and it returns
 * S3P_OK; S3P_E_CONFIG when the settings do not resolve
 * (s3p_signing_resolve() names why), S3P_E_SPACE when `alloc` answers NULL.
 */
typedef struct {
    s3p_str_t        name;
    s3p_str_t        server;
    s3p_str_t        block;
} s3p_upstream_t;

#define S3P_UPSTREAM_MAX  2048    /* the room one host takes, at most */

int s3p_upstreams(const s3p_settings_t *settings, int32_t resolve,
    const s3p_str_t *tried, size_t ntried, s3p_alloc_t alloc, void *data,
    s3p_upstream_t **out, size_t *count);

/*
 * Checks a location's configuration once, at `nginx -t` time: its mount,
 * its bucket and allowlists (a list that names no bucket is refused; with
 * virtual addressing, that each bucket named can be a DNS label of the
 * endpoints), its index page name, and
 * that a host it reaches by name, without an upstream{} for it, can be
 * resolved (`resolver`).  On failure writes a message naming the setting
 * into `err` (capacity `cap`, NUL-terminated) and returns S3P_E_CONFIG.
 */
int s3p_config_check(const s3p_config_t *conf, uint8_t *err, size_t cap);

/*
 * Fills a location's `conf` from its merged raw `settings` (env set): its
 * allowlists (S3_PROXY_BUCKETS's names, split at commas, spaces and tabs
 * into memory from `alloc(data, ...)`, where s3_proxy_buckets is not
 * configured), streaming, index page, listings and website settings, its
 * bucket, prefix and per_request, each default applied.  C sets the rest:
 * the signing, mount, upstreams, resolver, type and type_data.  S3P_OK, or
 * S3P_E_SPACE when `alloc` answers NULL.
 */
int s3p_config_settings(s3p_config_t *conf, const s3p_settings_t *settings,
    s3p_alloc_t alloc, void *data);

/*
 * A location as nginx merges it (`flags`, S3P_LOCATION_*; `name`, as
 * nginx has it): writes its mount into `mount`, which holds the mount of
 * the location it is in (a prefix location's prefix; empty for a regex,
 * exact or named one; an "if" or "limit_except" block's location's), and
 * checks that it has the shipped snippet (s3_proxy.conf, whose marker is
 * "s3_proxy_snippet") exactly where it has "s3_proxy on", with no content
 * handler but the snippet's proxy_pass (a block has its location's
 * snippet).  On failure writes the whole message, "s3_proxy" and the
 * location named, into `err` (capacity `cap`, NUL-terminated; C adds
 * where) and returns S3P_E_CONFIG.
 */
#define S3P_LOCATION_ON             1  /* "s3_proxy on" */
#define S3P_LOCATION_SNIPPET        2  /* the marker in it */
#define S3P_LOCATION_OUTER_SNIPPET  4  /* the marker in the location it */
                                       /*   is in */
#define S3P_LOCATION_HANDLER        8  /* a content handler */
#define S3P_LOCATION_IF            16  /* an "if" block */
#define S3P_LOCATION_LIMIT_EXCEPT  32  /* a "limit_except" block */
#define S3P_LOCATION_WHOLE_PATH    64  /* a regex, exact or named one */

int s3p_location(uint32_t flags, const s3p_str_t *name, s3p_str_t *mount,
    uint8_t *err, size_t cap);

/*
 * S3's limit on a key: 1,024 bytes of UTF-8.  A longer key is refused
 * (400) and never listed.
 */
#define S3P_KEY_MAX  1024

/*
 * The largest ListObjectsV2 answer rendered: one S3 page (at most 1,000
 * keys or folders of at most S3P_KEY_MAX bytes each, XML-escaped) fits.
 */
#define S3P_LISTING_XML_MAX  8388608   /* 8 MiB */

/*
 * Renders a ListObjectsV2 answer (`xml`, one page, at most
 * S3P_LISTING_XML_MAX bytes) as the HTML listing of the folder named by
 * `result` (its bucket and key): at most S3P_LISTING_ROWS rows, whatever
 * the XML holds.  The XML is read and the page rendered once: the page
 * goes into memory from `alloc(data, its size)` and `page` holds it.
 * `status` is the status to answer with: 200, or 404 when the first page
 * of a folder holds nothing (a prefix without objects is not a folder;
 * `page` is then nginx's 404 page).  S3P_E_SPACE when
 * `alloc` answers NULL or the XML is larger than S3P_LISTING_XML_MAX.
 * With `result` rendered S3P_RENDER_LISTING_XML, the page is S3's
 * ListObjects (V1 or V2) XML itself, every key and prefix in it made
 * relative to result->prefix; S3P_E_CONFIG when one lies outside it.
 */
#define S3P_LISTING_ROWS  1000

int s3p_render_listing(const s3p_result_t *result, const uint8_t *xml,
    size_t xml_len, s3p_alloc_t alloc, void *data, s3p_str_t *page,
    int32_t *status);

/*
 * S3's answers to proxied requests.
 *
 * Redirects and error answers (status 300 and above, but 304) are cleaned
 * before they reach the client, their status kept: s3p_s3_error() reads S3's
 * error document (at most S3P_ERROR_BODY_MAX bytes of it: C reads no more) and
 * writes a clean one with the same Code and a fixed Message, at most
 * S3P_ERROR_OUT_MAX bytes.  None of S3's debugging fields (AWSAccessKeyId,
 * StringToSign, CanonicalRequest, their -Bytes forms, RequestId, HostId,
 * Message, a redirect's Endpoint) survive.  `body` may be empty (a HEAD, or a
 * body-less answer): the code is then the status's generic one.
 */
#define S3P_ERROR_BODY_MAX  65536
#define S3P_ERROR_OUT_MAX   512

/* The longest Code of S3's kept: S3's own codes are letters and digits. */
#define S3P_ERROR_CODE_MAX  64

/* Who an S3 error is for, in nginx's error log. */
typedef enum {
    S3P_LOG_INFO = 0,                 /* the client's: a missing key, a */
                                      /*   failed precondition or range */
    S3P_LOG_ERROR = 1                 /* the operator's: credentials, */
                                      /*   permissions, throttling, S3 */
} s3p_log_t;

typedef struct {
    s3p_str_t        code;            /* S3's Code, checked, or generic */
    s3p_str_t        body;            /* the clean XML error document */
    s3p_log_t        log;
    uint32_t         counter;         /* the code's status counter, */
                                      /*   below S3P_S3_ERRORS; 0: others */
} s3p_s3_error_t;

int s3p_s3_error(int32_t status, const uint8_t *body, size_t len,
    uint8_t *out, size_t cap, s3p_s3_error_t *err);

/*
 * Whether a response header of S3's reaches the client of a proxied
 * request (1) or is hidden (0), by its name (any case).  Visible: every
 * header but Location (of S3's redirects) and S3's x-amz-* ones, and of
 * those what a redirected client would use: x-amz-meta-*, version id
 * and delete marker, checksums (x-amz-checksum-*, whatever `pass` holds
 * but S3P_ANSWER_RANGE), storage class, restore, expiration, website
 * redirect, object lock,
 * replication status, parts and tag counts, missing metadata, archive
 * status.  Request ids (x-amz-request-id, x-amz-id-2, x-amzn-requestid
 * of S3-compatible servers) and server-side
 * encryption (x-amz-server-side-encryption*) are visible only when `pass`
 * holds their flag (s3_proxy_pass_headers); everything else of S3's
 * (x-amz-*, x-amzn-*) stays hidden.
 */
#define S3P_PASS_REQUEST_ID  0x0002
#define S3P_PASS_SSE         0x0004

/*
 * Also in `pass`: the client asked for a Range.  A part of the object
 * carries no checksum (x-amz-checksum-*) of the whole: with proxy_cache,
 * nginx cuts the range from the whole object it cached with S3's
 * checksums, which the client would check the range against.
 */
#define S3P_ANSWER_RANGE     0x0010

/*
 * Also in `pass`: the answer's Content-Disposition is the core's (a
 * download's, s3p_result_t's `disposition`), so S3's is hidden.
 */
#define S3P_ANSWER_DISPOSITION  0x0020

int s3p_response_header_visible(const s3p_str_t *name, uint32_t pass);

/*
 * Whether an answer with `status` to a request answered with `result`
 * sends it on to its `fallback`, as its `fallback_on` says; with
 * `error_page` 1, the answer is the location's error_page's (after S3's
 * 404, nginx's internal redirect), which only some steps follow.
 */
int s3p_falls_back(const s3p_result_t *result, int32_t status,
    int32_t error_page);

/*
 * What the module makes of an answer to a proxied request, its status and
 * S3's headers known (s3p_answer_plan()).  In `flags`, with S3P_PASS_*
 * (s3_proxy_pass_headers) and S3P_ANSWER_RANGE:
 */
#define S3P_ANSWER_BODY        0x0040 /* a body is sent (not a HEAD) */
#define S3P_ANSWER_NGINX       0x0080 /* nginx's own status (an error */
                                      /*   page), not S3's */
#define S3P_ANSWER_DISCARDING  0x0200 /* its body is discarded already */

/* What becomes of the answer's body. */
typedef enum {
    S3P_BODY_AS_IS = 0,               /* sent as S3 sent it */
    S3P_BODY_CLEAN = 1,               /* S3's redirect or error: collected */
                                      /*   (S3P_ERROR_BODY_MAX bytes kept) */
                                      /*   and replaced by s3p_s3_error()'s */
                                      /*   document, the header held until */
                                      /*   then */
    S3P_BODY_LOG = 2,                 /* the same without a body (a HEAD): */
                                      /*   sent as it is, S3's status */
                                      /*   logged (s3p_s3_error(), empty) */
    S3P_BODY_RENDER = 3,              /* a listing: collected (at most */
                                      /*   S3P_LISTING_XML_MAX bytes) and */
                                      /*   replaced by s3p_render_listing()'s */
                                      /*   page, the header held until then */
    S3P_BODY_DISCARD = 4,             /* read, not sent (the answer's */
                                      /*   length 0): a folder redirect */
    S3P_BODY_NEXT_STEP = 5            /* the answer, header and body, is */
                                      /*   replaced by the next step's (the */
                                      /*   result's `fallback`) */
} s3p_body_t;

/* A header the answer gets: its name NUL-terminated. */
typedef struct {
    const char      *name;
    s3p_str_t        value;
} s3p_header_t;

#define S3P_ANSWER_HEADERS  3

typedef struct {
    uint32_t         pass;            /* S3's headers kept: those */
                                      /*   s3p_response_header_visible() */
                                      /*   shows with it */
    s3p_body_t       body;
    int32_t          replace;         /* 1: the body is not S3's: its */
                                      /*   length, Accept-Ranges, */
                                      /*   Last-Modified, ETag and */
                                      /*   Content-Encoding go */
    int32_t          type;            /* 1: Content-Type and charset are */
    s3p_str_t        content_type;    /*   these (empty: none) */
    s3p_str_t        charset;
    int32_t          status;          /* the status answered; 0: as it is */
    s3p_header_t     headers[S3P_ANSWER_HEADERS];  /* added, in order */
    size_t           nheaders;
} s3p_answer_t;

/*
 * Plans the answer with `status` to a request answered with `result`
 * (action PROXY): `s3_status` is S3's (0: none reached S3), `flags` as
 * above.  Never allocates: the slices point into `result` or the core's
 * constants.
 */
void s3p_answer_plan(const s3p_result_t *result, int32_t status,
    int32_t s3_status, uint32_t flags, s3p_answer_t *answer);

/*
 * What replaces the body of an answer whose plan collects it
 * (S3P_BODY_CLEAN, S3P_BODY_RENDER) or logs it (S3P_BODY_LOG, `len` 0):
 * S3's error document cleaned (s3p_s3_error()) or a listing rendered
 * (s3p_render_listing()), with what nginx's error log gets.
 */
typedef struct {
    s3p_str_t        page;            /* the body the client gets (none */
                                      /*   for S3P_BODY_LOG) */
    int32_t          status;          /* the status answered; 0: as it is */
    s3p_str_t        code;            /* S3's error Code, cleaned or */
    uint32_t         counter;         /*   logged, and its status counter */
                                      /*   (s3p_s3_error_t); empty: none */
    s3p_log_t        log;             /* the level of `message` */
    s3p_str_t        message;         /* for the error log; empty: none */
} s3p_replacement_t;

/*
 * Replaces the body (`how`, the plan's) of the answer with `status` to a
 * request answered with `result`: `body` holds the first `len` bytes of
 * S3's (at most S3P_ERROR_BODY_MAX or S3P_LISTING_XML_MAX), `truncated` 1
 * when more came.  The page and the message go into memory from
 * `alloc(data, ...)`.  S3P_OK, or S3P_E_SPACE (`alloc` answered NULL, the
 * listing is too large) or S3P_E_CONFIG (a key outside the prefix), each
 * with its message, at level S3P_LOG_ERROR.
 */
int s3p_answer_body(const s3p_result_t *result, s3p_body_t how,
    int32_t status, const uint8_t *body, size_t len, int32_t truncated,
    s3p_alloc_t alloc, void *data, s3p_replacement_t *out);

/*
 * Credentials that rotate (issue 13): which source a location signs with
 * (the credential chain) and each provider's exchanges, as a state
 * machine of the core's.  C keeps the shared zone, the timer, the
 * connection (TCP, TLS) and the files, and carries out what the core asks
 * for, one step at a time.  Secrets are copied only into `out`, never
 * into a message.
 */

/* What the shared zone holds of one set of credentials, at most. */
#define S3P_ACCESS_KEY_MAX        128
#define S3P_SECRET_KEY_MAX        256
#define S3P_SESSION_TOKEN_MAX     8192

/* A provider's exchange: one request, one answer, at most. */
#define S3P_PROVIDER_REQUEST_MAX  16384
#define S3P_PROVIDER_ANSWER_MAX   65536

/* The largest file read: a shared credentials or config file. */
#define S3P_FILE_MAX              1048576

/* A provider's id: the same in every configuration, so fixed-size. */
#define S3P_PROVIDER_ID_LEN       32

/* IMDS's session token and role name, at most; a provider's own text. */
#define S3P_PROVIDER_VALUE_MAX    1024
#define S3P_PROVIDER_TEXT_MAX     4096

/* Keys that never expire (a profile's): their expiration. */
#define S3P_NEVER                 0x7fffffffffffffff

/*
 * One provider, for the configuration's life: written by the core, read
 * by C where marked.  C allocates it and never copies it (its slices
 * point into `text`).
 */
/* A host a provider exchanges with; empty `host`: none. */
typedef struct {
    s3p_str_t        url;             /* for messages */
    s3p_str_t        host;            /* to connect to (NUL-terminated); */
    uint32_t         port;            /*   with tls, the SNI name the */
    int32_t          tls;             /*   certificate must hold */
} s3p_target_t;

/* A provider's targets, by their place in `targets`. */
#define S3P_TARGET_PROVIDER  0        /* IMDS, the container, web identity's */
                                      /*   STS */
#define S3P_TARGET_STS       1        /* STS for AssumeRole */
#define S3P_TARGET_S3        2        /* S3, to verify keys with */
#define S3P_TARGETS          3

typedef struct {
    /* C reads: */
    s3p_credentials_source_t  source;  /* PROFILE, WEB_IDENTITY, */
                                       /*   CONTAINER, IMDS; ENV: keys */
                                       /*   that never change, no provider */
                                       /*   unless `assume` */
    int32_t          assume;          /* 1: the source's keys assume a */
                                      /*   role (STS AssumeRole); the */
                                      /*   role's keys are the provider's */
    uint8_t          id[S3P_PROVIDER_ID_LEN];  /* finds its zone slot */
    s3p_str_t        name;            /* "imds", "profile=NAME": for logs */
    s3p_target_t     targets[S3P_TARGETS];
    s3p_str_t        ca_bundle;       /* with tls: the CAs trusted, */
                                      /*   NUL-terminated */
    int64_t          lead;            /* C: the longest presigned URL */
                                      /*   lifetime of its locations */
    s3p_str_t        reads[2];        /* files every refresh needs, */
                                      /*   NUL-terminated (empty: none): */
                                      /*   the workers must read them */
    size_t           slot;            /* its place in the zone's slots */
                                      /*   (s3p_slots_take()) */

    /* the core's own */
    s3p_settings_t   settings;        /* the source's: with `assume`, no */
                                      /*   role, the base profile */
    s3p_str_t        assume_role[3];  /* ARN, external id, session name */
    int64_t          assume_duration; /* seconds; 0: STS's default */
    s3p_str_t        sts_region;
    s3p_str_t        verify_bucket;   /* ListObjectsV2 max-keys=0 on it */
    s3p_str_t        verify_region;
    size_t           text_used;
    int32_t          step;
    int32_t          v1;
    size_t           token_len;
    size_t           role_len;
    uint8_t          token[S3P_PROVIDER_VALUE_MAX];
    uint8_t          role[S3P_PROVIDER_VALUE_MAX];
    uint8_t          text[S3P_PROVIDER_TEXT_MAX];
} s3p_provider_t;

/*
 * Decides where a location's credentials come from (its raw settings'
 * `credentials`; auto: the environment's keys, a profile with keys, then
 * web identity, the container endpoint, IMDS unless turned off) and
 * writes the provider.  S3P_OK, or S3P_E_CONFIG with why in `err`
 * (capacity `err_cap`, NUL-terminated).  C then resolves the location's
 * signing with `credentials` set to `provider->source`.
 */
int s3p_provider_configure(const s3p_settings_t *settings,
    s3p_provider_t *provider, uint8_t *err, size_t err_cap);

/*
 * Where the provider's keys are verified with S3 (a read-only signed
 * ListObjectsV2, max-keys=0): the endpoint and region of a location's
 * resolved `signing`, on the `bucket` of its `conf` or else the first of
 * its `buckets`; the first call that finds a bucket decides.  Writes the
 * provider's S3P_TARGET_S3 target and returns 1; without one, 0 and why
 * in `err` (NUL-terminated; for a debug log).
 */
int s3p_provider_verify_target(s3p_provider_t *provider,
    const s3p_signing_t *signing, const s3p_config_t *conf, uint8_t *err,
    size_t err_cap);

/*
 * Whether the provider may be reached at one of its addresses (`addr`, as
 * the resolver gave it; families other than IPv4 and IPv6 are not the
 * core's to judge): S3P_OK, or S3P_E_CONFIG with why in `err` (plain
 * http is for loopback and link-local hosts only, where the SDKs ask
 * that).
 */
int s3p_provider_address(const s3p_provider_t *provider,
    const struct sockaddr *addr, uint8_t *err, size_t err_cap);

/* Why a provider's endpoint, or a file it reads, cannot be used. */
typedef enum {
    S3P_ENDPOINT_UNRESOLVED = 0,      /* `target`'s host: `detail` says */
                                      /*   why (the resolver's words) */
    S3P_ENDPOINT_CA_BUNDLE = 1,       /* the CA bundle cannot be loaded */
    S3P_ENDPOINT_NO_TLS = 2,          /* an https host, nginx without SSL */
    S3P_ENDPOINT_UNREADABLE = 3       /* `reads[target]`: the worker */
                                      /*   processes' user `detail` */
                                      /*   cannot open it (a warning) */
} s3p_endpoint_problem_t;

/*
 * Writes the problem's message into `err` (NUL-terminated): S3P_OK when
 * the provider does without (an unresolved S3 target is dropped, the keys
 * not verified: a debug log; an unreadable file: a warning), else
 * S3P_E_CONFIG.
 */
int s3p_endpoint_problem(s3p_provider_t *provider,
    s3p_endpoint_problem_t problem, int32_t target, const char *detail,
    uint8_t *err, size_t err_cap);

/* What happened since the last step. */
typedef enum {
    S3P_EVENT_START = 0,              /* a refresh is due */
    S3P_EVENT_ANSWER = 1,             /* `data`: the whole answer, as */
                                      /*   received until the server */
                                      /*   closed the connection */
    S3P_EVENT_FAILED = 2,             /* the exchange failed: `data` says */
                                      /*   why (connect, TLS, time out) */
    S3P_EVENT_FILES = 3,              /* `files`: the files asked for */
    S3P_EVENT_VERIFY = 4              /* verify `keys`, the keys in use, */
                                      /*   with S3 (after they changed, */
                                      /*   and once per configuration) */
} s3p_event_t;

/* A file asked for, as read. */
typedef enum {
    S3P_FILE_READ = 0,                /* whole, in `files[i]` */
    S3P_FILE_MISSING = 1,
    S3P_FILE_UNREADABLE = 2           /* not a file, too large, an error */
} s3p_file_t;

/* What C does next. */
typedef enum {
    S3P_DO_EXCHANGE = 1,              /* connect to the provider, send */
                                      /*   `request`, read the answer */
                                      /*   until the server closes (at */
                                      /*   most S3P_PROVIDER_ANSWER_MAX */
                                      /*   bytes), each wait at most */
                                      /*   `timeout` ms */
    S3P_DO_READ = 2,                  /* read the files `paths` whole (at */
                                      /*   most `file_max` bytes each) */
    S3P_DO_STORE = 3,                 /* store the credentials; log */
                                      /*   `message` (notice) if they */
                                      /*   changed */
    S3P_DO_RETRY = 4,                 /* keep the credentials in use; */
                                      /*   log `message` (error) if any */
    S3P_DO_VERIFIED = 5               /* S3's verdict on the keys in use: */
                                      /*   log `message` (error if */
                                      /*   `refused`, else info) if any; */
                                      /*   nothing else changes */
} s3p_do_t;

typedef struct {
    /* in: the event, and what the zone holds */
    s3p_event_t      event;
    int64_t          now;             /* Unix time, seconds */
    int64_t          expiration;      /* of the credentials in use; 0: */
                                      /*   none */
    uint32_t         failures;        /* of the zone's current streak */
    s3p_str_t        data;
    s3p_str_t        files[2];
    s3p_file_t       file_status[2];
    s3p_str_t        keys[3];         /* VERIFY: access key, secret key, */
                                      /*   session token in use */

    /* out: slices of `out` */
    s3p_do_t         action;
    s3p_str_t        request;         /* EXCHANGE */
    int32_t          target;          /*   with targets[target] */
    int64_t          timeout;
    s3p_str_t        paths[2];        /* READ: NUL-terminated; empty: none */
    size_t           file_max;
    s3p_str_t        access_key;      /* STORE */
    s3p_str_t        secret_key;
    s3p_str_t        session_token;
    int64_t          expires;         /*   their expiration */
    int64_t          refresh;         /* STORE, RETRY: the next step's */
                                      /*   START is due then */
    uint32_t         streak;          /* STORE, RETRY: the zone's failures */
    s3p_str_t        message;         /* for the log, after "s3 proxy: " */
    int32_t          refused;         /* VERIFIED: 1 when S3 refused the */
                                      /*   keys, 0 when it took them, -1 */
                                      /*   when it could not tell */
} s3p_provider_step_t;

/*
 * What presigned URLs of a location (s3_proxy_expires `expires`, presign
 * window `window`, resolved) signed with credentials that expire at
 * `expiration` may live at `now`: 0 while the credentials outlive both
 * (nothing capped); otherwise the credentials' remaining life, at most
 * `expires`, for URLs signed without a window: no URL outlives its keys.
 */
int64_t s3p_presign_cap(int64_t expires, int64_t window, int64_t expiration,
    int64_t now);

/*
 * Takes one step of `provider`'s refresh: reads `step`'s event and writes
 * its action, whose bytes go into `out` (capacity at least
 * S3P_PROVIDER_REQUEST_MAX).  Always an action: a problem is a RETRY.
 */
void s3p_provider_next(s3p_provider_t *provider, s3p_provider_step_t *step,
    uint8_t *out, size_t cap);

/*
 * One provider's credentials in C's shared zone, which outlives reloads
 * (so new workers sign at once): C maps the zone and locks it; the core
 * writes each slot, C reads it where marked.  A slot found by its
 * provider's id keeps it across reloads; one that changes hands is
 * cleared and gets a new generation, which the workers of an older
 * configuration compare with the one they took, and stop reading it.
 */

/* The last refresh error kept per source, at most. */
#define S3P_STATUS_ERROR_MAX  256

#define S3P_SLOT_KEYS_MAX                                                   \
    (S3P_ACCESS_KEY_MAX + S3P_SECRET_KEY_MAX + S3P_SESSION_TOKEN_MAX)

typedef struct {
    uint8_t          id[S3P_PROVIDER_ID_LEN];
    uint64_t         generation;      /* C reads; 0: never used */
    uint64_t         version;         /* C reads: of the keys; 0: none */
    int64_t          expiration;      /* C reads: of the keys; S3P_NEVER */
    int64_t          refresh;         /* the next fetch is due then */
    int64_t          fetching;        /* the process fetching; 0: none */
    int64_t          fetch_start;
    uint32_t         failures;        /* C reads: the current streak */
    int32_t          verify;          /* the keys in use are due to be */
                                      /*   checked with S3 */

    /* C reads, for s3_proxy_status, since the slot was taken: */
    uint64_t         refreshes;
    uint64_t         refresh_failures;
    int64_t          refreshed;       /* the last success */
    int32_t          verification;    /* s3p_verification_t: the last */
                                      /*   check with S3 */
    size_t           error_len;
    uint8_t          error[S3P_STATUS_ERROR_MAX];  /* the last refresh */
                                                   /*   error */

    /*
     * C reads: the access key, the secret key, the token, in a row; last,
     * where the core finds it (Swift imports no array this long)
     */
    size_t           len[3];
    uint8_t          keys[S3P_SLOT_KEYS_MAX];
} s3p_slot_t;

/*
 * A configuration's providers take their slots (`providers`: `n`;
 * `slots`: `nslots`): each the one its id holds, else one no id of theirs
 * holds, a never used one first.  Writes each one's place into its
 * `slot`; S3P_OK, or S3P_E_SPACE when some slot is missing (C holds the
 * zone's lock).
 */
int s3p_slots_take(s3p_slot_t *slots, size_t nslots,
    s3p_provider_t *const *providers, size_t n);

/*
 * A configuration starts with `provider`'s slot: its keys in use are due
 * to be verified with S3 (once per configuration, when it has a S3
 * target); `seed` is what its first location resolved with: a profile's
 * or the environment's keys as read now (no role assumed), which never
 * expire, are stored, and the next fetch is due at once.  1 when the
 * slot's keys changed (log `seed`'s access key id).
 */
int s3p_slot_start(s3p_slot_t *slot, const s3p_provider_t *provider,
    const s3p_signing_t *seed);

/*
 * Whether the process `pid` takes the slot's next fetch at `step`'s `now`
 * (one is due: a refresh first, else a check of the keys in use with S3;
 * none is under way, or one older than 30 s is taken over): 1 with
 * `step`'s event (START or VERIFY: `keys`, copied into `keys`, capacity
 * S3P_SLOT_KEYS_MAX), expiration and failures set; else 0.
 */
int s3p_slot_claim(s3p_slot_t *slot, int64_t pid, s3p_provider_step_t *step,
    uint8_t *keys);

/* How C logs a provider's message: not at all, or at nginx's level. */
typedef enum {
    S3P_SAY_NOTHING = 0,
    S3P_SAY_ERROR = 1,
    S3P_SAY_NOTICE = 2,
    S3P_SAY_INFO = 3
} s3p_say_t;

/*
 * A fetch's last step (`step`'s action STORE, RETRY or VERIFIED) into
 * `provider`'s slot (NULL: the slot is no longer the provider's, nothing
 * is written): the keys stored (each capped: too long, they are not) and
 * their version moved when they changed, the next fetch, the streak, the
 * counters and the last error, the verification; no fetch under way.
 * Answers how `step`'s message is logged.
 */
s3p_say_t s3p_slot_record(s3p_slot_t *slot, const s3p_provider_t *provider,
    const s3p_provider_step_t *step);

/*
 * What one location's requests sign with in a worker: its settings
 * resolved with its slot's keys, into memory of the worker's own, and
 * resolved again when the keys change, or when presigned URLs must be
 * capped to the keys' remaining life (s3p_presign_cap()).  C sets `raw`
 * and `configured` once; the rest is the core's.
 */
typedef struct {
    s3p_settings_t         raw;       /* the location's, keys excepted */
    const s3p_signing_t   *configured; /* as resolved at configuration */
                                      /*   time: expires, window, the */
                                      /*   cache identity */
    s3p_signing_t         *signing;   /* C reads: the current; NULL: none */
    int64_t                expiration;  /* C reads: of its keys */
    uint64_t               version;   /* the slot's keys it was made of */
    int64_t                capped;    /* the cap it was made with */
    int64_t                logged;    /* "no valid credentials" last said */
} s3p_held_t;

typedef enum {
    S3P_USE_SIGN = 0,                 /* sign with `signing` */
    S3P_USE_RENEW = 1,                /* resolve again: s3p_held_renew() */
    S3P_USE_WAIT = 2,                 /* no keys ever yet, no failure: a */
                                      /*   cold start, worth a short wait */
    S3P_USE_NONE = 3,                 /* no valid keys: refuse */
    S3P_USE_SAY = 4                   /* the same, and log it (once a */
                                      /*   second) */
} s3p_use_t;

/*
 * What a request uses at `now`, with `slot` NULL when it is no longer the
 * provider's; read without the zone's lock.
 */
s3p_use_t s3p_held_use(const s3p_slot_t *slot, s3p_held_t *held,
    int64_t now);

/*
 * After S3P_USE_RENEW, with the zone's lock held: the settings resolved
 * with the slot's keys valid now, into memory from `alloc(data, size)`,
 * become `signing` (S3P_USE_SIGN); else as s3p_held_use() when none are
 * valid, or when they cannot be resolved: then why is in `err` (capacity
 * `err_cap`, NUL-terminated; else empty), and what `alloc` gave, if
 * anything, is not used.
 */
s3p_use_t s3p_held_renew(const s3p_slot_t *slot, s3p_held_t *held,
    int64_t now, s3p_alloc_t alloc, void *data, uint8_t *err,
    size_t err_cap);

/*
 * The status handler (s3_proxy_status): counters every worker adds to,
 * with atomic adds, in a shared zone that outlives reloads, and what C
 * reads of the credentials; the core writes the page.
 */

/* HTTP statuses counted: 100 to 599, at status - 100. */
#define S3P_STATUS_CODES      500

/* S3 error codes counted one by one (s3p_s3_error_t's `counter`). */
#define S3P_S3_ERRORS         32

/* Locations (and their buckets) counted one by one; more are not. */
#define S3P_STATUS_LOCATIONS  64

/* The counters, as the zone holds them: integers only. */
typedef struct {
    uint64_t         requests[S3P_ROUTES];
    uint64_t         redirects_cached;
    uint64_t         refused[S3P_STATUS_CODES];
    uint64_t         s3_answers[S3P_STATUS_CODES];
    uint64_t         s3_errors[S3P_S3_ERRORS];
    uint64_t         locations[S3P_STATUS_LOCATIONS][S3P_ROUTES];
} s3p_status_counters_t;

/* The last verification of a source's credentials against S3. */
typedef enum {
    S3P_VERIFICATION_UNKNOWN = 0,     /* none yet, or not done */
    S3P_VERIFICATION_OK = 1,
    S3P_VERIFICATION_FAILED = 2
} s3p_verification_t;

/* The name of the static keys' source (s3_proxy_credentials env). */
#define S3P_CREDENTIALS_ENV_NAME  "env"

/* One credential source of the configuration. */
typedef struct {
    s3p_str_t        name;            /* "imds", "profile=NAME", "env" */
    s3p_str_t        access_key;      /* the whole id: the core shortens */
    s3p_str_t        error;           /* the last refresh error; empty */
    int64_t          expiration;      /* 0: none yet; S3P_NEVER */
    int64_t          refreshed;       /* last successful refresh; 0: none */
    uint64_t         successes;       /* refreshes, since the zone began */
    uint64_t         failures;
    uint32_t         streak;          /* failures in a row now */
    s3p_verification_t  verification;
} s3p_status_source_t;

/*
 * A location of the configuration and one of its buckets, and their
 * counters' row: each location has one with its s3_proxy_bucket (empty:
 * none) for the requests not to an allowed bucket, and one per bucket of
 * s3_proxy_buckets.  Locations of the same name (in several servers)
 * with the same bucket share the row, and the page lists them once.
 */
typedef struct {
    s3p_str_t        name;
    s3p_str_t        bucket;
    uint32_t         row;             /* S3P_STATUS_LOCATIONS: none */
} s3p_status_location_t;

/* A location's name, or a bucket's, kept in the zone at most. */
#define S3P_STATUS_NAME_MAX   128

/*
 * The zone's rows: which location and bucket holds each (its key: the
 * name, a NUL, the bucket, each capped), for the zone's life.
 */
typedef struct {
    size_t           len[S3P_STATUS_LOCATIONS];          /* 0: free */
    uint8_t          key[S3P_STATUS_LOCATIONS][2 * S3P_STATUS_NAME_MAX + 1];
} s3p_status_rows_t;

/*
 * Sets each location's `row`: the one its name and bucket hold in `rows`,
 * else the first free one, which it takes; S3P_STATUS_LOCATIONS when all
 * are taken.  The caller holds the zone's lock.
 */
void s3p_status_rows(s3p_status_location_t *locations, size_t n,
    s3p_status_rows_t *rows);

/*
 * Fills the `conf->nbuckets + 1` rows of location `name` into `out`: its
 * own, with `bucket` (as written; NULL: none), then one per bucket of its
 * allowlist; each row S3P_STATUS_LOCATIONS until s3p_status_rows().
 */
void s3p_status_location(const s3p_config_t *conf, const s3p_str_t *name,
    const s3p_str_t *bucket, s3p_status_location_t *out);

/*
 * One event to count: a request decided (`result`: its route, its refusal's
 * status, its redirect cached or not, and the row of its allowed bucket
 * among its location's `rows`, else its location's own), or, `result`
 * NULL, S3's answer with `status`; or, `status` 0, an error with
 * s3p_s3_error_t's `counter` `code`.
 */
typedef struct {
    const s3p_result_t           *result;
    int32_t                       status;
    uint32_t                      code;
    const s3p_status_location_t  *rows;     /* the location's, from */
    size_t                        nrows;    /*   s3p_status_location() */
} s3p_status_event_t;

/* The counters one event adds to, at most. */
#define S3P_STATUS_BUMPS  4

/*
 * Which counters `event` adds one to: their indexes into the counters read
 * as an array of uint64_t, in `out` (room for S3P_STATUS_BUMPS); returns
 * how many.
 */
size_t s3p_status_count(const s3p_status_event_t *event, size_t *out);

typedef struct {
    s3p_status_counters_t        counters;   /* a copy, read now */
    int64_t                      now;
    const s3p_status_source_t   *sources;
    size_t                       nsources;
    const s3p_status_location_t *locations;
    size_t                       nlocations;
    s3p_str_t                    query;      /* the status request's */
    s3p_str_t                    accept;     /*   query and Accept */
    const s3p_str_t             *env_access_key;  /* a location signs */
                                             /*   with the environment's */
                                             /*   keys: the page lists */
                                             /*   them last; NULL: none */
} s3p_status_t;

/*
 * What the page shows of `provider`'s `slot` (NULL: the slot is no longer
 * its own): its name, counters, expiration, verification, and its access
 * key id and last error copied into `out` (room for S3P_ACCESS_KEY_MAX +
 * S3P_STATUS_ERROR_MAX), never the secret key or the token, into
 * `source`; returns the bytes written.  The caller holds the zone's lock.
 */
size_t s3p_slot_status(const s3p_slot_t *slot,
    const s3p_provider_t *provider, s3p_status_source_t *source,
    uint8_t *out);

/*
 * Writes the status page: JSON, or Prometheus's text format 0.0.4 when
 * the query has format=prometheus or Accept asks for text/plain;
 * version=0.0.4.  The page goes into memory from `alloc(data, its size)`
 * and `page` holds it; `content_type` (NUL-terminated) is its type.
 * S3P_E_SPACE when `alloc` answers NULL.
 */
int s3p_status(const s3p_status_t *status, s3p_alloc_t alloc, void *data,
    s3p_str_t *page, const char **content_type);


/*
 * The $s3_proxy_* variables: the core's table, from index 0.  C registers
 * each as not cacheable, and as not readable by name at run time (SSI,
 * perl) where S3P_VARIABLE_NOHASH is set: a signature or what it signs.
 * 0 past the last.
 */
#define S3P_VARIABLE_NOHASH  1

int s3p_variable_name(uint32_t index, s3p_str_t *name, uint32_t *flags);

/* The client's range and conditional headers, in the order C reads them. */
typedef enum {
    S3P_CONDITIONAL_RANGE = 0,
    S3P_CONDITIONAL_IF_RANGE = 1,
    S3P_CONDITIONAL_IF_MATCH = 2,
    S3P_CONDITIONAL_IF_NONE_MATCH = 3,
    S3P_CONDITIONAL_IF_MODIFIED_SINCE = 4,
    S3P_CONDITIONAL_IF_UNMODIFIED_SINCE = 5,
    S3P_CONDITIONALS = 6
} s3p_conditional_t;

/* What a variable's value is made of, for one request. */
typedef struct {
    uint32_t         index;           /* the variable's */
    const s3p_result_t *result;       /* the request's; NULL: none */
    s3p_str_t        s3_error;        /* S3's error code, when proxied */
    const s3p_signing_t *signing;     /* what it signs with; NULL: the */
                                      /*   location has no s3_proxy */
    s3p_str_t        source;          /* its credentials' source; empty: */
                                      /*   the environment's keys */
    int64_t          expiration;      /* when they expire; S3P_NEVER */
    int64_t          now;
    s3p_str_t        method;          /* the client's */
    s3p_str_t        upstream_method; /* set by proxy_cache (a HEAD */
                                      /*   fetched as a GET); empty: none */
    int32_t          cacheable;       /* 1: proxy_cache may store it */
    s3p_str_t        headers[S3P_CONDITIONALS];  /* empty: not sent */
} s3p_variable_t;

/* s3p_variable()'s answer: `value` names the nginx variable to read. */
#define S3P_VARIABLE_NGINX  1

/*
 * The value of `var`'s variable in `value` (empty: not found), in memory
 * of the request's or the configuration's, or, for the values it writes
 * (the cache key, seconds left), from `alloc(data, size)`: S3P_OK;
 * S3P_VARIABLE_NGINX when the value is nginx variable `value`'s (a cached
 * answer's validators, S3's request id); S3P_E_SPACE when `alloc` answers
 * NULL.
 */
int s3p_variable(const s3p_variable_t *var, s3p_alloc_t alloc, void *data,
    s3p_str_t *value);

#endif /* S3_PROXY_CORE_H */
