/* segcache_types.h: the types, constants and overview of the public C API.
 *
 * This file is the source of everything in include/segcache.h except the
 * function prototypes (those come from the //export functions of capi and
 * their Go doc comments). capi/internal/genheader copies the text between
 * the PUBLIC markers below into the generated header verbatim, so write it
 * for the users of the library. cgo includes this file from the preamble of
 * capi, so the Go code and the header share one definition of every struct,
 * status and enum value. */
#ifndef SEGCACHE_TYPES_H
#define SEGCACHE_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* PUBLIC BEGIN */
/*
 * libsegcache: the Segcache key-value cache (NSDI'21) as a C library.
 *
 * A cache is opened with segcache_open() and named by an opaque handle
 * (segcache_t). Keys are 1 to 255 arbitrary bytes; values are 0 bytes up to
 * what fits in one segment (segment_bytes minus an 8-byte header and the
 * key, rounded up to 8). Every function that can fail returns SEGCACHE_OK
 * (0) or one of the negative SEGCACHE_E* statuses below;
 * segcache_strerror() names them.
 *
 * Memory ownership: the library never keeps a pointer the caller passed in
 * after the call returns (keys and values are copied into the cache), and
 * never hands out a pointer into its own memory except the static strings
 * of segcache_strerror(). Values are copied into caller-owned buffers; a
 * buffer that is too small yields SEGCACHE_ERANGE and the size to allocate.
 *
 * Thread safety: every function may be called concurrently from any thread,
 * on the same handle or on different handles. segcache_close() while other
 * calls on the same handle are in flight is safe: those calls complete or
 * return SEGCACHE_EBADHANDLE; none touches freed memory.
 *
 * The library embeds a Go runtime. Facts a host program must know:
 *  - fork(): the child inherits a runtime without its threads, which
 *    would hang the child's first call that needs them. So the library
 *    refuses to run in a child: it registers a pthread_atfork() handler
 *    when loaded, and in the child every function that returns a status
 *    returns SEGCACHE_EFORKED at once, without entering the runtime;
 *    segcache_strerror(), segcache_version() and segcache_options_init()
 *    keep working (they are plain C), segcache_noop() does nothing. Caches
 *    of the parent cannot be used or closed in the child; the parent is
 *    unaffected. A child that calls exec() gets a fresh library. (A raw
 *    clone/fork system call that bypasses the C library's fork() skips
 *    pthread_atfork handlers and is not detected.) Python: use
 *    multiprocessing "spawn" or "forkserver", not "fork".
 *  - dlclose() does not unload the library (the runtime cannot be stopped);
 *    a later dlopen() returns the same instance.
 *  - The first call on a thread that has never called the library costs a
 *    few microseconds (the thread is bound to the runtime); later calls cost
 *    about 40 ns on Go 1.27. Reuse threads (a pool) rather than creating
 *    one per request, and use the *_multi calls to amortize the crossing
 *    over many keys.
 *  - The runtime reads GOMAXPROCS and GOGC only when the library is
 *    loaded, and from the environment the process started with (the Go
 *    runtime takes it from the initial stack, not environ): a setenv()
 *    before dlopen() is not seen. Use segcache_set_max_procs() instead.
 *  - When loaded, the runtime installs handlers for SIGSEGV, SIGBUS,
 *    SIGFPE, SIGPIPE and SIGURG (SIGURG preempts long-running library
 *    code). It saves the handlers already installed and forwards to them
 *    the signals that arrive outside library code. A host that replaces
 *    the SIGURG handler afterwards breaks preemption; a host that installs
 *    handlers after loading the library must chain to the previous handler
 *    and use SA_ONSTACK.
 *  - Every entry point recovers internal faults (Go panics) and returns
 *    SEGCACHE_EINTERNAL instead of aborting the host, and the library
 *    prints nothing. Only a fatal error of the runtime itself (it cannot
 *    allocate memory for its own heap) is beyond recovery: it prints a
 *    message on stderr and aborts, as malloc failure does in many C
 *    libraries.
 *
 * ABI evolution: segcache_options and segcache_stats begin with a size
 * field. Structs only grow at the end; the library reads and writes only
 * the fields that fit in the size the caller gives, so a program built
 * against an older header keeps working with a newer library. Exported
 * symbols carry the ELF version SEGCACHE_0, so that a future library can
 * keep old entry points (e.g. a segcache_options_init for the older, smaller
 * struct) beside new ones. Only 64-bit Linux is supported.
 *
 * Invalid pointers (not NULL, but not pointing to as many bytes as the
 * length says) are undefined behaviour, as for memcpy: the library cannot
 * detect them.
 */

