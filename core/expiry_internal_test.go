package core

import (
	"strconv"
	"testing"
	"time"

	"github.com/segcache/segcache/core/internal/clock"
	"github.com/segcache/segcache/core/internal/hashtable"
)

// A writer judges whether the entry it found has expired by its segment's
// expiry. If the segment was recycled after the lookup (a drain moved or
// dropped the item) and reused with an expiry already passed, that expiry
// is another incarnation's: the entry must not be taken for expired, or a
// delete answers ErrNotFound and leaves the key (an add succeeds over it,
// a replace, cas or incr fails) while the key lives on in its new place.
// TestModelConcurrent caught a delete doing that; here the window is set
// up by hand: a lookup, then the key written elsewhere and its old
// segment drained, recycled and given a past expiry.
func TestWriterJudgesExpiryAtItsLookupsGeneration(t *testing.T) {
	c := smallCache(t, PolicyFIFO, 16)
	key := []byte("key")
	if err := c.Set(key, []byte("v1"), 0); err != nil {
		t.Fatal(err)
	}
	stale := writersLookup(t, c, key)
	old, _, _ := hashtable.Where(stale.s)

	// Fill the key's segment so that its next write goes to another one.
	for i := 0; ; i++ {
		if err := c.Set([]byte("filler"+strconv.Itoa(i)), make([]byte, 200), 0); err != nil {
			t.Fatal(err)
		}
		if err := c.Set(key, []byte("v2"), 0); err != nil {
			t.Fatal(err)
		}
		if v, ok := c.Get(nil, key); !ok || string(v) != "v2" {
			t.Fatalf("Get = %q, %v", v, ok)
		}
		if seg, _, _ := hashtable.Where(writersLookup(t, c, key).s); seg != old {
			break
		}
		if i > 100 {
			t.Fatal("the key never left its segment")
		}
	}
	c.evictMu.Lock()
	drained := c.drainWhole(old, dropEvict, false)
	c.evictMu.Unlock()
	if !drained {
		t.Fatalf("could not drain segment %d", old)
	}
	for clock.Now() < 2 { // a passed expiry must be positive (0 is none)
		time.Sleep(time.Millisecond)
	}
	c.segs.Headers[old].Expire.Store(1) // reused with an expiry passed

	if !stale.expired() {
		t.Error("the stale lookup's segment does not look expired: the test sets up nothing")
	}
	if _, ok := stale.expiredAt(); ok {
		t.Error("expiredAt judged the stale lookup by its segment's new incarnation")
	}
	var k keyed
	mu, err := c.lockKey(&k, key)
	if err != nil {
		t.Fatal(err)
	}
	var f found
	had, live := c.findLive(&k, &f)
	mu.Unlock()
	if !had || !live {
		t.Errorf("findLive = had %v, live %v; want the key's live entry in its new segment", had, live)
	}
	if err := c.Delete(key); err != nil {
		t.Errorf("Delete = %v, want it deleted", err)
	}
	if v, ok := c.Get(nil, key); ok {
		t.Errorf("after Delete, Get = %q", v)
	}
}
