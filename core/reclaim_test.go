package core_test

// Space that deletes and overwrites free comes back, whatever the policy,
// without evicting anything: a sealed segment whose items all left is
// reclaimed before any victim is chosen. With PolicyNone it is the only
// way space comes back short of expiry or Clear.

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/segcache/segcache/core"
)

// fillUntilFull sets 100-byte values under fresh keys until ErrNoSpace and
// returns the keys stored.
func fillUntilFull(t *testing.T, c *core.Cache, prefix string) [][]byte {
	t.Helper()
	var keys [][]byte
	val := make([]byte, 100)
	for i := 0; ; i++ {
		k := []byte(fmt.Sprintf("%s%06d", prefix, i))
		err := c.Set(k, val, 0)
		if errors.Is(err, core.ErrNoSpace) {
			return keys
		}
		if err != nil {
			t.Fatalf("set %s: %v", k, err)
		}
		keys = append(keys, k)
		if i > 1_000_000 {
			t.Fatal("a 64 KiB cache never filled")
		}
	}
}

// The reproducer of the hardening issue: 64 KiB of 4 KiB segments filled
// with 100-byte values, every key deleted, Expire: sets succeed again.
func TestNoneReclaimsDeletedSpace(t *testing.T) {
	c := openT(t, core.Options{HeapBytes: 64 << 10, SegmentBytes: 4096, Eviction: core.PolicyNone})
	keys := fillUntilFull(t, c, "a")
	for _, k := range keys {
		if err := c.Delete(k); err != nil {
			t.Fatalf("delete %s: %v", k, err)
		}
	}
	if err := c.Expire(); err != nil {
		t.Fatal(err)
	}
	if err := c.Set([]byte("again"), make([]byte, 100), 0); err != nil {
		t.Fatalf("set after deleting everything: %v (stats %+v)", err, c.Stats())
	}
	// All but the open segment's worth come back.
	again := fillUntilFull(t, c, "b")
	if len(again) < len(keys)*3/4 {
		t.Errorf("after deleting %d items only %d fit again", len(keys), len(again))
	}
	sane(t, c.Stats())
}

// Deleting some items reclaims exactly the segments left empty: every key
// not deleted stays readable (PolicyNone never drops a stored item), and
// the space of the emptied segments is reused.
func TestNoneReclaimKeepsLiveItems(t *testing.T) {
	c := openT(t, core.Options{HeapBytes: 64 << 10, SegmentBytes: 4096, Eviction: core.PolicyNone})
	keys := fillUntilFull(t, c, "a")
	// Delete the first half: whole segments (the oldest) become empty.
	half := len(keys) / 2
	for _, k := range keys[:half] {
		if err := c.Delete(k); err != nil {
			t.Fatal(err)
		}
	}
	more := fillUntilFull(t, c, "b") // no Expire: the writes reclaim
	if len(more) < half/2 {
		t.Errorf("after deleting %d items only %d new ones fit", half, len(more))
	}
	for _, k := range append(keys[half:], more...) {
		if _, ok := c.Get(nil, k); !ok {
			t.Fatalf("stored key %s lost", k)
		}
	}
	if s := c.Stats(); s.EvictedItems != 0 {
		t.Errorf("PolicyNone evicted %d items", s.EvictedItems)
	}
}

// Every policy reclaims an emptied segment before evicting anything.
func TestEmptySegmentsGoFirst(t *testing.T) {
	for _, p := range []core.Policy{core.PolicyRandom, core.PolicyRandomFIFO, core.PolicyFIFO,
		core.PolicyCTE, core.PolicyUtil, core.PolicyMerge, core.PolicyS3FIFO} {
		t.Run(p.String(), func(t *testing.T) {
			c := openT(t, core.Options{HeapBytes: 64 << 10, SegmentBytes: 4096, Eviction: p})
			val := make([]byte, 100)
			// Fill about 3/4 of the cache, so that nothing is evicted yet.
			n := (64 << 10) / 128 * 3 / 4
			for i := 0; i < n; i++ {
				if err := c.Set([]byte(fmt.Sprintf("a%06d", i)), val, 0); err != nil {
					t.Fatal(err)
				}
			}
			if s := c.Stats(); s.EvictedItems != 0 {
				t.Fatalf("evicted %d items while filling", s.EvictedItems)
			}
			// Delete the oldest half, then write as much as was deleted.
			for i := 0; i < n/2; i++ {
				if err := c.Delete([]byte(fmt.Sprintf("a%06d", i))); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; i < n/2; i++ {
				if err := c.Set([]byte(fmt.Sprintf("b%06d", i)), val, 0); err != nil {
					t.Fatal(err)
				}
			}
			for i := n / 2; i < n; i++ {
				if _, ok := c.Get(nil, []byte(fmt.Sprintf("a%06d", i))); !ok {
					t.Fatalf("key a%06d evicted while emptied segments were free to take (stats %+v)", i, c.Stats())
				}
			}
		})
	}
}

// MergeMax set alone below the default MergeTarget is valid: the target
// follows it. Errors about merge parameters name the field.
func TestMergeOptionDefaults(t *testing.T) {
	for _, max := range []int{2, 3} {
		c, err := core.Open(core.Options{HeapBytes: 1 << 20, SegmentBytes: 4096, MergeMax: max})
		if err != nil {
			t.Fatalf("MergeMax %d alone: %v", max, err)
		}
		c.Close()
	}
	cases := []struct {
		opts  core.Options
		field string
	}{
		{core.Options{MergeMax: 3, MergeTarget: 5}, "MergeTarget"},
		{core.Options{MergeMax: 1}, "MergeMax"},
		{core.Options{MergeMax: 100}, "MergeMax"},
		{core.Options{MergeCompact: 65}, "MergeCompact"},
	}
	for _, tc := range cases {
		_, err := core.Open(tc.opts)
		if !errors.Is(err, core.ErrInvalid) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("Open(%+v) = %v, want ErrInvalid naming %s", tc.opts, err, tc.field)
		}
	}
}
