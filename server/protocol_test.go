package server

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/segcache/segcache/server/internal/binproto"
)

// step sends a request and expects exactly want back (nothing for "").
type step struct{ send, want string }

// runSteps plays the steps on one connection. A "version" after every
// step proves that a silent (noreply) command really sent nothing.
func runSteps(t *testing.T, c *client, steps []step) {
	t.Helper()
	for i, s := range steps {
		c.send(s.send + "version\r\n")
		want := s.want + "VERSION " + Version + "\r\n"
		if diff := cmp.Diff(want, c.readN(len(want))); diff != "" {
			t.Fatalf("step %d %q: reply (-want +got):\n%s", i, s.send, diff)
		}
	}
}

func TestProtocol(t *testing.T) {
	big := strings.Repeat("x", 3000) // larger than a batch slot
	tests := []struct {
		name  string
		steps []step
	}{
		{"set get", []step{
			{"set a 0 0 5\r\nhello\r\n", "STORED\r\n"},
			{"get a\r\n", "VALUE a 0 5\r\nhello\r\nEND\r\n"},
			{"get missing\r\n", "END\r\n"},
			{"set a 0 0 0\r\n\r\n", "STORED\r\n"},
			{"get a\r\n", "VALUE a 0 0\r\n\r\nEND\r\n"},
		}},
		{"flags kept", []step{
			{"set f 4294967295 0 3\r\nabc\r\n", "STORED\r\n"},
			{"get f\r\n", "VALUE f 4294967295 3\r\nabc\r\nEND\r\n"},
			{"set f 4294967296 0 3\r\nabc\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n"},
			{"set g 7 0 3\r\n\xfe\xff\x00\r\n", "STORED\r\n"},
			{"get g\r\n", "VALUE g 7 3\r\n\xfe\xff\x00\r\nEND\r\n"},
			{"set raw 0 0 2\r\n\xfc\x01\r\n", "STORED\r\n"},
			{"get raw\r\n", "VALUE raw 0 2\r\n\xfc\x01\r\nEND\r\n"},
		}},
		{"multi get in order, misses skipped, large value", []step{
			{"set k1 1 0 2\r\nv1\r\nset k3 3 0 2\r\nv3\r\n", "STORED\r\nSTORED\r\n"},
			{"set big 0 0 3000\r\n" + big + "\r\n", "STORED\r\n"},
			{"get k1 k2 big k3\r\n", "VALUE k1 1 2\r\nv1\r\nVALUE big 0 3000\r\n" + big + "\r\nVALUE k3 3 2\r\nv3\r\nEND\r\n"},
			{"get k1 k1\r\n", "VALUE k1 1 2\r\nv1\r\nVALUE k1 1 2\r\nv1\r\nEND\r\n"},
		}},
		{"add replace", []step{
			{"add a 0 0 1\r\n1\r\n", "STORED\r\n"},
			{"add a 0 0 1\r\n2\r\n", "NOT_STORED\r\n"},
			{"replace b 0 0 1\r\n3\r\n", "NOT_STORED\r\n"},
			{"replace a 5 0 1\r\n4\r\n", "STORED\r\n"},
			{"get a b\r\n", "VALUE a 5 1\r\n4\r\nEND\r\n"},
			{"add c 0 0 1 noreply\r\n5\r\nadd c 0 0 1 noreply\r\n6\r\nreplace d 0 0 1 noreply\r\n7\r\n", ""},
			{"get c d\r\n", "VALUE c 0 1\r\n5\r\nEND\r\n"},
		}},
		{"append prepend of blocks larger than the read buffer", []step{
			{"set big 0 0 20000\r\n" + strings.Repeat("a", 20000) + "\r\n", "STORED\r\n"},
			{"append big 0 0 20000\r\n" + strings.Repeat("b", 20000) + "\r\n", "STORED\r\n"},
			{"prepend big 0 0 20000\r\n" + strings.Repeat("c", 20000) + "\r\n", "STORED\r\n"},
			{"get big\r\n", "VALUE big 0 60000\r\n" + strings.Repeat("c", 20000) + strings.Repeat("a", 20000) + strings.Repeat("b", 20000) + "\r\nEND\r\n"},
		}},
		{"append prepend keep flags", []step{
			{"append a 0 0 1\r\nx\r\n", "NOT_STORED\r\n"},
			{"set a 9 0 2\r\nbc\r\n", "STORED\r\n"},
			{"append a 1 0 2\r\nde\r\n", "STORED\r\n"},
			{"prepend a 2 0 1\r\na\r\n", "STORED\r\n"},
			{"get a\r\n", "VALUE a 9 5\r\nabcde\r\nEND\r\n"},
			{"prepend a 0 0 1 noreply\r\n\xff\r\n", ""},
			{"get a\r\n", "VALUE a 9 6\r\n\xffabcde\r\nEND\r\n"},
			{"set r 0 0 1\r\nb\r\nprepend r 0 0 1\r\n\xfd\r\n", "STORED\r\nSTORED\r\n"},
			{"get r\r\n", "VALUE r 0 2\r\n\xfdb\r\nEND\r\n"},
			// Prepending nothing to a value that starts with a marker byte
			// keeps the byte (it is escaped by what it now starts with).
			{"set m 0 0 3\r\n\xfcab\r\nprepend m 0 0 0\r\n\r\nget m\r\n", "STORED\r\nSTORED\r\nVALUE m 0 3\r\n\xfcab\r\nEND\r\n"},
			{"set m 0 0 0\r\n\r\nappend m 0 0 2\r\n\xffz\r\nget m\r\n", "STORED\r\nSTORED\r\nVALUE m 0 2\r\n\xffz\r\nEND\r\n"},
		}},
		{"delete", []step{
			{"delete a\r\n", "NOT_FOUND\r\n"},
			{"set a 0 0 1\r\n1\r\n", "STORED\r\n"},
			{"delete a 0\r\n", "DELETED\r\n"},
			{"get a\r\n", "END\r\n"},
			{"set a 0 0 1\r\n1\r\ndelete a noreply\r\ndelete a noreply\r\n", "STORED\r\n"},
			// memcached's answers: no key is no command; a second argument
			// other than 0 or noreply gets the usage.
			{"delete\r\n", "ERROR\r\n"},
			{"delete a 5\r\n", "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n"},
			{"delete a 0 x\r\n", "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n"},
		}},
		{"incr decr", []step{
			{"incr n 1\r\n", "NOT_FOUND\r\n"},
			{"set n 0 0 2\r\n10\r\n", "STORED\r\n"},
			{"incr n 5\r\n", "15\r\n"},
			{"decr n 100\r\n", "0\r\n"},
			{"incr n 18446744073709551615\r\n", "18446744073709551615\r\n"},
			{"incr n 2\r\n", "1\r\n"}, // wraps at 2^64
			{"incr n -1\r\n", "CLIENT_ERROR invalid numeric delta argument\r\n"},
			{"incr n 1 noreply\r\n", ""},
			{"get n\r\n", "VALUE n 0 1\r\n2\r\nEND\r\n"},
			{"set s 0 0 3\r\nabc\r\n", "STORED\r\n"},
			{"incr s 1\r\n", "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"},
			// Numbers memcached accepts that are not the engine's canonical form.
			{"set z 3 0 3\r\n007\r\n", "STORED\r\n"},
			{"incr z 1\r\n", "8\r\n"},
			{"get z\r\n", "VALUE z 3 1\r\n8\r\nEND\r\n"},
			{"set p 0 0 3\r\n12 \r\ndecr p 3\r\n", "STORED\r\n9\r\n"},
			{"set q 0 0 3\r\n 12\r\nincr q 1\r\n", "STORED\r\n13\r\n"},
			{"set q 0 0 3\r\n 12\r\nincr q 1\r\n", "STORED\r\n13\r\n"},
			{"set e 0 100 1\r\n5\r\nincr e 1\r\n", "STORED\r\n6\r\n"},
		}},
		{"cas", []step{
			{"cas a 0 0 1 1\r\nx\r\n", "NOT_FOUND\r\n"},
			{"cas a 0 0 1 abc\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n"},
		}},
		{"touch", []step{
			{"touch a 10\r\n", "NOT_FOUND\r\n"},
			{"set a 3 0 1\r\nx\r\n", "STORED\r\n"},
			{"touch a 100\r\n", "TOUCHED\r\n"},
			{"get a\r\n", "VALUE a 3 1\r\nx\r\nEND\r\n"},
			{"touch a 100 noreply\r\n", ""},
			{"gat 0 a b\r\n", "VALUE a 3 1\r\nx\r\nEND\r\n"},
			{"touch a -1\r\n", "TOUCHED\r\n"},
			{"get a\r\n", "END\r\n"},
		}},
		{"already expired exptimes", []step{
			{"set a 0 0 1\r\n1\r\nset a 0 -1 1\r\n2\r\n", "STORED\r\nSTORED\r\n"},
			{"get a\r\n", "END\r\n"},
			{"add a 0 -1 1\r\n3\r\n", "STORED\r\n"},
			{"get a\r\n", "END\r\n"},
			{"set a 0 0 1\r\n1\r\nreplace a 0 1000000000 1\r\n2\r\n", "STORED\r\nSTORED\r\n"}, // 2001: past
			{"get a\r\n", "END\r\n"},
			{"replace a 0 -1 1\r\n2\r\n", "NOT_STORED\r\n"},
		}},
		{"flush_all", []step{
			{"set a 0 0 1\r\n1\r\nset b 0 0 1\r\n2\r\n", "STORED\r\nSTORED\r\n"},
			{"flush_all\r\n", "OK\r\n"},
			{"get a b\r\n", "END\r\n"},
			{"set a 0 0 1\r\n1\r\nflush_all noreply\r\n", "STORED\r\n"},
			{"get a\r\n", "END\r\n"},
			{"set a 0 0 1\r\n1\r\nflush_all -1\r\nget a\r\n", "STORED\r\nOK\r\nEND\r\n"}, // now, as memcached
			{"flush_all x\r\n", "CLIENT_ERROR invalid exptime argument\r\n"},
			{"flush_all 0 x\r\nflush_all 1 2 3\r\n", "OK\r\nERROR\r\n"},
		}},
		{"errors and odd input", []step{
			{"\r\n", "ERROR\r\n"},
			{"bogus\r\n", "ERROR\r\n"},
			{"get\r\n", "ERROR\r\n"},
			{"GET a\r\n", "ERROR\r\n"},
			// A number of arguments no form of the command takes is no
			// command, as memcached's dispatcher answers; in the longest
			// form a last argument other than noreply is ignored.
			{"set a 0 0\r\n", "ERROR\r\n"},
			{"set a 0 0 1 2 3\r\n", "ERROR\r\n"},
			{"set a 0 0 1 x\r\n1\r\n", "STORED\r\n"},
			{"incr a\r\ntouch a\r\ncas a 0 0 1\r\nverbosity\r\nmg\r\ngat\r\n", "ERROR\r\nERROR\r\nERROR\r\nERROR\r\nERROR\r\nERROR\r\n"},
			{"touch a x\r\ngat x a\r\n", "CLIENT_ERROR invalid exptime argument\r\nCLIENT_ERROR invalid exptime argument\r\n"},
			{"gat 10\r\ngats 10\r\n", "END\r\nEND\r\n"},
			{"set a 0 0 -1\r\n", "CLIENT_ERROR bad command line format\r\n"},
			{"set a 0 0 1\r\nxyz\r\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\n"},
			{"get " + strings.Repeat("k", 251) + "\r\n", "CLIENT_ERROR bad command line format\r\n"},
			{"set  a   0 0 1  \r\n1\r\n", "STORED\r\n"}, // extra spaces
			{"get a\n", "VALUE a 0 1\r\n1\r\nEND\r\n"},  // bare \n ends a line too
			{"verbosity 1\r\nverbosity x\r\nverbosity noreply\r\n", "OK\r\nCLIENT_ERROR bad command line format\r\n"},
			// As memcached's, an error on a line that ends in noreply is not
			// sent (the data line of the set is then a command: ERROR).
			{"incr a x noreply\r\ntouch a x noreply\r\nset a 0 x 1 noreply\r\nx\r\n", "ERROR\r\n"},
			{"stats nosuch\r\n", "ERROR\r\n"},
			{"stats reset\r\n", "RESET\r\n"},
			// memcached ignores what a stats group does not take, noreply too.
			{"stats reset noreply\r\nstats nosuch x\r\nstats noreply\r\n", "RESET\r\nERROR\r\nERROR\r\n"},
			{"stats detail\r\nstats detail x\r\n", "CLIENT_ERROR usage: stats detail on|off|dump\r\nCLIENT_ERROR usage: stats detail on|off|dump\r\n"},
			{"stats detail on\r\nstats detail dump\r\n", "SERVER_ERROR stats detail is not supported\r\nSERVER_ERROR stats detail is not supported\r\n"},
			// Refused as memcached refuses it without -A, whatever the mode.
			{"shutdown\r\nshutdown graceful\r\nshutdown x y\r\n", strings.Repeat("ERROR: shutdown not enabled\r\n", 3)},
			{"cache_memlimit 7\r\ncache_memlimit 64\r\ncache_memlimit 64 noreply\r\n",
				"MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\nSERVER_ERROR cache_memlimit is not supported: the memory is fixed at start (-m)\r\n"},
			{"cache_memlimit\r\ncache_memlimit x\r\n", "ERROR\r\nERROR\r\n"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, Config{})
			runSteps(t, ts.dial(), tc.steps)
		})
	}
}

