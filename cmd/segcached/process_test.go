package main

import (
	"bufio"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets a test run the test binary as segcached itself: with
// SEGCACHED_RUN_MAIN=1 it is main, over the arguments.
func TestMain(m *testing.M) {
	if os.Getenv("SEGCACHED_RUN_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stderr))
	}
	os.Exit(m.Run())
}

// segcached is a segcached process the test started.
type segcached struct {
	cmd  *exec.Cmd
	logs chan string // its log lines
}

func startSegcached(t *testing.T, args ...string) *segcached {
	t.Helper()
	return startUnder(t, nil, args...)
}

// startUnder is startSegcached run through a wrapper command (prlimit
// ...), if any.
func startUnder(t *testing.T, wrapper []string, args ...string) *segcached {
	t.Helper()
	argv := append(append(wrapper, os.Args[0]), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "SEGCACHED_RUN_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &segcached{cmd: cmd, logs: make(chan string, 100)}
	go func() {
		defer close(p.logs)
		r := bufio.NewReader(stderr)
		for {
			l, err := r.ReadString('\n')
			if l != "" {
				p.logs <- l
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return p
}

// waitLog waits for a log line containing s.
func (p *segcached) waitLog(t *testing.T, s string) {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-p.logs:
			if !ok {
				t.Fatalf("segcached exited before logging %q", s)
			}
			if strings.Contains(l, s) {
				return
			}
		case <-timeout:
			t.Fatalf("no log line %q", s)
		}
	}
}

// stop sends SIGTERM and waits for the process to exit.
func (p *segcached) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	go func() {
		for range p.logs {
		}
	}()
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("segcached: %v", err)
	}
}

// TestUnixSocketRemovedOnlyIfItsOwn: a segcached that stops removes its
// socket file, but not one another segcached bound at the same path since
// (started over it during a restart, it removed the old file first). The
// old process removed the new one's socket as it exited, leaving the new
// server running unreachable; memcached leaves its socket file alone.
func TestUnixSocketRemovedOnlyIfItsOwn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	old := startSegcached(t, "-p", "-1", "-s", path)
	old.waitLog(t, "listening")
	next := startSegcached(t, "-p", "-1", "-s", path)
	next.waitLog(t, "listening")
	old.stop(t)

	nc, err := net.DialTimeout("unix", path, 60*time.Second)
	if err != nil {
		t.Fatalf("the new server's socket after the old server stopped: %v", err)
	}
	nc.SetDeadline(time.Now().Add(60 * time.Second))
	io.WriteString(nc, "version\r\n")
	if l, err := bufio.NewReader(nc).ReadString('\n'); err != nil || !strings.HasPrefix(l, "VERSION ") {
		t.Fatalf("version: %q, %v", l, err)
	}
	nc.Close()

	next.stop(t)
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("socket file left after its server stopped: %v", err)
	}
}

// TestWarnsOfALowFileLimit: under an open files limit below -c, segcached
// says so when it starts; it accepted the configuration silently, and
// connections past the limit waited unanswered.
func TestWarnsOfALowFileLimit(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("prlimit (util-linux) is missing")
		}
		t.Skip("no prlimit")
	}
	for _, tc := range []struct {
		maxConns string
		warns    bool
	}{
		{"1024", true},
		{"50", false},
	} {
		p := startUnder(t, []string{prlimit, "--nofile=100:100"}, "-p", "0", "-c", tc.maxConns)
		var logs strings.Builder
		for l := range p.logs {
			logs.WriteString(l)
			if strings.Contains(l, "listening") {
				break
			}
		}
		p.stop(t)
		if got := strings.Contains(logs.String(), "open files limit"); got != tc.warns {
			t.Errorf("-c %s under 100 files: warned %v, want %v; logs:\n%s", tc.maxConns, got, tc.warns, logs.String())
		}
	}
}
