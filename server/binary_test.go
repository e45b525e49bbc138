package server

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/segcache/segcache/server/internal/binproto"
)

// pkt is a binary request to send or a response as the tests compare it:
// CAS tokens are the engine's, so a response only says whether it had one.
type pkt struct {
	Op                 binproto.Opcode
	Status             binproto.Status
	Extras, Key, Value string
	CAS                uint64 // sent with a request
	HasCAS             bool   // a response carried a token
	Opaque             uint32
}

func (p pkt) bytes() []byte {
	b := binproto.AppendRequest(nil, binproto.Header{
		Opcode: p.Op, KeyLen: uint16(len(p.Key)), ExtrasLen: uint8(len(p.Extras)),
		BodyLen: uint32(len(p.Extras) + len(p.Key) + len(p.Value)), Opaque: p.Opaque, CAS: p.CAS,
	})
	return append(b, p.Extras+p.Key+p.Value...)
}

// readPkt reads one response packet.
func (c *client) readPkt() (pkt, uint64) {
	c.t.Helper()
	hb := c.readN(binproto.HeaderLen)
	if hb[0] != binproto.MagicResponse {
		c.t.Fatalf("response magic %#x", hb[0])
	}
	b := []byte(hb)
	klen, elen := binary.BigEndian.Uint16(b[2:]), int(b[4])
	body := c.readN(int(binary.BigEndian.Uint32(b[8:])))
	cas := binary.BigEndian.Uint64(b[16:])
	return pkt{
		Op: binproto.Opcode(b[1]), Status: binproto.Status(binary.BigEndian.Uint16(b[6:])),
		Extras: body[:elen], Key: body[elen : elen+int(klen)], Value: body[elen+int(klen):],
		HasCAS: cas != 0, Opaque: binary.BigEndian.Uint32(b[12:]),
	}, cas
}

// be32 and be64 are big-endian extras.
func be32(v uint32) string { return string(binary.BigEndian.AppendUint32(nil, v)) }
func be64(v uint64) string { return string(binary.BigEndian.AppendUint64(nil, v)) }

// setExtras are a store's extras: flags and exptime.
func setExtras(flags, exptime uint32) string { return be32(flags) + be32(exptime) }

// arithExtras are incr/decr's extras: delta, initial value, exptime.
func arithExtras(delta, initial uint64, exptime uint32) string {
	return be64(delta) + be64(initial) + be32(exptime)
}

// binStep sends a packet and expects the responses want; a noop after it
// proves that a quiet command said nothing more.
type binStep struct {
	send pkt
	want []pkt
}

func runBinSteps(t *testing.T, c *client, steps []binStep) {
	t.Helper()
	for i, s := range steps {
		c.nc.Write(append(s.send.bytes(), pkt{Op: binproto.OpNoop, Opaque: 0xfeed}.bytes()...))
		var got []pkt
		for {
			p, _ := c.readPkt()
			if p.Op == binproto.OpNoop && p.Opaque == 0xfeed {
				break
			}
			got = append(got, p)
		}
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Fatalf("step %d (opcode %#x key %q): responses (-want +got):\n%s", i, s.send.Op, s.send.Key, diff)
		}
	}
}

func ok(op binproto.Opcode) pkt { return pkt{Op: op, HasCAS: true} }

func fail(op binproto.Opcode, st binproto.Status) pkt {
	return pkt{Op: op, Status: st, Value: st.Message()}
}

