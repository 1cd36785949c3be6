/* OpenSSL's libcrypto, as the Swift core uses it: SHA-256 and HMAC. */
#ifndef S3P_COPENSSL_H
#define S3P_COPENSSL_H

#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#endif
