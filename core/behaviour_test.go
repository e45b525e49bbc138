package core_test

// Single-threaded behaviour of the public API: semantics and errors of every
// operation, exact size limits, option validation, CAS tokens, numbers,
// TTLs, Clear, the no-eviction policy, FIFO order and exact statistics.

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/segcache/segcache/core"
)

// step is one operation of a scripted scenario; outcome is what it returned.
type step struct {
	op    string // set add replace delete get incr decr
	key   string
	val   string
	delta uint64
}

type outcome struct {
	Err string // errName of the result ("ok", "NotFound", ...)
	Val string // get: the value ("" if absent); incr/decr: the new number
}

func run(c *core.Cache, steps []step) []outcome {
	var out []outcome
	for _, s := range steps {
		k, v := []byte(s.key), []byte(s.val)
		var o outcome
		switch s.op {
		case "set":
			o.Err = errName(c.Set(k, v, 0))
		case "add":
			o.Err = errName(c.Add(k, v, 0))
		case "replace":
			o.Err = errName(c.Replace(k, v, 0))
		case "delete":
			o.Err = errName(c.Delete(k))
		case "get":
			got, ok := c.Get(nil, k)
			o.Err, o.Val = "ok", string(got)
			if !ok {
				o.Err = "NotFound"
			}
		case "incr", "decr":
			f := c.Incr
			if s.op == "decr" {
				f = c.Decr
			}
			n, err := f(k, s.delta)
			o.Err = errName(err)
			if err == nil {
				o.Val = strconv.FormatUint(n, 10)
			}
		default:
			panic("unknown op " + s.op)
		}
		out = append(out, o)
	}
	return out
}

type scenario struct {
	name  string
	steps []step
	want  []outcome
}

func ok(v string) outcome   { return outcome{"ok", v} }
func fail(e string) outcome { return outcome{Err: e} }

const maxU64 = "18446744073709551615"

