package ttl

import "math/bits"

const (
	mantissaBits = 5
	linear       = 1 << mantissaBits // TTLs below this many ms get a bucket each

	// Never is the bucket of items that never expire (TTL 0).
	Never = 0
	// MaxTTLms is the longest TTL accepted, in milliseconds (about 139 years).
	MaxTTLms = 1<<42 - 1
	// Count is the number of buckets.
	Count = linear + (42-mantissaBits)*linear

	// lagMs is the allowance, out of the contract's 1 s, for a write that
	// lands just after the seal deadline (a writer checked the age, then
	// was descheduled before reserving).
	lagMs = 200
)

// Bucket returns the bucket of a TTL in milliseconds (0 = never expires).
// ms must be at most MaxTTLms.
func Bucket(ms int64) int {
	if ms < linear {
		return int(ms)
	}
	e := bits.Len64(uint64(ms)) - 1 // ms in [2^e, 2^(e+1))
	m := int(ms>>(e-mantissaBits)) & (linear - 1)
	return linear + (e-mantissaBits)*linear + m
}

// Bounds returns the TTL range [lo, hi) in ms of bucket b (b > 0).
func Bounds(b int) (lo, hi int64) {
	if b < linear {
		return int64(b), int64(b) + 1
	}
	e := (b-linear)/linear + mantissaBits
	m := int64((b - linear) % linear)
	lo = (linear + m) << (e - mantissaBits)
	return lo, lo + 1<<(e-mantissaBits)
}

// Plan is the life of a segment opened for a bucket at a given time, in ms
// on the caller's clock. A zero Expire means never.
type Plan struct {
	Expire    int64 // the segment's items are not served from this time on
	Seal      int64 // writes must stop by this time
	NeedUntil int64 // every item written before Seal must be served until this time
}

// PlanFor returns the plan of a segment of bucket b created at now.
//
// With lo and hi the bucket's bounds, an item written at w ≤ Seal + lag
// with TTL t in [lo, hi) expires at now + lo ≤ w + t (never late), and
// must be served until w + 0.9·t − 1000 ≤ Seal + lag + 0.9·hi − 1000 =
// NeedUntil. Seal is chosen so that Expire − NeedUntil = 0.05·hi: that
// slack is what relocation (merge, promotion) may spend when it moves items
// into a segment that expires a little earlier.
func PlanFor(b int, now int64) Plan {
	if b == Never {
		return Plan{}
	}
	lo, hi := Bounds(b)
	age := lo + 1000 - lagMs - hi*95/100
	// Sub-second TTLs (Go callers only) have a vacuous lower promise; stop
	// writing before the segment expires so no item is dead on arrival.
	age = min(age, lo)
	return Plan{
		Expire:    now + lo,
		Seal:      now + age,
		NeedUntil: now + age + lagMs + hi*9/10 - 1000,
	}
}
