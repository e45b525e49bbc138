package hashtable

import (
	"fmt"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/segcache/segcache/core/internal/arena"
	"github.com/segcache/segcache/core/internal/fence"
	"github.com/segcache/segcache/core/internal/tagscan"
)

// Slot field layout (see the package comment). The tag position and the
// ghost location are the ones the tagscan kernels test.
const (
	TagShift  = 52
	FreqShift = 44
	FreqMask  = 0x7f // 7 bits: bit 51 is the moving mark
	LocMask   = 1<<44 - 1
	GhostLoc  = tagscan.GhostLoc
	MaxFreq   = FreqMask

	// identity is what a frequency bump leaves unchanged: the entry's key
	// (tag) and item (location).
	identity = (1<<64-1)>>TagShift<<TagShift | LocMask
	freqBits = FreqMask << FreqShift

	// moving (the spare bit) marks the copy of an entry that Displace is
	// moving to its other bucket, until the original is cleared. Readers
	// use the copy like any entry; drains and victim choice skip it, so
	// the item is taken off its counters once, through the original.
	moving = 1 << 51

	segShift = 26
	genShift = 20
	offMask  = 1<<20 - 1
	genMask  = 1<<6 - 1

	// MinPower and MaxPower bound the table size in slots (2^power).
	MinPower = 4
	MaxPower = 29
)

// Bucket is eight slots, one cache line.
type Bucket = tagscan.Bucket

// Table is the slot array.
type Table struct {
	Buckets []Bucket
	Mask    uint64
	mem     []byte

	// changes, while a growth copies the table (Track), has a bit per
	// bucket whose entries changed since the copy last looked at it: set
	// by every transition after its CAS, taken by the copy's passes
	// before they read the bucket, so that a change is either seen by a
	// pass or left marked for the next. Frequency bumps do not mark it.
	changes atomic.Pointer[changeSet]

	// coins drive Bump's probabilistic increments: Weyl sequences that
	// a single-threaded caller advances deterministically, so that a
	// replay gives the same frequencies every run. Concurrent bumps may
	// read the same value (a plain load and store, no read-modify-write
	// and not even sync/atomic's store, an XCHG on amd64: see
	// advanceCoin; a repeated coin only costs a little accuracy). They
	// are striped by the entry's tag, each on its own cache line: with one
	// shared coin,
	// every hit on a warm key (frequency 16 to 126) wrote one line that
	// every core's hits then had to take back, and hits did not scale.
	coins *[coinStripes]stripeCounter

	// moves counts displacements, twice each: odd while an entry is
	// being moved to its other bucket (copied there, then cleared here).
	// A lookup that misses while its counter changed looks again (see
	// Key.Settled), so an entry in flight is never reported absent. The
	// counters are striped by the moved key's first bucket: only a lookup
	// of that key can miss the entry, so lookups of other keys need not
	// look again, and a table busy with moves does not stall every miss.
	moves *[moveStripes]stripeCounter

	// copying is the CopyLive pass under way from this table, if any:
	// goroutines that would only wait for the growth lend themselves to
	// it (HelpCopy).
	copying atomic.Pointer[copyJob]
}

// moveStripes and coinStripes are the numbers of move counters and of
// coins (powers of two).
const (
	moveStripes = 64
	coinStripes = 64
)

// stripeCounter is a counter alone on its cache line.
type stripeCounter struct {
	n atomic.Uint64
	_ [56]byte
}

// New maps a table of 2^power slots.
func New(power uint32) (*Table, error) {
	if power < MinPower || power > MaxPower {
		return nil, fmt.Errorf("hash power %d outside [%d, %d]", power, MinPower, MaxPower)
	}
	nb := 1 << (power - 3)
	mem, err := arena.Map(nb * 64)
	if err != nil {
		return nil, err
	}
	b := unsafe.Slice((*Bucket)(unsafe.Pointer(unsafe.SliceData(mem))), nb)
	return &Table{Buckets: b, Mask: uint64(nb - 1), mem: mem,
		moves: new([moveStripes]stripeCounter), coins: new([coinStripes]stripeCounter)}, nil
}

// Bytes is the table's memory.
func (t *Table) Bytes() uint64 { return uint64(len(t.mem)) }

// Memory is the table's mapping, which its owner unmaps (arena.Unmap) once
// nothing can touch the table any more.
func (t *Table) Memory() []byte { return t.mem }

// Key is a key's place in the table: its two candidate buckets and its
// tag, derived from the key's hash once per operation.
type Key struct {
	b0, b1 *Bucket
	tag    uint64
	moves  *atomic.Uint64 // the move counter of the key's stripe
	t      *Table
}

// Key returns the place of the key whose hash is h.
// The engine's paths use SetKey; this form is for tests and cold code.
func (t *Table) Key(h uint64) Key {
	var k Key
	t.SetKey(&k, h)
	return k
}

// SetKey is *k = t.Key(h) without the temporary: a batch fills an array
// of Keys, and building each on the stack and copying it out stalled on
// the copy (perf: 17% of a hot-key GetBatch, with examine's found below).
func (t *Table) SetKey(k *Key, h uint64) {
	i0, i1, tag := tagscan.Candidates(h, t.Mask)
	k.b0, k.b1, k.tag, k.moves, k.t = &t.Buckets[i0], &t.Buckets[i1], tag, t.movesOf(i0), t
}