func TestBehaviourScenarios(t *testing.T) {
	scenarios := []scenario{
		{"set-get-overwrite", []step{
			{op: "get", key: "a"}, {op: "set", key: "a", val: "x"}, {op: "get", key: "a"},
			{op: "set", key: "a", val: "longer value"}, {op: "get", key: "a"},
			{op: "set", key: "a", val: ""}, {op: "get", key: "a"},
		}, []outcome{fail("NotFound"), ok(""), ok("x"), ok(""), ok("longer value"), ok(""), ok("")}},
		{"add", []step{
			{op: "add", key: "a", val: "1st"}, {op: "add", key: "a", val: "2nd"}, {op: "get", key: "a"},
		}, []outcome{ok(""), fail("Exists"), ok("1st")}},
		{"replace", []step{
			{op: "replace", key: "a", val: "r"}, {op: "get", key: "a"},
			{op: "set", key: "a", val: "s"}, {op: "replace", key: "a", val: "r"}, {op: "get", key: "a"},
		}, []outcome{fail("NotFound"), fail("NotFound"), ok(""), ok(""), ok("r")}},
		{"delete", []step{
			{op: "delete", key: "a"}, {op: "set", key: "a", val: "v"}, {op: "set", key: "b", val: "w"},
			{op: "delete", key: "a"}, {op: "get", key: "a"}, {op: "delete", key: "a"}, {op: "get", key: "b"},
			{op: "add", key: "a", val: "again"}, {op: "get", key: "a"},
		}, []outcome{fail("NotFound"), ok(""), ok(""), ok(""), fail("NotFound"), fail("NotFound"), ok("w"), ok(""), ok("again")}},
		{"incr-decr", []step{
			{op: "incr", key: "n", delta: 1}, {op: "decr", key: "n", delta: 1},
			{op: "set", key: "n", val: "5"}, {op: "incr", key: "n", delta: 3}, {op: "get", key: "n"},
			{op: "decr", key: "n", delta: 2}, {op: "get", key: "n"},
			{op: "incr", key: "n", delta: 0}, {op: "decr", key: "n", delta: 0},
			{op: "incr", key: "n", delta: 9999999999}, {op: "get", key: "n"},
		}, []outcome{fail("NotFound"), fail("NotFound"), ok(""), ok("8"), ok("8"), ok("6"), ok("6"),
			ok("6"), ok("6"), ok("10000000005"), ok("10000000005")}},
		{"incr-wraps-at-2^64", []step{
			{op: "set", key: "n", val: maxU64}, {op: "get", key: "n"}, {op: "incr", key: "n", delta: 1}, {op: "get", key: "n"},
			{op: "set", key: "n", val: "10"}, {op: "incr", key: "n", delta: math.MaxUint64}, {op: "get", key: "n"},
			{op: "set", key: "n", val: "18446744073709551610"}, {op: "incr", key: "n", delta: 10},
		}, []outcome{ok(""), ok(maxU64), ok("0"), ok("0"), ok(""), ok("9"), ok("9"), ok(""), ok("4")}},
		{"decr-saturates-at-0", []step{
			{op: "set", key: "n", val: "5"}, {op: "decr", key: "n", delta: 6}, {op: "get", key: "n"},
			{op: "decr", key: "n", delta: 1}, {op: "set", key: "n", val: maxU64}, {op: "decr", key: "n", delta: math.MaxUint64},
			{op: "set", key: "n", val: "3"}, {op: "decr", key: "n", delta: 3},
		}, []outcome{ok(""), ok("0"), ok("0"), ok("0"), ok(""), ok("0"), ok(""), ok("0")}},
		{"numeric-get-returns-decimal-text", []step{
			{op: "set", key: "z", val: "0"}, {op: "get", key: "z"},
			{op: "set", key: "n", val: "42"}, {op: "get", key: "n"}, {op: "incr", key: "n", delta: 58}, {op: "get", key: "n"},
			{op: "set", key: "n", val: "9"}, {op: "incr", key: "n", delta: 1}, {op: "get", key: "n"},
			{op: "set", key: "n", val: "100"}, {op: "decr", key: "n", delta: 1}, {op: "get", key: "n"},
		}, []outcome{ok(""), ok("0"), ok(""), ok("42"), ok("100"), ok("100"), ok(""), ok("10"), ok("10"),
			ok(""), ok("99"), ok("99")}},
		{"numeric-then-text", []step{
			{op: "set", key: "n", val: "7"}, {op: "incr", key: "n", delta: 1}, {op: "set", key: "n", val: "seven"},
			{op: "get", key: "n"}, {op: "incr", key: "n", delta: 1}, {op: "get", key: "n"},
			{op: "replace", key: "n", val: "70"}, {op: "decr", key: "n", delta: 7}, {op: "get", key: "n"},
		}, []outcome{ok(""), ok("8"), ok(""), ok("seven"), fail("NotNumeric"), ok("seven"), ok(""), ok("63"), ok("63")}},
	}
	// Every rejected numeric form fails with ErrNotNumeric and leaves the
	// value as it was.
	for _, bad := range []string{"042", "00", "-5", " 5", "", "18446744073709551616", "99999999999999999999",
		"5 ", "+5", "0x1", "1e3", "5\x00", "١", "12a"} {
		for _, op := range []string{"incr", "decr"} {
			scenarios = append(scenarios, scenario{
				"not-numeric-" + op + "-" + strconv.Quote(bad),
				[]step{{op: "set", key: "n", val: bad}, {op: op, key: "n", delta: 1}, {op: "get", key: "n"}},
				[]outcome{ok(""), fail("NotNumeric"), ok(bad)},
			})
		}
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			c := openT(t, core.Options{HeapBytes: 1 << 20, SegmentBytes: 64 << 10, Eviction: core.PolicyNone})
			if diff := cmp.Diff(sc.want, run(c, sc.steps)); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGetAppendsToDst(t *testing.T) {
	c := openT(t, core.Options{})
	mustSet(t, c, "k", "value", 0)
	dst := make([]byte, 3, 64)
	copy(dst, "abc")
	got, found := c.Get(dst, []byte("k"))
	if diff := cmp.Diff("abcvalue", string(got)); diff != "" || !found {
		t.Errorf("Get(dst=abc) found=%v (-want +got):\n%s", found, diff)
	}
	if &got[0] != &dst[0] {
		t.Errorf("Get reallocated although dst had room")
	}
	got, found = c.Get(dst, []byte("missing"))
	if found || string(got) != "abc" {
		t.Errorf("Get(missing) = %q, %v; want dst unchanged, false", got, found)
	}
	got, tok, found := c.GetCAS([]byte("x"), []byte("k"))
	if string(got) != "xvalue" || !found {
		t.Errorf("GetCAS(dst=x) = %q, %d, %v", got, tok, found)
	}
}

func TestGetIntoAndBatch(t *testing.T) {
	c := openT(t, core.Options{})
	mustSet(t, c, "k", "0123456789", 0)
	mustSet(t, c, "num", "12345", 0)
	mustSet(t, c, "empty", "", 0)
	tok := mustToken(t, c, "k")

	type res struct {
		N     int
		Err   string
		Bytes string
	}
	into := func(size int, key string) res {
		buf := make([]byte, size)
		n, tk, err := c.GetInto(buf, []byte(key))
		r := res{N: n, Err: errName(err)}
		if err == nil {
			r.Bytes = string(buf[:n])
			if key == "k" && tk != tok {
				t.Errorf("GetInto token %d != GetCAS token %d", tk, tok)
			}
		}
		return r
	}
	got := []res{into(10, "k"), into(64, "k"), into(9, "k"), into(0, "k"), into(5, "num"), into(4, "num"),
		into(0, "empty"), into(8, "missing"), into(8, ""), into(8, strings.Repeat("x", 256))}
	want := []res{{10, "ok", "0123456789"}, {10, "ok", "0123456789"}, {10, "BufferSmall", ""}, {10, "BufferSmall", ""},
		{5, "ok", "12345"}, {5, "BufferSmall", ""}, {0, "ok", ""}, {0, "NotFound", ""}, {0, "KeyEmpty", ""}, {0, "KeyTooLarge", ""}}
	// The length reported with an error other than ErrBufferSmall is not
	// part of the contract.
	for i := range got {
		if got[i].Err != "ok" && got[i].Err != "BufferSmall" {
			got[i].N = 0
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetInto (-want +got):\n%s", diff)
	}

	keys := [][]byte{[]byte("k"), []byte("missing"), []byte("num"), []byte("k"), []byte(""), []byte("empty")}
	bufs := [][]byte{make([]byte, 16), make([]byte, 16), make([]byte, 2), make([]byte, 10), make([]byte, 4), nil}
	lens := make([]int, len(keys))
	errs := make([]error, len(keys))
	c.GetBatch(keys, bufs, lens, errs)
	var gotB []res
	for i := range keys {
		r := res{N: lens[i], Err: errName(errs[i])}
		if errs[i] == nil {
			r.Bytes = string(bufs[i][:lens[i]])
		} else if !errors.Is(errs[i], core.ErrBufferSmall) {
			r.N = 0
		}
		gotB = append(gotB, r)
	}
	wantB := []res{{10, "ok", "0123456789"}, {0, "NotFound", ""}, {5, "BufferSmall", ""}, {10, "ok", "0123456789"},
		{0, "KeyEmpty", ""}, {0, "ok", ""}}
	if diff := cmp.Diff(wantB, gotB); diff != "" {
		t.Errorf("GetBatch (-want +got):\n%s", diff)
	}
}

// Keys: 1..255 bytes. Every keyed operation rejects the empty key and a
// 256-byte key with its own error, and stores nothing.
func TestKeyLimits(t *testing.T) {
	c := openT(t, core.Options{HeapBytes: 1 << 20, SegmentBytes: 64 << 10})
	k255 := []byte(strings.Repeat("k", 255))
	k256 := []byte(strings.Repeat("k", 256))
	val := []byte("1")
	ops := map[string]func(k []byte) error{
		"Set":     func(k []byte) error { return c.Set(k, val, 0) },
		"Add":     func(k []byte) error { return c.Add(k, val, 0) },
		"Replace": func(k []byte) error { return c.Replace(k, val, 0) },
		"CAS":     func(k []byte) error { return c.CAS(k, val, 0, 1) },
		"Delete":  func(k []byte) error { return c.Delete(k) },
		"Incr":    func(k []byte) error { _, err := c.Incr(k, 1); return err },
		"Decr":    func(k []byte) error { _, err := c.Decr(k, 1); return err },
		"GetInto": func(k []byte) error { _, _, err := c.GetInto(make([]byte, 8), k); return err },
	}
	for name, f := range ops {
		got := map[string]string{"nil": errName(f(nil)), "empty": errName(f([]byte{})), "256": errName(f(k256))}
		want := map[string]string{"nil": "KeyEmpty", "empty": "KeyEmpty", "256": "KeyTooLarge"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s with bad keys (-want +got):\n%s", name, diff)
		}
	}
	for _, k := range [][]byte{nil, {}, k256, append(k256, 'x'), bytes.Repeat([]byte("y"), 100000)} {
		if v, found := c.Get(nil, k); found {
			t.Errorf("Get(bad key of %d bytes) = %q, true", len(k), v)
		}
	}
	if err := c.Set(k255, []byte("v255"), 0); err != nil {
		t.Fatalf("Set(255-byte key): %v", err)
	}
	if v, found := get(c, string(k255)); !found || v != "v255" {
		t.Errorf("Get(255-byte key) = %q, %v", v, found)
	}
	// A 256-byte key must not alias its 255-byte prefix (the published
	// engine cast the length to a byte).
	if _, found := c.Get(nil, append(k255, 'k')); found {
		t.Errorf("Get(256-byte key) found an item")
	}
	// Any bytes are allowed in a key.
	bin := []byte{0, 0xff, '\n', ' ', 0}
	if err := c.Set(bin, []byte("bin"), 0); err != nil {
		t.Fatalf("Set(binary key): %v", err)
	}
	if v, found := c.Get(nil, bin); !found || string(v) != "bin" {
		t.Errorf("Get(binary key) = %q, %v", v, found)
	}
	if got := c.Stats().Items; got != 2 {
		t.Errorf("Stats.Items = %d after two good sets and many rejected ones, want 2", got)
	}
}

// An item (8-byte header + key + value, rounded up to 8) must fit in one
// segment: the largest value is accepted, one byte more is ErrItemTooLarge
// and stores nothing.
func TestItemSizeLimitExact(t *testing.T) {
	for _, segBytes := range []int{4096, 64 << 10} {
		for _, klen := range []int{1, 7, 8, 13, 100, 255} {
			c := openT(t, core.Options{HeapBytes: uint64(4 * segBytes), SegmentBytes: uint32(segBytes), Eviction: core.PolicyNone})
			key := strings.Repeat("k", klen)
			max := maxValueLen(segBytes, klen)
			other := "o" + key[1:] // same length, absent
			big := bytes.Repeat([]byte("v"), max+1)
			got := []string{
				errName(c.Set([]byte(key), big[:max], 0)),
				errName(c.Set([]byte(other), big, 0)),
				errName(c.Add([]byte(other), big, 0)),
				errName(c.Set([]byte(key), big, 0)),
				errName(c.Replace([]byte(key), big, 0)),
				errName(c.Set([]byte(other), big[:max], 0)),
			}
			want := []string{"ok", "ItemTooLarge", "ItemTooLarge", "ItemTooLarge", "ItemTooLarge", "ok"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("seg %d, key %d bytes, max value %d (item %d): (-want +got):\n%s",
					segBytes, klen, max, itemSize(klen, max), diff)
			}
			v, found := c.Get(nil, []byte(key))
			if !found || len(v) != max {
				t.Errorf("seg %d key %d: after a rejected oversize Set, Get = %d bytes, %v; want the earlier %d bytes",
					segBytes, klen, len(v), found, max)
			}
			if err := c.Delete([]byte(other)); err != nil {
				t.Errorf("Delete(%d-byte key with a max-size value): %v", klen, err)
			}
			// The CAS path checks the size too, and keeps the old value.
			tok := mustToken(t, c, key)
			if err := c.CAS([]byte(key), big, 0, tok); !errors.Is(err, core.ErrItemTooLarge) {
				t.Errorf("CAS(oversize) = %v, want ErrItemTooLarge", err)
			}
			if err := c.CAS([]byte(key), big[:max-1], 0, tok); err != nil {
				t.Errorf("CAS(max-1) with the current token = %v after a rejected oversize CAS", err)
			}
		}
	}
}

// An 8 MiB segment holds an 8 MiB item (the offset field is 20 bits of 8
// bytes, the published engine's
// offset field wrapped for segments over 8 MiB) and the largest item lands at the right place.
func TestLargestSegment(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 16 MiB")
	}
	c := openT(t, core.Options{HeapBytes: 2 * core.MaxSegmentBytes, SegmentBytes: core.MaxSegmentBytes, Eviction: core.PolicyNone})
	max := maxValueLen(core.MaxSegmentBytes, 3)
	v := mkVal("big", 1, max)
	if err := c.Set([]byte("big"), v, 0); err != nil {
		t.Fatalf("Set(%d-byte value in an 8 MiB segment): %v", max, err)
	}
	w := mkVal("sml", 2, 100)
	if err := c.Set([]byte("sml"), w, 0); err != nil {
		t.Fatalf("Set(small) after the largest item: %v", err)
	}
	for k, want := range map[string][]byte{"big": v, "sml": w} {
		got, found := c.Get(nil, []byte(k))
		if !found || !bytes.Equal(got, want) {
			t.Errorf("Get(%s) = %d bytes, %v; want the %d bytes written", k, len(got), found, len(want))
		}
	}
	if err := c.Set([]byte("big"), make([]byte, max+1), 0); !errors.Is(err, core.ErrItemTooLarge) {
		t.Errorf("Set(max+1 in 8 MiB segment) = %v, want ErrItemTooLarge", err)
	}
}

func TestOptionsValidation(t *testing.T) {
	cases := []struct {
		name string
		opts core.Options
		want string
	}{
		{"zero-means-defaults", core.Options{}, "ok"},
		{"min-segment", core.Options{HeapBytes: 8192, SegmentBytes: 4096}, "ok"},
		{"max-segment", core.Options{HeapBytes: 2 * core.MaxSegmentBytes, SegmentBytes: core.MaxSegmentBytes}, "ok"},
		{"policy-none", core.Options{Eviction: core.PolicyNone}, "ok"},
		{"s3fifo-ratio-edges", core.Options{Eviction: core.PolicyS3FIFO, S3FIFOAdmissionRatio: 0.9}, "ok"},
		{"heap-rounded-down", core.Options{HeapBytes: 3*4096 + 100, SegmentBytes: 4096}, "ok"},
		{"segment-below-4k", core.Options{SegmentBytes: 4088}, "Invalid"},
		{"segment-tiny", core.Options{SegmentBytes: 8}, "Invalid"},
		{"segment-not-multiple-of-8", core.Options{SegmentBytes: 4100}, "Invalid"},
		{"segment-odd", core.Options{SegmentBytes: 65537}, "Invalid"},
		{"segment-over-8MiB", core.Options{HeapBytes: 64 << 20, SegmentBytes: core.MaxSegmentBytes + 8}, "Invalid"},
		{"segment-huge", core.Options{SegmentBytes: math.MaxUint32}, "Invalid"},
		{"heap-one-segment", core.Options{HeapBytes: 4096, SegmentBytes: 4096}, "Invalid"},
		{"heap-just-under-two-segments", core.Options{HeapBytes: 2*4096 - 1, SegmentBytes: 4096}, "Invalid"},
		{"heap-under-default-segment", core.Options{HeapBytes: 1 << 20}, "Invalid"},
		{"too-many-segments", core.Options{HeapBytes: uint64(core.MaxSegments+1) * 4096, SegmentBytes: 4096}, "Invalid"},
		{"policy-unknown", core.Options{Eviction: core.Policy(99)}, "Invalid"},
		{"policy-negative", core.Options{Eviction: core.Policy(-1)}, "Invalid"},
		{"s3fifo-ratio-too-small", core.Options{Eviction: core.PolicyS3FIFO, S3FIFOAdmissionRatio: 0.001}, "Invalid"},
		{"s3fifo-ratio-too-large", core.Options{Eviction: core.PolicyS3FIFO, S3FIFOAdmissionRatio: 0.95}, "Invalid"},
		{"s3fifo-ratio-negative", core.Options{Eviction: core.PolicyS3FIFO, S3FIFOAdmissionRatio: -0.5}, "Invalid"},
		{"s3fifo-ratio-nan", core.Options{Eviction: core.PolicyS3FIFO, S3FIFOAdmissionRatio: math.NaN()}, "Invalid"},
		{"merge-max-negative", core.Options{MergeMax: -1}, "Invalid"},
		{"merge-target-negative", core.Options{MergeTarget: -4}, "Invalid"},
		{"merge-compact-negative", core.Options{MergeCompact: -2}, "Invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			func() {
				defer func() {
					if r := recover(); r != nil {
						got = "panic"
						t.Errorf("Open(%+v) panicked: %v", tc.opts, r)
					}
				}()
				c, err := core.Open(tc.opts)
				got = errName(err)
				if err == nil {
					if c == nil {
						t.Errorf("Open returned nil cache and nil error")
						return
					}
					// An accepted cache works.
					if err := c.Set([]byte("k"), []byte("v"), 0); err != nil {
						t.Errorf("Set on a freshly opened cache: %v", err)
					}
					if err := c.Close(); err != nil {
						t.Errorf("Close: %v", err)
					}
				} else if c != nil {
					t.Errorf("Open returned a cache with error %v", err)
				}
			}()
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Open(%+v) (-want +got):\n%s", tc.opts, diff)
			}
		})
	}
	// A tiny or huge hash power or a huge heap must fail cleanly or work,
	// not panic or kill the process (the published fuzzer's hash power 5
	// tripped an assert). A tiny table may drop keys but never refuses a set.
	for _, opts := range []core.Options{{HashPower: 1}, {HashPower: 3}, {HashPower: 5}, {HashPower: 63},
		{HashPower: 200}, {HeapBytes: 1 << 62, SegmentBytes: core.MaxSegmentBytes}} {
		c, err := core.Open(opts)
		if err == nil {
			for i := 0; i < 1000; i++ {
				if err := c.Set([]byte(keyN("k", i)), []byte("v"), 0); err != nil {
					t.Errorf("Open(%+v) accepted, but Set #%d = %v", opts, i, err)
					break
				}
			}
			if n := c.Stats().Items; n > 1000 {
				t.Errorf("Open(%+v): %d items after 1000 distinct sets", opts, n)
			}
			c.Close()
			continue
		}
		if !errors.Is(err, core.ErrInvalid) && !errors.Is(err, core.ErrNoMemory) {
			t.Errorf("Open(%+v) = %v, want ErrInvalid or ErrNoMemory", opts, err)
		}
	}
}

