package clienttest

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a process may take to come up on a loaded
// machine; it is a limit, never a measurement.
const startTimeout = 60 * time.Second

// node is a running segcached process on a loopback port.
type node struct {
	t      *testing.T
	cmd    *exec.Cmd
	addr   string
	port   int
	mu     sync.Mutex
	log    bytes.Buffer
	exited chan error
}

func (n *node) Write(p []byte) (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.log.Write(p)
}

func (n *node) logs() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.log.String()
}

// binary returns the path of a required program, failing the test with
// the way to get it.
func binary(t *testing.T, env, name string) string {
	t.Helper()
	if env != "" {
		p := os.Getenv(env)
		if p == "" {
			t.Fatalf("%s is not set: run these tests with `make test-server`, which builds segcached", env)
		}
		return p
	}
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found (install it with .ci/install.d/server.sh): %v", name, err)
	}
	return p
}

// startNode starts segcached on a free loopback port with extra flags and
// stops it (SIGTERM, expecting a clean exit) when the test ends.
func startNode(t *testing.T, args ...string) *node {
	t.Helper()
	bin := binary(t, "SEGCACHED", "")
	portFile := filepath.Join(t.TempDir(), "port")
	n := &node{t: t, exited: make(chan error, 1)}
	n.cmd = exec.Command(bin, append([]string{"-l", "127.0.0.1", "-p", "0", "-port-file", portFile}, args...)...)
	n.cmd.Stdout, n.cmd.Stderr = n, n
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { n.exited <- n.cmd.Wait() }()
	deadline := time.Now().Add(startTimeout)
	for {
		if b, err := os.ReadFile(portFile); err == nil {
			n.port, err = strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatalf("port file %q: %v", b, err)
			}
			break
		}
		select {
		case err := <-n.exited:
			t.Fatalf("segcached exited before listening: %v\n%s", err, n.logs())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			n.cmd.Process.Kill()
			t.Fatalf("segcached did not listen within %v\n%s", startTimeout, n.logs())
		}
	}
	n.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(n.port))
	t.Cleanup(func() { n.stop() })
	return n
}

// stop sends SIGTERM and checks that the server exits cleanly, as a
// graceful shutdown must; stopping twice is harmless.
func (n *node) stop() {
	n.t.Helper()
	if n.cmd.ProcessState != nil {
		return
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-n.exited:
		if err != nil {
			n.t.Errorf("segcached on %s exited with %v after SIGTERM\n%s", n.addr, err, n.logs())
		} else if !strings.Contains(n.logs(), "msg=stopped") {
			n.t.Errorf("segcached on %s did not log its stop\n%s", n.addr, n.logs())
		}
	case <-time.After(startTimeout):
		n.cmd.Process.Kill()
		n.t.Errorf("segcached on %s ignored SIGTERM for %v", n.addr, startTimeout)
	}
}

// freePort returns a loopback port that was free a moment ago (for
// programs like nutcracker that cannot report the port they chose).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