// movesOf returns the move counter of the keys whose first bucket is i0.
func (t *Table) movesOf(i0 uint64) *atomic.Uint64 { return &t.moves[i0&(moveStripes-1)].n }

// Table returns the table the key's place is in.
func (k *Key) Table() *Table { return k.t }

// Moves returns the key's displacement counter. Read it before the
// lookup's Match and pass it to Settled if the lookup misses.
func (k *Key) Moves() uint64 { return k.moves.Load() }

// Settled reports whether no entry was displaced since Moves returned m:
// only then is a miss of a lookup that started after Moves a true miss.
// (An entry moving from one of the key's buckets to the other could
// otherwise slip past a scan that read the destination before the copy and
// the source after the clear.) The caller's slot loads must be complete:
// the re-read below is ordered after them by fence.Load on weak memory.
func (k *Key) Settled(m uint64) bool {
	fence.Load()
	return m&1 == 0 && k.moves.Load() == m
}

// Match returns the mask of the key's candidate slots (bit i: Slot(i))
// that hold a live entry with the key's tag. The slots are read without
// atomics: re-read a matching slot with Load before trusting it.
func (k *Key) Match() uint32 { return tagscan.Match(k.b0, k.b1, k.tag) }

// MatchBatch sets masks[i] to Match of the key whose hash is hashes[i],
// prefetching the buckets of later keys while it scans.
func (t *Table) MatchBatch(hashes []uint64, masks []uint32) {
	tagscan.MatchBatch(t.Buckets, t.Mask, hashes, masks)
}

// Slot returns candidate slot i (0..15): 0..7 in the first bucket.
func (k *Key) Slot(i int) *uint64 {
	if i < 8 {
		return &k.b0[i]
	}
	return &k.b1[i-8]
}

// Tag returns the key's tag.
func (k *Key) Tag() uint64 { return k.tag }

// IsKeys reports whether slot s holds an entry (live or ghost) with the
// key's tag.
func (k *Key) IsKeys(s uint64) bool { return s != 0 && Tag(s) == k.tag }

// isOwnGhost reports whether slot s is a ghost of the key: its tag and
// the ghost location, whatever its frequency and moving mark (GhostLoc is
// not zero, so no empty slot is one).
func (k *Key) isOwnGhost(s uint64) bool { return s&identity == k.tag<<TagShift|GhostLoc }

// Ghost returns a ghost slot carrying the key's tag, or nil.
func (k *Key) Ghost() (*uint64, uint64) {
	// One masked compare per slot, bucket by bucket: S3-FIFO asks this of
	// every insert, and the loop of Slot, IsGhost and Tag took 16% of an
	// evicting S3-FIFO set (perf).
	for _, b := range [2]*Bucket{k.b0, k.b1} {
		for i := range b {
			if s := Load(&b[i]); k.isOwnGhost(s) {
				return &b[i], s
			}
		}
	}
	return nil, 0
}

// Linking returns the slot that links loc for this key, or nil: the one
// way to learn whether an item a drain found in a segment is still live.
func (k *Key) Linking(loc uint64) (*uint64, uint64) {
	for spins := 0; ; spins++ {
		m := k.Moves()
		for i := 0; i < 16; i++ {
			p := k.Slot(i)
			if s := Load(p); Loc(s) == loc && Tag(s) == k.tag && s&moving == 0 {
				return p, s
			}
		}
		if k.Settled(m) {
			return nil, 0
		}
		settle(spins)
	}
}

// settle backs off while a displacement is in flight (two CASes: short,
// unless its goroutine was descheduled).
func settle(spins int) {
	if spins > 16 {
		runtime.Gosched()
	}
}

// Displace moves the entry s of k's candidate slot i to the other
// candidate bucket of its own key, whose hash is h, if that bucket has an
// empty slot or another key's ghost, so that k's pair gets a free slot
// without dropping a live entry.
// The caller must hold the write lock of the entry's key, so no writer of
// that key races the move. The entry is copied first (marked moving) and
// cleared second, with the key's move counter odd meanwhile: readers find
// it in one place or the other, or look again (Settled). It returns false,
// having moved nothing, if h is not the entry's hash, the other bucket is
// full, s is itself a copy in flight, or the entry changed meanwhile (a
// drain or another key's insert took it, or the ghost it was to replace
// changed).
func (k *Key) Displace(i int, s, h uint64) bool {
	if s == 0 || IsGhost(s) || s&moving != 0 {
		return false
	}
	i0, i1, tag := tagscan.Candidates(h, k.t.Mask)
	b0, b1 := &k.t.Buckets[i0], &k.t.Buckets[i1]
	here, dst := k.b0, b1
	if i >= 8 {
		here = k.b1
	}
	switch {
	case tag != Tag(s):
		return false
	case here == b1:
		dst = b0
	case here != b0:
		return false
	}
	q, qs := roomIn(dst)
	if q == nil {
		return false
	}
	moves := k.t.movesOf(i0)
	moves.Add(1)
	defer moves.Add(1)
	if !CAS(q, qs, s|moving) {
		return false
	}
	k.t.noteChange(q)
	// Only readers' frequency bumps touch the marked copy: Apply's retry
	// covers them, so the copy is always settled or withdrawn.
	if !Unlink().Apply(k.t, k.Slot(i), s) {
		// A drain or another key's insert took the entry first, and
		// accounted for it: withdraw the copy.
		Unlink().Apply(k.t, q, s|moving)
		return false
	}
	for c := Load(q); !CAS(q, c, c&^moving); c = Load(q) {
	}
	return true
}

