package main

/*
#include "segcache_types.h"
#include "forkguard.h"

// Private spellings of const-qualified parameter types. cgo cannot write
// const in the prototypes of exports, so exports name these typedefs, and
// genheader replaces each capi_* name by its definition in the public
// header. They are the same types to the ABI.
typedef const void *capi_cptr;
typedef const void *const *capi_cptrs;
typedef void *const *capi_bufs;
typedef const size_t *capi_csizes;
typedef const uint32_t *capi_cu32s;
typedef const segcache_options *capi_coptions;
typedef const char *capi_cstring;
*/
import "C"

import (
	"math"
	"runtime"
	"time"
	"unsafe"

	"github.com/segcache/segcache/capi/internal/handles"
	"github.com/segcache/segcache/core"
)

func main() {}

// caches holds every open cache.
var caches handles.Table[*core.Cache]

// maxBatch bounds n of the *_multi calls.
const maxBatch = math.MaxInt32

// keyArg validates a key argument and views it in place.
func keyArg(p unsafe.Pointer, n C.size_t) ([]byte, C.int) {
	switch {
	case n == 0 || p == nil:
		return nil, C.SEGCACHE_EINVAL
	case n > core.MaxKeyLen:
		return nil, C.SEGCACHE_ETOOLARGE
	}
	k := unsafe.Slice((*byte)(p), int(n))
	if testHooks && string(k) == panicKey {
		panic("segcache test hook: key")
	}
	return k, C.SEGCACHE_OK
}

// valArg validates a value argument and views it in place. A value longer
// than a segment cannot be stored, so it is rejected before slicing.
func valArg(p unsafe.Pointer, n C.size_t) ([]byte, C.int) {
	switch {
	case n == 0:
		return []byte{}, C.SEGCACHE_OK
	case p == nil:
		return nil, C.SEGCACHE_EINVAL
	case n > maxValueLen:
		return nil, C.SEGCACHE_ETOOLARGE
	}
	return unsafe.Slice((*byte)(p), int(n)), C.SEGCACHE_OK
}

// bufArg validates a caller buffer and views it in place. The view is
// clamped to maxValueLen: no value is longer, and a huge cap must not make
// an invalid slice.
func bufArg(p unsafe.Pointer, n C.size_t) ([]byte, C.int) {
	if n == 0 {
		return nil, C.SEGCACHE_OK
	}
	if p == nil {
		return nil, C.SEGCACHE_EINVAL
	}
	return unsafe.Slice((*byte)(p), int(min(n, maxValueLen))), C.SEGCACHE_OK
}

func cacheArg(h C.segcache_t) (*core.Cache, C.int) {
	c, ok := caches.Get(uint64(h))
	if !ok {
		return nil, C.SEGCACHE_EBADHANDLE
	}
	return c, C.SEGCACHE_OK
}

// keyedArgs validates the key and then the handle of a call on one key
// (the key's errors come first whatever the handle, as in every call).
func keyedArgs(h C.segcache_t, p unsafe.Pointer, n C.size_t) (*core.Cache, []byte, C.int) {
	k, st := keyArg(p, n)
	if st != C.SEGCACHE_OK {
		return nil, nil, st
	}
	c, st := cacheArg(h)
	return c, k, st
}

// ttlArg converts seconds to the engine's Duration. uint32 seconds always
// fit in a Duration.
func ttlArg(ttl C.uint32_t) time.Duration { return time.Duration(ttl) * time.Second }

// segcache_version returns the version of the loaded library as
// SEGCACHE_VERSION_MAJOR*10000 + SEGCACHE_VERSION_MINOR*100 +
// SEGCACHE_VERSION_PATCH. Compare it with SEGCACHE_VERSION_NUMBER to detect
// a header and library mismatch at run time.
//
// Thread safety: any thread, any time, also in a child after fork().
// Never fails.
//
//capi:nogo
//export capi_segcache_version
func capi_segcache_version() C.uint32_t { return C.capi_c_version() }

// segcache_strerror returns a static, NUL-terminated English description
// of status: one for each SEGCACHE_* status, and a generic one for any
// other value. The string is owned by the library, lives as long as the
// process and must not be freed or modified.
//
// Thread safety: any thread, any time, also in a child after fork().
// Never fails; never returns NULL.
//
//capi:nogo
//export capi_segcache_strerror
func capi_segcache_strerror(status C.int) C.capi_cstring {
	return C.capi_cstring(C.capi_c_strerror(status))
}

