package server

import (
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/segcache/segcache/core"
	"github.com/segcache/segcache/server/internal/envelope"
	"github.com/segcache/segcache/server/internal/proto"
)

// maxCASRetries bounds the read-modify-write loops: each retry means
// another writer changed the key in between, so reaching it takes a key
// rewritten continuously; the client then gets a SERVER_ERROR rather than
// a connection stuck forever.
const maxCASRetries = 10000

// maxLifetime caps a TTL (about 100 years) so that it fits a Duration.
const maxLifetime = 100 * 365 * 24 * 3600

// Replies shared by the storage commands.
const (
	stored     = "STORED"
	notStored  = "NOT_STORED"
	exists     = "EXISTS"
	notFound   = "NOT_FOUND"
	tooLarge   = "SERVER_ERROR object too large for cache"
	noMemory   = "SERVER_ERROR out of memory storing object"
	contention = "SERVER_ERROR too much contention on the key"
	nonNumeric = "CLIENT_ERROR cannot increment or decrement non-numeric value"
)

// engineReply maps an engine error that no command expects to its reply.
func engineReply(err error) string {
	switch {
	case errors.Is(err, core.ErrItemTooLarge):
		return tooLarge
	case errors.Is(err, core.ErrNoSpace), errors.Is(err, core.ErrNoMemory):
		return noMemory
	case errors.Is(err, core.ErrKeyEmpty), errors.Is(err, core.ErrKeyTooLarge):
		return "CLIENT_ERROR bad command line format"
	}
	return "SERVER_ERROR " + err.Error()
}

// lifetime turns a memcached exptime into the engine's TTL and the
// envelope's deadline; expired reports an exptime already in the past.
func (c *conn) lifetime(exptime int64) (ttl time.Duration, deadline uint32, expired bool) {
	now := c.s.cfg.Now()
	secs, expired := proto.Expiry(exptime, now.Unix())
	if expired || secs == 0 {
		return 0, 0, expired
	}
	secs = min(secs, maxLifetime)
	return time.Duration(secs) * time.Second, uint32(min(now.Unix()+secs, math.MaxUint32)), false
}

// remaining is the TTL left until deadline (0: never expires); expired
// when it has passed.
func (c *conn) remaining(deadline uint32) (ttl time.Duration, expired bool) {
	if deadline == 0 {
		return 0, false
	}
	ttl = time.Unix(int64(deadline), 0).Sub(c.s.cfg.Now())
	return ttl, ttl <= 0
}

// store runs set/add/replace/cas/append/prepend and returns the reply;
// what it stores counts in total_items (touches and in-place arithmetic do
// not, as in memcached).
func (c *conn) store(req *proto.Request, key, data []byte) string {
	c.written = 0
	res := c.storeCommand(req, key, data)
	switch {
	case res == stored:
		c.n.totalItems.Add(1)
	case req.Op == proto.OpSet && (res == tooLarge || res == noMemory):
		c.s.cache.Delete(key) // see refuseOversized
	}
	return res
}

// refuseOversized answers a storage command whose block is larger than
// the item limit (the block is skipped after): "object too large", but
// for an ms whose flags or base64 key are wrong, which memcached checks
// first and answers as for any ms.
//
// A set (or an ms, in any mode) also removes the item it meant to
// replace, as memcached does: the client asked for the old value to go,
// and a later get must not return it as if the set had never been sent.
// The other stores (add, replace, append, prepend, cas) leave it, as
// memcached's do.
func (c *conn) refuseOversized(req *proto.Request) {
	key := req.Key
	switch req.Op {
	case proto.OpSet:
	case proto.OpMetaSet:
		m := metaFlags{list: req.Meta}
		if _, bad := metaSetRequest(&m, false); bad != "" {
			c.clientError(bad)
			return
		}
		var ok bool
		if key, ok = c.metaKey(&m, key, errDecodingKey); !ok {
			return
		}
	default:
		c.serverError("object too large for cache")
		return
	}
	c.serverError("object too large for cache")
	c.s.cache.Delete(key)
}

