package evict

import "github.com/segcache/segcache/core/internal/segment"

// Segment is a snapshot of one segment header.
type Segment struct {
	ID        int32
	State     segment.State
	Bucket    int32
	Pool      int32
	Create    int64
	Expire    int64 // 0 = never
	NeedUntil int64
	LiveBytes int32
}

// Kind is a whole-segment eviction policy.
type Kind int

const (
	FIFO       Kind = iota // oldest creation time first
	Random                 // any sealed segment
	RandomFIFO             // the oldest segment of a random segment's TTL bucket
	CTE                    // closest to expiration first
	Util                   // fewest live bytes first
)

// expiry orders "never" after every time.
func expiry(e int64) int64 {
	if e == 0 {
		return 1<<63 - 1
	}
	return e
}

// Pick returns the id of the segment to evict, or -1. Sealed segments are
// candidates; if there are none, open ones are (a cache with more TTL
// buckets in use than segments must still make room); then relocation
// destinations. seed drives the random policies.
func Pick(k Kind, segs []Segment, seed uint64) int32 {
	for _, st := range []segment.State{segment.Sealed, segment.Open, segment.Relocating} {
		if id := pickIn(k, segs, st, seed); id >= 0 {
			return id
		}
	}
	return -1
}

func pickIn(k Kind, segs []Segment, st segment.State, seed uint64) int32 {
	n := len(segs)
	if n == 0 {
		return -1
	}
	if k == Random || k == RandomFIFO {
		start := int(seed % uint64(n))
		for i := 0; i < n; i++ {
			s := segs[(start+i)%n]
			if s.State != st {
				continue
			}
			if k == Random {
				return s.ID
			}
			return oldest(segs, st, s.Bucket)
		}
		return -1
	}
	best := -1
	for i, s := range segs {
		if s.State != st {
			continue
		}
		if best < 0 || less(k, s, segs[best]) {
			best = i
		}
	}
	if best < 0 {
		return -1
	}
	return segs[best].ID
}

func less(k Kind, a, b Segment) bool {
	switch k {
	case CTE:
		if expiry(a.Expire) != expiry(b.Expire) {
			return expiry(a.Expire) < expiry(b.Expire)
		}
	case Util:
		if a.LiveBytes != b.LiveBytes {
			return a.LiveBytes < b.LiveBytes
		}
	}
	if a.Create != b.Create {
		return a.Create < b.Create
	}
	return a.ID < b.ID
}

func oldest(segs []Segment, st segment.State, bucket int32) int32 {
	best := -1
	for i, s := range segs {
		if s.State == st && s.Bucket == bucket && (best < 0 || less(FIFO, s, segs[best])) {
			best = i
		}
	}
	return segs[best].ID
}

// Envelope returns the expiry and promise of a segment holding the items
// of segs: it expires with the earliest of them, and promises what the
// latest promised.
func Envelope(segs []Segment) (expire, needUntil int64) {
	for i, s := range segs {
		if i == 0 || expiry(s.Expire) < expiry(expire) {
			expire = s.Expire
		}
		needUntil = max(needUntil, s.NeedUntil)
	}
	return expire, needUntil
}

// Fits reports whether src's items may move into dest: dest expires no
// later than src (an item never outlives its TTL) and no earlier than any
// promise src made (an item lives at least 0.9·TTL − 1 s).
// Items that never expire only move to segments that never expire.
func Fits(dest, src Segment) bool {
	if src.Expire == 0 || dest.Expire == 0 {
		return src.Expire == dest.Expire
	}
	return dest.Expire <= src.Expire && dest.Expire >= src.NeedUntil
}

// CompatibleRun returns the longest prefix of segs, at most max long,
// whose items can share one segment (see Envelope).
func CompatibleRun(segs []Segment, max int) []Segment {
	for n := 1; n <= len(segs) && n <= max; n++ {
		e, need := Envelope(segs[:n])
		if (segs[n-1].Expire == 0) != (segs[0].Expire == 0) || e != 0 && e < need {
			return segs[:n-1]
		}
		if n == len(segs) || n == max {
			return segs[:n]
		}
	}
	return segs[:0]
}
