// Command genheader writes include/segcache.h, the public C header of
// libsegcache, from capi.
//
//	go run ./capi/internal/genheader -cgo build/libsegcache.h -src capi -o include/segcache.h
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
// genheader fails, rather than writing a header, if an export has no doc
// comment, if a doc comment has no export, or if a prototype mentions a Go
// type. make test regenerates the header and fails if it differs from the
// committed one.
package main
