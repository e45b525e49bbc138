package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
	"unsafe"

	"github.com/VictoriaMetrics/fastcache"
	"github.com/allegro/bigcache/v3"
	"github.com/coocood/freecache"
	"github.com/dgraph-io/ristretto/v2"
	"github.com/maypok86/otter/v2"

	"github.com/segcache/segcache/core"
)

// Cache is what every system under test offers the harness.
type Cache interface {
	// Get appends the value of key to dst; ok is false on a miss.
	Get(dst, key []byte) (v []byte, ok bool)
	// Set stores a copy of val under key. An error means the item was not
	// stored (full, too large); cache-aside replays count it and go on.
	Set(key, val []byte) error
	Close() error
}

// Systems lists the systems in report order: ours first, then the peers,
// then the map baseline.
var Systems = []string{"core", "otter", "ristretto", "freecache", "bigcache", "fastcache", "map"}

// Peers are the third-party caches (the map is a baseline, not a peer).
var Peers = []string{"otter", "ristretto", "freecache", "bigcache", "fastcache"}

// ErrUnsupported says a system cannot be configured as asked (a budget
// below its minimum, no eviction); the error text says why.
var ErrUnsupported = errors.New("unsupported configuration")

// Spec sizes a cache.
type Spec struct {
	// Bytes is the memory budget. Byte-sized caches get it as their
	// capacity; weighted caches get it as their maximum weight with an
	// item's weight = len(key)+len(value) (no overhead counted, which
	// flatters them); core gets it as HeapBytes + HashtableBytes + its
	// segments' metadata (see BudgetOptions) unless Core.HeapBytes is set.
	Bytes uint64
	// Items is the expected number of resident items (sizes counters and
	// initial capacities).
	Items int
	// MaxItem is the largest len(key)+len(value) the run will store.
	MaxItem int
	// Core are core's options. If HeapBytes is 0 they are derived from
	// Bytes by BudgetOptions with AvgItem as the expected item size.
	Core    core.Options
	AvgItem int
	// SyncSets makes ristretto apply each set before returning (Wait),
	// for replays: there its asynchronous set buffer, fed faster than its
	// goroutine drains it, drops 30-100% of the sets, and the figure would
	// be about that buffer rather than its admission and eviction policy.
	SyncSets bool
	// OwnKeys makes the string-keyed caches that keep the key (otter, the
	// map) store a copy of it, as they must for a caller whose key buffer
	// is reused; without it they keep the harness's pre-generated key
	// (see doc.go). That flatters them twice: the keys cost them no memory
	// (§2), and a lookup with the same key finds the stored string at the
	// same address, so Go's string comparison answers by pointer identity
	// without reading the stored key, a memory miss every real lookup pays
	// (§1's get hit at one goroutine: the map 142-166 ns without a copy,
	// 188-194 ns with one; otter 287-311 against 354-409). FitSpec sets it.
	OwnKeys bool
}

// Open builds the named system sized by s.
func Open(system string, s Spec) (Cache, error) {
	switch system {
	case "core":
		opts := s.Core
		if opts.HeapBytes == 0 {
			var err error
			opts, err = BudgetOptions(s.Bytes, s.AvgItem, s.MaxItem, s.Core.Eviction)
			if err != nil {
				return nil, err
			}
		}
		c, err := core.Open(opts)
		if err != nil {
			return nil, fmt.Errorf("core.Open(%+v): %w", opts, err)
		}
		return coreCache{c}, nil
	case "otter":
		c, err := otter.New(&otter.Options[string, []byte]{
			MaximumWeight:   s.Bytes,
			Weigher:         func(k string, v []byte) uint32 { return uint32(len(k) + len(v)) },
			InitialCapacity: s.Items,
		})
		if err != nil {
			return nil, err
		}
		return otterCache{c, s.OwnKeys}, nil
	case "ristretto":
		c, err := ristretto.NewCache(&ristretto.Config[string, []byte]{
			NumCounters:        int64(max(10*s.Items, 1000)), // the documented 10x the items
			MaxCost:            int64(s.Bytes),
			BufferItems:        64, // the documented setting
			IgnoreInternalCost: true,
		})
		if err != nil {
			return nil, err
		}
		return ristrettoCache{c, s.SyncSets}, nil
	case "freecache":
		// freecache raises any size below 512 KiB to 512 KiB.
		if s.Bytes < 512<<10 {
			return nil, fmt.Errorf("%w: freecache's smallest cache is 512 KiB", ErrUnsupported)
		}
		return freeCache{freecache.NewCache(int(s.Bytes))}, nil
	case "bigcache":
		// bigcache's limit is a whole number of MiB split evenly over its
		// shards; give each shard at least 64 KiB so that large items fit.
		if s.Bytes < 1<<20 || s.Bytes%(1<<20) != 0 {
			return nil, fmt.Errorf("%w: bigcache's limit is a whole number of MiB", ErrUnsupported)
		}
		shards := 1
		for shards < 1024 && uint64(shards*2)*(64<<10) <= s.Bytes {
			shards *= 2
		}
		c, err := bigcache.New(context.Background(), bigcache.Config{
			Shards:             shards,
			LifeWindow:         1000 * time.Hour, // no time-based eviction: only the size limit
			CleanWindow:        0,
			MaxEntriesInWindow: max(s.Items, 1),
			MaxEntrySize:       max(s.MaxItem, 1),
			HardMaxCacheSize:   int(s.Bytes >> 20),
		})
		if err != nil {
			return nil, err
		}
		return bigCache{c}, nil
	case "fastcache":
		// fastcache has 512 buckets of at least one 64 KiB chunk each.
		if s.Bytes < 32<<20 {
			return nil, fmt.Errorf("%w: fastcache's smallest cache is 32 MiB", ErrUnsupported)
		}
		return fastCache{fastcache.New(int(s.Bytes))}, nil
	case "map":
		if s.Items == 0 {
			return nil, fmt.Errorf("%w: map has no eviction, so no byte budget", ErrUnsupported)
		}
		return &mapCache{m: make(map[string][]byte, s.Items), own: s.OwnKeys}, nil
	}
	return nil, fmt.Errorf("%w: unknown system %q", ErrUnsupported, system)
}

