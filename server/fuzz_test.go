package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"hash/fnv"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segcache/segcache/core"
	"github.com/segcache/segcache/server/internal/binproto"
)

var (
	valueHeader = regexp.MustCompile(`^(?:VALUE \S{1,250} \d+ (\d+)(?: \d+)?|VA (\d+)(?: \S+)*)\r\n$`)
	simpleReply = regexp.MustCompile(`^(STORED|NOT_STORED|EXISTS|NOT_FOUND|DELETED|TOUCHED|OK|END|RESET|ERROR|MN|\d+|VERSION \S+|STAT \S+ .*|(CLIENT|SERVER)_ERROR .+|(HD|NS|EX|NF|EN)( \S+)*)\r\n$`)
)

// FuzzServer feeds a byte stream to one connection of a live server and
// checks that the server neither panics nor hangs and that everything it
// answers is a well-formed reply of the protocol the stream's first byte
// chose. Each stream goes to two new servers, one serving text
// connections from an event loop and one from a goroutine per connection:
// a text stream must get byte-identical replies from both
// (unless it asks for stats, which report the process, or a clock second
// passed between the two, which can change what expires and the TTLs
// reported). The seed corpus is in testdata/fuzz/FuzzServer.
func FuzzServer(f *testing.F) {
	for _, s := range []string{
		"set a 0 0 1\r\n1\r\nget a b\r\nincr a 5\r\n",
		"set a 1 100 3 noreply\r\nabc\r\nappend a 0 0 1\r\nd\r\ngets a\r\n",
		"gat 10 a\r\ntouch a -1\r\nflush_all\r\nstats\r\n",
		"set a 0 0 5000\r\n",
		"set a 0 0 2\r\nabc\r\n\r\nquit\r\n",
		"ms a 2 F5 T10\r\nhi\r\nmg a v f t k Ox c s\r\nma n N0 J5 v\r\nmd a q\r\nmn\r\n",
		"ms YQ== 2 b MA C1\r\nhi\r\nmg YQ== b k v u\r\nma bg== b C3 N0\r\nmd YQ== b C9 k\r\n",
	} {
		f.Add([]byte(s))
	}
	var bin []byte
	for _, p := range []pkt{
		{Op: binproto.OpSet, Key: "a", Extras: setExtras(3, 100), Value: "v"},
		{Op: binproto.OpGetKQ, Key: "a"}, {Op: binproto.OpIncrement, Key: "n", Extras: arithExtras(1, 5, 0)},
		{Op: binproto.OpAppendQ, Key: "a", Value: "w"}, {Op: binproto.OpStat}, {Op: binproto.OpGAT, Key: "a", Extras: be32(0)},
		{Op: binproto.OpSet, Key: "b", Extras: setExtras(0, 0), Value: string(make([]byte, 5000))},
		{Op: binproto.OpQuitQ},
	} {
		bin = append(bin, p.bytes()...)
	}
	f.Add(bin)
	sockets := f.TempDir()
	var nsock atomic.Uint64
	f.Fuzz(func(t *testing.T, in []byte) {
		isBinary := len(in) > 0 && in[0] == binproto.MagicRequest
		second := time.Now().Unix()
		var outs [][]byte
		// An event loop; a goroutine per connection; a goroutine whose
		// reads return a few bytes at a time.
		for _, mode := range []struct {
			loops  int
			choppy bool
		}{{1, false}, {-1, false}, {-1, true}} {
			sock := filepath.Join(sockets, strconv.FormatUint(nsock.Add(1), 10))
			out := exchange(t, startFuzzServer(t, sock, mode.loops, mode.choppy), in)
			if isBinary {
				checkBinaryReplies(t, out)
			} else {
				checkReplies(t, out)
			}
			outs = append(outs, out)
		}
		// Statistics report the process and how much the server has
		// read so far (with choppy reads, less), and a clock second can
		// change what expires and the TTLs reported.
		if bytes.Contains(in, []byte("stats")) || bytes.Contains(outs[1], []byte("rusage_user")) || time.Now().Unix() != second {
			return
		}
		if !isBinary && !bytes.Equal(outs[0], outs[1]) {
			t.Fatalf("an event loop replied %q, a goroutine %q", outs[0], outs[1])
		}
		if !bytes.Equal(outs[1], outs[2]) {
			t.Fatalf("a goroutine replied %q, and %q when its reads returned a few bytes at a time", outs[1], outs[2])
		}
	})
}

// choppyListener's connections return at most a few bytes per read (1 to
// 8, from a fixed sequence), so that a request's line and data block
// arrive in many reads whatever the timing: a server that keeps a slice
// of its read buffer across a read that refills it answers differently.
// They hide the descriptor, so a server serves them with a goroutine and
// net.Conn's reads.
type choppyListener struct{ net.Listener }

