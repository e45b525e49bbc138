/* test_hardening.c: the library refuses, with a clear status, what once
 * crashed, hung or leaked: absurd segcache_set_max_procs values, use in a
 * forked child, a hashtable larger than the heap, address space kept after
 * close; and what a failed *_multi call leaves in its status array.
 *
 * Usage: test_hardening [as-child NAME]
 * Prints "test_hardening: N passed, N failed" and exits 0 only if nothing
 * failed. The address-space check re-executes this binary ("as-child
 * address-space") under RLIMIT_AS, forking and exec'ing at once. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <segcache.h>

#include "check.h"
#include "run.h"

#define KEY(s) (s), (sizeof(s) - 1)

/* ---- segcache_set_max_procs --------------------------------------------- */

/* The values of the issue: 2^31-1 crashed the host, 100000 hung and
 * aborted, 10000 cost 275 MB. Each is now EINVAL and changes nothing. */
static void test_set_max_procs_range(void) {
    int cur = segcache_set_max_procs(0);
    CHECK(cur >= 1);
    const int absurd[] = {2147483647, 100000, 10000};
    for (size_t i = 0; i < sizeof absurd / sizeof absurd[0]; i++) {
        CHECK_RC(segcache_set_max_procs(absurd[i]), SEGCACHE_EINVAL);
        CHECK(segcache_set_max_procs(0) == cur);
    }
    /* The documented limit: max(256, 4 x the CPUs the process may use). */
    cpu_set_t set;
    CHECK(sched_getaffinity(0, sizeof set, &set) == 0);
    int limit = 4 * CPU_COUNT(&set);
    if (limit < 256) limit = 256;
    CHECK_RC(segcache_set_max_procs(limit + 1), SEGCACHE_EINVAL);
    CHECK(segcache_set_max_procs(limit) == cur);
    CHECK(segcache_set_max_procs(0) == limit);
    CHECK(segcache_set_max_procs(cur) == limit);
    CHECK(segcache_set_max_procs(0) == cur);
    /* The library still works. */
    segcache_t c = 0;
    CHECK_RC(segcache_open(NULL, &c), SEGCACHE_OK);
    CHECK_RC(segcache_set(c, KEY("k"), "v", 1, 0), SEGCACHE_OK);
    CHECK_RC(segcache_close(c), SEGCACHE_OK);
}

/* ---- hash_power against heap_bytes ---------------------------------------- */

static int open_hash_power(uint64_t heap, uint32_t power) {
    segcache_options o;
    segcache_options_init(&o);
    o.heap_bytes = heap;
    o.segment_bytes = 64u << 10;
    o.hash_power = power;
    segcache_t c = 0;
    int rc = segcache_open(&o, &c);
    if (rc == SEGCACHE_OK) CHECK_RC(segcache_close(c), SEGCACHE_OK);
    return rc;
}

/* A 1 MiB cache could map a 4 GiB table (2^29 slots). A table may now be
 * at most as large as the heap: 2^17 slots of 8 bytes for 1 MiB. */
static void test_hash_power_bound(void) {
    CHECK_RC(open_hash_power(1u << 20, 29), SEGCACHE_EINVAL);
    CHECK_RC(open_hash_power(1u << 20, 18), SEGCACHE_EINVAL);
    CHECK_RC(open_hash_power(1u << 20, 17), SEGCACHE_OK);
    CHECK_RC(open_hash_power(1u << 20, 0), SEGCACHE_OK);
    CHECK_RC(open_hash_power((uint64_t)1 << 32, 29), SEGCACHE_OK);
}

/* segcache_options_init runs in C (it must work in a forked child), apart
 * from the engine's own defaults: a cache opened with its struct must be
 * the cache opened with NULL options. */
