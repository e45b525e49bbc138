package main

/*
#include "segcache_types.h"
*/
import "C"

import (
	"errors"

	"github.com/segcache/segcache/core"
)

// statusOf maps an engine error to a C status. The common errors are
// compared directly first: errors.Is walks wrap chains and costs more, and
// the engine returns its sentinels unwrapped on hot paths.
func statusOf(err error) C.int {
	switch err {
	case nil:
		return C.SEGCACHE_OK
	case core.ErrNotFound:
		return C.SEGCACHE_ENOTFOUND
	case core.ErrExists:
		return C.SEGCACHE_EEXISTS
	case core.ErrBufferSmall:
		return C.SEGCACHE_ERANGE
	}
	for _, m := range errorStatuses {
		if errors.Is(err, m.err) {
			return m.status
		}
	}
	return C.SEGCACHE_EINTERNAL
}

var errorStatuses = []struct {
	err    error
	status C.int
}{
	{core.ErrNotFound, C.SEGCACHE_ENOTFOUND},
	{core.ErrExists, C.SEGCACHE_EEXISTS},
	{core.ErrNotNumeric, C.SEGCACHE_ENOTNUMERIC},
	{core.ErrBufferSmall, C.SEGCACHE_ERANGE},
	{core.ErrKeyEmpty, C.SEGCACHE_EINVAL},
	{core.ErrKeyTooLarge, C.SEGCACHE_ETOOLARGE},
	{core.ErrItemTooLarge, C.SEGCACHE_ETOOLARGE},
	{core.ErrNoSpace, C.SEGCACHE_ENOSPACE},
	{core.ErrInvalid, C.SEGCACHE_EINVAL},
	{core.ErrClosed, C.SEGCACHE_EBADHANDLE},
	{core.ErrNoMemory, C.SEGCACHE_ENOMEM},
}

// statusText holds segcache_strerror's texts, and unknownStatusText the
// text of any other value. segcache_strerror runs in C (also in a forked
// child), so genheader compiles these into the C table of exports_gen.c;
// the ABI description lists them too. They are the one source of the texts.
var statusText = map[C.int]string{
	C.SEGCACHE_OK:          "success",
	C.SEGCACHE_ENOTFOUND:   "key not found",
	C.SEGCACHE_EEXISTS:     "item exists (cas token mismatch or key present)",
	C.SEGCACHE_ENOTNUMERIC: "value is not a canonical unsigned decimal number",
	C.SEGCACHE_ERANGE:      "buffer too small for the value",
	C.SEGCACHE_ETOOLARGE:   "key or item too large",
	C.SEGCACHE_ENOSPACE:    "no space: nothing could be evicted or expired",
	C.SEGCACHE_EINVAL:      "invalid argument or option",
	C.SEGCACHE_EBADHANDLE:  "unknown, closed or invalid cache handle",
	C.SEGCACHE_ENOMEM:      "cannot allocate memory",
	C.SEGCACHE_EINTERNAL:   "internal error (recovered)",
	C.SEGCACHE_EFORKED: "called in a child process after fork(); the library cannot run there: " +
		"use it in the parent, or exec() in the child",
}

var unknownStatusText = "unknown segcache status"

// recoverStatus, deferred by every export that returns a status, turns a
// panic into SEGCACHE_EINTERNAL so that it never unwinds into C (which
// would abort the host). It prints nothing: the host owns stdout/stderr.
func recoverStatus(rc *C.int) {
	if recover() != nil {
		*rc = C.SEGCACHE_EINTERNAL
	}
}
