package server

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// rawPair returns a rawConn over one end of a loopback TCP connection and
// the other end.
func rawPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close(); peer.Close() })
	rc := newRawConn(nc)
	if _, ok := rc.(*rawConn); !ok {
		t.Fatalf("a TCP connection was not wrapped: %T", rc)
	}
	return rc, peer
}

// A write larger than the socket buffers waits for the reader instead of
// failing or spinning, and every byte arrives in order.
func TestRawConnLargeWrite(t *testing.T) {
	rc, peer := rawPair(t)
	want := make([]byte, 16<<20)
	for i := range want {
		want[i] = byte(i * 7)
	}
	done := make(chan error, 1)
	go func() {
		n, err := rc.Write(want)
		if err == nil && n != len(want) {
			err = io.ErrShortWrite
		}
		done <- err
	}()
	got := make([]byte, len(want))
	peer.SetReadDeadline(time.Now().Add(ioTimeout))
	if _, err := io.ReadFull(peer, got); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("bytes arrived changed or out of order")
	}
}

// Reads return what arrived, io.EOF after the peer closes, and the
// deadline's error when it passes.
func TestRawConnReadEOFAndDeadline(t *testing.T) {
	rc, peer := rawPair(t)
	rc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	buf := make([]byte, 10)
	if _, err := rc.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v, want a deadline error", err)
	}
	rc.SetReadDeadline(time.Time{})
	peer.Write([]byte("hi"))
	peer.Close()
	got, err := io.ReadAll(rc)
	if err != nil || string(got) != "hi" {
		t.Fatalf("read %q, %v; want \"hi\" then EOF", got, err)
	}
}

// Close from another goroutine ends a blocked read (Shutdown relies on it).
func TestRawConnCloseUnblocksRead(t *testing.T) {
	rc, _ := rawPair(t)
	done := make(chan error, 1)
	go func() {
		_, err := rc.Read(make([]byte, 10))
		done <- err
	}()
	time.Sleep(10 * time.Millisecond) // let the read block; the test holds either way
	rc.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a read on a closed connection succeeded")
		}
	case <-time.After(ioTimeout):
		t.Fatal("Close did not end the blocked read")
	}
}