// roomIn returns the slot of bucket b a displaced entry may take, and
// what it holds: an empty slot, else another key's ghost (a frequency
// hint, cheaper to lose than the live entry a full pair would otherwise
// drop), or nil if every slot is live or a copy in flight. In a cache
// under steady eviction no slot is empty (drains leave ghosts), so a
// displacement that waited for an empty slot always failed: it read the
// items of all 16 entries of the pair (a memory miss each) and then a live
// entry was dropped anyway.
func roomIn(b *Bucket) (*uint64, uint64) {
	var ghost *uint64
	var gs uint64
	for j := range b {
		s := Load(&b[j])
		if s == 0 {
			return &b[j], 0
		}
		if ghost == nil && IsGhost(s) && s&moving == 0 {
			ghost, gs = &b[j], s
		}
	}
	return ghost, gs
}

// InsertFree links a fresh entry for the key at loc without displacing
// any live entry: over the key's own ghost (resuming its frequency), else
// into an empty slot of the emptier bucket, else over another key's
// ghost. It returns false when every candidate slot holds a live entry;
// the caller then picks a victim with Coldest. The caller must hold the
// key's write lock, so that no other insert of the key races it.
func (k *Key) InsertFree(loc uint64) bool {
	for {
		p, s := k.free()
		switch {
		case p == nil:
			return false
		case s == 0:
			if CAS(p, 0, k.tag<<TagShift|loc) {
				k.t.noteChange(p)
				return true
			}
		case Tag(s) == k.tag:
			if CAS(p, s, s&^LocMask|loc) { // the key's own ghost: resume its frequency
				k.t.noteChange(p)
				return true
			}
		default:
			if CAS(p, s, k.tag<<TagShift|loc) {
				k.t.noteChange(p)
				return true
			}
		}
	}
}

// free returns the slot InsertFree should take and what it holds, in one
// pass over the 16 candidates (an insert into a table under eviction
// looked at them up to three times: for its own ghost, for an empty
// slot, for another ghost): the key's own ghost, else an empty slot of
// the emptier bucket (so the two choices balance), else the first other
// ghost; nil if every slot is live.
func (k *Key) free() (*uint64, uint64) {
	for {
		// One pass over the pair sorts every slot (tagscan.Classify, in
		// vector instructions where the CPU has them): under eviction a
		// pair mixes live entries and ghosts at random, and the loop that
		// switched on each slot's kind mispredicted (perf: 16% of an
		// evicting S3-FIFO set).
		c := tagscan.Classify(k.b0, k.b1, k.tag)
		own, ghost, empty := uint32(c&0xffff), uint32(c>>16&0xffff), uint32(c>>32&0xffff)
		var i int
		switch {
		case own != 0:
			i = bits.TrailingZeros32(own)
		case empty&0xff != 0 && bits.OnesCount32(empty&0xff) >= bits.OnesCount32(empty>>8):
			i = bits.TrailingZeros32(empty)
		case empty>>8 != 0:
			i = 8 + bits.TrailingZeros32(empty>>8)
		case ghost != 0:
			i = bits.TrailingZeros32(ghost)
		default:
			return nil, 0
		}
		// Classify read the slots without atomics: take the slot only if
		// it still holds what it was picked for.
		p := k.Slot(i)
		s := Load(p)
		switch {
		case own != 0 && k.isOwnGhost(s),
			own == 0 && empty != 0 && s == 0,
			own == 0 && empty == 0 && IsGhost(s):
			return p, s
		}
	}
}

// Coldest returns the index (0..15) of the slot to give up when both
// buckets are full, skipping the slots in the skip mask and copies in
// flight: an empty slot or a ghost if there is one, else the slot with the
// lowest frequency. It returns -1 if every slot is skipped.
func (k *Key) Coldest(skip uint32) (int, uint64) {
	best, bs, bf := -1, uint64(0), uint64(1<<10)
	for i := 0; i < 16; i++ {
		if skip&(1<<i) != 0 {
			continue
		}
		s := Load(k.Slot(i))
		if s&moving != 0 {
			continue // a copy in flight: its original is the one to take
		}
		if s == 0 || IsGhost(s) {
			return i, s
		}
		if f := Freq(s); f < bf {
			best, bs, bf = i, s, f
		}
	}
	return best, bs
}

// Change is a transition that replaces the entry of a slot: build it with
// Retarget, Takeover, Move, Unlink or Bury and make it with Apply.
type Change struct {
	tag, loc, freq      uint64
	keepFreq, keepIdent bool
}

// Retarget points the entry at loc, keeping its tag and frequency: an
// overwrite of the same key keeps its popularity.
func Retarget(loc uint64) Change { return Change{loc: loc, keepFreq: true, keepIdent: true} }

// Takeover replaces the entry (another key's victim) with a fresh entry
// of tag at loc.
func Takeover(tag, loc uint64) Change { return Change{tag: tag, loc: loc} }

// Move points the entry at loc with frequency freq (a drain relocating
// the item).
func Move(loc, freq uint64) Change { return Change{loc: loc, freq: freq, keepIdent: true} }

// Unlink empties the slot.
func Unlink() Change { return Change{} }

// Bury turns the entry into a ghost, keeping its tag and frequency.
func Bury() Change { return Change{loc: GhostLoc, keepFreq: true, keepIdent: true} }