// segcache_options_init fills *opts with the defaults: size =
// sizeof(segcache_options), heap_bytes = 64 MiB, segment_bytes = 1 MiB,
// hash_power = 0 (sized from heap_bytes), eviction =
// SEGCACHE_EVICT_S3FIFO, merge_max = 8, merge_target = 0 (follows
// merge_max: min(4, merge_max)), merge_compact = 0,
// s3fifo_admission_ratio = 0.1, prefault = 0. It writes the whole struct
// (its padding as zeros) as this header defines it, so opts must point to
// a segcache_options of this header (not a smaller struct from an older
// one). A NULL opts is ignored.
//
// Thread safety: any thread, also in a child after fork(); opts belongs
// to the caller.
//
//capi:nogo
//export capi_segcache_options_init
func capi_segcache_options_init(opts *C.segcache_options) { C.capi_c_options_init(opts) }

// segcache_open creates a cache and stores its handle in *out. opts may be
// NULL for the defaults; otherwise it must have been set up by
// segcache_options_init() (its size field is checked). The library does
// not keep opts. On failure *out is set to 0. Each cache maps its own
// memory (heap_bytes plus the hashtable), which segcache_close() releases.
//
// Thread safety: any thread; opening caches concurrently is safe.
//
// Returns:
//   - SEGCACHE_OK: *out holds a new handle.
//   - SEGCACHE_EINVAL: out is NULL; opts->size is below
//     SEGCACHE_OPTIONS_MIN_SIZE or above 4096; bytes beyond the fields this
//     library knows are not zero; eviction is not a segcache_eviction
//     value; segment_bytes is not a multiple of 8 between 4 KiB and 8 MiB;
//     heap_bytes holds fewer than 2 segments; hash_power is outside
//     [4, 29] or its table (2^hash_power slots of 8 bytes) is larger than
//     the heap (heap_bytes in whole segments); a merge parameter or
//     s3fifo_admission_ratio is out of range.
//   - SEGCACHE_ENOMEM: the memory could not be mapped, or too many caches
//     (262144) are open.
//   - SEGCACHE_EINTERNAL: a recovered internal fault.
//
//export capi_segcache_open
func capi_segcache_open(opts C.capi_coptions, out *C.segcache_t) (rc C.int) {
	defer recoverStatus(&rc)
	if out == nil {
		return C.SEGCACHE_EINVAL
	}
	*out = 0
	o, st := optionsFromC((*C.segcache_options)(unsafe.Pointer(opts)))
	if st != C.SEGCACHE_OK {
		return st
	}
	c, err := core.Open(o)
	if err != nil {
		return statusOf(err)
	}
	h, err := caches.Insert(c)
	if err != nil {
		_ = c.Close()
		return C.SEGCACHE_ENOMEM
	}
	*out = C.segcache_t(h)
	return C.SEGCACHE_OK
}

// segcache_close closes the cache and releases its memory; the handle
// becomes invalid, and every later call with it returns
// SEGCACHE_EBADHANDLE. Calls on the same handle that are in flight on
// other threads finish normally or return SEGCACHE_EBADHANDLE; none
// crashes or reads freed memory. The memory and its address range are
// returned to the system before segcache_close returns, once the calls in
// flight are done with it (the library runs a garbage collection of its own
// small heap to know that: a close takes milliseconds, not nanoseconds).
//
// Thread safety: any thread. Of concurrent closes of one handle exactly
// one returns SEGCACHE_OK.
//
// Returns:
//   - SEGCACHE_OK: closed; closing 0 is a no-op that also returns OK.
//   - SEGCACHE_EBADHANDLE: unknown, forged or already closed handle.
//   - SEGCACHE_EINTERNAL: a recovered internal fault.
//
//export capi_segcache_close
func capi_segcache_close(cache C.segcache_t) (rc C.int) {
	defer recoverStatus(&rc)
	if cache == 0 {
		return C.SEGCACHE_OK
	}
	c, ok := caches.Remove(uint64(cache))
	if !ok {
		return C.SEGCACHE_EBADHANDLE
	}
	if err := c.Close(); err != nil {
		return statusOf(err)
	}
	return C.SEGCACHE_OK
}

// store is the body of set, add, replace, cas and store: it checks the
// arguments and runs the engine's Store, returning the new item's token.
// It takes the op as a value rather than a func so that no call allocates
// a closure.
func store(cache C.segcache_t, key unsafe.Pointer, klen C.size_t, val unsafe.Pointer, vlen C.size_t, ttl C.uint32_t, op core.StoreOp, token uint64) (uint64, C.int) {
	k, st := keyArg(key, klen)
	if st != C.SEGCACHE_OK {
		return 0, st
	}
	v, st := valArg(val, vlen)
	if st != C.SEGCACHE_OK {
		return 0, st
	}
	c, st := cacheArg(cache)
	if st != C.SEGCACHE_OK {
		return 0, st
	}
	stored, err := c.Store(op, k, v, ttlArg(ttl), token)
	return stored, statusOf(err)
}

