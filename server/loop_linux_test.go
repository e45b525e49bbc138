package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/segcache/segcache/core"
	"github.com/segcache/segcache/server/internal/binproto"
)

// inLoops counts the connections the server's event loops serve now.
func inLoops(s *Server) int {
	n := 0
	for _, l := range s.startedLoops() {
		l.mu.Lock()
		n += len(l.conns)
		l.mu.Unlock()
	}
	return n
}

// waitInLoops waits until the loops serve want connections: a goroutine
// gives its connection back after its replies are sent, so the client
// may see them first.
func waitInLoops(t *testing.T, s *Server, want int) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for got := inLoops(s); got != want; got = inLoops(s) {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections in the event loops, want %d", got, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestLoopsCountedBeforeTheFirstConnection: asking for the loops before
// the first connection starts them, as that connection would have. The
// tests' count used to run the loops' sync.Once with nothing to do, and a
// server it asked before its first accept (a slow accept goroutine on a
// busy machine) never started its loops: TestHandedOffConnectionsHold-
// OneDescriptor waited 60 s for 41 connections in the loop and saw 0.
func TestLoopsCountedBeforeTheFirstConnection(t *testing.T) {
	ts := startServer(t, Config{EventLoops: 1})
	waitInLoops(t, ts.srv, 0)
	runSteps(t, ts.dial(), []step{{"version\r\n", "VERSION " + Version + "\r\n"}})
	waitInLoops(t, ts.srv, 1)
}

// TestLoopServesTextConnections: a text connection waits in an event loop
// between requests, a binary one on its goroutine, and a request that
// arrives a byte at a time is answered by the loop once complete.
func TestLoopServesTextConnections(t *testing.T) {
	ts := startServer(t, Config{EventLoops: 2})
	c := ts.dial()
	runSteps(t, c, []step{
		{"set a 0 0 1\r\n1\r\n", "STORED\r\n"},
		{"get a\r\n", "VALUE a 0 1\r\n1\r\nEND\r\n"},
	})
	waitInLoops(t, ts.srv, 1)

	for _, b := range []byte("set k 0 0 5\r\nhello\r\nget k\r\n") {
		c.send(string(b))
		time.Sleep(time.Millisecond) // each byte its own read
	}
	if got, want := c.readN(len("STORED\r\nVALUE k 0 5\r\nhello\r\nEND\r\n")), "STORED\r\nVALUE k 0 5\r\nhello\r\nEND\r\n"; got != want {
		t.Fatalf("byte by byte: got %q, want %q", got, want)
	}
	waitInLoops(t, ts.srv, 1)

	b := ts.dial()
	b.send(string(pkt{Op: binproto.OpGet, Key: "a", Opaque: 7}.bytes()))
	got, _ := b.readPkt()
	want := pkt{Op: binproto.OpGet, Extras: be32(0), Value: "1", HasCAS: true, Opaque: 7}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("binary get (-want +got):\n%s", diff)
	}
	if n := inLoops(ts.srv); n != 1 {
		t.Fatalf("%d connections in the event loops, want 1 (the binary one stays with its goroutine)", n)
	}
}

