package core

import (
	"bytes"
	"errors"
	"math/bits"
	"runtime"
	"unsafe"

	"github.com/zeebo/xxh3"

	"github.com/segcache/segcache/core/internal/clock"
	"github.com/segcache/segcache/core/internal/fence"
	"github.com/segcache/segcache/core/internal/hashtable"
	"github.com/segcache/segcache/core/internal/item"
	"github.com/segcache/segcache/core/internal/segment"
)

// found describes the slot and item a lookup found. Its bytes are only
// trustworthy while the segment's generation still equals gen: readers
// check that after copying, writers pin the segment.
type found struct {
	p    *uint64
	s    uint64 // the slot as seen
	hdr  *segment.Header
	seg  int32
	gen  uint32 // full generation seen before the bytes were read
	off  int
	ih   item.Header
	data []byte // the item, from its header
}

func (f *found) valueOff() int { return item.HeaderSize + f.ih.Klen }

func (f *found) numeric() bool { return f.ih.Flags&item.FlagNumeric != 0 }

func (f *found) expired() bool {
	e := f.hdr.Expire.Load()
	return e != 0 && clock.Reached(e)
}

// expiredAt is expired judged at the generation f's lookup saw: ok is false
// when the segment was recycled since (the item was moved or dropped, and
// the expiry read may be a later incarnation's, already passed), and the
// caller looks again. A reader's copy is followed by a generation check of
// its own; a writer, which copies nothing, needs this one: without it a
// delete answered ErrNotFound for a key a drain had just moved, and left
// it there.
func (f *found) expiredAt() (expired, ok bool) {
	expired = f.expired()
	fence.Load()
	return expired, f.hdr.Gen.Load() == f.gen
}

type examined int

const (
	exMatch     examined = iota
	exDifferent          // the slot holds another key
	exUnstable           // the slot's segment changed while we looked
)

func checkKey(key []byte) error {
	switch {
	case len(key) == 0:
		return ErrKeyEmpty
	case len(key) > MaxKeyLen:
		return ErrKeyTooLarge
	}
	return nil
}

func hashKey(key []byte) uint64 { return xxh3.Hash(key) }

// examine checks whether slot s points at key. It never trusts bytes it
// read unless the generation was unchanged afterwards, so a slot whose
// segment was recycled under it is reported unstable rather than as
// another key: calling that "absent" would lose a live item to a reader
// that merely raced with a relocation.
func (c *Cache) examine(key []byte, s uint64, f *found) examined {
	seg, g6, off := hashtable.Where(s)
	if int(seg) >= c.nseg || off+item.HeaderSize > c.segSize {
		return exUnstable
	}
	hdr := &c.segs.Headers[seg]
	g := hdr.Gen.Load()
	if g&(1<<segment.GenBits-1) != g6 {
		return exUnstable
	}
	data := c.segBytes(seg)[off:]
	ih, ok := item.Decode(item.LoadHeader(data))
	if ok && ih.Klen == len(key) && ih.SizeOf() <= len(data) &&
		bytes.Equal(data[item.HeaderSize:item.HeaderSize+ih.Klen], key) {
		// Field by field: a composite literal is built on the stack and
		// copied out, and that copy stalled a hot-key lookup (perf).
		f.s, f.hdr, f.seg, f.gen, f.off, f.ih, f.data = s, hdr, seg, g, off, ih, data[:ih.SizeOf()]
		return exMatch
	}
	fence.Load()
	if hdr.Gen.Load() != g {
		return exUnstable
	}
	return exDifferent
}

