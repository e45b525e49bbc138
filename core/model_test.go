package core_test

// Model-based testing: the engine, configured so that nothing is evicted,
// must answer every operation exactly as a plain map does. In a heap too
// small for its keys it may do two things a map does not, and nothing else:
// with eviction none, refuse a write with ErrNoSpace (changing nothing),
// and with an evicting policy, lose a key (which then stays lost until
// written again; see loss). The same oracle drives the randomized
// TestModel and FuzzEngine and FuzzEngineSmall (fuzz_test.go).

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/segcache/segcache/core"
)

type opKind uint8

const (
	opSet opKind = iota
	opAdd
	opReplace
	opCAS
	opDelete
	opIncr
	opDecr
	opGet
	opGetCAS
	opGetInto
	opGetBatch
	opLen
	opClear
	opTouch // Store with StoreTouch
	numOps
)

// fuzzOps is how many ops fuzz inputs decode to (fuzz_test.go): those
// before opTouch, so that the stored corpus keeps the meaning it was
// recorded with. Ops added since go to TestModel only.
const fuzzOps = opTouch

var opNames = [...]string{"Set", "Add", "Replace", "CAS", "Delete", "Incr", "Decr", "Get", "GetCAS",
	"GetInto", "GetBatch", "Len", "Clear", "Touch"}

// Special key indexes: invalid keys and the longest valid one.
const (
	keyEmpty  = -1
	keyTooBig = -2
	keyMax    = -3
)

// Token choices for CAS.
const (
	tokCurrent = iota // the token last read for the key's current version, if any
	tokStale          // a token of an earlier version of the key
	tokBogus          // a token no version ever had
)

type op struct {
	kind   opKind
	key    int
	keys   []int // GetBatch
	val    []byte
	delta  uint64
	tok    int           // tokCurrent, tokStale, tokBogus
	bufLen int           // GetInto, GetBatch
	ttl    time.Duration // Set, Add, Replace, CAS (0: never expires)
}

func (o op) String() string {
	v := string(o.val)
	if len(v) > 24 {
		v = v[:24] + "..."
	}
	return fmt.Sprintf("%s(key=%d keys=%v val=%q delta=%d tok=%d buf=%d ttl=%v)", opNames[o.kind], o.key, o.keys, v, o.delta, o.tok, o.bufLen, o.ttl)
}

func modelKey(i int) []byte {
	switch i {
	case keyEmpty:
		return []byte{}
	case keyTooBig:
		return bytes.Repeat([]byte("K"), 256)
	case keyMax:
		return bytes.Repeat([]byte("M"), 255)
	}
	return []byte("key" + strconv.Itoa(i))
}

// canonical parses a canonical unsigned decimal: no sign, no leading zero,
// no spaces, at most 2^64-1.
func canonical(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(string(b), 10, 64)
	return n, err == nil
}

// model is the reference: a map, plus what the engine told us about tokens.
type model struct {
	vals  map[string][]byte
	tok   map[string]uint64 // token observed for the current version (0: none yet)
	stale map[string]uint64 // a token of an earlier version
	// earlier holds every token observed for a key's earlier versions: a
	// new version's token must be none of them (a touch that kept the
	// stamp of a number it turned into text would give it the token the
	// number had before its increments).
	earlier map[string]map[uint64]bool
	// counted: Incr or Decr changed the key's number (in place) since it
	// was stored, so a touch that stores no number gives it a new token.
	counted map[string]bool
	// deadAfter is, for a key whose value was written with a TTL, the
	// instant after which it must never be served: the end of the write
	// plus the TTL and the 1 ms resolution. Such a key may also vanish at
	// any time (the TTLs used are too short for the contract's lower
	// bound, 0.9·t − 1 s, to hold any).
	deadAfter map[string]time.Time
	counts    struct{ sets, deletes, gets, hits, misses uint64 }
}

