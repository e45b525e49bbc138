package core_test

// Model-based testing: the engine, configured so that nothing is evicted,
// must answer every operation exactly as a plain map does. The same oracle
// drives the randomized TestModel and FuzzEngine (fuzz_test.go).

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

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
	numOps
)

var opNames = [...]string{"Set", "Add", "Replace", "CAS", "Delete", "Incr", "Decr", "Get", "GetCAS",
	"GetInto", "GetBatch", "Len", "Clear"}

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
	tok    int // tokCurrent, tokStale, tokBogus
	bufLen int // GetInto, GetBatch
}

func (o op) String() string {
	v := string(o.val)
	if len(v) > 24 {
		v = v[:24] + "..."
	}
	return fmt.Sprintf("%s(key=%d keys=%v val=%q delta=%d tok=%d buf=%d)", opNames[o.kind], o.key, o.keys, v, o.delta, o.tok, o.bufLen)
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
	vals   map[string][]byte
	tok    map[string]uint64 // token observed for the current version (0: none yet)
	stale  map[string]uint64 // a token of an earlier version
	counts struct{ sets, deletes, gets, hits, misses uint64 }
}

func newModel() *model {
	return &model{vals: map[string][]byte{}, tok: map[string]uint64{}, stale: map[string]uint64{}}
}

// changed records a new version of key: its observed token becomes stale.
func (m *model) changed(k string) {
	if t := m.tok[k]; t != 0 {
		m.stale[k] = t
	}
	delete(m.tok, k)
}

func keyErr(k []byte) string {
	switch {
	case len(k) == 0:
		return "KeyEmpty"
	case len(k) > core.MaxKeyLen:
		return "KeyTooLarge"
	}
	return ""
}

// checker applies ops to the engine and the model and reports the first
// difference.
type checker struct {
	c *core.Cache
	m *model
	// statsExact: counters are compared (no Clear and no lookup of an invalid
	// key has happened, whose counting is not part of the contract).
	statsExact bool
}

func newChecker(c *core.Cache) *checker { return &checker{c: c, m: newModel(), statsExact: true} }

