/* test_capi.c: the contract of include/segcache.h (its overview and each
 * function's doc comment), checked function by function and status by
 * status, plus pthread stress tests.
 *
 * Usage: test_capi [enomem-child | stress ROUNDS]
 * Prints "test_capi: N passed, N failed" and exits 0 only if nothing
 * failed. The ENOMEM check re-executes this binary ("enomem-child") under
 * a small RLIMIT_AS: the parent forks and execs at once, so no library
 * code runs in a forked child (see the header's note on fork).
 * "stress ROUNDS" repeats only the pthread stress tests (make stress-capi). */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <segcache.h>

#include "check.h"
#include "run.h"

#define KEY(s) (s), (sizeof(s) - 1)

/* The ABI of the structs is frozen: fields only ever get appended. */
#include <stddef.h>
_Static_assert(offsetof(segcache_options, heap_bytes) == 8, "options layout");
_Static_assert(offsetof(segcache_options, segment_bytes) == 16, "options layout");
_Static_assert(offsetof(segcache_options, hash_power) == 20, "options layout");
_Static_assert(offsetof(segcache_options, eviction) == 24, "options layout");
_Static_assert(offsetof(segcache_options, eviction) + 4 == SEGCACHE_OPTIONS_MIN_SIZE, "min size");
_Static_assert(offsetof(segcache_options, merge_max) == 28, "options layout");
_Static_assert(offsetof(segcache_options, s3fifo_admission_ratio) == 40, "options layout");
_Static_assert(offsetof(segcache_options, prefault) == 48, "options layout");
_Static_assert(sizeof(segcache_options) == 56, "options size");
_Static_assert(offsetof(segcache_stats, items) == 8, "stats layout");
_Static_assert(offsetof(segcache_stats, expired_segments) + 8 == SEGCACHE_STATS_MIN_SIZE, "min size");
_Static_assert(offsetof(segcache_stats, merged_segments) == 128, "stats layout");
_Static_assert(offsetof(segcache_stats, hashtable_growths) == 144, "stats layout");
_Static_assert(offsetof(segcache_stats, segments_retired) == 152, "stats layout");
_Static_assert(sizeof(segcache_stats) == 160, "stats size");
_Static_assert(sizeof(segcache_t) == 8, "handle size");

static segcache_t open_default(void) {
    segcache_t c = 0;
    CHECK_RC(segcache_open(NULL, &c), SEGCACHE_OK);
    CHECK(c != 0);
    return c;
}

static segcache_t open_with(uint64_t heap, uint32_t seg, int32_t eviction) {
    segcache_options o;
    segcache_options_init(&o);
    o.heap_bytes = heap;
    o.segment_bytes = seg;
    o.eviction = eviction;
    segcache_t c = 0;
    CHECK_RC(segcache_open(&o, &c), SEGCACHE_OK);
    return c;
}

/* get_str fetches key into a 4 KiB buffer as a NUL-terminated string. */
static int get_str(segcache_t c, const char *key, char *out, size_t outcap) {
    size_t vlen = 0;
    int rc = segcache_get(c, key, strlen(key), out, outcap - 1, &vlen, NULL);
    out[rc == SEGCACHE_OK ? vlen : 0] = '\0';
    return rc;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

/* ---- version, strerror, options ---------------------------------------- */

/* SEGCACHE_VERSION_NUMBER must work in #if, where casts and sizeof do not. */
#if !defined(SEGCACHE_VERSION_NUMBER) || SEGCACHE_VERSION_NUMBER < 100
#error "SEGCACHE_VERSION_NUMBER missing or not a preprocessor constant"
#endif
_Static_assert(SEGCACHE_VERSION_NUMBER == SEGCACHE_VERSION_MAJOR * 10000 +
                                              SEGCACHE_VERSION_MINOR * 100 +
                                              SEGCACHE_VERSION_PATCH,
               "SEGCACHE_VERSION_NUMBER is MAJOR*10000 + MINOR*100 + PATCH");

static void test_version(void) {
    CHECK(segcache_version() == (uint32_t)SEGCACHE_VERSION_NUMBER);
    CHECK(segcache_version() == SEGCACHE_VERSION_MAJOR * 10000u +
                                    SEGCACHE_VERSION_MINOR * 100u +
                                    SEGCACHE_VERSION_PATCH);
    CHECK(segcache_version() == 100u); /* 0.1.0 */
}

static void test_strerror(void) {
    const int all[] = {SEGCACHE_OK,        SEGCACHE_ENOTFOUND, SEGCACHE_EEXISTS,
                       SEGCACHE_ENOTNUMERIC, SEGCACHE_ERANGE,  SEGCACHE_ETOOLARGE,
                       SEGCACHE_ENOSPACE,  SEGCACHE_EINVAL,    SEGCACHE_EBADHANDLE,
                       SEGCACHE_ENOMEM,    SEGCACHE_EINTERNAL, SEGCACHE_EFORKED};
    const size_t n = sizeof all / sizeof all[0];
    const char *generic = segcache_strerror(12345);
    CHECK(generic != NULL && generic[0] != '\0');
    CHECK(segcache_strerror(1) == generic);
    CHECK(segcache_strerror(-12) == generic);
    CHECK(segcache_strerror(INT_MIN) == generic);
    CHECK(segcache_strerror(INT_MAX) == generic);
    for (size_t i = 0; i < n; i++) {
        const char *s = segcache_strerror(all[i]);
        CHECK(s != NULL && s[0] != '\0');
        CHECK(s != generic && strcmp(s, generic) != 0);
        CHECK(segcache_strerror(all[i]) == s); /* static: same pointer */
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(s, segcache_strerror(all[j])) != 0);
        CHECK(all[i] == 0 || all[i] < 0);
    }
    /* The values are distinct. */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++) CHECK(all[i] != all[j]);
}

static void test_options_init(void) {
    segcache_options o;
    memset(&o, 0xA5, sizeof o);
    segcache_options_init(&o);
    CHECK(o.size == sizeof(segcache_options));
    CHECK(o.heap_bytes == 64u << 20);
    CHECK(o.segment_bytes == 1u << 20);
    CHECK(o.hash_power == 0);
    CHECK(o.eviction == SEGCACHE_EVICT_S3FIFO);
    CHECK(o.merge_max == 8 && o.merge_target == 0 && o.merge_compact == 0);
    CHECK(o.s3fifo_admission_ratio == 0.1);
    CHECK(o.prefault == 0);
    /* Padding is zero too: an older library rejects nonzero bytes past the
     * fields it knows, and the padding after prefault is such bytes. */
    const unsigned char *bytes = (const unsigned char *)&o;
    for (size_t i = offsetof(segcache_options, size) + 4; i < offsetof(segcache_options, heap_bytes); i++)
        CHECK(bytes[i] == 0);
    for (size_t i = offsetof(segcache_options, prefault) + 4; i < sizeof o; i++)
        CHECK(bytes[i] == 0);
    segcache_options_init(NULL); /* ignored, no crash */
    CHECK(SEGCACHE_EVICT_NONE == 0 && SEGCACHE_EVICT_RANDOM == 1 &&
          SEGCACHE_EVICT_RANDOM_FIFO == 2 && SEGCACHE_EVICT_FIFO == 3 &&
          SEGCACHE_EVICT_CTE == 4 && SEGCACHE_EVICT_UTIL == 5 &&
          SEGCACHE_EVICT_MERGE == 6 && SEGCACHE_EVICT_S3FIFO == 7);
}

/* ---- open / close ------------------------------------------------------ */

/* open_rc opens with o and closes again on success; returns the status and
 * checks that *out is 0 on failure. */
static int open_rc(const segcache_options *o) {
    segcache_t c = 12345;
    int rc = segcache_open(o, &c);
    if (rc == SEGCACHE_OK) {
        CHECK(c != 0);
        CHECK_RC(segcache_close(c), SEGCACHE_OK);
    } else {
        CHECK(c == 0);
    }
    return rc;
}