func newModel() *model {
	return &model{vals: map[string][]byte{}, tok: map[string]uint64{}, stale: map[string]uint64{}, earlier: map[string]map[uint64]bool{}, counted: map[string]bool{}, deadAfter: map[string]time.Time{}}
}

// changed records a new version of key: its observed token becomes stale.
func (m *model) changed(k string) {
	if t := m.tok[k]; t != 0 {
		m.stale[k] = t
		if m.earlier[k] == nil {
			m.earlier[k] = map[uint64]bool{}
		}
		m.earlier[k][t] = true
	}
	delete(m.tok, k)
	delete(m.counted, k)
}

// wrote records a write of k with ttl that ended before done.
func (m *model) wrote(k string, ttl time.Duration, done time.Time) {
	if ttl == 0 {
		delete(m.deadAfter, k)
		return
	}
	m.deadAfter[k] = done.Add(ttl + ttlGrace)
}

// ttlGrace covers the 1 ms resolution of expiry times.
const ttlGrace = 2 * time.Millisecond

func keyErr(k []byte) string {
	switch {
	case len(k) == 0:
		return "KeyEmpty"
	case len(k) > core.MaxKeyLen:
		return "KeyTooLarge"
	}
	return ""
}

// loss says what the engine may do that a map does not.
type loss uint8

const (
	// lossNone: nothing is evicted and every write fits, so the engine
	// answers exactly as the map does.
	lossNone loss = iota
	// lossNoSpace: eviction none in a heap that fills. A write that needs
	// space may fail with ErrNoSpace, and then it changed nothing; no key
	// is ever lost.
	lossNoSpace
	// lossEvict: an evicting policy in a heap smaller than the keys. A key
	// may vanish between two operations (and stays gone until written
	// again), but an answer is never stale: a key the engine has holds the
	// last value written, with a token no earlier version had. Writes
	// never fail for want of space.
	lossEvict
)

// checker applies ops to the engine and the model and reports the first
// difference.
type checker struct {
	c    *core.Cache
	m    *model
	loss loss
	// statsExact: counters are compared (no Clear and no lookup of an invalid
	// key has happened, whose counting is not part of the contract).
	statsExact bool
	// evicted counts the keys the model learned were evicted, so that a
	// test can check it exercised eviction.
	evicted int
	// noSpace counts the writes that failed with ErrNoSpace (lossNoSpace).
	noSpace int
	// shared: other checkers use the same cache (on other keys), so the
	// cache-wide counters are not this checker's to compare.
	shared bool
	// expiring: writes carry TTLs that pass during the run, and an expired
	// item stays in the item counts until its segment is dropped, so those
	// counts are not compared (the operation counters still are).
	expiring bool
	// began is when the operation being applied began: an answer that
	// shows a key present judges its TTL by it.
	began time.Time
}

func newChecker(c *core.Cache) *checker { return newLossyChecker(c, lossNone) }

func newLossyChecker(c *core.Cache, l loss) *checker {
	return &checker{c: c, m: newModel(), loss: l, statsExact: true}
}

// settle compares the engine's answer got with want(present), present
// being whether the model holds k. Where keys may vanish, an answer that is
// wrong for a present key but right for an absent one means the cache
// evicted k: the model forgets it. It returns whether k was present as the
// engine saw it.
func (ch *checker) settle(o op, k string, got any, want func(present bool) any) (bool, error) {
	_, present := ch.m.vals[k]
	dead, hasTTL := ch.m.deadAfter[k]
	diff := cmp.Diff(want(present), got)
	if diff != "" && present && (ch.loss == lossEvict || hasTTL) && cmp.Diff(want(false), got) == "" {
		ch.forget(k)
		return false, nil
	}
	if diff != "" {
		return present, fmt.Errorf("%v: (-model +engine):\n%s", o, diff)
	}
	// An answer that only a present key gives, after the key's TTL.
	if present && hasTTL && ch.began.After(dead) && cmp.Diff(want(true), want(false)) != "" {
		return present, fmt.Errorf("%v: served %v after its TTL ended", o, ch.began.Sub(dead)+ttlGrace)
	}
	return present, nil
}