func TestOptionsDefaultsReported(t *testing.T) {
	c := openT(t, core.Options{})
	s := c.Stats()
	got := []uint64{s.HeapBytes, s.SegmentsTotal, s.SegmentsFree, s.Items}
	want := []uint64{core.DefaultHeapBytes, core.DefaultHeapBytes / core.DefaultSegmentBytes, core.DefaultHeapBytes / core.DefaultSegmentBytes, 0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults [HeapBytes SegmentsTotal SegmentsFree Items] (-want +got):\n%s", diff)
	}
	if s.HashtableBytes == 0 {
		t.Errorf("Stats.HashtableBytes = 0")
	}
	c2 := openT(t, core.Options{HeapBytes: 3*4096 + 100, SegmentBytes: 4096})
	if got := c2.Stats(); got.HeapBytes != 3*4096 || got.SegmentsTotal != 3 {
		t.Errorf("heap rounded down: HeapBytes %d SegmentsTotal %d, want 12288, 3", got.HeapBytes, got.SegmentsTotal)
	}
}

func TestParsePolicy(t *testing.T) {
	all := []core.Policy{core.PolicyNone, core.PolicyRandom, core.PolicyRandomFIFO, core.PolicyFIFO,
		core.PolicyCTE, core.PolicyUtil, core.PolicyMerge, core.PolicyS3FIFO}
	for _, p := range all {
		for _, name := range []string{p.String(), strings.ToUpper(p.String()), strings.ReplaceAll(p.String(), "_", "-")} {
			got, err := core.ParsePolicy(name)
			if err != nil || got != p {
				t.Errorf("ParsePolicy(%q) = %v, %v; want %v", name, got, err, p)
			}
		}
	}
	for _, bad := range []string{"", "lru", "merge ", "Policy(3)"} {
		if _, err := core.ParsePolicy(bad); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("ParsePolicy(%q) error = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestClosed(t *testing.T) {
	c, err := core.Open(core.Options{HeapBytes: 1 << 20, SegmentBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	mustSet(t, c, "k", "v", 0)
	if err := c.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	before := c.Stats()
	k := []byte("k")
	_, n1 := c.Incr(k, 1)
	_, n2 := c.Decr(k, 1)
	_, _, n3 := c.GetInto(make([]byte, 8), k)
	got := map[string]string{
		"Close": errName(c.Close()), "Set": errName(c.Set(k, k, 0)), "Add": errName(c.Add(k, k, 0)),
		"Replace": errName(c.Replace(k, k, 0)), "CAS": errName(c.CAS(k, k, 0, 1)), "Delete": errName(c.Delete(k)),
		"Incr": errName(n1), "Decr": errName(n2), "GetInto": errName(n3), "Expire": errName(c.Expire()),
		"Clear": errName(c.Clear()),
	}
	want := map[string]string{}
	for name := range got {
		want[name] = "Closed"
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after Close (-want +got):\n%s", diff)
	}
	if v, found := c.Get(nil, k); found {
		t.Errorf("Get after Close = %q, true", v)
	}
	if _, _, found := c.GetCAS(nil, k); found {
		t.Errorf("GetCAS after Close found the key")
	}
	errs := make([]error, 1)
	c.GetBatch([][]byte{k}, [][]byte{make([]byte, 8)}, make([]int, 1), errs)
	if !errors.Is(errs[0], core.ErrClosed) {
		t.Errorf("GetBatch after Close: %v, want ErrClosed", errs[0])
	}
	// Lookups of a closed cache count as neither hit nor miss, whichever
	// call made them (Get, GetCAS and GetBatch counted a miss, GetInto
	// nothing).
	after := c.Stats()
	type lookups struct{ Gets, Hits, Misses uint64 }
	if diff := cmp.Diff(lookups{before.Gets, before.Hits, before.Misses}, lookups{after.Gets, after.Hits, after.Misses}); diff != "" {
		t.Errorf("lookups counted after Close (-before +after):\n%s", diff)
	}
	_ = c.Len()
}

// CAS tokens: stable while the item is unchanged, different after every
// write of the key (set, cas, incr, decr, replace, delete+add), and never
// accepted after the item is gone.
func TestCASTokens(t *testing.T) {
	c := openT(t, core.Options{HeapBytes: 1 << 20, SegmentBytes: 64 << 10, Eviction: core.PolicyNone})
	k := []byte("k")
	mustSet(t, c, "k", "1", 0)
	t1 := mustToken(t, c, "k")
	if t2 := mustToken(t, c, "k"); t2 != t1 {
		t.Fatalf("token changed between two gets: %d then %d", t1, t2)
	}
	if _, tk, _ := c.GetInto(make([]byte, 8), k); tk != t1 {
		t.Errorf("GetInto token %d != GetCAS token %d", tk, t1)
	}
	mustSet(t, c, "other", "x", 0)
	if t2 := mustToken(t, c, "k"); t2 != t1 {
		t.Errorf("token changed after a set of another key: %d then %d", t1, t2)
	}
	seen := map[uint64]string{t1: "set"}
	note := func(what string) uint64 {
		tk := mustToken(t, c, "k")
		if prev, dup := seen[tk]; dup {
			t.Errorf("token after %s equals the token after %s (%d)", what, prev, tk)
		}
		seen[tk] = what
		return tk
	}
	mustSet(t, c, "k", "1", 0) // same value: still a new version
	tSame := note("set-same-value")
	if err := c.CAS(k, []byte("2"), 0, t1); !errors.Is(err, core.ErrExists) {
		t.Errorf("CAS with the token before a set: %v, want ErrExists", err)
	}
	if err := c.CAS(k, []byte("2"), 0, tSame); err != nil {
		t.Fatalf("CAS with the current token: %v", err)
	}
	tCas := note("cas")
	if err := c.CAS(k, []byte("3"), 0, tSame); !errors.Is(err, core.ErrExists) {
		t.Errorf("second CAS with a consumed token: %v, want ErrExists", err)
	}
	if _, err := c.Incr(k, 1); err != nil {
		t.Fatal(err)
	}
	tIncr := note("incr")
	if err := c.CAS(k, []byte("x"), 0, tCas); !errors.Is(err, core.ErrExists) {
		t.Errorf("CAS with the token before an incr: %v, want ErrExists", err)
	}
	if _, err := c.Decr(k, 1); err != nil {
		t.Fatal(err)
	}
	note("decr")
	if err := c.CAS(k, []byte("x"), 0, tIncr); !errors.Is(err, core.ErrExists) {
		t.Errorf("CAS with the token before a decr: %v, want ErrExists", err)
	}
	if err := c.Replace(k, []byte("r"), 0); err != nil {
		t.Fatal(err)
	}
	tRep := note("replace")
	if err := c.Delete(k); err != nil {
		t.Fatal(err)
	}
	if err := c.CAS(k, []byte("x"), 0, tRep); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("CAS on a deleted key: %v, want ErrNotFound", err)
	}
	if err := c.Add(k, []byte("a"), 0); err != nil {
		t.Fatal(err)
	}
	note("delete+add")
	if err := c.CAS(k, []byte("x"), 0, tRep); !errors.Is(err, core.ErrExists) {
		t.Errorf("CAS with a token from before delete+add: %v, want ErrExists", err)
	}
	if v, _ := get(c, "k"); v != "a" {
		t.Errorf("value after rejected CASes = %q, want a", v)
	}
	if err := c.CAS([]byte("never"), []byte("x"), 0, t1); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("CAS on an absent key: %v, want ErrNotFound", err)
	}
}

// Guards against published-engine bugs (a CAS token survived a segment
// recycle; generations burned on reserve): a token must not survive the recycling of its item's
// place. Set k, take the token, Clear, set k again (very likely at the same
// place, as the cache is empty): the old token gives ErrExists. Repeated
// past 64 cycles, the width of the generation tag.
func TestCASTokenAfterClear(t *testing.T) {
	c := openT(t, smallOpts(core.PolicyMerge, 4))
	k := []byte("k")
	var old []uint64
	for i := 0; i < 70; i++ {
		mustSet(t, c, "k", "v"+strconv.Itoa(i), 0)
		tok := mustToken(t, c, "k")
		for j, o := range old {
			if o == tok {
				t.Fatalf("cycle %d: token %d repeats the token of cycle %d", i, tok, j)
			}
		}
		if len(old) > 0 {
			if err := c.CAS(k, []byte("stale"), 0, old[len(old)-1]); !errors.Is(err, core.ErrExists) {
				t.Fatalf("cycle %d: CAS with the token from before Clear = %v, want ErrExists", i, err)
			}
		}
		old = append(old, tok)
		if err := c.Clear(); err != nil {
			t.Fatal(err)
		}
		if _, found := get(c, "k"); found {
			t.Fatalf("cycle %d: key present after Clear", i)
		}
		if err := c.CAS(k, []byte("x"), 0, tok); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("cycle %d: CAS after Clear = %v, want ErrNotFound", i, err)
		}
	}
	mustSet(t, c, "k", "final", 0)
	for _, o := range old {
		if err := c.CAS(k, []byte("stale"), 0, o); !errors.Is(err, core.ErrExists) {
			t.Fatalf("a token from an earlier incarnation: CAS = %v, want ErrExists", err)
		}
	}
	if v, _ := get(c, "k"); v != "final" {
		t.Errorf("value = %q, want final", v)
	}
}

func TestClear(t *testing.T) {
	for _, p := range []core.Policy{core.PolicyNone, core.PolicyMerge, core.PolicyS3FIFO} {
		c := openT(t, core.Options{HeapBytes: 1 << 20, SegmentBytes: 16 << 10, Eviction: p})
		for i := 0; i < 2000; i++ {
			mustSet(t, c, keyN("k", i), strings.Repeat("v", i%200), time.Duration(i%3)*time.Hour)
		}
		if err := c.Clear(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2000; i++ {
			if _, found := get(c, keyN("k", i)); found {
				t.Fatalf("%v: k%d present after Clear", p, i)
			}
		}
		s := c.Stats()
		got := []uint64{s.Items, s.ItemBytes, s.SegmentsFree, uint64(c.Len())}
		want := []uint64{0, 0, s.SegmentsTotal, 0}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%v after Clear [Items ItemBytes SegmentsFree Len] (-want +got):\n%s", p, diff)
		}
		// The whole heap is usable again.
		for i := 0; i < 2000; i++ {
			mustSet(t, c, keyN("k", i), strings.Repeat("w", i%200), 0)
		}
		if v, found := get(c, "k1999"); !found || v != strings.Repeat("w", 1999%200) {
			t.Errorf("%v: after Clear and refill, Get = %q, %v", p, v, found)
		}
		sane(t, c.Stats())
	}
}

// PolicyNone: once full, writes fail with ErrNoSpace and everything written
// before stays readable.
func TestPolicyNoneFull(t *testing.T) {
	c := openT(t, smallOpts(core.PolicyNone, 4))
	var stored []string
	var err error
	for i := 0; i < 10000; i++ {
		k := keyN("key", i)
		if err = c.Set([]byte(k), mkVal(k, uint64(i), 100), 0); err != nil {
			break
		}
		stored = append(stored, k)
	}
	if !errors.Is(err, core.ErrNoSpace) {
		t.Fatalf("filling a PolicyNone cache ended with %v after %d items, want ErrNoSpace", err, len(stored))
	}
	// 4 segments of 4096 bytes hold 34 items of 120 bytes each.
	if len(stored) < 4*(4096/itemSize(7, 100))-2 {
		t.Errorf("only %d items stored before ErrNoSpace; 4 segments hold about %d", len(stored), 4*(4096/itemSize(7, 100)))
	}
	for i := 0; i < 3; i++ {
		if err := c.Set([]byte("more"), []byte("x"), 0); !errors.Is(err, core.ErrNoSpace) {
			t.Errorf("Set on a full PolicyNone cache = %v, want ErrNoSpace", err)
		}
	}
	for i, k := range stored {
		v, found := c.Get(nil, []byte(k))
		if !found {
			t.Fatalf("%s (item %d of %d) lost after ErrNoSpace", k, i, len(stored))
		}
		if seq, err := checkVal(k, v); err != nil || seq != uint64(i) {
			t.Fatalf("%s: seq %d err %v", k, seq, err)
		}
	}
	s := c.Stats()
	if s.Items != uint64(len(stored)) || s.EvictedItems != 0 || s.EvictedSegments != 0 {
		t.Errorf("Stats Items %d EvictedItems %d EvictedSegments %d; want %d, 0, 0",
			s.Items, s.EvictedItems, s.EvictedSegments, len(stored))
	}
}

// Every evicting policy keeps accepting writes when full (a cache drops, it
// does not refuse), and what it returns is always the latest value.
func TestEvictingPoliciesAcceptWrites(t *testing.T) {
	for _, p := range []core.Policy{core.PolicyRandom, core.PolicyRandomFIFO, core.PolicyFIFO, core.PolicyCTE,
		core.PolicyUtil, core.PolicyMerge, core.PolicyS3FIFO, core.PolicyDefault} {
		t.Run(p.String(), func(t *testing.T) {
			c := openT(t, smallOpts(p, 8))
			fails := 0
			for i := 0; i < 5000; i++ {
				k := keyN("k", i%700)
				if err := c.Set([]byte(k), mkVal(k, uint64(i), 40+i%90), time.Duration(i%2)*time.Hour); err != nil {
					fails++
					if fails == 1 {
						t.Errorf("Set #%d on a full %v cache: %v", i, p, err)
					}
				}
				if i%7 == 0 {
					c.Get(nil, []byte(keyN("k", (i*31)%700)))
				}
			}
			if fails > 0 {
				t.Errorf("%d of 5000 sets failed", fails)
			}
			present := 0
			for j := 0; j < 700; j++ {
				k := keyN("k", j)
				v, found := c.Get(nil, []byte(k))
				if !found {
					continue
				}
				present++
				seq, err := checkVal(k, v)
				if err != nil {
					t.Fatal(err)
				}
				// The last write of key j was at the largest i < 5000 with i%700 == j.
				last := uint64(j + 700*((4999-j)/700))
				if seq != last {
					t.Errorf("%s: got the value of write %d, the latest is %d", k, seq, last)
				}
			}
			s := c.Stats()
			sane(t, s)
			if s.Items != uint64(present) {
				t.Errorf("Stats.Items = %d, but %d keys are readable", s.Items, present)
			}
			if present == 0 || s.EvictedSegments == 0 && s.MergedSegments == 0 {
				t.Errorf("present %d, EvictedSegments %d, MergedSegments %d: the cache did not evict", present, s.EvictedSegments, s.MergedSegments)
			}
		})
	}
}

// Guards against a published-engine bug (FIFO evicted newest-first): FIFO evicts the oldest segment first. Segments are created at
// least 1.1 s apart (coarse clocks must still order them), one key at a
// time, so the evicted keys must be exactly a prefix of the write order.
func TestFIFOEvictsOldestFirst(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 7 s")
	}
	t.Parallel()
	const nseg = 4
	c := openT(t, smallOpts(core.PolicyFIFO, nseg))
	per := 4096 / itemSize(len("k1000"), 100) // items per segment
	phase := per - 4                          // less than a segment per phase: at most one new segment each
	var order []string
	for ph := 0; ph < 2*nseg; ph++ {
		if ph > 0 {
			time.Sleep(1100 * time.Millisecond)
		}
		for i := 0; i < phase; i++ {
			k := keyN("k", 1000+len(order))
			if err := c.Set([]byte(k), mkVal(k, 0, 100), 0); err != nil {
				t.Fatalf("phase %d: Set: %v", ph, err)
			}
			order = append(order, k)
		}
	}
	firstPresent := -1
	for i, k := range order {
		_, found := get(c, k)
		if found && firstPresent < 0 {
			firstPresent = i
		}
		if !found && firstPresent >= 0 {
			t.Fatalf("FIFO: %s (write #%d) was evicted although the older %s (write #%d) is still present",
				k, i, order[firstPresent], firstPresent)
		}
	}
	switch {
	case firstPresent < 0:
		t.Fatalf("every key was evicted, even the last written")
	case firstPresent == 0:
		t.Fatalf("nothing was evicted: %d items in %d segments", len(order), nseg)
	}
	t.Logf("FIFO: writes 0..%d evicted, %d..%d present", firstPresent-1, firstPresent, len(order)-1)
}

