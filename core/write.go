package core

import (
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/segcache/segcache/core/internal/clock"
	"github.com/segcache/segcache/core/internal/fence"
	"github.com/segcache/segcache/core/internal/hashtable"
	"github.com/segcache/segcache/core/internal/item"
	"github.com/segcache/segcache/core/internal/proc"
	"github.com/segcache/segcache/core/internal/segment"
	"github.com/segcache/segcache/core/internal/ttl"
)

// storeMode is the write store performs: Store's op.
type storeMode int

const (
	modeSet     = storeMode(StoreSet)
	modeAdd     = storeMode(StoreAdd)
	modeReplace = storeMode(StoreReplace)
	modeCAS     = storeMode(StoreCAS)
	modeTouch   = storeMode(StoreTouch)
)

// pinnable are the states in which an item may be changed in place or
// unlinked by a writer: not while a drain owns the segment.
const pinnable = 1<<segment.Open | 1<<segment.Sealed | 1<<segment.Relocating

func ttlMillis(d time.Duration) (int64, error) {
	switch {
	case d < 0:
		return 0, fmt.Errorf("%w: negative TTL %v", ErrInvalid, d)
	case d == 0:
		return 0, nil
	case d < time.Millisecond:
		return 1, nil
	}
	return min(d.Milliseconds(), ttl.MaxTTLms), nil
}

// keyed is a key with its hash and its place in the hashtable.
type keyed struct {
	key []byte
	h   uint64
	hashtable.Key
	mayGrow bool // a full bucket pair may ask for growth (needGrow) instead of evicting
	// keep: a touch's new item takes the stamp (and a number's version)
	// of the item whose token it checked, so its token is that one. Here
	// rather than in storeOnce's locals, where they stayed live across
	// every set's loop: 1-3% per evicting set.
	keep        bool
	keepStamp   uint32
	keepVersion uint64
}

// lockKey takes the stripe of key, which the caller validated. Every
// writer of a key holds it for the whole operation, so a fresh insert
// cannot race another insert of the same key into a second slot, and
// check-then-act (add, cas, incr) is atomic. Readers never take it.
//
// It fills *k in place rather than returning a keyed: a returned struct is
// built on the stack and copied out, the copy that perf caught stalling
// lookups on store forwarding (see SetKey).
func (c *Cache) lockKey(k *keyed, key []byte) (*paddedMutex, error) {
	h := hashKey(key)
	// Start loading the key's buckets before taking the stripe: in a
	// table larger than the CPU caches they are a memory miss that the
	// lock's read-modify-write and the checks after it can overlap. The
	// table is read again under the stripe (a growth may have replaced
	// it); a prefetch of the old one is a harmless hint.
	c.table().PrefetchKey(h)
	mu := &c.stripes[stripeOf(h)]
	mu.Lock()
	if c.closed.Load() {
		mu.Unlock()
		return nil, ErrClosed
	}
	k.key, k.h = key, h
	c.table().SetKey(&k.Key, h)
	return mu, nil
}

// find locates k's entry, live or expired.
func (c *Cache) find(k *keyed, f *found) bool {
	return c.locate(k.key, &k.Key, k.Match(), f)
}

// findLive is find for a writer, which must also know whether the entry is
// live: had reports an entry (live or expired), live that it has not
// expired, judged at the generation the lookup saw (expiredAt).
func (c *Cache) findLive(k *keyed, f *found) (had, live bool) {
	for c.find(k, f) { // a match sets every field of f
		if expired, ok := f.expiredAt(); ok {
			return true, !expired
		}
	}
	return false, false
}

// Set stores key → val with the given TTL (0: never expires).
func (c *Cache) Set(key, val []byte, ttl time.Duration) error {
	_, err := c.store(key, val, ttl, modeSet, 0)
	return err
}

// Add stores key → val only if key is absent (else ErrExists).
func (c *Cache) Add(key, val []byte, ttl time.Duration) error {
	_, err := c.store(key, val, ttl, modeAdd, 0)
	return err
}

