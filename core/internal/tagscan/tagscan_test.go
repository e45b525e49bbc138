package tagscan_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/segcache/segcache/core/internal/tagscan"
	"github.com/segcache/segcache/core/internal/tagscan/tagscantest"
)

const ghost = tagscan.GhostLoc

// slot builds a slot word from its fields.
func slot(tag, freq, loc uint64) uint64 { return tag<<52 | freq<<44 | loc }

func TestImpls(t *testing.T) {
	impls := tagscan.Impls()
	if impls[len(impls)-1] != tagscan.Go {
		t.Fatalf("Impls() = %v, want the pure-Go path last", impls)
	}
	if got := tagscan.Active(); got != impls[0] {
		t.Fatalf("Active() = %s, want the default %s", got, impls[0])
	}
	t.Logf("implementations: %v", impls)
	for _, impl := range impls {
		restore := tagscan.Force(impl)
		if got := tagscan.Active(); got != impl {
			t.Errorf("after Force(%s): Active() = %s", impl, got)
		}
		restore()
		if got := tagscan.Active(); got != impls[0] {
			t.Errorf("after restore: Active() = %s, want %s", got, impls[0])
		}
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Errorf("Force(\"bogus\") did not panic")
			}
		}()
		tagscan.Force("bogus")
	}()
}

func TestCandidates(t *testing.T) {
	type out struct{ B0, B1, Tag uint64 }
	tests := []struct {
		name string
		h, m uint64
		want out
	}{
		{"zero hash: tag 0 becomes 1, b1==b0 moves to neighbour", 0, 7, out{0, 1, 1}},
		{"tag bits zero, buckets differ", 3<<26 | 5, 7, out{5, 3, 1}},
		{"all ones: tag 4095, b1==b0==m moves down", ^uint64(0), 7, out{7, 6, 4095}},
		{"two buckets", 1<<52 | 1<<26, 1, out{0, 1, 1}},
		{"two buckets collide", 2<<52 | 1<<26 | 1, 1, out{1, 0, 2}},
		{"largest table", 0xABC<<52 | 0x1234567<<26 | 0x2345678, 1<<26 - 1, out{0x2345678, 0x1234567, 0xABC}},
		{"largest table, collision on even bucket", 7<<52 | 0x2000000<<26 | 0x2000000, 1<<26 - 1, out{0x2000000, 0x2000001, 7}},
		{"mask ignores high bucket bits", 9<<52 | 0xF8<<26 | 0xF1, 0xF, out{1, 8, 9}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b0, b1, tag := tagscan.Candidates(tc.h, tc.m)
			if diff := cmp.Diff(tc.want, out{b0, b1, tag}); diff != "" {
				t.Errorf("Candidates(%#x, %#x) (-want +got):\n%s", tc.h, tc.m, diff)
			}
		})
	}
}

// Properties the hashtable relies on, over random hashes and every table size.
func TestCandidatesProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for logn := 1; logn <= 26; logn++ {
		m := uint64(1)<<logn - 1
		for i := 0; i < 2000; i++ {
			h := r.Uint64()
			b0, b1, tag := tagscan.Candidates(h, m)
			if b0 > m || b1 > m || b0 == b1 || tag == 0 || tag > 4095 {
				t.Fatalf("Candidates(%#x, %#x) = %d, %d, %d", h, m, b0, b1, tag)
			}
			if tag != h>>52 && h>>52 != 0 {
				t.Fatalf("tag %d is not the top 12 bits of %#x", tag, h)
			}
		}
	}
}

type bucketCase struct {
	name   string
	b0, b1 tagscan.Bucket
	same   bool // pass &b0 as both buckets
	tag    uint64
	want   uint32
}

func fill(v uint64) (b tagscan.Bucket) {
	for i := range b {
		b[i] = v
	}
	return b
}