// TestLoopHandsOffWhatWouldWait: requests larger than the read buffer and
// replies the client does not read at once go through a goroutine, in
// order, and the connection returns to its loop afterwards.
func TestLoopHandsOffWhatWouldWait(t *testing.T) {
	ts := startServer(t, Config{EventLoops: 2})
	c := ts.dial()
	big := strings.Repeat("0123456789", 30_000) // 300 KB, larger than the buffer
	runSteps(t, c, []step{{fmt.Sprintf("set big 0 0 %d\r\n%s\r\n", len(big), big), "STORED\r\n"}})
	waitInLoops(t, ts.srv, 1)

	// A multi-get line longer than the read buffer.
	keys := make([]string, 3000)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
	}
	keys[1500] = "big"
	c.send("get " + strings.Join(keys, " ") + "\r\n")
	want := fmt.Sprintf("VALUE big 0 %d\r\n%s\r\nEND\r\n", len(big), big)
	if got := c.readN(len(want)); got != want {
		t.Fatalf("long multi-get: got %d bytes, want %d", len(got), len(want))
	}
	waitInLoops(t, ts.srv, 1)

	// 40 gets of 300 KB sent before any reply is read: the socket takes
	// only part of the replies, the rest waits in the connection.
	const n = 40
	c.send(strings.Repeat("get big\r\n", n) + "set after 0 0 2\r\nok\r\nget after\r\n")
	for i := range n {
		if got := c.readN(len(want)); got != want {
			t.Fatalf("reply %d of the pipelined gets: got %d bytes starting %.40q", i, len(got), got)
		}
	}
	if got, want := c.readN(len("STORED\r\nVALUE after 0 2\r\nok\r\nEND\r\n")), "STORED\r\nVALUE after 0 2\r\nok\r\nEND\r\n"; got != want {
		t.Fatalf("after the pipelined gets: got %q, want %q", got, want)
	}
	waitInLoops(t, ts.srv, 1)

	// One multi-key get, and one gat, of 40 values of 300 KB: the loop
	// stops when the socket is full and the goroutine answers the rest.
	for _, cmd := range []string{"get", "gat 0"} {
		c.send(cmd + strings.Repeat(" big", n) + "\r\nget after\r\n")
		value := fmt.Sprintf("VALUE big 0 %d\r\n%s\r\n", len(big), big)
		for i := range n {
			if got := c.readN(len(value)); got != value {
				t.Fatalf("%s: value %d: got %d bytes starting %.40q", cmd, i, len(got), got)
			}
		}
		if got, want := c.readN(len("END\r\nVALUE after 0 2\r\nok\r\nEND\r\n")), "END\r\nVALUE after 0 2\r\nok\r\nEND\r\n"; got != want {
			t.Fatalf("%s: after the values: got %q, want %q", cmd, got, want)
		}
		waitInLoops(t, ts.srv, 1)
	}
	runSteps(t, c, []step{{"get after\r\n", "VALUE after 0 2\r\nok\r\nEND\r\n"}})
}

// TestEventLoops reruns the protocol tests with two event loops serving
// the text connections: by default a server with more than one thread (as
// the tests run) has none.
func TestEventLoops(t *testing.T) {
	defer func(n int) { testEventLoops = n }(testEventLoops)
	testEventLoops = 2
	t.Run("default", eventLoopSuite)
	// Loops that yield after every request: each pipelined request of a
	// test then waits for the loop's next round, with its EOF.
	defer func(n int) { testRequestsPerEvent = n }(testRequestsPerEvent)
	testRequestsPerEvent = 1
	t.Run("yielding", eventLoopSuite)
}

func eventLoopSuite(t *testing.T) {
	for _, tc := range []struct {
		name string
		test func(*testing.T)
	}{
		{"protocol", TestProtocol},
		{"cas", TestCAS},
		{"expiry", TestExpiry},
		{"stats", TestStats},
		{"stats conns", TestStatsConns},
		{"shutdown command", TestShutdownCommand},
		{"binary", TestBinaryProtocol},
		{"binary and text", TestBinaryStatsQuitAndTextInterop},
		{"meta", TestMetaProtocol},
		{"meta base64", TestMetaBase64Keys},
		{"pipelined", TestThousandPipelinedConnections},
		{"concurrent append", TestConcurrentAppendIsAtomic},
		{"shutdown", TestShutdownAnswersReceivedRequests},
		{"oversized", TestOversizedValueIsSkipped},
		{"line too long", TestLineTooLongClosesTheConnection},
		{"max connections", TestMaxConnections},
		{"model", TestModel},
		{"model under eviction", TestModelUnderEviction},
		{"buffers released", TestBuffersReleasedWhileWaiting},
	} {
		t.Run(tc.name, tc.test)
	}
}

