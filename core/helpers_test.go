package core_test

// Shared helpers of the black-box suite: opening caches, naming errors so
// that tables can compare them with cmp.Diff, and self-checking values for
// the concurrency tests.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"github.com/segcache/segcache/core"
)

// sentinels lists every exported error, in the order errName reports them.
var sentinels = []struct {
	name string
	err  error
}{
	{"NotFound", core.ErrNotFound},
	{"Exists", core.ErrExists},
	{"NotNumeric", core.ErrNotNumeric},
	{"KeyEmpty", core.ErrKeyEmpty},
	{"KeyTooLarge", core.ErrKeyTooLarge},
	{"ItemTooLarge", core.ErrItemTooLarge},
	{"NoSpace", core.ErrNoSpace},
	{"Invalid", core.ErrInvalid},
	{"Closed", core.ErrClosed},
	{"NoMemory", core.ErrNoMemory},
	{"BufferSmall", core.ErrBufferSmall},
}

// errName maps an error to a short stable name ("ok" for nil) so that table
// tests compare outcomes with cmp.Diff and failures read well. An error that
// wraps none of the sentinels is reported with its text, which never equals
// an expected name.
func errName(err error) string {
	if err == nil {
		return "ok"
	}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return s.name
		}
	}
	return "foreign:" + err.Error()
}

