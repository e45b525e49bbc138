package core

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segcache/segcache/core/internal/item"
)

// footprintOK checks the memory bound growth promises: the segments in use
// plus the table never exceed the heap plus the table's budget, and the
// retired segments are exactly what the table's growth costs.
func footprintOK(t *testing.T, c *Cache) {
	t.Helper()
	s := c.Stats()
	inUse := (s.SegmentsTotal - s.SegmentsRetired) * uint64(c.segSize)
	if limit := s.HeapBytes + c.tableBudget; inUse+s.HashtableBytes > limit {
		t.Errorf("segments in use %d + table %d = %d bytes > heap %d + table budget %d",
			inUse, s.HashtableBytes, inUse+s.HashtableBytes, s.HeapBytes, c.tableBudget)
	}
	if want := uint64(c.retireFor(s.HashtableBytes)); s.SegmentsRetired != want {
		t.Errorf("%d segments retired for a %d-byte table, want %d", s.SegmentsRetired, s.HashtableBytes, want)
	}
}

// Growth from a 64-slot table to one that holds 20,000 items, under every
// policy: memory holds them all, so none may be lost (neither to a full
// bucket pair nor to the copy), every value reads back intact, and the
// counters agree with the table afterwards.
func TestGrowthKeepsEveryItem(t *testing.T) {
	n := 20000
	if raceOn {
		n = 6000 // the race detector makes each set ~50x slower
	}
	for _, p := range allPolicies {
		t.Run(p.String(), func(t *testing.T) {
			c, err := Open(Options{HeapBytes: 2 << 20, SegmentBytes: 64 << 10, HashPower: 6, Eviction: p})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for i := 0; i < n; i++ {
				k := []byte(fmt.Sprintf("g%07d", i))
				if err := c.Set(k, checkedValue(k, i, 24), 0); err != nil {
					t.Fatalf("Set #%d: %v (stats %+v)", i, err, c.Stats())
				}
			}
			for i := 0; i < n; i++ {
				k := []byte(fmt.Sprintf("g%07d", i))
				v, ok := c.Get(nil, k)
				if !ok {
					t.Fatalf("%s lost (stats %+v)", k, c.Stats())
				}
				if err := valueOK(k, v); err != nil {
					t.Fatalf("%s: %v", k, err)
				}
			}
			s := c.Stats()
			if s.Items != uint64(n) || s.EvictedItems != 0 {
				t.Errorf("Items %d, EvictedItems %d: want %d and 0", s.Items, s.EvictedItems, n)
			}
			// From 64 slots to at least one per item, one doubling at a time.
			if slots := s.HashtableBytes / 8; slots < uint64(n) || slots != 64<<s.HashtableGrowths {
				t.Errorf("%d growths to %d slots for %d items, from 64", s.HashtableGrowths, slots, n)
			}
			footprintOK(t, c)
			c.integrity(t)
		})
	}
}

// The case growth exists for: a 4 MiB cache of 16-byte items (4-byte key,
// 4-byte value) holds as many items as its memory allows, not as many as
// a fixed table sized for 64-byte items would (one slot per 64 heap
// bytes: 65,536 slots). Memory here is what is left once the table is paid
// for: the segments not retired. (Under the race detector, which makes
// each set ~50x slower and checks nothing more here: 1 MiB, 64 segments.)
func TestSmallItemsLimitedByMemory(t *testing.T) {
	heap := uint64(4 << 20)
	if raceOn {
		heap = 1 << 20
	}
	underPolicies(t, []Policy{PolicyNone, PolicyMerge, PolicyFIFO}, Options{HeapBytes: heap, SegmentBytes: uint32(heap / 64)}, func(t *testing.T, c *Cache) {
		var k, v [4]byte
		held := 0
		// Twice what the heap could hold: the evicting policies run
		// full for a while.
		for i := 0; i < int(heap/8); i++ {
			binary.LittleEndian.PutUint32(k[:], uint32(i)+1)
			binary.LittleEndian.PutUint32(v[:], ^uint32(i))
			err := c.Set(k[:], v[:], 0)
			if errors.Is(err, ErrNoSpace) && c.policy == PolicyNone {
				break
			}
			if err != nil {
				t.Fatalf("Set #%d: %v", i, err)
			}
			held++
		}
		s := c.Stats()
		memory := (s.SegmentsTotal - s.SegmentsRetired) * (heap / 64)
		t.Logf("%v: %d items held (%d set), table 2^%d slots after %d growths, %d of %d segments retired; memory allows %d",
			c.policy, s.Items, held, c.table().Power(), s.HashtableGrowths, s.SegmentsRetired, s.SegmentsTotal, memory/16)
		// Merge frees up to MergeMax-1 segments in one pass, so what it
		// holds swings with its passes: sampled through the second half
		// of a fill twice as long as this one, from 91.2 to 97.1% of
		// what memory allows, 93% on average (fifo: 97.1 to 100%). This
		// fill ends where merge holds 91.2%, where it ended at 94.1%
		// before its last source stayed in place (pruneInto): not 93%.
		share := uint64(93)
		if c.policy == PolicyMerge {
			share = 90
		}
		if s.Items < memory/16*share/100 {
			t.Errorf("%d items held; the %d bytes of segments in use hold %d", s.Items, memory, memory/16)
		}
		if fixed := heap / 64; s.Items < fixed*18/10 {
			t.Errorf("%d items held: hardly more than a fixed table of %d slots would", s.Items, fixed)
		}
		footprintOK(t, c)
		c.integrity(t)
	})
}

