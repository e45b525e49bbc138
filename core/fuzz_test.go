package core_test

// FuzzEngine decodes a byte string into a sequence of operations and checks
// every answer of the engine against the map model of model_test.go. The
// seed corpus in testdata/fuzz/FuzzEngine runs with every `go test`;
// `go test -fuzz FuzzEngine ./core/` explores further.

import (
	"encoding/binary"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/segcache/segcache/core"
)

// fuzzKeys is the key space of the fuzzer: small, so operations collide.
const fuzzKeys = 12

// decoder hands out bytes of the fuzz input; past the end it returns 0 and
// reports exhaustion, so every input decodes to a finite op list.
type decoder struct {
	b     []byte
	pos   int
	nkeys int  // the key space
	big   bool // values of up to 1,240 bytes made from one input byte (see value), and no Clear
}

func (d *decoder) more() bool { return d.pos < len(d.b) }

func (d *decoder) byte() byte {
	if d.pos >= len(d.b) {
		d.pos++
		return 0
	}
	d.pos++
	return d.b[d.pos-1]
}

func (d *decoder) u64() uint64 {
	var x [8]byte
	for i := range x {
		x[i] = d.byte()
	}
	return binary.LittleEndian.Uint64(x[:])
}

func (d *decoder) key() int {
	switch b := d.byte(); {
	case b == 255:
		return keyEmpty
	case b == 254:
		return keyTooBig
	case b == 253:
		return keyMax
	default:
		return int(b) % d.nkeys
	}
}

func (d *decoder) value() []byte {
	switch b := d.byte(); {
	case b < 64: // a canonical number, from tiny to near 2^64
		return []byte(strconv.FormatUint(d.u64()>>(b%64), 10))
	case b < 80:
		return []byte(strconv.FormatUint(math.MaxUint64-uint64(b-64), 10))
	case b < 96:
		return []byte(badNumbers[int(b-80)%len(badNumbers)])
	case b < 100: // a large value
		n := int(d.byte())*8 + int(b-96)
		v := make([]byte, n)
		for i := range v {
			v[i] = byte(i*7) ^ b
		}
		return v
	case d.big: // up to 1,240 bytes from one input byte: writes fill a small heap
		n, seed := int(b-100)*8, d.byte()
		v := make([]byte, n)
		for i := range v {
			v[i] = seed + byte(i*13)
		}
		return v
	default: // up to 155 bytes taken from the input
		n := int(b - 100)
		v := make([]byte, 0, n)
		for i := 0; i < n && d.more(); i++ {
			v = append(v, d.byte())
		}
		return v
	}
}

func (d *decoder) delta() uint64 {
	switch b := d.byte(); {
	case b < 200:
		return uint64(b)
	case b < 230:
		return math.MaxUint64 - uint64(b-200)
	default:
		return d.u64()
	}
}

// decodeOps turns data into at most 400 operations on nkeys keys, with big
// values if big, of the kinds before fuzzOps.
func decodeOps(data []byte, nkeys int, big bool) []op {
	return decodeOpsOf(data, nkeys, big, fuzzOps)
}

// decodeOpsOf is decodeOps over the first kinds operation kinds.
func decodeOpsOf(data []byte, nkeys int, big bool, kinds opKind) []op {
	d := &decoder{b: data, nkeys: nkeys, big: big}
	var ops []op
	for d.more() && len(ops) < 400 {
		o := op{kind: opKind(d.byte() % byte(kinds))}
		if o.kind == opClear && d.big {
			o.kind = opSet // a clear every 13 operations would keep a small heap from filling
		}
		o.key = d.key()
		switch o.kind {
		case opSet, opAdd, opReplace:
			o.val = d.value()
		case opCAS, opTouch:
			o.tok = int(d.byte() % 3)
			o.val = d.value()
		case opIncr, opDecr:
			o.delta = d.delta()
		case opGetInto:
			o.bufLen = int(d.byte() % 64)
		case opGetBatch:
			n := 1 + int(d.byte()%6)
			for i := 0; i < n; i++ {
				o.keys = append(o.keys, d.key())
			}
			o.bufLen = int(d.byte() % 64)
		}
		ops = append(ops, o)
	}
	return ops
}

