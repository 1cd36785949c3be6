/*
 * The one definition of each thread's signing state (copenssl.h): in a
 * C file, so that every Swift file that reaches it reaches the same one.
 */

#include "copenssl.h"


_Thread_local s3p_thread_cache_t  s3p_thread_cache_storage;


static uint64_t  s3p_generation;


uint64_t
s3p_next_generation(void)
{
    return __atomic_add_fetch(&s3p_generation, 1, __ATOMIC_RELAXED);
}
