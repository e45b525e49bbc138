package linearizability

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segcache/segcache/core"
	"github.com/segcache/segcache/server"
)

// textClient runs the model's operations on segcached over one connection,
// choosing at random between the classic text commands and the meta
// commands that do the same (and that return tokens where the classic
// ones do not).
type textClient struct {
	nc  net.Conn
	r   *bufio.Reader
	rng *rand.Rand
	err error // the first protocol error; the test fails on it
}

func (tc *textClient) Supports(Op) bool { return true }

func (tc *textClient) Run(in Input, token uint64) (Output, uint64) {
	meta := tc.rng.IntN(2) == 0
	k, v := in.Key, in.Val
	switch in.Op {
	case Set, Add, Replace:
		if meta {
			mode := map[Op]string{Set: "S", Add: "E", Replace: "R"}[in.Op]
			return tc.ms(fmt.Sprintf("ms %s %d c M%s\r\n%s\r\n", k, len(v), mode, v), in.Op)
		}
		verb := map[Op]string{Set: "set", Add: "add", Replace: "replace"}[in.Op]
		return tc.stored(fmt.Sprintf("%s %s 0 0 %d\r\n%s\r\n", verb, k, len(v), v), in.Op), 0
	case CAS:
		if meta {
			return tc.ms(fmt.Sprintf("ms %s %d c C%d\r\n%s\r\n", k, len(v), token, v), CAS)
		}
		return tc.stored(fmt.Sprintf("cas %s 0 0 %d %d\r\n%s\r\n", k, len(v), token, v), CAS), 0
	case Append, Prepend:
		if meta {
			return tc.ms(fmt.Sprintf("ms %s %d c M%s\r\n%s\r\n", k, len(v), map[Op]string{Append: "A", Prepend: "P"}[in.Op], v), in.Op)
		}
		verb := map[Op]string{Append: "append", Prepend: "prepend"}[in.Op]
		return tc.stored(fmt.Sprintf("%s %s 0 0 %d\r\n%s\r\n", verb, k, len(v), v), in.Op), 0
	case Delete:
		if meta {
			return tc.oneLine("md "+k+"\r\n", map[string]string{"HD": OK, "NF": NotFound}), 0
		}
		return tc.oneLine("delete "+k+"\r\n", map[string]string{"DELETED": OK, "NOT_FOUND": NotFound}), 0
	case DeleteCAS:
		if meta {
			return tc.oneLine(fmt.Sprintf("md %s C%d\r\n", k, token), map[string]string{"HD": OK, "EX": Exists, "NF": NotFound}), 0
		}
		// A cas with a past exptime removes the item if the token holds.
		return tc.oneLine(fmt.Sprintf("cas %s 0 -1 1 %d\r\nx\r\n", k, token), map[string]string{"STORED": OK, "EXISTS": Exists, "NOT_FOUND": NotFound}), 0
	case Get, Take:
		if meta || in.Op == Take {
			cmd := "mg " + k + " v c\r\n"
			if in.Op == Take {
				cmd = "mg " + k + " v c T-1\r\n"
			}
			return tc.metaValue(cmd)
		}
		return tc.gets(k)
	case Incr, Decr:
		if meta {
			return tc.metaValue(fmt.Sprintf("ma %s D%d M%s v c\r\n", k, in.Delta, map[Op]string{Incr: "I", Decr: "D"}[in.Op]))
		}
		verb := map[Op]string{Incr: "incr", Decr: "decr"}[in.Op]
		l := tc.call(fmt.Sprintf("%s %s %d\r\n", verb, k, in.Delta))
		switch {
		case l == "NOT_FOUND":
			return Output{Res: NotFound}, 0
		case strings.HasPrefix(l, "CLIENT_ERROR cannot increment or decrement non-numeric value"):
			return Output{Res: NotNumeric}, 0
		}
		if _, err := strconv.ParseUint(l, 10, 64); err != nil {
			return tc.fail("%s: %q", verb, l), 0
		}
		return Output{Res: OK, Val: l}, 0
	}
	return tc.fail("op %v", in.Op), 0
}