func FuzzEngine(f *testing.F) {
	// A few hand-written seeds; more live in testdata/fuzz/FuzzEngine.
	f.Add([]byte{})
	f.Add([]byte{byte(opSet), 1, 5, 1, 0, 0, 0, 0, 0, 0, 0, byte(opIncr), 1, 7, byte(opGet), 1})
	f.Add([]byte{byte(opSet), 2, 110, 'a', 'b', 'c', byte(opGetCAS), 2, byte(opCAS), 2, 0, 101, 'x', byte(opGetInto), 2, 0})
	f.Add([]byte{byte(opAdd), 255, 101, 'x', byte(opSet), 254, 101, 'y', byte(opSet), 253, 64, byte(opIncr), 253, 1, byte(opLen), 0})
	f.Add([]byte{byte(opSet), 3, 82, byte(opIncr), 3, 1, byte(opSet), 4, 97, 200, byte(opGetBatch), 4, 3, 3, 4, 9, 10, byte(opClear), 0, byte(opLen), 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := core.Open(core.Options{HeapBytes: 4 << 20, SegmentBytes: 64 << 10, Eviction: core.PolicyNone})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		replayOps(t, newChecker(c), decodeOps(data, fuzzKeys, false), fuzzKeys)
	})
}

// smallKeys is the key space of FuzzEngineSmall: few enough that operations
// collide. The heap fills anyway, with big values (decoder.big) and the dead
// items that overwrites leave, so that the policy drains segments.
const smallKeys = 100

// smallPolicies are the policies FuzzEngineSmall picks from (its input's
// first byte).
var smallPolicies = []core.Policy{core.PolicyNone, core.PolicyRandom, core.PolicyRandomFIFO, core.PolicyFIFO,
	core.PolicyCTE, core.PolicyUtil, core.PolicyMerge, core.PolicyS3FIFO}

// FuzzEngineSmall runs the oracle on caches smaller than their keys, where
// the engine drains, merges, promotes and reclaims segments between the
// operations: the input's first byte picks the policy, the second the
// heap (4 to 19 segments of 4 KiB), the rest the operations. With eviction
// none a write may fail with ErrNoSpace and must then change nothing, and
// no key is ever lost; with an evicting policy a key may vanish, but every
// answer is the last value written or a miss (lossEvict).
func FuzzEngineSmall(f *testing.F) {
	addSmallSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzSmall(t, data, false) })
}

// FuzzEngineSmallTTL is FuzzEngineSmall with TTLs on the writes: three in
// four spread from 1 minute to 1 day, over hundreds of TTL buckets (more
// than the cache has segments, so that writes go to shorter buckets'
// segments and S3-FIFO shares promotion destinations), one in four of 1
// to 40 ms, which expire during the run. The oracle checks that no value
// is served after its TTL ended (an item may expire early, like an
// evicted one) and, under eviction none, that nothing accepted is lost
// before its TTL.
func FuzzEngineSmallTTL(f *testing.F) {
	addSmallSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzSmall(t, data, true) })
}

// FuzzEngineTails runs the oracle on caches of 32 to 63 segments of 4 KiB:
// enough that a bucket keeps the room an item too large for it left at a
// segment's end, for smaller items (core's tail.go; FuzzEngineSmall's
// caches are too small to keep any), while values of up to 1,240 bytes
// fill and evict them. Its inputs also decode to touches (Store with
// StoreTouch), which the other targets' corpora predate. The first byte
// picks the policy, the second the heap.
func FuzzEngineTails(f *testing.F) {
	addSmallSeeds(f)
	for p := range smallPolicies {
		// Items of about 1,000 bytes, then smaller ones that fit the room
		// left, and touches of both.
		seed := []byte{byte(p), 0}
		for k := range 6 {
			seed = append(seed, byte(opSet), byte(k), 100+124, byte(k))
		}
		seed = append(seed, byte(opSet), 6, 100+3, 1, byte(opGetCAS), 6, byte(opTouch), 6, 0, 100+3, 9, byte(opTouch), 0, 1, 101,
			byte(opGet), 6, byte(opGet), 0, byte(opLen), 0)
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		replayOps(t, smallChecker(t, data, 32, 32), decodeOpsOf(data[2:], smallKeys, true, opTouch+1), smallKeys)
	})
}