// segcache_set stores val (vlen bytes) under key (klen bytes), replacing
// any previous value. ttl is in seconds; 0 means the item never expires.
// The item is not returned once ttl seconds have passed. key and val are
// copied; the caller keeps ownership. val may be NULL when vlen is 0.
//
// Thread safety: any thread; concurrent writers of one key leave one of
// the values written, whole.
//
// Returns:
//   - SEGCACHE_OK: stored.
//   - SEGCACHE_EINVAL: klen is 0, key is NULL, or val is NULL with vlen > 0.
//   - SEGCACHE_ETOOLARGE: klen > 255, or the item (8-byte header + key +
//     value, rounded up to 8) does not fit in one segment.
//   - SEGCACHE_ENOSPACE: the cache is full and nothing could be evicted or
//     expired (SEGCACHE_EVICT_NONE, or every segment busy).
//   - SEGCACHE_EBADHANDLE: unknown, closed or forged handle.
//   - SEGCACHE_EINTERNAL: a recovered internal fault.
//
//export capi_segcache_set
func capi_segcache_set(cache C.segcache_t, key C.capi_cptr, klen C.size_t, val C.capi_cptr, vlen C.size_t, ttl C.uint32_t) (rc C.int) {
	defer recoverStatus(&rc)
	_, st := store(cache, unsafe.Pointer(key), klen, unsafe.Pointer(val), vlen, ttl, core.StoreSet, 0)
	return st
}

// segcache_add stores val under key only if key is absent (or expired).
// Arguments, ownership and thread safety are those of segcache_set(); of
// concurrent adds of one absent key exactly one succeeds.
//
// Returns:
//   - SEGCACHE_OK: stored.
//   - SEGCACHE_EEXISTS: key is present; nothing changed.
//   - SEGCACHE_EINVAL, SEGCACHE_ETOOLARGE, SEGCACHE_ENOSPACE,
//     SEGCACHE_EBADHANDLE, SEGCACHE_EINTERNAL: as for segcache_set().
//
//export capi_segcache_add
func capi_segcache_add(cache C.segcache_t, key C.capi_cptr, klen C.size_t, val C.capi_cptr, vlen C.size_t, ttl C.uint32_t) (rc C.int) {
	defer recoverStatus(&rc)
	_, st := store(cache, unsafe.Pointer(key), klen, unsafe.Pointer(val), vlen, ttl, core.StoreAdd, 0)
	return st
}

// segcache_replace stores val under key only if key is present. Arguments,
// ownership and thread safety are those of segcache_set().
//
// Returns:
//   - SEGCACHE_OK: replaced.
//   - SEGCACHE_ENOTFOUND: key is absent or expired; nothing changed.
//   - SEGCACHE_EINVAL, SEGCACHE_ETOOLARGE, SEGCACHE_ENOSPACE,
//     SEGCACHE_EBADHANDLE, SEGCACHE_EINTERNAL: as for segcache_set().
//
//export capi_segcache_replace
func capi_segcache_replace(cache C.segcache_t, key C.capi_cptr, klen C.size_t, val C.capi_cptr, vlen C.size_t, ttl C.uint32_t) (rc C.int) {
	defer recoverStatus(&rc)
	_, st := store(cache, unsafe.Pointer(key), klen, unsafe.Pointer(val), vlen, ttl, core.StoreReplace, 0)
	return st
}

// segcache_cas stores val under key only if the item still carries the
// token cas, as returned by segcache_get() (compare-and-swap). Any write
// to the key (set, cas, incr, ...) changes its token. Arguments, ownership
// and thread safety are otherwise those of segcache_set(); of concurrent
// cas calls with the same token at most one succeeds.
//
// Returns:
//   - SEGCACHE_OK: stored.
//   - SEGCACHE_ENOTFOUND: key is absent or expired.
//   - SEGCACHE_EEXISTS: the token is stale (the item changed since it was
//     read); nothing changed.
//   - SEGCACHE_EINVAL, SEGCACHE_ETOOLARGE, SEGCACHE_ENOSPACE,
//     SEGCACHE_EBADHANDLE, SEGCACHE_EINTERNAL: as for segcache_set().
//
//export capi_segcache_cas
func capi_segcache_cas(cache C.segcache_t, key C.capi_cptr, klen C.size_t, val C.capi_cptr, vlen C.size_t, ttl C.uint32_t, cas C.uint64_t) (rc C.int) {
	defer recoverStatus(&rc)
	_, st := store(cache, unsafe.Pointer(key), klen, unsafe.Pointer(val), vlen, ttl, core.StoreCAS, uint64(cas))
	return st
}