static void test_open_close(void) {
    segcache_options o;
    CHECK_RC(segcache_open(NULL, NULL), SEGCACHE_EINVAL);
    CHECK_RC(open_rc(NULL), SEGCACHE_OK);

    segcache_options_init(&o);
    o.heap_bytes = 4u << 20;
    CHECK_RC(open_rc(&o), SEGCACHE_OK);

    for (int32_t ev = SEGCACHE_EVICT_NONE; ev <= SEGCACHE_EVICT_S3FIFO; ev++) {
        segcache_options_init(&o);
        o.heap_bytes = 4u << 20;
        o.eviction = ev;
        CHECK_RC(open_rc(&o), SEGCACHE_OK);
    }
    int32_t bad_ev[] = {-1, 8, 100, INT32_MIN};
    for (size_t i = 0; i < sizeof bad_ev / sizeof bad_ev[0]; i++) {
        segcache_options_init(&o);
        o.eviction = bad_ev[i];
        CHECK_RC(open_rc(&o), SEGCACHE_EINVAL);
    }

    /* The size field. */
    uint32_t bad_size[] = {0, 1, SEGCACHE_OPTIONS_MIN_SIZE - 1, 4097, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad_size / sizeof bad_size[0]; i++) {
        segcache_options_init(&o);
        o.size = bad_size[i];
        CHECK_RC(open_rc(&o), SEGCACHE_EINVAL);
    }
    /* A caller from an older header: only the fields up to eviction (the
     * first contract, SEGCACHE_OPTIONS_MIN_SIZE bytes). The extras,
     * set to invalid values here, must then be ignored. */
    segcache_options_init(&o);
    o.heap_bytes = 4u << 20;
    o.size = SEGCACHE_OPTIONS_MIN_SIZE;
    o.merge_max = -5;
    o.s3fifo_admission_ratio = NAN;
    CHECK_RC(open_rc(&o), SEGCACHE_OK);
    /* A caller from a newer header: unknown trailing fields must be zero. */
    struct {
        segcache_options o;
        uint64_t future[2];
    } big;
    memset(&big, 0, sizeof big);
    segcache_options_init(&big.o);
    big.o.heap_bytes = 4u << 20;
    big.o.size = sizeof big;
    CHECK_RC(open_rc(&big.o), SEGCACHE_OK);
    big.future[1] = 1;
    CHECK_RC(open_rc(&big.o), SEGCACHE_EINVAL);

    /* Segment and heap sizes. */
    struct {
        uint64_t heap;
        uint32_t seg;
        int ok;
    } sizes[] = {
        {8192, 4096, 1},           /* 2 segments of the smallest size */
        {16u << 20, 8u << 20, 1},  /* the largest segment */
        {1u << 20, 4104, 1},       /* a multiple of 8, not a power of 2 */
        {1u << 20, 4097, 0},       /* not a multiple of 8 */
        {1u << 20, 4092, 0},       /* below 4 KiB */
        {64u << 20, (8u << 20) + 8, 0}, /* above 8 MiB */
        {4096, 4096, 0},           /* a single segment */
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        segcache_options_init(&o);
        o.heap_bytes = sizes[i].heap;
        o.segment_bytes = sizes[i].seg;
        int rc = open_rc(&o);
        if (sizes[i].ok)
            CHECK_RC(rc, SEGCACHE_OK);
        else
            CHECK_RC(rc, SEGCACHE_EINVAL);
    }
    /* Merge and S3-FIFO parameters. */
    segcache_options_init(&o);
    o.merge_max = -1;
    CHECK_RC(open_rc(&o), SEGCACHE_EINVAL);
    segcache_options_init(&o);
    o.merge_target = -1;
    CHECK_RC(open_rc(&o), SEGCACHE_EINVAL);
    segcache_options_init(&o);
    o.merge_compact = -1;
    CHECK_RC(open_rc(&o), SEGCACHE_EINVAL);
    /* merge_target 0 (the default) follows merge_max, so lowering merge_max
     * alone is valid; an explicit target above it is not. */
    segcache_options_init(&o);
    o.heap_bytes = 4u << 20;
    o.eviction = SEGCACHE_EVICT_MERGE;
    o.merge_max = 2;
    CHECK_RC(open_rc(&o), SEGCACHE_OK);
    o.merge_target = 4;
    CHECK_RC(open_rc(&o), SEGCACHE_EINVAL);
    o.merge_target = 2;
    CHECK_RC(open_rc(&o), SEGCACHE_OK);
    segcache_options_init(&o);
    o.s3fifo_admission_ratio = NAN;
    CHECK_RC(open_rc(&o), SEGCACHE_EINVAL);
    segcache_options_init(&o);
    o.s3fifo_admission_ratio = -0.5;
    CHECK_RC(open_rc(&o), SEGCACHE_EINVAL);
    segcache_options_init(&o);
    o.heap_bytes = 4u << 20;
    o.eviction = SEGCACHE_EVICT_S3FIFO;
    o.s3fifo_admission_ratio = 0.5;
    CHECK_RC(open_rc(&o), SEGCACHE_OK);
    segcache_options_init(&o);
    o.hash_power = 200;
    CHECK(open_rc(&o) != SEGCACHE_OK);

    /* Close: 0 is a no-op; twice, forged and stale handles are rejected. */
    CHECK_RC(segcache_close(0), SEGCACHE_OK);
    segcache_t c = open_default();
    CHECK_RC(segcache_close(c ^ ((uint64_t)1 << 40)), SEGCACHE_EBADHANDLE);
    CHECK_RC(segcache_close(c + 1), SEGCACHE_EBADHANDLE);
    CHECK_RC(segcache_close(UINT64_MAX), SEGCACHE_EBADHANDLE);
    CHECK_RC(segcache_close(c), SEGCACHE_OK);
    CHECK_RC(segcache_close(c), SEGCACHE_EBADHANDLE);
    /* A handle stays dead after its slot is reused by a new cache. */
    segcache_t c2 = open_default();
    CHECK(c2 != c);
    CHECK_RC(segcache_set(c, KEY("k"), "v", 1, 0), SEGCACHE_EBADHANDLE);
    CHECK_RC(segcache_set(c2, KEY("k"), "v", 1, 0), SEGCACHE_OK);
    CHECK_RC(segcache_close(c2), SEGCACHE_OK);
    /* Caches are independent. */
    segcache_t a = open_default(), b = open_default();
    CHECK_RC(segcache_set(a, KEY("only-a"), "1", 1, 0), SEGCACHE_OK);
    size_t vlen;
    CHECK_RC(segcache_get(b, KEY("only-a"), NULL, 0, &vlen, NULL), SEGCACHE_ENOTFOUND);
    CHECK_RC(segcache_close(a), SEGCACHE_OK);
    CHECK_RC(segcache_close(b), SEGCACHE_OK);
}

/* resident_bytes is this process's VmRSS, or 0 if it cannot be read. */
static uint64_t resident_bytes(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL) return 0;
    char line[256];
    uint64_t kb = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "VmRSS: %" SCNu64 " kB", &kb) == 1) break;
    }
    fclose(f);
    return kb << 10;
}

/* prefault makes the heap resident at open; without it, or from a caller
 * whose struct ends before the field, a new cache costs next to nothing
 * resident. Each cache serves. */
static void test_prefault(void) {
    const uint64_t heap = 32u << 20;
    struct {
        uint32_t prefault, size; /* size 0: sizeof(segcache_options) */
        int resident;
    } cases[] = {
        {0, 0, 0},
        {1, 0, 1},
        {1, offsetof(segcache_options, prefault), 0}, /* an older header's caller */
    };
    CHECK(resident_bytes() > 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        segcache_options o;
        segcache_options_init(&o);
        o.heap_bytes = heap;
        o.prefault = cases[i].prefault;
        if (cases[i].size != 0) o.size = cases[i].size;
        uint64_t before = resident_bytes();
        segcache_t c = 0;
        CHECK_RC(segcache_open(&o, &c), SEGCACHE_OK);
        int64_t grown = (int64_t)resident_bytes() - (int64_t)before;
        if (cases[i].resident)
            CHECK(grown >= (int64_t)(heap * 9 / 10));
        else
            CHECK(grown < (int64_t)(heap / 4));
        CHECK_RC(segcache_set(c, KEY("k"), "v", 1, 0), SEGCACHE_OK);
        char buf[4];
        size_t vlen = 0;
        CHECK_RC(segcache_get(c, KEY("k"), buf, sizeof buf, &vlen, NULL), SEGCACHE_OK);
        CHECK(vlen == 1 && buf[0] == 'v');
        CHECK_RC(segcache_close(c), SEGCACHE_OK);
    }
}

/* Every function that takes a handle rejects 0, forged and closed ones. */
static void test_bad_handles(void) {
    segcache_t closed = open_default();
    CHECK_RC(segcache_close(closed), SEGCACHE_OK);
    segcache_t live = open_default();
    segcache_t bad[] = {0, closed, live ^ ((uint64_t)1 << 50), 0xdeadbeefcafef00dull,
                        live & 0xffffffffu};
    char buf[16];
    size_t vlen;
    uint64_t u;
    segcache_stats st;
    const void *keys[1] = {"k"};
    const size_t klens[1] = {1};
    void *bufs[1] = {buf};
    size_t caps[1] = {sizeof buf}, vlens[1];
    const void *vals[1] = {"1"};
    int sts[1];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        segcache_t h = bad[i];
        CHECK_RC(segcache_set(h, KEY("k"), "1", 1, 0), SEGCACHE_EBADHANDLE);
        CHECK_RC(segcache_add(h, KEY("k"), "1", 1, 0), SEGCACHE_EBADHANDLE);
        CHECK_RC(segcache_replace(h, KEY("k"), "1", 1, 0), SEGCACHE_EBADHANDLE);
        CHECK_RC(segcache_cas(h, KEY("k"), "1", 1, 0, 1), SEGCACHE_EBADHANDLE);
        CHECK_RC(segcache_get(h, KEY("k"), buf, sizeof buf, &vlen, NULL), SEGCACHE_EBADHANDLE);
        CHECK_RC(segcache_delete(h, KEY("k")), SEGCACHE_EBADHANDLE);
        CHECK_RC(segcache_delete_cas(h, KEY("k"), 1), SEGCACHE_EBADHANDLE);
        CHECK_RC(segcache_store(h, SEGCACHE_STORE_SET, KEY("k"), "1", 1, 0, 0, &u), SEGCACHE_EBADHANDLE);
        CHECK_RC(segcache_incr(h, KEY("k"), 1, &u), SEGCACHE_EBADHANDLE);
        CHECK_RC(segcache_decr(h, KEY("k"), 1, &u), SEGCACHE_EBADHANDLE);
        CHECK_RC(segcache_expire(h), SEGCACHE_EBADHANDLE);
        CHECK_RC(segcache_clear(h), SEGCACHE_EBADHANDLE);
        st.size = sizeof st;
        CHECK_RC(segcache_stats_get(h, &st), SEGCACHE_EBADHANDLE);
        CHECK_RC(segcache_get_multi(h, 1, keys, klens, bufs, caps, vlens, sts), SEGCACHE_EBADHANDLE);
        CHECK_RC(segcache_get_multi(h, 0, NULL, NULL, NULL, NULL, NULL, NULL), SEGCACHE_EBADHANDLE);
        CHECK_RC(segcache_set_multi(h, 1, keys, klens, vals, klens, NULL, sts), SEGCACHE_EBADHANDLE);
        CHECK_RC(segcache_delete_multi(h, 1, keys, klens, sts), SEGCACHE_EBADHANDLE);
        if (h != 0) CHECK_RC(segcache_close(h), SEGCACHE_EBADHANDLE);
    }
    CHECK_RC(segcache_close(live), SEGCACHE_OK);
}

