package server

import (
	"errors"
	"strconv"

	"github.com/segcache/segcache/core"
	"github.com/segcache/segcache/server/internal/envelope"
	"github.com/segcache/segcache/server/internal/proto"
)

// The meta commands (memcached 1.6): mg, ms, md, ma, mn. Each flag is a
// letter with an optional token; return flags come back in the order they
// were asked for. Supported:
//
//	mg: v k c f s t O q T<ttl>
//	ms: k O q c F<flags> T<ttl> C<cas> M<mode: S E A P R>
//	md: k O q
//	ma: v k c t O q N<ttl> J<initial> D<delta> M<mode: I + D ->
//
// q hides the reply that means "as expected": EN of mg, HD of ms, HD and
// NF of md and ma. Others (base64 keys, invalidation, stale items, win/recache tokens,
// hit/last-access) get "CLIENT_ERROR invalid flag".

const invalidFlag = "CLIENT_ERROR invalid flag"

// metaFlags is a parsed flag list.
type metaFlags struct {
	list  [][]byte
	quiet bool
}

// has returns the token of flag f and whether it was given.
func (m *metaFlags) has(f byte) ([]byte, bool) {
	for _, t := range m.list {
		if t[0] == f {
			return t[1:], true
		}
	}
	return nil, false
}

// check validates the flags against the letters the command supports.
func (m *metaFlags) check(allowed string) bool {
	for _, t := range m.list {
		ok := false
		for i := range len(allowed) {
			if t[0] == allowed[i] {
				ok = true
			}
		}
		if !ok {
			return false
		}
		if t[0] == 'q' {
			m.quiet = true
		}
	}
	return true
}

// item is what return flags may report.
type item struct {
	key   []byte
	meta  envelope.Meta
	data  []byte
	token uint64
	found bool // an item was read (c, f, s, t are known)
}

// appendReturnFlags appends " <flag><value>" for each return flag asked.
func (c *conn) appendReturnFlags(b []byte, m *metaFlags, it *item) []byte {
	for _, t := range m.list {
		switch t[0] {
		case 'k':
			b = append(append(b, " k"...), it.key...)
		case 'O':
			b = append(append(b, " O"...), t[1:]...)
		case 'c':
			if it.found {
				b = strconv.AppendUint(append(b, " c"...), it.token, 10)
			}
		case 'f':
			if it.found {
				b = strconv.AppendUint(append(b, " f"...), uint64(it.meta.Flags), 10)
			}
		case 's':
			if it.found {
				b = strconv.AppendInt(append(b, " s"...), int64(len(it.data)), 10)
			}
		case 't':
			if it.found {
				ttl := int64(-1)
				if it.meta.Deadline != 0 {
					left, _ := c.remaining(it.meta.Deadline)
					ttl = max(int64((left+999_999_999)/1e9), 0)
				}
				b = strconv.AppendInt(append(b, " t"...), ttl, 10)
			}
		}
	}
	return b
}

// metaReply writes "<code><return flags>\r\n", or "VA <len>..." with the
// data block when v was asked.
func (c *conn) metaReply(code string, m *metaFlags, it *item, withValue bool) {
	var b []byte
	if withValue {
		b = strconv.AppendInt(append(c.num[:0], "VA "...), int64(len(it.data)), 10)
	} else {
		b = append(c.num[:0], code...)
	}
	b = c.appendReturnFlags(b, m, it)
	b = append(b, '\r', '\n')
	c.num = b
	c.w.Write(b)
	if withValue {
		c.w.Write(it.data)
		c.w.WriteString("\r\n")
	}
}

func (c *conn) metaGet(req *proto.Request) {
	m := metaFlags{list: req.Meta}
	if !m.check("vkcfstOqT") {
		c.clientError(invalidFlag[len("CLIENT_ERROR "):])
		return
	}
	c.n.cmdGet.Add(1)
	it := item{key: req.Key}
	var v []byte
	if ttl, ok := m.has('T'); ok {
		exptime, valid := proto.ParseInt(ttl)
		if !valid {
			c.clientError("bad token in command line format")
			return
		}
		c.n.cmdTouch.Add(1)
		v, it.token, it.found = c.touch(req.Key, exptime)
	} else {
		v, it.token, it.found = c.lookup(req.Key)
	}
	if !it.found {
		c.n.getMisses.Add(1)
		if !m.quiet {
			c.w.WriteString("EN\r\n")
		}
		return
	}
	c.n.getHits.Add(1)
	it.meta, it.data = envelope.Decode(v)
	_, withValue := m.has('v')
	c.metaReply("HD", &m, &it, withValue)
}

