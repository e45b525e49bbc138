package core_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/segcache/segcache/core"
)

// With eviction none, a set whose key's two candidate buckets are full of
// live entries must fail with ErrNoSpace instead of dropping one of them:
// a write the cache acknowledged is never lost. The configuration is the
// one that lost 39,301 of 104,832 acknowledged writes: a 4 MiB heap of
// 64 KiB segments with the automatic table size and 8-byte values, so the
// table fills long before the heap does.
func TestPolicyNoneNeverDropsForFullBuckets(t *testing.T) {
	c := openT(t, core.Options{HeapBytes: 4 << 20, SegmentBytes: 64 << 10, Eviction: core.PolicyNone})
	val := []byte("01234567")
	var acked []string
	noSpace := 0
	for i := 0; i < 300_000 && noSpace < 1000; i++ {
		k := fmt.Sprintf("user:%06d", i)
		switch err := c.Set([]byte(k), val, 0); {
		case err == nil:
			acked = append(acked, k)
		case errors.Is(err, core.ErrNoSpace):
			noSpace++
		default:
			t.Fatalf("Set(%s) = %v", k, err)
		}
	}
	if noSpace == 0 {
		t.Fatalf("no ErrNoSpace in 300,000 sets of a 4 MiB cache: the test filled nothing")
	}
	lost := 0
	for _, k := range acked {
		if v, ok := c.Get(nil, []byte(k)); !ok || string(v) != string(val) {
			lost++
		}
	}
	s := c.Stats()
	type outcome struct{ Lost, EvictedItems, Items int }
	want := outcome{0, 0, len(acked)}
	got := outcome{lost, int(s.EvictedItems), int(s.Items)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after %d acknowledged sets (-want +got):\n%s", len(acked), diff)
	}
	// The rejected writes left nothing behind: overwriting every stored key
	// in place still works, and the counters stay exact.
	for _, k := range acked[:min(len(acked), 1000)] {
		if err := c.Set([]byte(k), []byte("76543210"), 0); err != nil && !errors.Is(err, core.ErrNoSpace) {
			t.Fatalf("overwrite %s: %v", k, err)
		}
	}
	if s := c.Stats(); s.Items != uint64(len(acked)) || s.EvictedItems != 0 {
		t.Errorf("after overwrites: Items %d EvictedItems %d, want %d, 0", s.Items, s.EvictedItems, len(acked))
	}
}

// A full cache under eviction none answers each store as before the
// refusal path skipped the lookup: a set (new key or overwrite) gets
// ErrNoSpace, add of a present key ErrExists and replace or cas of an
// absent key ErrNotFound (what the key is comes before whether there is
// room), and every item stored before stays readable with its value.
func TestPolicyNoneFullAnswers(t *testing.T) {
	c := openT(t, core.Options{HeapBytes: 64 << 10, SegmentBytes: 4 << 10, Eviction: core.PolicyNone})
	val := make([]byte, 64)
	var stored []string
	for i := 0; ; i++ {
		k := fmt.Sprintf("key:%06d", i)
		err := c.Set([]byte(k), val, 0)
		if errors.Is(err, core.ErrNoSpace) {
			break
		}
		if err != nil || i > 100_000 {
			t.Fatalf("Set(%s) = %v after %d sets", k, err, i)
		}
		stored = append(stored, k)
	}
	present, absent := []byte(stored[0]), []byte("absent-key")
	_, token, _ := c.GetCAS(nil, present)
	type answer struct{ Op, Err string }
	errName := func(err error) string {
		for _, e := range []error{core.ErrNoSpace, core.ErrExists, core.ErrNotFound} {
			if errors.Is(err, e) {
				return e.Error()
			}
		}
		return fmt.Sprint(err)
	}
	got := []answer{
		{"set new", errName(c.Set(absent, val, 0))},
		{"set present", errName(c.Set(present, []byte("other"), 0))},
		{"add present", errName(c.Add(present, val, 0))},
		{"add new", errName(c.Add(absent, val, 0))},
		{"replace absent", errName(c.Replace(absent, val, 0))},
		{"replace present", errName(c.Replace(present, val, 0))},
		{"cas absent", errName(c.CAS(absent, val, 0, 1))},
		{"cas present", errName(c.CAS(present, val, 0, token))},
	}
	want := []answer{
		{"set new", core.ErrNoSpace.Error()},
		{"set present", core.ErrNoSpace.Error()},
		{"add present", core.ErrExists.Error()},
		{"add new", core.ErrNoSpace.Error()},
		{"replace absent", core.ErrNotFound.Error()},
		{"replace present", core.ErrNoSpace.Error()},
		{"cas absent", core.ErrNotFound.Error()},
		{"cas present", core.ErrNoSpace.Error()},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers of a full cache (-want +got):\n%s", diff)
	}
	for _, k := range stored {
		if v, ok := c.Get(nil, []byte(k)); !ok || string(v) != string(val) {
			t.Fatalf("%s lost after the refused stores", k)
		}
	}
	if s := c.Stats(); s.Items != uint64(len(stored)) {
		t.Errorf("Items %d, want %d", s.Items, len(stored))
	}
}