// segcache_store is segcache_set(), segcache_add(), segcache_replace() or
// segcache_cas(), chosen by op (enum segcache_store_op; cas is read only by
// SEGCACHE_STORE_CAS), that also gives the CAS token of the item it
// stored: on SEGCACHE_OK, *new_cas (when new_cas is not NULL) receives the
// token segcache_get() returns for the key until the key is written
// again. A caller that chains compare-and-swaps needs it from the write
// itself: a segcache_get() after the write may already see another
// writer's item, and a segcache_cas() with that item's token would
// overwrite a value the caller never saw. Arguments, ownership and thread
// safety are otherwise those of the call op names.
//
// Returns: those of the call op names; SEGCACHE_EINVAL also for an op
// outside enum segcache_store_op. *new_cas is written only on SEGCACHE_OK.
//
//export capi_segcache_store
func capi_segcache_store(cache C.segcache_t, op C.int, key C.capi_cptr, klen C.size_t, val C.capi_cptr, vlen C.size_t, ttl C.uint32_t, cas C.uint64_t, new_cas *C.uint64_t) (rc C.int) {
	defer recoverStatus(&rc)
	if op < 0 || int(op) >= len(storeOps) {
		return C.SEGCACHE_EINVAL
	}
	stored, st := store(cache, unsafe.Pointer(key), klen, unsafe.Pointer(val), vlen, ttl, storeOps[op], uint64(cas))
	if st == C.SEGCACHE_OK && new_cas != nil {
		*new_cas = C.uint64_t(stored)
	}
	return st
}

// segcache_get looks up key and copies its value into buf (cap bytes,
// owned by the caller). *vlen is set to the value's length whenever the
// key is found, so a call with a small or empty buffer (buf may be NULL
// when cap is 0) returns SEGCACHE_ERANGE and the size to allocate. cas is
// optional: when not NULL and the key is found with a large enough buffer,
// *cas receives the item's token for segcache_cas(). On
// SEGCACHE_ENOTFOUND, *vlen is set to 0. Nothing is allocated. buf may
// hold the key itself (a read into the key's buffer). A call that returns
// SEGCACHE_ERANGE found the key, so the statistics count it as a get and a
// hit (and the retry as another).
//
// Thread safety: any thread; a get concurrent with writes of the key
// returns one whole value, never a mix.
//
// Returns:
//   - SEGCACHE_OK: the value is in buf[0..*vlen).
//   - SEGCACHE_ENOTFOUND: key is absent or expired.
//   - SEGCACHE_ERANGE: cap < *vlen; buf is unspecified, retry with a
//     buffer of *vlen bytes.
//   - SEGCACHE_EINVAL: klen is 0, key is NULL, vlen is NULL, or buf is
//     NULL with cap > 0.
//   - SEGCACHE_ETOOLARGE: klen > 255.
//   - SEGCACHE_EBADHANDLE: unknown, closed or forged handle.
//   - SEGCACHE_EINTERNAL: a recovered internal fault.
//
//export capi_segcache_get
func capi_segcache_get(cache C.segcache_t, key C.capi_cptr, klen C.size_t, buf unsafe.Pointer, cap C.size_t, vlen *C.size_t, cas *C.uint64_t) (rc C.int) {
	defer recoverStatus(&rc)
	return getInto(cache, key, klen, buf, cap, vlen, cas)
}

// getInto is the body of segcache_get and segcache_get_buf.
func getInto(cache C.segcache_t, key C.capi_cptr, klen C.size_t, buf unsafe.Pointer, cap C.size_t, vlen *C.size_t, cas *C.uint64_t) C.int {
	if vlen == nil {
		return C.SEGCACHE_EINVAL
	}
	k, st := keyArg(unsafe.Pointer(key), klen)
	if st != C.SEGCACHE_OK {
		return st
	}
	b, st := bufArg(buf, cap)
	if st != C.SEGCACHE_OK {
		return st
	}
	c, st := cacheArg(cache)
	if st != C.SEGCACHE_OK {
		return st
	}
	n, token, err := c.GetInto(b, k)
	switch err {
	case nil:
		*vlen = C.size_t(n)
		if cas != nil {
			*cas = C.uint64_t(token)
		}
		return C.SEGCACHE_OK
	case core.ErrBufferSmall:
		*vlen = C.size_t(n)
		return C.SEGCACHE_ERANGE
	}
	*vlen = 0
	return statusOf(err)
}

