#include <stddef.h>
#include "alloc_counter.h"

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void  __libc_free(void *p);

static unsigned long  count;

unsigned long
s3p_alloc_count(void)
{
    return __atomic_load_n(&count, __ATOMIC_RELAXED);
}

void *
malloc(size_t size)
{
    __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
    return __libc_malloc(size);
}

void *
calloc(size_t n, size_t size)
{
    __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
    return __libc_calloc(n, size);
}

void *
realloc(void *p, size_t size)
{
    __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
    return __libc_realloc(p, size);
}

int
posix_memalign(void **p, size_t alignment, size_t size)
{
    __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
    *p = __libc_memalign(alignment, size);
    return *p == NULL ? 12 /* ENOMEM */ : 0;
}

void *
aligned_alloc(size_t alignment, size_t size)
{
    __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
    return __libc_memalign(alignment, size);
}

void
free(void *p)
{
    __libc_free(p);
}