func TestBinaryProtocol(t *testing.T) {
	const (
		get, getk, getq, getkq = binproto.OpGet, binproto.OpGetK, binproto.OpGetQ, binproto.OpGetKQ
		set, setq, add, addq   = binproto.OpSet, binproto.OpSetQ, binproto.OpAdd, binproto.OpAddQ
		replace, del, delq     = binproto.OpReplace, binproto.OpDelete, binproto.OpDeleteQ
		incr, decr, incrq      = binproto.OpIncrement, binproto.OpDecrement, binproto.OpIncrementQ
		appnd, prepend         = binproto.OpAppend, binproto.OpPrepend
	)
	flags7 := be32(7)
	tests := []struct {
		name  string
		steps []binStep
	}{
		{"set get getk, flags kept, opaque echoed", []binStep{
			{pkt{Op: set, Key: "a", Extras: setExtras(7, 0), Value: "hello", Opaque: 42}, []pkt{{Op: set, HasCAS: true, Opaque: 42}}},
			{pkt{Op: get, Key: "a"}, []pkt{{Op: get, Extras: flags7, Value: "hello", HasCAS: true}}},
			{pkt{Op: getk, Key: "a"}, []pkt{{Op: getk, Extras: flags7, Key: "a", Value: "hello", HasCAS: true}}},
			{pkt{Op: get, Key: "nope"}, []pkt{fail(get, binproto.StatusNotFound)}},
			{pkt{Op: getk, Key: "nope"}, []pkt{{Op: getk, Status: binproto.StatusNotFound, Key: "nope"}}},
		}},
		{"quiet gets answer hits only", []binStep{
			{pkt{Op: setq, Key: "q", Extras: setExtras(0, 0), Value: "v"}, nil},
			{pkt{Op: getq, Key: "q"}, []pkt{{Op: getq, Extras: be32(0), Value: "v", HasCAS: true}}},
			{pkt{Op: getq, Key: "nope"}, nil},
			{pkt{Op: getkq, Key: "q"}, []pkt{{Op: getkq, Extras: be32(0), Key: "q", Value: "v", HasCAS: true}}},
			{pkt{Op: getkq, Key: "nope"}, nil},
		}},
		{"add replace, quiet errors still answered", []binStep{
			{pkt{Op: add, Key: "b", Extras: setExtras(0, 0), Value: "1"}, []pkt{ok(add)}},
			{pkt{Op: add, Key: "b", Extras: setExtras(0, 0), Value: "2"}, []pkt{fail(add, binproto.StatusExists)}},
			{pkt{Op: addq, Key: "b", Extras: setExtras(0, 0), Value: "2"}, []pkt{fail(addq, binproto.StatusExists)}},
			{pkt{Op: replace, Key: "nope", Extras: setExtras(0, 0), Value: "2"}, []pkt{fail(replace, binproto.StatusNotFound)}},
			{pkt{Op: replace, Key: "b", Extras: setExtras(0, 0), Value: "3"}, []pkt{ok(replace)}},
			{pkt{Op: get, Key: "b"}, []pkt{{Op: get, Extras: be32(0), Value: "3", HasCAS: true}}},
		}},
		{"append prepend keep flags", []binStep{
			{pkt{Op: set, Key: "c", Extras: setExtras(7, 0), Value: "mid"}, []pkt{ok(set)}},
			{pkt{Op: appnd, Key: "c", Value: ">"}, []pkt{ok(appnd)}},
			{pkt{Op: prepend, Key: "c", Value: "<"}, []pkt{ok(prepend)}},
			{pkt{Op: get, Key: "c"}, []pkt{{Op: get, Extras: flags7, Value: "<mid>", HasCAS: true}}},
			{pkt{Op: appnd, Key: "nope", Value: "x"}, []pkt{fail(appnd, binproto.StatusNotStored)}},
		}},
		{"delete", []binStep{
			{pkt{Op: set, Key: "d", Extras: setExtras(0, 0), Value: "x"}, []pkt{ok(set)}},
			{pkt{Op: delq, Key: "d"}, nil},
			{pkt{Op: del, Key: "d"}, []pkt{fail(del, binproto.StatusNotFound)}},
			{pkt{Op: delq, Key: "d"}, []pkt{fail(delq, binproto.StatusNotFound)}},
		}},
		{"incr decr: create, count, no-create, non-numeric", []binStep{
			{pkt{Op: incr, Key: "n", Extras: arithExtras(5, 10, 0xffffffff)}, []pkt{fail(incr, binproto.StatusNotFound)}},
			{pkt{Op: incr, Key: "n", Extras: arithExtras(5, 10, 0)}, []pkt{{Op: incr, Value: be64(10), HasCAS: true}}},
			{pkt{Op: incr, Key: "n", Extras: arithExtras(5, 10, 0)}, []pkt{{Op: incr, Value: be64(15), HasCAS: true}}},
			{pkt{Op: decr, Key: "n", Extras: arithExtras(20, 0, 0)}, []pkt{{Op: decr, Value: be64(0), HasCAS: true}}},
			{pkt{Op: incrq, Key: "n", Extras: arithExtras(3, 0, 0)}, nil},
			{pkt{Op: get, Key: "n"}, []pkt{{Op: get, Extras: be32(0), Value: "3", HasCAS: true}}},
			{pkt{Op: set, Key: "s", Extras: setExtras(0, 0), Value: "abc"}, []pkt{ok(set)}},
			{pkt{Op: incr, Key: "s", Extras: arithExtras(1, 0, 0)}, []pkt{fail(incr, binproto.StatusNonNumeric)}},
		}},
		{"touch and gat", []binStep{
			{pkt{Op: set, Key: "t", Extras: setExtras(7, 0), Value: "x"}, []pkt{ok(set)}},
			{pkt{Op: binproto.OpTouch, Key: "t", Extras: be32(100)}, []pkt{{Op: binproto.OpTouch, Extras: flags7, HasCAS: true}}},
			{pkt{Op: binproto.OpGATK, Key: "t", Extras: be32(100)}, []pkt{{Op: binproto.OpGATK, Extras: flags7, Key: "t", Value: "x", HasCAS: true}}},
			{pkt{Op: binproto.OpTouch, Key: "nope", Extras: be32(100)}, []pkt{fail(binproto.OpTouch, binproto.StatusNotFound)}},
			{pkt{Op: binproto.OpGATQ, Key: "nope", Extras: be32(100)}, nil},
			// A past exptime (an absolute time in 1970) expires the item.
			{pkt{Op: binproto.OpTouch, Key: "t", Extras: be32(30*24*3600 + 1)}, []pkt{{Op: binproto.OpTouch, Extras: flags7, HasCAS: true}}},
			{pkt{Op: get, Key: "t"}, []pkt{fail(get, binproto.StatusNotFound)}},
		}},
		{"bad requests get a status and the stream goes on", []binStep{
			{pkt{Op: 0x50, Key: "k", Value: "body"}, []pkt{fail(0x50, binproto.StatusUnknown)}},
			{pkt{Op: set, Key: "k", Value: "no extras"}, []pkt{fail(set, binproto.StatusInvalid)}},
			{pkt{Op: get}, []pkt{fail(get, binproto.StatusInvalid)}},
			{pkt{Op: get, Key: strings.Repeat("k", 251)}, []pkt{fail(get, binproto.StatusInvalid)}},
			{pkt{Op: set, Key: "big", Extras: setExtras(0, 0), Value: strings.Repeat("x", DefaultMaxItem+1)}, []pkt{fail(set, binproto.StatusTooLarge)}},
			{pkt{Op: get, Key: "big"}, []pkt{fail(get, binproto.StatusNotFound)}},
		}},
		{"version flush verbosity", []binStep{
			{pkt{Op: binproto.OpVersion}, []pkt{{Op: binproto.OpVersion, Value: Version}}},
			{pkt{Op: set, Key: "f", Extras: setExtras(0, 0), Value: "x"}, []pkt{ok(set)}},
			{pkt{Op: binproto.OpFlushQ}, nil},
			{pkt{Op: get, Key: "f"}, []pkt{fail(get, binproto.StatusNotFound)}},
			{pkt{Op: binproto.OpFlush, Extras: be32(0)}, []pkt{{Op: binproto.OpFlush}}},
			{pkt{Op: binproto.OpVerbosity, Extras: be32(1)}, []pkt{{Op: binproto.OpVerbosity}}},
			{pkt{Op: binproto.OpStat, Key: "nope"}, []pkt{fail(binproto.OpStat, binproto.StatusNotFound)}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, Config{})
			runBinSteps(t, ts.dial(), tt.steps)
		})
	}
}