// Stats are exact once operations have returned.
func TestStatsExact(t *testing.T) {
	c := openT(t, core.Options{HeapBytes: 1 << 20, SegmentBytes: 64 << 10, Eviction: core.PolicyNone})
	var bytesLive uint64
	for i := 0; i < 100; i++ {
		k := keyN("key", i) // 4..5 bytes
		v := strings.Repeat("v", 10+i)
		mustSet(t, c, k, v, 0)
		bytesLive += uint64(8 + len(k) + len(v))
	}
	for i := 0; i < 50; i++ { // overwrite half with values of the same size
		mustSet(t, c, keyN("key", i), strings.Repeat("w", 10+i), 0)
	}
	for i := 90; i < 100; i++ {
		if err := c.Delete([]byte(keyN("key", i))); err != nil {
			t.Fatal(err)
		}
		bytesLive -= uint64(8 + len(keyN("key", i)) + 10 + i)
	}
	c.Delete([]byte("absent")) // not counted
	c.Add([]byte("key1"), []byte("x"), 0)
	hits, misses := 0, 0
	for i := 0; i < 120; i++ {
		if _, found := get(c, keyN("key", i)); found {
			hits++
		} else {
			misses++
		}
	}
	c.GetBatch([][]byte{[]byte("key1"), []byte("nope")}, [][]byte{make([]byte, 100), make([]byte, 100)}, make([]int, 2), make([]error, 2))
	s := c.Stats()
	sane(t, s)
	got := []uint64{s.Items, s.Sets, s.Deletes, s.Gets, s.Hits, s.Misses, uint64(c.Len())}
	want := []uint64{90, 150, 10, 122, uint64(hits) + 1, uint64(misses) + 1, 90}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("[Items Sets Deletes Gets Hits Misses Len] (-want +got):\n%s", diff)
	}
	// ItemBytes counts header, key and value, with or without the 8-byte
	// alignment padding: accept either.
	var aligned uint64
	for i := 0; i < 90; i++ {
		aligned += uint64(itemSize(len(keyN("key", i)), 10+i))
	}
	if s.ItemBytes != bytesLive && s.ItemBytes != aligned {
		t.Errorf("Stats.ItemBytes = %d, want %d (unaligned) or %d (aligned)", s.ItemBytes, bytesLive, aligned)
	}
	if s.SegmentsTotal != 16 || s.HeapBytes != 1<<20 {
		t.Errorf("SegmentsTotal %d HeapBytes %d", s.SegmentsTotal, s.HeapBytes)
	}
}

