package core

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A read may be given one buffer for the key and the value (C callers
// reuse one buffer; a chain of keys reads each value into the key that
// named it). A read copies the value before its last check of the
// segment's generation, and a read that finds the segment recycled looks
// again, comparing the key once more: the key must be read from where it
// was, not from a buffer now holding the value. One goroutine rewrites a
// key whose old versions' segments are reclaimed and reused (PolicyNone:
// the key is never evicted, so every lookup must find it); readers read it
// into the buffer that holds the key.
func TestReadIntoItsOwnKey(t *testing.T) {
	c, err := Open(Options{HeapBytes: 16 * 4096, SegmentBytes: 4096, Eviction: PolicyNone, HashPower: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	key := []byte("the-key-that-is-read")
	vals := [2][]byte{bytes.Repeat([]byte{'a'}, 1000), bytes.Repeat([]byte{'b'}, 1000)}
	if err := c.Set(key, vals[0], 0); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; !stop.Load(); i++ {
			if err := c.Set(key, vals[i%2], 0); err != nil {
				t.Errorf("set: %v", err)
				return
			}
		}
	})
	var misses, wrong atomic.Int64
	for range 2 {
		wg.Go(func() {
			buf := make([]byte, 1024)
			keys, bufs, lens, errs := make([][]byte, 1), make([][]byte, 1), make([]int, 1), make([]error, 1)
			for !stop.Load() {
				k := buf[:copy(buf, key)]
				n, _, err := c.GetInto(buf, k)
				switch {
				case err != nil:
					misses.Add(1)
				case !bytes.Equal(buf[:n], vals[0]) && !bytes.Equal(buf[:n], vals[1]):
					wrong.Add(1)
				}
				k = buf[:copy(buf, key)]
				v, ok := c.Get(buf[:0], k) // Get appends into the key's buffer
				switch {
				case !ok:
					misses.Add(1)
				case !bytes.Equal(v, vals[0]) && !bytes.Equal(v, vals[1]):
					wrong.Add(1)
				}
				keys[0] = buf[:copy(buf, key)]
				bufs[0] = buf
				c.GetBatch(keys, bufs, lens, errs)
				switch {
				case errs[0] != nil:
					misses.Add(1)
				case !bytes.Equal(buf[:lens[0]], vals[0]) && !bytes.Equal(buf[:lens[0]], vals[1]):
					wrong.Add(1)
				}
			}
		})
	}
	time.Sleep(time.Second)
	stop.Store(true)
	wg.Wait()
	if misses.Load() != 0 || wrong.Load() != 0 {
		t.Errorf("a key always present: %d misses and %d wrong values when read into its own buffer", misses.Load(), wrong.Load())
	}
	// Reading from a copy of the key allocates nothing either.
	buf := make([]byte, 1024)
	if a := testing.AllocsPerRun(100, func() {
		c.GetInto(buf, buf[:copy(buf, key)])
	}); a != 0 && !raceOn {
		t.Errorf("a read into its key's buffer allocates %.1f times", a)
	}
}