// segcache_get_buf is segcache_get(b->cache, key, klen, b->buf, b->cap,
// &b->vlen, &b->cas): the same lookup, statuses and outputs, with the
// cache, the buffer and the outputs in a struct that the caller sets up
// once and reuses. A call through a dynamic foreign-function interface
// (Python ctypes, cffi's ABI mode) pays a conversion per argument, and
// this call has three instead of seven. b->cas is written only on
// SEGCACHE_OK.
//
// Thread safety: any thread; a struct must not be used by two calls at
// once (its outputs would mix).
//
// Returns: as segcache_get(); SEGCACHE_EINVAL also when b is NULL.
//
//export capi_segcache_get_buf
func capi_segcache_get_buf(b *C.segcache_getbuf, key C.capi_cptr, klen C.size_t) (rc C.int) {
	defer recoverStatus(&rc)
	if b == nil {
		return C.SEGCACHE_EINVAL
	}
	return getInto(b.cache, key, klen, b.buf, b.cap, &b.vlen, &b.cas)
}

// segcache_delete removes key.
//
// Thread safety: any thread.
//
// Returns:
//   - SEGCACHE_OK: removed.
//   - SEGCACHE_ENOTFOUND: key is absent or expired.
//   - SEGCACHE_EINVAL: klen is 0 or key is NULL.
//   - SEGCACHE_ETOOLARGE: klen > 255.
//   - SEGCACHE_EBADHANDLE: unknown, closed or forged handle.
//   - SEGCACHE_EINTERNAL: a recovered internal fault.
//
//export capi_segcache_delete
func capi_segcache_delete(cache C.segcache_t, key C.capi_cptr, klen C.size_t) (rc C.int) {
	defer recoverStatus(&rc)
	c, k, st := keyedArgs(cache, unsafe.Pointer(key), klen)
	if st != C.SEGCACHE_OK {
		return st
	}
	return statusOf(c.Delete(k))
}

// segcache_delete_cas removes key only if its item still carries the
// token cas, as returned by segcache_get(): the check and the removal are
// one step, so a write made after the token was read is never removed.
//
// Thread safety: any thread; of concurrent calls with the same token at
// most one succeeds.
//
// Returns:
//   - SEGCACHE_OK: removed.
//   - SEGCACHE_ENOTFOUND: key is absent or expired.
//   - SEGCACHE_EEXISTS: the token is stale (the item changed since it was
//     read); nothing changed.
//   - SEGCACHE_EINVAL, SEGCACHE_ETOOLARGE, SEGCACHE_EBADHANDLE,
//     SEGCACHE_EINTERNAL: as for segcache_delete().
//
//export capi_segcache_delete_cas
func capi_segcache_delete_cas(cache C.segcache_t, key C.capi_cptr, klen C.size_t, cas C.uint64_t) (rc C.int) {
	defer recoverStatus(&rc)
	c, k, st := keyedArgs(cache, unsafe.Pointer(key), klen)
	if st != C.SEGCACHE_OK {
		return st
	}
	return statusOf(c.DeleteCAS(k, uint64(cas)))
}

// numeric is the body of incr and decr.
func numeric(cache C.segcache_t, key unsafe.Pointer, klen C.size_t, delta C.uint64_t, result *C.uint64_t, decr bool) C.int {
	c, k, st := keyedArgs(cache, key, klen)
	if st != C.SEGCACHE_OK {
		return st
	}
	var v uint64
	var err error
	if decr {
		v, err = c.Decr(k, uint64(delta))
	} else {
		v, err = c.Incr(k, uint64(delta))
	}
	if err != nil {
		return statusOf(err)
	}
	if result != nil {
		*result = C.uint64_t(v)
	}
	return C.SEGCACHE_OK
}

// segcache_incr adds delta to the number stored under key, wrapping at
// 2^64, and stores the new value in *result (result may be NULL). The
// value must be a canonical unsigned decimal ("0", "42": ASCII digits, no
// sign, no leading zero, at most 2^64-1) as written by set or by an
// earlier incr; segcache_get() then returns the current number in decimal.
// The item's expiry is unchanged. The number is updated in place (a set
// stores a canonical decimal as a 64-bit number), so an increment never
// needs room and never fails for want of it.
//
// Thread safety: any thread; concurrent increments of one key are atomic
// (none is lost).
//
// Returns:
//   - SEGCACHE_OK: incremented; *result holds the new value.
//   - SEGCACHE_ENOTFOUND: key is absent or expired.
//   - SEGCACHE_ENOTNUMERIC: the value is not a canonical unsigned decimal.
//   - SEGCACHE_EINVAL: klen is 0 or key is NULL.
//   - SEGCACHE_ETOOLARGE: klen > 255.
//   - SEGCACHE_EBADHANDLE: unknown, closed or forged handle.
//   - SEGCACHE_EINTERNAL: a recovered internal fault.
//
//export capi_segcache_incr
func capi_segcache_incr(cache C.segcache_t, key C.capi_cptr, klen C.size_t, delta C.uint64_t, result *C.uint64_t) (rc C.int) {
	defer recoverStatus(&rc)
	return numeric(cache, unsafe.Pointer(key), klen, delta, result, false)
}

