package hashtable

import (
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/segcache/segcache/core/internal/arena"
)

// pack builds a slot from its fields (tests only: the engine never builds
// slots itself).
func pack(tag, freq, loc uint64) uint64 { return tag<<TagShift | freq<<FreqShift | loc }

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
		s, g, o := Where(pack(0xabc, 5, l))
		if diff := cmp.Diff(c, loc{s, g, o}); diff != "" {
			t.Errorf("round trip: %s", diff)
		}
		slot := pack(0xabc, MaxFreq, l)
		if Tag(slot) != 0xabc || Freq(slot) != MaxFreq || Loc(slot) != l || IsGhost(slot) {
			t.Errorf("slot fields of %#x", slot)
		}
	}
	// The generation wraps after 64 recycles, not 16: a stalled reader
	// must not accept a location 16 recycles old.
	if _, g, _ := SplitLoc(MakeLoc(3, 64+5, 0)); g != 5 {
		t.Errorf("gen 69 stored as %d", g)
	}
}

func newT(t *testing.T, power uint32) *Table {
	t.Helper()
	tb, err := New(power)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = arena.Unmap(tb.Memory()) })
	return tb
}

func TestBumpSaturates(t *testing.T) {
	tb := newT(t, 4)
	var p uint64 = pack(1, 0, 1)
	for i := 0; i < 100000; i++ {
		tb.Bump(&p, Load(&p))
	}
	if f := Freq(p); f != MaxFreq {
		t.Fatalf("freq after many bumps %d, want %d", f, MaxFreq)
	}
	if Tag(p) != 1 || Loc(p) != 1 {
		t.Fatalf("bumps changed the entry: %#x", p)
	}
	var q uint64 = pack(1, 0, 1)
	for i := 0; i < 16; i++ {
		tb.Bump(&q, Load(&q))
	}
	if f := Freq(q); f != 16 {
		t.Fatalf("freq after 16 bumps %d, want 16 (deterministic below 16)", f)
	}
}

// A single-threaded caller gets the same frequencies on every run: two
// tables fed the same bumps agree slot for slot, and the coins are fair
// enough that 1000 bumps from 16 land near the expected count.
func TestBumpDeterministic(t *testing.T) {
	run := func() []uint64 {
		tb := newT(t, 4)
		out := make([]uint64, 8)
		for i := range out {
			out[i] = pack(uint64(i+1), 16, 1)
		}
		for i := 0; i < 8000; i++ {
			p := &out[i%8]
			tb.Bump(p, Load(p))
		}
		return out
	}
	a, b := run(), run()
	if diff := cmp.Diff(a, b); diff != "" {
		t.Fatalf("two identical runs gave different frequencies:\n%s", diff)
	}
	for _, s := range a {
		// From 16, n bumps with probability 1/f reach about
		// sqrt(16^2 + 2n); n = 1000 gives 47.
		if f := Freq(s); f < 35 || f > 60 {
			t.Errorf("freq after 1000 bumps from 16 = %d, want about 47", f)
		}
	}
}

func TestVictimChoice(t *testing.T) {
	var b0, b1 Bucket
	for i := range b0 {
		b0[i] = pack(1, uint64(10+i), uint64(i+1))
		b1[i] = pack(2, uint64(20+i), uint64(i+100))
	}
	k := Key{&b0, &b1, 7}
	if k.empty() != nil {
		t.Fatal("found empty slot in full buckets")
	}
	if k.InsertFree(MakeLoc(1, 1, 8)) {
		t.Fatal("InsertFree displaced a live entry")
	}
	i, s := k.Coldest(0)
	if i != 0 || Freq(s) != 10 {
		t.Fatalf("coldest = %d %#x", i, s)
	}
	if i, _ := k.Coldest(1); i != 1 {
		t.Fatalf("coldest skipping slot 0 = %d, want 1", i)
	}
	if i, _ := k.Coldest(0xffff); i != -1 {
		t.Fatalf("coldest skipping all = %d, want -1", i)
	}
	b1[3] = pack(7, 3, GhostLoc)
	if i, _ := k.Coldest(0); i != 11 {
		t.Fatal("ghost not preferred as victim")
	}
	if p, s := k.Ghost(); p != &b1[3] || Freq(s) != 3 {
		t.Fatal("Ghost missed the key's ghost")
	}
	if p, _ := (&Key{&b0, &b1, 8}).Ghost(); p != nil {
		t.Fatal("Ghost matched another tag")
	}
	// The key's own ghost is taken over with its frequency.
	loc := MakeLoc(4, 2, 64)
	if !k.InsertFree(loc) || b1[3] != pack(7, 3, loc) {
		t.Fatalf("InsertFree over the key's ghost: %#x", b1[3])
	}
	if p, s := k.Linking(loc); p != &b1[3] || s != b1[3] {
		t.Fatal("Linking missed the entry")
	}
	if p, _ := (&Key{&b0, &b1, 8}).Linking(loc); p != nil {
		t.Fatal("Linking matched another tag")
	}
	if k.Match() != 1<<11 {
		t.Fatalf("Match = %#x, want slot 11", k.Match())
	}
	// Another key's ghost is taken over with frequency 0.
	b0[6] = pack(9, 50, GhostLoc)
	k8 := Key{&b0, &b1, 8}
	if !k8.InsertFree(loc) || b0[6] != pack(8, 0, loc) {
		t.Fatalf("InsertFree over another key's ghost: %#x", b0[6])
	}
	b1[5] = 0
	if k.empty() != &b1[5] {
		t.Fatal("empty missed the empty slot")
	}
}