func (c *conn) storeCommand(req *proto.Request, key, data []byte) string {
	if req.Op == proto.OpAppend || req.Op == proto.OpPrepend {
		return c.concat(key, data, req.Op == proto.OpPrepend, req.CAS)
	}
	ttl, deadline, expired := c.lifetime(req.Exptime)
	m := envelope.Meta{Flags: req.Flags, Deadline: deadline}
	v := data
	if !envelope.Raw(m, data) {
		c.rmw = envelope.Append(c.rmw[:0], m, data)
		v = c.rmw
	}
	if expired {
		return c.storeExpired(req, key)
	}
	op := core.StoreSet
	switch req.Op {
	case proto.OpAdd:
		op = core.StoreAdd
	case proto.OpReplace:
		op = core.StoreReplace
	case proto.OpCAS:
		op = core.StoreCAS
	}
	var err error
	c.written, err = c.s.cache.Store(op, key, v, ttl, req.CAS)
	if op == core.StoreCAS {
		c.countCAS(err)
	}
	switch {
	case err == nil:
		return stored
	case errors.Is(err, core.ErrExists) && req.Op == proto.OpCAS:
		return exists
	case errors.Is(err, core.ErrNotFound) && req.Op == proto.OpCAS:
		return notFound
	case errors.Is(err, core.ErrExists), errors.Is(err, core.ErrNotFound):
		return notStored
	}
	return engineReply(err)
}

func (c *conn) countCAS(err error) {
	switch {
	case err == nil:
		c.n.casHits.Add(1)
	case errors.Is(err, core.ErrExists):
		c.n.casBadval.Add(1)
	case errors.Is(err, core.ErrNotFound):
		c.n.casMisses.Add(1)
	}
}

// storeExpired runs a store whose exptime is already past. memcached
// stores such an item and never returns it, so the visible effect is the
// key's removal where the command would have replaced it, and the
// command's usual reply.
func (c *conn) storeExpired(req *proto.Request, key []byte) string {
	cache := c.s.cache
	switch req.Op {
	case proto.OpSet:
		if err := cache.Delete(key); err != nil && !errors.Is(err, core.ErrNotFound) {
			return engineReply(err)
		}
		return stored
	case proto.OpAdd:
		if _, found := cache.Get(c.val[:0], key); found {
			return notStored
		}
		return stored
	case proto.OpReplace:
		if err := cache.Delete(key); err != nil {
			if errors.Is(err, core.ErrNotFound) {
				return notStored
			}
			return engineReply(err)
		}
		return stored
	}
	res, err := c.casDelete(key, req.CAS)
	c.countCAS(err)
	return res
}

// casDelete removes key if its CAS token is still token (the engine's
// DeleteCAS: a write after the token was read is never removed). err is
// the engine's, for the callers that count it as a cas (a cas with a past
// exptime; a delete with a token counts as a delete).
func (c *conn) casDelete(key []byte, token uint64) (string, error) {
	err := c.s.cache.DeleteCAS(key, token)
	switch {
	case err == nil:
		return stored, nil
	case errors.Is(err, core.ErrExists):
		return exists, err
	case errors.Is(err, core.ErrNotFound):
		return notFound, err
	}
	return engineReply(err), err
}

