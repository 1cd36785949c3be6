/* OpenSSL's libcrypto, as the Swift core uses it: SHA-256 and HMAC. */
#ifndef S3P_COPENSSL_H
#define S3P_COPENSSL_H

#include <string.h>
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
    EVP_MD_CTX     *digest;
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