static void test_options_init_matches_engine(void) {
    segcache_options o;
    segcache_options_init(&o);
    segcache_t a = 0, b = 0;
    CHECK_RC(segcache_open(&o, &a), SEGCACHE_OK);
    CHECK_RC(segcache_open(NULL, &b), SEGCACHE_OK);
    segcache_stats sa = {.size = sizeof sa}, sb = {.size = sizeof sb};
    CHECK_RC(segcache_stats_get(a, &sa), SEGCACHE_OK);
    CHECK_RC(segcache_stats_get(b, &sb), SEGCACHE_OK);
    CHECK(sa.heap_bytes == sb.heap_bytes && sa.heap_bytes == o.heap_bytes);
    CHECK(sa.hashtable_bytes == sb.hashtable_bytes);
    CHECK(sa.segments_total == sb.segments_total && sa.segments_total == o.heap_bytes / o.segment_bytes);
    CHECK_RC(segcache_close(a), SEGCACHE_OK);
    CHECK_RC(segcache_close(b), SEGCACHE_OK);
}

/* ---- *_multi calls that fail as a whole ------------------------------------ */

enum { N = 4, SENTINEL = 12345 };

static void fill(int *st, size_t *vl) {
    for (int i = 0; i < N; i++) {
        st[i] = SENTINEL;
        if (vl) vl[i] = SENTINEL;
    }
}

static int untouched(const int *st, const size_t *vl) {
    for (int i = 0; i < N; i++) {
        if (st[i] != SENTINEL || (vl && vl[i] != SENTINEL)) return 0;
    }
    return 1;
}

/* Calls every *_multi function on handle h and checks that each returns
 * want and leaves statuses[] and vlens[] (and the buffers) untouched. With
 * a_null, each call gets one NULL array (bufs, vals, keys), and with huge
 * a count over INT32_MAX: both make the call SEGCACHE_EINVAL. */
static void check_multi_untouched(segcache_t h, int want, int a_null, int huge) {
    const void *keys[N] = {"a", "b", "c", "d"};
    size_t klens[N] = {1, 1, 1, 1};
    const void *vals[N] = {"1", "2", "3", "4"};
    size_t vlens_in[N] = {1, 1, 1, 1};
    char b[N][8];
    memset(b, 'x', sizeof b);
    void *bufs[N] = {b[0], b[1], b[2], b[3]};
    size_t caps[N] = {8, 8, 8, 8};
    size_t vlens[N];
    int st[N];
    size_t n = huge ? (size_t)1 << 40 : N;

    fill(st, vlens);
    CHECK_RC(segcache_get_multi(h, n, keys, klens, a_null ? NULL : bufs, caps, vlens, st), want);
    CHECK(untouched(st, vlens));
    CHECK(b[0][0] == 'x' && b[3][7] == 'x');
    fill(st, NULL);
    CHECK_RC(segcache_set_multi(h, n, keys, klens, a_null ? NULL : vals, vlens_in, NULL, st), want);
    CHECK(untouched(st, NULL));
    fill(st, NULL);
    CHECK_RC(segcache_delete_multi(h, n, a_null ? NULL : keys, klens, st), want);
    CHECK(untouched(st, NULL));
}

static void test_multi_whole_failure(void) {
    segcache_t c = 0;
    CHECK_RC(segcache_open(NULL, &c), SEGCACHE_OK);
    CHECK_RC(segcache_set(c, KEY("a"), "A", 1, 0), SEGCACHE_OK);
    /* Forged handles: off-by-one generation, index beyond the table. */
    check_multi_untouched(c ^ ((uint64_t)1 << 32), SEGCACHE_EBADHANDLE, 0, 0);
    check_multi_untouched(c + 1, SEGCACHE_EBADHANDLE, 0, 0);
    check_multi_untouched(0, SEGCACHE_EBADHANDLE, 0, 0);
    /* EINVAL: a NULL array, or too many keys. */
    check_multi_untouched(c, SEGCACHE_EINVAL, 1, 0);
    check_multi_untouched(c, SEGCACHE_EINVAL, 0, 1);
    /* Nothing was stored or deleted by the failed calls. */
    char out[8];
    size_t vlen = 0;
    CHECK_RC(segcache_get(c, KEY("a"), out, sizeof out, &vlen, NULL), SEGCACHE_OK);
    CHECK_RC(segcache_get(c, KEY("b"), out, sizeof out, &vlen, NULL), SEGCACHE_ENOTFOUND);

    /* A closed handle. */
    CHECK_RC(segcache_close(c), SEGCACHE_OK);
    check_multi_untouched(c, SEGCACHE_EBADHANDLE, 0, 0);
}

