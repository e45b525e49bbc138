package server

import (
	"io"
	"net"
	"syscall"
	"unsafe"
)

// rawConn does a connection's reads and writes as raw system calls inside
// the poller's RawConn callbacks. The socket is non-blocking, so a call
// never blocks: when it would, the callback says so and the poller parks
// the goroutine until the socket is ready, as net.Conn does. What this
// saves is the runtime's syscall bookkeeping around each call: with
// net.Conn, a loopback write that spends tens of microseconds in the
// kernel lets the runtime's monitor hand the thread's P to another thread,
// and an unpipelined request/reply paid for that handoff and the thread
// wakeups it causes (measured: about a quarter of segcached's CPU time per
// unpipelined request went to the scheduler and futexes).
type rawConn struct {
	net.Conn
	rc syscall.RawConn

	// The buffer and result of the call in progress. Only the
	// connection's goroutine reads or writes through it.
	p       []byte
	n       int
	err     error
	readFn  func(fd uintptr) bool
	writeFn func(fd uintptr) bool
	peekFn  func(fd uintptr) bool
	peekBuf [1]byte
}

// newRawConn wraps nc when it exposes its descriptor, else returns nc.
func newRawConn(nc net.Conn) net.Conn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nc
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nc
	}
	c := &rawConn{Conn: nc, rc: rc}
	// Method values made once: a closure per call would allocate.
	c.readFn, c.writeFn, c.peekFn = c.doRead, c.doWrite, c.doPeek
	return c
}

func (c *rawConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.p, c.n, c.err = p, 0, nil
	err := c.rc.Read(c.readFn) // deadlines and Close end the wait with an error
	c.p = nil
	if err != nil {
		return 0, err
	}
	return c.n, c.err
}

// sysRead is one read system call on a non-blocking socket, retried when
// a signal interrupted it; p is not empty. It and sysWrite are the raw
// calls of both rawConn and the event loops.
func sysRead(fd uintptr, p []byte) (int, syscall.Errno) {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		if e != syscall.EINTR {
			return int(n), e
		}
	}
}

// sysWrite is one write system call, like sysRead.
func sysWrite(fd uintptr, p []byte) (int, syscall.Errno) {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		if e != syscall.EINTR {
			return int(n), e
		}
	}
}

// doRead reads once; false asks the poller to wait for readability.
func (c *rawConn) doRead(fd uintptr) bool {
	n, e := sysRead(fd, c.p)
	switch e {
	case 0:
		c.n = n
		if n == 0 {
			c.err = io.EOF
		}
	case syscall.EAGAIN:
		return false
	default:
		c.err = e
	}
	return true
}

func (c *rawConn) Write(p []byte) (int, error) {
	c.p, c.n, c.err = p, 0, nil
	err := c.rc.Write(c.writeFn)
	c.p = nil
	if err == nil {
		err = c.err
	}
	return c.n, err
}

// doWrite writes until p is sent; false asks the poller to wait for
// writability (the socket buffer is full).
func (c *rawConn) doWrite(fd uintptr) bool {
	for len(c.p) > 0 {
		n, e := sysWrite(fd, c.p)
		switch e {
		case 0:
			c.n += n
			c.p = c.p[n:]
		case syscall.EAGAIN:
			return false
		default:
			c.err = e
			return true
		}
	}
	return true
}

// waitReadable waits until the socket has a byte to read, EOF or an error,
// leaving them to the next Read: the wait needs no buffer. It returns the
// poller's error (deadline passed, connection closed).
func (c *rawConn) waitReadable() error {
	return c.rc.Read(c.peekFn)
}

// doPeek looks at one byte without consuming it: false (nothing yet) asks
// the poller to wait. The look cannot be skipped on the first call: the
// poller forgets readiness it saw before the wait began, so only a call
// that finds the socket empty guarantees a wakeup when data comes.
func (c *rawConn) doPeek(fd uintptr) bool {
	for {
		_, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&c.peekBuf[0])), 1,
			syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		return true // a byte, EOF (0) or an error: the next Read reports it
	}
}