// locate finds key's entry among the candidate slots in mask (from
// Key.Match), live or expired. There is at most one entry per key.
func (c *Cache) locate(key []byte, k *hashtable.Key, mask uint32, f *found) bool {
	for ; mask != 0; mask &= mask - 1 {
		p := k.Slot(bits.TrailingZeros32(mask))
		s := hashtable.Load(p)
		for spins := 0; k.IsKeys(s) && !hashtable.IsGhost(s); spins++ {
			switch c.examine(key, s, f) {
			case exMatch:
				f.p = p
				return true
			case exUnstable:
				// The slot was relocated or unlinked while we looked:
				// look at what it holds now. Unchanged means a dead
				// location (only after 64 recycles of a stalled reader).
				s2 := hashtable.Load(p)
				if s2 == s || spins > 1000 {
					s = 0
				} else {
					s = s2
				}
				continue
			}
			break
		}
	}
	return false
}

// casToken is the CAS token of an item: the stamp of the write that
// created it (unique per write of the key within 2^31 writes of its
// stripe), the key's hash, and for numeric items the update version. So
// every change to the item changes its token, and relocation by merge or
// promotion, which copies the item with its stamp, does not: a CAS is not
// refused because the cache moved the item.
func casToken(h uint64, f *found, version uint64) uint64 {
	return itemToken(h, f.ih.Stamp, version)
}

// itemToken is the CAS token of key hash h's item written with stamp, at
// a number's version (0 for other items).
func itemToken(h uint64, stamp uint32, version uint64) uint64 {
	return writtenToken(h, stamp) + version*0x9E3779B97F4A7C15
}

// writtenToken is the CAS token of an item as written (a numeric item's
// version starts at 0): what casToken gives once the item is found.
func writtenToken(h uint64, stamp uint32) uint64 {
	return uint64(stamp)<<32 | h&0xffffffff
}

// read copies key's value. With grow it appends to buf; otherwise it
// copies into buf if the value fits and else returns ErrBufferSmall. n is
// the value's length whenever the key was found.
//
// moves is k.Moves() read before mask was computed: a miss is only
// reported once no displacement could have hidden the key from the scan.
func (c *Cache) read(buf, key []byte, h uint64, k *hashtable.Key, moves uint64, mask uint32, grow bool) (out []byte, n int, token uint64, err error) {
	keep := len(buf)
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			moves = k.Moves()
			mask = k.Match()
		}
		var f found
		if c.closed.Load() {
			return buf, 0, 0, ErrNotFound
		}
		if !c.locate(key, k, mask, &f) {
			if k.Settled(moves) || attempt > 1<<20 {
				// A miss in a table that growth has replaced since
				// we loaded it proves nothing: writers and drains
				// change only the new one.
				if m := c.live.Load(); m != nil && m.ht != k.Table() {
					return buf, 0, 0, errTableMoved
				}
				return buf, 0, 0, ErrNotFound
			}
			if attempt > 16 {
				runtime.Gosched()
			}
			continue
		}
		var version uint64
		expired := f.expired()
		if !expired {
			if f.numeric() {
				v, num, ok := item.ReadNumeric(item.Numeric(f.data, f.ih.Klen))
				if !ok {
					continue
				}
				version, n = v, item.DecimalLen(num)
				switch {
				case grow:
					buf = item.AppendDecimal(buf, num)
				case n <= len(buf):
					item.PutDecimal(buf[:n], num)
					buf = buf[:n]
				}
			} else {
				v := f.data[f.valueOff() : f.valueOff()+f.ih.Vlen]
				n = len(v)
				switch {
				case grow:
					buf = append(buf, v...)
				case n <= len(buf):
					buf = buf[:copy(buf, v)]
				}
			}
		}
		fence.Load()
		if f.hdr.Gen.Load() != f.gen {
			buf = buf[:keep]
			continue // recycled under us: look again
		}
		if expired {
			return buf[:keep], 0, 0, ErrNotFound
		}
		k.Table().Bump(f.p, f.s)
		if !grow && n > keep {
			return buf, n, 0, ErrBufferSmall
		}
		return buf, n, casToken(h, &f, version), nil
	}
}

