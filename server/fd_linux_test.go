package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/segcache/segcache/core"
)

// inChild runs the calling test again in a child process with env set to
// "1", and reports its failure: a test that changes process-wide state
// (its descriptor limit) must not leave it to the tests that follow. In
// the child, inChild returns true and the test does its work.
func inChild(t *testing.T, env string) bool {
	t.Helper()
	if os.Getenv(env) == "1" {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v")
	cmd.Env = append(os.Environ(), env+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	t.Logf("child:\n%s", out)
	return false
}

// limitFDs lowers the soft descriptor limit to spare above those open,
// until restore is called.
func limitFDs(t *testing.T, spare int) (restore func()) {
	t.Helper()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	lim := old
	lim.Cur = uint64(len(entries) + spare)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	return func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) }
}

// exhaustFDs lowers the soft descriptor limit to a few above those open
// and fills the table up to it: the next descriptor anything asks for
// gets EMFILE until release is called; freeOne frees one.
func exhaustFDs(t *testing.T) (freeOne, release func()) {
	t.Helper()
	restore := limitFDs(t, 64)
	var held []int
	for {
		fd, err := syscall.Dup(0)
		if err == syscall.EMFILE {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, fd)
	}
	freeOne = func() {
		syscall.Close(held[len(held)-1])
		held = held[:len(held)-1]
	}
	return freeOne, func() {
		for _, fd := range held {
			syscall.Close(fd)
		}
		restore()
	}
}

// TestHandOffWithoutDescriptors: a connection an event loop serves, whose
// next request needs a goroutine (a value larger than the read buffer,
// replies the client does not read at once) while the process is out of
// descriptors, is still answered: the hand-off duplicated its socket and
// closed the connection when that failed. The accepts that fail meanwhile
// are counted, and a connection accepted with the last descriptor is
// served by a goroutine, with a warning.
func TestHandOffWithoutDescriptors(t *testing.T) {
	if !inChild(t, "SEGCACHED_TEST_HANDOFF_EMFILE") {
		return
	}
	logger, logs := logsOnFailure(t)
	ts := startServer(t, Config{EventLoops: 1, Logger: logger})
	c := ts.dial()
	stats := ts.dial()
	runSteps(t, c, []step{{"version\r\n", "VERSION " + Version + "\r\n"}})
	runSteps(t, stats, []step{{"version\r\n", "VERSION " + Version + "\r\n"}})
	waitInLoops(t, ts.srv, 2)

	freeOne, release := exhaustFDs(t)
	big := strings.Repeat("x", 100<<10) // larger than the read buffer
	runSteps(t, c, []step{
		{fmt.Sprintf("set big 0 0 %d\r\n%s\r\n", len(big), big), "STORED\r\n"},
		{"get big\r\n", fmt.Sprintf("VALUE big 0 %d\r\n%s\r\nEND\r\n", len(big), big)},
	})
	// The other connection too (its replies exceed what a loop writes
	// without waiting only if the socket is full; a large request is
	// enough to hand it off).
	runSteps(t, stats, []step{{fmt.Sprintf("set big2 0 0 %d\r\n%s\r\n", len(big), big), "STORED\r\n"}})
	got := statsOf(t, stats, "stats\r\n")["segcached_fd_exhausted"]
	if diff := cmp.Diff("2", got); diff != "" {
		t.Errorf("segcached_fd_exhausted (-want +got):\n%s", diff)
	}

	freeOne() // for the client's socket: the server's accept has none
	late := ts.dial()
	late.send("version\r\n")
	for deadline := time.Now().Add(ioTimeout); statsOf(t, stats, "stats\r\n")["segcached_fd_exhausted"] == "2"; {
		if time.Now().After(deadline) {
			t.Fatal("the failed accept was not counted")
		}
		time.Sleep(time.Millisecond)
	}
	// One more: the accept gets it, and the loop's duplicate fails.
	freeOne()
	if diff := cmp.Diff("VERSION "+Version+"\r\n", late.line()); diff != "" {
		t.Errorf("connection accepted once a descriptor is back (-want +got):\n%s", diff)
	}
	release()
	if want := "a goroutine serves the connection, not an event loop"; !strings.Contains(logs.String(), want) {
		t.Errorf("no warning %q; logs:\n%s", want, logs.String())
	}
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("no warning logged; logs:\n%s", logs.String())
	}
	// Both still work once descriptors are back.
	runSteps(t, c, []step{{"get big2\r\n", fmt.Sprintf("VALUE big2 0 %d\r\n%s\r\nEND\r\n", len(big), big)}})
}

