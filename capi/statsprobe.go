package main

/*
#include "segcache_types.h"
*/
import "C"

import (
	"unsafe"

	"github.com/segcache/segcache/core"
)

// statsImage runs statsToC on a struct of the given size field and
// returns the struct's bytes and the size it reported. Tests use it to
// check, against the ABI description, where each core.Stats counter lands
// (tests cannot spell C types themselves).
func statsImage(s core.Stats, size uint32) ([]byte, uint32, int) {
	var out C.segcache_stats
	out.size = C.uint32_t(size)
	rc := statsToC(s, &out)
	return C.GoBytes(unsafe.Pointer(&out), C.int(unsafe.Sizeof(out))), uint32(out.size), int(rc)
}