// CoreFixedBytes bounds the Go heap a core cache allocates whatever its
// size (key stripes, stat shards, ...): beside its heap, hashtable and
// core.SegmentMetadataBytes per segment, the part of its memory §3's budget
// does not charge (core/api.go's "~165 KiB"; TestCoreFixedBytes measures
// it).
const CoreFixedBytes = 168 << 10

// BudgetOptions sizes core so that its memory, HeapBytes + HashtableBytes
// + segments × core.SegmentMetadataBytes, is at most budget: a hashtable of
// 8-byte slots with room for the items the heap can hold at about 80% load
// (2^HashPower slots), the rest segments with their metadata, and a segment
// size that gives at least 64 segments (the largest power of two <=
// heap/64, between 4 KiB and 1 MiB, and never below the largest item + 8).
func BudgetOptions(budget uint64, avgItem, maxItem int, policy core.Policy) (core.Options, error) {
	if avgItem <= 0 {
		avgItem = 80
	}
	var hp uint32 = 7
	for {
		ht := uint64(8) << hp
		if ht >= budget {
			return core.Options{}, fmt.Errorf("%w: budget %d too small for core", ErrUnsupported, budget)
		}
		items := (budget - ht) / uint64(avgItem)
		if uint64(1)<<hp*4 >= items*5 { // slots >= 1.25 x items
			break
		}
		hp++
	}
	heap := budget - uint64(8)<<hp
	seg := uint64(1 << 20)
	for seg > 4096 && heap/seg < 64 {
		seg /= 2
	}
	for seg < 1<<20 && seg < uint64(maxItem)+16 {
		seg *= 2
	}
	heap = heap / (seg + core.SegmentMetadataBytes) * seg
	if heap/seg < 64 {
		return core.Options{}, fmt.Errorf("%w: budget %d gives core fewer than 64 segments of %d bytes", ErrUnsupported, budget, seg)
	}
	return core.Options{HeapBytes: heap, SegmentBytes: uint32(seg), HashPower: hp, Eviction: policy}, nil
}

// str views an immutable key as a string without copying it (see doc.go).
func str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func clone(v []byte) []byte { return append([]byte(nil), v...) }

type coreCache struct{ c *core.Cache }

func (c coreCache) Get(dst, key []byte) ([]byte, bool) { return c.c.Get(dst, key) }
func (c coreCache) Set(key, val []byte) error          { return c.c.Set(key, val, 0) }
func (c coreCache) Close() error                       { return c.c.Close() }
func (c coreCache) Len() int                           { return int(c.c.Stats().Items) }

// Core returns the engine behind a core adapter (for its Stats), or nil.
func Core(c Cache) *core.Cache {
	if cc, ok := c.(coreCache); ok {
		return cc.c
	}
	return nil
}

type otterCache struct {
	c   *otter.Cache[string, []byte]
	own bool // Spec.OwnKeys
}

