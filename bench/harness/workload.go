package harness

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
)

// Key and value sizes of the §1 and §2 workloads.
const (
	KeyLen   = 16
	ValueLen = 64
)

// KeySet holds n 16-byte keys in one pointer-free array, so that holding
// the keys gives the garbage collector nothing to scan (a [][]byte of 1M
// keys would add a million pointers to every GC the caches are timed in).
type KeySet struct{ b []byte }

// Keys returns n distinct 16-byte keys. Key i is the big-endian
// splitmix64 of i+salt followed by i+salt, so keys differ by their last 8
// bytes and spread by their first 8. Key sets made with salts whose ranges
// [salt, salt+n) do not overlap are disjoint.
func Keys(n int, salt uint64) KeySet {
	b := make([]byte, n*KeyLen)
	for i := 0; i < n; i++ {
		PutKey(b[i*KeyLen:], uint64(i)+salt)
	}
	return KeySet{b}
}

// PutKey writes key id to k[:KeyLen]: the big-endian splitmix64 of id, then
// id. Programs that need more unique keys than they can hold (the eviction
// benchmark) make them one at a time with it.
func PutKey(k []byte, id uint64) {
	binary.BigEndian.PutUint64(k[:8], splitmix64(id))
	binary.BigEndian.PutUint64(k[8:KeyLen], id)
}

// Len is the number of keys.
func (k KeySet) Len() int { return len(k.b) / KeyLen }

// At returns key i (capacity-limited: appending to it cannot touch key i+1).
func (k KeySet) At(i int) []byte {
	return k.b[i*KeyLen : i*KeyLen+KeyLen : i*KeyLen+KeyLen]
}

// MissSalt is the salt of keys that are never inserted.
const MissSalt = 1 << 40

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// Value returns the fixed 64-byte value the §1 workload stores.
func Value() []byte {
	v := make([]byte, ValueLen)
	for i := range v {
		v[i] = byte('a' + i%26)
	}
	return v
}

// Zipf draws ranks in [0, n) with P(rank r) = 1/(r+1)^theta / zeta(n,
// theta), exactly, by binary search in the cumulative distribution (YCSB's
// default theta is 0.99; math/rand's Zipf needs theta > 1, and the Gray et
// al. shortcut YCSB uses is off by up to 20% for the ranks after 1).
type Zipf struct {
	cdf   []float64
	zetan float64
	rng   *rand.Rand
}

// NewZipf returns a Zipf generator over [0, n) seeded with seed.
func NewZipf(n int, theta float64, seed uint64) *Zipf {
	cdf := make([]float64, n)
	sum := 0.0
	for i := range cdf {
		sum += 1 / math.Pow(float64(i+1), theta)
		cdf[i] = sum
	}
	for i := range cdf {
		cdf[i] /= sum
	}
	return &Zipf{cdf: cdf, zetan: sum, rng: rand.New(rand.NewPCG(seed, seed^0x5eed))}
}

// Next returns the next rank (0 is the most popular).
func (z *Zipf) Next() int {
	u := z.rng.Float64()
	i, _ := slices.BinarySearch(z.cdf, u)
	return min(i, len(z.cdf)-1)
}

// Sequence returns length key indexes in [0, n) drawn Zipf(theta), with
// ranks scattered over the key indexes by a fixed permutation so that the
// hot keys are not neighbours in memory. length must be a power of two
// (callers wrap with a mask).
func Sequence(n, length int, theta float64, seed uint64) []uint32 {
	if length&(length-1) != 0 {
		panic("harness: sequence length must be a power of two")
	}
	perm := RankToKey(n, seed)
	z := NewZipf(n, theta, seed)
	seq := make([]uint32, length)
	for i := range seq {
		seq[i] = uint32(perm[z.Next()])
	}
	return seq
}

// RankToKey is the permutation Sequence(n, _, _, seed) scatters ranks with:
// element r is the key index of popularity rank r (0 the most popular).
// Inserting keys in this order puts the hot keys side by side in memory.
func RankToKey(n int, seed uint64) []int {
	return rand.New(rand.NewPCG(seed, 1)).Perm(n)
}

// Median of xs (NaN if empty); xs is not modified.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