// quickHit serves the common case of a lookup: the key's entry is the
// first candidate in mask, and its item a plain value, not expired (and,
// unless grow, fitting buf). It checks what read's loop checks (the item's
// generation after the copy) and bumps the frequency the same way; ok
// false means nothing was served and read's loop, which handles every
// other case, runs. Skipping that loop's bookkeeping for misses, numeric
// values and retries is a fifth of the cost of a hit on warm memory.
func (c *Cache) quickHit(buf, key []byte, h uint64, k *hashtable.Key, mask uint32, grow, tail bool) (out []byte, n int, token uint64, ok bool) {
	if mask == 0 || c.closed.Load() {
		return buf, 0, 0, false
	}
	p := k.Slot(bits.TrailingZeros32(mask))
	s := hashtable.Load(p)
	if tail {
		c.prefetchTail(s)
	}
	var f found
	if !k.IsKeys(s) || hashtable.IsGhost(s) || c.examine(key, s, &f) != exMatch ||
		f.numeric() || (!grow && f.ih.Vlen > len(buf)) || f.expired() {
		return buf, 0, 0, false
	}
	v := f.data[f.valueOff() : f.valueOff()+f.ih.Vlen]
	if grow {
		out = append(buf, v...)
	} else {
		out = buf[:copy(buf, v)]
	}
	fence.Load()
	if f.hdr.Gen.Load() != f.gen {
		return buf, 0, 0, false // recycled under us: read's loop looks again
	}
	k.Table().Bump(p, s)
	return out, len(v), casToken(h, &f, 0), true
}

// plainMiss reports whether a scan that found no candidate for k (mask 0)
// is a miss as read's loop would report it: no entry was displaced since
// moves was read and the table is still the current one. It answers the
// common miss without quickHit and read's loop: on a miss every
// instruction after the bucket loads delays the next lookup's loads, and
// theirs were a third of a miss (a Zipf get miss over a million keys went
// from 127-141 to 86-89 ns).
func (c *Cache) plainMiss(k *hashtable.Key, moves uint64) bool {
	if !k.Settled(moves) {
		return false
	}
	m := c.live.Load()
	return m == nil || m.ht == k.Table()
}

// prefetchTail starts loading the line after the one where the item of
// slot s starts. An item of a 16-byte key and a 64-byte value spans two
// lines, and the copy of its value would ask for the second only once the
// first has arrived (its offset is read from the header). Asking for both
// at once took 6% off a hit of a Zipf get over a million keys (medians of
// alternating runs) and cost 3% on 300 hot keys, whose lines are cached
// anyway. GetBatch does not: it prefetches its items ahead of its loop,
// and its figures are for hot keys. s may be anything a slot holds (a
// ghost, a stale location): the hint is bounded to the heap.
func (c *Cache) prefetchTail(s uint64) { c.prefetchItemLine(s, true) }

// prefetchItemLine starts loading the line where the item of slot s starts
// or, with next, the line after it; a location outside the heap (a ghost,
// a stale slot) asks for nothing.
func (c *Cache) prefetchItemLine(s uint64, next bool) {
	seg, _, off := hashtable.Where(s)
	if next {
		off += 64 - off&63
	}
	if int(seg) < c.nseg && off < c.segSize {
		hashtable.Prefetch(unsafe.Pointer(&c.segBytes(seg)[off]))
	}
}

// prefetchItem starts loading the item of the first slot in mask.
func (c *Cache) prefetchItem(k *hashtable.Key, mask uint32) {
	c.prefetchEntry(hashtable.Load(k.Slot(bits.TrailingZeros32(mask))))
}

func (c *Cache) countGet(err error) {
	c.countGets(getOutcome(err))
}

// getOutcome classifies a lookup's result for the counters: a hit (also
// when the caller's buffer was too small), a miss, or neither (a key error
// or a closed cache).
func getOutcome(err error) (hit, miss uint64) {
	switch err {
	case nil, ErrBufferSmall:
		return 1, 0
	case ErrNotFound:
		return 0, 1
	}
	return 0, 0
}