// Replace stores key → val only if key is present (else ErrNotFound).
func (c *Cache) Replace(key, val []byte, ttl time.Duration) error {
	_, err := c.store(key, val, ttl, modeReplace, 0)
	return err
}

// CAS stores key → val only if the item's CAS token is still token:
// ErrNotFound if key is absent, ErrExists if it changed since the token
// was read.
func (c *Cache) CAS(key, val []byte, ttl time.Duration, token uint64) error {
	_, err := c.store(key, val, ttl, modeCAS, token)
	return err
}

// StoreOp names the write Store performs.
type StoreOp uint8

// The writes of Store: those of Set, Add, Replace and CAS, and a touch.
const (
	StoreSet StoreOp = iota
	StoreAdd
	StoreReplace
	StoreCAS
	// StoreTouch is StoreCAS whose new item keeps the token of the item
	// it replaces, as memcached's touch keeps an item's CAS unique: for a
	// caller that rewrites an item to change what it keeps beside the
	// value in the stored bytes (an expiry, with the TTL), so that a
	// client holding the token may still use it. The token changes only
	// where the item was a number that Incr or Decr changed in place and
	// the new value is no number: the new item has no place for the
	// number's version, and the token without it would be the one the
	// number had before those updates.
	StoreTouch
)

// Store is Set, Add, Replace, CAS or a touch, chosen by op (token is
// that of CAS and touch, and is ignored by the others), and it also
// returns the CAS token of the item it stored: the token GetCAS returns
// for the key until the key is written again. A caller that chains
// compare-and-sets, or a server that answers a store with the new item's
// token (memcached's binary protocol and its meta "ms ... c"), needs it
// from the write itself: a GetCAS after the write may already see a later
// writer's item and would hand out that item's token as if it were the
// caller's, letting the caller's next CAS overwrite a value it never saw.
func (c *Cache) Store(op StoreOp, key, val []byte, ttl time.Duration, token uint64) (uint64, error) {
	if op > StoreTouch {
		return 0, fmt.Errorf("%w: store op %d", ErrInvalid, op)
	}
	return c.store(key, val, ttl, storeMode(op), token)
}

// store writes key → val under mode and returns the new item's CAS token.
// If the key's bucket pair is full and the table may grow, it grows it
// (holding no lock) and starts over; after a growth that did not happen,
// it evicts or fails as without growth, so it never loops.
func (c *Cache) store(key, val []byte, ttlD time.Duration, mode storeMode, token uint64) (uint64, error) {
	mayGrow := true
	for {
		stored, full, err := c.storeOnce(key, val, ttlD, mode, token, mayGrow)
		if err != errNeedGrow {
			return stored, err
		}
		mayGrow = c.grow(full)
	}
}

// errNeedGrow is storeOnce's report that the key found its bucket pair
// full and the table should grow before anything is evicted for it.
var errNeedGrow = errors.New("segcache: the hashtable should grow")

// earlyWriteTableBytes is the table size from which a set reserves and
// writes its item before it looks the key up. The reservation's locked
// instructions, issued first, hold back the bucket load: a loss of 2-4%
// per set where the bucket would have been in a CPU cache, and a gain of
// 3-9% where it is a memory miss (bench/cmd/evict, fifo and merge, 4 KiB
// segments: slower with tables of 128 KiB to 2 MiB, even or faster at
// 8 MiB, faster at 32 MiB). A constant, not the CPU's cache size: the
// order changes which bytes a retried set leaves dead, so a replay's
// evictions must not depend on the machine. A variable for the tests,
// which force both orders.
var earlyWriteTableBytes uint64 = 8 << 20