// TestHandedOffConnectionsHoldOneDescriptor: a connection a goroutine
// serves for its event loop holds one descriptor, as in the loop. It held
// two (the loop's socket, kept for its return, and the goroutine's
// duplicate), so under a descriptor limit a server whose connections
// waited on large values ran out at half its connections.
func TestHandedOffConnectionsHoldOneDescriptor(t *testing.T) {
	if !inChild(t, "SEGCACHED_TEST_HANDOFF_ONE_FD") {
		return
	}
	const conns, spare = 40, 20
	ts := startServer(t, Config{EventLoops: 1})
	stats := ts.dial()
	runSteps(t, stats, nil)
	cs := make([]*client, conns)
	for i := range cs {
		cs[i] = ts.dial()
		runSteps(t, cs[i], nil)
	}
	waitInLoops(t, ts.srv, conns+1)

	restore := limitFDs(t, spare)
	defer restore()
	const size = 100 << 10 // larger than the read buffer: a goroutine reads it
	for i, c := range cs {
		c.send(fmt.Sprintf("set k%d 0 0 %d\r\nxyz", i, size))
		waitInLoops(t, ts.srv, conns-i) // one at a time: no two moves at once
	}
	if diff := cmp.Diff("0", statsOf(t, stats, "stats\r\n")["segcached_fd_exhausted"]); diff != "" {
		t.Errorf("segcached_fd_exhausted with every connection on a goroutine (-want +got):\n%s", diff)
	}
	for i, c := range cs {
		c.send(strings.Repeat("x", size-3) + "\r\n")
		runSteps(t, c, []step{{"", "STORED\r\n"}})
		waitInLoops(t, ts.srv, i+2) // back in the loop, one at a time
	}
	if diff := cmp.Diff("0", statsOf(t, stats, "stats\r\n")["segcached_fd_exhausted"]); diff != "" {
		t.Errorf("segcached_fd_exhausted with every connection back in the loop (-want +got):\n%s", diff)
	}
}

// failingListener is a listener whose next accepts fail with errs first.
type failingListener struct {
	net.Listener
	errs chan error
}

func (l failingListener) Accept() (net.Conn, error) {
	select {
	case err := <-l.errs:
		return nil, err
	default:
		return l.Listener.Accept()
	}
}

// TestAcceptErrorsDoNotStopTheServer: an accept that fails with an error
// of the connection being accepted, or of a passing shortage, is retried,
// as memcached does; Serve returned it, and segcached shut down. Go's
// accept retries only EINTR and ECONNABORTED, and Linux's accept(2) passes
// a new TCP connection's network errors (EPROTO, ENETUNREACH, ...) up,
// for the server to retry. Only a closed listener ends Serve.
func TestAcceptErrorsDoNotStopTheServer(t *testing.T) {
	cache, err := core.Open(core.Options{HeapBytes: 8 << 20, SegmentBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	srv := New(cache, Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := failingListener{inner, make(chan error, 10)}
	for _, e := range []syscall.Errno{syscall.EPROTO, syscall.ENETUNREACH, syscall.ENOBUFS, syscall.EPERM} {
		ln.errs <- &net.OpError{Op: "accept", Net: "tcp", Addr: inner.Addr(), Err: os.NewSyscallError("accept4", e)}
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()

	nc, err := net.DialTimeout("tcp", inner.Addr().String(), ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := &client{t: t, nc: nc, r: bufio.NewReader(nc)}
	c.send("version\r\n")
	select {
	case err := <-done:
		t.Fatalf("Serve returned %v", err)
	default:
	}
	if diff := cmp.Diff("VERSION "+Version+"\r\n", c.line()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	if err := <-done; err != ErrServerClosed {
		t.Errorf("Serve returned %v, want ErrServerClosed", err)
	}
}