var valueLine = regexp.MustCompile(`^VALUE (\S+) (\d+) (\d+) (\d+)\r\n$`)

// gets reads one item with its CAS unique.
func gets(t *testing.T, c *client, key string) (value string, cas uint64) {
	t.Helper()
	c.send("gets " + key + "\r\n")
	m := valueLine.FindStringSubmatch(c.line())
	if m == nil || m[1] != key {
		t.Fatalf("gets %s: bad VALUE line %q", key, m)
	}
	n, _ := strconv.Atoi(m[3])
	v := c.readN(n + 2)
	if end := c.line(); end != "END\r\n" {
		t.Fatalf("gets %s: %q after the value, want END", key, end)
	}
	cas, _ = strconv.ParseUint(m[4], 10, 64)
	return v[:n], cas
}

func TestCAS(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dial()
	runSteps(t, c, []step{{"set a 5 0 1\r\n1\r\n", "STORED\r\n"}})
	v, cas := gets(t, c, "a")
	if v != "1" {
		t.Fatalf("gets a = %q, want 1", v)
	}
	runSteps(t, c, []step{
		{fmt.Sprintf("cas a 6 0 1 %d\r\n2\r\n", cas+1), "EXISTS\r\n"},
		{fmt.Sprintf("cas a 6 0 1 %d\r\n2\r\n", cas), "STORED\r\n"},
		{fmt.Sprintf("cas a 6 0 1 %d\r\n3\r\n", cas), "EXISTS\r\n"},
		{"get a\r\n", "VALUE a 6 1\r\n2\r\nEND\r\n"},
	})
	_, cas = gets(t, c, "a")
	runSteps(t, c, []step{
		{fmt.Sprintf("cas a 0 0 1 %d noreply\r\n4\r\n", cas), ""},
		{"get a\r\n", "VALUE a 0 1\r\n4\r\nEND\r\n"},
	})
	// A cas whose exptime is past swaps (the token matched) and leaves
	// the key absent.
	_, cas = gets(t, c, "a")
	runSteps(t, c, []step{
		{fmt.Sprintf("cas a 0 -1 1 %d\r\n5\r\n", cas), "STORED\r\n"},
		{"get a\r\n", "END\r\n"},
	})
	// incr changes the unique (the engine's token covers in-place updates).
	runSteps(t, c, []step{{"set n 0 0 1\r\n1\r\n", "STORED\r\n"}})
	_, cas = gets(t, c, "n")
	runSteps(t, c, []step{
		{"incr n 1\r\n", "2\r\n"},
		{fmt.Sprintf("cas n 0 0 1 %d\r\n9\r\n", cas), "EXISTS\r\n"},
	})
}