var bucketCases = []bucketCase{
	{name: "empty buckets", tag: 1, want: 0},
	{name: "empty buckets, tag 0 matches empty slots (callers never pass 0)", tag: 0, want: 0xFFFF},
	{name: "tag above 12 bits matches nothing", b0: fill(slot(1, 0, 0)), tag: 1 << 12, want: 0},
	{name: "all slots match", b0: fill(slot(5, 3, 1234)), b1: fill(slot(5, 0, 0)), tag: 5, want: 0xFFFF},
	{name: "all slots other tag", b0: fill(slot(6, 3, 1234)), b1: fill(slot(4, 0, 0)), tag: 5, want: 0},
	{name: "all slots ghosts of the tag", b0: fill(slot(5, 0, ghost)), b1: fill(slot(5, 255, ghost)), tag: 5, want: 0},
	{name: "all-ones slots (tag 4095, ghost)", b0: fill(^uint64(0)), b1: fill(^uint64(0)), tag: 4095, want: 0},
	{name: "tag 4095 with location one below ghost", b0: fill(slot(4095, 255, ghost-1)), tag: 4095, want: 0x00FF},
	{name: "location with the top ghost bit only", b1: fill(slot(7, 0, 1<<43)), tag: 7, want: 0xFF00},
	{name: "location 0 is live", b0: fill(slot(7, 0, 0)), tag: 7, want: 0x00FF},
	{name: "first slot of b0", b0: tagscan.Bucket{slot(9, 1, 42)}, tag: 9, want: 1 << 0},
	{name: "last slot of b0", b0: tagscan.Bucket{7: slot(9, 1, 42)}, tag: 9, want: 1 << 7},
	{name: "first slot of b1", b1: tagscan.Bucket{slot(9, 1, 42)}, tag: 9, want: 1 << 8},
	{name: "last slot of b1", b1: tagscan.Bucket{7: slot(9, 1, 42)}, tag: 9, want: 1 << 15},
	{name: "frequency bits do not matter", b0: tagscan.Bucket{slot(9, 0xFF, 1), slot(9, 0, 1), slot(9, 0x80, 1)}, tag: 9, want: 0b111},
	{name: "tags differing in one bit", b0: tagscan.Bucket{slot(0x801, 0, 1), slot(0x001, 0, 1), slot(0x003, 0, 1), slot(0x000, 0, 1)}, tag: 1, want: 0b10},
	{name: "mixed: live, ghost, empty, other tag",
		b0:  tagscan.Bucket{slot(3, 0, 10), slot(3, 9, ghost), 0, slot(4, 0, 10), slot(3, 1, 11), 0, slot(3, 0, ghost), slot(3, 2, 12)},
		b1:  tagscan.Bucket{0, 0, slot(3, 0, 13), slot(2, 0, 13), slot(3, 0, ghost), 0, slot(3, 0, 1), ^uint64(0)},
		tag: 3, want: 0b10010001 | 0b01000100<<8},
	{name: "b0 == b1 (same bucket twice)", b0: tagscan.Bucket{slot(8, 0, 1), 0, 0, slot(8, 0, 2)}, same: true, tag: 8, want: 0b1001 | 0b1001<<8},
}

func TestMatchBoundaries(t *testing.T) {
	for _, tc := range bucketCases {
		b0, b1 := tc.b0, tc.b1
		p1 := &b1
		if tc.same {
			p1 = &b0
		}
		if got := tagscan.MatchRef(&b0, p1, tc.tag); got != tc.want {
			t.Errorf("%s: MatchRef = %#06x, want %#06x", tc.name, got, tc.want)
		}
	}
	tagscantest.ForEachImpl(t, func(t *testing.T) {
		for _, tc := range bucketCases {
			t.Run(tc.name, func(t *testing.T) {
				b0, b1 := tc.b0, tc.b1
				p1 := &b1
				if tc.same {
					p1 = &b0
				}
				if diff := cmp.Diff(tc.want, tagscan.Match(&b0, p1, tc.tag)); diff != "" {
					t.Errorf("Match (-want +got):\n%s", diff)
				}
				if b0 != tc.b0 || (!tc.same && b1 != tc.b1) {
					t.Errorf("Match modified its buckets")
				}
			})
		}
	})
}

