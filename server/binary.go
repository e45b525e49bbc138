package server

import (
	"encoding/binary"
	"errors"
	"strings"

	"github.com/segcache/segcache/core"
	"github.com/segcache/segcache/server/internal/binproto"
	"github.com/segcache/segcache/server/internal/envelope"
	"github.com/segcache/segcache/server/internal/proto"
)

// The binary protocol (memcached's, deprecated there but still spoken by
// libmemcached and older clients) runs the same commands as the text
// protocol: every handler below maps a packet onto the text commands'
// store, lookup, touch and arithmetic, and their replies onto status codes.

// binaryRequest reads and runs one request of the binary protocol; keep
// false or an error (of the read) means close the connection. A packet
// that is not a request closes it: the stream cannot be resynchronised.
func (c *conn) binaryRequest() (keep bool, err error) {
	hb, err := c.r.Peek(binproto.HeaderLen)
	if err != nil {
		return false, err
	}
	h, err := binproto.ParseRequest(hb)
	c.r.Discard(binproto.HeaderLen)
	if err != nil {
		c.n.clientErrors.Add(1)
		c.logger().Info("connection closed: not a binary request", "magic", hb[0])
		return false, nil
	}
	return c.binary(h), nil
}

// binary runs one request; false means close the connection.
func (c *conn) binary(h binproto.Header) bool {
	defer c.releaseLarge() // as run does for the text protocol
	op, quiet := binproto.Loud(h.Opcode)
	switch {
	case !binproto.Known(h.Opcode):
		return c.binSkip(h, binproto.StatusUnknown)
	case !binproto.Valid(h) || h.KeyLen > proto.MaxKeyLen:
		return c.binSkip(h, binproto.StatusInvalid)
	case h.ValueLen() > c.s.cfg.MaxItem:
		if op == binproto.OpSet { // with a CAS too, as memcached's
			// Its key goes, as a text set's does (see refuseOversized).
			head, err := c.readBody(int(h.ExtrasLen) + int(h.KeyLen))
			if err != nil {
				return false
			}
			c.s.cache.Delete(head[h.ExtrasLen:])
			c.dataDone()
			h.BodyLen -= uint32(len(head))
		}
		return c.binSkip(h, binproto.StatusTooLarge)
	}
	// The body is bounded now: a key of at most 250 bytes, at most 20
	// bytes of extras, a value of at most MaxItem.
	body, err := c.readBody(int(h.BodyLen))
	if err != nil {
		return false
	}
	defer c.dataDone()
	extras := body[:h.ExtrasLen]
	key := body[int(h.ExtrasLen) : int(h.ExtrasLen)+int(h.KeyLen)]
	value := body[int(h.ExtrasLen)+int(h.KeyLen):]
	r := binReq{h: h, quiet: quiet, key: key}

	switch op {
	case binproto.OpGet, binproto.OpGetK, binproto.OpGAT, binproto.OpGATK:
		c.binGet(&r, op, extras)
	case binproto.OpTouch:
		c.n.cmdTouch.Add(1)
		v, token, ok := c.touch(key, int64(binary.BigEndian.Uint32(extras)))
		if !ok {
			c.n.touchMisses.Add(1)
			c.binError(&r, binproto.StatusNotFound)
			return true
		}
		c.n.touchHits.Add(1)
		m, _ := envelope.Decode(v)
		// With the item's CAS, as memcached's response carries it.
		c.binRespond(&r, binproto.StatusOK, token, binary.BigEndian.AppendUint32(nil, m.Flags), nil, nil)
	case binproto.OpSet, binproto.OpAdd, binproto.OpReplace, binproto.OpAppend, binproto.OpPrepend:
		c.binStore(&r, op, extras, value)
	case binproto.OpDelete:
		c.binDelete(&r)
	case binproto.OpIncrement, binproto.OpDecrement:
		c.binArith(&r, op == binproto.OpIncrement, extras)
	case binproto.OpQuit:
		if !quiet {
			c.binRespond(&r, binproto.StatusOK, 0, nil, nil, nil)
		}
		return false
	case binproto.OpFlush:
		c.n.cmdFlush.Add(1)
		var delay int64
		if len(extras) == 4 {
			delay = int64(binary.BigEndian.Uint32(extras))
		}
		c.s.flushAll(delay)
		if !quiet {
			c.binRespond(&r, binproto.StatusOK, 0, nil, nil, nil)
		}
	case binproto.OpNoop:
		c.binRespond(&r, binproto.StatusOK, 0, nil, nil, nil)
	case binproto.OpVersion:
		c.binRespond(&r, binproto.StatusOK, 0, nil, nil, []byte(Version))
	case binproto.OpVerbosity:
		c.s.verbosity.Store(int64(binary.BigEndian.Uint32(extras)))
		c.binRespond(&r, binproto.StatusOK, 0, nil, nil, nil)
	case binproto.OpStat:
		c.binStats(&r)
	}
	return true
}

