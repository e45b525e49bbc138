package core

import (
	"errors"
	"testing"
	"time"

	"github.com/segcache/segcache/core/internal/hashtable"
)

// A CAS with the current token on a numeric item whose segment a drain
// owns cannot read the item's version with a pin; it must wait until the
// drain has moved or dropped the item and then answer for what it finds
// (here the drain drops it: ErrNotFound). It answered ErrExists at once,
// as if the item had changed: a spurious failure for a client holding the
// current token (TestModelConcurrent caught it under FIFO and S3-FIFO).
func TestCASWaitsForTheDrainOfItsNumericItem(t *testing.T) {
	c := smallCache(t, PolicyFIFO, 16)
	key := []byte("counter")
	if err := c.Set(key, []byte("5"), 0); err != nil {
		t.Fatal(err)
	}
	_, tok, ok := c.GetCAS(nil, key)
	if !ok {
		t.Fatal("the key is not there")
	}
	f := writersLookup(t, c, key)
	if !f.numeric() {
		t.Fatal("the item is not numeric")
	}
	seg, _, _ := hashtable.Where(f.s)

	// A drain claims the segment; a CAS with the current token comes while
	// it holds it, and the drain then drops the item and recycles the
	// segment (as drainWhole does) on another goroutine. The CAS is called
	// here, so an answer it gives without waiting is seen whatever the
	// scheduling; the pause only makes it likely that it waits.
	c.evictMu.Lock()
	if !c.claim(seg) {
		c.evictMu.Unlock()
		t.Fatalf("could not claim segment %d", seg)
	}
	go func() {
		defer c.evictMu.Unlock()
		time.Sleep(20 * time.Millisecond)
		var u drainCount
		c.forEachLinked(seg, func(it liveItem) { c.dropSlot(seg, &it, false, &u) })
		c.recycle(seg, u)
	}()
	if err := c.CAS(key, []byte("6"), 0, tok); !errors.Is(err, ErrNotFound) {
		t.Errorf("CAS on an item a drain owned, then dropped = %v, want ErrNotFound", err)
	}
	c.evictMu.Lock() // the drain is done
	c.evictMu.Unlock()
}

// writersLookup is the entry a writer of key finds, looked up under the
// key's stripe as writers do; the test fails if there is none.
func writersLookup(t *testing.T, c *Cache, key []byte) found {
	t.Helper()
	f, _, _, ok := probeLookup(t, c, key)
	if !ok {
		t.Fatalf("%q is not there", key)
	}
	return f
}