// forget records that the engine evicted k.
func (ch *checker) forget(k string) {
	delete(ch.m.vals, k)
	delete(ch.m.deadAfter, k)
	ch.m.changed(k)
	ch.evicted++
}

func (ch *checker) apply(o op) error {
	c, m := ch.c, ch.m
	ch.began = time.Now()
	kb := modelKey(o.key)
	k := string(kb)
	kerr := keyErr(kb)
	cur := func() []byte { return m.vals[k] }
	// keepsToken: the write is a touch that keeps the item's token.
	keepsToken := false
	// store settles a write's error against want and, when it stored,
	// makes the written value the model's.
	store := func(got error, want func(present bool) string) error {
		done := time.Now() // the write ended before this
		name := errName(got)
		if ch.loss == lossNoSpace && name == "NoSpace" && kerr == "" {
			// Nothing changed; what the write would have answered with
			// room is not known, and every later answer checks that
			// nothing was lost.
			ch.noSpace++
			return nil
		}
		if _, err := ch.settle(o, k, name, func(p bool) any { return want(p) }); err != nil {
			return err
		}
		if name == "ok" {
			m.vals[k] = append([]byte(nil), o.val...)
			if !keepsToken {
				m.changed(k)
			}
			m.wrote(k, o.ttl, done)
			m.counts.sets++
		}
		return nil
	}
	// mustExist is the answer of a write that needs the key present.
	mustExist := func(present bool) string {
		switch {
		case kerr != "":
			return kerr
		case !present:
			return "NotFound"
		}
		return "ok"
	}
	switch o.kind {
	case opSet:
		return store(c.Set(kb, o.val, o.ttl), func(bool) string {
			if kerr != "" {
				return kerr
			}
			return "ok"
		})
	case opAdd:
		return store(c.Add(kb, o.val, o.ttl), func(present bool) string {
			switch {
			case kerr != "":
				return kerr
			case present:
				return "Exists"
			}
			return "ok"
		})
	case opReplace:
		return store(c.Replace(kb, o.val, o.ttl), mustExist)
	case opCAS, opTouch:
		var tok uint64
		switch o.tok {
		case tokCurrent:
			tok = m.tok[k]
		case tokStale:
			tok = m.stale[k]
		}
		if tok == 0 {
			tok = 0xdead_beef_0bad_cafe ^ uint64(o.delta)
		}
		current := o.tok == tokCurrent && m.tok[k] != 0
		want := func(present bool) string {
			switch {
			case kerr != "":
				return kerr
			case !present:
				return "NotFound"
			case !current:
				return "Exists"
			}
			return "ok"
		}
		if o.kind == opCAS {
			return store(c.CAS(kb, o.val, o.ttl, tok), want)
		}
		// A touch keeps the token, but that of a number Incr changed
		// in place that it turns into no number.
		_, isNum := canonical(o.val)
		keepsToken = !m.counted[k] || isNum
		counted := m.counted[k]
		stored, err := c.Store(core.StoreTouch, kb, o.val, o.ttl, tok)
		if err := store(err, want); err != nil {
			return err
		}
		if err == nil && keepsToken {
			if stored != tok {
				return fmt.Errorf("%v: the touch stored token %d, not the one it kept (%d)", o, stored, tok)
			}
			m.counted[k] = counted && isNum // the number's version goes on
		}
	case opDelete:
		got := errName(c.Delete(kb))
		if _, err := ch.settle(o, k, got, func(present bool) any { return mustExist(present) }); err != nil {
			return err
		}
		if got == "ok" {
			delete(m.vals, k)
			delete(m.deadAfter, k)
			m.changed(k)
			m.counts.deletes++
		}
	case opIncr, opDecr:
		type res struct {
			Err string
			N   uint64
		}
		before := cur()
		var got res
		var err error
		if o.kind == opIncr {
			got.N, err = c.Incr(kb, o.delta)
		} else {
			got.N, err = c.Decr(kb, o.delta)
		}
		got.Err = errName(err)
		if err != nil {
			got.N = 0 // the number returned with an error is not part of the contract
		}
		if _, err := ch.settle(o, k, got, func(present bool) any {
			n, isNum := canonical(before)
			switch {
			case kerr != "":
				return res{Err: kerr}
			case !present:
				return res{Err: "NotFound"}
			case !isNum:
				return res{Err: "NotNumeric"}
			case o.kind == opIncr:
				return res{Err: "ok", N: n + o.delta} // wraps
			case n < o.delta:
				return res{Err: "ok"}
			}
			return res{Err: "ok", N: n - o.delta}
		}); err != nil {
			return fmt.Errorf("%w (value %q)", err, before)
		}
		if got.Err == "ok" {
			m.vals[k] = []byte(strconv.FormatUint(got.N, 10))
			m.changed(k)
			m.counted[k] = true
		}
	case opGet, opGetCAS:
		if kerr != "" {
			ch.statsExact = false
		}
		type res struct {
			Found bool
			Val   string
		}
		var got res
		var v []byte
		var tok uint64
		if o.kind == opGet {
			v, got.Found = c.Get(nil, kb)
		} else {
			v, tok, got.Found = c.GetCAS(nil, kb)
		}
		got.Val = string(v)
		present, err := ch.settle(o, k, got, func(present bool) any {
			if !present {
				return res{}
			}
			return res{true, string(cur())}
		})
		ch.countGet(present)
		if err != nil {
			return err
		}
		if o.kind == opGetCAS && present {
			if err := ch.token(k, tok); err != nil {
				return fmt.Errorf("%v: %w", o, err)
			}
		}
	case opGetInto:
		if kerr != "" {
			ch.statsExact = false
		}
		type res struct {
			N   int
			Err string
			Val string
		}
		buf := make([]byte, o.bufLen)
		n, tok, err := c.GetInto(buf, kb)
		got := res{N: n, Err: errName(err)}
		if err == nil {
			got.Val = string(buf[:n])
		} else if got.Err != "BufferSmall" {
			got.N = 0
		}
		present, serr := ch.settle(o, k, got, func(present bool) any {
			v := cur()
			switch {
			case kerr != "":
				return res{Err: kerr}
			case !present:
				return res{Err: "NotFound"}
			case o.bufLen < len(v):
				return res{Err: "BufferSmall", N: len(v)}
			}
			return res{Err: "ok", N: len(v), Val: string(v)}
		})
		if kerr == "" {
			ch.countGet(present)
		}
		if serr != nil {
			return serr
		}
		if err == nil {
			if e := ch.token(k, tok); e != nil {
				return fmt.Errorf("%v: %w", o, e)
			}
		}
	case opGetBatch:
		keys := make([][]byte, len(o.keys))
		bufs := make([][]byte, len(o.keys))
		for i, ki := range o.keys {
			keys[i] = modelKey(ki)
			bufs[i] = make([]byte, o.bufLen)
		}
		lens := make([]int, len(keys))
		errs := make([]error, len(keys))
		c.GetBatch(keys, bufs, lens, errs)
		for i := range keys {
			kk := string(keys[i])
			var got string
			switch errName(errs[i]) {
			case "ok":
				got = "ok " + string(bufs[i][:lens[i]])
			case "BufferSmall":
				got = fmt.Sprintf("BufferSmall %d", lens[i])
			default:
				got = errName(errs[i])
			}
			e := keyErr(keys[i])
			present, err := ch.settle(o, kk, got, func(present bool) any {
				v := m.vals[kk]
				switch {
				case e != "":
					return e
				case !present:
					return "NotFound"
				case len(v) > o.bufLen:
					return fmt.Sprintf("BufferSmall %d", len(v))
				}
				return "ok " + string(v)
			})
			if e != "" {
				ch.statsExact = false
			} else {
				ch.countGet(present)
			}
			if err != nil {
				return fmt.Errorf("key #%d: %w", i, err)
			}
		}
	case opLen:
		if ch.shared {
			return nil
		}
		return ch.checkCounts(ch.loss != lossEvict)
	case opClear:
		if err := c.Clear(); err != nil {
			return fmt.Errorf("Clear: %v", err)
		}
		for k := range m.vals {
			m.changed(k)
		}
		clear(m.vals)
		clear(m.deadAfter)
		ch.statsExact = false
	}
	return nil
}