// openT opens a cache and closes it when the test ends.
func openT(tb testing.TB, opts core.Options) *core.Cache {
	tb.Helper()
	c, err := core.Open(opts)
	if err != nil {
		tb.Fatalf("Open(%+v): %v", opts, err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// smallOpts is a cache of nseg 4 KiB segments with the given policy.
func smallOpts(p core.Policy, nseg int) core.Options {
	return core.Options{HeapBytes: uint64(nseg) * 4096, SegmentBytes: 4096, Eviction: p}
}

func get(c *core.Cache, key string) (string, bool) {
	v, ok := c.Get(nil, []byte(key))
	return string(v), ok
}

func mustSet(tb testing.TB, c *core.Cache, key, val string, ttl time.Duration) {
	tb.Helper()
	if err := c.Set([]byte(key), []byte(val), ttl); err != nil {
		tb.Fatalf("Set(%q, %d bytes, %v): %v", key, len(val), ttl, err)
	}
}

func mustToken(tb testing.TB, c *core.Cache, key string) uint64 {
	tb.Helper()
	_, tok, ok := c.GetCAS(nil, []byte(key))
	if !ok {
		tb.Fatalf("GetCAS(%q): absent", key)
	}
	return tok
}

// itemSize is the documented footprint of an item: an 8-byte header, the
// key and the value, rounded up to 8 bytes.
func itemSize(klen, vlen int) int { return (8 + klen + vlen + 7) &^ 7 }

// maxValueLen is the longest value that fits with a key of klen bytes in a
// segment of segBytes, by the documented rule.
func maxValueLen(segBytes, klen int) int {
	v := segBytes - 8 - klen
	for itemSize(klen, v+1) <= segBytes {
		v++
	}
	for itemSize(klen, v) > segBytes {
		v--
	}
	return v
}

// Self-checking values. A value carries the key it was written for, a
// sequence number and a checksum over everything else, so a reader can tell
// a torn or foreign value from a genuine one without any shared state.
//
//	[8: seq][1: keylen][key][filler...][8: CRC-32C of all previous bytes]
//
// The filler is copied from a random table at an offset that depends on
// seq, and the checksum is the stdlib's assembly CRC, so that building and
// checking values stays cheap under the race detector.
var (
	fillerTable = func() []byte {
		b := make([]byte, 1<<13)
		x := uint64(0x9e3779b97f4a7c15)
		for i := range b {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			b[i] = byte(x)
		}
		return b
	}()
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

func mkVal(key string, seq uint64, size int) []byte {
	min := 8 + 1 + len(key) + 8
	if size < min {
		size = min
	}
	b := make([]byte, size)
	binary.LittleEndian.PutUint64(b, seq)
	b[8] = byte(len(key))
	copy(b[9:], key)
	start := int(seq*131+uint64(len(key))) % (len(fillerTable) / 2)
	copy(b[9+len(key):size-8], fillerTable[start:])
	binary.LittleEndian.PutUint64(b[size-8:], uint64(crc32.Checksum(b[:size-8], castagnoli)))
	return b
}

// checkVal verifies a value read for key and returns its sequence number.
func checkVal(key string, v []byte) (uint64, error) {
	if len(v) < 8+1+len(key)+8 {
		return 0, fmt.Errorf("key %q: value of %d bytes is too short to be ours", key, len(v))
	}
	if got := binary.LittleEndian.Uint64(v[len(v)-8:]); got != uint64(crc32.Checksum(v[:len(v)-8], castagnoli)) {
		return 0, fmt.Errorf("key %q: torn value (checksum mismatch), %d bytes", key, len(v))
	}
	if int(v[8]) != len(key) || string(v[9:9+len(key)]) != key {
		return 0, fmt.Errorf("key %q: foreign value written for key %q", key, string(v[9:9+int(v[8])]))
	}
	return binary.LittleEndian.Uint64(v), nil
}

func keyN(prefix string, i int) string { return prefix + strconv.Itoa(i) }

// watchdog fails the test with every goroutine's stack if done is not
// closed within d: a deadlock must show up as a failure, not a CI timeout.
func watchdog(t *testing.T, d time.Duration, what string) (done func()) {
	t.Helper()
	ch := make(chan struct{})
	go func() {
		select {
		case <-ch:
		case <-time.After(d):
			pprof.Lookup("goroutine").WriteTo(os.Stderr, 2)
			panic(fmt.Sprintf("%s: still running after %v (deadlock or livelock?)", what, d))
		}
	}()
	return func() { close(ch) }
}

// scale returns n, or n/div under -short or the race detector, so the
// stress tests stay within a few seconds on a loaded 2-core machine.
func scale(n, div int) int {
	if testing.Short() || raceEnabled {
		n /= div
		if n < 1 {
			n = 1
		}
	}
	return n
}

// workers is the goroutine count of the stress tests: more than the cores,
// so spinning waits are exercised while the owner is descheduled (the published
// engine's spin waits starved on oversubscribed hosts); capped so that a many-core CI machine keeps the run short.
func workers() int { return min(2*runtime.GOMAXPROCS(0)+2, 24) }

// sane reports counters that went negative (a uint64 wrapped below zero
// shows up as a value above 2^62).
func sane(t *testing.T, s core.Stats) {
	t.Helper()
	check := func(name string, v uint64) {
		if v > 1<<62 {
			t.Errorf("Stats.%s = %d: the counter went negative", name, v)
		}
	}
	check("Items", s.Items)
	check("ItemBytes", s.ItemBytes)
	check("SegmentsFree", s.SegmentsFree)
	check("Gets", s.Gets)
	check("Hits", s.Hits)
	check("Misses", s.Misses)
	check("Sets", s.Sets)
	check("Deletes", s.Deletes)
	check("EvictedItems", s.EvictedItems)
	check("ExpiredItems", s.ExpiredItems)
	check("EvictedSegments", s.EvictedSegments)
	check("ExpiredSegments", s.ExpiredSegments)
	check("MergedSegments", s.MergedSegments)
	check("PromotedItems", s.PromotedItems)
	if s.SegmentsFree > s.SegmentsTotal {
		t.Errorf("Stats.SegmentsFree %d > SegmentsTotal %d", s.SegmentsFree, s.SegmentsTotal)
	}
	if s.Hits+s.Misses != s.Gets {
		t.Errorf("Stats: Hits %d + Misses %d != Gets %d", s.Hits, s.Misses, s.Gets)
	}
	if s.ItemBytes > s.HeapBytes {
		t.Errorf("Stats.ItemBytes %d > HeapBytes %d", s.ItemBytes, s.HeapBytes)
	}
	if s.Items > 0 && s.ItemBytes < 8*s.Items+s.Items {
		t.Errorf("Stats.ItemBytes %d too small for %d items (each >= 16 bytes)", s.ItemBytes, s.Items)
	}
}
