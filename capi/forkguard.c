/* forkguard.c: fork detection and the exports that never enter Go (see
 * forkguard.h). */
#include <pthread.h>

#include "forkguard.h"

int capi_forked;

static void capi_in_child(void) { capi_forked = 1; }

/* Registered when the library is loaded, before any export can run, so a
 * fork at any later time marks the child. */
__attribute__((constructor)) static void capi_register_atfork(void) {
    (void)pthread_atfork(NULL, NULL, capi_in_child);
}

/* Indexed by -status. The strings are static, as segcache_strerror
 * promises: C may keep them for the life of the process. */
static const char *const capi_status_text[] = {
    [-SEGCACHE_OK] = "success",
    [-SEGCACHE_ENOTFOUND] = "key not found",
    [-SEGCACHE_EEXISTS] = "item exists (cas token mismatch or key present)",
    [-SEGCACHE_ENOTNUMERIC] = "value is not a canonical unsigned decimal number",
    [-SEGCACHE_ERANGE] = "buffer too small for the value",
    [-SEGCACHE_ETOOLARGE] = "key or item too large",
    [-SEGCACHE_ENOSPACE] = "no space: nothing could be evicted or expired",
    [-SEGCACHE_EINVAL] = "invalid argument or option",
    [-SEGCACHE_EBADHANDLE] = "unknown, closed or invalid cache handle",
    [-SEGCACHE_ENOMEM] = "cannot allocate memory",
    [-SEGCACHE_EINTERNAL] = "internal error (recovered)",
    [-SEGCACHE_EFORKED] = "called in a child process after fork(); the library cannot run "
                          "there: use it in the parent, or exec() in the child",
};

const char *capi_c_strerror(int status) {
    if (status <= 0 && status > -(int)(sizeof capi_status_text / sizeof capi_status_text[0]) &&
        capi_status_text[-status] != NULL) {
        return capi_status_text[-status];
    }
    return "unknown segcache status";
}

uint32_t capi_c_version(void) {
    return SEGCACHE_VERSION_MAJOR * 10000 + SEGCACHE_VERSION_MINOR * 100 + SEGCACHE_VERSION_PATCH;
}

/* The defaults of core.Options (normalize() picks the same values for
 * zero fields); test_capi checks each against the documentation and that
 * a cache opened with them equals one opened with NULL options. */
void capi_c_options_init(segcache_options *opts) {
    if (opts == NULL) {
        return;
    }
    *opts = (segcache_options){
        .size = sizeof(segcache_options),
        .heap_bytes = 64u << 20,
        .segment_bytes = 1u << 20,
        .hash_power = 0,
        .eviction = SEGCACHE_EVICT_MERGE,
        .merge_max = 8,
        .merge_target = 4,
        .merge_compact = 0,
        .s3fifo_admission_ratio = 0.1,
    };
}