func (ch *checker) apply(o op) error {
	c, m := ch.c, ch.m
	kb := modelKey(o.key)
	k := string(kb)
	kerr := keyErr(kb)
	cur, present := m.vals[k]
	store := func(want string, got error, newVal bool) error {
		if diff := cmp.Diff(want, errName(got)); diff != "" {
			return fmt.Errorf("%v: (-model +engine):\n%s", o, diff)
		}
		if want == "ok" && newVal {
			m.vals[k] = append([]byte(nil), o.val...)
			m.changed(k)
			m.counts.sets++
		}
		return nil
	}
	switch o.kind {
	case opSet:
		want := "ok"
		if kerr != "" {
			want = kerr
		}
		return store(want, c.Set(kb, o.val, 0), true)
	case opAdd:
		want := "ok"
		switch {
		case kerr != "":
			want = kerr
		case present:
			want = "Exists"
		}
		return store(want, c.Add(kb, o.val, 0), true)
	case opReplace:
		want := "ok"
		switch {
		case kerr != "":
			want = kerr
		case !present:
			want = "NotFound"
		}
		return store(want, c.Replace(kb, o.val, 0), true)
	case opCAS:
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
		want := "ok"
		switch {
		case kerr != "":
			want = kerr
		case !present:
			want = "NotFound"
		case o.tok != tokCurrent || m.tok[k] == 0:
			want = "Exists"
		}
		return store(want, c.CAS(kb, o.val, 0, tok), true)
	case opDelete:
		want := "ok"
		switch {
		case kerr != "":
			want = kerr
		case !present:
			want = "NotFound"
		}
		got := c.Delete(kb)
		if diff := cmp.Diff(want, errName(got)); diff != "" {
			return fmt.Errorf("%v: (-model +engine):\n%s", o, diff)
		}
		if want == "ok" {
			delete(m.vals, k)
			m.changed(k)
			m.counts.deletes++
		}
	case opIncr, opDecr:
		type res struct {
			Err string
			N   uint64
		}
		want := res{Err: "ok"}
		n, isNum := canonical(cur)
		switch {
		case kerr != "":
			want.Err = kerr
		case !present:
			want.Err = "NotFound"
		case !isNum:
			want.Err = "NotNumeric"
		case o.kind == opIncr:
			want.N = n + o.delta // wraps
		case n < o.delta:
			want.N = 0
		default:
			want.N = n - o.delta
		}
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
		if diff := cmp.Diff(want, got); diff != "" {
			return fmt.Errorf("%v on %q: (-model +engine):\n%s", o, cur, diff)
		}
		if want.Err == "ok" {
			m.vals[k] = []byte(strconv.FormatUint(want.N, 10))
			m.changed(k)
		}
	case opGet, opGetCAS:
		if kerr != "" {
			ch.statsExact = false
		}
		type res struct {
			Found bool
			Val   string
		}
		want := res{present, string(cur)}
		var got res
		var v []byte
		var tok uint64
		if o.kind == opGet {
			v, got.Found = c.Get(nil, kb)
		} else {
			v, tok, got.Found = c.GetCAS(nil, kb)
		}
		got.Val = string(v)
		ch.countGet(present)
		if diff := cmp.Diff(want, got); diff != "" {
			return fmt.Errorf("%v: (-model +engine):\n%s", o, diff)
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
		want := res{Err: "ok", N: len(cur), Val: string(cur)}
		switch {
		case kerr != "":
			want = res{Err: kerr}
		case !present:
			want = res{Err: "NotFound"}
		case o.bufLen < len(cur):
			want.Err, want.Val = "BufferSmall", ""
		}
		buf := make([]byte, o.bufLen)
		n, tok, err := c.GetInto(buf, kb)
		got := res{N: n, Err: errName(err)}
		if err == nil {
			got.Val = string(buf[:n])
		} else if got.Err != "BufferSmall" {
			got.N = 0
		}
		if kerr == "" {
			ch.countGet(present)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			return fmt.Errorf("%v: (-model +engine):\n%s", o, diff)
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
		var want, got []string
		for i := range keys {
			kk := string(keys[i])
			v, ok := m.vals[kk]
			switch e := keyErr(keys[i]); {
			case e != "":
				want = append(want, e)
				ch.statsExact = false
			case !ok:
				want = append(want, "NotFound")
			case len(v) > o.bufLen:
				want = append(want, fmt.Sprintf("BufferSmall %d", len(v)))
			default:
				want = append(want, "ok "+string(v))
			}
			if keyErr(keys[i]) == "" {
				ch.countGet(ok)
			}
			switch errName(errs[i]) {
			case "ok":
				got = append(got, "ok "+string(bufs[i][:lens[i]]))
			case "BufferSmall":
				got = append(got, fmt.Sprintf("BufferSmall %d", lens[i]))
			default:
				got = append(got, errName(errs[i]))
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			return fmt.Errorf("%v: (-model +engine):\n%s", o, diff)
		}
	case opLen:
		return ch.checkCounts()
	case opClear:
		if err := c.Clear(); err != nil {
			return fmt.Errorf("Clear: %v", err)
		}
		for k := range m.vals {
			m.changed(k)
		}
		clear(m.vals)
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
	if s := m.stale[k]; s != 0 && s == tok {
		return fmt.Errorf("new version of %q has the token of an earlier version (%d)", k, tok)
	}
	m.tok[k] = tok
	return nil
}

func (ch *checker) checkCounts() error {
	s := ch.c.Stats()
	type counts struct{ Items, Len, Sets, Deletes, Gets, Hits, Misses uint64 }
	want := counts{Items: uint64(len(ch.m.vals)), Len: uint64(len(ch.m.vals))}
	got := counts{Items: s.Items, Len: uint64(ch.c.Len())}
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

// final compares every key of the key space and the counters.
func (ch *checker) final(nkeys int) error {
	for i := -3; i < nkeys; i++ {
		if i == keyEmpty || i == keyTooBig {
			continue
		}
		if err := ch.apply(op{kind: opGet, key: i}); err != nil {
			return err
		}
	}
	return ch.checkCounts()
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
		opGet: 14, opGetCAS: 10, opGetInto: 5, opGetBatch: 3, opLen: 2}
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
	case opSet, opAdd, opReplace, opCAS:
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
	if o.kind <= opDecr && r.IntN(100) == 0 {
		o.key = []int{keyEmpty, keyTooBig}[r.IntN(2)]
	}
	return o
}

func TestModel(t *testing.T) {
	configs := []struct {
		name      string
		opts      core.Options
		withClear bool
		nkeys     int
	}{
		{"none", core.Options{HeapBytes: 64 << 20, SegmentBytes: 256 << 10, Eviction: core.PolicyNone}, false, 50},
		{"none-clear", core.Options{HeapBytes: 64 << 20, SegmentBytes: 256 << 10, Eviction: core.PolicyNone}, true, 20},
		{"merge", core.Options{HeapBytes: 64 << 20, SegmentBytes: 1 << 20, Eviction: core.PolicyMerge}, false, 200},
		// An 8 MiB table: sets write their item before they look the key up.
		{"merge-large-table", core.Options{HeapBytes: 64 << 20, SegmentBytes: 1 << 20, HashPower: 20, Eviction: core.PolicyMerge}, false, 200},
		{"s3fifo", core.Options{HeapBytes: 64 << 20, SegmentBytes: 1 << 20, Eviction: core.PolicyS3FIFO}, false, 8},
		{"small-segments", core.Options{HeapBytes: 64 << 20, SegmentBytes: 4096, Eviction: core.PolicyNone}, false, 30},
		// A 16-slot table for 200 keys: the model runs across growths.
		{"none-growing", core.Options{HeapBytes: 64 << 20, SegmentBytes: 256 << 10, HashPower: 4, Eviction: core.PolicyNone}, false, 200},
		{"merge-growing", core.Options{HeapBytes: 64 << 20, SegmentBytes: 1 << 20, HashPower: 4, Eviction: core.PolicyMerge}, true, 200},
	}
	for i, cfg := range configs {
		t.Run(cfg.name, func(t *testing.T) {
			t.Parallel()
			seed := uint64(i)*7919 + 1
			r := rand.New(rand.NewPCG(seed, 42))
			c := openT(t, cfg.opts)
			ch := newChecker(c)
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