func (l choppyListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &choppyConn{Conn: nc, rng: rand.New(rand.NewPCG(1, 2))}, nil
}

type choppyConn struct {
	net.Conn
	rng *rand.Rand
}

// Close reads what the client sent and the server did not (after a
// quit): closing with unread bytes makes the kernel reset the connection,
// and the client could lose replies the server sent before, which a
// server that read everything in one piece does not do to it.
func (c *choppyConn) Close() error {
	c.Conn.SetReadDeadline(time.Now().Add(ioTimeout))
	io.Copy(io.Discard, c.Conn)
	return c.Conn.Close()
}

func (c *choppyConn) Read(p []byte) (int, error) {
	if n := 1 + c.rng.IntN(8); len(p) > n {
		p = p[:n]
	}
	return c.Conn.Read(p)
}

// startFuzzServer starts a server on a new small cache, both closed when
// t ends, listening on the unix socket sock, and returns its address. A new one per stream: what a stream
// gets depends on that stream alone, so every failure reproduces from
// its input. It listens on a unix socket: over TCP every stream left its
// client's port in TIME_WAIT for a minute, and a fuzz run of tens of
// thousands of streams ran out of ephemeral ports and stalled for seconds
// at a time. Event loops and goroutines serve unix connections as they
// serve TCP ones.
func startFuzzServer(t *testing.T, sock string, loops int, choppy bool) string {
	cache, err := core.Open(core.Options{HeapBytes: 256 << 10, SegmentBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	srv := New(cache, Config{MaxItem: 4096, MaxLine: 4096, EventLoops: loops, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ln, err := net.Listen("unix", sock) // removed when it closes
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if choppy {
		ln = choppyListener{ln}
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		<-done
		cache.Close()
	})
	return addr
}

// exchange writes in to a new connection to addr, closes its write side
// and returns everything the server answered until it closed. It writes
// in pieces whose sizes come from a hash of in (so both servers get the
// same ones, and a failure reproduces): a server that reads a request in
// several pieces must answer as if it had read it whole, and an event
// loop keeps what it has scanned of a line between reads.
func exchange(t *testing.T, addr string, in []byte) []byte {
	nc, err := net.Dial("unix", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(ioTimeout))
	go func() {
		h := fnv.New64a()
		h.Write(in)
		rng := rand.New(rand.NewPCG(h.Sum64(), 1))
		for rest := in; len(rest) > 0; {
			n := len(rest)
			if rng.IntN(4) != 0 { // else the rest in one piece
				n = min(n, 1+rng.IntN(64))
			}
			if _, err := nc.Write(rest[:n]); err != nil {
				break
			}
			rest = rest[n:]
		}
		nc.(*net.UnixConn).CloseWrite()
	}()
	out, err := io.ReadAll(nc)
	if err != nil {
		t.Fatalf("reading replies: %v (server hung?)", err)
	}
	return out
}

// checkReplies fails t unless out is a sequence of well-formed replies.
func checkReplies(t *testing.T, out []byte) {
	r := bufio.NewReader(bytes.NewReader(out))
	for {
		line, err := r.ReadString('\n')
		if err == io.EOF && line == "" {
			return
		}
		if err != nil {
			t.Fatalf("truncated reply %q", line)
		}
		if m := valueHeader.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1] + m[2])
			data := make([]byte, n+2)
			if _, err := io.ReadFull(r, data); err != nil || !bytes.HasSuffix(data, []byte("\r\n")) {
				t.Fatalf("value block of %q: %q, %v", line, data, err)
			}
			continue
		}
		if !simpleReply.MatchString(line) {
			t.Fatalf("malformed reply %q in %q", line, out)
		}
	}
}

// checkBinaryReplies fails t unless out is a sequence of whole response
// packets with known status codes.
func checkBinaryReplies(t *testing.T, out []byte) {
	for len(out) > 0 {
		if len(out) < binproto.HeaderLen || out[0] != binproto.MagicResponse {
			t.Fatalf("malformed response header %q", out[:min(len(out), binproto.HeaderLen)])
		}
		klen, elen := int(binary.BigEndian.Uint16(out[2:])), int(out[4])
		body := int(binary.BigEndian.Uint32(out[8:]))
		if klen+elen > body || len(out) < binproto.HeaderLen+body {
			t.Fatalf("response lengths: key %d extras %d body %d, %d bytes left", klen, elen, body, len(out)-binproto.HeaderLen)
		}
		if st := binproto.Status(binary.BigEndian.Uint16(out[6:])); st != binproto.StatusOK && st.Message() == "" {
			t.Fatalf("unknown status %#x", st)
		}
		out = out[binproto.HeaderLen+body:]
	}
}