/* ---- items ------------------------------------------------------------- */

static void test_set_get(void) {
    segcache_t c = open_default();
    char buf[64];
    size_t vlen = 999;
    uint64_t cas = 0;

    CHECK_RC(segcache_get(c, KEY("greeting"), buf, sizeof buf, &vlen, NULL), SEGCACHE_ENOTFOUND);
    CHECK(vlen == 0);
    CHECK_RC(segcache_set(c, KEY("greeting"), "hello", 5, 0), SEGCACHE_OK);
    CHECK_RC(segcache_get(c, KEY("greeting"), buf, sizeof buf, &vlen, &cas), SEGCACHE_OK);
    CHECK(vlen == 5 && memcmp(buf, "hello", 5) == 0);
    /* Exact-size buffer, then one byte short, then the size query. */
    vlen = 0;
    CHECK_RC(segcache_get(c, KEY("greeting"), buf, 5, &vlen, NULL), SEGCACHE_OK);
    CHECK(vlen == 5);
    vlen = 0;
    CHECK_RC(segcache_get(c, KEY("greeting"), buf, 4, &vlen, NULL), SEGCACHE_ERANGE);
    CHECK(vlen == 5);
    vlen = 0;
    CHECK_RC(segcache_get(c, KEY("greeting"), NULL, 0, &vlen, NULL), SEGCACHE_ERANGE);
    CHECK(vlen == 5);
    /* A cap far larger than any value is fine (it is clamped). */
    CHECK_RC(segcache_get(c, KEY("greeting"), buf, SIZE_MAX, &vlen, NULL), SEGCACHE_OK);
    CHECK(vlen == 5 && memcmp(buf, "hello", 5) == 0);

    /* Overwrite changes the value and the cas token. */
    uint64_t cas2 = 0;
    CHECK_RC(segcache_set(c, KEY("greeting"), "bonjour!", 8, 0), SEGCACHE_OK);
    CHECK_RC(segcache_get(c, KEY("greeting"), buf, sizeof buf, &vlen, &cas2), SEGCACHE_OK);
    CHECK(vlen == 8 && memcmp(buf, "bonjour!", 8) == 0);
    CHECK(cas2 != cas);

    /* Empty value; val may be NULL when vlen is 0. */
    CHECK_RC(segcache_set(c, KEY("empty"), NULL, 0, 0), SEGCACHE_OK);
    vlen = 7;
    CHECK_RC(segcache_get(c, KEY("empty"), NULL, 0, &vlen, NULL), SEGCACHE_OK);
    CHECK(vlen == 0);
    CHECK_RC(segcache_set(c, KEY("empty2"), "", 0, 0), SEGCACHE_OK);
    CHECK_RC(segcache_get(c, KEY("empty2"), buf, sizeof buf, &vlen, NULL), SEGCACHE_OK);
    CHECK(vlen == 0);

    /* Keys are arbitrary bytes, NUL included; 1 and 255 bytes are fine. */
    const char bin[] = {'a', 0, 'b', (char)0xff};
    CHECK_RC(segcache_set(c, bin, sizeof bin, "bin", 3, 0), SEGCACHE_OK);
    CHECK_RC(segcache_get(c, bin, 1, buf, sizeof buf, &vlen, NULL), SEGCACHE_ENOTFOUND);
    CHECK_RC(segcache_get(c, bin, sizeof bin, buf, sizeof buf, &vlen, NULL), SEGCACHE_OK);
    CHECK(vlen == 3 && memcmp(buf, "bin", 3) == 0);
    char k255[256];
    memset(k255, 'k', sizeof k255);
    CHECK_RC(segcache_set(c, k255, 1, "one", 3, 0), SEGCACHE_OK);
    CHECK_RC(segcache_set(c, k255, 255, "max", 3, 0), SEGCACHE_OK);
    CHECK_RC(segcache_get(c, k255, 255, buf, sizeof buf, &vlen, NULL), SEGCACHE_OK);
    CHECK(vlen == 3 && memcmp(buf, "max", 3) == 0);
    CHECK_RC(segcache_get(c, k255, 1, buf, sizeof buf, &vlen, NULL), SEGCACHE_OK);
    CHECK(vlen == 3 && memcmp(buf, "one", 3) == 0);

    /* Invalid arguments: nothing is stored. */
    CHECK_RC(segcache_set(c, k255, 256, "x", 1, 0), SEGCACHE_ETOOLARGE);
    CHECK_RC(segcache_set(c, k255, SIZE_MAX, "x", 1, 0), SEGCACHE_ETOOLARGE);
    CHECK_RC(segcache_set(c, "k", 0, "x", 1, 0), SEGCACHE_EINVAL);
    CHECK_RC(segcache_set(c, NULL, 0, "x", 1, 0), SEGCACHE_EINVAL);
    CHECK_RC(segcache_set(c, NULL, 3, "x", 1, 0), SEGCACHE_EINVAL);
    CHECK_RC(segcache_set(c, KEY("nv"), NULL, 1, 0), SEGCACHE_EINVAL);
    CHECK_RC(segcache_get(c, KEY("nv"), buf, sizeof buf, &vlen, NULL), SEGCACHE_ENOTFOUND);
    /* A huge vlen is rejected without reading the (1-byte) buffer. */
    CHECK_RC(segcache_set(c, KEY("huge"), "x", SIZE_MAX, 0), SEGCACHE_ETOOLARGE);
    CHECK_RC(segcache_set(c, KEY("huge"), "x", (size_t)1 << 40, 0), SEGCACHE_ETOOLARGE);
    CHECK_RC(segcache_get(c, k255, 256, buf, sizeof buf, &vlen, NULL), SEGCACHE_ETOOLARGE);
    CHECK_RC(segcache_get(c, "k", 0, buf, sizeof buf, &vlen, NULL), SEGCACHE_EINVAL);
    CHECK_RC(segcache_get(c, NULL, 1, buf, sizeof buf, &vlen, NULL), SEGCACHE_EINVAL);
    CHECK_RC(segcache_get(c, KEY("greeting"), buf, sizeof buf, NULL, NULL), SEGCACHE_EINVAL);
    CHECK_RC(segcache_get(c, KEY("greeting"), NULL, 8, &vlen, NULL), SEGCACHE_EINVAL);
    /* The earlier value survived every rejected call. */
    CHECK_RC(segcache_get(c, KEY("greeting"), buf, sizeof buf, &vlen, NULL), SEGCACHE_OK);
    CHECK(vlen == 8 && memcmp(buf, "bonjour!", 8) == 0);
    CHECK_RC(segcache_close(c), SEGCACHE_OK);
}

/* segcache_get_buf is segcache_get with its buffer and outputs in a
 * struct: the same statuses, lengths and cas token, case by case. */
static void test_get_buf(void) {
    segcache_t c = open_default();
    char buf[8];
    segcache_getbuf b = {.cache = c, .buf = buf, .cap = sizeof buf, .vlen = 99, .cas = 7};
    CHECK_RC(segcache_get_buf(&b, KEY("k")), SEGCACHE_ENOTFOUND);
    CHECK(b.vlen == 0 && b.cas == 7);
    CHECK_RC(segcache_set(c, KEY("k"), "hello", 5, 0), SEGCACHE_OK);
    uint64_t cas = 0;
    size_t vlen = 0;
    CHECK_RC(segcache_get(c, KEY("k"), NULL, 0, &vlen, NULL), SEGCACHE_ERANGE);
    CHECK_RC(segcache_get(c, KEY("k"), buf, sizeof buf, &vlen, &cas), SEGCACHE_OK);
    memset(buf, 0, sizeof buf);
    CHECK_RC(segcache_get_buf(&b, KEY("k")), SEGCACHE_OK);
    CHECK(b.vlen == 5 && memcmp(buf, "hello", 5) == 0 && b.cas == cas);
    /* Too small: the length to allocate, the token untouched. */
    CHECK_RC(segcache_set(c, KEY("k"), "0123456789", 10, 0), SEGCACHE_OK);
    b.cas = 7;
    CHECK_RC(segcache_get_buf(&b, KEY("k")), SEGCACHE_ERANGE);
    CHECK(b.vlen == 10 && b.cas == 7);
    b.buf = NULL, b.cap = 0;
    CHECK_RC(segcache_get_buf(&b, KEY("k")), SEGCACHE_ERANGE);
    CHECK(b.vlen == 10);
    /* Invalid arguments. */
    CHECK_RC(segcache_get_buf(NULL, KEY("k")), SEGCACHE_EINVAL);
    b.cap = 8;
    CHECK_RC(segcache_get_buf(&b, KEY("k")), SEGCACHE_EINVAL); /* NULL buf, cap > 0 */
    b.buf = buf;
    CHECK_RC(segcache_get_buf(&b, "k", 0), SEGCACHE_EINVAL);
    char k256[256];
    memset(k256, 'k', sizeof k256);
    CHECK_RC(segcache_get_buf(&b, k256, sizeof k256), SEGCACHE_ETOOLARGE);
    CHECK_RC(segcache_close(c), SEGCACHE_OK);
    /* A closed cache, and a handle that never was one. */
    CHECK_RC(segcache_get_buf(&b, KEY("k")), SEGCACHE_EBADHANDLE);
    b.cache = 0;
    CHECK_RC(segcache_get_buf(&b, KEY("k")), SEGCACHE_EBADHANDLE);
}

