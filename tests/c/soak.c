/* soak.c: a randomized, model-checked workload through the C ABI, for a
 * configurable time (make soak SOAK_SECONDS=600; make test runs it for a few
 * seconds).
 *
 * Threads:
 *  - workers: each owns a disjoint key set and checks every answer of the
 *    shared cache against its own reference map. Values carry the key, a
 *    version and a checksum, so a torn, foreign or stale value is caught; a
 *    key the model holds may only be missing because the cache evicted it
 *    (counted, and checked against the evicted_items counter).
 *  - forgers: call every export with handles that can never be valid
 *    (random indexes beyond the table, generation 0, the live handle's
 *    generation plus one) and require SEGCACHE_EBADHANDLE, and check that
 *    the live cache is still there.
 *  - a racer: opens caches and closes them while hammer threads use them;
 *    any status is allowed during the race except a crash or a corrupt
 *    value, and after the close every call with the handle must be
 *    SEGCACHE_EBADHANDLE.
 * Exits 0 only if nothing was wrong; prints the operation and check counts.
 *
 * Usage: soak [SECONDS [WORKERS]] (defaults: $SOAK_SECONDS or 10, and 4). */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <segcache.h>

static atomic_long n_ops, n_checks, n_failures, n_evicted_seen, n_race_rounds;
static atomic_int stop;

#define FAIL(...)                                                   \
    do {                                                            \
        if (atomic_fetch_add(&n_failures, 1) < 20) {                \
            fprintf(stderr, "soak: %s:%d: ", __FILE__, __LINE__);   \
            fprintf(stderr, __VA_ARGS__);                           \
            fputc('\n', stderr);                                    \
        }                                                           \
    } while (0)

/* CHECK counts a check and reports a failed one. */
#define CHECK(cond, ...)              \
    do {                              \
        atomic_fetch_add(&n_checks, 1); \
        if (!(cond)) FAIL(__VA_ARGS__); \
    } while (0)

