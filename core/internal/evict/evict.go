package evict

import "github.com/segcache/segcache/core/internal/segment"

// Segment is a snapshot of one segment header.
type Segment struct {
	ID        int32
	State     segment.State
	Bucket    int32
	Pool      int32
	Seq       int64 // opening order (a merged segment takes its first source's)
	Expire    int64 // 0 = never
	NeedUntil int64
	LiveBytes int32
}

// expiry orders "never" after every time.
func expiry(e int64) int64 {
	if e == 0 {
		return 1<<63 - 1
	}
	return e
}

// Expiry returns the sort key of an expiry time: "never" (0) sorts after
// every time.
func Expiry(e int64) int64 { return expiry(e) }

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
