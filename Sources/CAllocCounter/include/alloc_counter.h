/*
 * Counts heap allocations in the s3p-bench process: the executable defines
 * malloc and friends, which take precedence over libc's for every caller
 * (the Swift runtime and libcrypto included), and forwards them to glibc.
 * Only s3p-bench links this; the nginx module never does.
 */
#ifndef S3P_ALLOC_COUNTER_H
#define S3P_ALLOC_COUNTER_H

unsigned long s3p_alloc_count(void);

#endif