// Apply makes the change to slot p of t, seen holding s. It retries only while
// the slot still holds s's tag and location (a reader's frequency bump
// lost the race for it) and returns false as soon as the entry itself
// changed: someone else moved or removed it, and the caller must look
// again. Retrying on a bump matters: giving up would leave the caller's
// new item unlinked while it believes the old one is gone.
func (ch Change) Apply(t *Table, p *uint64, s uint64) bool {
	for {
		if CAS(p, s, ch.next(s)) {
			t.noteChange(p)
			return true
		}
		s2 := Load(p)
		if s2&identity != s&identity {
			return false
		}
		s = s2
	}
}

// next is the slot value the change writes over s.
func (ch Change) next(s uint64) uint64 {
	switch {
	case !ch.keepIdent:
		return ch.tag<<TagShift | ch.loc // Takeover, or Unlink (all zero)
	case ch.keepFreq:
		return s&^LocMask | ch.loc
	}
	return s&^(LocMask|freqBits) | ch.freq<<FreqShift | ch.loc
}

// MakeLoc packs a location.
func MakeLoc(seg int32, gen uint32, off int) uint64 {
	return uint64(seg)<<segShift | uint64(gen&genMask)<<genShift | uint64(off>>3)
}

// SplitLoc unpacks a location.
func SplitLoc(loc uint64) (seg int32, gen uint32, off int) {
	return int32(loc >> segShift), uint32(loc>>genShift) & genMask, int(loc&offMask) << 3
}

// Where unpacks the location of slot s: segment, generation (low 6 bits)
// and byte offset of the item it links.
func Where(s uint64) (seg int32, gen uint32, off int) { return SplitLoc(Loc(s)) }

// Tag, Freq and Loc unpack a slot.
func Tag(s uint64) uint64  { return s >> TagShift }
func Freq(s uint64) uint64 { return s >> FreqShift & FreqMask }
func Loc(s uint64) uint64  { return s & LocMask }

// Moving reports whether s is the copy of an entry that Key.Displace is
// moving (its original, in the other bucket, is the entry to act on).
func Moving(s uint64) bool { return s&moving != 0 }

// SameItem reports whether slots a and b link the same item (a frequency
// bump is the only change between them).
func SameItem(a, b uint64) bool { return a&identity == b&identity }

// IsGhost reports whether s is a ghost.
func IsGhost(s uint64) bool { return s != 0 && Loc(s) == GhostLoc }

// Load reads a slot atomically.
func Load(p *uint64) uint64 { return atomic.LoadUint64(p) }

// CAS swaps a slot from old to new. Only this package writes slots.
func CAS(p *uint64, old, new uint64) bool { return atomic.CompareAndSwapUint64(p, old, new) }

// Bump raises the slot's frequency counter after a hit: +1 up to 16, then
// with probability 1/freq, capped at MaxFreq. A lost CAS is ignored: the
// counter is approximate, and retrying would make hot keys contend.
func (t *Table) Bump(p *uint64, s uint64) {
	f := Freq(s)
	if f >= MaxFreq {
		return
	}
	if f >= 16 {
		x := advanceCoin(&t.coins[s>>TagShift&(coinStripes-1)].n)
		if (mix(x)>>32)*f>>32 != 0 { // uniform in [0, f): 0 with probability 1/f
			return
		}
	}
	CAS(p, s, s&^freqBits|(f+1)<<FreqShift)
}

// mix is splitmix64's finalizer: consecutive Weyl values become
// independent-looking coins.
func mix(x uint64) uint64 {
	x = (x ^ x>>30) * 0xBF58476D1CE4E5B9
	x = (x ^ x>>27) * 0x94D049BB133111EB
	return x ^ x>>31
}

// ClearGhosts empties every ghost slot (a cleared cache starts cold).
func (t *Table) ClearGhosts() {
	for i := range t.Buckets {
		b := &t.Buckets[i]
		for j := range b {
			if s := Load(&b[j]); IsGhost(s) {
				CAS(&b[j], s, 0)
			}
		}
	}
}

// Prefetch asks the CPU to start loading the cache line at p (a hint: it
// never faults). The engine uses it for items it is about to read or write.
func Prefetch(p unsafe.Pointer) { tagscan.Prefetch(p) }

// Power returns log2 of the table's slot count.
func (t *Table) Power() uint32 { return uint32(bits.Len64(t.Mask)) + 3 }

// Slots returns the table's slot count.
func (t *Table) Slots() uint64 { return (t.Mask + 1) * 8 }

// changeSet is a bit per bucket of a table (see Table.changes).
type changeSet struct{ words []atomic.Uint64 }

// Track starts recording which buckets writers change (Table.changes),
// for a growth's passes (see CopyInto); Untrack stops it.
func (t *Table) Track() {
	t.changes.Store(&changeSet{words: make([]atomic.Uint64, (len(t.Buckets)+63)/64)})
}

// Untrack stops recording changes.
func (t *Table) Untrack() { t.changes.Store(nil) }

// noteChange marks the bucket of slot p changed, if changes are recorded.
// One load and a predictable branch when they are not (every write but
// during a growth).
func (t *Table) noteChange(p *uint64) {
	if cs := t.changes.Load(); cs != nil {
		i := uint64(uintptr(unsafe.Pointer(p))-uintptr(unsafe.Pointer(&t.Buckets[0]))) / 64
		cs.words[i/64].Or(1 << (i % 64))
	}
}