static void test_add_replace_cas_delete(void) {
    segcache_t c = open_default();
    char buf[32];
    size_t vlen;
    uint64_t t1 = 0, t2 = 0;

    CHECK_RC(segcache_replace(c, KEY("k"), "r", 1, 0), SEGCACHE_ENOTFOUND);
    CHECK_RC(segcache_get(c, KEY("k"), buf, sizeof buf, &vlen, NULL), SEGCACHE_ENOTFOUND);
    CHECK_RC(segcache_add(c, KEY("k"), "a", 1, 0), SEGCACHE_OK);
    CHECK_RC(segcache_add(c, KEY("k"), "b", 1, 0), SEGCACHE_EEXISTS);
    CHECK_RC(segcache_get(c, KEY("k"), buf, sizeof buf, &vlen, &t1), SEGCACHE_OK);
    CHECK(vlen == 1 && buf[0] == 'a');
    CHECK_RC(segcache_replace(c, KEY("k"), "r", 1, 0), SEGCACHE_OK);
    CHECK_RC(segcache_get(c, KEY("k"), buf, sizeof buf, &vlen, &t2), SEGCACHE_OK);
    CHECK(vlen == 1 && buf[0] == 'r');
    CHECK(t1 != t2);
    /* cas: a stale token fails, the current one wins once. */
    CHECK_RC(segcache_cas(c, KEY("k"), "c", 1, 0, t1), SEGCACHE_EEXISTS);
    CHECK_RC(segcache_cas(c, KEY("k"), "c", 1, 0, t2), SEGCACHE_OK);
    CHECK_RC(segcache_cas(c, KEY("k"), "d", 1, 0, t2), SEGCACHE_EEXISTS);
    CHECK_RC(segcache_get(c, KEY("k"), buf, sizeof buf, &vlen, NULL), SEGCACHE_OK);
    CHECK(vlen == 1 && buf[0] == 'c');
    CHECK_RC(segcache_cas(c, KEY("absent"), "c", 1, 0, t2), SEGCACHE_ENOTFOUND);
    /* Argument checks of the other writers. */
    CHECK_RC(segcache_add(c, NULL, 1, "x", 1, 0), SEGCACHE_EINVAL);
    CHECK_RC(segcache_replace(c, "k", 0, "x", 1, 0), SEGCACHE_EINVAL);
    CHECK_RC(segcache_cas(c, KEY("k"), NULL, 2, 0, t2), SEGCACHE_EINVAL);
    char k256[256];
    memset(k256, 'x', sizeof k256);
    CHECK_RC(segcache_add(c, k256, 256, "x", 1, 0), SEGCACHE_ETOOLARGE);
    CHECK_RC(segcache_replace(c, k256, 256, "x", 1, 0), SEGCACHE_ETOOLARGE);
    CHECK_RC(segcache_cas(c, k256, 256, "x", 1, 0, 1), SEGCACHE_ETOOLARGE);
    /* store: each op returns the token segcache_get() then gives, and a
     * chain of compare-and-swaps needs no read back. */
    uint64_t s1 = 0, s2 = 0, s3 = 0, rd = 0;
    CHECK_RC(segcache_store(c, SEGCACHE_STORE_ADD, KEY("s"), "1", 1, 0, 0, &s1), SEGCACHE_OK);
    CHECK_RC(segcache_get(c, KEY("s"), buf, sizeof buf, &vlen, &rd), SEGCACHE_OK);
    CHECK(s1 != 0 && rd == s1);
    CHECK_RC(segcache_store(c, SEGCACHE_STORE_CAS, KEY("s"), "2", 1, 0, s1, &s2), SEGCACHE_OK);
    CHECK_RC(segcache_store(c, SEGCACHE_STORE_CAS, KEY("s"), "3", 1, 0, s2, &s3), SEGCACHE_OK);
    CHECK_RC(segcache_get(c, KEY("s"), buf, sizeof buf, &vlen, &rd), SEGCACHE_OK);
    CHECK(vlen == 1 && buf[0] == '3' && rd == s3 && s3 != s2 && s2 != s1);
    uint64_t untouched = 77;
    CHECK_RC(segcache_store(c, SEGCACHE_STORE_CAS, KEY("s"), "4", 1, 0, s2, &untouched), SEGCACHE_EEXISTS);
    CHECK(untouched == 77);
    CHECK_RC(segcache_store(c, SEGCACHE_STORE_ADD, KEY("s"), "4", 1, 0, 0, &untouched), SEGCACHE_EEXISTS);
    CHECK_RC(segcache_store(c, SEGCACHE_STORE_REPLACE, KEY("nope"), "4", 1, 0, 0, &untouched), SEGCACHE_ENOTFOUND);
    CHECK(untouched == 77);
    CHECK_RC(segcache_store(c, SEGCACHE_STORE_REPLACE, KEY("s"), "5", 1, 0, 0, &s1), SEGCACHE_OK);
    CHECK_RC(segcache_store(c, SEGCACHE_STORE_SET, KEY("s"), "6", 1, 0, 0, NULL), SEGCACHE_OK);
    CHECK_RC(segcache_store(c, SEGCACHE_STORE_CAS, KEY("s"), "7", 1, 0, s1, NULL), SEGCACHE_EEXISTS);
    CHECK_RC(segcache_store(c, 4, KEY("s"), "7", 1, 0, 0, NULL), SEGCACHE_EINVAL);
    CHECK_RC(segcache_store(c, -1, KEY("s"), "7", 1, 0, 0, NULL), SEGCACHE_EINVAL);
    CHECK_RC(segcache_store(c, SEGCACHE_STORE_SET, NULL, 1, "7", 1, 0, 0, NULL), SEGCACHE_EINVAL);
    CHECK_RC(segcache_store(c, SEGCACHE_STORE_SET, KEY("s"), NULL, 2, 0, 0, NULL), SEGCACHE_EINVAL);
    CHECK_RC(segcache_store(c, SEGCACHE_STORE_SET, k256, 256, "7", 1, 0, 0, NULL), SEGCACHE_ETOOLARGE);
    CHECK_RC(segcache_get(c, KEY("s"), buf, sizeof buf, &vlen, NULL), SEGCACHE_OK);
    CHECK(vlen == 1 && buf[0] == '6');
    /* delete_cas: a stale token changes nothing, the current one removes. */
    uint64_t t3 = 0;
    CHECK_RC(segcache_get(c, KEY("k"), buf, sizeof buf, &vlen, &t3), SEGCACHE_OK);
    CHECK_RC(segcache_delete_cas(c, KEY("k"), t2), SEGCACHE_EEXISTS);
    CHECK_RC(segcache_delete_cas(c, KEY("k"), t3), SEGCACHE_OK);
    CHECK_RC(segcache_delete_cas(c, KEY("k"), t3), SEGCACHE_ENOTFOUND);
    CHECK_RC(segcache_get(c, KEY("k"), buf, sizeof buf, &vlen, NULL), SEGCACHE_ENOTFOUND);
    CHECK_RC(segcache_delete_cas(c, NULL, 1, t3), SEGCACHE_EINVAL);
    CHECK_RC(segcache_delete_cas(c, "k", 0, t3), SEGCACHE_EINVAL);
    CHECK_RC(segcache_delete_cas(c, k256, 256, t3), SEGCACHE_ETOOLARGE);
    CHECK_RC(segcache_set(c, KEY("k"), "c", 1, 0), SEGCACHE_OK);
    /* delete */
    CHECK_RC(segcache_delete(c, KEY("k")), SEGCACHE_OK);
    CHECK_RC(segcache_delete(c, KEY("k")), SEGCACHE_ENOTFOUND);
    CHECK_RC(segcache_get(c, KEY("k"), buf, sizeof buf, &vlen, NULL), SEGCACHE_ENOTFOUND);
    CHECK_RC(segcache_delete(c, NULL, 1), SEGCACHE_EINVAL);
    CHECK_RC(segcache_delete(c, "k", 0), SEGCACHE_EINVAL);
    CHECK_RC(segcache_delete(c, k256, 256), SEGCACHE_ETOOLARGE);
    /* add works again after delete. */
    CHECK_RC(segcache_add(c, KEY("k"), "again", 5, 0), SEGCACHE_OK);
    CHECK_RC(segcache_close(c), SEGCACHE_OK);
}

