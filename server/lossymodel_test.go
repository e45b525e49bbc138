package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segcache/segcache/core"
)

// TestModelUnderEviction runs connections that each own a set of keys
// against a server whose cache is too small for them (it holds about half), so
// that every policy's drains (eviction, S3-FIFO's promotions, merge's
// copies) run between a connection's commands and inside them. Each
// connection checks every reply against its own model of its keys, in
// which a key may vanish at any moment (the cache evicted it) but never
// shows a value it does not hold, never comes back unwritten, and never
// refuses a CAS whose token is current: nobody else writes the key, so
// the only acceptable answers are the model's and "it was evicted".
//
// The commands are memcached's text storage commands with flags (the
// server's envelope), TTLs, append and prepend (read-modify-CAS loops in
// the server), incr and decr (in place for plain numbers, by CAS
// otherwise), touch, get, gets, cas with the current and with a stale
// token, and the meta commands' forms of them (ms in each mode, mg, md,
// ma), judged by the same model.
func TestModelUnderEviction(t *testing.T) {
	const segment = 4096
	for _, tc := range []struct {
		name string
		opts core.Options
	}{
		{"s3fifo", core.Options{Eviction: core.PolicyS3FIFO}},
		{"s3fifo growing table", core.Options{Eviction: core.PolicyS3FIFO, HashPower: 4}},
		{"merge", core.Options{Eviction: core.PolicyMerge}},
		{"fifo", core.Options{Eviction: core.PolicyFIFO}},
		{"random", core.Options{Eviction: core.PolicyRandom}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.HeapBytes, opts.SegmentBytes = 16*segment, segment
			ts := startServerOver(t, Config{MaxItem: lossyMaxItem}, opts)
			const conns, keysEach, steps = 4, 24, 6000
			errs := make(chan error, conns)
			var wg sync.WaitGroup
			for i := range conns {
				lc := newLossyConn(ts, uint64(i), keysEach)
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := lc.play(steps); err != nil {
						errs <- fmt.Errorf("connection %d: %w", i, err)
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			// The keys outgrow the heap: a run that evicted nothing tested
			// nothing.
			if st := ts.cache.Stats(); st.EvictedItems == 0 {
				t.Errorf("nothing was evicted (%+v): the test did not run under eviction", st)
			}
		})
	}
}

// lossyMaxItem is the server's -I for TestModelUnderEviction: appends
// grow values past it, so "too large" replies are exercised too.
const lossyMaxItem = 2500

// lossyKey is what a connection knows of a key it owns.
type lossyKey struct {
	held   bool      // written and not seen gone since; the cache may have dropped it
	item   modelItem // the value and flags, when held
	token  uint64    // the token a gets returned since the last write (0: none)
	stale  uint64    // a token of an earlier write (0: none yet)
	expiry bool      // stored with an expiry (the server keeps it in an envelope)
	// inPlace: incr or decr changed the number in place since it was
	// stored (a canonical number without flags or expiry; see touched)
	inPlace bool
	trail   []string // the last commands on the key and their replies
}

// wrote records a write that the server acknowledged.
// Writes that set the item's expiry set k.expiry too; append, prepend,
// incr and decr keep it.
func (k *lossyKey) wrote(it modelItem) {
	k.held, k.item, k.inPlace = true, it, false
	k.forgetToken()
}

// touched records a touch that the server acknowledged: the item keeps its
// token, as in memcached, but a number that incr or decr changed in place
// gets a new one if the touch gives it an expiry (its version has no place
// in the new item, an envelope).
func (k *lossyKey) touched(expiry bool) {
	if k.inPlace && expiry {
		k.forgetToken()
		k.inPlace = false
	}
	k.expiry = expiry
}

// counted records an incr or decr to n that the server acknowledged. It
// changed the number in place if the server stores it as a number: given
// without flags or expiry, in canonical form.
func (k *lossyKey) counted(n string) {
	_, err := strconv.ParseUint(k.item.value, 10, 64)
	inPlace := k.item.flags == 0 && !k.expiry && err == nil && (len(k.item.value) == 1 || k.item.value[0] != '0')
	k.wrote(modelItem{k.item.flags, n})
	k.inPlace = inPlace
}

// gone records that the server showed the key absent.
func (k *lossyKey) gone() {
	k.held = false
	k.forgetToken()
}

func (k *lossyKey) forgetToken() {
	if k.token != 0 {
		k.stale = k.token
	}
	k.token = 0
}

// lossyConn is one connection of TestModelUnderEviction and its model.
type lossyConn struct {
	nc   net.Conn
	r    *bufio.Reader
	rng  *rand.Rand
	keys []string
	at   map[string]*lossyKey
}

func newLossyConn(ts *testServer, id uint64, keys int) *lossyConn {
	c := ts.dial()
	lc := &lossyConn{nc: c.nc, r: c.r, rng: rand.New(rand.NewPCG(id, 0x10557)), at: map[string]*lossyKey{}}
	for i := range keys {
		k := fmt.Sprintf("c%d-k%d", id, i)
		lc.keys = append(lc.keys, k)
		lc.at[k] = &lossyKey{}
	}
	return lc
}

// play runs steps random commands, sent in pipelined batches of 1 to 32
// so that the server serves them back to back, then checks every key once
// more.
func (lc *lossyConn) play(steps int) error {
	var batch strings.Builder
	var judges []func() error
	for done := 0; done < steps; {
		batch.Reset()
		judges = judges[:0]
		for n := 1 + lc.rng.IntN(32); n > 0 && done < steps; n, done = n-1, done+1 {
			cmd, judge := lc.step(lc.keys[lc.rng.IntN(len(lc.keys))])
			batch.WriteString(cmd)
			judges = append(judges, judge)
		}
		// Sent while the replies are read, so that neither side's socket
		// buffer has to hold a whole batch.
		sent := make(chan error, 1)
		go func(cmds string) { sent <- lc.send(cmds) }(batch.String())
		for i, judge := range judges {
			if err := judge(); err != nil {
				return fmt.Errorf("command %d: %w", done-len(judges)+i, err)
			}
		}
		if err := <-sent; err != nil {
			return fmt.Errorf("sending a batch: %v", err)
		}
	}
	for _, k := range lc.keys {
		cmd, judge := lc.read(k, "get")
		if err := lc.send(cmd); err != nil {
			return fmt.Errorf("sending: %v", err)
		}
		if err := judge(); err != nil {
			return fmt.Errorf("final read: %w", err)
		}
	}
	return nil
}

var lossyAlphabet = []string{"0", "1", "7", "a", " ", "\xfc", "\xfd", "\xff", "\r", "\n", "xyzw"}

// value is a plain number a third of the time (incr's and the server's
// raw fast path), else up to 1,200 bytes that may look like the server's
// envelope markers.
func (lc *lossyConn) value() string {
	if lc.rng.IntN(3) == 0 {
		return strconv.FormatUint(lc.rng.Uint64N(1000), 10)
	}
	var b strings.Builder
	for n := lc.rng.IntN(1200); b.Len() < n; {
		b.WriteString(lossyAlphabet[lc.rng.IntN(len(lossyAlphabet))])
	}
	return b.String()
}

func (lc *lossyConn) flags() uint32 {
	if lc.rng.IntN(2) == 0 {
		return 0
	}
	return lc.rng.Uint32()
}

func (lc *lossyConn) exptime() int {
	return []int{0, 0, 3600}[lc.rng.IntN(3)]
}

// step draws one random command on key k. It returns the command and the
// judge that reads its reply and checks it against the model as it stands
// when the replies before it have been judged (the commands of a batch
// are drawn before any of them is answered).
func (lc *lossyConn) step(k string) (string, func() error) {
	s := lc.at[k]
	switch op := lc.rng.IntN(18); op {
	case 0, 1, 2, 3, 4:
		verb := []string{"set", "add", "replace", "append", "prepend"}[op]
		v, f, e := lc.value(), lc.flags(), lc.exptime()
		cmd := fmt.Sprintf("%s %s %d %d %d\r\n%s\r\n", verb, k, f, e, len(v), v)
		return cmd, lc.replyTo(k, cmd, func(reply string) bool { return lc.stored(k, verb, modelItem{f, v}, e != 0, reply) })
	case 5:
		cmd := "delete " + k + "\r\n"
		return cmd, lc.replyTo(k, cmd, func(reply string) bool {
			switch {
			case reply == "DELETED" && s.held, reply == "NOT_FOUND":
				s.gone()
				return true
			}
			return false
		})
	case 6, 7:
		return lc.arith(k, op == 6, lc.rng.Uint64N(20))
	case 8:
		exptime := lc.exptime()
		cmd := fmt.Sprintf("touch %s %d\r\n", k, exptime)
		return cmd, lc.replyTo(k, cmd, func(reply string) bool {
			switch {
			case reply == "TOUCHED" && s.held:
				s.touched(exptime != 0)
				return true
			case reply == "NOT_FOUND":
				s.gone()
				return true
			}
			return false
		})
	case 9, 10:
		return lc.read(k, []string{"get", "gets"}[op-9])
	case 11, 12:
		token := s.token // current, unless a write in this batch changes it
		if op == 12 {
			token = s.stale
		}
		if token == 0 {
			return lc.read(k, "gets")
		}
		v, f, e := lc.value(), lc.flags(), lc.exptime()
		cmd := fmt.Sprintf("cas %s %d %d %d %d\r\n%s\r\n", k, f, e, len(v), token, v)
		return cmd, lc.replyTo(k, cmd, func(reply string) bool {
			current := token == s.token
			switch {
			case reply == "STORED" && current && s.held:
				s.wrote(modelItem{f, v})
				s.expiry = e != 0
				return true
			case reply == "EXISTS" && !current && s.held: // the key is there with a newer write
				return true
			case reply == "NOT_FOUND":
				s.gone()
				return true
			}
			return false
		})
	case 14: // ms, in each mode: the storage commands again
		mode := lc.rng.IntN(5)
		verb := []string{"set", "add", "replace", "append", "prepend"}[mode]
		v, f, e := lc.value(), lc.flags(), lc.exptime()
		cmd := fmt.Sprintf("ms %s %d F%d T%d M%c\r\n%s\r\n", k, len(v), f, e, "SERAP"[mode], v)
		return cmd, lc.metaReplyTo(k, cmd, msWords, func(reply string) bool { return lc.stored(k, verb, modelItem{f, v}, e != 0, reply) })
	case 15:
		cmd := "md " + k + "\r\n"
		return cmd, lc.metaReplyTo(k, cmd, mdWords, func(reply string) bool {
			switch {
			case reply == "DELETED" && s.held, reply == "NOT_FOUND":
				s.gone()
				return true
			}
			return false
		})
	case 16: // ma, in place or by CAS like incr and decr
		incr := lc.rng.IntN(2) == 0
		delta := lc.rng.Uint64N(20)
		cmd := fmt.Sprintf("ma %s D%d M%c v\r\n", k, delta, "DI"[b2i(incr)])
		return cmd, lc.metaReplyTo(k, cmd, maWords, lc.judgeArith(k, incr, delta))
	default:
		return lc.read(k, []string{"get", "mg"}[lc.rng.IntN(2)])
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// The text protocol's words for the meta commands' replies, so that one
// judge serves both.
var (
	msWords = map[string]string{"HD": "STORED", "NS": "NOT_STORED", "EX": "EXISTS", "NF": "NOT_FOUND"}
	mdWords = map[string]string{"HD": "DELETED", "NF": "NOT_FOUND"}
	maWords = map[string]string{"NF": "NOT_FOUND"}
)

// metaReplyTo is replyTo for a meta command: the reply is put in the text
// protocol's words, and a VA line is replaced by the value after it (ma's
// number).
func (lc *lossyConn) metaReplyTo(k, cmd string, words map[string]string, accept func(reply string) bool) func() error {
	return func() error {
		l, err := lc.r.ReadString('\n')
		if err != nil {
			return lc.fail(k, "%.30q: reading the reply: %v", cmd, err)
		}
		reply := strings.TrimSuffix(l, "\r\n")
		if size, ok := strings.CutPrefix(reply, "VA "); ok {
			n, _ := strconv.Atoi(size)
			b := make([]byte, n+2)
			if _, err := io.ReadFull(lc.r, b); err != nil {
				return lc.fail(k, "%.30q: reading the value: %v", cmd, err)
			}
			reply = string(b[:n])
		} else if w, ok := words[reply]; ok {
			reply = w
		}
		lc.note(k, cmd, reply)
		if !accept(reply) {
			return lc.wrong(k, reply)
		}
		return nil
	}
}

// stored judges the reply to a storage command that sent it (with an
// expiry or not), and applies it to the model.
func (lc *lossyConn) stored(k, verb string, it modelItem, expiry bool, reply string) bool {
	s := lc.at[k]
	switch verb {
	case "set":
		if reply == "STORED" {
			s.wrote(it)
			s.expiry = expiry
			return true
		}
	case "add":
		switch {
		case reply == "STORED": // absent, or evicted since
			s.wrote(it)
			s.expiry = expiry
			return true
		case reply == "NOT_STORED" && s.held:
			return true
		}
	case "replace":
		switch {
		case reply == "STORED" && s.held:
			s.wrote(it)
			s.expiry = expiry
			return true
		case reply == "NOT_STORED":
			s.gone()
			return true
		}
	default: // append, prepend: the item keeps its flags
		v := s.item.value + it.value
		if verb == "prepend" {
			v = it.value + s.item.value
		}
		switch {
		case reply == "STORED" && s.held:
			s.wrote(modelItem{s.item.flags, v})
			return true
		case reply == "NOT_STORED" && s.held && len(v) > lossyMaxItem:
			return true // too large: the item stays as it was
		case reply == "NOT_STORED":
			s.gone()
			return true
		}
	}
	return false
}

// arith draws incr or decr by delta.
func (lc *lossyConn) arith(k string, incr bool, delta uint64) (string, func() error) {
	verb := "decr"
	if incr {
		verb = "incr"
	}
	cmd := fmt.Sprintf("%s %s %d\r\n", verb, k, delta)
	return cmd, lc.replyTo(k, cmd, lc.judgeArith(k, incr, delta))
}

// judgeArith accepts the replies an incr (or decr) by delta may get: the
// model's number, not found (the key is then gone) or non-numeric.
func (lc *lossyConn) judgeArith(k string, incr bool, delta uint64) func(reply string) bool {
	s := lc.at[k]
	return func(reply string) bool {
		n, numeric := parseCounter([]byte(s.item.value))
		switch {
		case incr:
			n += delta
		default:
			n -= min(n, delta)
		}
		switch {
		case reply == "NOT_FOUND":
			s.gone()
			return true
		case reply == nonNumeric && s.held && !numeric:
			return true
		case reply == strconv.FormatUint(n, 10) && s.held && numeric:
			s.counted(reply)
			return true
		}
		return false
	}
}

var (
	lossyValueLine = regexp.MustCompile(`^VALUE (\S+) (\d+) (\d+)(?: (\d+))?\r\n$`)
	lossyVALine    = regexp.MustCompile(`^VA (\d+) f(\d+) c(\d+)\r\n$`)
)

// read draws get, gets or mg (with v f c) for k. Its judge accepts a value
// the model holds, or a miss (the key is then gone); gets and mg give the
// key's token.
func (lc *lossyConn) read(k, verb string) (string, func() error) {
	s := lc.at[k]
	cmd := verb + " " + k + "\r\n"
	miss, header, tail := "END\r\n", lossyValueLine, "\r\nEND\r\n"
	if verb == "mg" {
		cmd = "mg " + k + " v f c\r\n"
		miss, header, tail = "EN\r\n", lossyVALine, "\r\n"
	}
	return cmd, func() error {
		l, err := lc.r.ReadString('\n')
		if err != nil {
			return lc.fail(k, "%s: reading: %v", verb, err)
		}
		if l == miss {
			lc.note(k, verb, "miss")
			s.gone()
			return nil
		}
		m := header.FindStringSubmatch(l)
		if verb == "mg" && m != nil {
			m = []string{m[0], k, m[2], m[1], m[3]} // as a VALUE line's fields
		}
		if m == nil || m[1] != k || verb != "get" && m[4] == "" {
			return lc.fail(k, "%s: bad value line %q", verb, l)
		}
		flags, _ := strconv.ParseUint(m[2], 10, 32)
		n, _ := strconv.Atoi(m[3])
		b := make([]byte, n+len(tail))
		if _, err := io.ReadFull(lc.r, b); err != nil {
			return lc.fail(k, "%s: reading the value: %v", verb, err)
		}
		if got := string(b[n:]); got != tail {
			return lc.fail(k, "%s: %q after the value", verb, got)
		}
		got := modelItem{uint32(flags), string(b[:n])}
		lc.note(k, verb, fmt.Sprintf("hit %d bytes, flags %d", n, flags))
		if !s.held || got != s.item {
			return lc.wrong(k, fmt.Sprintf("a value of %d bytes, flags %d (%.40q)", n, flags, got.value))
		}
		if verb != "get" {
			s.token, _ = strconv.ParseUint(m[4], 10, 64)
		}
		return nil
	}
}

func (lc *lossyConn) send(cmd string) error {
	lc.nc.SetDeadline(time.Now().Add(ioTimeout))
	_, err := io.WriteString(lc.nc, cmd)
	return err
}

// replyTo returns the judge of a command answered by one line: it reads
// the line and fails unless accept (which applies the reply to the model)
// takes it.
func (lc *lossyConn) replyTo(k, cmd string, accept func(reply string) bool) func() error {
	return func() error {
		l, err := lc.r.ReadString('\n')
		if err != nil {
			return lc.fail(k, "%.30q: reading the reply: %v", cmd, err)
		}
		reply := strings.TrimSuffix(l, "\r\n")
		lc.note(k, cmd, reply)
		if !accept(reply) {
			return lc.wrong(k, reply)
		}
		return nil
	}
}

// note adds a command and its reply to k's trail.
func (lc *lossyConn) note(k, cmd, reply string) {
	s := lc.at[k]
	if i := strings.IndexByte(cmd, '\r'); i >= 0 {
		cmd = cmd[:i]
	}
	s.trail = append(s.trail, fmt.Sprintf("%s -> %s", cmd, reply))
	if len(s.trail) > 12 {
		s.trail = s.trail[1:]
	}
}

// wrong reports a reply the model does not allow.
func (lc *lossyConn) wrong(k, reply string) error {
	s := lc.at[k]
	if !s.held {
		return lc.fail(k, "reply %q, but the model has the key absent", reply)
	}
	return lc.fail(k, "reply %q, but the model has the key holding %d bytes, flags %d, or evicted", reply, len(s.item.value), s.item.flags)
}

func (lc *lossyConn) fail(k, format string, args ...any) error {
	return errors.New(fmt.Sprintf(format, args...) + "\n\t" + k + "'s last commands:\n\t\t" + strings.Join(lc.at[k].trail, "\n\t\t"))
}