// rewrite is the read-modify-write loop of append, prepend, touch and incr
// on enveloped or non-canonical numbers: read the item with its token, let
// edit build the new stored value in c.rmw (or return a final reply), and
// store it with op (core.StoreCAS, or core.StoreTouch for a touch, whose
// item keeps its token); retry when another writer changed the key
// meanwhile.
// edit receives the decoded metadata and value; it returns the TTL to
// store with, or a non-empty reply to stop with. A want token other than
// 0 is the client's CAS: an item with another token is not changed.
// ifEmpty, if not "", is the reply to an empty value, given before the
// token is compared (memcached's incr refuses an empty value first).
func (c *conn) rewrite(op core.StoreOp, key []byte, want uint64, ifEmpty string, edit func(m envelope.Meta, old []byte) (ttl time.Duration, reply string)) string {
	for range maxCASRetries {
		old, token, ok := c.lookup(key)
		if !ok {
			return notFound
		}
		m, data := envelope.Decode(old)
		if ifEmpty != "" && len(data) == 0 {
			return ifEmpty
		}
		if want != 0 && token != want {
			return exists
		}
		ttl, reply := edit(m, data)
		if reply != "" {
			return reply
		}
		written, err := c.s.cache.Store(op, key, c.rmw, ttl, token)
		switch {
		case err == nil:
			c.written = written
			return ""
		case errors.Is(err, core.ErrExists):
			c.n.casRetries.Add(1)
			continue
		case errors.Is(err, core.ErrNotFound):
			return notFound
		}
		return engineReply(err)
	}
	return contention
}

// concat runs append (prepend=false) and prepend: the item keeps its
// flags and expiry, as in memcached; want is the client's CAS (0: none).
func (c *conn) concat(key, data []byte, prepend bool, want uint64) string {
	reply := c.rewrite(core.StoreCAS, key, want, "", func(m envelope.Meta, old []byte) (time.Duration, string) {
		ttl, expired := c.remaining(m.Deadline)
		if expired {
			return 0, notStored
		}
		if len(old)+len(data) > c.s.cfg.MaxItem {
			// memcached's answer: the item is not stored (the block itself
			// within the limit, so not "object too large").
			return 0, notStored
		}
		// The header depends on the first byte of the new value (one
		// that looks like a marker is escaped): the prepended block's,
		// unless it is empty.
		first := old
		if prepend && len(data) > 0 || len(old) == 0 {
			first = data
		}
		h := envelope.HeaderLen(m, first)
		b := append(c.rmw[:0], make([]byte, h)...)
		envelope.PutHeader(b, m, first)
		if prepend {
			b = append(append(b, data...), old...)
		} else {
			b = append(append(b, old...), data...)
		}
		c.rmw = b
		return ttl, ""
	})
	switch reply {
	case "":
		return stored
	case notFound, tooLarge: // tooLarge: within -I, but not a segment
		return notStored
	}
	return reply
}

// touch gives key a new exptime and returns its stored value (in c.val)
// and CAS token after the change: the token it had (the engine's
// StoreTouch), as memcached's touch keeps an item's CAS unique. A past
// exptime expires the item: it is returned this once and deleted.
func (c *conn) touch(key []byte, exptime int64) ([]byte, uint64, bool) {
	ttl, deadline, expired := c.lifetime(exptime)
	if expired {
		// The item returned is the one removed: a write after the read
		// is neither returned nor removed (the delete is by token).
		for range maxCASRetries {
			v, token, ok := c.lookup(key)
			if !ok {
				return nil, 0, false
			}
			switch err := c.s.cache.DeleteCAS(key, token); {
			case err == nil:
				return v, token, true
			case errors.Is(err, core.ErrExists):
				c.n.casRetries.Add(1)
				continue
			}
			return nil, 0, false // removed by someone else first
		}
		return nil, 0, false
	}
	reply := c.rewrite(core.StoreTouch, key, 0, "", func(m envelope.Meta, old []byte) (time.Duration, string) {
		m.Deadline = deadline
		c.rmw = envelope.Append(c.rmw[:0], m, old)
		return ttl, ""
	})
	if reply != "" {
		return nil, 0, false
	}
	// The value and token of the item the touch stored, not a read after
	// it (see conn.written).
	c.val = append(c.val[:0], c.rmw...)
	return c.val, c.written, true
}