// TestLoopYieldsToOtherConnections: a loop runs at most RequestsPerEvent
// requests of one connection before the others' (stats conn_yields counts
// the times), and comes back for the rest of the buffer, in order, even
// after the client has closed its side.
func TestLoopYieldsToOtherConnections(t *testing.T) {
	ts := startServer(t, Config{EventLoops: 1, RequestsPerEvent: 3})
	var req, want strings.Builder
	const n = 60
	for i := range n {
		fmt.Fprintf(&req, "set k%d 0 0 %d\r\n%d\r\nget k%d\r\n", i, len(strconv.Itoa(i)), i, i)
		fmt.Fprintf(&want, "STORED\r\nVALUE k%d 0 %d\r\n%d\r\nEND\r\n", i, len(strconv.Itoa(i)), i)
	}
	a, b := ts.dial(), ts.dial()
	runSteps(t, b, []step{{"version\r\n", "VERSION " + Version + "\r\n"}})
	waitInLoops(t, ts.srv, 2)
	a.send(req.String()) // one write of 120 requests, read by the loop at once
	if got := a.readN(want.Len()); got != want.String() {
		t.Fatalf("pipelined replies: got %q, want %q", got, want.String())
	}
	yields, err := strconv.Atoi(statsOf(t, b, "stats\r\n")["conn_yields"])
	if err != nil || yields < 1 || yields > 2*n/3 {
		t.Fatalf("conn_yields %d (%v) after 120 pipelined requests in runs of 3, want 1 to 40", yields, err)
	}
	if got := statsOf(t, b, "stats settings\r\n")["reqs_per_event"]; got != "3" {
		t.Fatalf("stats settings reqs_per_event %q, want 3", got)
	}

	// The client closes its side behind its requests: the loop still
	// answers every one before it closes the connection.
	a.send(req.String())
	a.nc.(*net.TCPConn).CloseWrite()
	if got := a.readN(want.Len()); got != want.String() {
		t.Fatalf("pipelined replies before an EOF: got %q, want %q", got, want.String())
	}
	if !a.closed() {
		t.Fatal("connection left open after its EOF")
	}
	waitInLoops(t, ts.srv, 1)
}

// TestEventLoopCount checks how many loops a server runs.
func TestEventLoopCount(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	type config struct {
		EventLoops, GOMAXPROCS int
		IdleTimeout            bool
	}
	for _, tc := range []struct {
		cfg  config
		want int
	}{
		{config{EventLoops: 0, GOMAXPROCS: 1}, 1},
		{config{EventLoops: 0, GOMAXPROCS: 2}, 0},
		{config{EventLoops: 3, GOMAXPROCS: 2}, 3},
		{config{EventLoops: -1, GOMAXPROCS: 1}, 0},
		{config{EventLoops: 0, GOMAXPROCS: 1, IdleTimeout: true}, 0},
		{config{EventLoops: 2, GOMAXPROCS: 2, IdleTimeout: true}, 0},
	} {
		runtime.GOMAXPROCS(tc.cfg.GOMAXPROCS)
		cfg := Config{EventLoops: tc.cfg.EventLoops}
		if tc.cfg.IdleTimeout {
			cfg.IdleTimeout = time.Minute
		}
		ts := startServer(t, cfg)
		runSteps(t, ts.dial(), []step{{"version\r\n", "VERSION " + Version + "\r\n"}})
		if diff := cmp.Diff(tc.want, len(ts.srv.startedLoops())); diff != "" {
			t.Errorf("%+v: loops (-want +got):\n%s", tc.cfg, diff)
		}
		// The connection waits in a loop if there is one.
		waitInLoops(t, ts.srv, min(tc.want, 1))
	}
}

// TestFailedLoopLeavesTheRotation: once a loop's epoll set fails (here
// its descriptor is closed under it), its connections go on with
// goroutines and every new connection goes to the loop still running,
// where before each second one was refused by the failed loop and cost a
// goroutine.
func TestFailedLoopLeavesTheRotation(t *testing.T) {
	ts := startServer(t, Config{EventLoops: 2})
	first := ts.dial()
	runSteps(t, first, []step{{"set a 0 0 1\r\n1\r\n", "STORED\r\n"}})
	waitInLoops(t, ts.srv, 1)
	bad, good := ts.srv.loops[0], ts.srv.loops[1]
	good.mu.Lock()
	inGood := len(good.conns) // the first connection's, if it went there
	good.mu.Unlock()

	bad.file.Close()
	deadline := time.Now().Add(ioTimeout)
	for !bad.failed.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the loop did not notice its epoll set closed")
		}
		time.Sleep(time.Millisecond)
	}
	const n = 6
	for i := range n {
		runSteps(t, ts.dial(), []step{{fmt.Sprintf("get a\r\nset k%d 0 0 1\r\n%d\r\n", i, i%10), "VALUE a 0 1\r\n1\r\nEND\r\nSTORED\r\n"}})
	}
	waitInLoops(t, ts.srv, n+inGood)
	good.mu.Lock()
	got := len(good.conns)
	good.mu.Unlock()
	if got != n+inGood {
		t.Fatalf("the running loop serves %d connections, want %d", got, n+inGood)
	}
	// The failed loop's connection goes on with its goroutine.
	runSteps(t, first, []step{{"get k0\r\n", "VALUE k0 0 1\r\n0\r\nEND\r\n"}})
}