// Readers and writers run while the table doubles from 16 slots many
// times: every acknowledged write is readable from then on by every
// reader (PolicyNone with room for every item: nothing may disappear),
// no value is torn or foreign, an acknowledged delete stays deleted, and
// the counters agree with the table at the end.
func TestGrowthUnderConcurrentReadersAndWriters(t *testing.T) {
	const writers, readers = 3, 3
	perWriter := 6000
	if raceOn {
		perWriter = 2500
	}
	c, err := Open(Options{HeapBytes: 8 << 20, SegmentBytes: 64 << 10, HashPower: 4, Eviction: PolicyNone})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	key := func(w, i int) []byte { return []byte(fmt.Sprintf("w%d-%06d", w, i)) }
	var acked [writers]atomic.Int64
	var stop atomic.Bool
	errs := make(chan error, writers+readers+1)
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				k := key(w, i)
				if err := c.Set(k, checkedValue(k, i, 24+i%40), 0); err != nil {
					errs <- fmt.Errorf("Set %s: %v", k, err)
					return
				}
				acked[w].Store(int64(i + 1))
				if i%7 == 3 { // overwrite an older key: Retarget during growth
					j := i / 2
					if err := c.Set(key(w, j), checkedValue(key(w, j), j+1, 28), 0); err != nil {
						errs <- fmt.Errorf("overwrite %s: %v", key(w, j), err)
						return
					}
				}
				if i%11 == 5 { // a key of its own, set, deleted, then absent
					d := []byte(fmt.Sprintf("del%d-%d", w, i))
					if err := c.Set(d, checkedValue(d, i, 24), 0); err != nil {
						errs <- err
						return
					}
					if err := c.Delete(d); err != nil {
						errs <- fmt.Errorf("Delete %s: %v", d, err)
						return
					}
					if _, ok := c.Get(nil, d); ok {
						errs <- fmt.Errorf("%s readable after its delete was acknowledged", d)
						return
					}
				}
			}
		}()
	}
	var rwg sync.WaitGroup
	for r := 0; r < readers; r++ {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 7))
			var buf []byte
			for !stop.Load() {
				w := rng.IntN(writers)
				n := acked[w].Load()
				if n == 0 {
					continue
				}
				k := key(w, rng.IntN(int(n)))
				v, ok := c.Get(buf[:0], k)
				if !ok {
					errs <- fmt.Errorf("%s missed after its set was acknowledged (growths %d)", k, c.Stats().HashtableGrowths)
					return
				}
				if err := valueOK(k, v); err != nil {
					errs <- fmt.Errorf("%s: %v", k, err)
					return
				}
				buf = v
			}
		}()
	}
	wg.Wait()
	stop.Store(true)
	rwg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s := c.Stats()
	if s.Items != writers*uint64(perWriter) {
		t.Errorf("Items %d, want %d", s.Items, writers*perWriter)
	}
	if s.HashtableGrowths < 8 {
		t.Errorf("only %d growths from 16 slots for %d items", s.HashtableGrowths, s.Items)
	}
	footprintOK(t, c)
	c.integrity(t)
}