// writeItem writes key → val, or the number num if numeric, into dst,
// stamped with the next write stamp of the key's stripe mu (held). The
// early order's; the other order writes the same inline.
func writeItem(dst, key, val []byte, num uint64, numeric bool, mu *paddedMutex) {
	mu.stamp++
	if numeric {
		item.WriteNumeric(dst, key, num, 0, mu.stamp&item.StampMask)
	} else {
		item.Write(dst, key, val, mu.stamp&item.StampMask)
	}
}

// written is the CAS token of the item a store just published for k under
// the stripe mu, held: the stripe's stamp counter, which only holders
// advance, still has the stamp that item was written with. (Read here
// rather than kept from the write, whose value would then stay live
// across the publication: that cost 1-3% per set into a small cache.) A
// touch that kept the stamp and version it checked has their token.
func (c *Cache) written(k *keyed, mu *paddedMutex) uint64 {
	if k.keep {
		return itemToken(k.h, k.keepStamp, k.keepVersion)
	}
	return writtenToken(k.h, mu.stamp&item.StampMask)
}

// storeOnce is one attempt of store, under the key's stripe; it returns
// the stored item's CAS token. With mayGrow, a full bucket pair returns
// errNeedGrow and the table it was full in.
func (c *Cache) storeOnce(key, val []byte, ttlD time.Duration, mode storeMode, token uint64, mayGrow bool) (stored uint64, full *hashtable.Table, err error) {
	if err := checkKey(key); err != nil {
		return 0, nil, err
	}
	num, numeric := item.ParseCanonical(val)
	size := item.Size(len(key), len(val), numeric)
	if size > c.segSize {
		return 0, nil, fmt.Errorf("%w: %d bytes with header, segment is %d", ErrItemTooLarge, size, c.segSize)
	}
	ms, err := ttlMillis(ttlD)
	if err != nil {
		return 0, nil, err
	}
	var k keyed
	mu, err := c.lockKey(&k, key)
	if err != nil {
		return 0, nil, err
	}
	defer mu.Unlock()
	k.mayGrow = mayGrow
	bucket := ttl.Bucket(ms)
	lane := uint64(proc.ID())
	c.prefetchReserve(bucket, lane, size)
	// Under PolicyNone a full cache refuses every set, whatever the
	// lookup would find: reserving first refuses it without touching the
	// table (in a table larger than the CPU caches the key's buckets are a
	// memory miss: a refused set at 65,536 segments of 4 KiB cost 310 ns
	// with the lookup, 165 without, 140 at 256 segments). Add, replace and
	// cas look up first, so their answer about the key (ErrExists,
	// ErrNotFound) comes before ErrNoSpace as it always has.
	//
	// The other policies' sets (but S3-FIFO's, whose pool depends on what
	// the lookup finds) also reserve and write the item first when the
	// table is large (see earlyWriteTableBytes): the bucket miss that
	// lockKey's prefetch started then overlaps that work instead of
	// stalling the lookup.
	early := mode == modeSet && (c.policy == PolicyNone ||
		c.policy != PolicyS3FIFO && k.Table().Bytes() >= earlyWriteTableBytes)
	tokenChecked := mode != modeCAS && mode != modeTouch
	expiredForRoom := false // see bucketsFull below
	for {
		var (
			id  int32
			off int
			gen uint32
			dst []byte
		)
		if early {
			if id, off, gen, err = c.reserve(bucket, segment.PoolMain, lane, size); err != nil {
				return 0, nil, err
			}
			dst = c.segBytes(id)[off : off+size]
			writeItem(dst, key, val, num, numeric, mu)
		}
		var f found
		had, live := c.findLive(&k, &f)
		// Holding the stripe, no other writer changes this key: between
		// attempts it can only have been relocated (same value) or
		// evicted. So the token is checked once; later attempts only
		// need the key to be still there.
		switch mode {
		case modeAdd:
			if live {
				return 0, nil, ErrExists
			}
		case modeReplace, modeCAS, modeTouch:
			if !live {
				return 0, nil, ErrNotFound
			}
			if !tokenChecked {
				version, ok := c.versionOf(&f)
				if !ok {
					// A drain owns the numeric item's segment, so its
					// version cannot be read pinned. The item has not
					// changed: wait until the drain has moved it (same
					// token) or dropped it (not found) and look again,
					// as updateNumber does. Answering ErrExists failed
					// a CAS that held the current token.
					waitSlot(f.p, f.s)
					continue
				}
				if casToken(k.h, &f, version) != token {
					return 0, nil, ErrExists
				}
				tokenChecked = true
				k.keep = mode == modeTouch && (numeric || version == 0)
				k.keepStamp, k.keepVersion = f.ih.Stamp, version
			}
		}
		pool := int32(segment.PoolMain)
		if c.policy == PolicyS3FIFO {
			pool = c.s3fifoPool(live, &f, &k)
		}
		if !early {
			// Written out rather than through writeItem, which is too large
			// to inline: this is every S3-FIFO set's path.
			mu.stamp++
			stamp, version := mu.stamp&item.StampMask, uint64(0)
			if k.keep {
				stamp, version = k.keepStamp, k.keepVersion
			}
			if id, off, gen, err = c.reserve(bucket, pool, lane, size); err != nil {
				return 0, nil, err
			}
			dst = c.segBytes(id)[off : off+size]
			if numeric {
				item.WriteNumeric(dst, key, num, version, stamp)
			} else {
				item.Write(dst, key, val, stamp)
			}
		}
		// reserve counted the new item live when it pinned hdr, so
		// whoever unlinks it once published never takes a counter below
		// zero.
		hdr := &c.segs.Headers[id]
		loc := hashtable.MakeLoc(id, gen, off)
		var res publishResult
		var waitP *uint64
		var waitS uint64
		if had && f.seg == id && f.gen == gen {
			// The old item lives in the segment we hold pinned (a hot
			// key overwritten again before its segment filled): no
			// second pin, and the old item is uncounted as we unpin.
			if res = c.replaceInPinned(&f, loc); res == published {
				hdr.UnpinCounting(-1, -f.ih.SizeOf())
				c.stats.Add(statSets, 1)
				return c.written(&k, mu), nil, nil
			}
		} else {
			res, waitP, waitS = c.publish(&k, had, &f, loc)
		}
		if res == published {
			hdr.Unpin()
			c.stats.Add(statSets, 1)
			return c.written(&k, mu), nil, nil
		}
		// Give the reservation up (its bytes stay dead, uncounted).
		// Publishing may need a drain to finish first while we pin the
		// new segment, which that drain may be waiting for: wait unpinned
		// and start again. Or the key has no slot to take and the policy
		// forbids dropping another key for it.
		item.MarkDeleted(dst)
		hdr.UnpinCounting(-1, -size)
		c.noteUnlinked(id, hdr)
		if res == needGrow {
			return 0, k.Table(), errNeedGrow
		}
		if res == bucketsFull {
			// Entries whose items expired still fill the pair until their
			// segments are dropped, which only an allocation that finds no
			// free segment did: with segments free, a table full of
			// expired items refused every new key. Expire them (once: a
			// pair full of live entries stays full) and look again.
			if !expiredForRoom {
				expiredForRoom = true
				if c.expireForRoom() {
					continue
				}
			}
			return 0, nil, fmt.Errorf("%w: both hashtable buckets of the key are full and eviction is none", ErrNoSpace)
		}
		if waitP != nil {
			waitSlot(waitP, waitS)
		}
	}
}