static uint64_t rnd(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t fnv1a(const unsigned char *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* ---- self-checking values ----------------------------------------------------
 * Layout: owner (4) | key index (4) | version (8) | payload | fnv1a (8). */
enum { VHDR = 16, VMIN = VHDR + 8, VMAX = 1024 };

static size_t make_value(unsigned char *v, uint32_t owner, uint32_t key, uint64_t version) {
    uint64_t s = version * 31 + key;
    size_t n = VMIN + rnd(&s) % (VMAX - VMIN + 1);
    memcpy(v, &owner, 4);
    memcpy(v + 4, &key, 4);
    memcpy(v + 8, &version, 8);
    for (size_t i = VHDR; i < n - 8; i++) v[i] = (unsigned char)rnd(&s);
    uint64_t h = fnv1a(v, n - 8);
    memcpy(v + n - 8, &h, 8);
    return n;
}

/* value_ok checks the checksum and returns the version through *version. */
static int value_ok(const unsigned char *v, size_t n, uint32_t owner, uint32_t key, uint64_t *version) {
    if (n < VMIN || n > VMAX) return 0;
    uint64_t h;
    memcpy(&h, v + n - 8, 8);
    if (h != fnv1a(v, n - 8)) return 0;
    uint32_t o, k;
    memcpy(&o, v, 4);
    memcpy(&k, v + 4, 4);
    memcpy(version, v + 8, 8);
    return o == owner && k == key;
}

static size_t key_of(char *buf, uint32_t owner, uint32_t key) {
    return (size_t)sprintf(buf, "w%02u:k%05u", owner, key);
}

/* ---- workers ------------------------------------------------------------------ */

enum { KEYS = 3000 };

struct worker {
    segcache_t c;
    uint32_t id;
    uint64_t version[KEYS]; /* 0: absent; else the version last stored */
    uint64_t next_version;
    long evictions; /* model-present keys the cache no longer had */
};

/* missing records a key the model holds but the cache no longer has: only
 * eviction may do that (the final check compares with the cache's counters). */
static void missing(struct worker *w, uint32_t k) {
    w->evictions++;
    w->version[k] = 0;
}

static void check_get(struct worker *w, uint32_t k, int rc, const unsigned char *buf, size_t vlen) {
    uint64_t ver = 0;
    if (rc == SEGCACHE_OK) {
        CHECK(value_ok(buf, vlen, w->id, k, &ver), "worker %u key %u: corrupt or foreign value (%zu bytes)", w->id, k,
              vlen);
        CHECK(ver == w->version[k], "worker %u key %u: version %" PRIu64 ", model %" PRIu64, w->id, k, ver,
              w->version[k]);
    } else if (rc == SEGCACHE_ENOTFOUND) {
        if (w->version[k] != 0) missing(w, k);
    } else {
        FAIL("worker %u key %u: get = %d (%s)", w->id, k, rc, segcache_strerror(rc));
    }
}

static void store(struct worker *w, uint32_t k, int op) {
    char key[32];
    unsigned char v[VMAX];
    size_t kl = key_of(key, w->id, k);
    uint64_t ver = ++w->next_version;
    size_t n = make_value(v, w->id, k, ver);
    int rc;
    switch (op) {
    case 0:
        rc = segcache_set(w->c, key, kl, v, n, 0);
        CHECK(rc == SEGCACHE_OK || rc == SEGCACHE_ENOSPACE, "set = %d", rc);
        if (rc == SEGCACHE_OK) w->version[k] = ver;
        break;
    case 1:
        rc = segcache_add(w->c, key, kl, v, n, 0);
        if (rc == SEGCACHE_OK) {
            if (w->version[k] != 0) missing(w, k);
            w->version[k] = ver;
        } else {
            CHECK(rc == SEGCACHE_EEXISTS && w->version[k] != 0, "worker %u key %u: add = %d, model %" PRIu64, w->id, k,
                  rc, w->version[k]);
        }
        break;
    default:
        rc = segcache_replace(w->c, key, kl, v, n, 0);
        if (rc == SEGCACHE_OK) {
            CHECK(w->version[k] != 0, "worker %u key %u: replace of an absent key succeeded", w->id, k);
            w->version[k] = ver;
        } else {
            CHECK(rc == SEGCACHE_ENOTFOUND, "replace = %d", rc);
            if (w->version[k] != 0) missing(w, k);
        }
    }
}

static void cas_op(struct worker *w, uint32_t k) {
    char key[32];
    unsigned char buf[VMAX], v[VMAX];
    size_t kl = key_of(key, w->id, k), vlen = 0;
    uint64_t token = 0;
    int rc = segcache_get(w->c, key, kl, buf, sizeof buf, &vlen, &token);
    check_get(w, k, rc, buf, vlen);
    if (rc != SEGCACHE_OK) return;
    uint64_t ver = ++w->next_version;
    size_t n = make_value(v, w->id, k, ver);
    rc = segcache_cas(w->c, key, kl, v, n, 0, token);
    if (rc == SEGCACHE_OK) {
        w->version[k] = ver;
    } else if (rc == SEGCACHE_ENOTFOUND) {
        missing(w, k);
    } else {
        /* Only this thread writes the key: the token cannot be stale. */
        FAIL("worker %u key %u: cas with a fresh token = %d (%s)", w->id, k, rc, segcache_strerror(rc));
    }
    /* A wrong token is refused and changes nothing. */
    rc = segcache_cas(w->c, key, kl, v, n, 0, token);
    CHECK(rc == SEGCACHE_EEXISTS || rc == SEGCACHE_ENOTFOUND, "cas with a used token = %d", rc);
    if (rc == SEGCACHE_ENOTFOUND && w->version[k] != 0) missing(w, k);
}

static void del(struct worker *w, uint32_t k) {
    char key[32];
    size_t kl = key_of(key, w->id, k);
    int rc = segcache_delete(w->c, key, kl);
    if (rc == SEGCACHE_OK) {
        CHECK(w->version[k] != 0, "worker %u key %u: delete of an absent key succeeded", w->id, k);
    } else {
        CHECK(rc == SEGCACHE_ENOTFOUND, "delete = %d", rc);
        if (w->version[k] != 0) missing(w, k);
    }
    w->version[k] = 0;
}

/* Counters: key "w%02u:n" holds a decimal number the model tracks. */
static void counter(struct worker *w, uint64_t *model, int *present, uint64_t r) {
    char key[32];
    size_t kl = (size_t)sprintf(key, "w%02u:n", w->id);
    uint64_t delta = r % 1000, got = 0;
    int decr = (r >> 20) & 1;
    int rc = decr ? segcache_decr(w->c, key, kl, delta, &got) : segcache_incr(w->c, key, kl, delta, &got);
    if (rc == SEGCACHE_ENOTFOUND) {
        if (*present) w->evictions++;
        rc = segcache_set(w->c, key, kl, "7", 1, 0);
        CHECK(rc == SEGCACHE_OK || rc == SEGCACHE_ENOSPACE, "set counter = %d", rc);
        *model = 7;
        *present = rc == SEGCACHE_OK;
        return;
    }
    CHECK(rc == SEGCACHE_OK, "incr/decr = %d", rc);
    uint64_t want = decr ? (*model > delta ? *model - delta : 0) : *model + delta;
    CHECK(*present && got == want, "worker %u counter: %" PRIu64 ", model %" PRIu64, w->id, got, want);
    *model = got;
}

enum { BATCH = 16 };

static void batch(struct worker *w, uint64_t *s) {
    char keys[BATCH][32];
    const void *kp[BATCH];
    size_t kl[BATCH], caps[BATCH], vlens[BATCH];
    uint32_t ks[BATCH];
    static _Thread_local unsigned char bufs[BATCH][VMAX];
    void *bp[BATCH];
    int st[BATCH];
    /* Distinct keys, so the model's order of effects is the batch's. */
    for (int i = 0; i < BATCH; i++) {
        ks[i] = (uint32_t)((rnd(s) % (KEYS / BATCH)) * BATCH + (uint32_t)i);
        kl[i] = key_of(keys[i], w->id, ks[i]);
        kp[i] = keys[i];
        bp[i] = bufs[i];
        caps[i] = VMAX;
    }
    int kind = (int)(rnd(s) % 3);
    if (kind == 0) {
        CHECK(segcache_get_multi(w->c, BATCH, kp, kl, bp, caps, vlens, st) == SEGCACHE_OK, "get_multi failed");
        for (int i = 0; i < BATCH; i++) check_get(w, ks[i], st[i], bufs[i], vlens[i]);
    } else if (kind == 1) {
        const void *vp[BATCH];
        size_t vl[BATCH];
        uint64_t ver[BATCH];
        for (int i = 0; i < BATCH; i++) {
            ver[i] = ++w->next_version;
            vl[i] = make_value(bufs[i], w->id, ks[i], ver[i]);
            vp[i] = bufs[i];
        }
        CHECK(segcache_set_multi(w->c, BATCH, kp, kl, vp, vl, NULL, st) == SEGCACHE_OK, "set_multi failed");
        for (int i = 0; i < BATCH; i++) {
            CHECK(st[i] == SEGCACHE_OK || st[i] == SEGCACHE_ENOSPACE, "set_multi status %d", st[i]);
            if (st[i] == SEGCACHE_OK) w->version[ks[i]] = ver[i];
        }
    } else {
        CHECK(segcache_delete_multi(w->c, BATCH, kp, kl, st) == SEGCACHE_OK, "delete_multi failed");
        for (int i = 0; i < BATCH; i++) {
            if (st[i] == SEGCACHE_OK) {
                CHECK(w->version[ks[i]] != 0, "delete_multi removed an absent key");
            } else {
                CHECK(st[i] == SEGCACHE_ENOTFOUND, "delete_multi status %d", st[i]);
                if (w->version[ks[i]] != 0) w->evictions++;
            }
            w->version[ks[i]] = 0;
        }
    }
}

static void *worker_main(void *p) {
    struct worker *w = p;
    uint64_t s = 0xC0FFEEull * (w->id + 1), counter_model = 0;
    int counter_present = 0;
    long ops = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        uint64_t r = rnd(&s);
        uint32_t k = (uint32_t)(r % KEYS);
        int what = (int)((r >> 32) % 100);
        if (what < 40) {
            char key[32];
            unsigned char buf[VMAX];
            size_t kl = key_of(key, w->id, k), vlen = 0;
            /* Sometimes with a buffer too small: ERANGE and the length. */
            size_t cap = (r >> 48) % 8 == 0 ? 8 : sizeof buf;
            int rc = segcache_get(w->c, key, kl, buf, cap, &vlen, NULL);
            if (rc == SEGCACHE_ERANGE) {
                CHECK(w->version[k] != 0 && vlen > cap && vlen <= VMAX, "ERANGE with vlen %zu", vlen);
            } else {
                check_get(w, k, rc, buf, vlen);
            }
        } else if (what < 65) {
            store(w, k, 0);
        } else if (what < 70) {
            store(w, k, 1);
        } else if (what < 75) {
            store(w, k, 2);
        } else if (what < 80) {
            cas_op(w, k);
        } else if (what < 88) {
            del(w, k);
        } else if (what < 93) {
            counter(w, &counter_model, &counter_present, r);
        } else {
            batch(w, &s);
        }
        ops++;
    }
    /* Final sweep: every key the model holds is there or was evicted. */
    for (uint32_t k = 0; k < KEYS; k++) {
        char key[32];
        unsigned char buf[VMAX];
        size_t kl = key_of(key, w->id, k), vlen = 0;
        int rc = segcache_get(w->c, key, kl, buf, sizeof buf, &vlen, NULL);
        check_get(w, k, rc, buf, vlen);
    }
    atomic_fetch_add(&n_ops, ops + KEYS);
    atomic_fetch_add(&n_evicted_seen, w->evictions);
    return NULL;
}

/* ---- forgers --------------------------------------------------------------------- */

static segcache_t main_cache;

static void expect_bad(segcache_t h) {
    char buf[16];
    size_t vlen = 5;
    uint64_t r;
    segcache_stats st = {.size = sizeof st};
    const void *kp[1] = {"x"};
    size_t kl[1] = {1};
    int sts[1] = {42};
    CHECK(segcache_set(h, "x", 1, "v", 1, 0) == SEGCACHE_EBADHANDLE, "set on forged %#" PRIx64, h);
    CHECK(segcache_get(h, "x", 1, buf, sizeof buf, &vlen, NULL) == SEGCACHE_EBADHANDLE, "get on forged %#" PRIx64, h);
    CHECK(segcache_delete(h, "x", 1) == SEGCACHE_EBADHANDLE, "delete on forged %#" PRIx64, h);
    CHECK(segcache_incr(h, "n", 1, 1, &r) == SEGCACHE_EBADHANDLE, "incr on forged %#" PRIx64, h);
    CHECK(segcache_stats_get(h, &st) == SEGCACHE_EBADHANDLE, "stats on forged %#" PRIx64, h);
    CHECK(segcache_expire(h) == SEGCACHE_EBADHANDLE, "expire on forged %#" PRIx64, h);
    CHECK(segcache_delete_multi(h, 1, kp, kl, sts) == SEGCACHE_EBADHANDLE && sts[0] == 42,
          "delete_multi on forged %#" PRIx64, h);
    atomic_fetch_add(&n_ops, 7);
}

static void *forger_main(void *p) {
    uint64_t s = (uintptr_t)p * 77 + 1;
    long ops = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        uint64_t r = rnd(&s);
        segcache_t h;
        switch (r % 4) {
        case 0: h = (r & 0xFFFFFFFF00000000ull) | (0x40000u + (uint32_t)(r >> 40)); break; /* index beyond the table */
        case 1: h = r & 0xFFFFu; break;                                                 /* generation 0 */
        case 2: h = main_cache + ((uint64_t)1 << 32); break;                            /* generation + 1 */
        default: h = main_cache - ((uint64_t)1 << 32); break;                           /* generation - 1 */
        }
        expect_bad(h);
        CHECK(segcache_close(h) == SEGCACHE_EBADHANDLE, "close of forged %#" PRIx64, h);
        segcache_stats st = {.size = sizeof st};
        CHECK(segcache_stats_get(main_cache, &st) == SEGCACHE_OK, "the live cache went away");
        ops += 2;
    }
    atomic_fetch_add(&n_ops, ops);
    return NULL;
}