// TestExpiry waits for real expiry: the engine never returns an item
// after its TTL, so the absence after the wait cannot be a timing fluke;
// the presence check comes right after the set with a TTL far longer than
// any stall.
func TestExpiry(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dial()
	abs := time.Now().Unix() + 1
	runSteps(t, c, []step{
		{"set rel 1 1 1\r\nr\r\n", "STORED\r\n"},
		{fmt.Sprintf("set abs 2 %d 1\r\na\r\n", abs), "STORED\r\n"},
		{"set long 3 3600 1\r\nl\r\n", "STORED\r\n"},
		{"set t 0 0 1\r\nt\r\ntouch t 1\r\n", "STORED\r\nTOUCHED\r\n"},
		{"set app 0 1 1\r\nx\r\nappend app 0 0 1\r\ny\r\n", "STORED\r\nSTORED\r\n"},
		{"get long\r\n", "VALUE long 3 1\r\nl\r\nEND\r\n"},
	})
	time.Sleep(2100 * time.Millisecond)
	runSteps(t, c, []step{
		{"get rel abs t app\r\n", "END\r\n"},
		{"append app 0 0 1\r\nz\r\n", "NOT_STORED\r\n"},
		{"get long\r\n", "VALUE long 3 1\r\nl\r\nEND\r\n"},
	})
}