// expireForRoom drops every expired segment (as Expire does) and reports
// whether it dropped any. The caller holds a key's stripe, as writers do
// when they open a segment (openSegment also expires under it).
func (c *Cache) expireForRoom() bool {
	c.evictMu.Lock()
	defer c.evictMu.Unlock()
	return !c.closed.Load() && c.expireLocked() > 0
}

// tokenOf returns the CAS token of the item f found, pinned so the
// numeric version it reads belongs to that item; false when the item's
// segment cannot be pinned (a drain owns it).
func (c *Cache) tokenOf(k *keyed, f *found) (uint64, bool) {
	v, ok := c.versionOf(f)
	return casToken(k.h, f, v), ok
}

// versionOf returns the version of the number f found (0 for an item that
// is no number), read as tokenOf does.
func (c *Cache) versionOf(f *found) (uint64, bool) {
	if !f.numeric() {
		return 0, true
	}
	_, g6, _ := hashtable.Where(f.s)
	if !f.hdr.Pin(pinnable, g6) {
		return 0, false
	}
	defer f.hdr.Unpin()
	v, _, ok := item.ReadNumeric(item.Numeric(f.data, f.ih.Klen))
	return v, ok
}

type unlinkResult int

const (
	unlinked unlinkResult = iota
	slotChanged
	segmentBusy
)