/* Version of this header. SEGCACHE_VERSION_NUMBER is
 * MAJOR*10000 + MINOR*100 + PATCH, usable in #if (e.g. to require a
 * feature at compile time); segcache_version() returns the same number for
 * the library actually loaded, so comparing the two detects a header and
 * library mismatch at run time. */
#define SEGCACHE_VERSION_MAJOR 0
#define SEGCACHE_VERSION_MINOR 1
#define SEGCACHE_VERSION_PATCH 0
#define SEGCACHE_VERSION_NUMBER \
    (SEGCACHE_VERSION_MAJOR * 10000 + SEGCACHE_VERSION_MINOR * 100 + SEGCACHE_VERSION_PATCH)

/* Opaque handle of an open cache. 0 is never a valid handle. */
typedef uint64_t segcache_t;

/* Statuses. 0 is success; every error is negative. The values are stable. */
#define SEGCACHE_OK           0   /* success */
#define SEGCACHE_ENOTFOUND   (-1) /* key absent or expired */
#define SEGCACHE_EEXISTS     (-2) /* cas token mismatch; add on a present key */
#define SEGCACHE_ENOTNUMERIC (-3) /* incr/decr on a value that is not a
                                     canonical unsigned decimal number */
#define SEGCACHE_ERANGE      (-4) /* caller buffer too small (size reported) */
#define SEGCACHE_ETOOLARGE   (-5) /* key over 255 bytes, or item over a segment */
#define SEGCACHE_ENOSPACE    (-6) /* nothing could be evicted or expired */
#define SEGCACHE_EINVAL      (-7) /* bad argument or option */
#define SEGCACHE_EBADHANDLE  (-8) /* unknown, closed or forged handle */
#define SEGCACHE_ENOMEM      (-9) /* memory for the cache could not be mapped */
#define SEGCACHE_EINTERNAL   (-10) /* a recovered internal fault (a bug): the
                                      host keeps running */
#define SEGCACHE_EFORKED     (-11) /* called in a child process after fork():
                                      the library cannot run there */

/* Eviction policies (segcache_options.eviction). */
enum segcache_eviction {
    SEGCACHE_EVICT_NONE = 0,        /* never evict: writes fail with ENOSPACE
                                       once full and nothing has expired */
    SEGCACHE_EVICT_RANDOM = 1,      /* a random sealed segment */
    SEGCACHE_EVICT_RANDOM_FIFO = 2, /* the oldest segment of a random TTL bucket */
    SEGCACHE_EVICT_FIFO = 3,        /* the oldest segment */
    SEGCACHE_EVICT_CTE = 4,         /* the segment closest to expiration */
    SEGCACHE_EVICT_UTIL = 5,        /* the segment with the fewest live bytes */
    SEGCACHE_EVICT_MERGE = 6,       /* Segcache's merge: keep frequent items
                                       of consecutive segments */
    SEGCACHE_EVICT_S3FIFO = 7       /* S3-FIFO over segments: admission and
                                       main pools with a ghost set (default) */
};

/* The writes of segcache_store(). */
enum segcache_store_op {
    SEGCACHE_STORE_SET = 0,     /* as segcache_set() */
    SEGCACHE_STORE_ADD = 1,     /* as segcache_add() */
    SEGCACHE_STORE_REPLACE = 2, /* as segcache_replace() */
    SEGCACHE_STORE_CAS = 3      /* as segcache_cas() */
};

/* Options of segcache_open(). Always call segcache_options_init() first:
 * it sets size and every default; then change the fields you need. A zero
 * in heap_bytes, segment_bytes, merge_max, merge_target or
 * s3fifo_admission_ratio also means "default". */