// segcache_decr subtracts delta from the number stored under key,
// saturating at 0, and stores the new value in *result (result may be
// NULL). Everything else is as for segcache_incr(), statuses included.
//
//export capi_segcache_decr
func capi_segcache_decr(cache C.segcache_t, key C.capi_cptr, klen C.size_t, delta C.uint64_t, result *C.uint64_t) (rc C.int) {
	defer recoverStatus(&rc)
	return numeric(cache, unsafe.Pointer(key), klen, delta, result, true)
}

// segcache_expire frees, now, every segment whose items have all expired
// (the cache also does this on its own when it needs space).
//
// Thread safety: any thread, concurrently with any other call.
//
// Returns:
//   - SEGCACHE_OK: done.
//   - SEGCACHE_EBADHANDLE: unknown, closed or forged handle.
//   - SEGCACHE_EINTERNAL: a recovered internal fault.
//
//export capi_segcache_expire
func capi_segcache_expire(cache C.segcache_t) (rc C.int) {
	defer recoverStatus(&rc)
	c, st := cacheArg(cache)
	if st != C.SEGCACHE_OK {
		return st
	}
	return statusOf(c.Expire())
}

// segcache_clear removes every item. Writes that run concurrently may
// survive it.
//
// Thread safety: any thread, concurrently with any other call.
//
// Returns:
//   - SEGCACHE_OK: done.
//   - SEGCACHE_EBADHANDLE: unknown, closed or forged handle.
//   - SEGCACHE_EINTERNAL: a recovered internal fault.
//
//export capi_segcache_clear
func capi_segcache_clear(cache C.segcache_t) (rc C.int) {
	defer recoverStatus(&rc)
	c, st := cacheArg(cache)
	if st != C.SEGCACHE_OK {
		return st
	}
	return statusOf(c.Clear())
}

// segcache_stats_get fills *out with a snapshot of the cache's counters.
// Set out->size = sizeof(segcache_stats) first: the library writes only
// the fields that fit in out->size (a program built against an older,
// smaller struct gets the fields it knows) and sets out->size to the
// number of bytes it filled.
//
// Thread safety: any thread; the counters are read without stopping other
// calls, so they are consistent only once those calls have returned.
//
// Returns:
//   - SEGCACHE_OK: *out filled.
//   - SEGCACHE_EINVAL: out is NULL, or out->size is below
//     SEGCACHE_STATS_MIN_SIZE or above 4096.
//   - SEGCACHE_EBADHANDLE: unknown, closed or forged handle.
//   - SEGCACHE_EINTERNAL: a recovered internal fault.
//
//export capi_segcache_stats_get
func capi_segcache_stats_get(cache C.segcache_t, out *C.segcache_stats) (rc C.int) {
	defer recoverStatus(&rc)
	if out == nil {
		return C.SEGCACHE_EINVAL
	}
	if size := out.size; size < C.SEGCACHE_STATS_MIN_SIZE || size > maxStructSize {
		return C.SEGCACHE_EINVAL
	}
	c, st := cacheArg(cache)
	if st != C.SEGCACHE_OK {
		return st
	}
	return statsToC(c.Stats(), out)
}