// addDelta runs incr/decr (want: the client's CAS token, 0 for none): the
// engine's atomic in-place update for raw canonical numbers, else a CAS loop that parses the number as memcached
// does and keeps the item's flags and expiry. It returns the new value or
// a reply.
func (c *conn) addDelta(key []byte, delta uint64, incr bool, want uint64) (uint64, string) {
	var n uint64
	// A client's CAS token needs the compare-and-set loop; without one,
	// the engine's in-place update serves raw numbers.
	c.written = 0
	if want == 0 {
		var err error
		if incr {
			n, c.written, err = c.s.cache.IncrCAS(key, delta)
		} else {
			n, c.written, err = c.s.cache.DecrCAS(key, delta)
		}
		switch {
		case err == nil:
			return n, ""
		case errors.Is(err, core.ErrNotFound):
			return 0, notFound
		case !errors.Is(err, core.ErrNotNumeric):
			return 0, engineReply(err)
		}
	}
	reply := c.rewrite(core.StoreCAS, key, want, nonNumeric, func(m envelope.Meta, old []byte) (time.Duration, string) {
		ttl, expired := c.remaining(m.Deadline)
		if expired {
			return 0, notFound
		}
		v, ok := parseCounter(old)
		if !ok {
			return 0, nonNumeric
		}
		switch {
		case incr:
			v += delta // wraps at 2^64, as memcached's does
		case delta >= v:
			v = 0
		default:
			v -= delta
		}
		n = v
		c.num = strconv.AppendUint(c.num[:0], v, 10)
		c.rmw = envelope.Append(c.rmw[:0], m, c.num)
		return ttl, ""
	})
	return n, reply
}

// countArith counts an incr (or decr) that ended with reply res; one that
// created the counter (created) counts as neither a hit nor a miss, as in
// memcached.
func (c *conn) countArith(incr bool, res string, created bool) {
	if created {
		return
	}
	hits, misses := &c.n.incrHits, &c.n.incrMisses
	if !incr {
		hits, misses = &c.n.decrHits, &c.n.decrMisses
	}
	switch res {
	case "":
		hits.Add(1)
	case notFound:
		misses.Add(1)
	}
}

// addOrCreate is addDelta that, on a missing key, creates the counter
// with initial and exptime instead (the meta and binary protocols' auto
// vivify; created says it did); if another client created it first, the
// delta goes to theirs.
func (c *conn) addOrCreate(key []byte, delta uint64, incr bool, want, initial uint64, exptime int64) (n uint64, res string, created bool) {
	n, res = c.addDelta(key, delta, incr, want)
	if res != notFound {
		return n, res, false
	}
	c.num = strconv.AppendUint(c.num[:0], initial, 10)
	add := proto.Request{Op: proto.OpAdd, Exptime: exptime}
	switch res := c.store(&add, key, c.num); res {
	case stored:
		return initial, "", true
	case notStored:
		n, res = c.addDelta(key, delta, incr, want)
		return n, res, false
	default:
		return 0, res, false
	}
}

// parseCounter parses a value as memcached's incr does: its
// safe_strtoull reads the value where it is followed by "\r\n", so it
// takes leading white space, a sign, decimal digits fitting in 64 bits,
// and then white space (with anything after it) or the value's end. A
// minus sign negates modulo 2^64, as strtoull does, and the result is
// refused if it is negative as a signed number. (memcached pads a shrunk
// number with spaces, which this accepts.)
func parseCounter(b []byte) (uint64, bool) {
	i := 0
	for i < len(b) && isCSpace(b[i]) {
		i++
	}
	neg := false
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	start := i
	var v uint64
	for ; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
		d := uint64(b[i] - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false // strtoull's ERANGE
		}
		v = v*10 + d
	}
	if i == start || i < len(b) && !isCSpace(b[i]) {
		return 0, false
	}
	if neg {
		if v = -v; int64(v) < 0 {
			return 0, false
		}
	}
	return v, true
}

// isCSpace is C's isspace in the C locale.
func isCSpace(c byte) bool {
	return c == ' ' || '\t' <= c && c <= '\r'
}
