package hashtable

import (
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"unsafe"

	"github.com/segcache/segcache/core/internal/arena"
	"github.com/segcache/segcache/core/internal/tagscan"
)

// Slot field layout.
const (
	TagShift  = 52
	FreqShift = 44
	FreqMask  = 0xff
	LocMask   = 1<<44 - 1
	GhostLoc  = tagscan.GhostLoc
	MaxFreq   = 127

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
	return &Table{Buckets: b, Mask: uint64(nb - 1), mem: mem}, nil
}

// Bytes is the table's memory.
func (t *Table) Bytes() uint64 { return uint64(len(t.mem)) }

// Memory is the table's mapping, which its owner unmaps (arena.Unmap) once
// nothing can touch the table any more.
func (t *Table) Memory() []byte { return t.mem }

// Candidates returns the key's two buckets and tag.
func (t *Table) Candidates(h uint64) (b0, b1 *Bucket, tag uint64) {
	i0, i1, tag := tagscan.Candidates(h, t.Mask)
	return &t.Buckets[i0], &t.Buckets[i1], tag
}

// SlotAt returns slot i (0..15) of the candidate pair.
func SlotAt(b0, b1 *Bucket, i int) *uint64 {
	if i < 8 {
		return &b0[i]
	}
	return &b1[i-8]
}

// MakeLoc packs a location.
func MakeLoc(seg int32, gen uint32, off int) uint64 {
	return uint64(seg)<<segShift | uint64(gen&genMask)<<genShift | uint64(off>>3)
}

// SplitLoc unpacks a location.
func SplitLoc(loc uint64) (seg int32, gen uint32, off int) {
	return int32(loc >> segShift), uint32(loc>>genShift) & genMask, int(loc&offMask) << 3
}

// Make packs a slot.
func Make(tag, freq, loc uint64) uint64 { return tag<<TagShift | freq<<FreqShift | loc }

// Tag, Freq and Loc unpack a slot.
func Tag(s uint64) uint64  { return s >> TagShift }
func Freq(s uint64) uint64 { return s >> FreqShift & FreqMask }
func Loc(s uint64) uint64  { return s & LocMask }

// WithFreq returns s with its frequency replaced.
func WithFreq(s, f uint64) uint64 { return s&^(FreqMask<<FreqShift) | f<<FreqShift }

// WithLoc returns s pointing at loc, keeping tag and frequency.
func WithLoc(s, loc uint64) uint64 { return s&^LocMask | loc }

// IsGhost reports whether s is a ghost.
func IsGhost(s uint64) bool { return s != 0 && Loc(s) == GhostLoc }

// Load reads a slot atomically.
func Load(p *uint64) uint64 { return atomic.LoadUint64(p) }

// CAS swaps a slot from old to new.
func CAS(p *uint64, old, new uint64) bool { return atomic.CompareAndSwapUint64(p, old, new) }

// Bump raises the slot's frequency counter after a hit: +1 up to 16, then
// with probability 1/freq, capped at MaxFreq. A lost CAS is ignored: the
// counter is approximate, and retrying would make hot keys contend.
func Bump(p *uint64, s uint64) {
	f := Freq(s)
	if f >= MaxFreq || (f >= 16 && rand.Uint32N(uint32(f)) != 0) {
		return
	}
	CAS(p, s, WithFreq(s, f+1))
}

// FindGhost returns a ghost slot carrying tag, or nil.
func FindGhost(b0, b1 *Bucket, tag uint64) (*uint64, uint64) {
	for i := 0; i < 16; i++ {
		p := SlotAt(b0, b1, i)
		if s := Load(p); IsGhost(s) && Tag(s) == tag {
			return p, s
		}
	}
	return nil, 0
}

// FindEmpty returns an empty slot, from the emptier bucket first so the
// two choices balance, or nil.
func FindEmpty(b0, b1 *Bucket) *uint64 {
	e0, e1 := -1, -1
	n0, n1 := 0, 0
	for i := 0; i < 8; i++ {
		if Load(&b0[i]) == 0 {
			n0++
			if e0 < 0 {
				e0 = i
			}
		}
		if Load(&b1[i]) == 0 {
			n1++
			if e1 < 0 {
				e1 = i
			}
		}
	}
	switch {
	case n0 >= n1 && e0 >= 0:
		return &b0[e0]
	case e1 >= 0:
		return &b1[e1]
	}
	return nil
}

// Coldest returns the index (0..15) of the slot to give up when both
// buckets are full, skipping the slots in the skip mask: an empty slot or a
// ghost if there is one, else the slot with the lowest frequency. It
// returns -1 if every slot is skipped.
func Coldest(b0, b1 *Bucket, skip uint32) (int, uint64) {
	best, bs, bf := -1, uint64(0), uint64(1<<10)
	for i := 0; i < 16; i++ {
		if skip&(1<<i) != 0 {
			continue
		}
		s := Load(SlotAt(b0, b1, i))
		if s == 0 || IsGhost(s) {
			return i, s
		}
		if f := Freq(s); f < bf {
			best, bs, bf = i, s, f
		}
	}
	return best, bs
}
