package core

import (
	"fmt"
	"runtime"
	"time"

	"github.com/segcache/segcache/core/internal/hashtable"
	"github.com/segcache/segcache/core/internal/item"
	"github.com/segcache/segcache/core/internal/segment"
	"github.com/segcache/segcache/core/internal/tagscan"
	"github.com/segcache/segcache/core/internal/ttl"
)

type storeMode int

const (
	modeSet storeMode = iota
	modeAdd
	modeReplace
	modeCAS
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

// writeLock takes key's stripe. Every writer of a key holds it for the
// whole operation, so a fresh insert cannot race another insert of the
// same key into a second slot, and check-then-act (add, cas, incr) is
// atomic. Readers never take it.
func (c *Cache) writeLock(h uint64) (*paddedMutex, error) {
	mu := &c.stripes[(h>>20)&(stripeCount-1)]
	mu.Lock()
	if c.closed.Load() {
		mu.Unlock()
		return nil, ErrClosed
	}
	return mu, nil
}

// Set stores key → val with the given TTL (0: never expires).
func (c *Cache) Set(key, val []byte, ttl time.Duration) error {
	return c.store(key, val, ttl, modeSet, 0)
}

// Add stores key → val only if key is absent (else ErrExists).
func (c *Cache) Add(key, val []byte, ttl time.Duration) error {
	return c.store(key, val, ttl, modeAdd, 0)
}

// Replace stores key → val only if key is present (else ErrNotFound).
func (c *Cache) Replace(key, val []byte, ttl time.Duration) error {
	return c.store(key, val, ttl, modeReplace, 0)
}

// CAS stores key → val only if the item's CAS token is still token:
// ErrNotFound if key is absent, ErrExists if it changed since the token
// was read.
func (c *Cache) CAS(key, val []byte, ttl time.Duration, token uint64) error {
	return c.store(key, val, ttl, modeCAS, token)
}

func (c *Cache) store(key, val []byte, ttlD time.Duration, mode storeMode, token uint64) error {
	if err := checkKey(key); err != nil {
		return err
	}
	num, numeric := item.ParseCanonical(val)
	size := item.Size(len(key), len(val), numeric)
	if size > c.segSize {
		return fmt.Errorf("%w: %d bytes with header, segment is %d", ErrItemTooLarge, size, c.segSize)
	}
	ms, err := ttlMillis(ttlD)
	if err != nil {
		return err
	}
	h := hashKey(key)
	mu, err := c.writeLock(h)
	if err != nil {
		return err
	}
	defer mu.Unlock()

	b0, b1, tag := c.ht.Candidates(h)
	var f found
	had := c.locate(key, b0, b1, tag, tagscan.Match(b0, b1, tag), &f)
	live := had && !f.expired()
	switch mode {
	case modeAdd:
		if live {
			return ErrExists
		}
	case modeReplace:
		if !live {
			return ErrNotFound
		}
	case modeCAS:
		if !live {
			return ErrNotFound
		}
		if cur, ok := c.tokenOf(&f); !ok || cur != token {
			return ErrExists
		}
	}

	pool := int32(segment.PoolMain)
	if c.policy == PolicyS3FIFO {
		pool = c.s3fifoPool(live, &f, b0, b1, tag)
	}
	id, off, gen, err := c.reserve(ttl.Bucket(ms), pool, size)
	if err != nil {
		return err
	}
	hdr := &c.segs.Headers[id]
	dst := c.segBytes(id)[off : off+size]
	if numeric {
		item.WriteNumeric(dst, key, num, 0)
	} else {
		item.Write(dst, key, val)
	}
	// Count the item before it is published, so that whoever unlinks it
	// next never takes a counter below zero.
	hdr.LiveItems.Add(1)
	hdr.LiveBytes.Add(int32(size))
	c.publish(key, b0, b1, tag, had, &f, hashtable.MakeLoc(id, gen, off))
	hdr.Unpin()
	c.shard().sets.Add(1)
	return nil
}

// tokenOf returns the CAS token of the item f found, pinned so the
// numeric version it reads belongs to that item.
func (c *Cache) tokenOf(f *found) (uint64, bool) {
	if !f.numeric() {
		return casToken(f, 0), true
	}
	_, g6, _ := hashtable.SplitLoc(hashtable.Loc(f.s))
	if !f.hdr.Pin(pinnable, g6) {
		return 0, false
	}
	defer f.hdr.Unpin()
	v, _, ok := item.ReadNumeric(item.Numeric(f.data, f.ih.Klen))
	return casToken(f, v), ok
}

type unlinkResult int

const (
	unlinked unlinkResult = iota
	slotChanged
	segmentBusy
)

// unlink swaps slot p from s to repl and takes the old item off its
// segment's counters. It pins the old segment first, so a drain cannot
// scan or recycle it meanwhile: counters are decremented exactly once, by
// whoever wins the CAS, on the incarnation the item lived in (LESSONS #11,
// #14). segmentBusy means a drain owns the segment: it will unlink or
// relocate the item itself; the caller waits for the slot to change.
//
// With keepFreq, repl takes the slot's current frequency (an overwrite of
// the same key keeps its popularity).
func (c *Cache) unlink(p *uint64, s, repl uint64, keepFreq bool) unlinkResult {
	seg, g6, off := hashtable.SplitLoc(hashtable.Loc(s))
	if int(seg) >= c.nseg {
		return slotChanged
	}
	hdr := &c.segs.Headers[seg]
	if !hdr.Pin(pinnable, g6) {
		return segmentBusy
	}
	defer hdr.Unpin()
	for {
		if hashtable.CAS(p, s, repl) {
			ih, _ := item.Decode(item.LoadHeader(c.segBytes(seg)[off:]))
			hdr.LiveItems.Add(-1)
			hdr.LiveBytes.Add(-int32(ih.SizeOf()))
			return unlinked
		}
		// A reader's frequency bump fails the CAS without changing the
		// location: retry on the same slot (giving up here once caused
		// duplicate entries, LESSONS #12).
		s2 := hashtable.Load(p)
		if hashtable.Loc(s2) != hashtable.Loc(s) || hashtable.Tag(s2) != hashtable.Tag(s) {
			return slotChanged
		}
		if keepFreq {
			repl = hashtable.WithFreq(repl, hashtable.Freq(s2))
		}
		s = s2
	}
}

// waitSlot waits until slot p no longer holds s's location: a drain that
// owns s's segment is unlinking or relocating it.
func waitSlot(p *uint64, s uint64) {
	for i := 0; hashtable.Loc(hashtable.Load(p)) == hashtable.Loc(s) && i < 1<<20; i++ {
		runtime.Gosched()
	}
}

// publish links the new location for key, replacing the old entry in its
// slot if there was one (keeping its frequency), else taking a new slot.
func (c *Cache) publish(key []byte, b0, b1 *hashtable.Bucket, tag uint64, had bool, f *found, loc uint64) {
	for {
		if !had {
			c.insertFresh(b0, b1, tag, loc)
			return
		}
		expired := f.expired()
		switch c.unlink(f.p, f.s, hashtable.WithLoc(f.s, loc), true) {
		case unlinked:
			if expired {
				c.expiredItems.Add(1)
			}
			return
		case segmentBusy:
			waitSlot(f.p, f.s)
		}
		had = c.locate(key, b0, b1, tag, tagscan.Match(b0, b1, tag), f)
	}
}

// insertFresh puts a new entry into one of the key's buckets: over a ghost
// of the key (resuming its frequency), into an empty slot, or over the
// coldest entry when both buckets are full. A full bucket pair never
// fails a set: a cache drops, it does not refuse.
func (c *Cache) insertFresh(b0, b1 *hashtable.Bucket, tag, loc uint64) {
	for spins := 0; ; spins++ {
		if gp, gs := hashtable.FindGhost(b0, b1, tag); gp != nil {
			if hashtable.CAS(gp, gs, hashtable.Make(tag, hashtable.Freq(gs), loc)) {
				return
			}
			continue
		}
		fresh := hashtable.Make(tag, 0, loc)
		if ep := hashtable.FindEmpty(b0, b1); ep != nil {
			if hashtable.CAS(ep, 0, fresh) {
				return
			}
			continue
		}
		vp, vs := hashtable.Coldest(b0, b1)
		switch {
		case vs == 0:
			continue
		case hashtable.IsGhost(vs):
			if hashtable.CAS(vp, vs, fresh) {
				return
			}
		default:
			if c.unlink(vp, vs, fresh, false) == unlinked {
				c.evictedItems.Add(1)
				return
			}
		}
		if spins > 16 {
			runtime.Gosched()
		}
	}
}

// Delete removes key; ErrNotFound if it is absent or expired.
func (c *Cache) Delete(key []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	h := hashKey(key)
	mu, err := c.writeLock(h)
	if err != nil {
		return err
	}
	defer mu.Unlock()
	b0, b1, tag := c.ht.Candidates(h)
	for {
		var f found
		if !c.locate(key, b0, b1, tag, tagscan.Match(b0, b1, tag), &f) || f.expired() {
			return ErrNotFound
		}
		switch c.unlink(f.p, f.s, 0, false) {
		case unlinked:
			c.shard().deletes.Add(1)
			return nil
		case segmentBusy:
			// Never acknowledge a delete that a drain could undo by
			// relocating the item (LESSONS #18): wait, then look again.
			waitSlot(f.p, f.s)
		}
	}
}

// Incr adds delta to key's number, wrapping at 2^64, and returns the
// result. The value must be a canonical unsigned decimal (ErrNotNumeric
// otherwise, leaving it unchanged). The item's expiry is unchanged.
func (c *Cache) Incr(key []byte, delta uint64) (uint64, error) {
	return c.updateNumber(key, func(n uint64) uint64 { return n + delta })
}

// Decr subtracts delta from key's number, stopping at 0.
func (c *Cache) Decr(key []byte, delta uint64) (uint64, error) {
	return c.updateNumber(key, func(n uint64) uint64 {
		if delta >= n {
			return 0
		}
		return n - delta
	})
}

// updateNumber changes a numeric item in place under the item's seqlock,
// with the segment pinned so no drain copies it mid-update (LESSONS #21)
// and the key's stripe held so no other writer interleaves (LESSONS #15).
func (c *Cache) updateNumber(key []byte, op func(uint64) uint64) (uint64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	h := hashKey(key)
	mu, err := c.writeLock(h)
	if err != nil {
		return 0, err
	}
	defer mu.Unlock()
	b0, b1, tag := c.ht.Candidates(h)
	for {
		var f found
		if !c.locate(key, b0, b1, tag, tagscan.Match(b0, b1, tag), &f) || f.expired() {
			return 0, ErrNotFound
		}
		_, g6, _ := hashtable.SplitLoc(hashtable.Loc(f.s))
		if !f.hdr.Pin(pinnable, g6) {
			waitSlot(f.p, f.s)
			continue
		}
		if hashtable.Loc(hashtable.Load(f.p)) != hashtable.Loc(f.s) {
			f.hdr.Unpin()
			continue
		}
		if !f.numeric() {
			f.hdr.Unpin()
			return 0, ErrNotNumeric
		}
		w := item.Numeric(f.data, f.ih.Klen)
		_, n, _ := item.ReadNumeric(w)
		n = op(n)
		item.UpdateNumeric(w, n)
		f.hdr.Unpin()
		return n, nil
	}
}
