package hashtable

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/segcache/segcache/core/internal/arena"
)

func TestLocationRoundTrip(t *testing.T) {
	type loc struct {
		Seg int32
		Gen uint32
		Off int
	}
	cases := []loc{{0, 0, 0}, {1, 1, 8}, {1<<18 - 2, 63, 8<<20 - 8}, {12345, 17, 4096}}
	for _, c := range cases {
		l := MakeLoc(c.Seg, c.Gen, c.Off)
		if l > LocMask || l == GhostLoc {
			t.Errorf("MakeLoc(%+v) = %#x out of range or ghost", c, l)
		}
		s, g, o := SplitLoc(l)
		if diff := cmp.Diff(c, loc{s, g, o}); diff != "" {
			t.Errorf("round trip: %s", diff)
		}
		slot := Make(0xabc, 5, l)
		if Tag(slot) != 0xabc || Freq(slot) != 5 || Loc(slot) != l || IsGhost(slot) {
			t.Errorf("slot fields of %#x", slot)
		}
	}
	// The generation wraps after 64 recycles, not 16 (LESSONS #29).
	if _, g, _ := SplitLoc(MakeLoc(3, 64+5, 0)); g != 5 {
		t.Errorf("gen 69 stored as %d", g)
	}
}

func TestBumpSaturates(t *testing.T) {
	var p uint64 = Make(1, 0, 1)
	for i := 0; i < 100000; i++ {
		Bump(&p, Load(&p))
	}
	if f := Freq(p); f != MaxFreq {
		t.Fatalf("freq after many bumps %d, want %d", f, MaxFreq)
	}
	var q uint64 = Make(1, 0, 1)
	for i := 0; i < 16; i++ {
		Bump(&q, Load(&q))
	}
	if f := Freq(q); f != 16 {
		t.Fatalf("freq after 16 bumps %d, want 16 (deterministic below 16)", f)
	}
}

func TestVictimChoice(t *testing.T) {
	var b0, b1 Bucket
	for i := range b0 {
		b0[i] = Make(1, uint64(10+i), uint64(i+1))
		b1[i] = Make(2, uint64(20+i), uint64(i+100))
	}
	if FindEmpty(&b0, &b1) != nil {
		t.Fatal("found empty slot in full buckets")
	}
	i, s := Coldest(&b0, &b1, 0)
	if i != 0 || Freq(s) != 10 {
		t.Fatalf("coldest = %d %#x", i, s)
	}
	if i, _ := Coldest(&b0, &b1, 1); i != 1 {
		t.Fatalf("coldest skipping slot 0 = %d, want 1", i)
	}
	if i, _ := Coldest(&b0, &b1, 0xffff); i != -1 {
		t.Fatalf("coldest skipping all = %d, want -1", i)
	}
	b1[3] = Make(7, 3, GhostLoc)
	if i, _ := Coldest(&b0, &b1, 0); i != 11 {
		t.Fatal("ghost not preferred as victim")
	}
	if p, s := FindGhost(&b0, &b1, 7); p != &b1[3] || Freq(s) != 3 {
		t.Fatal("FindGhost missed the ghost")
	}
	if p, _ := FindGhost(&b0, &b1, 8); p != nil {
		t.Fatal("FindGhost matched another tag")
	}
	b1[5] = 0
	if FindEmpty(&b0, &b1) != &b1[5] {
		t.Fatal("FindEmpty missed the empty slot")
	}
}

func TestNewBounds(t *testing.T) {
	if _, err := New(MinPower - 1); err == nil {
		t.Error("power below min accepted")
	}
	tb, err := New(10)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = arena.Unmap(tb.Memory()) }()
	if len(tb.Buckets) != 128 || tb.Bytes() != 8192 || tb.Mask != 127 {
		t.Errorf("table of 2^10 slots: %d buckets, %d bytes", len(tb.Buckets), tb.Bytes())
	}
}
