/* forkguard.c: fork detection and the exports that never enter Go (see
 * forkguard.h). */
#include <pthread.h>
#include <string.h>

#include "forkguard.h"

int capi_forked;

static void capi_in_child(void) { capi_forked = 1; }

/* Registered when the library is loaded, before any export can run, so a
 * fork at any later time marks the child. */
__attribute__((constructor)) static void capi_register_atfork(void) {
    (void)pthread_atfork(NULL, NULL, capi_in_child);
}

const char *capi_c_strerror(int status) {
    if (status <= 0 && status > -capi_status_count && capi_status_text[-status] != NULL) {
        return capi_status_text[-status];
    }
    return capi_unknown_status_text;
}

uint32_t capi_c_version(void) { return SEGCACHE_VERSION_NUMBER; }

/* The defaults of core.Options (normalize() picks the same values for
 * zero fields). test_capi checks each against the documentation, and
 * test_hardening that a cache opened with them is the one NULL options
 * give. */
void capi_c_options_init(segcache_options *opts) {
    if (opts == NULL) {
        return;
    }
    /* Field by field over zeros, padding included: a library older than
     * this header checks that the bytes past the fields it knows are zero,
     * and a struct assignment may leave padding unspecified. */
    memset(opts, 0, sizeof *opts);
    opts->size = sizeof(segcache_options);
    opts->heap_bytes = 64u << 20;
    opts->segment_bytes = 1u << 20;
    opts->hash_power = 0;
    opts->eviction = SEGCACHE_EVICT_S3FIFO;
    opts->merge_max = 8;
    opts->merge_target = 0; /* follows merge_max: min(4, merge_max) */
    opts->merge_compact = 0;
    opts->s3fifo_admission_ratio = 0.1;
    opts->prefault = 0;
}