// The token a write returns (Store, IncrCAS, DecrCAS) is the one GetCAS
// then gives for the item it stored, for every op, plain and numeric
// values, and a CAS with it succeeds; a write that stores nothing returns
// 0 and its error.
func TestWriteReturnsItsToken(t *testing.T) {
	c := openT(t, core.Options{HeapBytes: 1 << 20, SegmentBytes: 64 << 10, Eviction: core.PolicyNone})
	type result struct {
		Err        string
		Token      bool // a non-zero token came back
		SameAsRead bool // it equals GetCAS's token afterwards
	}
	var prev uint64 // the token before each write, for StoreCAS
	store := func(op core.StoreOp, key, val string) func() (uint64, error) {
		return func() (uint64, error) {
			return c.Store(op, []byte(key), []byte(val), 0, prev)
		}
	}
	incr := func(key string) func() (uint64, error) {
		return func() (uint64, error) { _, tok, err := c.IncrCAS([]byte(key), 3); return tok, err }
	}
	decr := func(key string) func() (uint64, error) {
		return func() (uint64, error) { _, tok, err := c.DecrCAS([]byte(key), 1); return tok, err }
	}
	for _, tc := range []struct {
		name  string
		key   string
		write func() (uint64, error)
		want  result
	}{
		{"set, absent", "a", store(core.StoreSet, "a", "x"), result{"ok", true, true}},
		{"set, present", "a", store(core.StoreSet, "a", "y"), result{"ok", true, true}},
		{"set, number", "a", store(core.StoreSet, "a", "41"), result{"ok", true, true}},
		{"incr", "a", incr("a"), result{"ok", true, true}},
		{"decr", "a", decr("a"), result{"ok", true, true}},
		{"cas, current token", "a", store(core.StoreCAS, "a", "z"), result{"ok", true, true}},
		{"replace", "a", store(core.StoreReplace, "a", "7"), result{"ok", true, true}},
		{"add, present", "a", store(core.StoreAdd, "a", "w"), result{"Exists", false, false}},
		{"add, absent", "b", store(core.StoreAdd, "b", "12"), result{"ok", true, true}},
		{"cas, numeric item", "b", store(core.StoreCAS, "b", "13"), result{"ok", true, true}},
		{"replace, absent", "c", store(core.StoreReplace, "c", "x"), result{"NotFound", false, false}},
		{"cas, absent", "c", store(core.StoreCAS, "c", "x"), result{"NotFound", false, false}},
		{"incr, absent", "c", incr("c"), result{"NotFound", false, false}},
		{"incr, not a number", "a", func() (uint64, error) {
			mustSet(t, c, "a", "text", 0)
			return incr("a")()
		}, result{"NotNumeric", false, false}},
		{"unknown op", "a", store(core.StoreTouch+1, "a", "x"), result{"Invalid", false, false}},
	} {
		_, prev, _ = c.GetCAS(nil, []byte(tc.key))
		tok, err := tc.write()
		_, read, _ := c.GetCAS(nil, []byte(tc.key))
		got := result{errName(err), tok != 0, tok != 0 && tok == read}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: (-want +got)\n%s", tc.name, diff)
		}
		if err == nil && tok == prev {
			t.Errorf("%s: the write returned the token of the item before it", tc.name)
		}
		if err == nil {
			if err := c.CAS([]byte(tc.key), []byte("next"), 0, tok); err != nil {
				t.Errorf("%s: CAS with the returned token: %v", tc.name, err)
			}
			if err := c.CAS([]byte(tc.key), []byte("again"), 0, tok); !errors.Is(err, core.ErrExists) {
				t.Errorf("%s: a second CAS with the returned token: %v, want ErrExists", tc.name, err)
			}
			c.Set([]byte(tc.key), []byte("41"), 0) // back to a number for the next row
		}
	}
}

