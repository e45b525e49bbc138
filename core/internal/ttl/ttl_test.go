package ttl

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestBucketBoundaries checks the mapping at every power-of-two boundary
// and at each bucket edge: a TTL falls in the bucket whose bounds hold it.
func TestBucketBoundaries(t *testing.T) {
	var probes []int64
	for e := 0; e < 42; e++ {
		p := int64(1) << e
		probes = append(probes, p-1, p, p+1)
	}
	probes = append(probes, 1000, 7000, 8000, 60_000, 3_600_000, 30*86_400_000, MaxTTLms)
	for _, ms := range probes {
		if ms <= 0 {
			continue
		}
		b := Bucket(ms)
		if b <= 0 || b >= Count {
			t.Fatalf("Bucket(%d) = %d out of range", ms, b)
		}
		lo, hi := Bounds(b)
		if ms < lo || ms >= hi {
			t.Errorf("Bucket(%d) = %d with bounds [%d,%d)", ms, b, lo, hi)
		}
		if w := hi - lo; w > 1 && w*32 > lo {
			t.Errorf("bucket %d [%d,%d) wider than 1/32 of its bound", b, lo, hi)
		}
	}
}

// TestBucketsContiguous walks all buckets: each starts where the last ended.
func TestBucketsContiguous(t *testing.T) {
	_, prevHi := Bounds(1)
	for b := 2; b < Count; b++ {
		lo, hi := Bounds(b)
		if lo != prevHi || hi <= lo {
			t.Fatalf("bucket %d = [%d,%d), previous ended at %d", b, lo, hi, prevHi)
		}
		if Bucket(lo) != b || Bucket(hi-1) != b {
			t.Fatalf("bucket %d bounds map to %d and %d", b, Bucket(lo), Bucket(hi-1))
		}
		prevHi = hi
	}
	if prevHi <= MaxTTLms {
		t.Fatalf("buckets end at %d, below MaxTTLms", prevHi)
	}
}

// TestContract checks the promise for TTLs at tier boundaries of the
// published engine and ours: for an item written anywhere in the open
// window (up to Seal plus the allowed lag), the segment expires no later
// than w+t and no earlier than w+0.9t-1s.
func TestContract(t *testing.T) {
	const now = 1_000_000
	for _, sec := range []int64{1, 2, 5, 7, 8, 9, 60, 127, 128, 129, 2047, 2048, 32767, 32768, 86400, 30 * 86400} {
		for _, extra := range []int64{0, 999} {
			ms := sec*1000 + extra
			p := PlanFor(Bucket(ms), now)
			if p.Seal <= now {
				t.Errorf("ttl %d ms: seal %d not after creation", ms, p.Seal-now)
			}
			for _, w := range []int64{now, p.Seal, p.Seal + lagMs} {
				if p.Expire > w+ms && w == now {
					t.Errorf("ttl %d ms written at creation: expires %d ms late", ms, p.Expire-(w+ms))
				}
				if min := w + ms*9/10 - 1000; p.Expire < min {
					t.Errorf("ttl %d ms written at +%d: expires at +%d, before 0.9t-1s (+%d)", ms, w-now, p.Expire-now, min-now)
				}
				if p.NeedUntil < w+ms*9/10-1000 {
					t.Errorf("ttl %d ms: NeedUntil below an item's promise", ms)
				}
			}
			if p.Expire < p.NeedUntil {
				t.Errorf("ttl %d ms: Expire %d before NeedUntil %d", ms, p.Expire, p.NeedUntil)
			}
		}
	}
}

func TestNever(t *testing.T) {
	if diff := cmp.Diff(Plan{}, PlanFor(Never, 12345)); diff != "" {
		t.Error(diff)
	}
	if Bucket(0) != Never {
		t.Error("TTL 0 not in the Never bucket")
	}
}