/* ---- open/close races --------------------------------------------------------------- */

static _Atomic segcache_t race_cache;

static void *hammer_main(void *p) {
    uint64_t s = (uintptr_t)p * 991 + 3;
    long ops = 0;
    unsigned char v[VMAX], buf[VMAX];
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        segcache_t h = atomic_load(&race_cache);
        uint32_t k = (uint32_t)(rnd(&s) % 200);
        char key[32];
        size_t kl = key_of(key, 99, k), vlen = 0;
        int rc;
        if (rnd(&s) % 2) {
            size_t n = make_value(v, 99, k, rnd(&s) >> 1);
            rc = segcache_set(h, key, kl, v, n, 0);
            CHECK(rc == SEGCACHE_OK || rc == SEGCACHE_EBADHANDLE || rc == SEGCACHE_ENOSPACE, "race set = %d", rc);
        } else {
            uint64_t ver;
            rc = segcache_get(h, key, kl, buf, sizeof buf, &vlen, NULL);
            CHECK(rc == SEGCACHE_OK || rc == SEGCACHE_ENOTFOUND || rc == SEGCACHE_EBADHANDLE, "race get = %d", rc);
            if (rc == SEGCACHE_OK) CHECK(value_ok(buf, vlen, 99, k, &ver), "race get: corrupt value");
        }
        ops++;
    }
    atomic_fetch_add(&n_ops, ops);
    return NULL;
}