func (ch *checker) countGet(hit bool) {
	ch.m.counts.gets++
	if hit {
		ch.m.counts.hits++
	} else {
		ch.m.counts.misses++
	}
}

// token checks a token read for the current version of k: equal to the one
// read before for this version, different from every earlier version's.
func (ch *checker) token(k string, tok uint64) error {
	m := ch.m
	if prev := m.tok[k]; prev != 0 && prev != tok {
		return fmt.Errorf("token of an unchanged item changed: %d then %d", prev, tok)
	}
	if m.earlier[k][tok] {
		return fmt.Errorf("new version of %q has the token of an earlier version (%d)", k, tok)
	}
	m.tok[k] = tok
	return nil
}

// checkCounts compares the engine's counters with the model's. Where keys
// may have vanished unseen (exactItems false), the engine holds at most
// the model's keys.
func (ch *checker) checkCounts(exactItems bool) error {
	s := ch.c.Stats()
	type counts struct{ Items, Len, Sets, Deletes, Gets, Hits, Misses uint64 }
	want := counts{Items: uint64(len(ch.m.vals)), Len: uint64(len(ch.m.vals))}
	got := counts{Items: s.Items, Len: uint64(ch.c.Len())}
	if ch.expiring {
		want.Items, want.Len = got.Items, got.Len
	} else if !exactItems {
		if got.Items > want.Items {
			return fmt.Errorf("the engine holds %d items, more than the %d keys written and not deleted", got.Items, want.Items)
		}
		want.Items, want.Len = got.Items, got.Items
	}
	if ch.statsExact {
		mc := ch.m.counts
		want.Sets, want.Deletes, want.Gets, want.Hits, want.Misses = mc.sets, mc.deletes, mc.gets, mc.hits, mc.misses
		got.Sets, got.Deletes, got.Gets, got.Hits, got.Misses = s.Sets, s.Deletes, s.Gets, s.Hits, s.Misses
	}
	if diff := cmp.Diff(want, got); diff != "" {
		return fmt.Errorf("stats (-model +engine):\n%s", diff)
	}
	return nil
}