// randSlot draws slots so that matches, ghosts and near misses are common.
func randSlot(r *rand.Rand, tag uint64) uint64 {
	switch r.IntN(8) {
	case 0:
		return 0
	case 1:
		return slot(tag, r.Uint64N(256), ghost)
	case 2:
		return slot(tag^1<<r.IntN(12), r.Uint64N(256), r.Uint64N(ghost)) // one tag bit off
	case 3:
		return slot(tag, r.Uint64N(256), ghost^1<<r.IntN(44)) // one location bit off ghost
	case 4, 5:
		return slot(tag, r.Uint64N(256), r.Uint64N(ghost+1))
	case 6:
		return ^uint64(0)
	default:
		return r.Uint64()
	}
}

func randBucket(r *rand.Rand, tag uint64) (b tagscan.Bucket) {
	for i := range b {
		b[i] = randSlot(r, tag)
	}
	return b
}

func TestMatchRandom(t *testing.T) {
	tagscantest.ForEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for i := 0; i < 20000; i++ {
			tag := 1 + r.Uint64N(4095)
			if i%50 == 0 {
				tag = r.Uint64() // out-of-range tags too
			}
			b0, b1 := randBucket(r, tag), randBucket(r, tag)
			if got, want := tagscan.Match(&b0, &b1, tag), tagscan.MatchRef(&b0, &b1, tag); got != want {
				t.Fatalf("Match(%#x, %#x, %d) = %#06x, want %#06x", b0, b1, tag, got, want)
			}
		}
	})
}

// Buckets need not be 64- or even 32-byte aligned: the engine's table is,
// but the kernels must not depend on it.
func TestMatchUnaligned(t *testing.T) {
	tagscantest.ForEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		words := make([]uint64, 8*8+8)
		for off := 0; off < 8; off++ {
			for i := 0; i < 200; i++ {
				tag := 1 + r.Uint64N(4095)
				for j := range words {
					words[j] = randSlot(r, tag)
				}
				b0 := (*tagscan.Bucket)(unsafe.Pointer(&words[off]))
				b1 := (*tagscan.Bucket)(unsafe.Pointer(&words[off+8*3]))
				if got, want := tagscan.Match(b0, b1, tag), tagscan.MatchRef(b0, b1, tag); got != want {
					t.Fatalf("offset %d words: Match = %#06x, want %#06x", off, got, want)
				}
			}
		}
	})
}

// newTable returns a table of n buckets in which the candidate buckets of
// each hash hold slots with its tag (live and ghost) among random ones.
func newTable(r *rand.Rand, n int, m uint64, hashes []uint64) []tagscan.Bucket {
	table := make([]tagscan.Bucket, n)
	for i := range table {
		table[i] = randBucket(r, 1+r.Uint64N(4095))
	}
	for _, h := range hashes {
		b0, b1, tag := tagscan.Candidates(h, m)
		table[b0][r.IntN(8)] = randSlot(r, tag)
		table[b1][r.IntN(8)] = randSlot(r, tag)
	}
	return table
}

func TestMatchBatch(t *testing.T) {
	tagscantest.ForEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		for _, logn := range []int{1, 2, 3, 7, 12} {
			m := uint64(1)<<logn - 1
			for _, n := range []int{0, 1, 2, 7, 8, 9, 15, 16, 17, 63, 64, 65, 200} {
				t.Run(fmt.Sprintf("buckets=%d/hashes=%d", m+1, n), func(t *testing.T) {
					hashes := make([]uint64, n)
					for i := range hashes {
						hashes[i] = r.Uint64()
						if i%5 == 0 {
							hashes[i] &^= 0xFFF << 52 // tag 0 -> 1
						}
						if i%7 == 0 { // b1 == b0
							hashes[i] = hashes[i]&^(m<<26) | (hashes[i]&m)<<26
						}
					}
					table := newTable(r, int(m+1), m, hashes)
					const canary = 0xDEADBEEF
					got := make([]uint32, n+3)
					for i := range got {
						got[i] = canary
					}
					want := make([]uint32, n)
					tagscan.MatchBatchRef(table, m, hashes, want)
					tagscan.MatchBatch(table, m, hashes, got)
					if diff := cmp.Diff(want, got[:n]); diff != "" {
						t.Fatalf("MatchBatch (-want +got):\n%s", diff)
					}
					for i := n; i < len(got); i++ {
						if got[i] != canary {
							t.Fatalf("MatchBatch wrote masks[%d] beyond %d hashes", i, n)
						}
					}
					for i, h := range hashes { // and each agrees with Match
						b0, b1, tag := tagscan.Candidates(h, m)
						if mm := tagscan.Match(&table[b0], &table[b1], tag); mm != got[i] {
							t.Fatalf("hash %d: MatchBatch %#06x != Match %#06x", i, got[i], mm)
						}
					}
				})
			}
		}
	})
}

