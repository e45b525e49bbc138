package core_test

import (
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/segcache/segcache/core"
)

// Options.Prefault makes the heap and the initial table resident at Open;
// without it a new cache costs next to nothing until it is written. Either
// way the cache behaves the same.
func TestPrefaultMakesTheCacheResidentAtOpen(t *testing.T) {
	const heap = 48 << 20
	for _, tc := range []struct {
		prefault bool
		min, max int64 // RSS growth at Open, in bytes
	}{
		{false, math.MinInt64, heap / 4},
		{true, heap * 9 / 10, 1 << 40},
	} {
		// Earlier tests' garbage, returned to the system while we
		// measure, would shrink the growth: return it first.
		debug.FreeOSMemory()
		before := vmRSS(t)
		c, err := core.Open(core.Options{HeapBytes: heap, SegmentBytes: 1 << 20, HashPower: 16, Prefault: tc.prefault})
		if err != nil {
			t.Fatal(err)
		}
		grown := int64(vmRSS(t)) - int64(before)
		if grown < tc.min || grown > tc.max {
			t.Errorf("Prefault %v: Open of a %d-byte heap grew RSS by %d, want between %d and %d", tc.prefault, heap, grown, tc.min, tc.max)
		}
		if err := c.Set([]byte("k"), []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
		got, ok := c.Get(nil, []byte("k"))
		if diff := cmp.Diff("v", string(got)); !ok || diff != "" {
			t.Errorf("Prefault %v: Get found %v (-want +got):\n%s", tc.prefault, ok, diff)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// vmRSS is the process's resident memory.
func vmRSS(t *testing.T) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}