// unlink makes change to slot p, seen holding s, and takes the item s
// linked off its segment's counters. It pins the old segment first, so a
// drain cannot scan or recycle it meanwhile: counters are decremented
// exactly once, by whoever wins the slot, on the incarnation the item
// lived in. segmentBusy means a drain owns the segment: it will unlink or
// relocate the item itself; the caller waits for the slot to change.
func (c *Cache) unlink(p *uint64, s uint64, change hashtable.Change) unlinkResult {
	seg, g6, off := hashtable.Where(s)
	if int(seg) >= c.nseg {
		return slotChanged
	}
	hdr := &c.segs.Headers[seg]
	if !hdr.Pin(pinnable, g6) {
		return segmentBusy
	}
	if !change.Apply(c.table(), p, s) {
		hdr.Unpin()
		return slotChanged
	}
	data := c.segBytes(seg)[off:]
	ih, _ := item.Decode(item.LoadHeader(data))
	item.MarkDeleted(data)
	hdr.UnpinCounting(-1, -ih.SizeOf())
	c.noteUnlinked(seg, hdr)
	return unlinked
}

// waitSlot waits until slot p no longer holds s's location: a drain that
// owns s's segment is unlinking or relocating it.
func waitSlot(p *uint64, s uint64) {
	for i := 0; hashtable.SameItem(hashtable.Load(p), s) && i < 1<<20; i++ {
		runtime.Gosched()
	}
}

// replaceInPinned points f's slot at loc, a new item in the same segment
// incarnation as f's item, which the caller holds pinned (so no drain
// scans or recycles it meanwhile, and f's header, read at that
// generation, is the old item's). The new item was counted when its space
// was reserved; the caller uncounts the old one (f.ih.SizeOf() bytes) as
// it unpins, in the same add.
func (c *Cache) replaceInPinned(f *found, loc uint64) publishResult {
	if !hashtable.Retarget(loc).Apply(c.table(), f.p, f.s) {
		return retryLookup
	}
	if f.expired() {
		c.expiredItems.Add(1)
	}
	item.MarkDeleted(f.data)
	return published
}

// publishResult says how publishing a new location ended.
type publishResult int

const (
	published   publishResult = iota
	retryLookup               // the old entry moved or a drain owns a slot: look again (after waiting, if a slot is given)
	bucketsFull               // a fresh key found no free slot and the policy keeps every entry
	needGrow                  // a fresh key found no free slot and the table should grow first
)

// publish links the new location for key without ever waiting: it
// replaces the key's entry in its slot if there was one (keeping its
// frequency), else takes a new slot. If that needs a drain to finish
// first, it returns retryLookup and the slot to wait for.
func (c *Cache) publish(k *keyed, had bool, f *found, loc uint64) (res publishResult, waitP *uint64, waitS uint64) {
	if !had {
		return c.insertFresh(k, loc)
	}
	expired := f.expired()
	switch c.unlink(f.p, f.s, hashtable.Retarget(loc)) {
	case unlinked:
		if expired {
			c.expiredItems.Add(1)
		}
		return published, nil, 0
	case segmentBusy:
		return retryLookup, f.p, f.s
	}
	return retryLookup, nil, 0 // relocated or evicted meanwhile: look again
}

