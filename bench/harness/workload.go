package harness

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
)

// Key and value sizes of the §1 and §2 workloads.
const (
	KeyLen   = 16
	ValueLen = 64
)

// Keys returns n distinct 16-byte keys in one backing array. Key i is the
// big-endian splitmix64 of i+salt followed by i+salt, so keys differ by
// their last 8 bytes and spread by their first 8. Keys made with different
// salts whose ranges [salt, salt+n) do not overlap are disjoint.
func Keys(n int, salt uint64) [][]byte {
	buf := make([]byte, n*KeyLen)
	keys := make([][]byte, n)
	for i := range keys {
		k := buf[i*KeyLen : (i+1)*KeyLen : (i+1)*KeyLen]
		id := uint64(i) + salt
		binary.BigEndian.PutUint64(k[:8], splitmix64(id))
		binary.BigEndian.PutUint64(k[8:], id)
		keys[i] = k
	}
	return keys
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

// Zipf draws ranks in [0, n) with P(rank r) proportional to 1/(r+1)^theta,
// by the method of Gray et al. ("Quickly generating billion-record
// synthetic databases", SIGMOD'94) that YCSB uses; unlike math/rand's Zipf
// it accepts theta < 1, and YCSB's default is 0.99.
type Zipf struct {
	n                        float64
	theta, alpha, zetan, eta float64
	half                     float64 // 1 + 0.5^theta
	rng                      *rand.Rand
}

// NewZipf returns a Zipf generator over [0, n) seeded with seed.
func NewZipf(n int, theta float64, seed uint64) *Zipf {
	zetan := 0.0
	for i := 1; i <= n; i++ {
		zetan += 1 / math.Pow(float64(i), theta)
	}
	zeta2 := 1 + 1/math.Pow(2, theta)
	return &Zipf{
		n: float64(n), theta: theta, zetan: zetan,
		alpha: 1 / (1 - theta),
		eta:   (1 - math.Pow(2/float64(n), 1-theta)) / (1 - zeta2/zetan),
		half:  1 + math.Pow(0.5, theta),
		rng:   rand.New(rand.NewPCG(seed, seed^0x5eed)),
	}
}

// Next returns the next rank (0 is the most popular).
func (z *Zipf) Next() int {
	u := z.rng.Float64()
	uz := u * z.zetan
	if uz < 1 {
		return 0
	}
	if uz < z.half {
		return 1
	}
	r := int(z.n * math.Pow(z.eta*u-z.eta+1, z.alpha))
	return min(r, int(z.n)-1)
}

// Sequence returns length key indexes in [0, n) drawn Zipf(theta), with
// ranks scattered over the key indexes by a fixed permutation so that the
// hot keys are not neighbours in memory. length must be a power of two
// (callers wrap with a mask).
func Sequence(n, length int, theta float64, seed uint64) []uint32 {
	if length&(length-1) != 0 {
		panic("harness: sequence length must be a power of two")
	}
	perm := rand.New(rand.NewPCG(seed, 1)).Perm(n)
	z := NewZipf(n, theta, seed)
	seq := make([]uint32, length)
	for i := range seq {
		seq[i] = uint32(perm[z.Next()])
	}
	return seq
}