// key is the string a string-keyed cache stores: a view of the immutable
// key, or a copy if own.
func key(k []byte, own bool) string {
	if own {
		return string(k)
	}
	return str(k)
}

func (c otterCache) Get(dst, key []byte) ([]byte, bool) {
	v, ok := c.c.GetIfPresent(str(key))
	return append(dst, v...), ok
}
func (c otterCache) Set(k, val []byte) error { c.c.Set(key(k, c.own), clone(val)); return nil }
func (c otterCache) Close() error            { c.c.StopAllGoroutines(); return nil }
func (c otterCache) Len() int                { return c.c.EstimatedSize() }

type ristrettoCache struct {
	c    *ristretto.Cache[string, []byte]
	sync bool
}

func (c ristrettoCache) Get(dst, key []byte) ([]byte, bool) {
	v, ok := c.c.Get(str(key))
	return append(dst, v...), ok
}

// Set does not wait for ristretto's asynchronous admission unless SyncSets
// asked for it. A set its buffers dropped returns ErrDropped.
func (c ristrettoCache) Set(key, val []byte) error {
	if !c.c.Set(str(key), clone(val), int64(len(key)+len(val))) {
		return ErrDropped
	}
	if c.sync {
		c.c.Wait()
	}
	return nil
}
func (c ristrettoCache) Close() error { c.c.Close(); return nil }

// Wait lets ristretto apply the sets it has buffered.
func (c ristrettoCache) Wait() { c.c.Wait() }

// Waiter is implemented by caches that apply sets asynchronously.
type Waiter interface{ Wait() }

// Lener is a cache that counts the items it holds without reading any:
// a count of what a read would find, not of entries it has not cleaned up.
type Lener interface{ Len() int }

// ErrDropped is returned by a Set that the cache dropped without storing.
var ErrDropped = errors.New("set dropped by the cache")

type freeCache struct{ c *freecache.Cache }

func (c freeCache) Get(dst, key []byte) ([]byte, bool) {
	v, err := c.c.GetWithBuf(key, dst[len(dst):cap(dst)])
	if err != nil {
		return dst, false
	}
	if len(v) <= cap(dst)-len(dst) {
		return dst[:len(dst)+len(v)], true // freecache copied it into dst's spare capacity
	}
	return append(dst, v...), true
}
func (c freeCache) Set(key, val []byte) error { return c.c.Set(key, val, 0) }
func (c freeCache) Close() error              { return nil }
func (c freeCache) Len() int                  { return int(c.c.EntryCount()) }

type bigCache struct{ c *bigcache.BigCache }

// Get pays bigcache's own copy: it has no API that fills a caller's buffer.
func (c bigCache) Get(dst, key []byte) ([]byte, bool) {
	v, err := c.c.Get(str(key))
	if err != nil {
		return dst, false
	}
	return append(dst, v...), true
}
func (c bigCache) Set(key, val []byte) error { return c.c.Set(str(key), val) }
func (c bigCache) Close() error              { return c.c.Close() }
func (c bigCache) Len() int                  { return c.c.Len() }

type fastCache struct{ c *fastcache.Cache }

func (c fastCache) Get(dst, key []byte) ([]byte, bool) { return c.c.HasGet(dst, key) }
func (c fastCache) Set(key, val []byte) error          { c.c.Set(key, val); return nil }
func (c fastCache) Close() error                       { c.c.Reset(); return nil }

// fastCache is not a Lener: its EntriesCount counts index entries whose
// bytes its ring has since overwritten (after §1's five set passes on 1M
// keys: 882,627 counted, 504,122 readable), so a fill of it is read back.
// Its reads change nothing it keeps, so that costs only time.

// mapCache is the baseline: a Go map under a sync.RWMutex, no eviction.
type mapCache struct {
	mu  sync.RWMutex
	m   map[string][]byte
	own bool // Spec.OwnKeys
}

func (c *mapCache) Get(dst, key []byte) ([]byte, bool) {
	c.mu.RLock()
	v, ok := c.m[str(key)]
	c.mu.RUnlock()
	return append(dst, v...), ok // stored slices are never modified
}

