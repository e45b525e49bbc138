// Command genheader writes include/segcache.h, the public C header of
// libsegcache, include/segcache.abi.json, the machine-readable description
// of the same ABI, and capi/exports_gen.c, the public C entry points, from
// capi.
//
//	go run ./capi/internal/genheader -cgo build/libsegcache.h -src capi \
//		-o include/segcache.h -abi include/segcache.abi.json \
//		-wrappers capi/exports_gen.c
//
// Inputs:
//   - the header cgo writes next to the library (-cgo): the prototype of
//     every //export function exactly as the library exports it;
//   - the Go sources of capi (-src): the doc comment of every export (cgo
//     stopped copying doc comments into its header in Go 1.27), the
//     segcache_strerror texts (statusText in status.go), and
//     segcache_types.h, whose text between the PUBLIC markers (overview,
//     version macros, statuses, enums, structs) is copied verbatim.
//
// The header has an include guard, extern "C" for C++, a SEGCACHE_API
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
// The ABI description lists the version, every integer #define with its C
// type, the statuses with their strerror texts, enums, typedefs, structs
// with each field's type, offset and size (64-bit Linux), and every
// function with its parameters' names and types (base type, pointer
// levels, const per level). The Rust, Python and C drift checks read it
// instead of parsing C. Two more modes serve the checks:
//
//	genheader -check-c include/segcache.abi.json -o abi_check.c
//	genheader -functions include/segcache.abi.json
//
// The first writes C11 static assertions of everything the description
// states, which compile only if the header agrees (make check-header
// compiles them); the second lists the function names (for
// tests/c/check_exports.sh).
//
// genheader fails, rather than writing anything, if an export has no doc
// comment, if a doc comment has no export, if a prototype mentions a Go
// type, if a status has no strerror text (or a text no status), if a
// macro or field is of a kind it cannot describe exactly, or if an export
// returning neither int nor void is not nogo. make test regenerates the
// files and fails if they differ from the committed ones.
package main