// final compares every key of the key space (which settles every eviction
// the model had not seen) and the counters.
func (ch *checker) final(nkeys int) error {
	for i := -3; i < nkeys; i++ {
		if i == keyEmpty || i == keyTooBig {
			continue
		}
		if err := ch.apply(op{kind: opGet, key: i}); err != nil {
			return err
		}
	}
	if ch.shared {
		return nil
	}
	return ch.checkCounts(true)
}

// Value generation shared by the random test and the fuzz decoder.
var badNumbers = []string{"042", "00", "-5", " 5", "", "18446744073709551616", "5 ", "+5", "0x1", "1.0", "-0"}

func randomValue(r *rand.Rand) []byte {
	switch x := r.IntN(100); {
	case x < 30: // canonical numbers, small and near the top of the range
		switch r.IntN(4) {
		case 0:
			return []byte(strconv.FormatUint(math.MaxUint64-r.Uint64N(100), 10))
		case 1:
			return []byte(strconv.FormatUint(r.Uint64(), 10))
		default:
			return []byte(strconv.FormatUint(r.Uint64N(1000), 10))
		}
	case x < 40:
		return []byte(badNumbers[r.IntN(len(badNumbers))])
	case x < 45:
		return bytes.Repeat([]byte{byte(r.IntN(256))}, 200+r.IntN(800))
	default:
		b := make([]byte, r.IntN(64))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return b
	}
}