// TestBinaryCAS covers the header's CAS on set, append, delete and incr.
func TestBinaryCAS(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dial()
	send := func(p pkt) (pkt, uint64) {
		t.Helper()
		c.nc.Write(p.bytes())
		return c.readPkt()
	}
	_, cas := send(pkt{Op: binproto.OpSet, Key: "k", Extras: setExtras(0, 0), Value: "1"})
	if cas == 0 {
		t.Fatal("set returned no CAS token")
	}
	tests := []struct {
		name string
		p    pkt
		want binproto.Status
	}{
		{"set with a stale token", pkt{Op: binproto.OpSet, Key: "k", Extras: setExtras(0, 0), Value: "2", CAS: cas + 1}, binproto.StatusExists},
		{"append with a stale token", pkt{Op: binproto.OpAppend, Key: "k", Value: "2", CAS: cas + 1}, binproto.StatusExists},
		{"delete with a stale token", pkt{Op: binproto.OpDelete, Key: "k", CAS: cas + 1}, binproto.StatusExists},
		{"incr with a stale token", pkt{Op: binproto.OpIncrement, Key: "k", Extras: arithExtras(1, 0, 0xffffffff), CAS: cas + 1}, binproto.StatusExists},
		{"set with a token of a missing key", pkt{Op: binproto.OpSet, Key: "nope", Extras: setExtras(0, 0), Value: "2", CAS: cas}, binproto.StatusNotFound},
		{"set with the token", pkt{Op: binproto.OpSet, Key: "k", Extras: setExtras(0, 0), Value: "2", CAS: cas}, binproto.StatusOK},
	}
	for _, tt := range tests {
		got, newCAS := send(tt.p)
		if got.Status != tt.want {
			t.Fatalf("%s: status %#x, want %#x", tt.name, got.Status, tt.want)
		}
		if got.Status == binproto.StatusOK {
			cas = newCAS
		}
	}
	if got, _ := send(pkt{Op: binproto.OpGet, Key: "k"}); got.Value != "2" {
		t.Fatalf("after the swaps: %q, want \"2\"", got.Value)
	}
	if got, _ := send(pkt{Op: binproto.OpAppend, Key: "k", Value: "3", CAS: cas}); got.Status != binproto.StatusOK {
		t.Fatalf("append with the token: status %#x", got.Status)
	}
	_, cas = send(pkt{Op: binproto.OpGet, Key: "k"})
	if got, _ := send(pkt{Op: binproto.OpDelete, Key: "k", CAS: cas}); got.Status != binproto.StatusOK {
		t.Fatalf("delete with the token: status %#x", got.Status)
	}
	if got, _ := send(pkt{Op: binproto.OpGet, Key: "k"}); got.Status != binproto.StatusNotFound {
		t.Fatalf("after the delete: status %#x, want not found", got.Status)
	}
}

