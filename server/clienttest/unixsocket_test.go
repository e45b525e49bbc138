package clienttest

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestUnixSocket serves on a unix socket only (-p -1 -s), with the
// permissions asked for, and removes the socket on SIGTERM.
func TestUnixSocket(t *testing.T) {
	bin := binary(t, "SEGCACHED", "")
	sock := filepath.Join(t.TempDir(), "segcached.sock")
	var log bytes.Buffer
	cmd := exec.Command(bin, "-p", "-1", "-s", sock, "-a", "0600")
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var nc net.Conn
	deadline := time.Now().Add(startTimeout)
	for {
		var err error
		if nc, err = net.Dial("unix", sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no unix socket after %v: %v\n%s", startTimeout, err, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	nc.SetDeadline(time.Now().Add(startTimeout))
	nc.Write([]byte("set a 5 0 2\r\nhi\r\nget a\r\n"))
	r := bufio.NewReader(nc)
	var got strings.Builder
	for !strings.HasSuffix(got.String(), "END\r\n") {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading replies: %v (got %q)", err, got.String())
		}
		got.WriteString(l)
	}
	if want := "STORED\r\nVALUE a 5 2\r\nhi\r\nEND\r\n"; got.String() != want {
		t.Fatalf("replies %q, want %q", got.String(), want)
	}
	nc.Close()
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, log.String())
		}
	case <-time.After(startTimeout):
		t.Fatal("segcached ignored SIGTERM")
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket file left behind: %v", err)
	}
}
