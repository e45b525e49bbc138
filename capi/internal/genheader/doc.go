// Command genheader writes include/segcache.h, the public C header of
// libsegcache, and include/segcache.abi.json, the machine-readable
// description of the same ABI, from capi.
//
//	go run ./capi/internal/genheader -cgo build/libsegcache.h -src capi \
//		-o include/segcache.h -abi include/segcache.abi.json
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
// type, if a status has no strerror text (or a text no status), or if a
// macro or field is of a kind it cannot describe exactly. make test
// regenerates both files and fails if they differ from the committed ones.
package main