static void test_incr_decr(void) {
    segcache_t c = open_default();
    char buf[32];
    uint64_t r = 0;

    CHECK_RC(segcache_set(c, KEY("n"), "41", 2, 0), SEGCACHE_OK);
    CHECK_RC(segcache_incr(c, KEY("n"), 1, &r), SEGCACHE_OK);
    CHECK(r == 42);
    CHECK_RC(get_str(c, "n", buf, sizeof buf), SEGCACHE_OK);
    CHECK(strcmp(buf, "42") == 0);
    CHECK_RC(segcache_incr(c, KEY("n"), 1000, NULL), SEGCACHE_OK); /* result optional */
    CHECK_RC(get_str(c, "n", buf, sizeof buf), SEGCACHE_OK);
    CHECK(strcmp(buf, "1042") == 0);
    CHECK_RC(segcache_decr(c, KEY("n"), 42, &r), SEGCACHE_OK);
    CHECK(r == 1000);
    CHECK_RC(segcache_decr(c, KEY("n"), 5000, &r), SEGCACHE_OK); /* saturates */
    CHECK(r == 0);
    CHECK_RC(get_str(c, "n", buf, sizeof buf), SEGCACHE_OK);
    CHECK(strcmp(buf, "0") == 0);
    CHECK_RC(segcache_decr(c, KEY("n"), 1, &r), SEGCACHE_OK);
    CHECK(r == 0);
    /* incr wraps at 2^64. */
    CHECK_RC(segcache_set(c, KEY("w"), KEY("18446744073709551615"), 0), SEGCACHE_OK);
    CHECK_RC(segcache_incr(c, KEY("w"), 2, &r), SEGCACHE_OK);
    CHECK(r == 1);
    CHECK_RC(get_str(c, "w", buf, sizeof buf), SEGCACHE_OK);
    CHECK(strcmp(buf, "1") == 0);
    CHECK_RC(segcache_incr(c, KEY("w"), UINT64_MAX, &r), SEGCACHE_OK);
    CHECK(r == 0);
    /* Values that are not canonical unsigned decimals. */
    const char *bad[] = {"abc", "042", "-1", "+1", " 1", "1 ", "1.5", "",
                         "18446744073709551616", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_RC(segcache_set(c, KEY("b"), bad[i], strlen(bad[i]), 0), SEGCACHE_OK);
        r = 777;
        CHECK_RC(segcache_incr(c, KEY("b"), 1, &r), SEGCACHE_ENOTNUMERIC);
        CHECK_RC(segcache_decr(c, KEY("b"), 1, &r), SEGCACHE_ENOTNUMERIC);
        CHECK(r == 777);
        CHECK_RC(get_str(c, "b", buf, sizeof buf), SEGCACHE_OK);
        CHECK(strcmp(buf, bad[i]) == 0); /* unchanged */
    }
    CHECK_RC(segcache_incr(c, KEY("absent"), 1, &r), SEGCACHE_ENOTFOUND);
    CHECK_RC(segcache_decr(c, KEY("absent"), 1, &r), SEGCACHE_ENOTFOUND);
    CHECK_RC(segcache_incr(c, NULL, 1, 1, &r), SEGCACHE_EINVAL);
    CHECK_RC(segcache_decr(c, "n", 0, 1, &r), SEGCACHE_EINVAL);
    char k256[256];
    memset(k256, 'n', sizeof k256);
    CHECK_RC(segcache_incr(c, k256, 256, 1, &r), SEGCACHE_ETOOLARGE);
    CHECK_RC(segcache_decr(c, k256, 256, 1, &r), SEGCACHE_ETOOLARGE);
    /* incr changes the cas token. */
    uint64_t t1 = 0, t2 = 0;
    size_t vlen;
    CHECK_RC(segcache_set(c, KEY("t"), "5", 1, 0), SEGCACHE_OK);
    CHECK_RC(segcache_get(c, KEY("t"), buf, sizeof buf, &vlen, &t1), SEGCACHE_OK);
    CHECK_RC(segcache_incr(c, KEY("t"), 1, NULL), SEGCACHE_OK);
    CHECK_RC(segcache_get(c, KEY("t"), buf, sizeof buf, &vlen, &t2), SEGCACHE_OK);
    CHECK_RC(segcache_cas(c, KEY("t"), "9", 1, 0, t1), SEGCACHE_EEXISTS);
    CHECK_RC(segcache_cas(c, KEY("t"), "9", 1, 0, t2), SEGCACHE_OK);
    CHECK_RC(segcache_close(c), SEGCACHE_OK);
}

/* TTLs: an item is never returned once its TTL has passed; incr keeps the
 * expiry. The sleep is a lower bound on elapsed time, so this cannot
 * flake on a slow machine. */
static void test_ttl(void) {
    segcache_t c = open_default();
    char buf[32];
    size_t vlen;
    CHECK_RC(segcache_set(c, KEY("short"), "s", 1, 1), SEGCACHE_OK);
    CHECK_RC(segcache_set(c, KEY("counter"), "1", 1, 1), SEGCACHE_OK);
    CHECK_RC(segcache_set(c, KEY("long"), "l", 1, 3600), SEGCACHE_OK);
    CHECK_RC(segcache_set(c, KEY("forever"), "f", 1, 0), SEGCACHE_OK);
    CHECK_RC(segcache_incr(c, KEY("counter"), 1, NULL), SEGCACHE_OK);
    CHECK_RC(segcache_get(c, KEY("long"), buf, sizeof buf, &vlen, NULL), SEGCACHE_OK);
    sleep_ms(1100);
    CHECK_RC(segcache_get(c, KEY("short"), buf, sizeof buf, &vlen, NULL), SEGCACHE_ENOTFOUND);
    CHECK_RC(segcache_get(c, KEY("counter"), buf, sizeof buf, &vlen, NULL), SEGCACHE_ENOTFOUND);
    CHECK_RC(segcache_incr(c, KEY("counter"), 1, NULL), SEGCACHE_ENOTFOUND);
    CHECK_RC(segcache_replace(c, KEY("short"), "x", 1, 0), SEGCACHE_ENOTFOUND);
    CHECK_RC(segcache_add(c, KEY("short"), "y", 1, 0), SEGCACHE_OK); /* expired = absent */
    CHECK_RC(segcache_get(c, KEY("long"), buf, sizeof buf, &vlen, NULL), SEGCACHE_OK);
    CHECK_RC(segcache_get(c, KEY("forever"), buf, sizeof buf, &vlen, NULL), SEGCACHE_OK);
    CHECK_RC(segcache_expire(c), SEGCACHE_OK);
    CHECK_RC(segcache_get(c, KEY("long"), buf, sizeof buf, &vlen, NULL), SEGCACHE_OK);
    CHECK_RC(segcache_close(c), SEGCACHE_OK);
}

/* Item size limits in a cache of 4 KiB segments. */
static void test_limits(void) {
    const uint32_t seg = 4096;
    segcache_t c = open_with(1u << 20, seg, SEGCACHE_EVICT_MERGE);
    static char val[8192];
    memset(val, 'v', sizeof val);
    CHECK_RC(segcache_set(c, KEY("big"), val, seg, 0), SEGCACHE_ETOOLARGE);
    CHECK_RC(segcache_set(c, KEY("big"), val, sizeof val, 0), SEGCACHE_ETOOLARGE);
    CHECK_RC(segcache_set(c, KEY("ok"), val, seg / 2, 0), SEGCACHE_OK);
    size_t vlen;
    static char out[8192];
    /* The exact limit: 8-byte header + key + value, rounded up to 8, must
     * fit in a segment. With a 2-byte key: 8 + 2 + 4086 = 4096. */
    CHECK_RC(segcache_set(c, KEY("ex"), val, seg - 8 - 2, 0), SEGCACHE_OK);
    CHECK_RC(segcache_set(c, KEY("ex"), val, seg - 8 - 2 + 1, 0), SEGCACHE_ETOOLARGE);
    CHECK_RC(segcache_get(c, KEY("ex"), out, sizeof out, &vlen, NULL), SEGCACHE_OK);
    CHECK(vlen == seg - 8 - 2); /* the refused write lost nothing */
    CHECK_RC(segcache_get(c, KEY("big"), out, sizeof out, &vlen, NULL), SEGCACHE_ENOTFOUND);
    CHECK_RC(segcache_get(c, KEY("ok"), out, sizeof out, &vlen, NULL), SEGCACHE_OK);
    CHECK(vlen == seg / 2 && memcmp(out, val, vlen) == 0);
    CHECK_RC(segcache_close(c), SEGCACHE_OK);
}

/* With SEGCACHE_EVICT_NONE a full cache refuses writes and loses nothing. */
static void test_nospace(void) {
    segcache_t c = open_with(64 * 1024, 4096, SEGCACHE_EVICT_NONE);
    char key[32], val[256], out[256];
    memset(val, 'z', sizeof val);
    int stored = 0, rc = SEGCACHE_OK;
    for (int i = 0; i < 10000 && rc == SEGCACHE_OK; i++) {
        snprintf(key, sizeof key, "fill-%06d", i);
        rc = segcache_set(c, key, strlen(key), val, sizeof val, 0);
        if (rc == SEGCACHE_OK) stored++;
    }
    CHECK_RC(rc, SEGCACHE_ENOSPACE);
    CHECK(stored > 0);
    int found = 0;
    for (int i = 0; i < stored; i++) {
        size_t vlen;
        snprintf(key, sizeof key, "fill-%06d", i);
        if (segcache_get(c, key, strlen(key), out, sizeof out, &vlen, NULL) == SEGCACHE_OK &&
            vlen == sizeof val && memcmp(out, val, vlen) == 0)
            found++;
    }
    CHECK(found == stored);
    /* After clear, writes succeed again. */
    CHECK_RC(segcache_clear(c), SEGCACHE_OK);
    CHECK_RC(segcache_set(c, KEY("after-clear"), val, sizeof val, 0), SEGCACHE_OK);
    CHECK_RC(segcache_close(c), SEGCACHE_OK);
}

/* An eviction policy keeps accepting writes when full. */
static void test_eviction_accepts_writes(void) {
    for (int32_t ev = SEGCACHE_EVICT_RANDOM; ev <= SEGCACHE_EVICT_S3FIFO; ev++) {
        segcache_t c = open_with(64 * 1024, 4096, ev);
        char key[32], val[200];
        memset(val, 'e', sizeof val);
        int fails = 0;
        for (int i = 0; i < 3000; i++) {
            snprintf(key, sizeof key, "ev-%d-%06d", ev, i);
            if (segcache_set(c, key, strlen(key), val, sizeof val, 0) != SEGCACHE_OK) fails++;
        }
        if (fails > 30) fprintf(stderr, "eviction %d: %d of 3000 sets failed\n", ev, fails);
        CHECK(fails <= 30);
        segcache_stats st;
        st.size = sizeof st;
        CHECK_RC(segcache_stats_get(c, &st), SEGCACHE_OK);
        CHECK(st.items < 3000 && st.items > 0);
        CHECK_RC(segcache_close(c), SEGCACHE_OK);
    }
}