// binStats sends a stat request for group (empty: the general stats) and
// returns the named values of the packets up to the empty one that ends
// them.
func binStats(c *client, group string) map[string]string {
	c.nc.Write(pkt{Op: binproto.OpStat, Key: group}.bytes())
	stats := map[string]string{}
	for {
		p, _ := c.readPkt()
		if p.Key == "" {
			return stats
		}
		stats[p.Key] = p.Value
	}
}

// TestBinaryStatsQuitAndTextInterop: stat streams named values ending in an
// empty packet; an item stored in binary reads the same in text; quit
// answers and closes; a packet without the request magic closes.
func TestBinaryStatsQuitAndTextInterop(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dial()
	c.nc.Write(pkt{Op: binproto.OpSet, Key: "x", Extras: setExtras(9, 0), Value: "val"}.bytes())
	c.readPkt()
	stats := binStats(c, "")
	if stats["cmd_set"] != "1" || stats["curr_items"] != "1" {
		t.Fatalf("stats: cmd_set %q curr_items %q, want 1 and 1", stats["cmd_set"], stats["curr_items"])
	}
	// A group by its key, as in text: "conns" names this connection.
	conns := binStats(c, "conns")
	if got, want := conns["1:addr"], "tcp:"+c.nc.LocalAddr().String(); got != want {
		t.Fatalf("stats conns: 1:addr %q, want %q (all: %v)", got, want, conns)
	}

	text := ts.dial()
	text.send("get x\r\n")
	if diff := cmp.Diff("VALUE x 9 3\r\nval\r\nEND\r\n", text.readN(len("VALUE x 9 3\r\nval\r\nEND\r\n"))); diff != "" {
		t.Fatalf("text get of a binary set (-want +got):\n%s", diff)
	}

	c.nc.Write(pkt{Op: binproto.OpQuit, Opaque: 5}.bytes())
	if p, _ := c.readPkt(); p.Op != binproto.OpQuit || p.Opaque != 5 {
		t.Fatalf("quit answered %+v", p)
	}
	if !c.closed() {
		t.Fatal("connection still open after quit")
	}

	bad := ts.dial()
	bad.nc.Write(pkt{Op: binproto.OpNoop}.bytes())
	bad.readPkt()
	// Text on a binary connection: a header-long packet with a bad magic.
	bad.send("get x\r\nget x\r\nget x\r\nget\r\n")
	if !bad.closed() {
		t.Fatal("connection still open after a packet without the request magic")
	}
}