// Get appends key's value to dst and reports whether it was found.
func (c *Cache) Get(dst, key []byte) ([]byte, bool) {
	v, _, ok := c.GetCAS(dst, key)
	return v, ok
}

// GetCAS is Get that also returns the item's CAS token, for CAS.
func (c *Cache) GetCAS(dst, key []byte) ([]byte, uint64, bool) {
	if checkKey(key) != nil {
		return dst, 0, false
	}
	out, _, token, err := c.lookup(dst, key, true)
	if err == ErrClosed || err == ErrNotFound && c.closed.Load() {
		return out, 0, false // counted as neither, as GetInto and GetBatch do
	}
	c.countGet(err)
	return out, token, err == nil
}

// errTableMoved is read's report of a miss in a table that growth has
// replaced meanwhile: the caller looks again in the current one.
var errTableMoved = errors.New("segcache: the hashtable grew during the lookup")

// lookup is read of a validated key in the current table, looking again
// in the next table if growth replaced it during the lookup. ErrClosed
// means the cache was closed before the lookup started.
func (c *Cache) lookup(buf, key []byte, grow bool) (out []byte, n int, token uint64, err error) {
	if overlaps(buf, key) {
		return c.lookupKeyCopy(buf, key, grow)
	}
	return c.lookupFrom(c.reading(), buf, key, grow)
}

// overlaps reports whether key lies, even in part, in buf's memory up to
// its capacity. A read copies the value into buf before its last check of
// the segment's generation, and a read that finds the segment recycled
// looks again, comparing the key once more: a key in buf would by then be
// (part of) the value, and the key, always present, was reported absent.
// Callers do pass one buffer for both: C code reusing a buffer, a chain
// of keys each read into the buffer that held it.
func overlaps(buf, key []byte) bool {
	if cap(buf) == 0 || len(key) == 0 {
		return false
	}
	b := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	k := uintptr(unsafe.Pointer(unsafe.SliceData(key)))
	return k < b+uintptr(cap(buf)) && b < k+uintptr(len(key))
}

// lookupKeyCopy is lookup of a validated key that overlaps buf, from a
// copy of the key. Apart so that lookup's common path does not clear the
// copy's array on every call.
//
//go:noinline
func (c *Cache) lookupKeyCopy(buf, key []byte, grow bool) (out []byte, n int, token uint64, err error) {
	var kb [MaxKeyLen]byte
	return c.lookupFrom(c.reading(), buf, kb[:copy(kb[:], key)], grow)
}

// lookupFrom is lookup starting in m's table (a test starts it in a table
// that growth has since replaced).
func (c *Cache) lookupFrom(m *memory, buf, key []byte, grow bool) (out []byte, n int, token uint64, err error) {
	if m == nil {
		return buf, 0, 0, ErrClosed
	}
	h := hashKey(key)
	var k hashtable.Key // filled in place: see SetKey
	for {
		m.ht.SetKey(&k, h)
		moves := k.Moves()
		mask := k.Match()
		if mask == 0 && c.plainMiss(&k, moves) {
			out, n, token, err = buf, 0, 0, ErrNotFound
			break
		}
		var ok bool
		if out, n, token, ok = c.quickHit(buf, key, h, &k, mask, grow, true); ok {
			err = nil // a previous round's errTableMoved is answered
			break
		}
		out, n, token, err = c.read(buf, key, h, &k, moves, mask, grow)
		if err != errTableMoved {
			break
		}
		if m = c.reading(); m == nil {
			out, n, token, err = buf, 0, 0, ErrNotFound
			break
		}
	}
	runtime.KeepAlive(m) // the memory of the table last used stays mapped until here
	return out, n, token, err
}