/* ---- maintenance, stats ------------------------------------------------ */

static void test_clear_expire_stats(void) {
    segcache_options o;
    segcache_options_init(&o);
    o.heap_bytes = 8u << 20;
    segcache_t c = 0;
    CHECK_RC(segcache_open(&o, &c), SEGCACHE_OK);
    segcache_stats st, st2;
    char key[32], buf[16];
    size_t vlen;

    CHECK_RC(segcache_stats_get(c, NULL), SEGCACHE_EINVAL);
    st.size = SEGCACHE_STATS_MIN_SIZE - 1;
    CHECK_RC(segcache_stats_get(c, &st), SEGCACHE_EINVAL);
    st.size = 0;
    CHECK_RC(segcache_stats_get(c, &st), SEGCACHE_EINVAL);
    st.size = 5000;
    CHECK_RC(segcache_stats_get(c, &st), SEGCACHE_EINVAL);

    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    CHECK_RC(segcache_stats_get(c, &st), SEGCACHE_OK);
    CHECK(st.size == sizeof st);
    CHECK(st.items == 0 && st.item_bytes == 0);
    CHECK(st.heap_bytes == 8u << 20);
    CHECK(st.segments_total == 8);
    CHECK(st.hashtable_bytes > 0);

    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "stat-%03d", i);
        CHECK_RC(segcache_set(c, key, strlen(key), "value", 5, 0), SEGCACHE_OK);
    }
    for (int i = 0; i < 30; i++) { /* 30 hits */
        snprintf(key, sizeof key, "stat-%03d", i);
        CHECK_RC(segcache_get(c, key, strlen(key), buf, sizeof buf, &vlen, NULL), SEGCACHE_OK);
    }
    for (int i = 0; i < 5; i++) { /* 5 more hits: the key was found, the buffer too small */
        snprintf(key, sizeof key, "stat-%03d", i);
        CHECK_RC(segcache_get(c, key, strlen(key), buf, 2, &vlen, NULL), SEGCACHE_ERANGE);
    }
    for (int i = 0; i < 20; i++) { /* 20 misses */
        snprintf(key, sizeof key, "none-%03d", i);
        CHECK_RC(segcache_get(c, key, strlen(key), buf, sizeof buf, &vlen, NULL), SEGCACHE_ENOTFOUND);
    }
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof key, "stat-%03d", i);
        CHECK_RC(segcache_delete(c, key, strlen(key)), SEGCACHE_OK);
    }
    memset(&st2, 0, sizeof st2);
    st2.size = sizeof st2;
    CHECK_RC(segcache_stats_get(c, &st2), SEGCACHE_OK);
    CHECK(st2.items == 90);
    CHECK(st2.item_bytes >= 90 * (8 + 8 + 5));
    CHECK(st2.sets - st.sets == 100);
    CHECK(st2.gets - st.gets == 55);
    CHECK(st2.hits - st.hits == 35);
    CHECK(st2.misses - st.misses == 20);
    CHECK(st2.deletes - st.deletes == 10);
    CHECK(st2.segments_free < st2.segments_total);

    /* An older, smaller struct: only its fields are written. */
    segcache_stats old;
    memset(&old, 0xEE, sizeof old);
    old.size = SEGCACHE_STATS_MIN_SIZE;
    CHECK_RC(segcache_stats_get(c, &old), SEGCACHE_OK);
    CHECK(old.size == SEGCACHE_STATS_MIN_SIZE);
    CHECK(old.items == 90);
    CHECK(old.merged_segments == 0xEEEEEEEEEEEEEEEEull);
    CHECK(old.promoted_items == 0xEEEEEEEEEEEEEEEEull);
    /* A newer, larger struct: the known fields, and size says how many. */
    struct {
        segcache_stats s;
        uint64_t future;
    } big;
    memset(&big, 0xEE, sizeof big);
    big.s.size = sizeof big;
    CHECK_RC(segcache_stats_get(c, &big.s), SEGCACHE_OK);
    CHECK(big.s.size == sizeof(segcache_stats));
    CHECK(big.s.items == 90 && big.s.promoted_items != 0xEEEEEEEEEEEEEEEEull);
    CHECK(big.future == 0xEEEEEEEEEEEEEEEEull);

    CHECK_RC(segcache_expire(c), SEGCACHE_OK);
    CHECK_RC(segcache_clear(c), SEGCACHE_OK);
    st2.size = sizeof st2;
    CHECK_RC(segcache_stats_get(c, &st2), SEGCACHE_OK);
    CHECK(st2.items == 0 && st2.item_bytes == 0);
    CHECK_RC(segcache_get(c, KEY("stat-050"), buf, sizeof buf, &vlen, NULL), SEGCACHE_ENOTFOUND);
    CHECK_RC(segcache_set(c, KEY("stat-050"), "new", 3, 0), SEGCACHE_OK);
    CHECK_RC(segcache_close(c), SEGCACHE_OK);
}

/* ---- batches ----------------------------------------------------------- */

static void test_get_multi(void) {
    segcache_t c = open_default();
    enum { N = 200 }; /* more than one internal chunk of 64 */
    char keys_store[N][16];
    const void *keys[N];
    size_t klens[N], caps[N], vlens[N];
    char bufs_store[N][32];
    void *bufs[N];
    int sts[N];
    for (int i = 0; i < N; i++) {
        snprintf(keys_store[i], sizeof keys_store[i], "m-%04d", i);
        keys[i] = keys_store[i];
        klens[i] = strlen(keys_store[i]);
        bufs[i] = bufs_store[i];
        caps[i] = sizeof bufs_store[i];
        if (i % 3 != 0) { /* every third key is absent */
            char v[32];
            snprintf(v, sizeof v, "value-%d", i * 7);
            CHECK_RC(segcache_set(c, keys[i], klens[i], v, strlen(v), 0), SEGCACHE_OK);
        }
    }
    CHECK_RC(segcache_get_multi(c, N, keys, klens, bufs, caps, vlens, sts), SEGCACHE_OK);
    int good = 0;
    for (int i = 0; i < N; i++) {
        char v[32];
        snprintf(v, sizeof v, "value-%d", i * 7);
        if (i % 3 == 0)
            good += sts[i] == SEGCACHE_ENOTFOUND && vlens[i] == 0;
        else
            good += sts[i] == SEGCACHE_OK && vlens[i] == strlen(v) &&
                    memcmp(bufs_store[i], v, vlens[i]) == 0;
    }
    CHECK(good == N);

    /* Per-key statuses: small buffer, size query, bad keys, duplicates. */
    char k256[256];
    memset(k256, 'q', sizeof k256);
    char small[2], dup1[32], dup2[32];
    const void *k2[] = {"m-0001", "m-0001", "m-0002", "", NULL, k256, "m-0004", "m-0005", "m-0001"};
    size_t kl2[] = {6, 6, 6, 0, 3, 256, 6, 6, 6};
    void *b2[] = {small, NULL, dup1, dup1, dup1, dup1, NULL, dup2, dup2};
    size_t c2[] = {sizeof small, 0, sizeof dup1, sizeof dup1, sizeof dup1, sizeof dup1, 4,
                   sizeof dup2, sizeof dup2};
    size_t v2[9];
    int s2[9];
    memset(v2, 0x55, sizeof v2);
    CHECK_RC(segcache_get_multi(c, 9, k2, kl2, b2, c2, v2, s2), SEGCACHE_OK);
    CHECK_RC(s2[0], SEGCACHE_ERANGE);
    CHECK(v2[0] == strlen("value-7"));
    CHECK_RC(s2[1], SEGCACHE_ERANGE);
    CHECK(v2[1] == strlen("value-7"));
    CHECK_RC(s2[2], SEGCACHE_OK);
    CHECK(v2[2] == strlen("value-14"));
    CHECK_RC(s2[3], SEGCACHE_EINVAL);
    CHECK(v2[3] == 0);
    CHECK_RC(s2[4], SEGCACHE_EINVAL);
    CHECK_RC(s2[5], SEGCACHE_ETOOLARGE);
    CHECK_RC(s2[6], SEGCACHE_EINVAL); /* NULL buffer with cap 4 */
    CHECK_RC(s2[7], SEGCACHE_OK);
    CHECK_RC(s2[8], SEGCACHE_OK);
    CHECK(v2[8] == strlen("value-7") && memcmp(dup2, "value-7", v2[8]) == 0);

    /* n = 0 accepts NULL arrays; n > 0 does not. */
    CHECK_RC(segcache_get_multi(c, 0, NULL, NULL, NULL, NULL, NULL, NULL), SEGCACHE_OK);
    CHECK_RC(segcache_get_multi(c, 1, NULL, klens, bufs, caps, vlens, sts), SEGCACHE_EINVAL);
    CHECK_RC(segcache_get_multi(c, 1, keys, NULL, bufs, caps, vlens, sts), SEGCACHE_EINVAL);
    CHECK_RC(segcache_get_multi(c, 1, keys, klens, NULL, caps, vlens, sts), SEGCACHE_EINVAL);
    CHECK_RC(segcache_get_multi(c, 1, keys, klens, bufs, NULL, vlens, sts), SEGCACHE_EINVAL);
    CHECK_RC(segcache_get_multi(c, 1, keys, klens, bufs, caps, NULL, sts), SEGCACHE_EINVAL);
    CHECK_RC(segcache_get_multi(c, 1, keys, klens, bufs, caps, vlens, NULL), SEGCACHE_EINVAL);
    CHECK_RC(segcache_get_multi(c, SIZE_MAX, keys, klens, bufs, caps, vlens, sts), SEGCACHE_EINVAL);
    CHECK_RC(segcache_close(c), SEGCACHE_OK);
}