// noteBucket marks bucket i changed, if changes are recorded: a pass that
// could not copy it whole leaves it for the next.
func (t *Table) noteBucket(i uint64) {
	if cs := t.changes.Load(); cs != nil {
		cs.words[i/64].Or(1 << (i % 64))
	}
}

// Growth copies a table into one twice its size in passes, so that
// writers wait only for the last and shortest one:
//
//   - CopyLive runs beside the writers. It re-places every live entry it
//     sees, reading each entry's item for its hash (a random memory access
//     per entry: most of a growth's time).
//   - CatchUpLive, also beside the writers, brings the copy up to date
//     with what they changed: the buckets they marked (Track), or every
//     bucket, which also carries the frequencies over. Each such pass is
//     shorter than the one before, so fewer buckets change during it.
//   - CatchUp runs with every writer held off and does the same for the
//     buckets still marked (every bucket if changes were not tracked).
//
// How a pass brings bucket i up to date: an entry of t's bucket i keeps
// its role (first or second bucket of its pair) in dst, where that role's
// bucket is i or i+len(t.Buckets), and nothing else lands there (until
// CatchUp places the exceptions, below). CopyLive fills each of those
// two buckets from slot 0 in the order it met the entries of bucket i, so
// a merge of the three buckets tells whether bucket i still holds those
// entries and no other; if so, only the frequencies are carried over.
// Otherwise the entries that dst holds stay where they are and only those
// it lacks are read and placed: an entry is its tag and location (the
// location carries the segment's generation), and its hash was read from
// the item that location named while the segment's generation did not
// change, so the same entry has the same hash and belongs in the same
// bucket. (A location repeats only after 64 recycles of its segment, with
// the same tag in the same bucket in between: the lock-free readers rely
// on the same generation.) A bucket a pass could not bring up to date (an
// item it could not read, a key that is an exception to the split) stays
// marked for the next.
//
// The exceptions to the split are the keys whose two buckets coincide in
// one table and not in the other (Candidates moves the second to the
// first's neighbour), about one in len(t.Buckets): CatchUp places them
// after its workers are done, one by one.
//
// Every pass runs on up to workers goroutines over disjoint ranges of t
// (so disjoint buckets of dst; CopyLive hands them out in chunks, to its
// workers and to any goroutine that calls HelpCopy meanwhile), and walks
// both tables sequentially. The
// one random access per entry copied is its item, which prefetch (called
// for the entries a few buckets ahead) starts loading early.

// CopyInto re-places every live entry of t into dst, an empty table of
// twice t's size that nobody else uses yet: CopyLive then CatchUp, for a
// caller that keeps every writer of t away throughout. It fails, leaving
// dst partly filled, if hashOf fails or an entry finds both its buckets in
// dst full even after moving one of their entries to its other bucket.
func (t *Table) CopyInto(dst *Table, hashOf func(s uint64) (uint64, bool), prefetch func(s uint64), workers int) error {
	if err := t.CopyLive(dst, hashOf, prefetch, workers); err != nil {
		return err
	}
	return t.CatchUp(dst, hashOf, prefetch, workers)
}

// CopyLive is growth's first pass (see CopyInto): it copies the live
// entries of t into dst, an empty table of twice t's size that nobody
// else uses yet, while writers may change t (call Track first, so that
// the later passes know what they changed). Slots do not hold the hash,
// so hashOf recovers it from the entry's item; it must detect an item
// recycled under it (report false) and be safe to call concurrently, as
// must prefetch. An entry keeps its tag, frequency and location (the tag
// is the hash's top bits, which no table size uses for buckets). Ghosts
// have no item to hash and are dropped: their keys come back cold.
// dst is complete only after CatchUp. Goroutines that call HelpCopy
// meanwhile copy chunks of it too.
func (t *Table) CopyLive(dst *Table, hashOf func(s uint64) (uint64, bool), prefetch func(s uint64), workers int) error {
	return t.copyLive(dst, hashOf, prefetch, t.copyWorkers(workers))
}

// copyLive is CopyLive on exactly workers goroutines, and on whichever
// goroutines call HelpCopy meanwhile. Unlike the later passes it hands
// its buckets out a chunk at a time to whoever asks: each bucket of t
// feeds two buckets of dst that nothing else feeds, so the copy is the
// same whichever goroutine copies which chunk (a replay stays
// deterministic), and an entry that cannot go there is left for the
// later passes, which split their buckets in fixed ranges.
func (t *Table) copyLive(dst *Table, hashOf func(s uint64) (uint64, bool), prefetch func(s uint64), workers int) error {
	if err := t.doubledBy(dst); err != nil {
		return err
	}
	words := (len(t.Buckets) + 63) / 64
	j := &copyJob{t: t, dst: dst, hashOf: hashOf, prefetch: prefetch, chunks: int64((words + copyChunkWords - 1) / copyChunkWords)}
	t.copying.Store(j)
	panics := make([]any, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			// Raised again below, in the caller's goroutine (see split).
			defer func() { panics[w] = recover() }()
			for j.copyChunk() {
			}
		})
	}
	wg.Wait()
	// Every chunk is handed out (a helper that comes later gets none);
	// wait for the helpers still copying theirs.
	j.running.Lock()
	j.running.Unlock()
	t.copying.Store(nil)
	for _, p := range panics {
		if p != nil {
			panic(p)
		}
	}
	return nil
}