// segcache_get_multi looks up n keys in one call, which amortizes the cost
// of crossing from C into the library (about 40 ns per call) over the
// batch. For each i in [0, n): keys[i] (klens[i] bytes) is looked up and
// its value copied into bufs[i] (caps[i] bytes, owned by the caller);
// vlens[i] receives the value's length (as for segcache_get(): also when
// the buffer is too small, 0 when not found) and statuses[i] one of
//   - SEGCACHE_OK: the value is in bufs[i][0..vlens[i]);
//   - SEGCACHE_ENOTFOUND: absent or expired;
//   - SEGCACHE_ERANGE: caps[i] < vlens[i];
//   - SEGCACHE_EINVAL: klens[i] is 0, keys[i] is NULL, or bufs[i] is NULL
//     with caps[i] > 0 (the other keys are still looked up);
//   - SEGCACHE_ETOOLARGE: klens[i] > 255;
//   - SEGCACHE_EBADHANDLE: the cache was closed during the call.
//
// The same key may appear more than once. Buffers must not overlap each
// other or another entry's key (an entry's buffer may hold its own key).
// Each lookup is atomic on its own; the batch is not a snapshot.
//
// Thread safety: any thread.
//
// A call that fails as a whole (SEGCACHE_EINVAL, SEGCACHE_EFORKED, or
// SEGCACHE_EBADHANDLE for a handle that is not open when the call starts)
// looks nothing up and leaves vlens[], statuses[] and the buffers
// untouched: check the return value before reading them.
//
// Returns:
//   - SEGCACHE_OK: the call was valid; see statuses[] for each key.
//   - SEGCACHE_EINVAL: n > 0 and one of the arrays is NULL, or n > INT32_MAX.
//     Nothing is written.
//   - SEGCACHE_EBADHANDLE: unknown, closed or forged handle (nothing is
//     written), or closed during the call (statuses[] say which keys were
//     looked up).
//   - SEGCACHE_EFORKED: called in a child after fork(); nothing is written.
//   - SEGCACHE_EINTERNAL: a recovered internal fault; statuses[] are
//     unspecified.
//
//export capi_segcache_get_multi
func capi_segcache_get_multi(cache C.segcache_t, n C.size_t, keys C.capi_cptrs, klens C.capi_csizes, bufs C.capi_bufs, caps C.capi_csizes, vlens *C.size_t, statuses *C.int) (rc C.int) {
	defer recoverStatus(&rc)
	if n > maxBatch || n > 0 && (keys == nil || klens == nil || bufs == nil || caps == nil || vlens == nil || statuses == nil) {
		return C.SEGCACHE_EINVAL
	}
	c, st := cacheArg(cache)
	if st != C.SEGCACHE_OK || n == 0 {
		return st
	}
	return getMulti(c, int(n),
		unsafe.Slice((*unsafe.Pointer)(unsafe.Pointer(keys)), int(n)),
		unsafe.Slice((*C.size_t)(unsafe.Pointer(klens)), int(n)),
		unsafe.Slice((*unsafe.Pointer)(unsafe.Pointer(bufs)), int(n)),
		unsafe.Slice((*C.size_t)(unsafe.Pointer(caps)), int(n)),
		unsafe.Slice(vlens, int(n)),
		unsafe.Slice(statuses, int(n)))
}

// segcache_set_multi stores n items in one call: for each i in [0, n), it
// is segcache_set(cache, keys[i], klens[i], vals[i], vlens[i], ttls[i])
// with its status in statuses[i]. ttls may be NULL: every item then never
// expires. vals[i] may be NULL when vlens[i] is 0. Items are stored in
// order (a key repeated in the batch ends with its last value); each store
// is atomic on its own, the batch is not.
//
// Thread safety: any thread.
//
// Returns:
//   - SEGCACHE_OK: the call was valid; statuses[i] is what segcache_set()
//     would return for item i (SEGCACHE_OK, EINVAL, ETOOLARGE, ENOSPACE,
//     EBADHANDLE if the cache was closed during the call).
//   - SEGCACHE_EINVAL: n > 0 and keys, klens, vals, vlens or statuses is
//     NULL, or n > INT32_MAX. Nothing is stored; statuses[] is untouched.
//   - SEGCACHE_EBADHANDLE: unknown, closed or forged handle (nothing is
//     stored; statuses[] is untouched), or closed during the call
//     (statuses[] say which items were stored).
//   - SEGCACHE_EFORKED: called in a child after fork(); nothing is stored,
//     statuses[] is untouched.
//   - SEGCACHE_EINTERNAL: a recovered internal fault; items before the
//     fault may have been stored, statuses[] are unspecified.
//
//export capi_segcache_set_multi
func capi_segcache_set_multi(cache C.segcache_t, n C.size_t, keys C.capi_cptrs, klens C.capi_csizes, vals C.capi_cptrs, vlens C.capi_csizes, ttls C.capi_cu32s, statuses *C.int) (rc C.int) {
	defer recoverStatus(&rc)
	if n > maxBatch || n > 0 && (keys == nil || klens == nil || vals == nil || vlens == nil || statuses == nil) {
		return C.SEGCACHE_EINVAL
	}
	c, st := cacheArg(cache)
	if st != C.SEGCACHE_OK || n == 0 {
		return st
	}
	ks := unsafe.Slice((*unsafe.Pointer)(unsafe.Pointer(keys)), int(n))
	kls := unsafe.Slice((*C.size_t)(unsafe.Pointer(klens)), int(n))
	vs := unsafe.Slice((*unsafe.Pointer)(unsafe.Pointer(vals)), int(n))
	vls := unsafe.Slice((*C.size_t)(unsafe.Pointer(vlens)), int(n))
	sts := unsafe.Slice(statuses, int(n))
	var ts []C.uint32_t
	if ttls != nil {
		ts = unsafe.Slice((*C.uint32_t)(unsafe.Pointer(ttls)), int(n))
	}
	rc = C.SEGCACHE_OK
	for i := range sts {
		k, st := keyArg(ks[i], kls[i])
		if st != C.SEGCACHE_OK {
			sts[i] = st
			continue
		}
		v, st := valArg(vs[i], vls[i])
		if st != C.SEGCACHE_OK {
			sts[i] = st
			continue
		}
		var ttl C.uint32_t
		if ts != nil {
			ttl = ts[i]
		}
		sts[i] = statusOf(c.Set(k, v, ttlArg(ttl)))
		if sts[i] == C.SEGCACHE_EBADHANDLE {
			rc = C.SEGCACHE_EBADHANDLE
		}
	}
	return rc
}

