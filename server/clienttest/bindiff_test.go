package clienttest

import (
	be "encoding/binary"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// TestBinaryDifferentialAgainstMemcached is TestDifferentialAgainstMemcached
// for the binary protocol: one random stream of requests (get, getk, gat,
// gatk and their quiet forms; set, add, replace, append, prepend with and
// without a CAS and their quiet forms; delete; increment and decrement,
// creating or not; touch) goes to memcached 1.6 and to segcached,
// and every response must match field by field, bodies included (error
// messages too), once the CAS values are masked (each server mints its own;
// a request that carries one carries each server's own). Each request is
// followed by a noop, whose response ends the responses to compare, quiet
// or not. The stream avoids the departures server/doc.go lists, as the
// text test does.
func TestBinaryDifferentialAgainstMemcached(t *testing.T) {
	flush := func(t *testing.T, s *diffConn) {
		if got := s.binDo(t, binPacket{op: 0x08}); got != "op=08 status=0000" {
			t.Fatalf("%s: flush answered %s", s.name, got)
		}
	}
	diffRuns(t, 12, flush, func(t *testing.T, mc, sc *diffConn, seed uint64) {
		g := newBinGen(seed)
		var trail diffTrail
		for step := range 1500 {
			p := g.next(mc.tokens)
			var replies [2]string
			for i, s := range []*diffConn{mc, sc} {
				q := p
				if p.casKey != "" {
					q.cas = s.tokens[p.casKey]
				}
				for _, k := range p.writes {
					delete(s.tokens, k)
				}
				replies[i] = s.binDo(t, q)
			}
			trail.add(fmt.Sprintf("%s -> %s", p, replies[0]))
			if replies[0] != replies[1] {
				t.Fatalf("seed %d step %d: %s\n\tmemcached: %s\n\tsegcached: %s\n\tthe requests before it (memcached's responses):\n\t\t%s",
					seed, step, p, replies[0], replies[1], trail.before())
			}
			syncTokens(mc, sc)
		}
	})
}

// binPacket is a request of the binary protocol.
type binPacket struct {
	op     byte
	key    string
	extras []byte
	value  string
	cas    uint64
	// For the generator: the key whose token to send as the CAS, and the
	// keys whose tokens the request may make stale.
	casKey string
	writes []string
	// invalid: memcached answers "Invalid arguments" and closes the
	// connection (segcached skips the body and goes on), so only that
	// response is compared, and both connections are dialled again.
	invalid bool
}

func (p binPacket) String() string {
	s := fmt.Sprintf("op=%02x key=%q extras=%x", p.op, p.key, p.extras)
	if p.value != "" {
		s += fmt.Sprintf(" value=%.30q", p.value)
	}
	switch {
	case p.casKey != "":
		s += " cas=<current>"
	case p.cas != 0:
		s += fmt.Sprintf(" cas=%d", p.cas)
	}
	return s
}

func (p binPacket) encode() []byte {
	b := make([]byte, 24, 24+len(p.extras)+len(p.key)+len(p.value))
	b[0], b[1] = 0x80, p.op
	be.BigEndian.PutUint16(b[2:], uint16(len(p.key)))
	b[4] = byte(len(p.extras))
	be.BigEndian.PutUint32(b[8:], uint32(len(p.extras)+len(p.key)+len(p.value)))
	be.BigEndian.PutUint32(b[12:], 0xfeedf00d) // opaque, echoed
	be.BigEndian.PutUint64(b[16:], p.cas)
	b = append(b, p.extras...)
	b = append(b, p.key...)
	return append(b, p.value...)
}

// binDo sends p and a noop, and returns the responses before the noop's,
// each as its fields with the CAS masked (and recorded, per key, for the
// request's key), and values that are a number padded with spaces (as
// memcached leaves a shrunk one) trimmed.
func (s *diffConn) binDo(t *testing.T, p binPacket) string {
	t.Helper()
	s.nc.SetDeadline(time.Now().Add(startTimeout))
	b := p.encode()
	if !p.invalid {
		b = append(b, binPacket{op: 0x0a}.encode()...)
	}
	if _, err := s.nc.Write(b); err != nil {
		t.Fatalf("%s: sending %s: %v", s.name, p, err)
	}
	var out []string
	for {
		if p.invalid && len(out) == 1 {
			s.redial(t)
			return out[0]
		}
		var h [24]byte
		if _, err := io.ReadFull(s.r, h[:]); err != nil {
			t.Fatalf("%s: %s: reading a response: %v (so far %q)", s.name, p, err, out)
		}
		body := make([]byte, be.BigEndian.Uint32(h[8:]))
		if _, err := io.ReadFull(s.r, body); err != nil {
			t.Fatalf("%s: %s: reading a body: %v", s.name, p, err)
		}
		if h[0] != 0x81 || be.BigEndian.Uint32(h[12:]) != 0xfeedf00d {
			t.Fatalf("%s: %s: response header %x", s.name, p, h)
		}
		if h[1] == 0x0a && !p.invalid {
			return strings.Join(out, " | ")
		}
		klen, elen := int(be.BigEndian.Uint16(h[2:])), int(h[4])
		extras, key, value := body[:elen], body[elen:elen+klen], body[elen+klen:]
		if paddedValue.Match(value) {
			value = []byte(strings.TrimRight(string(value), " "))
		}
		r := fmt.Sprintf("op=%02x status=%04x", h[1], be.BigEndian.Uint16(h[6:]))
		if cas := be.BigEndian.Uint64(h[16:]); cas != 0 {
			if p.key != "" {
				s.tokens[p.key] = cas
			}
			r += " cas"
		}
		if len(extras) > 0 {
			r += fmt.Sprintf(" extras=%x", extras)
		}
		if len(key) > 0 {
			r += fmt.Sprintf(" key=%q", key)
		}
		if len(value) > 0 {
			r += fmt.Sprintf(" value=%q", value)
		}
		out = append(out, r)
	}
}

// binGen draws the binary stream; it shares the text stream's values.
type binGen struct {
	*diffGen
}

func newBinGen(seed uint64) binGen {
	return binGen{newDiffGen(seed ^ 0xb1)}
}

func u32(v uint32) []byte { return be.BigEndian.AppendUint32(nil, v) }

// exptime32 is never, an hour (relative or absolute), 30 days, or past (an
// absolute time in 1970).
func (g binGen) exptime32() uint32 {
	switch g.rng.IntN(6) {
	case 0, 1:
		return 0
	case 2:
		return 3600
	case 3:
		return 30 * 24 * 3600 // the longest relative exptime
	case 4:
		return 30*24*3600 + 1 // absolute: a second in 1970, past
	}
	return uint32(time.Now().Unix() + 7200)
}

// storeExptime32 is exptime32 but never past, for the requests that
// store: memcached answers such a store (and an increment that creates the
// counter) with the CAS of the item it stored expired, segcached, which
// stores nothing, with none.
func (g binGen) storeExptime32() uint32 {
	for {
		if exp := g.exptime32(); exp != 30*24*3600+1 {
			return exp
		}
	}
}

func (g binGen) quiet(loud, quiet byte) byte {
	if g.rng.IntN(4) == 0 {
		return quiet
	}
	return loud
}

// next draws a request; tokens are the keys whose current token both
// servers have returned.
func (g binGen) next(tokens map[string]uint64) binPacket {
	k := g.key()
	one := []string{k}
	switch op := g.rng.IntN(12); op {
	case 0, 1: // get, getk and their quiet forms
		return binPacket{op: []byte{0x00, 0x09, 0x0c, 0x0d}[g.rng.IntN(4)], key: k}
	case 2: // gat, gatk, quiet or not
		return binPacket{op: []byte{0x1d, 0x1e, 0x23, 0x24}[g.rng.IntN(4)], key: k, extras: u32(g.exptime32()), writes: one}
	case 3, 4, 5, 6, 7: // set add replace append prepend
		loud := []byte{0x01, 0x02, 0x03, 0x0e, 0x0f}[op-3]
		if g.padded[k] && loud >= 0x0e {
			loud = 0x01
		}
		p := binPacket{op: g.quiet(loud, map[byte]byte{0x01: 0x11, 0x02: 0x12, 0x03: 0x13, 0x0e: 0x19, 0x0f: 0x1a}[loud]), key: k, value: g.value(), writes: one}
		if loud <= 0x03 {
			p.extras = append(u32(g.flags()), u32(g.storeExptime32())...)
		}
		switch r := g.rng.IntN(6); {
		case r == 0:
			p.cas = 12345678901234567890
		case r <= 2:
			if _, ok := tokens[k]; ok {
				p.casKey = k
			}
		}
		if loud == 0x01 && p.cas == 0 && p.casKey == "" {
			g.padded[k] = false
		}
		return p
	case 8: // delete
		p := binPacket{op: g.quiet(0x04, 0x14), key: k, writes: one}
		if _, ok := tokens[k]; ok && g.rng.IntN(3) == 0 {
			p.casKey = k
		}
		return p
	case 9: // increment, decrement: delta, initial, exptime (all ones: do not create)
		g.padded[k] = true
		extras := be.BigEndian.AppendUint64(nil, g.rng.Uint64N(30))
		extras = be.BigEndian.AppendUint64(extras, g.rng.Uint64N(100))
		exp := uint32(0xffffffff)
		if g.rng.IntN(2) == 0 {
			exp = g.storeExptime32()
		}
		extras = append(extras, u32(exp)...)
		decr := byte(g.rng.IntN(2))
		return binPacket{op: g.quiet(0x05+decr, 0x15+decr), key: k, extras: extras, writes: one}
	case 10: // touch
		return binPacket{op: 0x1c, key: k, extras: u32(g.exptime32()), writes: one}
	default:
		return g.malformed(k)
	}
}

// malformed draws a request memcached refuses (extras, key or value where
// the command takes none or other ones), an unknown opcode without a body,
// or a SASL one (neither server has SASL). Not drawn: an unknown opcode
// with a body and verbosity (0x1b), which memcached 1.6.18 answers
// "Unknown command" and then reads past (it waits for more bytes than the
// body), and which segcached serves.
func (g binGen) malformed(k string) binPacket {
	if g.rng.IntN(4) == 0 {
		ok := []binPacket{{op: 0xfe}, {op: 0x20}, {op: 0x21, key: "PLAIN", value: "\x00u\x00p"}}
		return ok[g.rng.IntN(len(ok))]
	}
	bad := []binPacket{
		{op: 0x00, key: k, extras: u32(1)},                       // get with extras
		{op: 0x00},                                               // get without a key
		{op: 0x0c, key: strings.Repeat("k", 251)},                // key too long
		{op: 0x01, key: k, value: "v"},                           // set without extras
		{op: 0x01, key: k, extras: u32(0), value: "v"},           // set with short extras
		{op: 0x01, extras: make([]byte, 8), value: "v"},          // set without a key
		{op: 0x0e, key: k, extras: u32(0), value: "v"},           // append with extras
		{op: 0x04, key: k, extras: u32(0)},                       // delete with extras
		{op: 0x04, key: k, value: "v"},                           // delete with a value
		{op: 0x05, key: k, extras: make([]byte, 8)},              // incr with short extras
		{op: 0x05, key: k, extras: make([]byte, 20), value: "v"}, // incr with a value
		{op: 0x1c, key: k},                                       // touch without extras
		{op: 0x1d, key: k},                                       // gat without extras
		{op: 0x0a, key: k},                                       // noop with a key
		{op: 0x0b, key: k},                                       // version with a key
		{op: 0x08, extras: u32(0), key: k},                       // flush with a key
	}
	p := bad[g.rng.IntN(len(bad))]
	p.invalid = true
	return p
}