// binReq is the request being answered.
type binReq struct {
	h     binproto.Header
	quiet bool
	key   []byte
}

// binSkip answers a request whose body is not read, and discards the body
// (without buffering it: it may be as long as the header claims).
func (c *conn) binSkip(h binproto.Header, status binproto.Status) bool {
	c.n.clientErrors.Add(1)
	c.binError(&binReq{h: h}, status)
	if c.w.Flush() != nil { // the skip may wait for a client that waits for us
		return false
	}
	_, err := c.r.Discard(int(h.BodyLen))
	return err == nil
}

// binRespond writes a response packet to r's request.
func (c *conn) binRespond(r *binReq, status binproto.Status, cas uint64, extras, key, value []byte) {
	h := binproto.Header{
		Opcode:    r.h.Opcode,
		KeyLen:    uint16(len(key)),
		ExtrasLen: uint8(len(extras)),
		Status:    status,
		BodyLen:   uint32(len(extras) + len(key) + len(value)),
		Opaque:    r.h.Opaque,
		CAS:       cas,
	}
	c.num = binproto.AppendResponse(c.num[:0], h)
	c.w.Write(c.num)
	c.w.Write(extras)
	c.w.Write(key)
	c.w.Write(value)
}

// binError writes an error response with memcached's message as its body.
func (c *conn) binError(r *binReq, status binproto.Status) {
	c.binRespond(r, status, 0, nil, nil, []byte(status.Message()))
}

// binResult answers with the status of a reply of the store layer (op
// tells what NOT_STORED means); client and server errors keep their text
// as the body and are counted as the text protocol counts them.
func (c *conn) binResult(r *binReq, res string, op binproto.Opcode) {
	var st binproto.Status
	switch res {
	case stored, "":
		st = binproto.StatusOK
	case notStored:
		// memcached's codes: add finds the key, replace misses it.
		switch op {
		case binproto.OpAdd:
			st = binproto.StatusExists
		case binproto.OpReplace:
			st = binproto.StatusNotFound
		default:
			st = binproto.StatusNotStored
		}
	case exists:
		st = binproto.StatusExists
	case notFound:
		st = binproto.StatusNotFound
	case tooLarge:
		st = binproto.StatusTooLarge
	case noMemory:
		st = binproto.StatusOutOfMemory
	case nonNumeric:
		st = binproto.StatusNonNumeric
	default:
		if msg, ok := strings.CutPrefix(res, "CLIENT_ERROR "); ok {
			c.n.clientErrors.Add(1)
			c.binRespond(r, binproto.StatusInvalid, 0, nil, nil, []byte(msg))
		} else {
			c.n.serverErrors.Add(1)
			c.binRespond(r, binproto.StatusInternal, 0, nil, nil, []byte(strings.TrimPrefix(res, "SERVER_ERROR ")))
		}
		return
	}
	c.binError(r, st)
}

// binGet answers get, getk, gat and gatk (and their quiet variants, which
// say nothing on a miss).
func (c *conn) binGet(r *binReq, op binproto.Opcode, extras []byte) {
	var v []byte
	var token uint64
	var ok bool
	// As memcached's, a gat counts as a touch, not as a get.
	touch := op == binproto.OpGAT || op == binproto.OpGATK
	hits, misses := &c.n.getHits, &c.n.getMisses
	if touch {
		c.n.cmdTouch.Add(1)
		hits, misses = &c.n.touchHits, &c.n.touchMisses
		v, token, ok = c.touch(r.key, int64(binary.BigEndian.Uint32(extras)))
	} else {
		c.n.cmdGet.Add(1)
		v, token, ok = c.lookup(r.key)
	}
	withKey := op == binproto.OpGetK || op == binproto.OpGATK
	if !ok {
		misses.Add(1)
		switch {
		case r.quiet:
		case withKey: // memcached returns the key instead of a message
			c.binRespond(r, binproto.StatusNotFound, 0, nil, r.key, nil)
		default:
			c.binError(r, binproto.StatusNotFound)
		}
		return
	}
	hits.Add(1)
	m, data := envelope.Decode(v)
	var key []byte
	if withKey {
		key = r.key
	}
	var flags [4]byte
	binary.BigEndian.PutUint32(flags[:], m.Flags)
	c.binRespond(r, binproto.StatusOK, token, flags[:], key, data)
}

