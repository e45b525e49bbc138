package main

import (
	"fmt"
	"runtime"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/segcache/segcache/core"
)

// multiArgs holds the arrays of one segcache_get_multi call, built in Go.
// Test files cannot name C types, so the arrays are typed by inference
// from getMulti's own signature (size_t is ~uint64, int is ~int32 on
// every platform the library supports).
type multiArgs[S ~uint64, I ~int32] struct {
	fn                 func(*core.Cache, int, []unsafe.Pointer, []S, []unsafe.Pointer, []S, []S, []I) I
	keys, bufs         []unsafe.Pointer
	klens, caps, vlens []S
	statuses           []I
	arena              [][]byte // the buffers bufs point into
}

// newMultiArgs prepares n lookups with one buffer of bufCap bytes each.
func newMultiArgs[S ~uint64, I ~int32](fn func(*core.Cache, int, []unsafe.Pointer, []S, []unsafe.Pointer, []S, []S, []I) I, n, bufCap int) *multiArgs[S, I] {
	a := &multiArgs[S, I]{
		fn:   fn,
		keys: make([]unsafe.Pointer, n), bufs: make([]unsafe.Pointer, n),
		klens: make([]S, n), caps: make([]S, n), vlens: make([]S, n),
		statuses: make([]I, n), arena: make([][]byte, n),
	}
	for i := range a.arena {
		a.arena[i] = make([]byte, bufCap+1) // +1: a zero cap still has an address
		a.bufs[i], a.caps[i] = unsafe.Pointer(&a.arena[i][0]), S(bufCap)
	}
	return a
}

func (a *multiArgs[S, I]) setKey(i int, k []byte) {
	a.keys[i], a.klens[i] = nil, S(len(k))
	if len(k) > 0 {
		a.keys[i] = unsafe.Pointer(&k[0])
	}
}

func (a *multiArgs[S, I]) run(c *core.Cache) int {
	return int(a.fn(c, len(a.keys), a.keys, a.klens, a.bufs, a.caps, a.vlens, a.statuses))
}

// The statuses of segcache.h that these tests expect (test files cannot
// name C constants).
const (
	stNotFound  = -1
	stRange     = -4
	stTooLarge  = -5
	stInval     = -7
	stBadHandle = -8
)

// result is what one lookup of a batch reported.
type result struct {
	Status int
	Value  string // the buffer's first vlen bytes when Status is OK
	VLen   int
}

func (a *multiArgs[S, I]) results() []result {
	out := make([]result, len(a.keys))
	for i := range out {
		out[i] = result{Status: int(a.statuses[i]), VLen: int(a.vlens[i])}
		if a.statuses[i] == 0 {
			out[i].Value = string(a.arena[i][:a.vlens[i]])
		}
	}
	return out
}