// TestBinaryAddWithCAS: the binary protocol's CAS makes every store
// conditional on the item's token ("if the CAS is nonzero, the requested
// operation MUST only succeed if the item exists and has a CAS value
// identical to the provided value"), add included, and memcached 1.6.18
// runs an add with one as a cas: not found on a missing key, stored over
// the item whose token it carries, exists over another. segcached ran it
// as a plain add, so an ADDQ with a token created a missing key silently.
func TestBinaryAddWithCAS(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dial()
	c.nc.Write(pkt{Op: binproto.OpSet, Key: "k", Extras: setExtras(0, 0), Value: "1"}.bytes())
	_, cas := c.readPkt()
	add, addq := binproto.OpAdd, binproto.OpAddQ
	runBinSteps(t, c, []binStep{
		{pkt{Op: add, Key: "nope", Extras: setExtras(0, 0), Value: "x", CAS: cas}, []pkt{{Op: add, Status: binproto.StatusNotFound, Value: "Not found"}}},
		{pkt{Op: addq, Key: "nope", Extras: setExtras(0, 0), Value: "x", CAS: cas}, []pkt{{Op: addq, Status: binproto.StatusNotFound, Value: "Not found"}}},
		{pkt{Op: binproto.OpGet, Key: "nope"}, []pkt{{Op: binproto.OpGet, Status: binproto.StatusNotFound, Value: "Not found"}}},
		{pkt{Op: add, Key: "k", Extras: setExtras(0, 0), Value: "x", CAS: cas + 1}, []pkt{{Op: add, Status: binproto.StatusExists, Value: "Data exists for key."}}},
		{pkt{Op: add, Key: "k", Extras: setExtras(3, 0), Value: "2", CAS: cas}, []pkt{{Op: add, HasCAS: true}}},
		{pkt{Op: binproto.OpGet, Key: "k"}, []pkt{{Op: binproto.OpGet, Extras: be32(3), Value: "2", HasCAS: true}}},
	})
}