// binStore answers set, add, replace, append and prepend. A CAS in the
// header makes set, add and replace a compare-and-set and append and
// prepend conditional on it, as in memcached.
func (c *conn) binStore(r *binReq, op binproto.Opcode, extras, value []byte) {
	c.n.cmdSet.Add(1)
	req := proto.Request{CAS: r.h.CAS}
	if len(extras) == 8 {
		req.Flags = binary.BigEndian.Uint32(extras)
		req.Exptime = int64(binary.BigEndian.Uint32(extras[4:]))
	}
	switch op {
	case binproto.OpSet:
		req.Op = proto.OpSet
	case binproto.OpAdd:
		req.Op = proto.OpAdd
	case binproto.OpReplace:
		req.Op = proto.OpReplace
	case binproto.OpAppend:
		req.Op = proto.OpAppend
	case binproto.OpPrepend:
		req.Op = proto.OpPrepend
	}
	// A CAS swap needs the key to exist, like replace; an add with one is
	// a swap too, as the protocol says and memcached does.
	if r.h.CAS != 0 && req.Op != proto.OpAppend && req.Op != proto.OpPrepend {
		req.Op = proto.OpCAS
	}
	res := c.store(&req, r.key, value)
	if res != stored {
		c.binResult(r, res, op)
		return
	}
	if !r.quiet {
		c.binRespond(r, binproto.StatusOK, c.written, nil, nil, nil)
	}
}

// binDelete answers delete; a CAS in the header makes it conditional.
func (c *conn) binDelete(r *binReq) {
	res := stored
	if r.h.CAS != 0 {
		res, _ = c.casDelete(r.key, r.h.CAS)
	} else if err := c.s.cache.Delete(r.key); errors.Is(err, core.ErrNotFound) {
		res = notFound
	} else if err != nil {
		res = engineReply(err)
	}
	switch res {
	case stored:
		c.n.deleteHits.Add(1)
		if !r.quiet {
			c.binRespond(r, binproto.StatusOK, 0, nil, nil, nil)
		}
	case notFound:
		c.n.deleteMisses.Add(1)
		c.binError(r, binproto.StatusNotFound)
	default:
		c.binResult(r, res, binproto.OpDelete)
	}
}

// binArith answers increment and decrement: extras are the delta, the
// initial value and the exptime; an exptime of 0xffffffff means a missing
// key is not created. A CAS in the header makes the update conditional.
func (c *conn) binArith(r *binReq, incr bool, extras []byte) {
	delta := binary.BigEndian.Uint64(extras)
	initial := binary.BigEndian.Uint64(extras[8:])
	exptime := binary.BigEndian.Uint32(extras[16:])
	var n uint64
	var res string
	created := false
	if exptime == 0xffffffff {
		n, res = c.addDelta(r.key, delta, incr, r.h.CAS)
	} else {
		n, res, created = c.addOrCreate(r.key, delta, incr, r.h.CAS, initial, int64(exptime))
	}
	c.countArith(incr, res, created)
	switch res {
	case "":
		if !r.quiet {
			c.binRespond(r, binproto.StatusOK, c.written, nil, nil, binary.BigEndian.AppendUint64(nil, n))
		}
	case notFound:
		c.binError(r, binproto.StatusNotFound)
	default:
		c.binResult(r, res, binproto.OpIncrement)
	}
}

// binStats answers stat: one packet per statistic (key: name, value:
// value), then one with neither.
func (c *conn) binStats(r *binReq) {
	var lines []stat
	if string(r.key) == "reset" {
		c.s.resetStats()
	} else if l, ok := c.s.groupStats(string(r.key)); ok {
		lines = l
	} else {
		c.binError(r, binproto.StatusNotFound)
		return
	}
	for _, l := range lines {
		c.binRespond(r, binproto.StatusOK, 0, nil, []byte(l.name), []byte(l.value))
	}
	c.binRespond(r, binproto.StatusOK, 0, nil, nil, nil)
}
