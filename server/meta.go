package server

import (
	"encoding/base64"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/segcache/segcache/core"
	"github.com/segcache/segcache/server/internal/envelope"
	"github.com/segcache/segcache/server/internal/proto"
)

// The meta commands (memcached 1.6): mg, ms, md, ma, mn. Each flag is a
// letter with an optional token; return flags come back in the order they
// were asked for. Supported:
//
//	mg: v k c f s t O q b u T<ttl>
//	ms: k O q c b F<flags> T<ttl> C<cas> M<mode: S E A P R>
//	md: k O q b C<cas>
//	ma: v k c t O q b N<ttl> J<initial> D<delta> M<mode: I + D -> C<cas>
//
// As in memcached 1.6.18, every command parses every flag memcached knows
// (metaKnown) and ignores those that do not apply to it, and a flag given
// twice, an unknown one or a malformed token is an error with memcached's
// message (md and ma answer all of them "invalid or duplicate flag"). The
// flags that need state the engine does not keep get "CLIENT_ERROR invalid
// flag" where they would act: invalidation and stale items (I of ms and
// md), win/recache tokens and vivify-on-miss (N and R of mg), hit-before
// and last-access (h, l of mg). P and L (proxy hints) and u (no LRU bump:
// eviction is by segment) change nothing.
//
// q hides the reply that means "as expected", as memcached 1.6 does: EN
// of mg, HD of ms and md, and the HD or VA of an ma that changed an
// existing counter (not of one that created it). b says the key is base64
// (binary keys); k then returns it as sent. C takes any token, 0 included,
// as memcached's does: ms in modes S and R swaps (EX or NF unless it
// matches), A and P and ma check it against an existing item, an add (E)
// ignores it; c on an ms that stored nothing answers c0.
//
// The server's client test TestDifferentialAgainstMemcached checks these
// replies against memcached itself.

// The error messages of the meta commands (after "CLIENT_ERROR ").
const (
	invalidFlag        = "invalid flag"
	invalidOrDuplicate = "invalid or duplicate flag" // md and ma, for any error in their flags
	errDecodingKey     = "error decoding key"        // a b key that is not base64
	opaqueTooLong      = "opaque token too long"
)

// metaKnown are the flags memcached 1.6.18's meta commands parse.
const metaKnown = "bcfhklqstuvCDFIJLMNOPRT"

// unsignedTokenError is memcached's message for a flag whose token must
// be an unsigned number (F: one of 32 bits) and is not.
var unsignedTokenError = map[byte]string{
	'C': "bad token in command line format",
	'D': "invalid numeric delta value",
	'F': "bad command line format",
	'J': "invalid numeric initial value",
}

// maxOpaque is memcached's limit on an O token, the letter included.
const maxOpaque = 32

// metaFlags is a parsed flag list.
type metaFlags struct {
	list  [][]byte
	quiet bool
}