func randomDelta(r *rand.Rand) uint64 {
	switch r.IntN(10) {
	case 0:
		return math.MaxUint64 - r.Uint64N(3)
	case 1:
		return r.Uint64()
	case 2:
		return 0
	}
	return 1 + r.Uint64N(100)
}

// randomOp draws an op over nkeys keys; withClear allows Clear, bad
// allows invalid keys on every operation.
func randomOp(r *rand.Rand, nkeys int, withClear bool) op {
	o := op{key: r.IntN(nkeys)}
	if r.IntN(200) == 0 {
		o.key = keyMax
	}
	weights := [numOps]int{opSet: 20, opAdd: 6, opReplace: 6, opCAS: 10, opDelete: 8, opIncr: 10, opDecr: 6,
		opGet: 14, opGetCAS: 10, opGetInto: 5, opGetBatch: 3, opLen: 2, opTouch: 6}
	if withClear {
		weights[opClear] = 1
	}
	total := 0
	for _, w := range weights {
		total += w
	}
	x := r.IntN(total)
	for k, w := range weights {
		if x < w {
			o.kind = opKind(k)
			break
		}
		x -= w
	}
	switch o.kind {
	case opSet, opAdd, opReplace, opCAS, opTouch:
		o.val = randomValue(r)
		o.tok = r.IntN(3)
		if o.tok != tokCurrent {
			o.tok = []int{tokCurrent, tokStale, tokBogus}[r.IntN(3)]
		}
	case opIncr, opDecr:
		o.delta = randomDelta(r)
	case opGetInto:
		o.bufLen = r.IntN(40)
	case opGetBatch:
		for n := 1 + r.IntN(8); n > 0; n-- {
			o.keys = append(o.keys, r.IntN(nkeys))
		}
		o.bufLen = r.IntN(40)
	}
	// Mutations with invalid keys must fail with the key's error and change
	// nothing (lookups with invalid keys are exercised by FuzzEngine).
	if (o.kind <= opDecr || o.kind == opTouch) && r.IntN(100) == 0 {
		o.key = []int{keyEmpty, keyTooBig}[r.IntN(2)]
	}
	return o
}

// modelConfig is a cache configuration TestModel runs random operations on.
type modelConfig struct {
	name      string
	opts      core.Options
	withClear bool
	nkeys     int
	loss      loss
}