// A mask that is not of the form 2^k-1 is outside the contract, but must stay
// memory-safe: a table longer than m|1 is accepted and matches the reference.
func TestMatchBatchOddMask(t *testing.T) {
	tagscantest.ForEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(9, 10))
		for _, m := range []uint64{0, 2, 5, 6, 10, 100} {
			hashes := make([]uint64, 40)
			for i := range hashes {
				hashes[i] = r.Uint64()
			}
			table := newTable(r, int(m|1)+1, m, hashes)
			want, got := make([]uint32, len(hashes)), make([]uint32, len(hashes))
			tagscan.MatchBatchRef(table, m, hashes, want)
			tagscan.MatchBatch(table, m, hashes, got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("m=%d: MatchBatch (-want +got):\n%s", m, diff)
			}
		}
	})
}

func TestMatchBatchPanics(t *testing.T) {
	tagscantest.ForEachImpl(t, func(t *testing.T) {
		table := make([]tagscan.Bucket, 8)
		tests := []struct {
			name   string
			table  []tagscan.Bucket
			m      uint64
			hashes []uint64
			masks  []uint32
		}{
			{"masks shorter than hashes", table, 7, make([]uint64, 3), make([]uint32, 2)},
			{"table shorter than mask", table[:7], 7, make([]uint64, 1), make([]uint32, 1)},
			{"table of one bucket", table[:1], 0, nil, nil},
			{"mask 4 needs 6 buckets (b0^1 can be 5)", table[:5], 4, nil, nil},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				defer func() {
					if recover() == nil {
						t.Errorf("MatchBatch did not panic")
					}
				}()
				tagscan.MatchBatch(tc.table, tc.m, tc.hashes, tc.masks)
			})
		}
	})
}

// Prefetch is a hint: any pointer, even nil or one past the end, is fine, and
// memory is unchanged.
func TestPrefetch(t *testing.T) {
	b := make([]tagscan.Bucket, 4)
	b[1][3] = 77
	tagscan.Prefetch(nil)
	tagscan.Prefetch(unsafe.Pointer(&b[1]))
	tagscan.Prefetch(unsafe.Add(unsafe.Pointer(&b[3]), 64))
	if b[1][3] != 77 {
		t.Fatalf("Prefetch changed memory")
	}
}

// The prefetch distance changes which buckets are prefetched, never the
// result: distances 0 (none ahead), short, and beyond the batch.
func TestMatchBatchPrefetchDist(t *testing.T) {
	tagscantest.ForEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(11, 12))
		const m = 1<<9 - 1
		hashes := make([]uint64, 70)
		for i := range hashes {
			hashes[i] = r.Uint64()
		}
		table := newTable(r, m+1, m, hashes)
		for _, dist := range []int{0, 1, 2, 5, 16, 69, 70, 1000} {
			for _, n := range []int{1, 5, 17, 70} {
				want, got := make([]uint32, n), make([]uint32, n)
				tagscan.MatchBatchRef(table, m, hashes[:n], want)
				restore := tagscan.SetPrefetchDist(dist)
				tagscan.MatchBatch(table, m, hashes[:n], got)
				restore()
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("dist %d, %d hashes (-want +got):\n%s", dist, n, diff)
				}
			}
		}
	})
}
