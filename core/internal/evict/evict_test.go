package evict

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/segcache/segcache/core/internal/segment"
)

func seg(id int32, st segment.State, bucket int32, create, expire int64, live int32) Segment {
	return Segment{ID: id, State: st, Bucket: bucket, Create: create, Expire: expire, NeedUntil: expire - 10, LiveBytes: live}
}

func TestPick(t *testing.T) {
	S, O, F := segment.Sealed, segment.Open, segment.Free
	segs := []Segment{
		seg(0, F, 0, 0, 0, 0),
		seg(1, S, 1, 300, 5000, 900),
		seg(2, S, 2, 100, 0, 500), // oldest, never expires
		seg(3, S, 1, 200, 1000, 100),
		seg(4, O, 1, 50, 900, 10), // open: not a candidate while sealed ones exist
	}
	cases := []struct {
		kind Kind
		seed uint64
		want int32
	}{
		{FIFO, 0, 2},       // oldest creation time (LESSONS #1: not newest-first)
		{CTE, 0, 3},        // earliest expiry; "never" sorts last
		{Util, 0, 3},       // fewest live bytes
		{Random, 1, 1},     // first sealed from index 1
		{Random, 2, 2},     // first sealed from index 2
		{Random, 4, 1},     // wraps around past the open segment
		{RandomFIFO, 1, 3}, // bucket of segment 1 -> its oldest sealed is 3
		{RandomFIFO, 2, 2},
	}
	for _, c := range cases {
		if got := Pick(c.kind, segs, c.seed); got != c.want {
			t.Errorf("Pick(%d, seed %d) = %d, want %d", c.kind, c.seed, got, c.want)
		}
	}
	onlyOpen := []Segment{seg(0, F, 0, 0, 0, 0), seg(1, O, 3, 10, 0, 5)}
	if got := Pick(FIFO, onlyOpen, 0); got != 1 {
		t.Errorf("with no sealed segment, Pick = %d, want the open one", got)
	}
	if got := Pick(Random, []Segment{seg(0, F, 0, 0, 0, 0)}, 0); got != -1 {
		t.Errorf("all free: Pick = %d, want -1", got)
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
		if diff := cmp.Diff(c.want, env{e, n}); diff != "" {
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
	if diff := cmp.Diff([]int32{1, 2}, ids(CompatibleRun(segs, 8))); diff != "" {
		t.Errorf("run: %s", diff)
	}
	if diff := cmp.Diff([]int32{1}, ids(CompatibleRun(segs, 1))); diff != "" {
		t.Errorf("run capped at 1: %s", diff)
	}
	mixed := []Segment{{ID: 5}, {ID: 6}, {ID: 7, Expire: 50_000, NeedUntil: 40_000}}
	if diff := cmp.Diff([]int32{5, 6}, ids(CompatibleRun(mixed, 8))); diff != "" {
		t.Errorf("never-expiring and expiring segments mixed: %s", diff)
	}
	if diff := cmp.Diff([]int32{3, 4}, ids(CompatibleRun(segs[2:], 8))); diff != "" {
		t.Errorf("run from 3: %s", diff)
	}
}