func (c *mapCache) Set(k, val []byte) error {
	v := clone(val)
	ks := key(k, c.own) // a map assignment stores the key even when it replaces an entry
	c.mu.Lock()
	c.m[ks] = v
	c.mu.Unlock()
	return nil
}
func (c *mapCache) Close() error { return nil }
func (c *mapCache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// DefaultHashFill is the share of core's hashtable slots FitSpec expects
// to fill: 1M items in 2^20 slots is a fill of 0.954. Core holds every item
// at that fill: a key whose bucket pair is full moves an entry to its other
// bucket instead of dropping one.
const DefaultHashFill = 0.96

// Sizes of the §1 and §2 items in core: an 8-byte header, the 16-byte key
// and the 64-byte value, 8-aligned.
const coreItemBytes = 8 + KeyLen + ValueLen

// FitSpec sizes every system to hold items items of a 16-byte key and a
// 64-byte value (§1, §2).
//
// Core: items are appended to 1 MiB segments and never straddle two, so a
// segment holds floor(1 MiB / 88) = 11915 items and 1M items need 84
// segments. HeapBytes adds 1/8 of that (10 segments) for the dead copies
// that overwrites leave before eviction reclaims them, plus 2 (the open
// segment and the merge spare): 96 MiB. The hashtable has 2^HashPower
// 8-byte slots, 8 to a 64-byte bucket, and every item takes one slot:
// HashPower is the smallest power with at least items/fill slots, where
// fill is hashFill (see CoreFill). A hashFill of 0 leaves HashPower 0:
// core's initial table (one slot per 256 heap bytes), grown as it fills.
//
// Peers get items x 128 bytes rounded up to a MiB (at least 32 MiB, the
// smallest fastcache): room for their per-item headers and shard skew.
// Every system keeps its own copy of each key (OwnKeys), as a cache whose
// callers reuse their key buffers must.
func FitSpec(items int, hashFill float64) Spec {
	perSeg := (1 << 20) / coreItemBytes
	segs := (items + perSeg - 1) / perSeg
	segs += segs/8 + 2
	var hp uint32
	if hashFill > 0 {
		hp = 7
		for float64(uint64(1)<<hp)*hashFill < float64(items) {
			hp++
		}
	}
	bytes := (uint64(items)*128 + 1<<20 - 1) &^ (1<<20 - 1)
	bytes = max(bytes, 32<<20)
	return Spec{
		Bytes:   bytes,
		Items:   items,
		MaxItem: KeyLen + ValueLen,
		OwnKeys: true,
		Core: core.Options{
			HeapBytes:    uint64(segs) << 20,
			SegmentBytes: 1 << 20,
			HashPower:    hp,
		},
	}
}

// FillAll sets every key of keys to val and checks it reads back, making up
// to 3 passes over the keys that are missing (ristretto drops sets when its
// buffers are busy). It returns how many keys the cache holds.
//
// A cache that counts its items (Lener) and holds as many as there are
// keys is not read back (the caches of §1 and §2 are only ever given these
// keys, so the count says each is there): the reads would be accesses the
// workload does not make, one to every key, and a policy that counts
// accesses acts on them. Core's S3-FIFO, given a read of every key just
// loaded, copied 843,000 of the 1M keys into its main pool during the
// first two 50/50 passes after it, where it otherwise drops the keys the
// mix has not read; with §1's five passes after a refill, the first took
// 292 and 276 ns per operation with the reads, 201 and 195 without, and
// the median pass 162 and 157 against 153 and 156 (alternating runs).
func FillAll(c Cache, keys KeySet, val []byte) (held int, err error) {
	return FillInOrder(c, keys, val, nil)
}

// FillInOrder is FillAll inserting the keys in the given order of key
// indexes (a permutation of [0, keys.Len()); nil is index order): the
// order decides which keys share a segment in the log-structured caches.
func FillInOrder(c Cache, keys KeySet, val []byte, order []int) (held int, err error) {
	n := keys.Len()
	if order != nil && len(order) != n {
		return 0, fmt.Errorf("fill order has %d keys, want %d", len(order), n)
	}
	todo := make([]int32, n)
	for i := range todo {
		todo[i] = int32(i)
		if order != nil {
			todo[i] = int32(order[i])
		}
	}
	dst := make([]byte, 0, 2*len(val))
	for pass := 0; pass < 3 && len(todo) > 0; pass++ {
		for _, i := range todo {
			if err := c.Set(keys.At(int(i)), val); err != nil && !errors.Is(err, ErrDropped) {
				return 0, fmt.Errorf("set key %d: %w", i, err)
			}
		}
		if w, ok := c.(Waiter); ok {
			w.Wait()
		}
		if l, ok := c.(Lener); ok && pass == 0 && l.Len() == n {
			return n, nil
		}
		missing := todo[:0]
		for _, i := range todo {
			if v, ok := c.Get(dst[:0], keys.At(int(i))); !ok || !bytes.Equal(v, val) {
				missing = append(missing, i)
			}
		}
		todo = missing
	}
	return n - len(todo), nil
}
