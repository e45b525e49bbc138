package tagscan_test

import (
	"encoding/binary"
	"testing"

	"github.com/segcache/segcache/core/internal/tagscan"
)

// fuzzSlot turns a selector byte and 8 raw bytes into a slot, steering the
// fuzzer towards the interesting cases (the tag, ghosts, empty, all ones)
// that raw random words almost never hit.
func fuzzSlot(sel byte, raw uint64, tag uint64) uint64 {
	switch sel % 6 {
	case 0:
		return raw
	case 1:
		return tag<<52 | raw&(1<<52-1) // the tag, any frequency and location
	case 2:
		return tag<<52 | raw&(0xFF<<44) | tagscan.GhostLoc // a ghost of the tag
	case 3:
		return 0
	case 4:
		return ^uint64(0)
	default:
		return (tag^raw>>52)<<52 | raw&(1<<52-1) // the tag with some bits flipped
	}
}

// fuzzBuckets decodes up to 16 slots of 9 bytes each (selector, word).
func fuzzBuckets(data []byte, tag uint64) (b0, b1 tagscan.Bucket) {
	var buf [16 * 9]byte
	copy(buf[:], data)
	for i := 0; i < 16; i++ {
		s := fuzzSlot(buf[9*i], binary.LittleEndian.Uint64(buf[9*i+1:]), tag)
		if i < 8 {
			b0[i] = s
		} else {
			b1[i-8] = s
		}
	}
	return b0, b1
}

// FuzzMatch compares Match under every implementation with MatchRef.
func FuzzMatch(f *testing.F) {
	f.Add([]byte{}, uint64(1))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0}, uint64(4095))
	f.Fuzz(func(t *testing.T, data []byte, tag uint64) {
		if len(data) > 0 && data[0]&0x80 == 0 {
			tag &= 0xFFF // mostly 12-bit tags, sometimes any value
		}
		b0, b1 := fuzzBuckets(data, tag)
		want := tagscan.MatchRef(&b0, &b1, tag)
		for _, impl := range tagscan.Impls() {
			restore := tagscan.Force(impl)
			got := tagscan.Match(&b0, &b1, tag)
			gotSame := tagscan.Match(&b0, &b0, tag)
			restore()
			if got != want {
				t.Fatalf("%s: Match(%#x, %#x, %#x) = %#06x, want %#06x", impl, b0, b1, tag, got, want)
			}
			if w := tagscan.MatchRef(&b0, &b0, tag); gotSame != w {
				t.Fatalf("%s: Match(b0, b0) = %#06x, want %#06x", impl, gotSame, w)
			}
		}
	})
}

// FuzzMatchBatch compares MatchBatch under every implementation with
// MatchBatchRef, on a table built so that each hash's buckets hold slots
// of its tag. logn picks the table size (2..2^10 buckets), dist the
// prefetch distance of the assembly.
func FuzzMatchBatch(f *testing.F) {
	f.Add(uint8(3), []byte{}, []byte{}, uint8(8))
	f.Add(uint8(1), []byte{0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, []byte{2, 7, 1, 9}, uint8(0))
	f.Fuzz(func(t *testing.T, logn uint8, hashBytes, slotBytes []byte, dist uint8) {
		logn = 1 + logn%10
		m := uint64(1)<<logn - 1
		hashes := make([]uint64, len(hashBytes)/8)
		for i := range hashes {
			hashes[i] = binary.LittleEndian.Uint64(hashBytes[8*i:])
		}
		table := make([]tagscan.Bucket, m+1)
		for i, h := range hashes { // plant each hash's tag in its buckets
			b0, b1, tag := tagscan.Candidates(h, m)
			for j := 0; j < 4 && len(slotBytes) > 0; j++ {
				sel := slotBytes[(i*4+j)%len(slotBytes)]
				b := &table[b0]
				if sel&0x40 != 0 {
					b = &table[b1]
				}
				b[sel&7] = fuzzSlot(sel>>3, h*0x9E3779B97F4A7C15, tag)
			}
		}
		want := make([]uint32, len(hashes))
		tagscan.MatchBatchRef(table, m, hashes, want)
		defer tagscan.SetPrefetchDist(int(dist % 40))()
		for _, impl := range tagscan.Impls() {
			got := make([]uint32, len(hashes)+1)
			got[len(hashes)] = 0xDEADBEEF
			restore := tagscan.Force(impl)
			tagscan.MatchBatch(table, m, hashes, got[:len(hashes)])
			restore()
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%s: masks[%d] = %#06x, want %#06x (hash %#x, %d buckets, dist %d)", impl, i, got[i], want[i], hashes[i], m+1, dist%40)
				}
			}
			if got[len(hashes)] != 0xDEADBEEF {
				t.Fatalf("%s: MatchBatch wrote past its masks", impl)
			}
		}
	})
}