// call sends cmd and reads one reply line.
func (tc *textClient) call(cmd string) string {
	if tc.err != nil {
		return ""
	}
	tc.nc.SetDeadline(time.Now().Add(time.Minute))
	if _, err := io.WriteString(tc.nc, cmd); err != nil {
		tc.err = err
		return ""
	}
	l, err := tc.r.ReadString('\n')
	if err != nil {
		tc.err = err
	}
	return strings.TrimSuffix(l, "\r\n")
}

func (tc *textClient) fail(format string, args ...any) Output {
	if tc.err == nil {
		tc.err = fmt.Errorf(format, args...)
	}
	return Output{Res: "protocol error"}
}

// oneLine runs a command answered by one word, mapped to a result.
func (tc *textClient) oneLine(cmd string, words map[string]string) Output {
	l := tc.call(cmd)
	if res, ok := words[l]; ok {
		return Output{Res: res}
	}
	return tc.fail("%q: %q", cmd, l)
}

// stored runs a classic storage command.
func (tc *textClient) stored(cmd string, op Op) Output {
	notStored := NotFound // replace: the key is absent
	if op == Add {
		notStored = Exists
	}
	return tc.oneLine(cmd, map[string]string{"STORED": OK, "NOT_STORED": notStored, "EXISTS": Exists, "NOT_FOUND": NotFound})
}

// ms runs a meta set with c: HD c<token>, or NS, EX, NF.
func (tc *textClient) ms(cmd string, op Op) (Output, uint64) {
	l := tc.call(cmd)
	var tok uint64
	if _, err := fmt.Sscanf(l, "HD c%d", &tok); err == nil {
		return Output{Res: OK}, tok
	}
	// A failure reports c0, as memcached's does.
	switch l = strings.TrimSuffix(l, " c0"); {
	case l == "NS" && op == Add:
		return Output{Res: Exists}, 0
	case l == "NS" && (op == Replace || op == Append || op == Prepend):
		return Output{Res: NotFound}, 0
	case l == "EX":
		return Output{Res: Exists}, 0
	case l == "NF":
		return Output{Res: NotFound}, 0
	}
	return tc.fail("%q: %q", cmd, l), 0
}

// metaValue runs a meta command answered by VA <n> c<token> and a value
// (mg and ma with v c), or by a miss (EN, NF), or by ma's refusal of a
// value that is not a number.
func (tc *textClient) metaValue(cmd string) (Output, uint64) {
	l := tc.call(cmd)
	switch l {
	case "EN", "NF":
		return Output{Res: NotFound}, 0
	case "CLIENT_ERROR cannot increment or decrement non-numeric value":
		return Output{Res: NotNumeric}, 0
	}
	var n int
	var tok uint64
	if _, err := fmt.Sscanf(l, "VA %d c%d", &n, &tok); err != nil {
		return tc.fail("%q: %q", cmd, l), 0
	}
	return Output{Res: OK, Val: tc.block(n)}, tok
}

// gets runs gets: VALUE <key> <flags> <n> <token>, the value, END; or END.
func (tc *textClient) gets(k string) (Output, uint64) {
	l := tc.call("gets " + k + "\r\n")
	if l == "END" {
		return Output{Res: NotFound}, 0
	}
	var key string
	var flags, n int
	var tok uint64
	if _, err := fmt.Sscanf(l, "VALUE %s %d %d %d", &key, &flags, &n, &tok); err != nil || key != k {
		return tc.fail("gets %s: %q", k, l), 0
	}
	v := tc.block(n)
	if end, _ := tc.r.ReadString('\n'); end != "END\r\n" {
		return tc.fail("gets %s: %q after the value", k, end), 0
	}
	return Output{Res: OK, Val: v}, tok
}

// block reads a data block of n bytes and its \r\n.
func (tc *textClient) block(n int) string {
	b := make([]byte, n+2)
	if _, err := io.ReadFull(tc.r, b); err != nil && tc.err == nil {
		tc.err = err
	}
	return string(b[:n])
}