// Every transition writes what it promises, retries after a frequency
// bump, and gives up when the entry itself changed.
func TestChanges(t *testing.T) {
	old := pack(5, 9, MakeLoc(1, 1, 8))
	loc := MakeLoc(2, 3, 16)
	cases := []struct {
		name   string
		change Change
		want   uint64
	}{
		{"retarget keeps tag and frequency", Retarget(loc), pack(5, 9, loc)},
		{"move sets the frequency", Move(loc, 4), pack(5, 4, loc)},
		{"bury keeps tag and frequency", Bury(), pack(5, 9, GhostLoc)},
		{"unlink empties", Unlink(), 0},
		{"takeover is a fresh entry", Takeover(6, loc), pack(6, 0, loc)},
	}
	for _, c := range cases {
		p := old
		if !c.change.Apply(&p, old) || p != c.want {
			t.Errorf("%s: got %#x, want %#x", c.name, p, c.want)
		}
		// A bump between the look and the change: retried, and a
		// change that keeps the frequency keeps the bumped one.
		p = pack(5, 10, Loc(old))
		want := c.want
		if c.change.keepFreq {
			want = want&^freqBits | 10<<FreqShift
		}
		if !c.change.Apply(&p, old) || p != want {
			t.Errorf("%s after a bump: got %#x, want %#x", c.name, p, want)
		}
		// The entry moved: no change.
		moved := pack(5, 9, MakeLoc(7, 1, 8))
		p = moved
		if c.change.Apply(&p, old) || p != moved {
			t.Errorf("%s on a moved entry: applied (%#x)", c.name, p)
		}
	}
}

// Concurrent bumps never make a transition give up or lose it: every
// Retarget lands, and the slot ends at the last location.
func TestChangeRacingBumps(t *testing.T) {
	tb := newT(t, 4)
	p := new(uint64)
	*p = pack(3, 0, MakeLoc(1, 1, 0))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				tb.Bump(p, Load(p))
			}
		}
	}()
	for i := 1; i <= 20000; i++ {
		loc := MakeLoc(1, 1, 8*i)
		if !Retarget(loc).Apply(p, Load(p)) {
			t.Fatalf("retarget %d gave up under bumps", i)
		}
	}
	close(stop)
	wg.Wait()
	if Loc(*p) != MakeLoc(1, 1, 8*20000) || Tag(*p) != 3 {
		t.Fatalf("slot %#x after the retargets", *p)
	}
}

func TestNewBounds(t *testing.T) {
	if _, err := New(MinPower - 1); err == nil {
		t.Error("power below min accepted")
	}
	tb := newT(t, 10)
	if len(tb.Buckets) != 128 || tb.Bytes() != 8192 || tb.Mask != 127 {
		t.Errorf("table of 2^10 slots: %d buckets, %d bytes", len(tb.Buckets), tb.Bytes())
	}
}

func TestClearGhosts(t *testing.T) {
	tb := newT(t, 4)
	tb.Buckets[0][0] = pack(1, 3, GhostLoc)
	tb.Buckets[1][2] = pack(2, 3, 8)
	tb.ClearGhosts()
	if tb.Buckets[0][0] != 0 || tb.Buckets[1][2] != pack(2, 3, 8) {
		t.Fatalf("after ClearGhosts: %#x %#x", tb.Buckets[0][0], tb.Buckets[1][2])
	}
}