/* ---- fork ------------------------------------------------------------------ */

/* In the child, every call that returns a status returns EFORKED at once
 * (before this change the child hung in the Go runtime: the alarm turns a
 * hang into a failure); strerror, version and options_init still work. */
static int forked_child(segcache_t parent_cache) {
    alarm(60);
    CHECK_RC(segcache_set(parent_cache, KEY("k"), "child", 5, 0), SEGCACHE_EFORKED);
    char buf[16];
    size_t vlen = 777;
    CHECK_RC(segcache_get(parent_cache, KEY("k"), buf, sizeof buf, &vlen, NULL), SEGCACHE_EFORKED);
    CHECK(vlen == 777);
    segcache_getbuf gb = {.cache = parent_cache, .buf = buf, .cap = sizeof buf, .vlen = 777};
    CHECK_RC(segcache_get_buf(&gb, KEY("k")), SEGCACHE_EFORKED);
    CHECK(gb.vlen == 777);
    CHECK_RC(segcache_delete(parent_cache, KEY("k")), SEGCACHE_EFORKED);
    CHECK_RC(segcache_delete_cas(parent_cache, KEY("k"), 1), SEGCACHE_EFORKED);
    uint64_t tok = 5;
    CHECK_RC(segcache_store(parent_cache, SEGCACHE_STORE_SET, KEY("k"), "child", 5, 0, 0, &tok), SEGCACHE_EFORKED);
    CHECK(tok == 5);
    uint64_t r = 0;
    CHECK_RC(segcache_incr(parent_cache, KEY("n"), 1, &r), SEGCACHE_EFORKED);
    CHECK_RC(segcache_expire(parent_cache), SEGCACHE_EFORKED);
    CHECK_RC(segcache_clear(parent_cache), SEGCACHE_EFORKED);
    segcache_stats s = {.size = sizeof s};
    CHECK_RC(segcache_stats_get(parent_cache, &s), SEGCACHE_EFORKED);
    segcache_t c = 99;
    CHECK_RC(segcache_open(NULL, &c), SEGCACHE_EFORKED);
    CHECK(c == 99);
    CHECK_RC(segcache_close(parent_cache), SEGCACHE_EFORKED);
    CHECK_RC(segcache_close(0), SEGCACHE_EFORKED);
    CHECK_RC(segcache_set_max_procs(1), SEGCACHE_EFORKED);
    check_multi_untouched(parent_cache, SEGCACHE_EFORKED, 0, 0);
    segcache_noop();
    /* Plain C: they work in the child. */
    const char *t = segcache_strerror(SEGCACHE_EFORKED);
    static const char want[] = "called in a child process after fork()";
    CHECK(strncmp(t, want, sizeof want - 1) == 0);
    CHECK(strcmp(segcache_strerror(SEGCACHE_ENOTFOUND), "key not found") == 0);
    CHECK(strcmp(segcache_strerror(-12), "unknown segcache status") == 0);
    CHECK(segcache_version() ==
          SEGCACHE_VERSION_MAJOR * 10000 + SEGCACHE_VERSION_MINOR * 100 + SEGCACHE_VERSION_PATCH);
    segcache_options o;
    memset(&o, 0xff, sizeof o);
    segcache_options_init(&o);
    CHECK(o.size == sizeof o && o.heap_bytes == 64u << 20 && o.eviction == SEGCACHE_EVICT_S3FIFO);
    fflush(stdout);
    fflush(stderr);
    return atomic_load(&check_failed) == 0 ? 0 : 1;
}

