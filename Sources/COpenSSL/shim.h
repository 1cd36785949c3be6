/* OpenSSL's libcrypto, as the Swift core uses it: SHA-256 and HMAC. */
#ifndef S3P_COPENSSL_H
#define S3P_COPENSSL_H

/*
 * SHA-256 uses the low-level SHA256_Init/Update/Final on a context the
 * caller keeps on its stack: EVP_DigestInit allocates a provider context
 * on every call in OpenSSL 3.0.  They are deprecated in 3.0 but present.
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <string.h>
#include <openssl/sha.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>


/*
 * Contexts kept between calls, one set per thread: nginx workers sign on
 * one thread, and the tests sign on many at once.  `key` is the key the
 * HMAC context holds, so that a call with the same key re-initialises the
 * context without redoing the key schedule.
 */
typedef struct {
    EVP_MAC_CTX    *mac;
    size_t          key_len;          /* 0: no key, or one too long */
    unsigned char   key[64];
} s3p_crypto_cache_t;


static inline s3p_crypto_cache_t * _Nonnull
s3p_crypto_cache(void)
{
    static _Thread_local s3p_crypto_cache_t  cache;

    return &cache;
}

#endif