// GetInto copies key's value into buf and returns its length and CAS
// token. If buf is too short it copies nothing and returns ErrBufferSmall
// with n set to the length needed. key may lie in buf (see overlaps), as
// for Get and GetCAS in dst.
func (c *Cache) GetInto(buf, key []byte) (n int, token uint64, err error) {
	if err := checkKey(key); err != nil {
		return 0, 0, err
	}
	_, n, token, err = c.lookup(buf, key, false)
	if err == ErrClosed || err == ErrNotFound && c.closed.Load() {
		return 0, 0, ErrClosed
	}
	c.countGet(err)
	return n, token, err
}

// batchChunk is how many keys GetBatch hashes and scans at once: enough
// for the batch kernel's prefetching to overlap the bucket misses, few
// enough that the arrays stay on the stack.
const batchChunk = 32

// GetBatch looks up many keys in one call: for each i it does
// GetInto(bufs[i], keys[i]), setting lens[i] and errs[i] (nil,
// ErrNotFound, ErrBufferSmall or a key error). The bucket scans of the
// whole batch run first, with prefetching, so their memory misses overlap.
// bufs[i] may hold keys[i], but no other entry's key: its value may be
// copied before that key is compared. bufs, lens and errs must be at least
// as long as keys; a shorter one panics (index out of range).
func (c *Cache) GetBatch(keys, bufs [][]byte, lens []int, errs []error) {
	m := c.reading()
	if m == nil {
		for i := range keys {
			lens[i], errs[i] = 0, ErrClosed
		}
		return
	}
	defer runtime.KeepAlive(m) // the memory stays mapped until the batch is done
	t := m.ht                  // one table for the whole batch; a key it misses after growth is looked up again
	var hashes [batchChunk]uint64
	var masks [batchChunk]uint32
	for start := 0; start < len(keys); start += batchChunk {
		chunk := keys[start:min(start+batchChunk, len(keys))]
		for i, k := range chunk {
			hashes[i] = hashKey(k)
		}
		var ks [batchChunk]hashtable.Key
		var moves [batchChunk]uint64
		for i := range chunk {
			t.SetKey(&ks[i], hashes[i])
			moves[i] = ks[i].Moves()
		}
		t.MatchBatch(hashes[:len(chunk)], masks[:len(chunk)])
		var hits, misses uint64
		// The buckets are in cache now; start loading every candidate
		// item too, so the item misses of the batch overlap instead of
		// coming one after another in the loop below.
		for i := range chunk {
			if masks[i] != 0 {
				c.prefetchItem(&ks[i], masks[i])
			}
		}
		for i, k := range chunk {
			j := start + i
			if err := checkKey(k); err != nil {
				lens[j], errs[j] = 0, err
				continue
			}
			var n int
			var err error = ErrNotFound
			if overlaps(bufs[j], k) { // see overlaps
				_, n, _, err = c.lookup(bufs[j], k, false)
				if err == ErrClosed {
					err = ErrNotFound // reported as ErrClosed below
				}
			} else if masks[i] != 0 || !c.plainMiss(&ks[i], moves[i]) {
				var ok bool
				if _, n, _, ok = c.quickHit(bufs[j], k, hashes[i], &ks[i], masks[i], false, false); ok {
					lens[j], errs[j] = n, nil
					hits++
					continue
				}
				_, n, _, err = c.read(bufs[j], k, hashes[i], &ks[i], moves[i], masks[i], false)
				if err == errTableMoved {
					_, n, _, err = c.lookup(bufs[j], k, false)
					if err == ErrClosed {
						err = ErrNotFound // reported as ErrClosed below
					}
				}
			}
			if c.closed.Load() && err == ErrNotFound {
				err = ErrClosed
			}
			hit, miss := getOutcome(err)
			hits += hit
			misses += miss
			lens[j], errs[j] = n, err
		}
		c.countGets(hits, misses)
	}
}

// countGets adds hits and misses to the counters (a batch adds its
// chunk's at once).
func (c *Cache) countGets(hits, misses uint64) {
	c.stats.Add2(statHits, hits, statMisses, misses)
}