static void test_set_delete_multi(void) {
    segcache_t c = open_default();
    char k256[256];
    memset(k256, 's', sizeof k256);
    const void *keys[] = {"a", "b", "", k256, "c", "a"};
    size_t klens[] = {1, 1, 0, 256, 1, 1};
    const void *vals[] = {"1", "2", "3", "4", NULL, "last"};
    size_t vlens[] = {1, 1, 1, 1, 5, 4};
    uint32_t ttls[] = {0, 1, 0, 0, 0, 0};
    int sts[6];
    CHECK_RC(segcache_set_multi(c, 6, keys, klens, vals, vlens, ttls, sts), SEGCACHE_OK);
    CHECK_RC(sts[0], SEGCACHE_OK);
    CHECK_RC(sts[1], SEGCACHE_OK);
    CHECK_RC(sts[2], SEGCACHE_EINVAL);
    CHECK_RC(sts[3], SEGCACHE_ETOOLARGE);
    CHECK_RC(sts[4], SEGCACHE_EINVAL); /* NULL value with vlen 5 */
    CHECK_RC(sts[5], SEGCACHE_OK);
    char buf[16];
    CHECK_RC(get_str(c, "a", buf, sizeof buf), SEGCACHE_OK);
    CHECK(strcmp(buf, "last") == 0); /* stored in order */
    CHECK_RC(get_str(c, "b", buf, sizeof buf), SEGCACHE_OK);
    CHECK(strcmp(buf, "2") == 0);
    CHECK_RC(get_str(c, "c", buf, sizeof buf), SEGCACHE_ENOTFOUND);
    /* ttls NULL: never expire. */
    CHECK_RC(segcache_set_multi(c, 2, keys, klens, vals, vlens, NULL, sts), SEGCACHE_OK);
    CHECK(sts[0] == SEGCACHE_OK && sts[1] == SEGCACHE_OK);
    CHECK_RC(segcache_set_multi(c, 0, NULL, NULL, NULL, NULL, NULL, NULL), SEGCACHE_OK);
    CHECK_RC(segcache_set_multi(c, 1, keys, klens, vals, vlens, ttls, NULL), SEGCACHE_EINVAL);
    CHECK_RC(segcache_set_multi(c, 1, keys, klens, NULL, vlens, ttls, sts), SEGCACHE_EINVAL);

    const void *dk[] = {"a", "a", "zz", "", k256};
    size_t dkl[] = {1, 1, 2, 0, 256};
    int ds[5];
    CHECK_RC(segcache_delete_multi(c, 5, dk, dkl, ds), SEGCACHE_OK);
    CHECK_RC(ds[0], SEGCACHE_OK);
    CHECK_RC(ds[1], SEGCACHE_ENOTFOUND);
    CHECK_RC(ds[2], SEGCACHE_ENOTFOUND);
    CHECK_RC(ds[3], SEGCACHE_EINVAL);
    CHECK_RC(ds[4], SEGCACHE_ETOOLARGE);
    CHECK_RC(get_str(c, "a", buf, sizeof buf), SEGCACHE_ENOTFOUND);
    CHECK_RC(get_str(c, "b", buf, sizeof buf), SEGCACHE_OK);
    CHECK_RC(segcache_delete_multi(c, 0, NULL, NULL, NULL), SEGCACHE_OK);
    CHECK_RC(segcache_delete_multi(c, 1, dk, dkl, NULL), SEGCACHE_EINVAL);
    CHECK_RC(segcache_delete_multi(c, 1, NULL, dkl, ds), SEGCACHE_EINVAL);
    CHECK_RC(segcache_close(c), SEGCACHE_OK);
}

static void test_runtime_calls(void) {
    segcache_noop();
    int cur = segcache_set_max_procs(0);
    CHECK(cur >= 1);
    CHECK(segcache_set_max_procs(-3) == cur);
    CHECK(segcache_set_max_procs(1) == cur);
    CHECK(segcache_set_max_procs(0) == 1);
    CHECK(segcache_set_max_procs(cur) == 1);
    CHECK(segcache_set_max_procs(0) == cur);
}

/* ---- ENOMEM ------------------------------------------------------------ */

/* Child: under RLIMIT_AS of 4 GiB, a 64 GiB cache cannot be mapped; the
 * process keeps running and a small cache still works. (The Go runtime
 * itself reserves a few hundred MiB of address space, so the limit must
 * leave it room.) */
static int enomem_child(void) {
    segcache_options o;
    segcache_options_init(&o);
    o.heap_bytes = (uint64_t)64 << 30;
    o.segment_bytes = 8u << 20;
    segcache_t c = 0;
    CHECK_RC(segcache_open(&o, &c), SEGCACHE_ENOMEM);
    CHECK(c == 0);
    o.heap_bytes = 4u << 20;
    o.segment_bytes = 1u << 20;
    CHECK_RC(segcache_open(&o, &c), SEGCACHE_OK);
    CHECK_RC(segcache_set(c, KEY("k"), "v", 1, 0), SEGCACHE_OK);
    CHECK_RC(segcache_close(c), SEGCACHE_OK);
    return check_summary("test_capi enomem-child");
}

static void test_enomem(const char *self) {
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit rl = {(rlim_t)4 << 30, (rlim_t)4 << 30};
        setrlimit(RLIMIT_AS, &rl);
        execl(self, self, "enomem-child", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* ---- threads ----------------------------------------------------------- */

enum { THREADS = 4 };

struct counter_arg {
    segcache_t c;
    int iters;
    uint64_t max_seen;
};

static void *counter_worker(void *p) {
    struct counter_arg *a = p;
    for (int i = 0; i < a->iters; i++) {
        uint64_t r = 0;
        int rc = segcache_incr(a->c, KEY("counter"), 1, &r);
        if (rc != SEGCACHE_OK) {
            CHECK_RC(rc, SEGCACHE_OK);
            break;
        }
        if (r > a->max_seen) a->max_seen = r;
    }
    return NULL;
}

/* 4 threads increment one counter: no increment is lost. */
static void test_counter_stress(int iters) {
    segcache_t c = open_default();
    CHECK_RC(segcache_set(c, KEY("counter"), "1000", 4, 0), SEGCACHE_OK);
    pthread_t th[THREADS];
    struct counter_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (struct counter_arg){c, iters, 0};
        CHECK(pthread_create(&th[i], NULL, counter_worker, &args[i]) == 0);
    }
    uint64_t max = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        if (args[i].max_seen > max) max = args[i].max_seen;
    }
    char buf[32];
    CHECK_RC(get_str(c, "counter", buf, sizeof buf), SEGCACHE_OK);
    CHECK(strtoull(buf, NULL, 10) == 1000u + (uint64_t)THREADS * iters);
    CHECK(max == 1000u + (uint64_t)THREADS * iters);
    CHECK_RC(segcache_close(c), SEGCACHE_OK);
}

/* Checksummed values: each value is [len:4][writer:4][seq:8][payload][fnv:8];
 * a reader that ever sees a torn or mixed value fails the checksum. */