func TestStats(t *testing.T) {
	ts := startServer(t, Config{Settings: [][2]string{{"tcpport", "1234"}}})
	c := ts.dial()
	runSteps(t, c, []step{
		{"set a 0 0 1\r\n1\r\nget a b\r\ndelete b\r\nincr a 1\r\n", "STORED\r\nVALUE a 0 1\r\n1\r\nEND\r\nNOT_FOUND\r\n2\r\n"},
		{"incr b 1\r\ndecr a 1\r\nma b MD\r\nma a MD q\r\n", "NOT_FOUND\r\n1\r\nNF\r\n"},
		// Counted as memcached counts them: a gat key and an mg T hit as
		// touches, an mg T miss as a get; a touch, an incr and a created
		// counter are no stored item but the counter is one, not an incr
		// hit; md with a wrong token is a delete miss.
		{"gat 0 a b\r\ntouch a 0\r\nmg a T0\r\nmg b T0\r\nma c N0 J1 q\r\nmd a C1\r\n", "VALUE a 0 1\r\n0\r\nEND\r\nTOUCHED\r\nHD\r\nEN\r\nHD\r\nEX\r\n"},
	})
	got := statsOf(t, c, "stats\r\n")
	for name, want := range map[string]string{
		"cmd_get": "3", "get_hits": "1", "get_misses": "2", "cmd_set": "1", "total_items": "2",
		"cmd_touch": "4", "touch_hits": "3", "touch_misses": "1",
		"delete_misses": "2", "incr_hits": "1", "incr_misses": "1", "decr_hits": "2", "decr_misses": "1",
		"curr_items": "2", "curr_connections": "1",
		"version": Version, "segcache_items": "2", "segcache_hashtable_growths": "0", "segcache_segments_retired": "0",
	} {
		if got[name] != want {
			t.Errorf("stat %s = %q, want %q", name, got[name], want)
		}
	}
	if s := statsOf(t, c, "stats settings\r\n"); s["tcpport"] != "1234" || s["maxconns"] != strconv.Itoa(DefaultMaxConns) {
		t.Errorf("stats settings: tcpport %q maxconns %q", s["tcpport"], s["maxconns"])
	}
	// The slab groups monitoring tools poll answer as a memcached with no
	// slab class: the engine has none. Two items hold one 1 MiB segment.
	if s := statsOf(t, c, "stats items\r\n"); len(s) != 0 {
		t.Errorf("stats items: %v", s)
	}
	if diff := cmp.Diff(map[string]string{"active_slabs": "0", "total_malloced": strconv.Itoa(1 << 20)}, statsOf(t, c, "stats slabs\r\n")); diff != "" {
		t.Errorf("stats slabs (-want +got):\n%s", diff)
	}
	if s := statsOf(t, c, "stats sizes\r\n"); s["sizes_status"] != "disabled" {
		t.Errorf("stats sizes: %v", s)
	}
}

