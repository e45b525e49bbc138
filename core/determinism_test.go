package core_test

// Replays are deterministic: segments are ordered by a logical opening
// stamp, not by a millisecond clock whose ties depended on replay speed,
// and the random policies draw from a seeded source. The same workload
// replayed twice on the same options (one goroutine) gives the same misses
// and the same eviction counters.
//
// The workload has no TTLs: expiry follows the real clock (the TTL
// contract), and so does whether items of two segments may share a merged
// or promotion segment (their expiry times are compared), so a replay with
// TTLs depends on the milliseconds between segment openings.

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/segcache/segcache/core"
)

type replayResult struct {
	Misses                          int
	Evicted, Merged, Promoted, Segs uint64
}

func replay(t *testing.T, p core.Policy, req []uint32) replayResult {
	t.Helper()
	// Fewer than 256 segments: one write lane, so no placement depends on
	// which processor the goroutine runs on.
	c := openT(t, core.Options{HeapBytes: 96 * 4096, SegmentBytes: 4096, Eviction: p})
	key := make([]byte, 0, 32)
	val := make([]byte, 200)
	buf := make([]byte, 0, 256)
	var res replayResult
	for i, r := range req {
		key = fmt.Appendf(key[:0], "key-%08d", r)
		if r%97 == 0 && i%5 == 0 {
			c.Delete(key)
			continue
		}
		var ok bool
		if buf, ok = c.Get(buf[:0], key); ok {
			continue
		}
		res.Misses++
		// Value sizes vary by key, so segments fill unevenly.
		if err := c.Set(key, val[:20+int(r%150)], 0); err != nil && p != core.PolicyNone {
			t.Fatalf("%v: set: %v", p, err)
		}
	}
	s := c.Stats()
	res.Evicted, res.Merged, res.Promoted, res.Segs = s.EvictedItems, s.MergedSegments, s.PromotedItems, s.EvictedSegments
	return res
}

func TestReplayIsDeterministic(t *testing.T) {
	n := 100_000
	if testing.Short() || raceEnabled {
		n = 40_000
	}
	req := zipfRequests(n, 40_000, 1.05, 9)
	for _, early := range []bool{false, true} {
		// Both orders of a set (item written before or after the lookup;
		// which one depends on the table's size) replay deterministically.
		// Restored on return too: a replay that fails stops the test.
		defer core.SetEarlyWriteOrder(early)()
		for _, p := range []core.Policy{core.PolicyNone, core.PolicyRandom, core.PolicyRandomFIFO, core.PolicyFIFO,
			core.PolicyCTE, core.PolicyUtil, core.PolicyMerge, core.PolicyS3FIFO} {
			first, second := replay(t, p, req), replay(t, p, req)
			if diff := cmp.Diff(first, second); diff != "" {
				t.Errorf("%v, early write %v: two replays differ (-first +second):\n%s", p, early, diff)
			} else {
				t.Logf("%v, early write %v: %+v", p, early, first)
			}
		}
	}
}
