package main

import (
	"bytes"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"1m", 1 << 20, true}, {"512k", 512 << 10, true}, {"4096", 4096, true}, {"1M", 1 << 20, true},
		{"", 0, false}, {"-1", 0, false}, {"0", 0, false}, {"1g", 0, false}, {"2048m", 0, false},
	}
	for _, tc := range tests {
		got, err := parseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// Bad command lines fail with a message and exit status 2 or 1, before
// anything listens.
func TestBadCommandLines(t *testing.T) {
	tests := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"-nosuch"}, 2, "flag provided but not defined"},
		{[]string{"extra"}, 2, "unexpected argument"},
		{[]string{"-log-format", "xml"}, 2, "-log-format"},
		{[]string{"-p", "-1"}, 1, "nothing to listen on"},
		{[]string{"-p", "0", "-I", "2m"}, 1, "larger than the segment size"},
		{[]string{"-p", "0", "-eviction", "lru"}, 1, "unknown eviction policy"},
		{[]string{"-p", "0", "-segment-size", "1000"}, 1, "segment size"},
		{[]string{"-p", "0", "-a", "999"}, 1, "octal"},
		{[]string{"-p", "0", "-R", "0"}, 1, "at least 1"},
	}
	for _, tc := range tests {
		var out bytes.Buffer
		if code := run(tc.args, &out); code != tc.code || !strings.Contains(out.String(), tc.msg) {
			t.Errorf("run(%q) = %d, %q; want %d and %q", tc.args, code, out.String(), tc.code, tc.msg)
		}
	}
}

// The socket file has its mode from the moment it exists: with the
// process's umask (022 here) a bind makes it 0755, and a chmod after the
// listen left a window in which another user could connect to a socket
// meant for its owner alone (and stay connected).
func TestUnixSocketBoundWithItsMode(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	for _, mode := range []fs.FileMode{0o600, 0o700, 0o660} {
		path := filepath.Join(t.TempDir(), "s")
		ln, err := bindUnix(path, mode)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Lstat(path)
		ln.Close()
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("socket made with mode %v (%v), want %v", fi.Mode().Perm(), err, mode)
		}
	}
	if got := syscall.Umask(0o022); got != 0o022 {
		t.Errorf("umask left at %o", got)
	}
}

// With -A a client's "shutdown" stops the server as SIGTERM does: run
// returns 0 after logging why.
func TestShutdownCommandStopsTheServer(t *testing.T) {
	portFile := filepath.Join(t.TempDir(), "port")
	var out syncBuffer
	code := make(chan int, 1)
	go func() { code <- run([]string{"-p", "0", "-m", "8", "-A", "-port-file", portFile}, &out) }()
	var port []byte
	for deadline := time.Now().Add(time.Minute); len(port) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no port file; log:\n%s", out.String())
		}
		port, _ = os.ReadFile(portFile)
	}
	nc, err := net.Dial("tcp", "127.0.0.1:"+strings.TrimSpace(string(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	io.WriteString(nc, "shutdown\r\n")
	nc.SetReadDeadline(time.Now().Add(time.Minute))
	if b, err := io.ReadAll(nc); err != nil || len(b) != 0 {
		t.Errorf("shutdown answered %q, %v; want the connection closed without a reply", b, err)
	}
	select {
	case c := <-code:
		if c != 0 || !strings.Contains(out.String(), "command=shutdown") {
			t.Errorf("run returned %d; log:\n%s", c, out.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("the server did not stop; log:\n%s", out.String())
	}
}

// syncBuffer is a bytes.Buffer the server's logger and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