// copyChunkWords is how many words of change marks (64 buckets each) a
// goroutine of CopyLive takes at a time: 1,024 buckets, tens of
// microseconds of copying, so that a helper that joins late still finds
// some and the atomic add that hands them out is rare.
const copyChunkWords = 16

// copyJob is a CopyLive pass under way (see copyLive).
type copyJob struct {
	t, dst   *Table
	hashOf   func(s uint64) (uint64, bool)
	prefetch func(s uint64)
	next     atomic.Int64 // the next chunk to hand out
	chunks   int64

	// Helpers hold running for reading while they copy; the pass takes
	// it to end, so that it returns only once their chunks are copied.
	running sync.RWMutex
}

// copyChunk copies the next chunk of buckets not yet handed out, and
// reports whether there was one.
func (j *copyJob) copyChunk() bool {
	c := j.next.Add(1) - 1
	if c >= j.chunks {
		return false
	}
	lo := int(c) * copyChunkWords * 64
	hi := min(len(j.t.Buckets), lo+copyChunkWords*64)
	finished := false
	defer func() {
		// A panic in the middle (only a bug could raise one) leaves
		// the chunk to the later passes, which copy what is marked.
		if !finished {
			for i := lo; i < hi; i++ {
				j.t.noteBucket(uint64(i))
			}
		}
	}()
	j.t.copyRange(j.dst, lo, hi, j.hashOf, j.prefetch)
	finished = true
	return true
}

// HelpCopy lends the calling goroutine to the CopyLive pass under way
// from t, if there is one, until every chunk of it is handed out: for a
// writer that would otherwise only wait for the growth. It returns the
// number of chunks it copied, at once 0 if no such pass runs.
func (t *Table) HelpCopy() int {
	j := t.copying.Load()
	if j == nil || !j.running.TryRLock() {
		return 0
	}
	defer j.running.RUnlock()
	n := 0
	for j.copyChunk() {
		n++
	}
	return n
}

// CatchUpLive is an optional pass between CopyLive and CatchUp, beside
// the writers like CopyLive: it brings dst up to date (see CopyInto) for
// every bucket if all is set, else for those marked changed (only those
// if changes are tracked), except for the exceptions to the split, which
// CatchUp places. It returns how many marked buckets it found: how much
// t changed since the pass before.
func (t *Table) CatchUpLive(dst *Table, hashOf func(s uint64) (uint64, bool), prefetch func(s uint64), workers int, all bool) (int, error) {
	return t.catchUpLive(dst, hashOf, prefetch, t.copyWorkers(workers), all)
}

// catchUpLive is CatchUpLive on exactly workers goroutines.
func (t *Table) catchUpLive(dst *Table, hashOf func(s uint64) (uint64, bool), prefetch func(s uint64), workers int, all bool) (int, error) {
	_, marked, err := t.splitCounting(dst, workers, func(lo, hi int) ([]entry, int, error) {
		return t.catchUpRange(dst, lo, hi, hashOf, prefetch, all, false)
	})
	return marked, err
}

// CatchUp is growth's last pass (see CopyInto): with every writer of t
// held off, it makes dst hold exactly t's live entries, visiting the
// buckets marked changed if changes are tracked (the frequencies of the
// others are those of the last pass that visited them), else every
// bucket with its current frequencies. dst must hold what the passes
// before left, or nothing (untracked: then CatchUp copies everything).
// It fails, leaving dst partly filled, if hashOf fails for an entry it
// must copy, or an exception to the split finds both its buckets full
// even after a displacement.
func (t *Table) CatchUp(dst *Table, hashOf func(s uint64) (uint64, bool), prefetch func(s uint64), workers int) error {
	return t.catchUp(dst, hashOf, prefetch, t.copyWorkers(workers))
}

// catchUp is CatchUp on exactly workers goroutines.
func (t *Table) catchUp(dst *Table, hashOf func(s uint64) (uint64, bool), prefetch func(s uint64), workers int) error {
	rest, err := t.split(dst, workers, func(lo, hi int) ([]entry, int, error) {
		return t.catchUpRange(dst, lo, hi, hashOf, prefetch, false, true)
	})
	if err != nil {
		return err
	}
	for _, e := range rest {
		if !dst.place(e.h, e.s, e.second, hashOf) {
			return fmt.Errorf("hashtable: entry %#x: both buckets full in a table of 2^%d slots", e.s, dst.Power())
		}
	}
	return nil
}

// copyWorkers is how many of up to workers goroutines a pass over t
// uses: one per copyShare buckets at most, because starting one costs
// about a microsecond and copying a bucket some tens of nanoseconds per
// entry.
func (t *Table) copyWorkers(workers int) int {
	const copyShare = 1 << 12
	return max(1, min(workers, len(t.Buckets)/copyShare))
}

// split runs a pass of the copy of t into dst: part over disjoint ranges
// of t's buckets on workers goroutines, gathering the entries they
// return. The ranges are whole words of the change marks (64 buckets), so
// that no two workers take marks from one word. It refuses a dst that is
// not twice t's size (growth doubles) and writes nothing then.
func (t *Table) split(dst *Table, workers int, part func(lo, hi int) ([]entry, int, error)) ([]entry, error) {
	rest, _, err := t.splitCounting(dst, workers, part)
	return rest, err
}