// smallChecker opens the cache of a FuzzEngineSmall-like input, whose
// first byte picks the policy and second the heap (base + data[1] % span
// segments of 4 KiB), and returns the oracle with the losses its policy
// allows: refused writes under eviction none, evicted keys otherwise.
func smallChecker(t *testing.T, data []byte, base, span int) *checker {
	p := smallPolicies[int(data[0])%len(smallPolicies)]
	nseg := base + int(data[1])%span
	c, err := core.Open(core.Options{HeapBytes: uint64(nseg) * 4096, SegmentBytes: 4096, Eviction: p, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	l := lossEvict
	if p == core.PolicyNone {
		l = lossNoSpace
	}
	return newLossyChecker(c, l)
}

// addSmallSeeds adds the hand-written seeds of the FuzzEngineSmall targets.
func addSmallSeeds(f *testing.F) {
	for p := range smallPolicies {
		f.Add([]byte{byte(p), 0, byte(opSet), 1, 99, 255, byte(opSet), 2, 99, 255, byte(opGet), 1, byte(opIncr), 3, 1})
		f.Add([]byte{byte(p), 9, byte(opSet), 5, 5, 1, 0, 0, 0, 0, 0, 0, 0, byte(opGetCAS), 5, byte(opCAS), 5, 0, 98, 200,
			byte(opSet), 6, 98, 200, byte(opSet), 7, 98, 200, byte(opGetBatch), 3, 5, 6, 7, 63, byte(opLen), 0})
		// Writes only, of 480-byte values over every key twice, then
		// reads of every other key: the policy evicts items never read
		// (merge then leaves a pass's last source in place).
		var fill []byte
		for k := range 2 * smallKeys {
			fill = append(fill, byte(opSet), byte(k%smallKeys), 100+60, byte(k))
		}
		for k := range smallKeys / 2 {
			fill = append(fill, byte(opGet), byte(k*2))
		}
		f.Add(append([]byte{byte(p), 4}, fill...))
	}
}

// fuzzSmall is one input of FuzzEngineSmall (or, with ttls, of
// FuzzEngineSmallTTL).
func fuzzSmall(t *testing.T, data []byte, ttls bool) {
	if len(data) < 2 {
		return
	}
	ch := smallChecker(t, data, 4, 16)
	ops := decodeOps(data[2:], smallKeys, true)
	if ttls {
		for i := range ops {
			switch ops[i].kind {
			case opSet, opAdd, opReplace, opCAS:
				h := (uint64(i)*0x9E3779B97F4A7C15 ^ uint64(ops[i].key)) >> 8
				if h%4 == 0 {
					ops[i].ttl = time.Duration(1+h/4%40) * time.Millisecond
				} else {
					ops[i].ttl = time.Duration(60+h/4%(86400-60)) * time.Second
				}
			}
		}
		ch.expiring = true
	}
	replayOps(t, ch, ops, smallKeys)
}

// replayOps applies ops through ch, then checks every key and the counters.
func replayOps(t *testing.T, ch *checker, ops []op, nkeys int) {
	t.Helper()
	for i, o := range ops {
		if err := ch.apply(o); err != nil {
			lo := max(i-6, 0)
			t.Fatalf("op #%d of %d: %v\nops before:\n%s", i, len(ops), err, opsString(ops[lo:i]))
		}
	}
	if err := ch.final(nkeys); err != nil {
		t.Fatalf("final check after %d ops: %v", len(ops), err)
	}
}