// metaSet runs ms; the data block is read like a storage command's.
func (c *conn) metaSet(req *proto.Request) bool {
	m := metaFlags{list: req.Meta}
	valid := m.check("kOqcFTCM")
	st := proto.Request{Op: proto.OpSet}
	if f, ok := m.has('F'); ok && valid {
		n, ok := proto.ParseUint(f)
		valid = ok && n <= 1<<32-1
		st.Flags = uint32(n)
	}
	if t, ok := m.has('T'); ok && valid {
		st.Exptime, valid = proto.ParseInt(t)
	}
	if mode, ok := m.has('M'); ok && valid {
		switch string(mode) {
		case "S", "s":
		case "E", "e":
			st.Op = proto.OpAdd
		case "A", "a":
			st.Op = proto.OpAppend
		case "P", "p":
			st.Op = proto.OpPrepend
		case "R", "r":
			st.Op = proto.OpReplace
		default:
			valid = false
		}
	}
	if cas, ok := m.has('C'); ok && valid {
		st.CAS, valid = proto.ParseUint(cas)
		valid = valid && st.Op == proto.OpSet // compare-and-set only
		st.Op = proto.OpCAS
	}
	// The block follows whatever the flags said; read it before replying.
	data, handled, keep := c.readBlock(req)
	if handled {
		return keep
	}
	if !valid {
		c.dataDone()
		c.clientError(invalidFlag[len("CLIENT_ERROR "):])
		return true
	}
	res := c.store(&st, c.key, data)
	c.dataDone()
	it := item{key: c.key}
	switch res {
	case stored:
		if _, ok := m.has('c'); ok {
			_, it.token, it.found = c.lookup(c.key)
		}
		if !m.quiet {
			c.metaReply("HD", &m, &it, false)
		}
	case notStored:
		c.metaReply("NS", &m, &it, false)
	case exists:
		c.metaReply("EX", &m, &it, false)
	case notFound:
		c.metaReply("NF", &m, &it, false)
	default:
		c.replyResult(res)
	}
	return true
}

func (c *conn) metaDelete(req *proto.Request) {
	m := metaFlags{list: req.Meta}
	if !m.check("kOq") {
		c.clientError(invalidFlag[len("CLIENT_ERROR "):])
		return
	}
	it := item{key: req.Key}
	switch err := c.s.cache.Delete(req.Key); {
	case err == nil:
		c.n.deleteHits.Add(1)
		if !m.quiet {
			c.metaReply("HD", &m, &it, false)
		}
	case errors.Is(err, core.ErrNotFound):
		c.n.deleteMisses.Add(1)
		if !m.quiet {
			c.metaReply("NF", &m, &it, false)
		}
	default:
		c.engineError(err)
	}
}

func (c *conn) metaArith(req *proto.Request) {
	m := metaFlags{list: req.Meta}
	valid := m.check("vkctOqNJDM")
	incr, delta, initial := true, uint64(1), uint64(0)
	var vivify int64
	autoviv := false
	if t, ok := m.has('D'); ok && valid {
		delta, valid = proto.ParseUint(t)
	}
	if t, ok := m.has('J'); ok && valid {
		initial, valid = proto.ParseUint(t)
	}
	if t, ok := m.has('N'); ok && valid {
		vivify, valid = proto.ParseInt(t)
		autoviv = true
	}
	if mode, ok := m.has('M'); ok && valid {
		switch string(mode) {
		case "I", "i", "+":
		case "D", "d", "-":
			incr = false
		default:
			valid = false
		}
	}
	if !valid {
		c.clientError(invalidFlag[len("CLIENT_ERROR "):])
		return
	}
	hits, misses := &c.n.incrHits, &c.n.incrMisses
	if !incr {
		hits, misses = &c.n.decrHits, &c.n.decrMisses
	}
	var n uint64
	var res string
	if autoviv {
		n, res = c.addOrCreate(req.Key, delta, incr, initial, vivify)
	} else {
		n, res = c.addDelta(req.Key, delta, incr)
	}
	it := item{key: req.Key}
	switch res {
	case "":
		hits.Add(1)
		_, withValue := m.has('v')
		_, wantCAS := m.has('c')
		_, wantTTL := m.has('t')
		if wantCAS || wantTTL {
			var v []byte
			v, it.token, it.found = c.lookup(req.Key)
			it.meta, _ = envelope.Decode(v)
		}
		it.data = strconv.AppendUint(nil, n, 10)
		if !m.quiet || withValue {
			c.metaReply("HD", &m, &it, withValue)
		}
	case notFound:
		misses.Add(1)
		if !m.quiet {
			c.metaReply("NF", &m, &it, false)
		}
	default:
		c.replyResult(res)
	}
}
