package evict

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
)

// TestHeap checks that the heap yields its members by (key, tie) after
// any mix of pushes, re-keys and removals of members anywhere in it.
func TestHeap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 200
	h := NewHeap(n)
	model := map[int32][2]int64{}
	for step := 0; step < 5000; step++ {
		id := int32(r.IntN(n))
		if r.IntN(3) == 0 {
			h.Remove(id)
			delete(model, id)
		} else {
			// Keys repeat; tie-breaks are unique, as opening stamps are.
			k, tie := int64(r.IntN(50)), int64(step)
			h.Push(id, k, tie)
			model[id] = [2]int64{k, tie}
		}
		if h.Len() != len(model) {
			t.Fatalf("step %d: len %d, want %d", step, h.Len(), len(model))
		}
	}
	var want, got []int32
	for id := range model {
		want = append(want, id)
	}
	slices.SortFunc(want, func(a, b int32) int {
		if c := cmp.Compare(model[a][0], model[b][0]); c != 0 {
			return c
		}
		return cmp.Compare(model[a][1], model[b][1])
	})
	for h.Len() > 0 {
		id, k := h.Min()
		if k != model[id][0] {
			t.Fatalf("Min key %d, want %d", k, model[id][0])
		}
		got = append(got, id)
		h.Remove(id)
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("heap order (-want +got):\n%s", diff)
	}
	if id, _ := h.Min(); id != -1 || h.Has(want[0]) {
		t.Errorf("empty heap: Min %d, Has %v", id, h.Has(want[0]))
	}
}

// TestIndex checks membership and positions after swap-removals.
func TestIndex(t *testing.T) {
	x := NewIndex(10)
	for _, id := range []int32{3, 7, 1, 9, 7} {
		x.Add(id)
	}
	x.Remove(3) // the last member (9) moves into its place
	x.Remove(5) // not a member: no-op
	var got []int32
	for i := 0; i < x.Len(); i++ {
		got = append(got, x.At(i))
	}
	if diff := gocmp.Diff([]int32{9, 7, 1}, got); diff != "" {
		t.Errorf("members (-want +got):\n%s", diff)
	}
	if x.Has(3) || !x.Has(9) {
		t.Errorf("Has(3) %v, Has(9) %v", x.Has(3), x.Has(9))
	}
}

func TestEnvelopeAndFits(t *testing.T) {
	a := Segment{Expire: 10_000, NeedUntil: 9_000}
	b := Segment{Expire: 10_500, NeedUntil: 9_600}
	c := Segment{Expire: 20_000, NeedUntil: 19_000}
	never := Segment{}
	type env struct{ Expire, Need int64 }
	cases := []struct {
		segs []Segment
		want env
	}{
		{[]Segment{a}, env{10_000, 9_000}},
		{[]Segment{a, b}, env{10_000, 9_600}},
		{[]Segment{b, a}, env{10_000, 9_600}},
		{[]Segment{never, never}, env{0, 0}},
	}
	for _, c := range cases {
		e, n := Envelope(c.segs)
		if diff := gocmp.Diff(c.want, env{e, n}); diff != "" {
			t.Errorf("Envelope(%v): %s", c.segs, diff)
		}
	}
	if !Fits(a, b) || Fits(b, a) || Fits(a, c) || !Fits(never, never) || Fits(never, a) || Fits(a, never) {
		t.Error("Fits: an item may only move to a segment expiring no later than its own and no earlier than its promise")
	}
}

func TestCompatibleRun(t *testing.T) {
	segs := []Segment{
		{ID: 1, Expire: 10_000, NeedUntil: 9_000},
		{ID: 2, Expire: 10_200, NeedUntil: 9_500},
		{ID: 3, Expire: 10_900, NeedUntil: 10_100}, // promise beyond the run's earliest expiry
		{ID: 4, Expire: 11_000, NeedUntil: 10_000},
	}
	ids := func(s []Segment) []int32 {
		var out []int32
		for _, x := range s {
			out = append(out, x.ID)
		}
		return out
	}
	if diff := gocmp.Diff([]int32{1, 2}, ids(CompatibleRun(segs, 8))); diff != "" {
		t.Errorf("run: %s", diff)
	}
	if diff := gocmp.Diff([]int32{1}, ids(CompatibleRun(segs, 1))); diff != "" {
		t.Errorf("run capped at 1: %s", diff)
	}
	mixed := []Segment{{ID: 5}, {ID: 6}, {ID: 7, Expire: 50_000, NeedUntil: 40_000}}
	if diff := gocmp.Diff([]int32{5, 6}, ids(CompatibleRun(mixed, 8))); diff != "" {
		t.Errorf("never-expiring and expiring segments mixed: %s", diff)
	}
	if diff := gocmp.Diff([]int32{3, 4}, ids(CompatibleRun(segs[2:], 8))); diff != "" {
		t.Errorf("run from 3: %s", diff)
	}
}