// A touch (Store with StoreTouch) stores the new value under the token it
// checked, as memcached's touch keeps an item's CAS unique: a CAS with
// that token then succeeds. Only a number that Incr changed in place and
// that the touch turns into no number gets a new token, and then neither
// that token nor the one before the increments is the new item's.
func TestTouchKeepsTheToken(t *testing.T) {
	c := openT(t, core.Options{HeapBytes: 1 << 20, SegmentBytes: 64 << 10, Eviction: core.PolicyNone})
	type result struct {
		Err   string
		Kept  bool // the touch returned the token it was given
		Read  bool // GetCAS gives the token the touch returned
		Value string
	}
	for _, tc := range []struct {
		name         string
		before, with string
		incr         bool   // Incr the number once before the touch
		token        uint64 // added to the current token
		want         result
	}{
		{"text to text", "x", "x with an expiry", false, 0, result{"ok", true, true, "x with an expiry"}},
		{"text to number", "text", "5", false, 0, result{"ok", true, true, "5"}},
		{"number to text", "5", "text", false, 0, result{"ok", true, true, "text"}},
		{"number to number", "5", "9", false, 0, result{"ok", true, true, "9"}},
		{"incremented number to number", "5", "9", true, 0, result{"ok", true, true, "9"}},
		{"incremented number to text", "5", "text", true, 0, result{"ok", false, true, "text"}},
		{"another token", "x", "y", false, 1, result{"Exists", false, false, "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := []byte(tc.name)
			mustSet(t, c, tc.name, tc.before, 0)
			_, first, _ := c.GetCAS(nil, key)
			if tc.incr {
				if _, err := c.Incr(key, 1); err != nil {
					t.Fatal(err)
				}
			}
			_, token, _ := c.GetCAS(nil, key)
			got, err := c.Store(core.StoreTouch, key, []byte(tc.with), time.Hour, token+tc.token)
			v, read, _ := c.GetCAS(nil, key)
			if diff := cmp.Diff(tc.want, result{errName(err), err == nil && got == token, err == nil && got == read, string(v)}); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
			if err != nil {
				return
			}
			if tc.incr && got == first {
				t.Errorf("the touch gave back the token from before the increment")
			}
			if err := c.CAS(key, []byte("next"), 0, got); err != nil {
				t.Errorf("CAS with the token the touch returned: %v", err)
			}
			// The stripe's stamps go on from where they were: the next
			// write's token is neither.
			if _, now, _ := c.GetCAS(nil, key); now == got || now == token {
				t.Errorf("the write after the touch has token %#x, the touch's %#x, before it %#x", now, got, token)
			}
		})
	}
	if _, err := c.Store(core.StoreTouch, []byte("absent"), []byte("x"), time.Hour, 1); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("touch of an absent key: %v, want ErrNotFound", err)
	}
}