// insertFresh puts a new entry into one of the key's buckets: over a ghost
// of the key (resuming its frequency), into an empty slot, or over the
// coldest entry when both buckets are full. A full bucket pair fails a set
// only under PolicyNone (bucketsFull), which must never drop a stored
// entry; the other policies drop an entry whose item has expired if there
// is one, else the coldest. Entries whose segment a drain owns are passed
// over; if all are, it reports one to wait for.
func (c *Cache) insertFresh(kd *keyed, loc uint64) (publishResult, *uint64, uint64) {
	k := &kd.Key
	var busy uint32
	for spins := 0; ; spins++ {
		if k.InsertFree(loc) {
			return published, nil, 0
		}
		if c.displaceFor(kd) {
			continue
		}
		i, vs := k.Coldest(busy)
		if i < 0 {
			p := k.Slot(0)
			return retryLookup, p, hashtable.Load(p)
		}
		switch {
		case vs == 0 || hashtable.IsGhost(vs):
			continue // freed meanwhile: InsertFree takes it
		case kd.mayGrow && c.wantGrow(k.Table()):
			return needGrow, nil, 0
		case c.policy == PolicyNone:
			return bucketsFull, nil, 0
		}
		expired := false
		if j, es := c.expiredEntry(k, busy); j >= 0 {
			i, vs, expired = j, es, true
		}
		switch c.unlink(k.Slot(i), vs, hashtable.Takeover(k.Tag(), loc)) {
		case unlinked:
			if expired {
				c.expiredItems.Add(1)
			} else {
				c.evictedItems.Add(1)
			}
			return published, nil, 0
		case segmentBusy:
			busy |= 1 << i
		}
		if spins > 16 {
			runtime.Gosched()
		}
	}
}

// expiredEntry returns the index (0..15) of an entry of k's full bucket
// pair whose item has expired, and the slot, or -1: a full pair gives up
// such an entry before its coldest live one, which counted as an eviction
// while an item nobody can read any more kept its slot until its segment
// was dropped. Its segment's header is read at the generation the slot
// names (a recycled segment's expiry is another item's); unlink checks
// the generation again as it pins. Slots in skip are passed over.
func (c *Cache) expiredEntry(k *hashtable.Key, skip uint32) (int, uint64) {
	for i := 0; i < 16; i++ {
		s := hashtable.Load(k.Slot(i))
		if skip&(1<<i) != 0 || s == 0 || hashtable.IsGhost(s) || hashtable.Moving(s) {
			continue
		}
		seg, g6, _ := hashtable.Where(s)
		if int(seg) >= c.nseg {
			continue
		}
		hdr := &c.segs.Headers[seg]
		e := hdr.Expire.Load()
		fence.Load()
		if e != 0 && clock.Reached(e) && hdr.Gen.Load()&(1<<segment.GenBits-1) == g6 {
			return i, s
		}
	}
	return -1, 0
}

