/* forkguard.h: the C side of the library, which runs without entering the
 * Go runtime.
 *
 * In a child process after fork() only the forking thread survives, and
 * the Go runtime's other threads (scheduler, garbage collector) are gone:
 * the first call that needs them hangs. So every public entry point is a
 * C function (generated into exports_gen.c) that checks capi_forked before
 * calling its Go implementation, and the few functions that cannot return
 * a status (strerror, version, options_init) are written in C entirely. */
#ifndef CAPI_FORKGUARD_H
#define CAPI_FORKGUARD_H

#include "segcache_types.h"

/* Set to 1 in a child process by the pthread_atfork handler registered
 * when the library is loaded; never set in the parent. Only the child's
 * single thread writes or reads it after the fork, so a plain int is
 * enough. A raw clone/fork system call bypasses pthread_atfork and is not
 * detected. */
extern int capi_forked;

/* segcache_strerror's texts (generated into exports_gen.c from status.go):
 * capi_status_text[-status] for 0 >= status > -capi_status_count. */
extern const char *const capi_status_text[];
extern const int capi_status_count;
extern const char capi_unknown_status_text[];

/* The C implementations of the exports marked capi:nogo. */
const char *capi_c_strerror(int status);
uint32_t capi_c_version(void);
void capi_c_options_init(segcache_options *opts);

#endif
