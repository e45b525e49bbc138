package core

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/segcache/segcache/core/internal/hashtable"
)

// freqOf is the frequency counter of key's entry (-1 if absent).
func freqOf(c *Cache, key []byte) int {
	var k hashtable.Key
	c.table().SetKey(&k, hashKey(key))
	var f found
	if !c.locate(key, &k, k.Match(), &f) {
		return -1
	}
	return int(hashtable.Freq(hashtable.Load(f.p)))
}

// TestHitsBumpFrequency: every read path counts a hit in the entry's
// frequency (below 16 each hit adds one), whether the hit is served by
// quickHit (a plain value that fits) or by read's general loop (a numeric
// value; a buffer too small, which still counts as a hit), and a miss or
// a refused key counts nothing. Eviction (merge, S3-FIFO) depends on it.
func TestHitsBumpFrequency(t *testing.T) {
	c, err := Open(Options{HeapBytes: 1 << 20, SegmentBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	reads := map[string]func(key []byte){
		"Get":    func(key []byte) { c.Get(nil, key) },
		"GetCAS": func(key []byte) { c.GetCAS(nil, key) },
		"GetInto": func(key []byte) {
			c.GetInto(make([]byte, 64), key)
		},
		"GetInto small buffer": func(key []byte) { c.GetInto(make([]byte, 1), key) },
		"GetBatch": func(key []byte) {
			c.GetBatch([][]byte{key, []byte("absent"), nil}, [][]byte{make([]byte, 64), nil, nil},
				make([]int, 3), make([]error, 3))
		},
	}
	for name, read := range reads {
		for _, val := range []string{"plain value", "12345"} {
			key := []byte(name + "/" + val)
			if err := c.Set(key, []byte(val), 0); err != nil {
				t.Fatal(err)
			}
			before := freqOf(c, key)
			for range 5 {
				read(key)
			}
			got := []int{before, freqOf(c, key)}
			if diff := cmp.Diff([]int{before, before + 5}, got); diff != "" {
				t.Errorf("%s of %q: frequency before and after 5 hits (-want +got):\n%s", name, val, diff)
			}
		}
	}
}