// splitCounting is split that also sums the counts the parts return.
func (t *Table) splitCounting(dst *Table, workers int, part func(lo, hi int) ([]entry, int, error)) ([]entry, int, error) {
	if err := t.doubledBy(dst); err != nil {
		return nil, 0, err
	}
	n := len(t.Buckets)
	words := (n + 63) / 64
	rest := make([][]entry, workers)
	counts := make([]int, workers)
	errs := make([]error, workers)
	panics := make([]any, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			// A panic in a worker would end the process, past the
			// recover of the C ABI's exports: it is raised again below,
			// in the caller's goroutine, as a serial copy raises it.
			defer func() { panics[w] = recover() }()
			lo, hi := 64*(words*w/workers), min(n, 64*(words*(w+1)/workers))
			rest[w], counts[w], errs[w] = part(lo, hi)
		})
	}
	wg.Wait()
	for _, p := range panics {
		if p != nil {
			panic(p)
		}
	}
	var all []entry
	total := 0
	for w := range workers {
		if errs[w] != nil {
			return nil, 0, errs[w]
		}
		all = append(all, rest[w]...)
		total += counts[w]
	}
	return all, total, nil
}

// doubledBy refuses a dst that is not twice t's size: growth doubles.
func (t *Table) doubledBy(dst *Table) error {
	if dst.Mask != 2*t.Mask+1 || len(dst.Buckets) != 2*len(t.Buckets) {
		return fmt.Errorf("hashtable: copy into 2^%d slots from 2^%d: growth doubles", dst.Power(), t.Power())
	}
	return nil
}

// entry is a live entry of a table being copied: the slot (without the
// moving mark), its key's hash, and whether it sat in its second bucket.
type entry struct {
	h, s   uint64
	second bool
}

// copyAhead is how many buckets ahead of the copy the items of their
// entries are prefetched: 32 item loads in flight.
const copyAhead = 4

// copyRange is CopyLive over t's buckets [lo, hi): each bucket's entries
// go to the two buckets of dst that only it feeds, up to the first that
// cannot (the bucket is then marked for the next pass).
func (t *Table) copyRange(dst *Table, lo, hi int, hashOf func(s uint64) (uint64, bool), prefetch func(s uint64)) {
	for i := lo; i < hi; i++ {
		if j := i + copyAhead; j < hi {
			prefetchItems(&t.Buckets[j], prefetch)
		}
		// A bucket copied in part (an item that could not be read, a key
		// that is an exception to the split) holds a prefix of the
		// entries of bucket i: the next pass finds it wanting.
		if !t.copyBucket(dst, uint64(i), hashOf) {
			t.noteBucket(uint64(i))
		}
	}
}

// prefetchItems starts loading the items of b's live entries.
func prefetchItems(b *Bucket, prefetch func(s uint64)) {
	for _, s := range b {
		if s != 0 && !IsGhost(s) {
			prefetch(s)
		}
	}
}

// copyBucket puts the live entries of t's bucket i into dst's buckets i
// and i+len(t.Buckets), the only ones it feeds, up to the first entry
// that cannot go there: an exception to the split, or one whose item
// could not be read (its slot changed under the copy). It reports
// whether it copied them all.
func (t *Table) copyBucket(dst *Table, i uint64, hashOf func(s uint64) (uint64, bool)) bool {
	b := &t.Buckets[i]
	for j := range b {
		s := Load(&b[j])
		if s == 0 || IsGhost(s) {
			continue
		}
		h, ok := hashOf(s)
		if !ok || !t.putSplit(dst, i, h, s&^moving, nil) {
			return false
		}
	}
	return true
}

// putSplit puts entry s of t's bucket i, whose key's hash is h, into the
// bucket of dst that has its role there, if that is one of the two that
// bucket i alone feeds (i, i+len(t.Buckets)) and it has room; else it
// appends it to *rest, if rest is not nil, and reports whether it did
// either.
func (t *Table) putSplit(dst *Table, i, h, s uint64, rest *[]entry) bool {
	i0, _, _ := tagscan.Candidates(h, t.Mask)
	second := i != i0
	d0, d1, _ := tagscan.Candidates(h, dst.Mask)
	if second {
		d0 = d1
	}
	// Only into d0, and only into a free slot: no other bucket of t
	// feeds d0, so no other worker writes it.
	if d0&^uint64(len(t.Buckets)) == i && dst.putFree(d0, s) {
		return true
	}
	if rest == nil {
		return false
	}
	*rest = append(*rest, entry{h: h, s: s, second: second})
	return true
}