// DeleteCAS removes the key only with its current token: ErrExists (and
// the item kept) with a token from before the last write, plain or
// numeric, ErrNotFound for an absent key.
func TestDeleteCAS(t *testing.T) {
	c := openT(t, core.Options{HeapBytes: 1 << 20, SegmentBytes: 64 << 10, Eviction: core.PolicyNone})
	k := []byte("k")
	type result struct {
		Err  string
		Kept bool
	}
	for _, tc := range []struct {
		name  string
		setup func() uint64 // writes k and returns the token to delete with
		want  result
	}{
		{"absent", func() uint64 { return 1 }, result{"NotFound", false}},
		{"current token", func() uint64 {
			tok, _ := c.Store(core.StoreSet, k, []byte("v"), 0, 0)
			return tok
		}, result{"ok", false}},
		{"token before a set", func() uint64 {
			tok, _ := c.Store(core.StoreSet, k, []byte("v"), 0, 0)
			mustSet(t, c, "k", "w", 0)
			return tok
		}, result{"Exists", true}},
		{"numeric, current token", func() uint64 {
			mustSet(t, c, "k", "5", 0)
			_, tok, _ := c.IncrCAS(k, 1)
			return tok
		}, result{"ok", false}},
		{"numeric, token before an incr", func() uint64 {
			tok, _ := c.Store(core.StoreSet, k, []byte("5"), 0, 0)
			c.Incr(k, 1)
			return tok
		}, result{"Exists", true}},
	} {
		c.Delete(k)
		before := c.Stats().Deletes
		tok := tc.setup()
		err := c.DeleteCAS(k, tok)
		_, kept := get(c, "k")
		if diff := cmp.Diff(tc.want, result{errName(err), kept}); diff != "" {
			t.Errorf("%s: (-want +got)\n%s", tc.name, diff)
		}
		if n := c.Stats().Deletes - before; (err == nil) != (n == 1) || n > 1 {
			t.Errorf("%s: %d deletes counted for %v", tc.name, n, err)
		}
	}
}
