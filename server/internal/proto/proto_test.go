package proto

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	k := func(s ...string) [][]byte {
		var out [][]byte
		for _, x := range s {
			out = append(out, []byte(x))
		}
		return out
	}
	tests := []struct {
		line string
		want Request
		err  error
	}{
		{"get a", Request{Op: OpGet, Keys: k("a")}, nil},
		{"gets a  b c", Request{Op: OpGets, Keys: k("a", "b", "c")}, nil},
		{"gat 10 a b", Request{Op: OpGat, Exptime: 10, Keys: k("a", "b")}, nil},
		{"gats -1 a", Request{Op: OpGats, Exptime: -1, Keys: k("a")}, nil},
		{"gat x a", Request{Op: OpGat}, ErrExptime},
		{"gat 10", Request{Op: OpGat, Exptime: 10, Keys: k()}, nil}, // memcached answers END
		{"gat", Request{Op: OpGat}, ErrUnknown},
		{"get", Request{Op: OpGet, Keys: k()}, ErrUnknown},
		{"get " + strings.Repeat("k", 251), Request{Op: OpGet}, ErrKeyTooLong},
		{"get a \r", Request{Op: OpGet}, ErrFormat},
		{"set a\x01 0 0 1", Request{Op: OpSet}, ErrFormat},
		{"ma \r k", Request{Op: OpMetaArith}, ErrFormat},
		{"delete \x7f", Request{Op: OpDelete}, ErrFormat},
		{"set a 1 2 3", Request{Op: OpSet, Key: []byte("a"), Flags: 1, Exptime: 2, Bytes: 3}, nil},
		{"set a 4294967295 -1 0 noreply", Request{Op: OpSet, Key: []byte("a"), Flags: 1<<32 - 1, Exptime: -1, Noreply: true}, nil},
		{"set a 4294967296 0 1", Request{Op: OpSet}, ErrFormat},
		{"set a 0 0 -1", Request{Op: OpSet, Key: []byte("a")}, ErrFormat},
		{"set a 0 0", Request{Op: OpSet}, ErrUnknown},                          // no form of set has 3 arguments: "ERROR"
		{"set a 0 0 1 2", Request{Op: OpSet, Key: []byte("a"), Bytes: 1}, nil}, // the last argument, not noreply, is ignored
		{"set a 0 0 1025", Request{Op: OpSet, Key: []byte("a"), Bytes: 1025}, ErrTooLarge},
		{"cas a 0 0 1 99", Request{Op: OpCAS, Key: []byte("a"), Bytes: 1, CAS: 99}, nil},
		{"cas a 0 0 1", Request{Op: OpCAS}, ErrUnknown},
		{"append a 0 0 1 noreply", Request{Op: OpAppend, Key: []byte("a"), Bytes: 1, Noreply: true}, nil},
		{"delete a", Request{Op: OpDelete, Key: []byte("a")}, nil},
		{"delete a 0 noreply", Request{Op: OpDelete, Key: []byte("a"), Noreply: true}, nil},
		{"delete a 1", Request{Op: OpDelete}, ErrDeleteUsage},
		{"delete", Request{Op: OpDelete}, ErrUnknown},
		{"delete a noreply", Request{Op: OpDelete, Key: []byte("a"), Noreply: true}, nil},
		{"incr a 18446744073709551615", Request{Op: OpIncr, Key: []byte("a"), Delta: 1<<64 - 1}, nil},
		{"incr a 18446744073709551616", Request{Op: OpIncr, Key: []byte("a")}, ErrDelta},
		{"decr a -1", Request{Op: OpDecr, Key: []byte("a")}, ErrDelta},
		{"touch a 5 noreply", Request{Op: OpTouch, Key: []byte("a"), Exptime: 5, Noreply: true}, nil},
		{"flush_all", Request{Op: OpFlushAll}, nil},
		{"flush_all 10 noreply", Request{Op: OpFlushAll, Delay: 10, Noreply: true}, nil},
		{"flush_all x", Request{Op: OpFlushAll}, ErrExptime},
		{"flush_all -5", Request{Op: OpFlushAll}, nil}, // now, as memcached
		{"flush_all 1 2 3", Request{Op: OpFlushAll}, ErrUnknown},
		{"touch a x", Request{Op: OpTouch, Key: []byte("a")}, ErrExptime},
		{"stats", Request{Op: OpStats}, nil},
		{"stats settings", Request{Op: OpStats, Arg: []byte("settings")}, nil},
		{"stats a b", Request{Op: OpStats, Arg: []byte("a"), Arg2: []byte("b")}, nil},
		{"stats reset noreply", Request{Op: OpStats, Arg: []byte("reset"), Arg2: []byte("noreply")}, nil},
		{"stats detail on x", Request{Op: OpStats, Arg: []byte("detail"), Arg2: []byte("on")}, nil},
		{"shutdown", Request{Op: OpShutdown}, nil},
		{"shutdown graceful", Request{Op: OpShutdown, Arg: []byte("graceful")}, nil},
		{"shutdown graceful now", Request{Op: OpShutdown, Arg: []byte("graceful now")}, nil},
		{"cache_memlimit 100", Request{Op: OpMemLimit, Level: 100}, nil},
		{"cache_memlimit 100 noreply", Request{Op: OpMemLimit, Level: 100, Noreply: true}, nil},
		{"cache_memlimit", Request{Op: OpMemLimit}, ErrUnknown},
		{"cache_memlimit abc", Request{Op: OpMemLimit}, ErrUnknown},
		{"cache_memlimit -1", Request{Op: OpMemLimit}, ErrUnknown},
		{"version extra", Request{Op: OpVersion}, nil},
		{"version noreply", Request{Op: OpVersion}, nil},
		{"quit", Request{Op: OpQuit}, nil},
		{"verbosity 1", Request{Op: OpVerbosity, Level: 1}, nil},
		{"verbosity noreply", Request{Op: OpVerbosity, Noreply: true}, nil},
		{"verbosity", Request{Op: OpVerbosity}, ErrUnknown},
		{"verbosity x", Request{Op: OpVerbosity}, ErrFormat},
		{"mg", Request{Op: OpMetaGet}, ErrUnknown},
		{"", Request{}, ErrUnknown},
		{"SET a 0 0 1", Request{}, ErrUnknown},
		{"set a 0 0 1 noreply x y z w", Request{Op: OpSet}, ErrUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			got, err := Parse([]byte(tc.line), nil, 1024)
			if err != tc.err {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if err != nil && err != ErrTooLarge {
				return // only the op (and Bytes for ErrTooLarge) matter then
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	const now = 1_700_000_000
	tests := []struct {
		exptime, secs int64
		expired       bool
	}{
		{0, 0, false},
		{-1, 0, true},
		{1, 1, false},
		{30 * 24 * 3600, 30 * 24 * 3600, false}, // the last relative value
		{30*24*3600 + 1, 0, true},               // absolute, in 1970
		{now, 0, true},
		{now + 60, 60, false},
	}
	for _, tc := range tests {
		secs, expired := Expiry(tc.exptime, now)
		if secs != tc.secs || expired != tc.expired {
			t.Errorf("Expiry(%d) = %d, %v; want %d, %v", tc.exptime, secs, expired, tc.secs, tc.expired)
		}
	}
}

// FuzzParse checks Parse on any line: no panic, and a request it accepts
// is well formed (keys within memcached's limit, slices inside the line,
// sizes within bounds). The seed corpus is testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"get a b c", "set k 0 0 5 noreply", "cas k 1 2 3 4", "incr k 1", "gat 1 k", "stats settings"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		const maxBytes = 1 << 20
		r, err := Parse(line, nil, maxBytes)
		if err != nil {
			if err == ErrTooLarge && r.Bytes <= maxBytes {
				t.Fatalf("ErrTooLarge with Bytes %d", r.Bytes)
			}
			return
		}
		if r.Op == 0 || int(r.Op) >= len(opNames) {
			t.Fatalf("accepted with op %d", r.Op)
		}
		inLine := func(b []byte) bool {
			return len(b) == 0 || bytes.Contains(line, b) && !bytes.ContainsRune(b, ' ')
		}
		for _, k := range append(r.Keys, r.Key) {
			if len(k) > MaxKeyLen || !inLine(k) {
				t.Fatalf("bad key %q", k)
			}
		}
		if r.Op.Storage() && (len(r.Key) == 0 || r.Bytes < 0 || r.Bytes > maxBytes) {
			t.Fatalf("bad storage request %+v", r)
		}
		if (r.Op == OpGet || r.Op == OpGets) && len(r.Keys) == 0 {
			t.Fatal("get without keys accepted") // (gat without keys is END, as in memcached)
		}
	})
}