// TestServerIsLinearizable runs the model's clients against segcached
// over TCP (text and meta commands, and the binary protocol), served by
// goroutines and by two event loops, with a cache that holds everything,
// with one too small for what a filler writes beside the clients, and with
// one that another connection flushes every 500 µs.
func TestServerIsLinearizable(t *testing.T) {
	rounds := 4
	if testing.Short() {
		rounds = 1
	}
	big := core.Options{HeapBytes: 16 << 20, SegmentBytes: 1 << 20}
	small := core.Options{HeapBytes: 256 << 10, SegmentBytes: 16 << 10}
	for _, tc := range []struct {
		name    string
		opts    core.Options
		loops   int
		filler  bool
		flusher bool // another connection sends flush_all every 500 µs
	}{
		{"goroutines", big, -1, false, false},
		{"two event loops", big, 2, false, false},
		{"goroutines, evicting", small, -1, true, false},
		{"two event loops, evicting", small, 2, true, false},
		{"two event loops, flushed", big, 2, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for round := range rounds {
				cache, err := core.Open(tc.opts)
				if err != nil {
					t.Fatal(err)
				}
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				srv := server.New(cache, server.Config{EventLoops: tc.loops, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
				served := make(chan error, 1)
				go func() { served <- srv.Serve(ln) }()
				stop, filled := fill(t, cache, tc.filler, 0, false)
				flushes := make(chan int, 1)
				go func() { flushes <- flush(ln.Addr().String(), tc.flusher, stop) }()
				var conns []net.Conn
				var errs []*error
				w := Workload{Clients: 4, Ops: 3000, Plain: 1, Counters: 1, Seed: uint64(round)}
				history := Record(w, func(id int) Client {
					nc, err := net.Dial("tcp", ln.Addr().String())
					if err != nil {
						t.Fatal(err)
					}
					conns = append(conns, nc)
					if id%2 == 1 { // half the clients speak the binary protocol
						c := &binClient{nc: nc, r: bufio.NewReader(nc)}
						errs = append(errs, &c.err)
						return c
					}
					c := &textClient{nc: nc, r: bufio.NewReader(nc), rng: rand.New(rand.NewPCG(uint64(round), uint64(id)))}
					errs = append(errs, &c.err)
					return c
				})
				close(stop)
				<-filled
				if n := <-flushes; tc.flusher && n <= 0 {
					t.Fatalf("round %d: no flush_all was answered (%d)", round, n)
				}
				evicted := cache.Stats().EvictedItems
				for i, nc := range conns {
					if err := *errs[i]; err != nil {
						t.Fatalf("round %d, client %d: %v", round, i, err)
					}
					nc.Close()
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				srv.Shutdown(ctx)
				cancel()
				<-served
				cache.Close()
				check(t, tc.filler || tc.flusher, history, fmt.Sprintf("%s-%d", tc.name, round))
				if tc.filler && evicted == 0 {
					t.Errorf("round %d: no live item was evicted: the lossy case did not run", round)
				}
			}
		})
	}
}

// flush sends flush_all to addr every 500 µs until stop is closed, and
// returns how many were answered OK (-1 if one was not); without on, it
// sends nothing.
func flush(addr string, on bool, stop chan struct{}) int {
	if !on {
		return 0
	}
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return -1
	}
	defer nc.Close()
	r := bufio.NewReader(nc)
	for n := 0; ; n++ {
		select {
		case <-stop:
			return n
		case <-time.After(500 * time.Microsecond):
		}
		nc.SetDeadline(time.Now().Add(time.Minute))
		if _, err := io.WriteString(nc, "flush_all\r\n"); err != nil {
			return -1
		}
		if l, err := r.ReadString('\n'); err != nil || l != "OK\r\n" {
			return -1
		}
	}
}

// binClient runs the model's operations on segcached over one connection
// in the binary protocol.
type binClient struct {
	nc  net.Conn
	r   *bufio.Reader
	err error
}

func (bc *binClient) Supports(Op) bool { return true }

// The binary protocol's opcodes and statuses this client uses.
const (
	binGet, binSet, binAdd, binReplace, binDelete, binIncr, binDecr, binAppend, binPrepend, binGAT = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0e, 0x0f, 0x1d

	binOK, binNotFound, binExists, binNotStored, binNonNumeric = 0, 1, 2, 5, 6
)

func (bc *binClient) Run(in Input, token uint64) (Output, uint64) {
	var extras []byte
	var op byte
	var cas uint64
	value := ""
	switch in.Op {
	case Set, Add, Replace, CAS:
		op = map[Op]byte{Set: binSet, Add: binAdd, Replace: binReplace, CAS: binSet}[in.Op]
		extras = make([]byte, 8) // flags 0, exptime 0
		value = in.Val
		if in.Op == CAS {
			cas = token
		}
	case Append, Prepend:
		op, value = map[Op]byte{Append: binAppend, Prepend: binPrepend}[in.Op], in.Val
	case Delete, DeleteCAS:
		op = binDelete
		if in.Op == DeleteCAS {
			cas = token
		}
	case Get:
		op = binGet
	case Take:
		// A gat to a time in the past returns the item and removes it:
		// exptimes above 30 days are absolute, this one in January 1970.
		op, extras = binGAT, binary.BigEndian.AppendUint32(nil, 30*24*3600+1)
	case Incr, Decr:
		op = map[Op]byte{Incr: binIncr, Decr: binDecr}[in.Op]
		extras = binary.BigEndian.AppendUint64(nil, in.Delta)
		extras = binary.BigEndian.AppendUint64(extras, 0)
		extras = binary.BigEndian.AppendUint32(extras, 0xffffffff) // a missing key is not created
	}
	status, body, tok := bc.call(op, extras, in.Key, value, cas)
	switch {
	case bc.err != nil:
		return Output{Res: "protocol error"}, 0
	case status == binNotFound, status == binNotStored && (in.Op == Append || in.Op == Prepend):
		return Output{Res: NotFound}, 0
	case status == binExists:
		return Output{Res: Exists}, 0
	case status == binNonNumeric:
		return Output{Res: NotNumeric}, 0
	case status != binOK:
		bc.err = fmt.Errorf("%v %s: status %#x %q", in.Op, in.Key, status, body)
		return Output{Res: "protocol error"}, 0
	}
	switch in.Op {
	case Get, Take:
		return Output{Res: OK, Val: body}, tok
	case Incr, Decr:
		if len(body) != 8 {
			bc.err = fmt.Errorf("%v: body %q", in.Op, body)
			return Output{Res: "protocol error"}, 0
		}
		return Output{Res: OK, Val: strconv.FormatUint(binary.BigEndian.Uint64([]byte(body)), 10)}, tok
	case Delete, DeleteCAS:
		return Output{Res: OK}, 0
	}
	return Output{Res: OK}, tok
}

// call sends one request and reads its response: the status, the value
// (the body after extras and key) and the CAS.
func (bc *binClient) call(op byte, extras []byte, key, value string, cas uint64) (uint16, string, uint64) {
	if bc.err != nil {
		return 0, "", 0
	}
	req := make([]byte, 24, 24+len(extras)+len(key)+len(value))
	req[0], req[1] = 0x80, op
	binary.BigEndian.PutUint16(req[2:], uint16(len(key)))
	req[4] = byte(len(extras))
	binary.BigEndian.PutUint32(req[8:], uint32(len(extras)+len(key)+len(value)))
	binary.BigEndian.PutUint64(req[16:], cas)
	req = append(append(append(req, extras...), key...), value...)
	bc.nc.SetDeadline(time.Now().Add(time.Minute))
	if _, err := bc.nc.Write(req); err != nil {
		bc.err = err
		return 0, "", 0
	}
	h := make([]byte, 24)
	if _, err := io.ReadFull(bc.r, h); err != nil {
		bc.err = err
		return 0, "", 0
	}
	if h[0] != 0x81 || h[1] != op {
		bc.err = fmt.Errorf("response header %x to opcode %#x", h, op)
		return 0, "", 0
	}
	body := make([]byte, binary.BigEndian.Uint32(h[8:]))
	if _, err := io.ReadFull(bc.r, body); err != nil {
		bc.err = err
		return 0, "", 0
	}
	skip := int(h[4]) + int(binary.BigEndian.Uint16(h[2:]))
	return binary.BigEndian.Uint16(h[6:]), string(body[skip:]), binary.BigEndian.Uint64(h[16:])
}
