package core_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/segcache/segcache/core"
)

// A table filled to 97% keeps every item: when both buckets of a new key
// are full, an entry moves to its other bucket instead of being dropped
// (eviction none would otherwise refuse the set, the other policies
// would drop the coldest entry).
func TestHighTableLoadKeepsEveryItem(t *testing.T) {
	for _, p := range []core.Policy{core.PolicyNone, core.PolicyFIFO} {
		t.Run(p.String(), func(t *testing.T) {
			const slots = 1 << 12
			c := openT(t, core.Options{HeapBytes: 1 << 20, SegmentBytes: 64 << 10, HashPower: 12, Eviction: p})
			n := slots * 97 / 100
			for i := 0; i < n; i++ {
				k := fmt.Sprintf("key:%06d", i)
				if err := c.Set([]byte(k), []byte(k), 0); err != nil {
					t.Fatalf("set %d of %d into %d slots: %v", i, n, slots, err)
				}
			}
			for i := 0; i < n; i++ {
				k := fmt.Sprintf("key:%06d", i)
				if v, ok := c.Get(nil, []byte(k)); !ok || string(v) != k {
					t.Fatalf("%s lost (found %v, %q)", k, ok, v)
				}
			}
			if s := c.Stats(); s.Items != uint64(n) || s.EvictedItems != 0 {
				t.Errorf("Items %d EvictedItems %d, want %d, 0", s.Items, s.EvictedItems, n)
			}
		})
	}
}

// Readers never miss a present key while writers fill the table so full
// that inserts keep moving other keys' entries between their buckets.
func TestReadersNeverMissDuringDisplacement(t *testing.T) {
	const slots = 1 << 12
	c := openT(t, core.Options{HeapBytes: 1 << 20, SegmentBytes: 64 << 10, HashPower: 12, Eviction: core.PolicyNone})
	const stable = slots / 2
	for i := 0; i < stable; i++ {
		k := fmt.Sprintf("stable:%05d", i)
		if err := c.Set([]byte(k), []byte(k), 0); err != nil {
			t.Fatal(err)
		}
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var misses atomic.Int64
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			buf := make([]byte, 0, 32)
			for n := r; !stop.Load(); n++ {
				k := fmt.Sprintf("stable:%05d", n%stable)
				v, ok := c.Get(buf[:0], []byte(k))
				if !ok || string(v) != k {
					misses.Add(1)
				}
			}
		}(r)
	}
	// Fill the rest of the table with fresh keys (until the table refuses
	// them), delete them, and again: every round displaces entries.
	for round := 0; round < 6; round++ {
		var fresh []string
		for i := 0; ; i++ {
			k := fmt.Sprintf("fresh:%d:%05d", round, i)
			if err := c.Set([]byte(k), []byte("x"), 0); err != nil {
				if !errors.Is(err, core.ErrNoSpace) {
					t.Fatal(err)
				}
				break
			}
			fresh = append(fresh, k)
		}
		if len(fresh) < slots/3 {
			t.Fatalf("round %d: only %d fresh keys fit beside %d in %d slots", round, len(fresh), stable, slots)
		}
		for _, k := range fresh {
			if err := c.Delete([]byte(k)); err != nil {
				t.Fatalf("delete %s: %v", k, err)
			}
		}
		if err := c.Expire(); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if n := misses.Load(); n != 0 {
		t.Fatalf("%d lookups of present keys missed or returned a wrong value", n)
	}
}