// TestShutdownWithLoops: Shutdown hands the loops' connections to
// goroutines that answer what was sent and close at the end of the drain
// window; a second Shutdown (the test's cleanup) finds the loops stopped.
func TestShutdownWithLoops(t *testing.T) {
	ts := startServer(t, Config{EventLoops: 2, DrainWindow: 100 * time.Millisecond})
	c := ts.dial()
	runSteps(t, c, []step{{"set a 0 0 1\r\n1\r\n", "STORED\r\n"}})
	waitInLoops(t, ts.srv, 1)
	if err := ts.srv.Shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if n := inLoops(ts.srv); n != 0 {
		t.Fatalf("%d connections still in loops after Shutdown", n)
	}
	if !c.closed() {
		t.Fatal("connection left open after Shutdown")
	}
}

// TestLoopMatchesGoroutineOnSplitStreams sends the same random request
// stream, cut into random pieces, to a server with event loops and to one
// with a goroutine per connection: the replies must be the same bytes.
// The pieces make requests arrive partially, values larger than the read
// buffer go through a goroutine and back, and nothing in the stream
// depends on time or CAS tokens, so both replies are determined.
func TestLoopMatchesGoroutineOnSplitStreams(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		var stream strings.Builder
		key := func() string { return fmt.Sprintf("k%d", rng.IntN(20)) }
		for range 400 {
			switch rng.IntN(8) {
			case 0, 1:
				n := rng.IntN(100)
				if rng.IntN(10) == 0 {
					n = 16<<10 + rng.IntN(40<<10) // larger than the read buffer
				}
				fmt.Fprintf(&stream, "set %s %d 0 %d\r\n%s\r\n", key(), rng.IntN(3), n, strings.Repeat(string(rune('a'+rng.IntN(26))), n))
			case 2:
				fmt.Fprintf(&stream, "get %s\r\n", key())
			case 3:
				fmt.Fprintf(&stream, "get %s %s %s %s\r\n", key(), key(), key(), key())
			case 4:
				fmt.Fprintf(&stream, "delete %s\r\n", key())
			case 5:
				fmt.Fprintf(&stream, "append %s 0 0 3\r\nxyz\r\n", key())
			case 6:
				fmt.Fprintf(&stream, "incr n%d %d\r\nset n%d 0 0 1\r\n7\r\n", rng.IntN(3), rng.IntN(9), rng.IntN(3))
			case 7:
				fmt.Fprintf(&stream, "mg %s v f\r\n", key())
			}
		}
		stream.WriteString("version\r\n")
		replies := map[int]string{}
		for _, loops := range []int{2, -1} {
			ts := startServer(t, Config{EventLoops: loops})
			c := ts.dial()
			go func(s string, rng *rand.Rand) {
				for len(s) > 0 {
					n := min(len(s), 1+rng.IntN(3000))
					c.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
					if _, err := io.WriteString(c.nc, s[:n]); err != nil {
						return // the reader fails the test
					}
					s = s[n:]
					if rng.IntN(4) == 0 {
						time.Sleep(50 * time.Microsecond)
					}
				}
			}(stream.String(), rand.New(rand.NewPCG(seed, uint64(loops+10))))
			var got strings.Builder
			for !strings.HasSuffix(got.String(), "VERSION "+Version+"\r\n") {
				got.WriteString(c.line())
			}
			replies[loops] = got.String()
		}
		if replies[2] != replies[-1] {
			a, b := replies[2], replies[-1]
			i := 0
			for i < min(len(a), len(b)) && a[i] == b[i] {
				i++
			}
			t.Fatalf("seed %d: the replies differ at byte %d of %d/%d: loops %.60q, goroutine %.60q", seed, i, len(a), len(b), a[i:], b[i:])
		}
	}
}

