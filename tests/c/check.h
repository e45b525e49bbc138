/* check.h: a minimal test harness for the C tests of libsegcache.
 *
 * CHECK(cond) and CHECK_RC(expr, status) count passes and failures and
 * print every failure with its location; check_summary() prints the
 * "N passed, N failed" line and returns the exit status. The counters are
 * atomic so that worker threads may check too. */
#ifndef SEGCACHE_TEST_CHECK_H
#define SEGCACHE_TEST_CHECK_H

#include <stdatomic.h>
#include <stdio.h>

#include <segcache.h>

static atomic_long check_passed, check_failed;

#define CHECK(cond)                                                         \
    do {                                                                    \
        if (cond) {                                                         \
            atomic_fetch_add(&check_passed, 1);                             \
        } else {                                                            \
            atomic_fetch_add(&check_failed, 1);                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                 \
        }                                                                   \
    } while (0)

#define CHECK_RC(expr, want)                                                \
    do {                                                                    \
        int rc_ = (expr), want_ = (want);                                   \
        if (rc_ == want_) {                                                 \
            atomic_fetch_add(&check_passed, 1);                             \
        } else {                                                            \
            atomic_fetch_add(&check_failed, 1);                             \
            fprintf(stderr, "%s:%d: %s = %d (%s), want %s (%d)\n", __FILE__, \
                    __LINE__, #expr, rc_, segcache_strerror(rc_), #want,   \
                    want_);                                                 \
        }                                                                   \
    } while (0)

static int check_summary(const char *suite) {
    long p = atomic_load(&check_passed), f = atomic_load(&check_failed);
    printf("%s: %ld passed, %ld failed\n", suite, p, f);
    return f == 0 && p > 0 ? 0 : 1;
}

#endif
