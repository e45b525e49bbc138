// Command genheader writes include/segcache.h, the public C header of
// libsegcache, and capi/exports_gen.c, its public C entry points, from capi.
//
//	go run ./capi/internal/genheader -cgo build/libsegcache.h -src capi \
//		-o include/segcache.h -wrappers capi/exports_gen.c
//
// Inputs:
//   - the header cgo writes next to the library (-cgo): the prototype of
//     every //export function exactly as the library exports it;
//   - the Go sources of capi (-src): the doc comment of every export (cgo
//     stopped copying doc comments into its header in Go 1.27), and
//     segcache_types.h, whose text between the PUBLIC markers (overview,
//     version macros, statuses, enums, structs) is copied verbatim.
//
// The output has an include guard, extern "C" for C++, a SEGCACHE_API
// visibility macro, only <stddef.h> and <stdint.h>, no Go typedefs, and a
// doc block per function. cgo cannot write const in export prototypes, so
// capi spells const parameter types through private capi_* typedefs, which
// are replaced here by their definitions.
//
// The Go function capi_segcache_X implements the public function
// segcache_X. Its entry point, a C function, returns SEGCACHE_EFORKED in a
// child after fork() before entering the Go runtime (which would hang
// there), and otherwise calls the Go function. An export whose doc comment
// holds the directive //capi:nogo is implemented in C (capi_c_X in
// forkguard.c) and its entry point calls that, never Go.
//
// genheader fails, rather than writing a header, if an export has no doc
// comment, if a doc comment has no export, if a prototype mentions a Go
// type, or if an export returning neither int nor void is not nogo. make
// test regenerates both files and fails if they differ from the committed
// ones.
package main