// With eviction none, a set whose key's two candidate buckets are full of
// expired entries must expire them rather than fail: ErrNoSpace means
// "nothing could be evicted or expired". Here the table fills (1,012
// items with a 10 ms TTL in 8 segments of 4 KiB, a 1,024-slot table that
// may not grow: doubling it would retire segments the items need) while
// two segments are still free, so no allocation runs expiry. Once every
// item has expired, new keys failed with ErrNoSpace until the free
// segments ran out (164 of the next 200 sets).
func TestPolicyNoneFullBucketsOfExpiredItems(t *testing.T) {
	c := openT(t, core.Options{HeapBytes: 8 * 4096, SegmentBytes: 4096, Eviction: core.PolicyNone, HashPower: 10})
	val := []byte("01234567")
	filled := 0
	for ; filled < 100_000; filled++ {
		err := c.Set([]byte(fmt.Sprintf("a%d", filled)), val, 10*time.Millisecond)
		if errors.Is(err, core.ErrNoSpace) {
			break
		}
		if err != nil {
			t.Fatalf("Set: %v", err)
		}
	}
	if s := c.Stats(); s.SegmentsFree == 0 {
		t.Fatalf("the fill ended with no free segment (%d items): the test needs the table to fill first", filled)
	}
	time.Sleep(30 * time.Millisecond) // every item above has expired
	type outcome struct{ Refused, Items int }
	got := outcome{}
	for i := 0; i < 200; i++ {
		switch err := c.Set([]byte(fmt.Sprintf("b%d", i)), val, 0); {
		case errors.Is(err, core.ErrNoSpace):
			got.Refused++
		case err != nil:
			t.Fatalf("Set: %v", err)
		}
	}
	got.Items = int(c.Stats().Items)
	if diff := cmp.Diff(outcome{0, 200}, got); diff != "" {
		t.Errorf("200 new keys after the %d items before them expired (-want +got):\n%s", filled, diff)
	}
}

// With eviction none, segments left empty by deletes take new items even
// while they are their TTL bucket's open segment: an empty cache must not
// answer ErrNoSpace. Every segment of a cache of 4 was open for one of 4
// TTLs, each holding one item; once the 4 were deleted, a set with a
// fifth TTL failed with ErrNoSpace ("nothing could be evicted or
// expired") with no item in the cache, because only sealed segments were
// reclaimed.
func TestPolicyNoneReusesEmptyOpenSegments(t *testing.T) {
	c := openT(t, core.Options{HeapBytes: 4 * 4096, SegmentBytes: 4096, Eviction: core.PolicyNone})
	for i := 0; i < 4; i++ {
		mustSet(t, c, fmt.Sprintf("k%d", i), "v", time.Duration(i+1)*time.Hour)
	}
	for i := 0; i < 4; i++ {
		if err := c.Delete([]byte(fmt.Sprintf("k%d", i))); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	}
	type outcome struct {
		Set   string
		Items uint64
	}
	got := outcome{errName(c.Set([]byte("new"), []byte("v"), 10*time.Hour)), c.Stats().Items}
	if diff := cmp.Diff(outcome{"ok", 1}, got); diff != "" {
		t.Errorf("a set into a cache whose items were all deleted (-want +got):\n%s", diff)
	}
}