func openFilled(t testing.TB, n int) (*core.Cache, [][]byte) {
	t.Helper()
	c, err := core.Open(core.Options{HeapBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key:%012d", i)
		if err := c.Set(keys[i], fmt.Appendf(nil, "value-%d", i), 0); err != nil {
			t.Fatal(err)
		}
	}
	return c, keys
}

// TestGetMulti checks each per-key status of segcache_get_multi, across
// the chunk boundaries of the batch (invalid keys are left out of the
// chunk handed to the engine, so the indexes must still line up).
func TestGetMulti(t *testing.T) {
	c, keys := openFilled(t, 100)
	defer c.Close()
	const n = 3*batchChunk + 5
	a := newMultiArgs(getMulti, n, 16)
	want := make([]result, n)
	long := make([]byte, core.MaxKeyLen+1)
	for i := 0; i < n; i++ {
		switch i % 7 {
		case 1: // absent
			a.setKey(i, fmt.Appendf(nil, "absent:%d", i))
			want[i] = result{Status: stNotFound}
		case 2: // empty key
			a.setKey(i, nil)
			want[i] = result{Status: stInval}
		case 3: // key over the limit
			a.setKey(i, long)
			want[i] = result{Status: stTooLarge}
		case 4: // the buffer is too small: the length is still reported
			a.setKey(i, keys[i])
			a.caps[i] = 3
			want[i] = result{Status: stRange, VLen: len(fmt.Sprintf("value-%d", i))}
		case 5: // NULL buffer with a capacity
			a.setKey(i, keys[i])
			a.bufs[i] = nil
			want[i] = result{Status: stInval}
		case 6: // the same key twice in the batch
			a.setKey(i, keys[0])
			want[i] = result{Value: "value-0", VLen: 7}
		default:
			a.setKey(i, keys[i])
			v := fmt.Sprintf("value-%d", i)
			want[i] = result{Value: v, VLen: len(v)}
		}
	}
	// Stale outputs must be overwritten for every key.
	for i := range a.vlens {
		a.vlens[i], a.statuses[i] = 99, 99
	}
	if rc := a.run(c); rc != 0 {
		t.Fatalf("rc = %d, want 0", rc)
	}
	if d := cmp.Diff(want, a.results()); d != "" {
		t.Errorf("results (-want +got):\n%s", d)
	}
}

// TestGetMultiClosed: a cache closed before the call reports EBADHANDLE
// as the call's status and for every key.
func TestGetMultiClosed(t *testing.T) {
	c, keys := openFilled(t, 40)
	c.Close()
	a := newMultiArgs(getMulti, len(keys), 16)
	for i, k := range keys {
		a.setKey(i, k)
	}
	if rc := a.run(c); rc != stBadHandle {
		t.Fatalf("rc = %d, want SEGCACHE_EBADHANDLE", rc)
	}
	for i, st := range a.statuses {
		if st != stBadHandle || a.vlens[i] != 0 {
			t.Fatalf("key %d: status %d vlen %d, want EBADHANDLE and 0", i, st, a.vlens[i])
		}
	}
}

// BenchmarkGetMultiHot puts the Go side of segcache_get_multi (getMulti,
// without the cgo crossing) beside core.GetBatch on the same batches of 64
// hot keys (300 distinct), alternating every 16 batches so that the load
// of a shared machine hits both alike. It reports the CPU time of the
// (locked) thread per key of each, and their ratio: what the C ABI's batch
// path adds to the engine's own lookups.
func BenchmarkGetMultiHot(b *testing.B) {
	const batch, rounds = 64, 16
	c, keys := openFilled(b, 300)
	defer c.Close()
	seq := make([][]byte, 1<<16)
	s := uint32(1)
	for i := range seq {
		s = s*1103515245 + 12345
		seq[i] = keys[(s>>8)%uint32(len(keys))]
	}
	ks, bufs := make([][]byte, batch), make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, 128)
	}
	lens, errs := make([]int, batch), make([]error, batch)
	a := newMultiArgs(getMulti, batch, 128)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var coreNs, capiNs int64
	b.ResetTimer()
	for i := 0; i < b.N; i += 2 * batch * rounds {
		t0 := threadNanos()
		for r := 0; r < rounds; r++ {
			copy(ks, seq[(i+r*batch)%len(seq):])
			c.GetBatch(ks, bufs, lens, errs)
		}
		t1 := threadNanos()
		for r := 0; r < rounds; r++ {
			for j, k := range seq[(i+r*batch)%len(seq):][:batch] {
				a.keys[j], a.klens[j] = unsafe.Pointer(&k[0]), 16
			}
			if a.run(c) != 0 {
				b.Fatal("getMulti failed")
			}
		}
		t2 := threadNanos()
		coreNs += t1 - t0
		capiNs += t2 - t1
	}
	keysEach := float64((b.N + 2*batch*rounds - 1) / (2 * batch * rounds) * batch * rounds)
	b.ReportMetric(float64(coreNs)/keysEach, "core-cpu-ns/key")
	b.ReportMetric(float64(capiNs)/keysEach, "capi-cpu-ns/key")
	b.ReportMetric(float64(capiNs)/float64(coreNs), "capi/core")
}

// threadNanos is the CPU time of the calling thread (lock it first).
func threadNanos() int64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return ts.Nano()
}