// segcache_delete_multi removes n keys in one call: for each i in [0, n),
// it is segcache_delete(cache, keys[i], klens[i]) with its status
// (SEGCACHE_OK, ENOTFOUND, EINVAL, ETOOLARGE, EBADHANDLE) in statuses[i].
//
// Thread safety: any thread.
//
// Returns:
//   - SEGCACHE_OK: the call was valid; see statuses[].
//   - SEGCACHE_EINVAL: n > 0 and keys, klens or statuses is NULL, or
//     n > INT32_MAX. Nothing is deleted; statuses[] is untouched.
//   - SEGCACHE_EBADHANDLE: unknown, closed or forged handle (nothing is
//     deleted; statuses[] is untouched), or closed during the call
//     (statuses[] say which keys were deleted).
//   - SEGCACHE_EFORKED: called in a child after fork(); nothing is deleted,
//     statuses[] is untouched.
//   - SEGCACHE_EINTERNAL: a recovered internal fault; keys before the
//     fault may have been deleted, statuses[] are unspecified.
//
//export capi_segcache_delete_multi
func capi_segcache_delete_multi(cache C.segcache_t, n C.size_t, keys C.capi_cptrs, klens C.capi_csizes, statuses *C.int) (rc C.int) {
	defer recoverStatus(&rc)
	if n > maxBatch || n > 0 && (keys == nil || klens == nil || statuses == nil) {
		return C.SEGCACHE_EINVAL
	}
	c, st := cacheArg(cache)
	if st != C.SEGCACHE_OK || n == 0 {
		return st
	}
	ks := unsafe.Slice((*unsafe.Pointer)(unsafe.Pointer(keys)), int(n))
	kls := unsafe.Slice((*C.size_t)(unsafe.Pointer(klens)), int(n))
	sts := unsafe.Slice(statuses, int(n))
	rc = C.SEGCACHE_OK
	for i := range sts {
		k, st := keyArg(ks[i], kls[i])
		if st != C.SEGCACHE_OK {
			sts[i] = st
			continue
		}
		sts[i] = statusOf(c.Delete(k))
		if sts[i] == C.SEGCACHE_EBADHANDLE {
			rc = C.SEGCACHE_EBADHANDLE
		}
	}
	return rc
}

// segcache_noop does nothing. It exists to measure the cost of calling
// into the library (the floor under every other call) in benchmarks.
//
// Thread safety: any thread. Never fails.
//
//export capi_segcache_noop
func capi_segcache_noop() {}

// segcache_set_max_procs sets how many threads may run library code at
// once (Go's GOMAXPROCS) to n and returns the previous value; n < 1 only
// returns the current value. The runtime reads the GOMAXPROCS environment
// variable only when the library is loaded, and from the environment the
// process started with (a setenv() before dlopen() is not seen), so this
// call is the way to tune it. The default is the number of CPUs available. Threads
// calling the library beyond this number still make progress, but wait
// for each other while they run library code. n may be at most
// max(256, 4 x the CPUs this process may run on, counted at load time):
// each slot costs the runtime memory and every garbage collection walks
// them all, and more slots than CPUs only add contention.
//
// Thread safety: any thread; it briefly stops all library code.
//
// Returns the previous value (>= 1), or:
//   - SEGCACHE_EINVAL: n is above the limit; nothing changed.
//   - SEGCACHE_EINTERNAL: a recovered internal fault.
//
//export capi_segcache_set_max_procs
func capi_segcache_set_max_procs(n C.int) (prev C.int) {
	defer func() {
		if recover() != nil {
			prev = C.SEGCACHE_EINTERNAL
		}
	}()
	if n < 1 {
		return C.int(runtime.GOMAXPROCS(0))
	}
	if int64(n) > int64(maxProcsLimit) {
		return C.SEGCACHE_EINVAL
	}
	return C.int(runtime.GOMAXPROCS(int(n)))
}

// maxProcsLimit bounds segcache_set_max_procs: the runtime allocates per-P
// state for every slot at once (10000 slots cost 275 MB, 2^31 crashed it),
// so the bound must be small, yet generous enough for any machine's CPUs.
var maxProcsLimit = max(256, 4*runtime.NumCPU())