func statsOf(t *testing.T, c *client, cmd string) map[string]string {
	t.Helper()
	c.send(cmd)
	m := map[string]string{}
	for {
		l := c.line()
		if l == "END\r\n" {
			return m
		}
		f := strings.Fields(l)
		if len(f) < 3 || f[0] != "STAT" {
			t.Fatalf("bad stats line %q", l)
		}
		m[f[1]] = strings.Join(f[2:], " ")
	}
}

// TestFlushAllFarInTheFuture: a flush_all whose time is an absolute Unix
// time centuries away (more seconds than a time.Duration holds in
// nanoseconds) flushes nothing now; the delay overflowed, and "flush_all
// 9000000000000" emptied the cache at once (memcached 1.6.18 keeps the
// item too). The binary flush's 32-bit delay cannot overflow, but is
// checked alongside.
func TestFlushAllFarInTheFuture(t *testing.T) {
	ts := startServer(t, Config{})
	runSteps(t, ts.dial(), []step{
		{"set a 0 0 1\r\nx\r\nflush_all 9000000000000\r\nget a\r\n", "STORED\r\nOK\r\nVALUE a 0 1\r\nx\r\nEND\r\n"},
		{"flush_all 9223372036854775807\r\nget a\r\n", "OK\r\nVALUE a 0 1\r\nx\r\nEND\r\n"},
	})
	runBinSteps(t, ts.dial(), []binStep{
		{pkt{Op: binproto.OpFlush, Extras: be32(0xffffffff)}, []pkt{{Op: binproto.OpFlush}}},
		{pkt{Op: binproto.OpGet, Key: "a"}, []pkt{{Op: binproto.OpGet, Extras: be32(0), Value: "x", HasCAS: true}}},
	})
}