static uint64_t fnv1a(const unsigned char *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static size_t make_value(unsigned char *v, uint32_t writer, uint64_t seq) {
    uint32_t len = 24 + (uint32_t)((seq * 2654435761u + writer) % 200);
    memcpy(v, &len, 4);
    memcpy(v + 4, &writer, 4);
    memcpy(v + 8, &seq, 8);
    for (uint32_t i = 16; i < len - 8; i++) v[i] = (unsigned char)(seq + i * writer);
    uint64_t h = fnv1a(v, len - 8);
    memcpy(v + len - 8, &h, 8);
    return len;
}

static int value_ok(const unsigned char *v, size_t n) {
    uint32_t len;
    uint64_t h;
    if (n < 24) return 0;
    memcpy(&len, v, 4);
    if (len != n) return 0;
    memcpy(&h, v + n - 8, 8);
    return h == fnv1a(v, n - 8);
}

struct mix_arg {
    segcache_t c;
    uint32_t id;
    int iters;
    long corrupt, ok, other;
};

enum { MIX_KEYS = 64 };

static void *mix_worker(void *p) {
    struct mix_arg *a = p;
    unsigned char v[256], out[256];
    char key[16];
    uint64_t seed = a->id * 0x9E3779B97F4A7C15ull + 1;
    for (int i = 0; i < a->iters; i++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        int k = (int)(seed % MIX_KEYS);
        snprintf(key, sizeof key, "mix-%02d", k);
        size_t vlen = 0;
        int rc;
        switch (seed >> 60) {
        case 0: case 1: case 2: case 3: case 4: /* set */
            vlen = make_value(v, a->id, (uint64_t)i);
            rc = segcache_set(a->c, key, strlen(key), v, vlen, 0);
            if (rc == SEGCACHE_OK) a->ok++; else a->other++;
            break;
        case 5: /* delete */
            rc = segcache_delete(a->c, key, strlen(key));
            if (rc == SEGCACHE_OK || rc == SEGCACHE_ENOTFOUND) a->ok++; else a->other++;
            break;
        case 6: case 7: { /* get_multi of 4 keys */
            const void *ks[4];
            size_t kls[4], caps[4], vls[4];
            char kb[4][16];
            unsigned char ob[4][256];
            void *bs[4];
            int sts[4];
            for (int j = 0; j < 4; j++) {
                snprintf(kb[j], sizeof kb[j], "mix-%02d", (k + j * 17) % MIX_KEYS);
                ks[j] = kb[j], kls[j] = strlen(kb[j]), bs[j] = ob[j], caps[j] = sizeof ob[j];
            }
            rc = segcache_get_multi(a->c, 4, ks, kls, bs, caps, vls, sts);
            if (rc != SEGCACHE_OK) { a->other++; break; }
            for (int j = 0; j < 4; j++) {
                if (sts[j] == SEGCACHE_OK && !value_ok(ob[j], vls[j])) a->corrupt++;
                else if (sts[j] == SEGCACHE_OK || sts[j] == SEGCACHE_ENOTFOUND) a->ok++;
                else a->other++;
            }
            break;
        }
        default: /* get */
            rc = segcache_get(a->c, key, strlen(key), out, sizeof out, &vlen, NULL);
            if (rc == SEGCACHE_OK && !value_ok(out, vlen)) a->corrupt++;
            else if (rc == SEGCACHE_OK || rc == SEGCACHE_ENOTFOUND) a->ok++;
            else a->other++;
        }
    }
    return NULL;
}

static void test_checksum_stress(int iters) {
    /* A small cache so that eviction (merge) runs during the test. */
    segcache_t c = open_with(256 * 1024, 16 * 1024, SEGCACHE_EVICT_MERGE);
    pthread_t th[THREADS];
    struct mix_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (struct mix_arg){c, (uint32_t)i + 1, iters, 0, 0, 0};
        CHECK(pthread_create(&th[i], NULL, mix_worker, &args[i]) == 0);
    }
    long corrupt = 0, ok = 0, other = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        corrupt += args[i].corrupt, ok += args[i].ok, other += args[i].other;
    }
    CHECK(corrupt == 0);
    CHECK(other == 0);
    CHECK(ok > 0);
    CHECK_RC(segcache_close(c), SEGCACHE_OK);
}

/* close racing with calls on the same handle: no crash, only the statuses
 * an open or closed cache may give. */
struct race_arg {
    segcache_t c;
    atomic_int *stop;
    long bad, closed_seen;
};

static void *race_worker(void *p) {
    struct race_arg *a = p;
    unsigned char v[64], out[64];
    memset(v, 'r', sizeof v);
    const void *ks[3] = {"r1", "r2", "r3"};
    size_t kls[3] = {2, 2, 2}, caps[3] = {64, 64, 64}, vls[3];
    void *bs[3] = {out, out + 16, out + 32};
    int sts[3];
    for (uint64_t i = 0; !atomic_load(a->stop) || a->closed_seen < 10; i++) {
        int rc;
        switch (i % 5) {
        case 0: rc = segcache_set(a->c, KEY("r1"), v, 1 + i % 60, 0); break;
        case 1: rc = segcache_get(a->c, KEY("r1"), out, sizeof out, &vls[0], NULL); break;
        case 2: rc = segcache_incr(a->c, KEY("r2"), 1, NULL); break;
        case 3: rc = segcache_get_multi(a->c, 3, ks, kls, bs, caps, vls, sts); break;
        default: {
            segcache_stats st;
            st.size = sizeof st;
            rc = segcache_stats_get(a->c, &st);
        }
        }
        if (rc == SEGCACHE_EBADHANDLE) a->closed_seen++;
        else if (rc != SEGCACHE_OK && rc != SEGCACHE_ENOTFOUND && rc != SEGCACHE_ENOTNUMERIC)
            a->bad++;
    }
    return NULL;
}

static void test_close_race(int rounds) {
    for (int r = 0; r < rounds; r++) {
        segcache_t c = open_with(1u << 20, 64 * 1024, SEGCACHE_EVICT_MERGE);
        CHECK_RC(segcache_set(c, KEY("r2"), "0", 1, 0), SEGCACHE_OK);
        atomic_int stop = 0;
        pthread_t th[THREADS];
        struct race_arg args[THREADS];
        for (int i = 0; i < THREADS; i++) {
            args[i] = (struct race_arg){c, &stop, 0, 0};
            CHECK(pthread_create(&th[i], NULL, race_worker, &args[i]) == 0);
        }
        /* Let the workers get going: wait until the counter moved. */
        uint64_t n = 0;
        while (segcache_incr(c, KEY("r2"), 0, &n) == SEGCACHE_OK && n < 50) sched_yield();
        CHECK_RC(segcache_close(c), SEGCACHE_OK);
        atomic_store(&stop, 1);
        long bad = 0;
        for (int i = 0; i < THREADS; i++) {
            pthread_join(th[i], NULL);
            bad += args[i].bad;
        }
        CHECK(bad == 0);
        CHECK_RC(segcache_close(c), SEGCACHE_EBADHANDLE);
    }
}

/* Many short-lived threads, each making its first call into the library. */
static void *first_call_worker(void *p) {
    segcache_t c = *(segcache_t *)p;
    char key[32];
    snprintf(key, sizeof key, "thread-%lu", (unsigned long)pthread_self());
    if (segcache_incr(c, KEY("threads"), 1, NULL) != SEGCACHE_OK) return (void *)1;
    return NULL;
}

static void test_new_threads(int n) {
    segcache_t c = open_default();
    CHECK_RC(segcache_set(c, KEY("threads"), "0", 1, 0), SEGCACHE_OK);
    int failed = 0;
    for (int i = 0; i < n; i++) {
        pthread_t t;
        void *ret = NULL;
        if (pthread_create(&t, NULL, first_call_worker, &c) != 0) { failed++; continue; }
        pthread_join(t, &ret);
        failed += ret != NULL;
    }
    CHECK(failed == 0);
    char buf[32];
    CHECK_RC(get_str(c, "threads", buf, sizeof buf), SEGCACHE_OK);
    CHECK(strtol(buf, NULL, 10) == n);
    CHECK_RC(segcache_close(c), SEGCACHE_OK);
}

/* The hashtable grows while the cache runs: a cache opened with a 16-slot
 * table holds thousands of items, every one readable, and its stats count
 * the doublings and the bigger table. */
static void test_table_growth(void) {
    segcache_options o;
    segcache_options_init(&o);
    o.heap_bytes = 8u << 20;
    o.segment_bytes = 1u << 20;
    o.hash_power = 4;
    o.eviction = SEGCACHE_EVICT_NONE; /* nothing may be dropped */
    segcache_t c = 0;
    CHECK_RC(segcache_open(&o, &c), SEGCACHE_OK);
    segcache_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    CHECK_RC(segcache_stats_get(c, &st), SEGCACHE_OK);
    CHECK(st.hashtable_growths == 0);
    CHECK(st.hashtable_bytes == 16 * 8);
    char key[32], buf[16];
    size_t vlen;
    enum { N = 5000 };
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "grow-%05d", i);
        CHECK_RC(segcache_set(c, key, strlen(key), key, strlen(key), 0), SEGCACHE_OK);
    }
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "grow-%05d", i);
        CHECK_RC(segcache_get(c, key, strlen(key), buf, sizeof buf, &vlen, NULL), SEGCACHE_OK);
        CHECK(vlen == strlen(key) && memcmp(buf, key, vlen) == 0);
    }
    CHECK_RC(segcache_stats_get(c, &st), SEGCACHE_OK);
    CHECK(st.items == N);
    CHECK(st.hashtable_growths >= 8); /* 16 slots cannot hold 5000 keys: 2^13 at least */
    CHECK(st.hashtable_bytes >= (8192u * 8));
    CHECK(st.evicted_items == 0);
    CHECK_RC(segcache_close(c), SEGCACHE_OK);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "enomem-child") == 0) return enomem_child();
    if (argc > 2 && strcmp(argv[1], "stress") == 0) { /* test_capi stress N: soak */
        signal(SIGALRM, watchdog);
        setvbuf(stdout, NULL, _IONBF, 0);
        for (int i = 0, n = atoi(argv[2]); i < n; i++) {
            printf("round %d/%d\n", i + 1, n);
            RUN(test_counter_stress(10000));
            RUN(test_checksum_stress(50000));
            RUN(test_close_race(20));
        }
        return check_summary("test_capi stress");
    }
    /* SEGCACHE_TEST_QUICK shrinks the stress tests (used under valgrind). */
    int quick = getenv("SEGCACHE_TEST_QUICK") != NULL;
    setvbuf(stdout, NULL, _IONBF, 0);
    signal(SIGALRM, watchdog);

    RUN(test_version());
    RUN(test_strerror());
    RUN(test_options_init());
    RUN(test_open_close());
    RUN(test_prefault());
    RUN(test_bad_handles());
    RUN(test_set_get());
    RUN(test_get_buf());
    RUN(test_add_replace_cas_delete());
    RUN(test_incr_decr());
    RUN(test_ttl());
    RUN(test_limits());
    RUN(test_nospace());
    RUN(test_eviction_accepts_writes());
    RUN(test_clear_expire_stats());
    RUN(test_table_growth());
    RUN(test_get_multi());
    RUN(test_set_delete_multi());
    RUN(test_runtime_calls());
    if (!quick) RUN(test_enomem(argv[0]));
    RUN(test_counter_stress(quick ? 500 : 10000));
    RUN(test_checksum_stress(quick ? 2000 : 50000));
    RUN(test_close_race(quick ? 2 : 20));
    RUN(test_new_threads(quick ? 10 : 200));
    return check_summary("test_capi");
}