// TestBytesWrittenCountsWhatWasSent: bytes_written counts the bytes the
// socket took. An event loop counted replies when it queued them for the
// goroutine that sends what the socket did not take at once, so a client
// that closed without reading a large value was counted as having
// received all of it. (Over a unix socket, whose buffers hold far less
// than the value; TCP on loopback buffers megabytes.)
func TestBytesWrittenCountsWhatWasSent(t *testing.T) {
	cache, err := core.Open(core.Options{HeapBytes: 8 << 20, SegmentBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	srv := New(cache, Config{EventLoops: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
		cache.Close()
	})
	dial := func() *client {
		nc, err := net.DialTimeout("unix", ln.Addr().String(), ioTimeout)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		return &client{t: t, nc: nc, r: bufio.NewReader(nc)}
	}
	// stats returns bytes_written and curr_connections, and the size of
	// the reply, which the next stats counts.
	stats := func(c *client) (written, conns, size int) {
		c.send("stats\r\n")
		for {
			l := c.line()
			size += len(l)
			if l == "END\r\n" {
				return written, conns, size
			}
			f := strings.Fields(l)
			switch f[1] {
			case "bytes_written":
				written, _ = strconv.Atoi(f[2])
			case "curr_connections":
				conns, _ = strconv.Atoi(f[2])
			}
		}
	}
	const size = 1000 << 10
	c := dial()
	runSteps(t, c, []step{{fmt.Sprintf("set big 0 0 %d\r\n%s\r\n", size, strings.Repeat("b", size)), "STORED\r\n"}})
	reader := dial()
	runSteps(t, reader, nil)
	waitInLoops(t, srv, 2)
	before, _, replies := stats(c) // bytes_written counts each stats reply in the next

	reader.send("get big\r\n")
	waitInLoops(t, srv, 1) // the socket did not take it all: a goroutine sends the rest
	reader.nc.Close()
	for deadline := time.Now().Add(ioTimeout); ; time.Sleep(time.Millisecond) {
		after, conns, reply := stats(c)
		if conns == 1 {
			if sent := after - before - replies; sent >= size {
				t.Errorf("bytes_written counts %d bytes sent to a client that read none of a %d-byte value", sent, size)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("curr_connections %d", conns)
		}
		replies += reply
	}
}

// TestStalledMultiGetOfLargeValues: a loop's multi-get whose replies the
// client does not read stalls, and leaves the keys it has not answered to
// the goroutine that takes over (c.rest); they alias the connection's key
// scratch, which the release of large buffers after the request must not
// clear. Every value comes back whole, in order.
func TestStalledMultiGetOfLargeValues(t *testing.T) {
	ts := startServerOver(t, Config{EventLoops: 1}, core.Options{HeapBytes: 64 << 20, SegmentBytes: 1 << 20})
	c := ts.dial()
	const n = 40 // 8 MB of replies: more than loopback's socket buffers take
	value := func(i int) string { return strings.Repeat(string(rune('A'+i)), 200<<10) }
	var keys []string
	for i := 0; i < n; i++ {
		k := fmt.Sprint("big", i)
		keys = append(keys, k)
		runSteps(t, c, []step{{"set " + k + " 0 0 " + fmt.Sprint(200<<10) + "\r\n" + value(i) + "\r\n", "STORED\r\n"}})
	}
	c.send("get " + strings.Join(keys, " ") + "\r\n")
	time.Sleep(100 * time.Millisecond) // the loop fills the socket and stalls
	var want strings.Builder
	for i, k := range keys {
		fmt.Fprintf(&want, "VALUE %s 0 %d\r\n%s\r\n", k, 200<<10, value(i))
	}
	want.WriteString("END\r\n")
	// Not readN: its failure message would quote 8 MB.
	got := make([]byte, want.Len())
	c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	k, err := io.ReadFull(c.r, got)
	if err != nil || string(got) != want.String() {
		i := 0
		for i < k && got[i] == want.String()[i] {
			i++
		}
		t.Fatalf("multi-get of %d large values: read %d of %d bytes (%v), first difference at byte %d", n, k, want.Len(), err, i)
	}
}