// displaceFor makes room in k's full bucket pair without dropping
// anything: it moves one of the entries to the other candidate bucket of
// that entry's key, if that bucket has an empty slot or another key's
// ghost (a cache under eviction has no empty slot: drains leave ghosts);
// failing that, it first moves an entry of such an other bucket on to its
// own other bucket (two levels, each an ordinary displacement). It reads each entry's key
// from its item to learn its hash, and takes that key's stripe (unless it
// is k's own), so that no writer of that key races the move. It reports
// whether a slot was freed. Two levels fill a table to about 98% before a
// pair stays full (one level: about 95%), which is when the table grows.
// The second level reads up to 128 items, each a likely cache miss, so it
// is tried only where what follows a full pair is worse than that: a
// growth, or ErrNoSpace under PolicyNone. A cache whose table may not grow
// now (a growth was refused, as in steady eviction with a table sized for
// its memory) drops the coldest entry after one level instead: that made
// sets under eviction 2.5 times slower at 65,536 segments.
func (c *Cache) displaceFor(k *keyed) bool {
	deep := c.policy == PolicyNone || k.mayGrow && !c.grower.coolingDown()
	own := stripeOf(k.h)
	var hashes [16]uint64
	var known uint32
	for i := 0; i < 16; i++ {
		s := hashtable.Load(k.Slot(i))
		if s == 0 || hashtable.IsGhost(s) {
			return true // freed meanwhile
		}
		h, ok := c.hashOfEntry(s)
		if !ok {
			continue
		}
		hashes[i], known = h, known|1<<i
		if c.displaceUnder(own, &k.Key, i, s, h) {
			return true
		}
	}
	if !deep {
		return false
	}
	t := k.Table()
	for i := 0; i < 16; i++ {
		if known&(1<<i) == 0 {
			continue
		}
		s := hashtable.Load(k.Slot(i))
		if s == 0 || hashtable.IsGhost(s) {
			return true
		}
		// e is the entry's own place; its other bucket is the one that
		// is not the bucket of k it sits in.
		var e hashtable.Key
		t.SetKey(&e, hashes[i])
		other := 8
		if e.Slot(0) != k.Slot(i&8) {
			other = 0
		}
		for j := other; j < other+8; j++ {
			s2 := hashtable.Load(e.Slot(j))
			if s2 == 0 || hashtable.IsGhost(s2) {
				continue // room appeared: the move of s below takes it
			}
			if h2, ok := c.hashOfEntry(s2); ok && c.displaceUnder(own, &e, j, s2, h2) {
				break
			}
		}
		if c.displaceUnder(own, &k.Key, i, s, hashes[i]) {
			return true
		}
	}
	return false
}

// stripeOf is the index of the stripe of the key whose hash is h.
func stripeOf(h uint64) uint64 { return h >> 20 & (stripeCount - 1) }

// displaceUnder moves entry s (of the key whose hash is h) from candidate
// slot i of k to its other bucket (Key.Displace), holding that key's
// stripe: taken with TryLock, since the caller holds stripe own (which it
// does not take again), and a writer holding the other stripe may be
// waiting for something the caller holds.
func (c *Cache) displaceUnder(own uint64, k *hashtable.Key, i int, s, h uint64) bool {
	st := stripeOf(h)
	if st == own {
		return k.Displace(i, s, h)
	}
	mu := &c.stripes[st]
	if !mu.TryLock() {
		return false
	}
	defer mu.Unlock()
	return k.Displace(i, s, h)
}

// hashOfEntry returns the hash of the key of the item slot s links, read
// under the segment's generation check (the bytes may be recycled under
// us: then ok is false).
func (c *Cache) hashOfEntry(s uint64) (h uint64, ok bool) {
	seg, g6, off := hashtable.Where(s)
	if int(seg) >= c.nseg || off+item.HeaderSize > c.segSize {
		return 0, false
	}
	hdr := &c.segs.Headers[seg]
	g := hdr.Gen.Load()
	if g&(1<<segment.GenBits-1) != g6 {
		return 0, false
	}
	data := c.segBytes(seg)[off:]
	ih, ok := item.Decode(item.LoadHeader(data))
	if !ok || item.HeaderSize+ih.Klen > len(data) {
		return 0, false
	}
	h = hashKey(data[item.HeaderSize : item.HeaderSize+ih.Klen])
	fence.Load()
	return h, hdr.Gen.Load() == g
}

// Delete removes key; ErrNotFound if it is absent or expired.
func (c *Cache) Delete(key []byte) error {
	return c.delete(key, false, 0)
}

// DeleteCAS removes key only if its item's CAS token is still token:
// ErrNotFound if key is absent, ErrExists if it changed since the token
// was read. The check and the removal are one step, so a write that
// comes after the read of the token is never removed by it.
func (c *Cache) DeleteCAS(key []byte, token uint64) error {
	return c.delete(key, true, token)
}