// catchUpRange is CatchUp (final) or CatchUpLive over t's buckets
// [lo, hi), a whole number of words of the change marks but for the last:
// it brings each bucket it visits up to date (see CopyInto). It visits
// every bucket if all is set or changes are not tracked, else the marked
// ones; it takes the marks of a word before it reads that word's buckets,
// so a change made meanwhile leaves its mark for the next pass. The final
// pass returns the exceptions to the split it met, to be placed once every
// worker is done, and fails if an item cannot be read; a live pass marks
// the bucket again instead. It returns how many marked buckets it found.
func (t *Table) catchUpRange(dst *Table, lo, hi int, hashOf func(s uint64) (uint64, bool), prefetch func(s uint64), all, final bool) (rest []entry, marked int, err error) {
	n := len(t.Buckets)
	cs := t.changes.Load()
	var lacking []pending
	for w := lo / 64; w*64 < hi; w++ {
		visit := ^uint64(0)
		if cs != nil {
			taken := cs.words[w].Swap(0)
			marked += bits.OnesCount64(taken)
			if !all {
				visit = taken
			}
		}
		for ; visit != 0; visit &= visit - 1 {
			i := w*64 + bits.TrailingZeros64(visit)
			if i >= hi {
				break
			}
			old, a, b := &t.Buckets[i], &dst.Buckets[i], &dst.Buckets[i+n]
			if !carryFreqs(old, a, b) {
				lacking = keepHeld(old, a, b, uint64(i), lacking)
			}
		}
	}
	for x, p := range lacking {
		if x+copyAhead*8 < len(lacking) {
			prefetch(lacking[x+copyAhead*8].s)
		}
		h, ok := hashOf(p.s)
		switch {
		case final && !ok:
			return nil, 0, fmt.Errorf("hashtable: entry %#x of bucket %d: its item cannot be read", p.s, p.i)
		case final:
			t.putSplit(dst, p.i, h, p.s, &rest)
		case !ok || !t.putSplit(dst, p.i, h, p.s, nil):
			t.noteBucket(p.i)
		}
	}
	return rest, marked, nil
}

// pending is an entry of t's bucket i that the copy lacks.
type pending struct{ i, s uint64 }

// carryFreqs reports whether the live entries of old are, in order, an
// interleaving of the entries of lo and of hi (each filled from slot 0),
// and no others; if so it gives each entry of lo and hi its slot value
// in old (the frequency is the only part that may differ).
func carryFreqs(old, lo, hi *Bucket) bool {
	a, b := 0, 0
	for j := range old {
		s := Load(&old[j]) // readers' frequency bumps may still write it
		if s == 0 || IsGhost(s) {
			continue
		}
		s &^= moving
		switch {
		case a < 8 && lo[a] != 0 && SameItem(lo[a], s):
			lo[a] = s
			a++
		case b < 8 && hi[b] != 0 && SameItem(hi[b], s):
			hi[b] = s
			b++
		default:
			return false
		}
	}
	return (a == 8 || lo[a] == 0) && (b == 8 || hi[b] == 0)
}

// keepHeld leaves in lo and hi (the buckets of dst that bucket i of the
// old table feeds) the live entries of old they hold, with old's slot
// values, and appends to lacking those of old they do not hold. An entry
// is its item: the same item has the same key, so an entry lo or hi holds
// is in its right bucket.
func keepHeld(old, lo, hi *Bucket, i uint64, lacking []pending) []pending {
	var nlo, nhi Bucket
	a, b := 0, 0
	for j := range old {
		s := Load(&old[j])
		if s == 0 || IsGhost(s) {
			continue
		}
		s &^= moving
		switch {
		case holds(lo, s):
			nlo[a] = s
			a++
		case holds(hi, s):
			nhi[b] = s
			b++
		default:
			lacking = append(lacking, pending{i: i, s: s})
		}
	}
	*lo, *hi = nlo, nhi
	return lacking
}

// holds reports whether b has an entry linking the item s links.
func holds(b *Bucket, s uint64) bool {
	for _, e := range b {
		if e != 0 && SameItem(e, s) {
			return true
		}
	}
	return false
}

// putFree stores s into the first empty slot of bucket i of an unpublished
// table, and reports whether there was one.
func (t *Table) putFree(i, s uint64) bool {
	b := &t.Buckets[i]
	for j := range b {
		if Load(&b[j]) == 0 {
			atomic.StoreUint64(&b[j], s)
			return true
		}
	}
	return false
}

// place puts entry s of the key whose hash is h into an unpublished
// table: into its first candidate bucket (second if second), else the
// other one, else after moving one entry of the pair to its own other
// bucket (one level, like Key.Displace).
func (t *Table) place(h, s uint64, second bool, hashOf func(uint64) (uint64, bool)) bool {
	var k Key // filled in place (SetKey): a returned Key stalls on its copy
	t.SetKey(&k, h)
	pref, other := k.b0, k.b1
	if second {
		pref, other = other, pref
	}
	for _, b := range [2]*Bucket{pref, other} {
		for j := range b {
			if Load(&b[j]) == 0 {
				atomic.StoreUint64(&b[j], s)
				return true
			}
		}
	}
	for i := 0; i < 16; i++ {
		p := k.Slot(i)
		o := Load(p)
		ho, ok := hashOf(o)
		if !ok {
			return false
		}
		cur := k.b0
		if i >= 8 {
			cur = k.b1
		}
		var ko Key
		t.SetKey(&ko, ho)
		other := ko.b0
		if other == cur {
			other = ko.b1
		}
		for j := range other {
			if Load(&other[j]) == 0 {
				atomic.StoreUint64(&other[j], o)
				atomic.StoreUint64(p, s)
				return true
			}
		}
	}
	return false
}

// PrefetchKey starts loading both candidate buckets of the key whose hash
// is h. It takes their addresses from the bucket slice without going
// through a *Bucket: Go's nil check of a pointer it dereferences is a real
// load, which would wait for the very miss the prefetch is meant to
// overlap with other work.
func (t *Table) PrefetchKey(h uint64) {
	i0, i1, _ := tagscan.Candidates(h, t.Mask)
	Prefetch(unsafe.Pointer(&t.Buckets[i0]))
	Prefetch(unsafe.Pointer(&t.Buckets[i1]))
}