// Growth races eviction too: with memory for about a third of the keys,
// writers evict while the table grows; readers must never see a wrong
// value, and the accounting must balance.
func TestGrowthUnderEvictionChurn(t *testing.T) {
	underPolicies(t, []Policy{PolicyMerge, PolicyS3FIFO, PolicyFIFO}, Options{HeapBytes: 1 << 20, SegmentBytes: 32 << 10, HashPower: 5}, func(t *testing.T, c *Cache) {
		const workers, per = 4, 6000
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(w), 3))
				for i := 0; i < per; i++ {
					k := []byte(fmt.Sprintf("c%06d", rng.IntN(workers*per)))
					if rng.IntN(3) == 0 {
						if err := c.Set(k, checkedValue(k, i, 40+i%60), 0); err != nil {
							errs <- fmt.Errorf("Set %s: %v", k, err)
							return
						}
						continue
					}
					if v, ok := c.Get(nil, k); ok {
						if err := valueOK(k, v); err != nil {
							errs <- fmt.Errorf("%s: %v", k, err)
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if s := c.Stats(); s.HashtableGrowths == 0 {
			t.Errorf("no growth from 32 slots (stats %+v)", s)
		}
		footprintOK(t, c)
		c.integrity(t)
	})
}

// Close while writers make the table grow: every call returns (ErrClosed
// at worst), nothing faults, and both the arena and every table are
// unmapped.
func TestCloseDuringGrowth(t *testing.T) {
	for round := 0; round < 5; round++ {
		c, err := Open(Options{HeapBytes: 2 << 20, SegmentBytes: 64 << 10, HashPower: 4, Eviction: PolicyNone})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for w := 0; w < 3; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 20000; i++ {
					k := []byte(fmt.Sprintf("x%d-%d", w, i))
					if err := c.Set(k, k, 0); errors.Is(err, ErrClosed) {
						return
					} else if err != nil {
						t.Errorf("Set: %v", err)
						return
					}
					c.Get(nil, k)
				}
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
	wait:
		for c.Stats().HashtableGrowths < uint64(2+round) {
			select {
			case <-done:
				break wait // the writers stopped early (and said why)
			default:
				runtime.Gosched()
			}
		}
		if err := c.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		<-done
	}
}

// A reader that loaded the table before a growth and misses there looks
// again in the new table: a key written after the growth (so only in the
// new table) is found, and read reports errTableMoved for the old one.
func TestLookupAfterGrowthLooksInNewTable(t *testing.T) {
	c, err := Open(Options{HeapBytes: 1 << 20, SegmentBytes: 64 << 10, HashPower: 4, Eviction: PolicyNone})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 12; i++ { // fill 16 slots to the half that allows growth
		k := []byte(fmt.Sprintf("f%d", i))
		if err := c.Set(k, k, 0); err != nil {
			t.Fatal(err)
		}
	}
	// The growth waits until no reader holds the old table's memory, and
	// this test holds it (a reader in the middle of a lookup): grow in the
	// background and wait for the publish only.
	old := c.reading()
	grew := make(chan bool)
	go func() { grew <- c.grow(old.ht) }()
	for c.table() == old.ht {
		select {
		case ok := <-grew:
			t.Fatalf("grow of a table with %d items in %d slots returned %v without growing", c.Stats().Items, old.ht.Slots(), ok)
		default:
			runtime.Gosched()
		}
	}
	key := []byte("after")
	if err := c.Set(key, []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	h := hashKey(key)
	k := old.ht.Key(h)
	if _, _, _, err := c.read(nil, key, h, &k, k.Moves(), k.Match(), true); err != errTableMoved {
		t.Errorf("read in the replaced table = %v, want errTableMoved", err)
	}
	if v, _, _, err := c.lookup(nil, key, true); err != nil || string(v) != "v" {
		t.Errorf("lookup = %q, %v; want \"v\"", v, err)
	}
	// A lookup that started in the replaced table misses there, looks
	// again in the current one and answers with what it finds: the first
	// round's errTableMoved is not its answer (the quick path once kept
	// it, and reported a present key absent).
	for _, grow := range []bool{true, false} {
		buf := make([]byte, 8)
		if grow {
			buf = buf[:0]
		}
		if out, n, _, err := c.lookupFrom(old, buf, key, grow); err != nil || n != 1 || string(out[:n]) != "v" {
			t.Errorf("lookup from the replaced table (grow %v) = %q, %d, %v; want \"v\"", grow, out, n, err)
		}
	}
	// Keys copied by the growth read the same from both tables.
	k = old.ht.Key(hashKey([]byte("f3")))
	if v, _, _, err := c.read(nil, []byte("f3"), hashKey([]byte("f3")), &k, k.Moves(), k.Match(), true); err != nil || string(v) != "f3" {
		t.Errorf("read of a copied key in the replaced table = %q, %v", v, err)
	}
	runtime.KeepAlive(old)
	old = nil
	if !<-grew {
		t.Errorf("grow returned false after publishing")
	}
}

// Displacement two levels deep fills a table to 97% without growing it
// (one level stopped at about 95%): the table grows only when it is really
// full, so caches whose items just fit their table do not pay for a
// doubled one.
func TestTwoLevelDisplacementFillsTheTable(t *testing.T) {
	const power = 16
	n := (1 << power) * 97 / 100
	c, err := Open(Options{HeapBytes: 8 << 20, SegmentBytes: 1 << 20, HashPower: power, Eviction: PolicyNone})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	key := make([]byte, 16)
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint64(key, uint64(i)*0x9E3779B97F4A7C15)
		binary.LittleEndian.PutUint64(key[8:], uint64(i))
		if err := c.Set(key, key[:8], 0); err != nil {
			t.Fatalf("Set #%d: %v", i, err)
		}
	}
	if s := c.Stats(); s.Items != uint64(n) || s.HashtableGrowths != 0 {
		t.Errorf("%d items in 2^%d slots: Items %d, %d growths; want all held, no growth", n, power, s.Items, s.HashtableGrowths)
	}
	c.integrity(t)
}

// A panic during growth (only a bug could raise one; the C exports recover
// it) leaves the cache usable: the locks growth took are released, the
// segments it retired for the table it did not publish are given back, and
// the next growth succeeds. Before, every writer then blocked forever on a
// stripe that growth never unlocked.
func TestGrowthPanicReleasesLocks(t *testing.T) {
	// A 4 KiB table in 4 KiB segments: every doubling retires segments.
	c, err := Open(Options{HeapBytes: 2 << 20, SegmentBytes: 4 << 10, HashPower: 9})
	if err != nil {
		t.Fatal(err)
	}
	blocked := false
	defer func() {
		if !blocked { // Close would wait for the stripes forever
			c.Close()
		}
	}()
	growHook = func() { panic("injected") }
	defer func() { growHook = nil }()
	set := func(i int) (panicked any, err error) {
		defer func() { panicked = recover() }()
		k := []byte(fmt.Sprintf("p%07d", i))
		return nil, c.Set(k, checkedValue(k, i, 24), 0)
	}
	n := 0
	for ; n < 1000; n++ {
		p, err := set(n)
		if p != nil {
			if p != "injected" {
				t.Fatalf("Set #%d panicked with %v", n, p)
			}
			break
		}
		if err != nil {
			t.Fatalf("Set #%d: %v", n, err)
		}
	}
	if n == 1000 {
		t.Fatal("no growth in 1000 sets into a 512-slot table")
	}
	growHook = nil
	if s := c.Stats(); s.HashtableGrowths != 0 || s.SegmentsRetired != 0 {
		t.Errorf("after the panicked growth: %d growths, %d segments retired; want 0 and 0", s.HashtableGrowths, s.SegmentsRetired)
	}
	done := make(chan error, 1)
	go func() {
		for i := n; i < 5000; i++ {
			k := []byte(fmt.Sprintf("p%07d", i))
			if err := c.Set(k, checkedValue(k, i, 24), 0); err != nil {
				done <- fmt.Errorf("Set #%d: %w", i, err)
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		blocked = true
		t.Fatal("writers blocked after a panic during growth")
	}
	for i := 0; i < 5000; i++ {
		if i == n {
			continue // its Set panicked: stored or not
		}
		k := []byte(fmt.Sprintf("p%07d", i))
		v, ok := c.Get(nil, k)
		if !ok {
			t.Fatalf("%s lost", k)
		}
		if err := valueOK(k, v); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
	if s := c.Stats(); s.HashtableGrowths == 0 || s.SegmentsRetired == 0 {
		t.Errorf("after the panicked growth, %d growths retiring %d segments; want some", s.HashtableGrowths, s.SegmentsRetired)
	}
	footprintOK(t, c)
	c.integrity(t)
}

// Writes made while a growth is between its passes (those beside the
// writers done, writers not yet stopped for the last) are in the table it
// publishes, which only the last pass can have put there: deleted keys
// stay deleted, overwritten keys read their new value, new keys are found
// (unless an insert met a full pair and evicted, which the counters
// say). The writes run in another goroutine while the growth waits for
// them, in a cache that is full (it evicts to open segments: see
// Cache.full), and they must not wait for the growth: an insert of an
// evicting policy that finds its pair full evicts instead (waiting would
// never end here).
func TestWritesBetweenGrowthPasses(t *testing.T) {
	underPolicies(t, []Policy{PolicyMerge, PolicyS3FIFO, PolicyFIFO}, Options{HeapBytes: 8 << 20, SegmentBytes: 64 << 10, HashPower: 10}, func(t *testing.T, c *Cache) {
		key := func(i int) []byte { return []byte(fmt.Sprintf("k%06d", i)) }
		version := map[int]int{} // key -> version of its value; -1: deleted
		next := 0                // keys [0, next) were written
		var hookErr, notEvicting error
		var evictedInHook uint64
		growths := 0
		// Fill the heap first, so that the cache opens a segment only by
		// evicting one, as a full cache does: mostly dead copies of one
		// key, and a key of the test every 64th write, so that no segment
		// empties (an empty one is reclaimed at once, and free).
		churn := []byte("churn")
		for i, written := 0, 0; written < c.nseg*c.segSize; i++ {
			k := churn
			if i%64 == 0 {
				k = key(next)
				version[next] = 0
				next++
			}
			if err := c.Set(k, checkedValue(k, 0, 40), 0); err != nil {
				t.Fatal(err)
			}
			written += item.Size(len(k), 40, false)
		}
		start := c.Stats().HashtableGrowths
		growCopied = func() {
			growths++
			if growths > 3 {
				return
			}
			if !c.full() && notEvicting == nil {
				notEvicting = fmt.Errorf("%d of %d segments free during growth %d: the cache is not full", c.segs.FreeCount(), c.nseg, growths)
			}
			done := make(chan error, 1)
			go func() {
				before := c.Stats().EvictedItems
				for i := 0; i < next; i++ {
					switch {
					case version[i] < 0:
					case i%3 == 0:
						if err := c.Delete(key(i)); err != nil && !errors.Is(err, ErrNotFound) {
							done <- fmt.Errorf("Delete %s: %v", key(i), err)
							return
						}
						version[i] = -1
					case i%3 == 1:
						version[i]++
						if err := c.Set(key(i), checkedValue(key(i), version[i], 40), 0); err != nil {
							done <- fmt.Errorf("overwrite %s: %v", key(i), err)
							return
						}
					}
				}
				for end := next + next/2; next < end; next++ {
					if err := c.Set(key(next), checkedValue(key(next), 0, 40), 0); err != nil {
						done <- fmt.Errorf("Set %s: %v", key(next), err)
						return
					}
					version[next] = 0
				}
				evictedInHook += c.Stats().EvictedItems - before
				done <- nil
			}()
			select {
			case err := <-done:
				if hookErr == nil {
					hookErr = err
				}
			case <-time.After(30 * time.Second):
				hookErr = errors.New("writes between the passes waited for the growth")
				panic(hookErr) // nothing else would end the wait: the writer holds on
			}
		}
		defer func() { growCopied = nil }()
		for c.Stats().HashtableGrowths < start+3 {
			if err := c.Set(key(next), checkedValue(key(next), 0, 40), 0); err != nil {
				t.Fatalf("Set %s: %v", key(next), err)
			}
			version[next] = 0
			next++
		}
		growCopied = nil
		if hookErr != nil {
			t.Fatal(hookErr)
		}
		if notEvicting != nil {
			t.Fatal(notEvicting)
		}
		if growths < 3 {
			t.Fatalf("the hook ran in %d growths, want 3", growths)
		}
		missing := 0
		for i := 0; i < next; i++ {
			v, ok := c.Get(nil, key(i))
			switch {
			case version[i] < 0 && ok:
				t.Fatalf("%s found after its delete", key(i))
			case version[i] < 0:
			case !ok:
				missing++
			case valueOK(key(i), v) != nil:
				t.Fatalf("%s: %v", key(i), valueOK(key(i), v))
			case int(binary.LittleEndian.Uint32(v[4:])) != version[i]:
				t.Fatalf("%s has version %d, want %d", key(i), binary.LittleEndian.Uint32(v[4:]), version[i])
			}
		}
		s := c.Stats()
		if uint64(missing) > s.EvictedItems {
			t.Errorf("%d keys missing, %d evicted: some were lost by the growth", missing, s.EvictedItems)
		}
		if evictedInHook == 0 {
			t.Errorf("no insert between the passes found its pair full: the test did not test waiting")
		}
		footprintOK(t, c)
		c.integrity(t)
	})
}

// A cache with free memory loses no item to a growth: an insert that
// finds its pair full while a growth is between its passes waits for the
// growth (whatever the policy) and then goes into the new table. Another
// goroutine inserts half as many keys again as the table held, which
// cannot all fit in the old table.
func TestInsertsWaitForGrowthWithFreeMemory(t *testing.T) {
	policies := []Policy{PolicyMerge, PolicyS3FIFO, PolicyFIFO, PolicyNone}
	underPolicies(t, policies, Options{HeapBytes: 8 << 20, SegmentBytes: 64 << 10, HashPower: 10}, func(t *testing.T, c *Cache) {
		key := func(prefix string, i int) []byte { return []byte(fmt.Sprintf("%s%06d", prefix, i)) }
		loaded, inserted := 0, 0
		var writer sync.WaitGroup
		var writeErr error
		waited, hooked := false, false
		growCopied = func() {
			if hooked {
				return
			}
			hooked = true
			if c.full() {
				writeErr = fmt.Errorf("only %d of %d segments free: the cache is full", c.segs.FreeCount(), c.nseg)
				return
			}
			waiting := make(chan struct{}, 1)
			growWaiting = func() {
				select {
				case waiting <- struct{}{}:
				default:
				}
			}
			done := make(chan struct{})
			inserted = loaded / 2
			writer.Go(func() {
				defer close(done)
				for i := 0; i < inserted; i++ {
					if err := c.Set(key("w", i), checkedValue(key("w", i), 0, 40), 0); err != nil {
						writeErr = fmt.Errorf("Set %s: %v", key("w", i), err)
						return
					}
				}
			})
			select {
			case <-waiting:
				waited = true
			case <-done:
			case <-time.After(30 * time.Second):
				panic("the inserts between the passes neither ended nor waited for the growth")
			}
		}
		defer func() { growCopied, growWaiting = nil, nil }()
		for c.Stats().HashtableGrowths < 1 {
			if err := c.Set(key("k", loaded), checkedValue(key("k", loaded), 0, 40), 0); err != nil {
				t.Fatalf("Set %s: %v", key("k", loaded), err)
			}
			loaded++
		}
		writer.Wait()
		growCopied, growWaiting = nil, nil
		if writeErr != nil {
			t.Fatal(writeErr)
		}
		if !waited {
			t.Errorf("no insert of %d waited for the growth: the test did not test waiting", inserted)
		}
		for _, set := range []struct {
			prefix string
			n      int
		}{{"k", loaded}, {"w", inserted}} {
			for i := 0; i < set.n; i++ {
				v, ok := c.Get(nil, key(set.prefix, i))
				if !ok {
					t.Fatalf("%s lost (%d evicted)", key(set.prefix, i), c.Stats().EvictedItems)
				}
				if err := valueOK(key(set.prefix, i), v); err != nil {
					t.Fatalf("%s: %v", key(set.prefix, i), err)
				}
			}
		}
		if s := c.Stats(); s.EvictedItems != 0 {
			t.Errorf("%d items evicted from a cache with free memory", s.EvictedItems)
		}
		footprintOK(t, c)
		c.integrity(t)
	})
}

// The maintenance operations made while a growth is between its passes
// reach the table it publishes: Clear (its drains change every bucket
// that held an item) leaves none of the items written before it, the
// items written after it are there, an Incr made in place is kept (the
// copy links the same item), and a CAS token read between the passes
// still matches after the publish (tokens name the item, which the copy
// does not move), while one read before an overwrite does not.
func TestMaintenanceBetweenGrowthPasses(t *testing.T) {
	underPolicies(t, []Policy{PolicyMerge, PolicyS3FIFO, PolicyNone}, Options{HeapBytes: 8 << 20, SegmentBytes: 64 << 10, HashPower: 10}, func(t *testing.T, c *Cache) {
		key := func(prefix string, i int) []byte { return []byte(fmt.Sprintf("%s%06d", prefix, i)) }
		const after = 300 // keys written between the passes, after the Clear
		var hookErr error
		var token, staleToken uint64
		hooked := 0
		growCopied = func() {
			if hooked++; hooked > 1 {
				return
			}
			done := make(chan error, 1)
			go func() {
				if err := c.Clear(); err != nil {
					done <- fmt.Errorf("Clear: %v", err)
					return
				}
				for i := 0; i < after; i++ {
					if err := c.Set(key("new", i), checkedValue(key("new", i), 0, 40), 0); err != nil {
						done <- fmt.Errorf("Set %s: %v", key("new", i), err)
						return
					}
				}
				if err := c.Set([]byte("counter"), []byte("41"), 0); err != nil {
					done <- fmt.Errorf("Set counter: %v", err)
					return
				}
				if n, err := c.Incr([]byte("counter"), 1); err != nil || n != 42 {
					done <- fmt.Errorf("Incr counter = %d, %v; want 42", n, err)
					return
				}
				var ok bool
				if _, token, ok = c.GetCAS(nil, key("new", 0)); !ok {
					done <- fmt.Errorf("GetCAS %s: not found", key("new", 0))
					return
				}
				if _, staleToken, ok = c.GetCAS(nil, key("new", 1)); !ok {
					done <- fmt.Errorf("GetCAS %s: not found", key("new", 1))
					return
				}
				if err := c.Set(key("new", 1), checkedValue(key("new", 1), 1, 40), 0); err != nil {
					done <- fmt.Errorf("overwrite %s: %v", key("new", 1), err)
					return
				}
				done <- nil
			}()
			select {
			case hookErr = <-done:
			case <-time.After(30 * time.Second):
				panic("maintenance between the passes waited for the growth")
			}
		}
		defer func() { growCopied = nil }()
		old := 0
		for c.Stats().HashtableGrowths < 1 {
			if err := c.Set(key("old", old), checkedValue(key("old", old), 0, 40), 0); err != nil {
				t.Fatalf("Set %s: %v", key("old", old), err)
			}
			old++
		}
		growCopied = nil
		if hookErr != nil {
			t.Fatal(hookErr)
		}
		if hooked != 1 {
			t.Fatalf("the hook ran in %d growths, want 1", hooked)
		}
		// The growth that ran the hook was started by the insert of
		// the last old key, which finished after the publish.
		for i := 0; i < old-1; i++ {
			if _, ok := c.Get(nil, key("old", i)); ok {
				t.Fatalf("%s (of %d) found after the Clear", key("old", i), old)
			}
		}
		missing := 0
		for i := 0; i < after; i++ {
			v, ok := c.Get(nil, key("new", i))
			if !ok {
				missing++
				continue
			}
			if err := valueOK(key("new", i), v); err != nil {
				t.Fatalf("%s: %v", key("new", i), err)
			}
		}
		if uint64(missing) > c.Stats().EvictedItems {
			t.Errorf("%d of %d keys written after the Clear missing, %d evicted", missing, after, c.Stats().EvictedItems)
		}
		if v, ok := c.Get(nil, []byte("counter")); !ok || string(v) != "42" {
			t.Errorf("counter = %q, %v after the growth; want \"42\"", v, ok)
		}
		if err := c.CAS(key("new", 0), checkedValue(key("new", 0), 2, 40), 0, token); err != nil {
			t.Errorf("CAS with the token read between the passes: %v", err)
		}
		if err := c.CAS(key("new", 1), checkedValue(key("new", 1), 2, 40), 0, staleToken); !errors.Is(err, ErrExists) {
			t.Errorf("CAS with a token read before an overwrite: %v, want ErrExists", err)
		}
		if s := c.Stats(); s.HashtableGrowths < 1 {
			t.Errorf("%d growths", s.HashtableGrowths)
		}
		footprintOK(t, c)
		c.integrity(t)
	})
}

// openCache opens a cache with opts, failing the test if it cannot, and
// closes it when the test ends.
func openCache(t *testing.T, opts Options) *Cache {
	t.Helper()
	c, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// underPolicies runs fn as a subtest for each policy, on a cache opened
// with opts under that policy and closed when the subtest ends.
func underPolicies(t *testing.T, policies []Policy, opts Options, fn func(t *testing.T, c *Cache)) {
	t.Helper()
	for _, p := range policies {
		t.Run(p.String(), func(t *testing.T) {
			o := opts
			o.Eviction = p
			fn(t, openCache(t, o))
		})
	}
}