func TestModel(t *testing.T) {
	runModel(t, []modelConfig{
		{"none", core.Options{HeapBytes: 64 << 20, SegmentBytes: 256 << 10, Eviction: core.PolicyNone}, false, 50, lossNone},
		{"none-clear", core.Options{HeapBytes: 64 << 20, SegmentBytes: 256 << 10, Eviction: core.PolicyNone}, true, 20, lossNone},
		{"merge", core.Options{HeapBytes: 64 << 20, SegmentBytes: 1 << 20, Eviction: core.PolicyMerge}, false, 200, lossNone},
		// An 8 MiB table: sets write their item before they look the key up.
		{"merge-large-table", core.Options{HeapBytes: 64 << 20, SegmentBytes: 1 << 20, HashPower: 20, Eviction: core.PolicyMerge}, false, 200, lossNone},
		{"s3fifo", core.Options{HeapBytes: 64 << 20, SegmentBytes: 1 << 20, Eviction: core.PolicyS3FIFO}, false, 8, lossNone},
		{"small-segments", core.Options{HeapBytes: 64 << 20, SegmentBytes: 4096, Eviction: core.PolicyNone}, false, 30, lossNone},
		// A 16-slot table for 200 keys: the model runs across growths.
		{"none-growing", core.Options{HeapBytes: 64 << 20, SegmentBytes: 256 << 10, HashPower: 4, Eviction: core.PolicyNone}, false, 200, lossNone},
		{"merge-growing", core.Options{HeapBytes: 64 << 20, SegmentBytes: 1 << 20, HashPower: 4, Eviction: core.PolicyMerge}, true, 200, lossNone},
		// Heaps smaller than the keys: writes fail and change nothing
		// (none), or keys vanish but no answer is stale (every other
		// policy), while segments are drained, merged and promoted.
		{"none-full", smallOpts(core.PolicyNone, 12), false, 600, lossNoSpace},
		{"random-small", smallOpts(core.PolicyRandom, 12), false, 600, lossEvict},
		{"randomfifo-small", smallOpts(core.PolicyRandomFIFO, 12), false, 600, lossEvict},
		{"fifo-small", smallOpts(core.PolicyFIFO, 12), false, 600, lossEvict},
		{"cte-small", smallOpts(core.PolicyCTE, 12), false, 600, lossEvict},
		{"util-small", smallOpts(core.PolicyUtil, 12), false, 600, lossEvict},
		{"merge-small", smallOpts(core.PolicyMerge, 12), false, 600, lossEvict},
		{"s3fifo-small", smallOpts(core.PolicyS3FIFO, 12), false, 600, lossEvict},
	})
}

// TestModelEarlyWrite runs the model with every set writing its item before
// it looks the key up, as sets do in tables of 8 MiB and more, in heaps
// small enough that those writes meet evictions and merges.
func TestModelEarlyWrite(t *testing.T) {
	t.Cleanup(core.SetEarlyWriteOrder(true)) // after the parallel subtests
	var configs []modelConfig
	for _, p := range []core.Policy{core.PolicyFIFO, core.PolicyMerge} {
		configs = append(configs, modelConfig{p.String() + "-small", smallOpts(p, 12), false, 600, lossEvict})
	}
	runModel(t, configs)
}

func runModel(t *testing.T, configs []modelConfig) {
	for i, cfg := range configs {
		t.Run(cfg.name, func(t *testing.T) {
			t.Parallel()
			seed := uint64(i)*7919 + 1
			r := rand.New(rand.NewPCG(seed, 42))
			c := openT(t, cfg.opts)
			ch := newLossyChecker(c, cfg.loss)
			n := scale(60000, 10)
			var trail []op
			for j := 0; j < n; j++ {
				o := randomOp(r, cfg.nkeys, cfg.withClear)
				trail = append(trail, o)
				if len(trail) > 8 {
					trail = trail[1:]
				}
				if err := ch.apply(o); err != nil {
					t.Fatalf("seed %d, op #%d: %v\nlast ops:\n%s", seed, j, err, opsString(trail))
				}
			}
			if err := ch.final(cfg.nkeys); err != nil {
				t.Fatalf("seed %d, final check: %v", seed, err)
			}
			sane(t, c.Stats())
			switch {
			case cfg.loss == lossEvict && ch.evicted == 0:
				t.Errorf("no key was evicted: the small heap exercised nothing")
			case cfg.loss == lossNoSpace && ch.noSpace == 0:
				t.Errorf("no write failed for space: the heap never filled")
			}
			if g := c.Stats().HashtableGrowths; cfg.opts.HashPower == 4 && g == 0 {
				t.Errorf("the 16-slot table never grew: the model did not run across a growth")
			}
		})
	}
}

func opsString(ops []op) string {
	var sb strings.Builder
	for _, o := range ops {
		sb.WriteString("  " + o.String() + "\n")
	}
	return sb.String()
}

