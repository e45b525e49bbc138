package server

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/segcache/segcache/core"
)

// testEventLoops, when not 0, is the EventLoops of startServer's servers
// whose Config leaves it 0 (TestEventLoops reruns tests with loops).
var testEventLoops int

// testRequestsPerEvent, when not 0, is the RequestsPerEvent of
// startServer's servers whose Config leaves it 0 (TestEventLoops reruns
// tests with loops that yield after every request).
var testRequestsPerEvent int

// testServer is a server on a loopback port over a small cache.
type testServer struct {
	t     testing.TB
	srv   *Server
	cache *core.Cache
	addr  string
	done  chan error
}

func startServer(t testing.TB, cfg Config) *testServer {
	t.Helper()
	return startServerOver(t, cfg, core.Options{HeapBytes: 8 << 20, SegmentBytes: 1 << 20})
}

// startServerOver is startServer over a cache opened with opts.
func startServerOver(t testing.TB, cfg Config, opts core.Options) *testServer {
	t.Helper()
	cache, err := core.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Logger == nil {
		cfg.Logger, _ = logsOnFailure(t)
	}
	if cfg.EventLoops == 0 {
		cfg.EventLoops = testEventLoops
	}
	if cfg.RequestsPerEvent == 0 {
		cfg.RequestsPerEvent = testRequestsPerEvent
	}
	ts := &testServer{t: t, srv: New(cache, cfg), cache: cache, addr: ln.Addr().String(), done: make(chan error, 1)}
	go func() { ts.done <- ts.srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := ts.srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-ts.done; err != ErrServerClosed {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
		cache.Close()
	})
	return ts
}

// client is a raw protocol connection with generous deadlines: a test
// under heavy load is slow, never wrong.
type client struct {
	t  testing.TB
	nc net.Conn
	r  *bufio.Reader
}

const ioTimeout = 60 * time.Second

func (ts *testServer) dial() *client {
	ts.t.Helper()
	nc, err := net.DialTimeout("tcp", ts.addr, ioTimeout)
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.t.Cleanup(func() { nc.Close() })
	return &client{t: ts.t, nc: nc, r: bufio.NewReader(nc)}
}

func (c *client) send(s string) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatalf("send %q: %v", s, err)
	}
}

// readN reads exactly len(want) bytes.
func (c *client) readN(n int) string {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	b := make([]byte, n)
	if _, err := io.ReadFull(c.r, b); err != nil {
		c.t.Fatalf("read %d bytes: %v (got %q)", n, err, b)
	}
	return string(b)
}

// line reads one reply line, with its "\r\n".
func (c *client) line() string {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	s, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read line: %v (got %q)", err, s)
	}
	return s
}

// readNQuiet is readN for goroutines other than the test's: it returns
// what it got, with the error, instead of failing the test.
func (c *client) readNQuiet(n int) string {
	b := make([]byte, n)
	c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	if k, err := io.ReadFull(c.r, b); err != nil {
		return string(b[:k]) + " <" + err.Error() + ">"
	}
	return string(b)
}

// closed reports whether the server closed the connection (EOF on read).
func (c *client) closed() bool {
	c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	_, err := c.r.ReadByte()
	return err == io.EOF || err != nil && strings.Contains(err.Error(), "reset")
}

// logsOnFailure returns a logger for a test's server, and the buffer of its
// lines, which the test prints if it fails (the last logTail bytes of them): a server test that
// fails once in many runs then says what the server saw, where a discarded
// log left only the symptom (a loop that serves no connection says why).
func logsOnFailure(t testing.TB) (*slog.Logger, *syncBuffer) {
	logs := newSyncBuffer()
	t.Cleanup(func() {
		if t.Failed() {
			s := logs.String()
			if len(s) > logTail {
				s = "..." + s[len(s)-logTail:]
			}
			t.Logf("server log:\n%s", s)
		}
	})
	return slog.New(slog.NewTextHandler(logs, nil)), logs
}

// logTail bounds the server log a failed test prints.
const logTail = 16 << 10

// syncBuffer is a log destination the test reads while the server writes.
type syncBuffer struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{mu: make(chan struct{}, 1)} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.String()
}