typedef struct segcache_options {
    uint32_t size;            /* set by segcache_options_init: sizeof(segcache_options) */
    uint64_t heap_bytes;      /* item memory; default 64 MiB; rounded down to
                                 whole segments, at least 2 segments */
    uint32_t segment_bytes;   /* default 1 MiB; multiple of 8, 4 KiB to 8 MiB */
    uint32_t hash_power;      /* initial table: 0 = one slot per 256 heap bytes;
                                 else 2^hash_power slots of 8 bytes, 4 to 29, at
                                 most the heap. The table doubles when it fills,
                                 retiring segments worth its growth */
    int32_t  eviction;        /* enum segcache_eviction; default SEGCACHE_EVICT_S3FIFO */
    /* Fields below were added after the first contract; a caller whose size
     * ends before one of them gets its default. */
    int32_t  merge_max;       /* MERGE: most segments one merge pass combines (default 8) */
    int32_t  merge_target;    /* MERGE: sources absorbed per merged segment, 2 ..
                                 merge_max (default 0: min(4, merge_max)) */
    int32_t  merge_compact;   /* MERGE: if > 0, compact neighbours each at most
                                 1/merge_compact full after deletes (default 0: off) */
    double   s3fifo_admission_ratio; /* S3FIFO: share of segments in the admission
                                        pool, 0.01 to 0.9 (default 0.1) */
    uint32_t prefault;        /* nonzero: make the heap and the initial hashtable
                                 resident at open (every page written once), so
                                 that no later write pays a first-touch page
                                 fault; the cache's resident memory is then its
                                 full size from the start (default 0: resident
                                 as writes first reach it) */
} segcache_options;

/* The smallest size segcache_open() accepts in segcache_options.size: the
 * fields up to and including eviction. */
#define SEGCACHE_OPTIONS_MIN_SIZE 28u

/* Counters of a cache (segcache_stats_get). Set size to
 * sizeof(segcache_stats) before the call. Gauges (items, item_bytes,
 * segments_free) are exact once all calls have returned; the other counters
 * only grow. */
typedef struct segcache_stats {
    uint32_t size;            /* caller sets sizeof(segcache_stats) before the call;
                                 the library sets it to the bytes it filled */
    uint64_t items;           /* live items (expired ones count until segcache_expire) */
    uint64_t item_bytes;      /* bytes of live items (headers, keys, values) */
    uint64_t heap_bytes;      /* configured item memory (whole segments) */
    uint64_t hashtable_bytes; /* memory of the hashtable (it grows) */
    uint64_t segments_total, segments_free;
    uint64_t gets, hits, misses, sets, deletes;
    uint64_t evicted_items, expired_items, evicted_segments, expired_segments;
    /* Fields below were added after the first contract. */
    uint64_t merged_segments; /* segments reclaimed by merge or by S3-FIFO
                                 compaction */
    uint64_t promoted_items;  /* items copied by merge, compaction or S3-FIFO
                                 promotion */
    uint64_t hashtable_growths; /* doublings of the hashtable since open */
    uint64_t segments_retired;  /* segments that pay for the table's growth (hold
                                   no items, pages returned to the system) */
} segcache_stats;

/* The smallest size segcache_stats_get() accepts in segcache_stats.size:
 * the fields up to and including expired_segments. */
#define SEGCACHE_STATS_MIN_SIZE 128u

/* The cache, buffer and outputs of segcache_get_buf(): a segcache_get()
 * whose arguments but the key live in a struct the caller sets up once and
 * reuses. It exists for dynamic foreign-function interfaces (Python ctypes,
 * cffi's ABI mode), where every argument of a call costs a conversion. */
typedef struct segcache_getbuf {
    segcache_t cache; /* in: the cache to read */
    void *buf;        /* in: where the value is copied (NULL only if cap is 0) */
    size_t cap;       /* in: bytes at buf */
    size_t vlen;      /* out: as segcache_get()'s *vlen */
    uint64_t cas;     /* out: the item's cas token when the status is SEGCACHE_OK */
} segcache_getbuf;
/* PUBLIC END */

#endif /* SEGCACHE_TYPES_H */
