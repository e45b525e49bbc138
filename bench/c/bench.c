/* bench.c: cost of the libsegcache C ABI: what a call from C costs beyond
 * the engine's own work, measured beside the same workload in Go in process.
 *
 * Workload (that of the Go throughput benchmarks in bench/throughput): KEYS distinct 16-byte keys, 64-byte values, key
 * choice Zipf(0.99) (YCSB's generator), a cache large enough for every key,
 * key sequences generated before timing. Operations, each with 1 and 2
 * pthreads: segcache_noop (the floor: an empty call into Go), get (hit),
 * set (overwrite), get_multi with 16 and 64 keys per call (reported per
 * key). Each figure is the median of RUNS runs; ns/op is wall time divided
 * by the operations of all threads (as Go's RunParallel reports it).
 *
 * Usage: bench [-keys N] [-ops N] [-runs N] [-threads 1,2]
 *   -ops is per thread per run (default 2000000).
 * Output: a table, then one "result <op> <threads> <median_ns>" line per
 * figure for scripts (bench/c/report.sh). */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <segcache.h>

#define KEY_LEN 16
#define VAL_LEN 64
#define MAX_THREADS 8
#define MAX_RUNS 31

static size_t nkeys = 1000000, nops = 2000000;
static int nruns = 5;
static int thread_counts[MAX_THREADS], nthread_counts;
static char *keys; /* nkeys * KEY_LEN */
static segcache_t cache;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64* */
static uint64_t rng_next(uint64_t *s) {
    *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* YCSB ZipfianGenerator (Gray et al.) over [0, n) with exponent theta. */
struct zipf {
    double theta, alpha, zetan, eta;
    uint64_t n;
};

static void zipf_init(struct zipf *z, uint64_t n, double theta) {
    double zeta2 = 0;
    z->n = n, z->theta = theta, z->zetan = 0;
    for (uint64_t i = 1; i <= n; i++) z->zetan += 1.0 / pow((double)i, theta);
    for (uint64_t i = 1; i <= 2; i++) zeta2 += 1.0 / pow((double)i, theta);
    z->alpha = 1.0 / (1.0 - theta);
    z->eta = (1 - pow(2.0 / (double)n, 1 - theta)) / (1 - zeta2 / z->zetan);
}

static uint64_t zipf_next(const struct zipf *z, uint64_t *rng) {
    double u = (double)(rng_next(rng) >> 11) / 9007199254740992.0;
    double uz = u * z->zetan;
    if (uz < 1.0) return 0;
    if (uz < 1.0 + pow(0.5, z->theta)) return 1;
    uint64_t v = (uint64_t)((double)z->n * pow(z->eta * u - z->eta + 1, z->alpha));
    return v < z->n ? v : z->n - 1;
}

enum op { OP_NOOP, OP_GET, OP_SET, OP_MGET16, OP_MGET64, NOPS };
static const char *op_names[NOPS] = {"noop", "get", "set", "get_multi16", "get_multi64"};
static const int op_batch[NOPS] = {1, 1, 1, 16, 64};

/* Each worker on its own cache line: the threads write only their own
 * worker, and only once, at the end (errors is counted in a local), so that
 * two threads never bounce a line between them. With errors updated in the
 * struct after every call (the call is opaque to the compiler, so the store
 * could not stay in a register) and the two workers side by side in one
 * array, every get of one thread invalidated the other's line: two threads
 * measured 1.49x one thread's gets where Go in process gave 1.87x. */
struct worker {
    _Alignas(64) pthread_t th;
    uint32_t *seq; /* nops key indexes */
    enum op op;
    pthread_barrier_t *start;
    long errors;
};

static void *worker_main(void *p) {
    struct worker *w = p;
    char val[VAL_LEN], buf[64 * VAL_LEN];
    const void *ks[64];
    size_t kls[64], caps[64], vls[64];
    void *bufs[64];
    int sts[64];
    memset(val, 'v', sizeof val);
    for (int j = 0; j < 64; j++) kls[j] = KEY_LEN, caps[j] = VAL_LEN, bufs[j] = buf + j * VAL_LEN;
    segcache_noop(); /* bind this thread to the runtime before timing */
    pthread_barrier_wait(w->start);
    const uint32_t *seq = w->seq;
    long errors = 0;
    size_t vlen;
    switch (w->op) {
    case OP_NOOP:
        for (size_t i = 0; i < nops; i++) segcache_noop();
        break;
    case OP_GET:
        for (size_t i = 0; i < nops; i++)
            errors += segcache_get(cache, keys + (size_t)seq[i] * KEY_LEN, KEY_LEN, buf, VAL_LEN,
                                   &vlen, NULL) != SEGCACHE_OK;
        break;
    case OP_SET:
        for (size_t i = 0; i < nops; i++)
            errors += segcache_set(cache, keys + (size_t)seq[i] * KEY_LEN, KEY_LEN, val, VAL_LEN,
                                   0) != SEGCACHE_OK;
        break;
    case OP_MGET16:
    case OP_MGET64: {
        const size_t b = (size_t)op_batch[w->op];
        for (size_t i = 0; i + b <= nops; i += b) {
            for (size_t j = 0; j < b; j++) ks[j] = keys + (size_t)seq[i + j] * KEY_LEN;
            if (segcache_get_multi(cache, b, ks, kls, bufs, caps, vls, sts) != SEGCACHE_OK) errors++;
            for (size_t j = 0; j < b; j++) errors += sts[j] != SEGCACHE_OK;
        }
        break;
    }
    default:
        break;
    }
    w->errors = errors;
    return NULL;
}

/* run times one op with t threads; returns ns per op (per key for batches). */
static double run(enum op op, int t, uint32_t **seqs) {
    struct worker w[MAX_THREADS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)t + 1);
    for (int i = 0; i < t; i++) {
        w[i] = (struct worker){.seq = seqs[i], .op = op, .start = &start};
        if (pthread_create(&w[i].th, NULL, worker_main, &w[i]) != 0) {
            perror("pthread_create");
            exit(1);
        }
    }
    pthread_barrier_wait(&start);
    uint64_t t0 = now_ns();
    long errors = 0;
    for (int i = 0; i < t; i++) {
        pthread_join(w[i].th, NULL);
        errors += w[i].errors;
    }
    uint64_t dt = now_ns() - t0;
    pthread_barrier_destroy(&start);
    if (errors) {
        fprintf(stderr, "bench: %s: %ld failed operations\n", op_names[op], errors);
        exit(1);
    }
    size_t done = nops / (size_t)op_batch[op] * (size_t)op_batch[op];
    return (double)dt / ((double)done * t);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    thread_counts[0] = 1, thread_counts[1] = 2, nthread_counts = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-keys")) nkeys = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "-ops")) nops = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "-runs")) nruns = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-threads")) {
            nthread_counts = 0;
            for (char *s = strtok(argv[i + 1], ","); s && nthread_counts < MAX_THREADS; s = strtok(NULL, ","))
                thread_counts[nthread_counts++] = atoi(s);
        } else {
            fprintf(stderr, "usage: %s [-keys N] [-ops N] [-runs N] [-threads 1,2]\n", argv[0]);
            return 2;
        }
    }
    if (nkeys < 2 || nops < 64 || nruns < 1 || nruns > MAX_RUNS) {
        fprintf(stderr, "bench: bad arguments\n");
        return 2;
    }
    int maxt = 1;
    for (int i = 0; i < nthread_counts; i++) {
        if (thread_counts[i] < 1 || thread_counts[i] > MAX_THREADS) {
            fprintf(stderr, "bench: threads must be 1..%d\n", MAX_THREADS);
            return 2;
        }
        if (thread_counts[i] > maxt) maxt = thread_counts[i];
    }

    /* Keys, the cache (preloaded), and one Zipf sequence per thread. */
    keys = malloc(nkeys * KEY_LEN);
    for (size_t i = 0; i < nkeys; i++) {
        char tmp[32];
        snprintf(tmp, sizeof tmp, "key:%012zu", i % 1000000000000u);
        memcpy(keys + i * KEY_LEN, tmp, KEY_LEN);
    }
    segcache_options o;
    segcache_options_init(&o);
    o.heap_bytes = (uint64_t)nkeys * 256 + (64u << 20);
    int rc = segcache_open(&o, &cache);
    if (rc != SEGCACHE_OK) {
        fprintf(stderr, "bench: open: %s\n", segcache_strerror(rc));
        return 1;
    }
    char val[VAL_LEN];
    memset(val, 'v', sizeof val);
    for (size_t i = 0; i < nkeys; i++) {
        if ((rc = segcache_set(cache, keys + i * KEY_LEN, KEY_LEN, val, VAL_LEN, 0)) != SEGCACHE_OK) {
            fprintf(stderr, "bench: preload: %s\n", segcache_strerror(rc));
            return 1;
        }
    }
    struct zipf z;
    zipf_init(&z, nkeys, 0.99);
    uint32_t *seqs[MAX_THREADS];
    for (int t = 0; t < maxt; t++) {
        uint64_t rng = 0x9E3779B97F4A7C15ull * (uint64_t)(t + 1);
        seqs[t] = malloc(nops * sizeof(uint32_t));
        for (size_t i = 0; i < nops; i++) seqs[t][i] = (uint32_t)zipf_next(&z, &rng);
    }

    printf("libsegcache C ABI: %zu keys of %d B, %d B values, Zipf 0.99, %zu ops/thread/run, "
           "median of %d runs, GOMAXPROCS %d\n",
           nkeys, KEY_LEN, VAL_LEN, nops, nruns, segcache_set_max_procs(0));
    printf("%-12s %7s %12s %12s %12s %10s\n", "op", "threads", "median ns/op", "min", "max",
           "x noop");
    /* All lookups run before any set: overwrites fill segments with dead
     * versions, and the eviction that reclaims them may drop live keys,
     * which would turn hits into misses. Every lookup must hit (a miss
     * fails the benchmark). */
    static const enum op order[NOPS] = {OP_NOOP, OP_GET, OP_MGET16, OP_MGET64, OP_SET};
    double results[NOPS][MAX_THREADS], lo[NOPS][MAX_THREADS], hi[NOPS][MAX_THREADS];
    for (int phase = 0; phase < 2; phase++) {
        for (int ti = 0; ti < nthread_counts; ti++) {
            for (int oi = 0; oi < NOPS; oi++) {
                enum op op = order[oi];
                if ((op == OP_SET) != (phase == 1)) continue;
                double r[MAX_RUNS];
                for (int k = 0; k < nruns; k++) r[k] = run(op, thread_counts[ti], seqs);
                qsort(r, (size_t)nruns, sizeof r[0], cmp_double);
                results[op][ti] = nruns % 2 ? r[nruns / 2] : (r[nruns / 2 - 1] + r[nruns / 2]) / 2;
                lo[op][ti] = r[0], hi[op][ti] = r[nruns - 1];
            }
        }
    }
    for (int ti = 0; ti < nthread_counts; ti++)
        for (int op = 0; op < NOPS; op++)
            printf("%-12s %7d %12.1f %12.1f %12.1f %10.2f\n", op_names[op], thread_counts[ti],
                   results[op][ti], lo[op][ti], hi[op][ti], results[op][ti] / results[OP_NOOP][ti]);
    for (int ti = 0; ti < nthread_counts; ti++)
        for (int op = 0; op < NOPS; op++)
            printf("result %s %d %.2f\n", op_names[op], thread_counts[ti], results[op][ti]);
    segcache_close(cache);
    return 0;
}