// delete is Delete, and DeleteCAS when checkToken.
func (c *Cache) delete(key []byte, checkToken bool, token uint64) error {
	if err := checkKey(key); err != nil {
		return err
	}
	var k keyed
	mu, err := c.lockKey(&k, key)
	if err != nil {
		return err
	}
	defer mu.Unlock()
	for {
		var f found
		if _, live := c.findLive(&k, &f); !live {
			return ErrNotFound
		}
		if checkToken {
			// Holding the stripe, the item can only be relocated (same
			// token) or dropped meanwhile, as in storeOnce.
			cur, ok := c.tokenOf(&k, &f)
			if !ok {
				waitSlot(f.p, f.s) // a drain owns the numeric item's segment
				continue
			}
			if cur != token {
				return ErrExists
			}
		}
		switch c.unlink(f.p, f.s, hashtable.Unlink()) {
		case unlinked:
			c.stats.Add(statDeletes, 1)
			return nil
		case segmentBusy:
			// Never acknowledge a delete that a drain could undo by
			// relocating the item (a published-engine bug): wait, then look again.
			waitSlot(f.p, f.s)
		}
	}
}

// Incr adds delta to key's number, wrapping at 2^64, and returns the
// result. The value must be a canonical unsigned decimal (ErrNotNumeric
// otherwise, leaving it unchanged). The item's expiry is unchanged.
func (c *Cache) Incr(key []byte, delta uint64) (uint64, error) {
	n, _, err := c.IncrCAS(key, delta)
	return n, err
}

// Decr subtracts delta from key's number, stopping at 0.
func (c *Cache) Decr(key []byte, delta uint64) (uint64, error) {
	n, _, err := c.DecrCAS(key, delta)
	return n, err
}

// IncrCAS is Incr that also returns the item's CAS token after the
// change, taken in the same step (see Store for why a GetCAS afterwards
// would not do).
func (c *Cache) IncrCAS(key []byte, delta uint64) (n, token uint64, err error) {
	return c.updateNumber(key, func(n uint64) uint64 { return n + delta })
}

// DecrCAS is Decr that also returns the item's CAS token after the
// change, as IncrCAS does.
func (c *Cache) DecrCAS(key []byte, delta uint64) (n, token uint64, err error) {
	return c.updateNumber(key, func(n uint64) uint64 {
		if delta >= n {
			return 0
		}
		return n - delta
	})
}

// updateNumber changes a numeric item in place under the item's seqlock,
// with the segment pinned so no drain copies it mid-update (the published engine tore
// or lost increments there)
// and the key's stripe held so no other writer interleaves (lost increments).
// It returns the new number and the item's new CAS token.
func (c *Cache) updateNumber(key []byte, op func(uint64) uint64) (uint64, uint64, error) {
	if err := checkKey(key); err != nil {
		return 0, 0, err
	}
	var k keyed
	mu, err := c.lockKey(&k, key)
	if err != nil {
		return 0, 0, err
	}
	defer mu.Unlock()
	for {
		var f found
		if _, live := c.findLive(&k, &f); !live {
			return 0, 0, ErrNotFound
		}
		_, g6, _ := hashtable.Where(f.s)
		if !f.hdr.Pin(pinnable, g6) {
			waitSlot(f.p, f.s)
			continue
		}
		if !hashtable.SameItem(hashtable.Load(f.p), f.s) {
			f.hdr.Unpin()
			continue
		}
		if !f.numeric() {
			f.hdr.Unpin()
			return 0, 0, ErrNotNumeric
		}
		w := item.Numeric(f.data, f.ih.Klen)
		_, n, _ := item.ReadNumeric(w)
		n = op(n)
		version := item.UpdateNumeric(w, n)
		f.hdr.Unpin()
		return n, casToken(k.h, &f, version), nil
	}
}
