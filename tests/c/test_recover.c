/* test_recover.c: every export recovers internal faults.
 *
 * Runs against the library built with -tags segcache_testhooks, in which
 * the key "segcache-test-panic" (and segcache_open with heap_bytes
 * 0xDEAD0000) makes the export panic inside Go. Each call must return
 * SEGCACHE_EINTERNAL, the process must keep running, and the cache must
 * keep working, the batch calls included. */
#include <string.h>

#include <segcache.h>

#include "check.h"

#define PK "segcache-test-panic"
#define PKLEN (sizeof(PK) - 1)

int main(void) {
    segcache_options o;
    segcache_options_init(&o);
    o.heap_bytes = 0xDEAD0000u;
    segcache_t c = 7;
    CHECK_RC(segcache_open(&o, &c), SEGCACHE_EINTERNAL);
    CHECK(c == 0);
    CHECK_RC(segcache_open(NULL, &c), SEGCACHE_OK);

    char buf[32];
    size_t vlen;
    uint64_t r;
    for (int round = 0; round < 3; round++) {
        CHECK_RC(segcache_set(c, PK, PKLEN, "v", 1, 0), SEGCACHE_EINTERNAL);
        CHECK_RC(segcache_add(c, PK, PKLEN, "v", 1, 0), SEGCACHE_EINTERNAL);
        CHECK_RC(segcache_replace(c, PK, PKLEN, "v", 1, 0), SEGCACHE_EINTERNAL);
        CHECK_RC(segcache_cas(c, PK, PKLEN, "v", 1, 0, 1), SEGCACHE_EINTERNAL);
        CHECK_RC(segcache_get(c, PK, PKLEN, buf, sizeof buf, &vlen, NULL), SEGCACHE_EINTERNAL);
        segcache_getbuf gb = {.cache = c, .buf = buf, .cap = sizeof buf};
        CHECK_RC(segcache_get_buf(&gb, PK, PKLEN), SEGCACHE_EINTERNAL);
        CHECK_RC(segcache_delete(c, PK, PKLEN), SEGCACHE_EINTERNAL);
        CHECK_RC(segcache_delete_cas(c, PK, PKLEN, 1), SEGCACHE_EINTERNAL);
        CHECK_RC(segcache_store(c, SEGCACHE_STORE_SET, PK, PKLEN, "v", 1, 0, 0, &r), SEGCACHE_EINTERNAL);
        CHECK_RC(segcache_incr(c, PK, PKLEN, 1, &r), SEGCACHE_EINTERNAL);
        CHECK_RC(segcache_decr(c, PK, PKLEN, 1, &r), SEGCACHE_EINTERNAL);

        /* A panic in the middle of a batch. */
        char b0[32], b1[32], b2[32];
        const void *keys[3] = {"a", PK, "b"};
        size_t klens[3] = {1, PKLEN, 1}, caps[3] = {32, 32, 32}, vlens[3];
        void *bufs[3] = {b0, b1, b2};
        const void *vals[3] = {"1", "2", "3"};
        size_t vls[3] = {1, 1, 1};
        int sts[3];
        CHECK_RC(segcache_get_multi(c, 3, keys, klens, bufs, caps, vlens, sts), SEGCACHE_EINTERNAL);
        CHECK_RC(segcache_set_multi(c, 3, keys, klens, vals, vls, NULL, sts), SEGCACHE_EINTERNAL);
        CHECK_RC(segcache_delete_multi(c, 3, keys, klens, sts), SEGCACHE_EINTERNAL);

        /* The library and the cache still work. */
        CHECK_RC(segcache_set(c, "a", 1, "alpha", 5, 0), SEGCACHE_OK);
        CHECK_RC(segcache_set(c, "b", 1, "beta", 4, 0), SEGCACHE_OK);
        keys[1] = "a";
        klens[1] = 1;
        CHECK_RC(segcache_get_multi(c, 3, keys, klens, bufs, caps, vlens, sts), SEGCACHE_OK);
        CHECK(sts[0] == SEGCACHE_OK && vlens[0] == 5 && memcmp(b0, "alpha", 5) == 0);
        CHECK(sts[1] == SEGCACHE_OK && vlens[1] == 5 && memcmp(b1, "alpha", 5) == 0);
        CHECK(sts[2] == SEGCACHE_OK && vlens[2] == 4 && memcmp(b2, "beta", 4) == 0);
        CHECK_RC(segcache_get(c, "b", 1, buf, sizeof buf, &vlen, NULL), SEGCACHE_OK);
    }
    CHECK(strcmp(segcache_strerror(SEGCACHE_EINTERNAL), segcache_strerror(12345)) != 0);
    CHECK_RC(segcache_close(c), SEGCACHE_OK);
    return check_summary("test_recover");
}
