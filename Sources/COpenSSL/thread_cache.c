/*
 * The one definition of each thread's signing state (copenssl.h): in a
 * C file, so that every Swift file that reaches it reaches the same one.
 */

#include <stdlib.h>

#include "copenssl.h"


_Thread_local s3p_thread_cache_t  s3p_thread_cache_storage;

/* about 540 KB per thread that redirects with a presign window */
static _Thread_local s3p_url_slot_t  *s3p_url_slots;


s3p_url_slot_t *
s3p_url_slot(uint64_t hash)
{
    if (s3p_url_slots == NULL) {
        s3p_url_slots = calloc(S3P_URL_SLOTS, sizeof(s3p_url_slot_t));
        if (s3p_url_slots == NULL) {
            return NULL;
        }
    }

    return &s3p_url_slots[hash % S3P_URL_SLOTS];
}


static uint64_t  s3p_generation;


uint64_t
s3p_next_generation(void)
{
    return __atomic_add_fetch(&s3p_generation, 1, __ATOMIC_RELAXED);
}
