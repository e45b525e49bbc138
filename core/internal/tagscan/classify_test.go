package tagscan_test

import (
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/segcache/segcache/core/internal/tagscan"
	"github.com/segcache/segcache/core/internal/tagscan/tagscantest"
)

// classes is Classify's word split into its three masks.
type classes struct{ Own, Ghost, Empty uint16 }

func split(c uint64) classes { return classes{uint16(c), uint16(c >> 16), uint16(c >> 32)} }

func TestClassifyBoundaries(t *testing.T) {
	cases := []struct {
		name   string
		b0, b1 tagscan.Bucket
		tag    uint64
		want   classes
	}{
		{name: "empty buckets", tag: 1, want: classes{Empty: 0xFFFF}},
		{name: "live entries of the tag", b0: fill(slot(5, 3, 1234)), b1: fill(slot(5, 0, 0)), tag: 5},
		{name: "ghosts of the tag", b0: fill(slot(5, 0, ghost)), b1: fill(slot(5, 127, ghost)), tag: 5,
			want: classes{Own: 0xFFFF, Ghost: 0xFFFF}},
		{name: "ghosts of another tag", b0: fill(slot(6, 0, ghost)), b1: fill(slot(4, 1, ghost)), tag: 5,
			want: classes{Ghost: 0xFFFF}},
		{name: "all-ones slots: ghosts of tag 4095", b0: fill(^uint64(0)), tag: 4095,
			want: classes{Own: 0x00FF, Ghost: 0x00FF, Empty: 0xFF00}},
		{name: "location one below ghost is live", b0: fill(slot(7, 0, ghost-1)), b1: fill(slot(7, 0, 1<<43)), tag: 7},
		{name: "tag above 12 bits has no ghost", b1: fill(slot(1, 0, ghost)), tag: 1 << 12,
			want: classes{Ghost: 0xFF00, Empty: 0x00FF}},
		{name: "first and last slots",
			b0:  tagscan.Bucket{slot(9, 1, ghost), 0, 0, 0, 0, 0, 0, slot(8, 1, ghost)},
			b1:  tagscan.Bucket{0: slot(9, 0, 42), 7: slot(9, 2, ghost)},
			tag: 9, want: classes{Own: 1<<0 | 1<<15, Ghost: 1<<0 | 1<<7 | 1<<15, Empty: 0x7E | 0x7E<<8}},
		{name: "mixed: live, ghost, empty, other tag",
			b0:  tagscan.Bucket{slot(3, 0, 10), slot(3, 9, ghost), 0, slot(4, 0, ghost), slot(3, 1, 11), 0, slot(3, 0, ghost), slot(3, 2, 12)},
			b1:  tagscan.Bucket{0, 0, slot(3, 0, 13), slot(2, 0, 13), slot(3, 0, ghost), 0, slot(3, 0, 1), ^uint64(0)},
			tag: 3, want: classes{Own: 0b01000010 | 0b00010000<<8, Ghost: 0b01001010 | 0b10010000<<8, Empty: 0b00100100 | 0b00100011<<8}},
	}
	for _, tc := range cases {
		if diff := cmp.Diff(tc.want, split(tagscan.ClassifyRef(&tc.b0, &tc.b1, tc.tag))); diff != "" {
			t.Errorf("%s: ClassifyRef (-want +got):\n%s", tc.name, diff)
		}
	}
	tagscantest.ForEachImpl(t, func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				b0, b1 := tc.b0, tc.b1
				if diff := cmp.Diff(tc.want, split(tagscan.Classify(&b0, &b1, tc.tag))); diff != "" {
					t.Errorf("Classify (-want +got):\n%s", diff)
				}
				if b0 != tc.b0 || b1 != tc.b1 {
					t.Errorf("Classify modified its buckets")
				}
			})
		}
	})
}

// Every implementation agrees with the reference on random buckets (the
// slots Match's tests draw: the tag, ghosts, near misses, empty, all
// ones), on both buckets being one, and at any word alignment.
func TestClassifyRandom(t *testing.T) {
	tagscantest.ForEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		words := make([]uint64, 8*8+8)
		for i := 0; i < 20000; i++ {
			tag := 1 + r.Uint64N(4095)
			if i%50 == 0 {
				tag = r.Uint64()
			}
			for j := range words {
				words[j] = randSlot(r, tag)
			}
			off := i % 8
			b0 := (*tagscan.Bucket)(unsafe.Pointer(&words[off]))
			b1 := (*tagscan.Bucket)(unsafe.Pointer(&words[off+8*3]))
			if i%16 == 0 {
				b1 = b0
			}
			if diff := cmp.Diff(split(tagscan.ClassifyRef(b0, b1, tag)), split(tagscan.Classify(b0, b1, tag))); diff != "" {
				t.Fatalf("Classify(%#x, %#x, %#x) (-want +got):\n%s", *b0, *b1, tag, diff)
			}
		}
	})
}

// FuzzClassify compares Classify under every implementation with
// ClassifyRef.
func FuzzClassify(f *testing.F) {
	f.Add([]byte{}, uint64(1))
	f.Add([]byte{2, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0}, uint64(4095))
	f.Add([]byte{2, 1, 2, 3, 4, 5, 6, 7, 8, 5, 0, 0, 0, 0, 0, 0, 0, 0x80, 1, 9, 9, 9, 9, 9, 9, 9, 9}, uint64(77))
	f.Fuzz(func(t *testing.T, data []byte, tag uint64) {
		if len(data) > 0 && data[0]&0x80 == 0 {
			tag &= 0xFFF
		}
		b0, b1 := fuzzBuckets(data, tag)
		want := tagscan.ClassifyRef(&b0, &b1, tag)
		for _, impl := range tagscan.Impls() {
			restore := tagscan.Force(impl)
			got := tagscan.Classify(&b0, &b1, tag)
			restore()
			if got != want {
				t.Fatalf("%s: Classify(%#x, %#x, %#x) = %#x, want %#x", impl, b0, b1, tag, got, want)
			}
		}
	})
}