// "stats conns" lists the listener and every connection, as memcached's
// names do, and a connection's idle seconds grow with the clock.
func TestStatsConns(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix())
	ts := startServer(t, Config{Now: func() time.Time { return time.Unix(now.Load(), 0) }})
	a, b := ts.dial(), ts.dial()
	runSteps(t, a, []step{{"set k 0 0 1\r\n1\r\n", "STORED\r\n"}})
	runSteps(t, b, []step{{"get k\r\n", "VALUE k 0 1\r\n1\r\nEND\r\n"}})
	now.Add(7)
	runSteps(t, b, []step{{"mn\r\n", "MN\r\n"}})
	got := statsOf(t, b, "stats conns\r\n")
	want := map[string]string{
		"0:addr":  "tcp:" + ts.addr,
		"0:state": "conn_listening",
	}
	for i, c := range []*client{a, b} {
		id := strconv.Itoa(i+1) + ":"
		want[id+"addr"] = "tcp:" + c.nc.LocalAddr().String()
		want[id+"listen_addr"] = "tcp:" + ts.addr
		want[id+"secs_since_last_cmd"] = []string{"7", "0"}[i]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stats conns (-want +got):\n%s", diff)
	}
}

// With Config.EnableShutdown, "shutdown" (or "shutdown graceful") closes
// the connection without a reply and closes ShutdownRequested's channel;
// another mode is refused, and the server keeps serving until the program
// shuts it down.
func TestShutdownCommand(t *testing.T) {
	ts := startServer(t, Config{EnableShutdown: true})
	c := ts.dial()
	runSteps(t, c, []step{
		{"shutdown now\r\nshutdown a b\r\n", "CLIENT_ERROR invalid shutdown mode\r\nCLIENT_ERROR invalid shutdown mode\r\n"},
	})
	select {
	case <-ts.srv.ShutdownRequested():
		t.Fatal("shutdown requested by an invalid mode")
	default:
	}
	if s := statsOf(t, c, "stats settings\r\n"); s["shutdown_command"] != "yes" {
		t.Errorf("stats settings: shutdown_command %q, want yes", s["shutdown_command"])
	}
	for _, cmd := range []string{"shutdown\r\n", "shutdown graceful\r\n"} {
		d := ts.dial()
		d.send(cmd)
		if !d.closed() {
			t.Errorf("%q: the connection stayed open", cmd)
		}
		select {
		case <-ts.srv.ShutdownRequested():
		case <-time.After(ioTimeout):
			t.Fatalf("%q: ShutdownRequested not closed", cmd)
		}
	}
	runSteps(t, c, []step{{"set k 0 0 1\r\n1\r\n", "STORED\r\n"}}) // still serving
}