// TestModelConcurrent runs the lossy model on small caches from several
// goroutines at once, each on keys of its own: every key's history is
// sequential, so its oracle holds as in TestModel, while the other
// goroutines' writes make the cache drain, merge, promote and reclaim
// segments under it (an answer that is stale, or a key that comes back
// after it was seen gone, fails). Some writes carry short TTLs: such a
// key may vanish, and must never be served after its TTL. The cache-wide
// counters are checked for balance afterwards.
func TestModelConcurrent(t *testing.T) {
	const nkeys = 150 // per goroutine
	type config struct {
		name string
		opts core.Options
	}
	var configs []config
	for _, p := range []core.Policy{core.PolicyNone, core.PolicyRandom, core.PolicyFIFO, core.PolicyUtil,
		core.PolicyMerge, core.PolicyS3FIFO} {
		configs = append(configs, config{p.String(), smallOpts(p, 16)})
	}
	// A 16-slot table: the goroutines' writes grow it while they evict.
	for _, p := range []core.Policy{core.PolicyNone, core.PolicyS3FIFO} {
		o := smallOpts(p, 16)
		o.HashPower = 4
		configs = append(configs, config{p.String() + "-growing", o})
	}
	for _, cfg := range configs {
		p := cfg.opts.Eviction
		t.Run(cfg.name, func(t *testing.T) {
			c := openT(t, cfg.opts)
			l := lossEvict
			if p == core.PolicyNone {
				l = lossNoSpace
			}
			g := workers()
			n := scale(20000, 10)
			defer watchdog(t, 2*time.Minute, "TestModelConcurrent/"+cfg.name)()
			errs := make([]error, g)
			evicted := make([]int, g)
			var wg sync.WaitGroup
			for w := range g {
				wg.Go(func() {
					ch := newLossyChecker(c, l)
					ch.shared = true
					r := rand.New(rand.NewPCG(uint64(w)+1, uint64(p)))
					for j := 0; j < n; j++ {
						o := withTTL(r, ownKeys(randomOp(r, nkeys, false), w, g))
						if err := ch.apply(o); err != nil {
							errs[w] = fmt.Errorf("goroutine %d, op #%d: %w", w, j, err)
							return
						}
					}
					for i := range nkeys { // every key of its own, as final does
						if err := ch.apply(ownKeys(op{kind: opGet, key: i}, w, g)); err != nil {
							errs[w] = fmt.Errorf("goroutine %d, final check: %w", w, err)
							return
						}
					}
					evicted[w] = ch.evicted + ch.noSpace
				})
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if total := sum(evicted); total == 0 {
				t.Errorf("nothing was evicted or refused: the small heap exercised nothing")
			}
			if g := c.Stats().HashtableGrowths; cfg.opts.HashPower == 4 && g == 0 {
				t.Errorf("the 16-slot table never grew")
			}
			sane(t, c.Stats())
		})
	}
}

// withTTL gives one write in eight a TTL of 1 to 100 ms: those keys expire
// while the test runs (and their segments with them), and the model checks
// that none is served after its TTL.
func withTTL(r *rand.Rand, o op) op {
	switch o.kind {
	case opSet, opAdd, opReplace, opCAS, opTouch:
		if r.IntN(8) == 0 {
			o.ttl = []time.Duration{time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond, 100 * time.Millisecond}[r.IntN(4)]
		}
	}
	return o
}

// ownKeys maps the key indexes of o onto goroutine w's keys among g
// goroutines (w, w+g, w+2g, ...), so no two goroutines share a key; the
// longest valid key, which all would share, becomes one of w's.
func ownKeys(o op, w, g int) op {
	own := func(i int) int {
		switch {
		case i == keyMax:
			return w
		case i < 0: // an invalid key: no state
			return i
		}
		return i*g + w
	}
	o.key = own(o.key)
	if o.keys != nil {
		keys := make([]int, len(o.keys))
		for i, k := range o.keys {
			keys[i] = own(k)
		}
		o.keys = keys
	}
	return o
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}
