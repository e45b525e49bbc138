// Command capi is libsegcache.so: the C ABI of the Segcache engine.
//
// Build it with
//
//	go build -buildmode=c-shared -o build/libsegcache.so ./capi
//
// (mk/capi.mk and CMakeLists.txt add a version script that exports only
// the segcache_* symbols and sets the soname). It is the only package of the
// module that uses cgo or C types. Its //export functions (Go name
// capi_segcache_X) implement the C API; capi/internal/genheader turns them,
// their doc comments and segcache_types.h into the committed public header
// include/segcache.h and into exports_gen.c, the public C functions
// segcache_X, which return SEGCACHE_EFORKED in a child after fork() without
// entering the Go runtime (forkguard.c sets the flag) and otherwise call
// the Go function.
//
// Rules every export follows, because it runs inside someone else's
// process:
//   - A deferred recover turns any panic into SEGCACHE_EINTERNAL: a panic
//     escaping an export would abort the host.
//   - Arguments are validated before use: a NULL pointer with a non-zero
//     length, an empty key or a NULL required out-parameter is
//     SEGCACHE_EINVAL; a key over 255 bytes is SEGCACHE_ETOOLARGE.
//   - Keys and values are read in place through unsafe.Slice over the
//     caller's memory (no copy on the way in); core copies whatever it
//     keeps, so no C pointer is retained after a call returns, and no Go
//     pointer is ever handed to C.
//   - Caches are named by handles (package handles), never by pointers, so
//     a stale or forged handle is SEGCACHE_EBADHANDLE instead of a crash.
//     core.Cache returns core.ErrClosed from calls that race with Close;
//     that too becomes SEGCACHE_EBADHANDLE.
//
// The main function is required by -buildmode=c-shared and never runs.
package main