static void *racer_main(void *p) {
    (void)p;
    uint64_t s = 12345;
    long ops = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        segcache_options o;
        segcache_options_init(&o);
        o.heap_bytes = (2 + rnd(&s) % 64) * (64u << 10); /* sizes vary: address space must come back */
        o.segment_bytes = 64u << 10;
        o.eviction = (int32_t)(rnd(&s) % 8);
        segcache_t h = 0;
        int rc = segcache_open(&o, &h);
        CHECK(rc == SEGCACHE_OK, "racer open = %d (%s)", rc, segcache_strerror(rc));
        if (rc != SEGCACHE_OK) break;
        atomic_store(&race_cache, h);
        struct timespec ts = {0, (long)(rnd(&s) % 2000000)};
        nanosleep(&ts, NULL);
        CHECK(segcache_close(h) == SEGCACHE_OK, "racer close");
        expect_bad(h);
        CHECK(segcache_close(h) == SEGCACHE_EBADHANDLE, "second close");
        ops += 3;
        atomic_fetch_add(&n_race_rounds, 1);
    }
    atomic_fetch_add(&n_ops, ops);
    return NULL;
}

static void watchdog(int sig) {
    (void)sig;
    static const char msg[] = "soak: WATCHDOG: still running long after its time (deadlock or livelock?)\n";
    if (write(2, msg, sizeof msg - 1) < 0) {
    }
    _exit(3);
}

