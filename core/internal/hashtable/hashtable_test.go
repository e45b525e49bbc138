package hashtable

import (
	"math/bits"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// pairKey is the key of tag whose candidate buckets are b0 and b1, outside
// any table (for tests of the slot logic alone).
func pairKey(b0, b1 *Bucket, tag uint64) Key {
	return Key{b0: b0, b1: b1, tag: tag, moves: new(atomic.Uint64), t: &Table{}}
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
	k, k8 := pairKey(&b0, &b1, 7), pairKey(&b0, &b1, 8)
	if p, _ := k.free(); p != nil {
		t.Fatal("found a free slot in full buckets")
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
	if p, _ := k8.Ghost(); p != nil {
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
	if p, _ := k8.Linking(loc); p != nil {
		t.Fatal("Linking matched another tag")
	}
	if k.Match() != 1<<11 {
		t.Fatalf("Match = %#x, want slot 11", k.Match())
	}
	// Another key's ghost is taken over with frequency 0.
	b0[6] = pack(9, 50, GhostLoc)
	if !k8.InsertFree(loc) || b0[6] != pack(8, 0, loc) {
		t.Fatalf("InsertFree over another key's ghost: %#x", b0[6])
	}
	// Free slots in InsertFree's order: the key's own ghost, an empty slot
	// of the emptier bucket, another key's ghost.
	b1[5] = 0
	if p, s := k.free(); p != &b1[5] || s != 0 {
		t.Fatal("free missed the empty slot")
	}
	b0[1] = 0
	if p, _ := k.free(); p != &b0[1] {
		t.Fatal("free did not take the first bucket on a tie")
	}
	b1[7] = 0
	if p, _ := k.free(); p != &b1[5] {
		t.Fatal("free did not take the emptier bucket")
	}
	b0[4] = pack(7, 6, GhostLoc)
	if p, s := k.free(); p != &b0[4] || Freq(s) != 6 {
		t.Fatal("free preferred an empty slot to the key's own ghost")
	}
	b0[1], b1[5], b1[7], b0[4] = pack(1, 1, 1), pack(1, 1, 2), pack(1, 1, 3), pack(9, 2, GhostLoc)
	if p, s := k.free(); p != &b0[4] || s != b0[4] {
		t.Fatal("free missed another key's ghost")
	}
}

// Every transition writes what it promises, retries after a frequency
// bump, and gives up when the entry itself changed.
func TestChanges(t *testing.T) {
	tbl := newT(t, 4) // not tracking changes: the slot may be anywhere
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
		if !c.change.Apply(tbl, &p, old) || p != c.want {
			t.Errorf("%s: got %#x, want %#x", c.name, p, c.want)
		}
		// A bump between the look and the change: retried, and a
		// change that keeps the frequency keeps the bumped one.
		p = pack(5, 10, Loc(old))
		want := c.want
		if c.change.keepFreq {
			want = want&^freqBits | 10<<FreqShift
		}
		if !c.change.Apply(tbl, &p, old) || p != want {
			t.Errorf("%s after a bump: got %#x, want %#x", c.name, p, want)
		}
		// The entry moved: no change.
		moved := pack(5, 9, MakeLoc(7, 1, 8))
		p = moved
		if c.change.Apply(tbl, &p, old) || p != moved {
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
		if !Retarget(loc).Apply(tb, p, Load(p)) {
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

// find reports whether a lookup of k finds an entry at loc, the way the
// engine looks: counter, scan, and on a miss a re-check of the counter.
// With slow, it yields between the two buckets, as a preempted reader
// would: the widest window a move can slip through.
func find(k *Key, loc uint64, slow bool) (found, settled bool) {
	m := k.Moves()
	if !slow {
		for mask := k.Match(); mask != 0; mask &= mask - 1 {
			if Loc(Load(k.Slot(bits.TrailingZeros32(mask)))) == loc {
				return true, true
			}
		}
		return false, k.Settled(m)
	}
	for i := 0; i < 16; i++ {
		if i == 8 {
			runtime.Gosched()
		}
		if s := Load(k.Slot(i)); s != 0 && Loc(s) == loc {
			return true, true
		}
	}
	return false, k.Settled(m)
}

// slotOfLoc returns the candidate index of k holding loc, or -1.
func slotOfLoc(k *Key, loc uint64) int {
	for i := 0; i < 16; i++ {
		if s := Load(k.Slot(i)); s != 0 && Loc(s) == loc {
			return i
		}
	}
	return -1
}

// withEntry returns a fresh table of 2^power slots holding one entry, of
// the key whose hash is h, at loc.
func withEntry(t *testing.T, power uint32, h, loc uint64) (*Table, Key) {
	t.Helper()
	tb := newT(t, power)
	k := tb.Key(h)
	if !k.InsertFree(loc) {
		t.Fatal("insert into an empty table failed")
	}
	return tb, k
}

func TestDisplace(t *testing.T) {
	const h = 0x123456789abcdef1
	loc := MakeLoc(3, 1, 64)
	tb, k := withEntry(t, 8, h, loc) // 32 buckets
	i := slotOfLoc(&k, loc)
	s := Load(k.Slot(i))
	if Freq(s) != 0 {
		t.Fatalf("fresh entry %#x", s)
	}
	if k.Displace(i, s, h^1<<60) || Load(k.Slot(i)) != s {
		t.Error("Displace accepted a hash whose tag differs from the entry's")
	}
	if k.Displace(i, s|moving, h) {
		t.Error("Displace moved a copy in flight")
	}
	// Moved with its frequency, out of slot i, into the other bucket.
	tb.Bump(k.Slot(i), s)
	s = Load(k.Slot(i))
	if !k.Displace(i, s, h) {
		t.Fatal("Displace into an empty bucket failed")
	}
	j := slotOfLoc(&k, loc)
	if Load(k.Slot(i)) != 0 || j < 0 || (i < 8) == (j < 8) || Load(k.Slot(j)) != s {
		t.Fatalf("after Displace: slot %d = %#x, entry in slot %d = %#x (want %#x)", i, Load(k.Slot(i)), j, Load(k.Slot(j)), s)
	}
	if p, got := k.Linking(loc); p != k.Slot(j) || got != s {
		t.Fatal("Linking does not find the moved entry")
	}
	if m := k.Moves(); m != 2 || !k.Settled(m) {
		t.Fatalf("move counter %d after one displacement, want 2 and settled", m)
	}
	if other := tb.Key(h + 1); other.Moves() != 0 {
		t.Error("the move counted for a key of another stripe")
	}
	// A full destination: nothing moves.
	for _, b := range []*Bucket{k.b0, k.b1} {
		for x := range b {
			if Load(&b[x]) == 0 {
				b[x] = pack(0xfff, 1, MakeLoc(9, 1, 8*x))
			}
		}
	}
	if k.Displace(j, s, h) || Load(k.Slot(j)) != s {
		t.Fatal("Displace into a full bucket moved something")
	}
	// A destination whose only room is another key's ghost: the ghost gives
	// way (in a cache under eviction no slot is empty, and refusing it
	// dropped a live entry instead).
	here, there := k.b1, k.b0 // the entry's bucket and its other one
	if j < 8 {
		here, there = k.b0, k.b1
	}
	g := &there[5]
	if !Bury().Apply(k.t, g, Load(g)) || !IsGhost(Load(g)) {
		t.Fatal("could not make a ghost")
	}
	if !k.Displace(j, s, h) {
		t.Fatal("Displace into a ghost's slot failed")
	}
	if Load(k.Slot(j)) != 0 || Load(g) != s {
		t.Fatalf("after Displace into a ghost: slot %d = %#x, ghost's slot = %#x (want 0 and %#x)", j, Load(k.Slot(j)), Load(g), s)
	}
	// Back again, where an empty slot (the one it left) and a ghost are
	// both free: the empty slot is taken, the ghost kept.
	g2 := &here[(j+1)%8]
	if !Bury().Apply(k.t, g2, Load(g2)) {
		t.Fatal("could not make a ghost")
	}
	ghost := Load(g2)
	if i5 := slotOfLoc(&k, loc); i5 < 0 || !k.Displace(i5, s, h) {
		t.Fatal("Displace back failed")
	}
	if Load(k.Slot(j)) != s || Load(g2) != ghost {
		t.Fatalf("Displace took the ghost (%#x) over the empty slot %d (%#x)", Load(g2), j, Load(k.Slot(j)))
	}
}

// Victim choice and drains never take a copy in flight: it is not yet
// the entry's accounted link.
func TestMovingCopySkipped(t *testing.T) {
	var b0, b1 Bucket
	for i := range b0 {
		b0[i] = pack(1, 50, uint64(i+1))
		b1[i] = pack(2, 50, uint64(i+100))
	}
	loc := MakeLoc(5, 1, 8)
	b1[2] = pack(7, 0, loc) | moving
	k := pairKey(&b0, &b1, 7)
	if i, _ := k.Coldest(0); i == 10 {
		t.Error("Coldest chose a moving copy")
	}
	if p, _ := k.Linking(loc); p != nil {
		t.Error("Linking returned a moving copy")
	}
	if m := k.Match(); m != 1<<10 {
		t.Errorf("Match = %#x: readers must see the copy", m)
	}
}

// An entry moved back and forth between its buckets is never missed by a
// concurrent lookup that honours Settled, and never duplicated once the
// mover stops. (Without the Settled re-check, about one run in six
// reported a miss.)
func TestDisplaceNeverHidesFromReaders(t *testing.T) {
	const h = 0x0fedcba987654321
	loc := MakeLoc(2, 1, 128)
	tb, k := withEntry(t, 6, h, loc) // 8 buckets
	const lookups = 30000
	var readers sync.WaitGroup
	var missed [2]int
	for r := 0; r < 2; r++ {
		readers.Add(1)
		go func(r int) {
			defer readers.Done()
			kr := tb.Key(h)
			for n := 0; n < lookups; n++ {
				found, settled := find(&kr, loc, r == 1)
				if !found && settled {
					missed[r]++
				}
				if found && r == 0 {
					if i := slotOfLoc(&kr, loc); i >= 0 {
						tb.Bump(kr.Slot(i), Load(kr.Slot(i)))
					}
				}
			}
		}(r)
	}
	done := make(chan struct{})
	go func() { readers.Wait(); close(done) }()
	moved := 0
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		i := slotOfLoc(&k, loc)
		if i < 0 {
			t.Fatalf("move %d: entry gone", moved)
		}
		s := Load(k.Slot(i))
		if s&moving != 0 {
			t.Fatalf("move %d: a copy still marked moving", moved)
		}
		if k.Displace(i, s, h) {
			moved++
		} // else a racing bump failed it: look again
	}
	if missed != [2]int{} {
		t.Fatalf("lookups reported a present entry absent: %v of %d each (%d moves)", missed, lookups, moved)
	}
	n := 0
	for i := 0; i < 16; i++ {
		if Loc(Load(k.Slot(i))) == loc {
			n++
		}
	}
	if n != 1 || moved == 0 {
		t.Fatalf("%d entries link the item after %d moves, want 1", n, moved)
	}
}

// CopyInto re-places every live entry of a full table into one twice its
// size: each is found in its new pair with its tag, frequency and
// location; ghosts are dropped; a hash that cannot be recovered fails it.
func TestCopyInto(t *testing.T) {
	src := newT(t, 8)             // 256 slots
	hashOf := map[uint64]uint64{} // location -> hash
	x := uint64(0x9E3779B97F4A7C15)
	placed := 0
	for i := uint64(1); placed < 240 && i < 100000; i++ {
		h := mix(x * i)
		loc := MakeLoc(int32(i%1000), uint32(i), int(i%4096)*8)
		k := src.Key(h)
		if !k.InsertFree(loc) {
			continue // pair full: this test does not displace
		}
		p, s := k.Linking(loc)
		CAS(p, s, s|(i%100)<<FreqShift)
		hashOf[loc] = h
		placed++
	}
	ghost := src.Key(mix(7))
	if ghost.InsertFree(MakeLoc(5, 5, 5*8)) {
		p, s := ghost.Linking(MakeLoc(5, 5, 5*8))
		Bury().Apply(src, p, s)
	}
	dst := newT(t, 9)
	lookup := func(s uint64) (uint64, bool) { h, ok := hashOf[Loc(s)]; return h, ok }
	if err := src.CopyInto(dst, lookup, func(uint64) {}, 1); err != nil {
		t.Fatal(err)
	}
	want, got := map[uint64]uint64{}, map[uint64]uint64{}
	for i := range src.Buckets {
		for _, s := range src.Buckets[i] {
			if s != 0 && !IsGhost(s) {
				want[Loc(s)] = s
			}
		}
	}
	for loc, h := range hashOf {
		k := dst.Key(h)
		if p, s := k.Linking(loc); p != nil {
			got[loc] = s
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries after CopyInto (-src +dst):\n%s", diff)
	}
	for i := range dst.Buckets {
		for _, s := range dst.Buckets[i] {
			if IsGhost(s) {
				t.Errorf("ghost %#x copied", s)
			}
		}
	}
	if err := src.CopyInto(newT(t, 9), func(uint64) (uint64, bool) { return 0, false }, func(uint64) {}, 1); err == nil {
		t.Errorf("CopyInto with an unreadable item succeeded")
	}
	if src.Power() != 8 || dst.Power() != 9 || dst.Slots() != 512 {
		t.Errorf("Power %d, %d, Slots %d: want 8, 9, 512", src.Power(), dst.Power(), dst.Slots())
	}
}

// The parallel copy of growth gives the same set of entries whatever the
// number of workers, including the keys that are exceptions to the split
// (their two buckets coincide in one table and not in the other), which
// the workers set aside and place afterwards.
func TestCopyIntoWorkers(t *testing.T) {
	const power = 12 // 512 buckets, doubled to 1024
	tables := []struct {
		name string
		mask uint64
	}{{"old", 1<<(power-3) - 1}, {"new", 1<<(power-2) - 1}}
	coincide := func(h, mask uint64) bool { return h&mask == h>>26&mask } // see tagscan.Candidates
	var hashes []uint64
	for i := uint64(1); len(hashes) < 3500; i++ {
		hashes = append(hashes, mix(i*0x9E3779B97F4A7C15))
	}
	// Keys whose buckets coincide in either table, so both kinds of
	// exception are in the copy (about 7 and 3 of the keys above are).
	added := map[string]int{}
	for n := uint64(0); added["old"] < 4 || added["new"] < 4; n++ {
		h := mix(n)
		for _, tb := range tables {
			if added[tb.name] < 4 && coincide(h, tb.mask) {
				hashes = append(hashes, h)
				added[tb.name]++
			}
		}
	}
	src := newT(t, power)
	hashOf := map[uint64]uint64{} // location -> hash
	for i, h := range hashes {
		loc := MakeLoc(int32(i%1000), uint32(i), (i%4096)*8)
		if k := src.Key(h); k.InsertFree(loc) {
			hashOf[loc] = h
		}
	}
	want := map[uint64]uint64{}
	for i := range src.Buckets {
		for _, s := range src.Buckets[i] {
			if s != 0 {
				want[Loc(s)] = s
			}
		}
	}
	lookup := func(s uint64) (uint64, bool) { h, ok := hashOf[Loc(s)]; return h, ok }
	for _, workers := range []int{1, 2, 3, 8} {
		dst := newT(t, power+1)
		if err := copyWithWorkers(src, dst, lookup, workers); err != nil {
			t.Fatalf("%d workers: %v", workers, err)
		}
		got := map[uint64]uint64{}
		for loc, h := range hashOf {
			k := dst.Key(h)
			if p, s := k.Linking(loc); p != nil {
				got[loc] = s
			}
		}
		count := 0
		for i := range dst.Buckets {
			for _, s := range dst.Buckets[i] {
				if s != 0 {
					count++
				}
			}
		}
		if diff := cmp.Diff(want, got); diff != "" || count != len(want) {
			t.Errorf("%d workers: %d entries in dst for %d in src; entries (-src +dst):\n%s", workers, count, len(want), diff)
		}
	}
}

// copyWithWorkers is CopyInto on exactly workers goroutines.
func copyWithWorkers(src, dst *Table, hashOf func(uint64) (uint64, bool), workers int) error {
	if err := src.copyLive(dst, hashOf, func(uint64) {}, workers); err != nil {
		return err
	}
	return src.catchUp(dst, hashOf, func(uint64) {}, workers)
}

// liveEntries returns every live entry of t by location.
func liveEntries(t *Table) map[uint64]uint64 {
	m := map[uint64]uint64{}
	for i := range t.Buckets {
		for j := range t.Buckets[i] {
			if s := Load(&t.Buckets[i][j]); s != 0 && !IsGhost(s) {
				m[Loc(s)] = s
			}
		}
	}
	return m
}

// CatchUp makes the copy exact after the table changed under CopyLive, in
// every way writers, drains and readers change it: entries inserted,
// unlinked, buried, retargeted, displaced to their other bucket, their
// frequencies bumped, and items CopyLive could not read (recycled under
// it). The changes are made after CopyLive or during CopyLive and a
// CatchUpLive; with the changes tracked (then CatchUpLive visits only the
// marked buckets when the changes came after CopyLive, and CatchUp always
// does) or not (every pass visits every bucket); with and without new
// entries in the slots freed; with 1, 2 and 3 workers. After CatchUp
// every live entry is found in the new table through its key, and nothing
// else is there; untracked, with its current slot value (tracked, the
// frequencies are those of the last pass that visited the bucket).
func TestCatchUpAfterChanges(t *testing.T) {
	const power = 13                      // 1024 buckets: 2 and 3 workers get ranges of their own
	type key struct{ h, loc, alt uint64 } // alt: the item an overwrite links
	var keys []key
	for i := uint64(1); len(keys) < 12000; i++ {
		keys = append(keys, key{mix(i * 0x9E3779B97F4A7C15), MakeLoc(int32(i%5000), uint32(i), int(i%4096)*8),
			MakeLoc(int32(i%5000), uint32(i), int(i%4096)*8+1<<15)})
	}
	// Exceptions to the split (see TestCopyIntoWorkers) go in too.
	for n, added := uint64(0), 0; added < 6; n++ {
		if h := mix(n + 1<<40); h&(1<<(power-3)-1) == h>>26&(1<<(power-3)-1) || h&(1<<(power-2)-1) == h>>26&(1<<(power-2)-1) {
			keys = append(keys, key{h, MakeLoc(4999, 63, added*8), MakeLoc(4999, 63, 1<<15+added*8)})
			added++
		}
	}
	hashOf := map[uint64]uint64{} // location -> hash, read-only once built
	for _, k := range keys {
		hashOf[k.loc], hashOf[k.alt] = k.h, k.h
	}
	type variant struct{ tracked, during, inserts bool }
	var variants []variant
	for _, tracked := range []bool{false, true} {
		for _, during := range []bool{false, true} {
			for _, inserts := range []bool{false, true} {
				variants = append(variants, variant{tracked, during, inserts})
			}
		}
	}
	for _, v := range variants {
		for _, workers := range []int{1, 2, 3} {
			src := newT(t, power)
			var old []key // in src before the copy
			for _, k := range keys[:7000] {
				if kk := src.Key(k.h); kk.InsertFree(k.loc) {
					old = append(old, k)
				}
			}
			for _, k := range keys[len(keys)-6:] {
				if kk := src.Key(k.h); kk.InsertFree(k.loc) {
					old = append(old, k)
				}
			}
			// Every 50th item cannot be read by the live passes: recycled
			// under them.
			var copying atomic.Bool
			lookup := func(s uint64) (uint64, bool) {
				h, ok := hashOf[Loc(s)]
				if copying.Load() && Loc(s)>>segShift%50 == 0 {
					return 0, false
				}
				return h, ok
			}
			change := func() {
				for i, k := range old {
					kk := src.Key(k.h)
					p, s := kk.Linking(k.loc)
					if p == nil {
						continue
					}
					switch i % 7 {
					case 0:
						Unlink().Apply(src, p, s)
					case 1:
						Bury().Apply(src, p, s)
					case 2:
						src.Bump(p, s)
						CAS(p, Load(p), Load(p)&^freqBits|uint64(i%100)<<FreqShift)
					case 3: // an overwrite: the key's entry now links another item
						Retarget(k.alt).Apply(src, p, s)
					case 4:
						for j := 0; j < 16; j++ {
							if kk.Slot(j) == p {
								kk.Displace(j, s, k.h)
							}
						}
					}
				}
				// Without inserts, the slots freed at the end of a bucket
				// stay empty: a copied entry too many is found only there.
				for _, k := range keys[7000 : len(keys)-6] {
					if v.inserts {
						kk := src.Key(k.h)
						kk.InsertFree(k.loc)
					}
				}
			}
			if v.tracked {
				src.Track()
			}
			dst := newT(t, power+1)
			copying.Store(true)
			if v.during {
				var wg sync.WaitGroup
				wg.Go(change)
				if err := src.copyLive(dst, lookup, func(uint64) {}, workers); err != nil {
					t.Fatal(err)
				}
				if _, err := src.catchUpLive(dst, lookup, func(uint64) {}, workers, true); err != nil {
					t.Fatal(err)
				}
				wg.Wait()
			} else {
				if err := src.copyLive(dst, lookup, func(uint64) {}, workers); err != nil {
					t.Fatal(err)
				}
				change()
				// Tracked, only the marked buckets are visited: a change
				// that left no mark is never copied.
				marked, err := src.catchUpLive(dst, lookup, func(uint64) {}, workers, !v.tracked)
				if err != nil || v.tracked && marked == 0 {
					t.Fatalf("%+v: CatchUpLive found %d buckets marked (%v) after the table changed", v, marked, err)
				}
			}
			copying.Store(false)
			if err := src.catchUp(dst, lookup, func(uint64) {}, workers); err != nil {
				t.Fatalf("%+v, %d workers: %v", v, workers, err)
			}
			want := liveEntries(src)
			got := map[uint64]uint64{}
			for loc, h := range hashOf {
				k := dst.Key(h)
				if p, s := k.Linking(loc); p != nil {
					got[loc] = s
				}
			}
			if v.tracked {
				for loc := range want {
					want[loc] &^= freqBits
				}
				for loc := range got {
					got[loc] &^= freqBits
				}
			}
			if diff := cmp.Diff(want, got); diff != "" || len(liveEntries(dst)) != len(want) {
				t.Errorf("%+v, %d workers: %d entries in dst for %d in src; entries (-src +dst):\n%s",
					v, workers, len(liveEntries(dst)), len(want), diff)
			}
		}
	}
}

// A panic in a worker of the parallel copy reaches the caller's goroutine
// (where the C ABI's exports recover it), not the process.
func TestCopyIntoWorkerPanic(t *testing.T) {
	src := newT(t, 12)
	for i := uint64(1); i < 2000; i++ {
		k := src.Key(mix(i))
		k.InsertFree(MakeLoc(int32(i%1000), uint32(i), 8))
	}
	defer func() {
		if r := recover(); r != "boom" {
			t.Errorf("recovered %v, want the worker's panic", r)
		}
	}()
	src.copyLive(newT(t, 13), func(uint64) (uint64, bool) { panic("boom") }, func(uint64) {}, 2)
	t.Errorf("copyLive returned after its hashOf panicked")
}

// Growth doubles: a copy into a table of any other size is refused, and
// writes nothing.
func TestCopyIntoNotDoubled(t *testing.T) {
	src := newT(t, 8)
	k := src.Key(mix(1))
	k.InsertFree(MakeLoc(1, 1, 8))
	for _, power := range []uint32{8, 10} {
		dst := newT(t, power)
		if err := src.CopyInto(dst, func(uint64) (uint64, bool) { return mix(1), true }, func(uint64) {}, 1); err == nil {
			t.Errorf("CopyInto from 2^8 into 2^%d slots succeeded", power)
		}
		for i := range dst.Buckets {
			if dst.Buckets[i] != (Bucket{}) {
				t.Fatalf("refused copy into 2^%d wrote bucket %d", power, i)
			}
		}
	}
}

// A goroutine that calls HelpCopy during CopyLive copies chunks of it, and
// the copy is the same as one made without help (bucket for bucket: who
// copies a chunk does not change where its entries go). The worker's
// first item read blocks until every chunk is handed out, so the helper
// must take the others.
func TestHelpCopy(t *testing.T) {
	const power = 15 // 4,096 buckets: 4 chunks
	src := newT(t, power)
	hashOf := map[uint64]uint64{} // location -> hash
	for i := uint64(1); i < 20000; i++ {
		h := mix(i * 0x9E3779B97F4A7C15)
		loc := MakeLoc(int32(i%1000), uint32(i), int(i%4096)*8)
		if k := src.Key(h); k.InsertFree(loc) {
			hashOf[loc] = h
		}
	}
	lookup := func(s uint64) (uint64, bool) { h, ok := hashOf[Loc(s)]; return h, ok }
	want := newT(t, power+1)
	if err := copyWithWorkers(src, want, lookup, 1); err != nil {
		t.Fatal(err)
	}

	release := make(chan struct{})
	var blocked atomic.Bool
	slowFirst := func(s uint64) (uint64, bool) {
		if blocked.CompareAndSwap(false, true) {
			select {
			case <-release:
			case <-time.After(10 * time.Second):
				panic("the helper did not take the other chunks")
			}
		}
		return lookup(s)
	}
	got := newT(t, power+1)
	helped := make(chan int, 1)
	go func() {
		for {
			j := src.copying.Load()
			if j == nil {
				runtime.Gosched()
				continue
			}
			go func() {
				for j.next.Load() < j.chunks {
					runtime.Gosched()
				}
				close(release)
			}()
			helped <- src.HelpCopy()
			return
		}
	}()
	if err := src.copyLive(got, slowFirst, func(uint64) {}, 1); err != nil {
		t.Fatal(err)
	}
	if n := <-helped; n == 0 {
		t.Errorf("the helper copied no chunk")
	}
	if src.copying.Load() != nil {
		t.Errorf("the pass ended and is still offered to helpers")
	}
	if n := src.HelpCopy(); n != 0 {
		t.Errorf("HelpCopy after the pass copied %d chunks", n)
	}
	if err := src.catchUp(got, lookup, func(uint64) {}, 1); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.Buckets, got.Buckets); diff != "" {
		t.Errorf("copy with a helper differs from the copy without (-without +with):\n%s", diff)
	}
}

// A chunk whose copy panics halfway (only a bug could make one) stays
// marked, so the later passes copy it: after CatchUp the table holds every
// entry.
func TestCopyChunkPanicLeavesItMarked(t *testing.T) {
	src := newT(t, 12)
	hashOf := map[uint64]uint64{}
	for i := uint64(1); i < 2000; i++ {
		h := mix(i)
		loc := MakeLoc(int32(i%1000), uint32(i), 8)
		if k := src.Key(h); k.InsertFree(loc) {
			hashOf[loc] = h
		}
	}
	lookup := func(s uint64) (uint64, bool) { h, ok := hashOf[Loc(s)]; return h, ok }
	calls := 0
	panicky := func(s uint64) (uint64, bool) {
		if calls++; calls == 100 {
			panic("boom")
		}
		return lookup(s)
	}
	dst := newT(t, 13)
	src.Track()
	j := &copyJob{t: src, dst: dst, hashOf: panicky, prefetch: func(uint64) {}, chunks: 1}
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want the copy's panic", r)
			}
		}()
		j.copyChunk()
	}()
	for i := range src.Buckets {
		if w := src.changes.Load().words[i/64].Load(); w&(1<<(i%64)) == 0 {
			t.Fatalf("bucket %d of the chunk that panicked is not marked", i)
		}
	}
	if err := src.catchUp(dst, lookup, func(uint64) {}, 1); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(liveEntries(src), liveEntries(dst)); diff != "" {
		t.Errorf("entries (-src +dst):\n%s", diff)
	}
}

// Ghost finds the slot of a ghost that carries the key's tag, whatever its
// frequency and moving mark, in either bucket, and nothing else: not a
// live entry of the key, not another key's ghost, not an empty slot.
func TestGhostMatchesOnlyTheKeysGhost(t *testing.T) {
	const tag = 7
	for _, tc := range []struct {
		name  string
		slots map[int]uint64 // candidate slot (0..15) -> entry
		want  int            // the slot Ghost returns, -1 for none
	}{
		{"empty", nil, -1},
		{"live entry of the key", map[int]uint64{2: pack(tag, 3, MakeLoc(1, 1, 8))}, -1},
		{"another key's ghost", map[int]uint64{4: pack(tag+1, 0, GhostLoc)}, -1},
		{"ghost in the first bucket", map[int]uint64{5: pack(tag, 0, GhostLoc)}, 5},
		{"ghost in the second bucket", map[int]uint64{13: pack(tag, 9, GhostLoc)}, 13},
		{"moving ghost", map[int]uint64{1: pack(tag, 2, GhostLoc) | moving}, 1},
		{"behind a live entry and another key's ghost", map[int]uint64{
			0: pack(tag, 1, MakeLoc(2, 1, 16)), 7: pack(tag+1, 0, GhostLoc), 8: pack(tag, 0, GhostLoc)}, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b0, b1 Bucket
			k := pairKey(&b0, &b1, tag)
			for i, s := range tc.slots {
				*k.Slot(i) = s
			}
			got := -1
			p, s := k.Ghost()
			for i := 0; i < 16; i++ {
				if k.Slot(i) == p {
					got = i
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("Ghost's slot (-want +got):\n%s", diff)
			}
			if p != nil && s != tc.slots[got] {
				t.Errorf("Ghost returned entry %#x, the slot holds %#x", s, tc.slots[got])
			}
		})
	}
}

// freeByCases is free as a loop that decides slot by slot, the form it had
// before its masks: the reference TestFreeMatchesReference compares with.
func freeByCases(k *Key) (*uint64, uint64) {
	var empty [2]*uint64
	var n [2]int
	var ghost *uint64
	var gs uint64
	for bi, b := range [2]*Bucket{k.b0, k.b1} {
		for i := range b {
			s := Load(&b[i])
			switch {
			case s == 0:
				if n[bi]++; empty[bi] == nil {
					empty[bi] = &b[i]
				}
			case !IsGhost(s):
			case Tag(s) == k.tag:
				return &b[i], s
			case ghost == nil:
				ghost, gs = &b[i], s
			}
		}
	}
	switch {
	case empty[0] != nil && n[0] >= n[1]:
		return empty[0], 0
	case empty[1] != nil:
		return empty[1], 0
	}
	return ghost, gs
}

// free picks the slot the rule in its comment names (the key's own ghost,
// else an empty slot of the emptier bucket, else another key's ghost):
// the same slot and entry as the slot-by-slot reference, over random pairs
// mixing empty slots, live entries and ghosts of the key and of others,
// with frequencies and moving marks.
func TestFreeMatchesReference(t *testing.T) {
	const tag = 5
	r := rand.New(rand.NewPCG(3, 4))
	index := func(k *Key, p *uint64) int {
		for i := 0; i < 16; i++ {
			if k.Slot(i) == p {
				return i
			}
		}
		return -1
	}
	type pick struct {
		Slot  int
		Entry uint64
	}
	kinds := make(map[string]int)
	for n := 0; n < 20000; n++ {
		var b0, b1 Bucket
		k := pairKey(&b0, &b1, tag)
		// Per pair, how likely each kind is: some pairs are nearly
		// empty, some full of live entries, some full of ghosts.
		wEmpty, wGhost, wOwn := r.IntN(8), r.IntN(8), r.IntN(3)
		for i := 0; i < 16; i++ {
			var s uint64
			switch x := r.IntN(16); {
			case x < wEmpty:
			case x < wEmpty+wGhost:
				s = pack(uint64(r.IntN(3)+tag+1), uint64(r.IntN(4)), GhostLoc)
			case x < wEmpty+wGhost+wOwn:
				s = pack(tag, uint64(r.IntN(4)), GhostLoc)
			default:
				s = pack(uint64(r.IntN(2)+tag), uint64(r.IntN(4)), MakeLoc(int32(r.IntN(9)), 1, 8*r.IntN(100)))
			}
			if s != 0 && r.IntN(16) == 0 {
				s |= moving
			}
			*k.Slot(i) = s
		}
		wp, ws := freeByCases(&k)
		gp, gs := k.free()
		want, got := pick{index(&k, wp), ws}, pick{index(&k, gp), gs}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("pair %#x %#x: free's pick (-reference +free):\n%s", b0, b1, diff)
		}
		switch {
		case want.Slot < 0:
			kinds["none"]++
		case want.Entry == 0:
			kinds["empty"]++
		case Tag(want.Entry) == tag:
			kinds["own ghost"]++
		default:
			kinds["other ghost"]++
		}
	}
	for _, kind := range []string{"none", "empty", "own ghost", "other ghost"} {
		if kinds[kind] < 100 {
			t.Errorf("only %d pairs where free picks %s: the cases do not cover the rule", kinds[kind], kind)
		}
	}
}