// keepFlags copies m's tokens, which point into the connection's read
// buffer, into the connection's own scratch: reading a data block that
// had not all arrived refills that buffer over the request line, and the
// reply is built from the tokens afterwards (k, O, b, c: an ms whose block
// came in a later packet lost them, and with b stored its value under the
// undecoded key).
func (c *conn) keepFlags(m *metaFlags) {
	n := 0
	for _, t := range m.list {
		n += len(t)
	}
	if cap(c.flagBytes) < n {
		c.flagBytes = make([]byte, 0, n) // no append below may move it
	}
	b, list := c.flagBytes[:0], c.flagList[:0]
	for _, t := range m.list {
		b = append(b, t...)
		list = append(list, b[len(b)-len(t):len(b):len(b)])
	}
	c.flagBytes, c.flagList = b, list
	m.list = list
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

// preparse checks the flags as memcached's meta commands do before they
// act, and notes q. A flag memcached does not know, or one given twice,
// stops the check at once; a malformed token is reported once every flag
// is read (the last one's message). It returns the error message (without
// "CLIENT_ERROR "), or "".
func (m *metaFlags) preparse() string {
	var seen [128]bool
	bad := ""
	for _, t := range m.list {
		f, tok := t[0], t[1:]
		if f >= 128 || strings.IndexByte(metaKnown, f) < 0 {
			return invalidFlag
		}
		if seen[f] {
			return "duplicate flag"
		}
		seen[f] = true
		switch f {
		case 'q':
			m.quiet = true
		case 'N', 'R', 'T':
			if _, ok := proto.ParseInt(tok); !ok {
				bad = "bad token in command line format"
			}
		case 'C', 'D', 'F', 'J':
			if n, ok := proto.ParseUint(tok); !ok || f == 'F' && n > math.MaxUint32 {
				bad = unsignedTokenError[f]
			}
		case 'M':
			if len(tok) != 1 {
				bad = "incorrect length for M token"
			}
		case 'O':
			if len(t) > maxOpaque {
				bad = opaqueTooLong
			}
		}
	}
	return bad
}

// flagsError is md's and ma's answer to an error preparse found:
// memcached words all of them "invalid or duplicate flag" but an opaque
// too long, which it finds later (its ma increments the counter first;
// segcached does not).
func flagsError(e string) string {
	if e == opaqueTooLong {
		return e
	}
	return invalidOrDuplicate
}

// unsupported reports whether any of the flags in letters was given (the
// ones a command would act on with state the engine does not keep).
func (m *metaFlags) unsupported(letters string) bool {
	for _, t := range m.list {
		if strings.IndexByte(letters, t[0]) >= 0 {
			return true
		}
	}
	return false
}

// metaKey returns the key a meta command names: its token, or with the b
// flag the token's base64 decoding (into c.bkey). A token that does not
// decode gets CLIENT_ERROR undecodable (memcached decodes while it checks
// the flags, so md and ma word this as any error in their flags).
func (c *conn) metaKey(m *metaFlags, tok []byte, undecodable string) ([]byte, bool) {
	if _, ok := m.has('b'); !ok {
		return tok, true
	}
	c.bkey = slices.Grow(c.bkey[:0], base64.StdEncoding.DecodedLen(len(tok)))
	c.bkey = c.bkey[:cap(c.bkey)]
	n, err := base64.StdEncoding.Decode(c.bkey, tok)
	if err != nil || n == 0 || n > proto.MaxKeyLen {
		c.clientError(undecodable)
		return nil, false
	}
	return c.bkey[:n], true
}

// item is what return flags may report.
type item struct {
	key   []byte
	meta  envelope.Meta
	data  []byte
	token uint64
	found bool // an item was read (c, f, s, t are known)
	gone  bool // a touch to a past time expired it (t is 0)
}

// appendReturnFlags appends " <flag><value>" for each return flag asked.
func (c *conn) appendReturnFlags(b []byte, m *metaFlags, it *item) []byte {
	for _, t := range m.list {
		switch t[0] {
		case 'k':
			b = append(append(b, " k"...), it.key...)
			if _, ok := m.has('b'); ok { // as memcached: the key is base64
				b = append(b, " b"...)
			}
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
				switch {
				case it.gone:
					ttl = 0
				case it.meta.Deadline != 0:
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
	if e := m.preparse(); e != "" {
		c.clientError(e)
		return
	}
	if m.unsupported("NRhl") {
		c.clientError(invalidFlag)
		return
	}
	key, ok := c.metaKey(&m, req.Key, errDecodingKey)
	if !ok {
		return
	}
	it := item{key: req.Key}
	var v []byte
	ttl, touch := m.has('T')
	if touch {
		exptime, _ := proto.ParseInt(ttl)
		v, it.token, it.found = c.touch(key, exptime)
		_, _, it.gone = c.lifetime(exptime)
	} else {
		v, it.token, it.found = c.lookup(key)
	}
	// Counted as memcached counts an mg: with T, a hit is a touch and a
	// miss a get.
	if !it.found {
		c.n.cmdGet.Add(1)
		c.n.getMisses.Add(1)
		if !m.quiet { // EN carries k and O, as memcached's does
			c.metaReply("EN", &m, &it, false)
		}
		return
	}
	if touch {
		c.n.cmdTouch.Add(1)
		c.n.touchHits.Add(1)
	} else {
		c.n.cmdGet.Add(1)
		c.n.getHits.Add(1)
	}
	it.meta, it.data = envelope.Decode(v)
	_, withValue := m.has('v')
	c.metaReply("HD", &m, &it, withValue)
}

// metaSetRequest is the store an ms's flags ask for, and memcached's
// message for flags it refuses ("" if none). With refuseI, the I flag
// (invalidation, which the engine cannot do) is one of them.
func metaSetRequest(m *metaFlags, refuseI bool) (st proto.Request, bad string) {
	bad = m.preparse()
	if bad == "" && refuseI && m.unsupported("I") {
		bad = invalidFlag
	}
	st = proto.Request{Op: proto.OpSet}
	if f, ok := m.has('F'); ok && bad == "" {
		n, _ := proto.ParseUint(f)
		st.Flags = uint32(n)
	}
	if t, ok := m.has('T'); ok && bad == "" {
		st.Exptime, _ = proto.ParseInt(t)
	}
	if mode, ok := m.has('M'); ok && bad == "" {
		switch mode[0] {
		case 'S', 's':
		case 'E', 'e':
			st.Op = proto.OpAdd
		case 'A', 'a':
			st.Op = proto.OpAppend
		case 'P', 'p':
			st.Op = proto.OpPrepend
		case 'R', 'r':
			st.Op = proto.OpReplace
		default:
			bad = "invalid mode for ms M token"
		}
	}
	if cas, ok := m.has('C'); ok && bad == "" {
		// C0 is a token too, as in memcached: it matches no item (a swap
		// answers EX or NF) and is no condition for append, prepend, ma.
		st.CAS, _ = proto.ParseUint(cas)
		switch st.Op {
		case proto.OpSet, proto.OpReplace: // a swap needs the key, like replace
			st.Op = proto.OpCAS
		case proto.OpAdd: // as memcached's: an add ignores the token
			st.CAS = 0
		}
	}
	return st, bad
}

// metaSet runs ms; the data block is read like a storage command's.
func (c *conn) metaSet(req *proto.Request) bool {
	m := metaFlags{list: req.Meta}
	st, bad := metaSetRequest(&m, true)
	// The block follows whatever the flags said; read it before replying.
	c.keepFlags(&m)
	data, handled, keep := c.readBlock(req)
	if handled {
		return keep
	}
	if bad != "" {
		c.dataDone()
		c.clientError(bad)
		return true
	}
	key, ok := c.metaKey(&m, c.key, errDecodingKey)
	if !ok {
		c.dataDone()
		return true
	}
	c.n.cmdSet.Add(1) // once the flags and key are good, as memcached counts
	res := c.store(&st, key, data)
	c.dataDone()
	it := item{key: c.key}
	switch res {
	case stored:
		if _, ok := m.has('c'); ok {
			it.token = c.written // 0 if gone already (a past TTL)
			it.found = true
		}
		if !m.quiet {
			c.metaReply("HD", &m, &it, false)
		}
	case notStored, exists, notFound:
		it.found = true // c then reports 0 (nothing was stored), as memcached's does
		code := "NF"
		switch res {
		case notStored:
			code = "NS"
		case exists:
			code = "EX"
		}
		c.metaReply(code, &m, &it, false)
	default:
		c.replyResult(res)
	}
	return true
}

func (c *conn) metaDelete(req *proto.Request) {
	m := metaFlags{list: req.Meta}
	if e := m.preparse(); e != "" {
		c.clientError(flagsError(e))
		return
	}
	if m.unsupported("I") {
		c.clientError(invalidFlag)
		return
	}
	key, ok := c.metaKey(&m, req.Key, invalidOrDuplicate)
	if !ok {
		return
	}
	res := stored
	if t, ok := m.has('C'); ok {
		token, _ := proto.ParseUint(t)
		res, _ = c.casDelete(key, token)
	} else if err := c.s.cache.Delete(key); errors.Is(err, core.ErrNotFound) {
		res = notFound
	} else if err != nil {
		res = engineReply(err)
	}
	it := item{key: req.Key}
	switch res {
	case stored:
		c.n.deleteHits.Add(1)
		if !m.quiet {
			c.metaReply("HD", &m, &it, false)
		}
	case notFound:
		c.n.deleteMisses.Add(1)
		c.metaReply("NF", &m, &it, false) // q hides only HD, as memcached's
	case exists:
		c.n.deleteMisses.Add(1) // as memcached counts a token that does not match
		c.metaReply("EX", &m, &it, false)
	default:
		c.replyResult(res)
	}
}

func (c *conn) metaArith(req *proto.Request) {
	m := metaFlags{list: req.Meta}
	if e := m.preparse(); e != "" {
		c.clientError(flagsError(e))
		return
	}
	incr, delta, initial, want := true, uint64(1), uint64(0), uint64(0)
	var vivify int64
	autoviv := false
	if t, ok := m.has('D'); ok {
		delta, _ = proto.ParseUint(t)
	}
	if t, ok := m.has('J'); ok {
		initial, _ = proto.ParseUint(t)
	}
	if t, ok := m.has('C'); ok {
		want, _ = proto.ParseUint(t)
	}
	if t, ok := m.has('N'); ok {
		vivify, _ = proto.ParseInt(t)
		autoviv = true
	}
	if mode, ok := m.has('M'); ok {
		switch mode[0] {
		case 'I', 'i', '+':
		case 'D', 'd', '-':
			incr = false
		default:
			c.clientError("invalid mode for ma M token")
			return
		}
	}
	key, ok := c.metaKey(&m, req.Key, invalidOrDuplicate)
	if !ok {
		return
	}
	var n uint64
	var res string
	created := false
	if autoviv {
		n, res, created = c.addOrCreate(key, delta, incr, want, initial, vivify)
	} else {
		n, res = c.addDelta(key, delta, incr, want)
	}
	c.countArith(incr, res, created)
	it := item{key: req.Key}
	switch res {
	case "":
		_, withValue := m.has('v')
		_, wantCAS := m.has('c')
		_, wantTTL := m.has('t')
		if wantCAS || wantTTL {
			var v []byte
			v, _, it.found = c.lookup(key)
			it.meta, _ = envelope.Decode(v)
			// Gone already (created with a past TTL, or removed since):
			// t0 rather than no answer to flags the client asked for, and
			// c the token of what was stored (0 for a past TTL).
			it.found, it.gone = true, !it.found
			it.token = c.written
		}
		it.data = strconv.AppendUint(nil, n, 10)
		// As memcached's: q hides a change of an existing counter, its
		// value too, but not the creation of one.
		if !m.quiet || created {
			c.metaReply("HD", &m, &it, withValue)
		}
	case notFound:
		c.metaReply("NF", &m, &it, false)
	case exists:
		c.metaReply("EX", &m, &it, false)
	default:
		c.replyResult(res)
	}
}