int main(int argc, char **argv) {
    const char *env = getenv("SOAK_SECONDS");
    long seconds = argc > 1 ? atol(argv[1]) : env ? atol(env) : 10;
    int workers = argc > 2 ? atoi(argv[2]) : 4;
    if (seconds < 1 || workers < 1 || workers > 64) {
        fprintf(stderr, "usage: soak [SECONDS [WORKERS (1-64)]]\n");
        return 2;
    }
    signal(SIGALRM, watchdog);
    alarm((unsigned)(seconds + 300));

    segcache_options o;
    segcache_options_init(&o);
    /* Small enough that overwrites make the cache evict: the model must
     * tell evicted keys from lost or corrupted ones. */
    o.heap_bytes = 12u << 20;
    o.segment_bytes = 256u << 10;
    if (segcache_open(&o, &main_cache) != SEGCACHE_OK) {
        fprintf(stderr, "soak: cannot open the cache\n");
        return 1;
    }
    enum { FORGERS = 2, HAMMERS = 2 };
    pthread_t wt[64], ft[FORGERS], ht[HAMMERS], rt;
    static struct worker ws[64];
    segcache_t first = 0;
    CHECK(segcache_open(NULL, &first) == SEGCACHE_OK, "open");
    atomic_store(&race_cache, first);
    for (int i = 0; i < workers; i++) {
        ws[i].c = main_cache;
        ws[i].id = (uint32_t)i;
        pthread_create(&wt[i], NULL, worker_main, &ws[i]);
    }
    for (uintptr_t i = 0; i < FORGERS; i++) pthread_create(&ft[i], NULL, forger_main, (void *)(i + 1));
    for (uintptr_t i = 0; i < HAMMERS; i++) pthread_create(&ht[i], NULL, hammer_main, (void *)(i + 1));
    CHECK(segcache_close(first) == SEGCACHE_OK, "close first race cache");
    pthread_create(&rt, NULL, racer_main, NULL);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < seconds && atomic_load(&n_failures) == 0; i++) sleep(1);
    atomic_store(&stop, 1);
    for (int i = 0; i < workers; i++) pthread_join(wt[i], NULL);
    for (int i = 0; i < FORGERS; i++) pthread_join(ft[i], NULL);
    for (int i = 0; i < HAMMERS; i++) pthread_join(ht[i], NULL);
    pthread_join(rt, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);

    segcache_stats st = {.size = sizeof st};
    CHECK(segcache_stats_get(main_cache, &st) == SEGCACHE_OK, "final stats");
    /* A key can only have gone missing if the cache evicted something. */
    CHECK(atomic_load(&n_evicted_seen) == 0 || st.evicted_items + st.merged_segments > 0,
          "%ld keys vanished but the cache evicted nothing", atomic_load(&n_evicted_seen));
    CHECK(segcache_close(main_cache) == SEGCACHE_OK, "final close");
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("soak: %.0f s, %d workers + %d forgers + %d hammers + 1 racer: %ld operations, %ld checks, "
           "%ld open/close races, %ld keys evicted under the model, %" PRIu64 " evicted items; %ld failures\n",
           secs, workers, FORGERS, HAMMERS, atomic_load(&n_ops), atomic_load(&n_checks), atomic_load(&n_race_rounds),
           atomic_load(&n_evicted_seen), st.evicted_items, atomic_load(&n_failures));
    return atomic_load(&n_failures) == 0 ? 0 : 1;
}
