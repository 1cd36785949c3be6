/*
 * OpenSSL's libcrypto, as the Swift core uses it: SHA-256, and the state
 * each thread keeps between signatures.
 */
#ifndef S3P_COPENSSL_H
#define S3P_COPENSSL_H

/*
 * SHA-256 uses the low-level SHA256_Init/Update/Final on a context the
 * caller keeps on its stack: EVP_DigestInit allocates a provider context
 * on every call in OpenSSL 3.0, and EVP_MAC allocates on every init.
 * They are deprecated in 3.0 but present, and go straight to the
 * SHA-NI/AVX block functions.  HMAC is built on them (Digest.swift).
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <stdint.h>
#include <string.h>
#include <openssl/sha.h>


/*
 * What one thread keeps between signatures.  nginx workers sign every
 * request of a day with the same key and every request of a second with
 * the same timestamp, so a request copies states instead of recomputing
 * them.  One per thread: nginx workers sign on one thread, the tests on
 * many.
 *
 * - `inner`/`outer`: the HMAC pad states of `key` (SHA-256 after key ^
 *   ipad, key ^ opad).
 * - `prefixed`: `inner` after also hashing `prefix` (the start of the
 *   string to sign: algorithm, timestamp, scope).
 * - `stamp`: the SigV4 timestamp of Unix time `stamp_time`.
 * - `day_keys`: the SigV4 signing keys of the last few signing settings
 *   used (by generation), each for one UTC date; replaced in turn.
 */
typedef struct {
    uint64_t        generation;       /* 0: empty */
    uint64_t        date;             /* "YYYYMMDD", as a word */
    unsigned char   key[32];
} s3p_day_key_t;

#define S3P_DAY_KEYS  4

typedef struct {
    SHA256_CTX      inner;
    SHA256_CTX      outer;
    size_t          key_len;          /* 0: none */
    unsigned char   key[64];

    SHA256_CTX      prefixed;
    size_t          prefix_len;       /* 0: none */
    unsigned char   prefix[128];

    int64_t         stamp_time;
    unsigned char   stamp[16];        /* stamp[0] == 0: none */

    s3p_day_key_t   day_keys[S3P_DAY_KEYS];
    unsigned        next_day_key;
} s3p_thread_cache_t;


/* Defined once, in thread_cache.c. */
extern _Thread_local s3p_thread_cache_t  s3p_thread_cache_storage;


static inline s3p_thread_cache_t * _Nonnull
s3p_thread_cache(void)
{
    return &s3p_thread_cache_storage;
}


/* One of the thread's day key slots, and its key's bytes. */
static inline s3p_day_key_t * _Nonnull
s3p_day_key_slot(unsigned i)
{
    return &s3p_thread_cache_storage.day_keys[i % S3P_DAY_KEYS];
}


static inline unsigned char * _Nonnull
s3p_day_key_bytes(s3p_day_key_t * _Nonnull slot)
{
    return slot->key;
}


/*
 * Presigned URLs a thread handed out in the current presign window
 * (s3_proxy_presign_window), so that a hot key is not signed again: each
 * slot keeps a URL up to its signature (which names the method's result:
 * host, path, query, credential, window start, lifetime) and the
 * signature.  A fixed table, allocated on the thread's first use and
 * replaced slot by slot: memory stays flat whatever the keys.
 */
#define S3P_URL_SLOTS       256
#define S3P_URL_SLOT_BYTES  2048

typedef struct {
    uint64_t        generation;       /* 0: empty */
    uint64_t        hash;
    uint32_t        method;           /* first bytes of the method name */
    uint32_t        len;              /* of `url` */
    unsigned char   signature[64];
    unsigned char   url[S3P_URL_SLOT_BYTES];
} s3p_url_slot_t;

/* The thread's slot for `hash`; NULL if the table cannot be allocated. */
s3p_url_slot_t * _Nullable s3p_url_slot(uint64_t hash);

/* A slot's URL and signature bytes. */
static inline unsigned char * _Nonnull
s3p_url_slot_url(s3p_url_slot_t * _Nonnull slot)
{
    return slot->url;
}

static inline unsigned char * _Nonnull
s3p_url_slot_signature(s3p_url_slot_t * _Nonnull slot)
{
    return slot->signature;
}

/* A number no earlier call in this process returned (never 0). */
uint64_t s3p_next_generation(void);


static inline int
s3p_same_bytes(const void * _Nonnull a, const void * _Nonnull b, size_t n)
{
    return memcmp(a, b, n) == 0;
}

#endif