static void test_fork(void) {
    segcache_t c = 0;
    CHECK_RC(segcache_open(NULL, &c), SEGCACHE_OK);
    CHECK_RC(segcache_set(c, KEY("k"), "parent", 6, 0), SEGCACHE_OK);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) _exit(forked_child(c));
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (WIFSIGNALED(status)) fprintf(stderr, "forked child killed by signal %d\n", WTERMSIG(status));
    /* The parent goes on, its cache intact. */
    char buf[16];
    size_t vlen = 0;
    CHECK_RC(segcache_get(c, KEY("k"), buf, sizeof buf, &vlen, NULL), SEGCACHE_OK);
    CHECK(vlen == 6 && memcmp(buf, "parent", 6) == 0);
    CHECK_RC(segcache_set(c, KEY("k2"), "v", 1, 0), SEGCACHE_OK);
    segcache_t c2 = 0;
    CHECK_RC(segcache_open(NULL, &c2), SEGCACHE_OK);
    CHECK_RC(segcache_close(c2), SEGCACHE_OK);
    CHECK_RC(segcache_close(c), SEGCACHE_OK);
}

/* ---- address space returned on close --------------------------------------- */

/* Child under RLIMIT_AS: the loop, caches of 500 sizes (128 KiB to
 * 32 MiB, 7.7 GiB in all) opened and closed one at a time, then a default
 * cache. When closed caches kept their mappings, the loop ran out of
 * address space at cycle 283 under this limit and the default open then
 * failed too. */
static int address_space_child(void) {
    int failed_at = -1;
    for (int i = 0; i < 500; i++) {
        segcache_options o;
        segcache_options_init(&o);
        o.heap_bytes = (uint64_t)(i + 2) * (64u << 10);
        o.segment_bytes = 64u << 10;
        segcache_t h = 0;
        int rc = segcache_open(&o, &h);
        if (rc != SEGCACHE_OK) {
            failed_at = i;
            fprintf(stderr, "open of cycle %d: %s\n", i, segcache_strerror(rc));
            break;
        }
        CHECK_RC(segcache_set(h, KEY("k"), "v", 1, 0), SEGCACHE_OK);
        CHECK_RC(segcache_close(h), SEGCACHE_OK);
    }
    CHECK(failed_at == -1);
    segcache_t c = 0;
    CHECK_RC(segcache_open(NULL, &c), SEGCACHE_OK);
    CHECK_RC(segcache_set(c, KEY("k"), "v", 1, 0), SEGCACHE_OK);
    CHECK_RC(segcache_close(c), SEGCACHE_OK);
    return check_summary("test_hardening address-space child");
}

/* The limit leaves room for the Go runtime's own reservations (a few
 * hundred MiB, more on machines with many CPUs: thread stacks) and one
 * default cache, not for 7.7 GiB of retired maps. */
#define ADDRESS_SPACE_LIMIT ((rlim_t)4 << 30)

static void test_address_space(const char *self) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit rl = {ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT};
        setrlimit(RLIMIT_AS, &rl);
        execl(self, self, "as-child", "address-space", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* ---- main ------------------------------------------------------------------ */

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    signal(SIGALRM, watchdog);
    if (argc > 2 && strcmp(argv[1], "as-child") == 0 && strcmp(argv[2], "address-space") == 0) {
        return address_space_child();
    }
    RUN(test_set_max_procs_range());
    RUN(test_hash_power_bound());
    RUN(test_options_init_matches_engine());
    RUN(test_multi_whole_failure());
    RUN(test_fork());
    RUN(test_address_space(argv[0]));
    return check_summary("test_hardening");
}
