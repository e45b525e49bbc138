package server

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/segcache/segcache/server/internal/proto"
)

// A loop serves connections the way memcached's worker threads do: one
// level-triggered epoll set, and for each connection that has bytes, one
// read, every complete request in its buffer run, one write of the
// replies. With a goroutine per connection, each wait began with a read
// that found the socket empty (Go's poller is edge-triggered and forgets
// readiness when a read starts), and every request woke its own goroutine;
// under CPU contention those wakeups queue behind each other. Measured on
// 2 shared CPUs, 50 unpipelined clients and 1 thread, the p99 fell from
// 1.4 ms to 0.6 ms (memcached's 0.7), and at 16 requests per round trip
// from 3.9 to 1.6 ms, at the same CPU per request.
//
// The loop itself waits in Go's poller, on its epoll set (readable while it
// holds events), so it parks like any goroutine; a thread blocked in
// epoll_wait instead lost its P to the runtime's monitor and had to win
// one back on every wakeup (7% more CPU per request with 2 loops). A
// loop's sockets are duplicates outside Go's poller (the accepted
// connection is closed once duplicated), so their bytes wake only the
// loop. A request that is still arriving waits in the connection's
// buffer until it is complete. Whatever a loop cannot finish without
// waiting goes to a goroutine that serves the connection with blocking
// reads and writes as before loops existed: a request larger than the
// buffer (a long multi-get line, a large value), the binary protocol,
// replies the socket did not take. When that goroutine has answered
// everything it gives the connection back to the loop. So a loop never
// waits for one client, and a slow or hostile client costs a goroutine,
// not the other clients' latency.
//
// Ownership: a connection is served by its loop (inLoop) or by a
// goroutine, never both. The loop hands it over by taking it out of its
// epoll set before starting the goroutine; the goroutine gives it back by
// adding it (adopt) as the last thing it does with it.
type loop struct {
	s    *Server
	epfd int
	wake int             // an eventfd: stop writes it
	file *os.File        // epfd, for Go's poller
	raw  syscall.RawConn // what wait parks on

	mu      sync.Mutex // guards conns, nextID and stopped
	conns   map[int32]*conn
	nextID  int32
	stopped bool

	failed   atomic.Bool   // its wait failed: pickLoop skips it
	done     chan struct{} // closed when run returns
	stopOnce sync.Once     // a second Shutdown must not write or close wake again
	events   [128]unix.EpollEvent
	// wait's callback, made once (a closure per call would allocate),
	// and its results.
	lookFn func(fd uintptr) bool
	n      int
	err    error
	// now is the clock's Unix seconds when the last wait returned: the
	// time of every read the round makes (conn.lastRead, which "stats
	// conns" reports in seconds). Read once per round rather than once
	// per read, where it was 1.3% of the server's CPU at one request per
	// round trip. Only the loop's goroutine uses it.
	now int64
}

// wakeID is the epoll token of the loop's eventfd; connections' are >= 0.
const wakeID = -1

// startLoops starts n loops, or none (connections then get a goroutine
// each) if the system refuses one.
func startLoops(s *Server, n int) []*loop {
	var loops []*loop
	for range n {
		l, err := newLoop(s)
		if err != nil {
			s.log.Warn("no event loop: a goroutine serves each connection", "err", err)
			for _, l := range loops {
				l.stop()
			}
			return nil
		}
		loops = append(loops, l)
		go l.run()
	}
	return loops
}

func newLoop(s *Server) (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: wakeID}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		unix.Close(wake)
		unix.Close(epfd)
		return nil, err
	}
	// The loop waits in Go's poller on its epoll set (which is readable
	// while it has events), not in epoll_wait: a goroutine parked there
	// costs the scheduler what any waiting goroutine costs, where a
	// thread blocked in a system call has its P taken away by the
	// runtime's monitor and must win one back when it wakes.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(wake)
		unix.Close(epfd)
		return nil, err
	}
	f := os.NewFile(uintptr(epfd), "segcached event loop")
	raw, err := f.SyscallConn()
	if err != nil {
		unix.Close(wake)
		f.Close()
		return nil, err
	}
	l := &loop{s: s, epfd: epfd, wake: wake, file: f, raw: raw, conns: map[int32]*conn{}, done: make(chan struct{})}
	l.lookFn = l.look
	return l, nil
}

// wait returns the number of events it put in l.events: at once if there
// are some, else once the poller says the set has some.
func (l *loop) wait() (int, error) {
	// The look must not be skipped or cut short: the poller forgets
	// readiness it saw before the wait began, so only a look that finds
	// the set empty guarantees a wakeup when events come. (Events a
	// level-triggered socket still has go back on the set's ready list
	// when reported, so the look finds them again.)
	l.n, l.err = 0, nil
	if err := l.raw.Read(l.lookFn); err != nil {
		return 0, err
	}
	return l.n, l.err
}

// look is wait's callback: false (no event yet) asks the poller to wait.
func (l *loop) look(fd uintptr) bool {
	for {
		r, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, fd, uintptr(unsafe.Pointer(&l.events[0])), uintptr(len(l.events)), 0, 0, 0)
		switch e {
		case 0:
			l.n = int(r)
			return l.n > 0
		case syscall.EINTR:
			continue
		}
		l.err = e
		return true
	}
}

// stop makes the loop hand every connection to a goroutine and end, and
// waits for it. Connections that come back later stay with their
// goroutine. The eventfd is closed here, not by the loop, so that it is
// still the loop's when stop writes it, whenever the loop ended.
func (l *loop) stop() {
	l.stopOnce.Do(func() {
		one := [8]byte{1}
		unix.Write(l.wake, one[:])
		<-l.done
		unix.Close(l.wake)
	})
}

func (l *loop) run() {
	defer close(l.done)
	for {
		n, err := l.wait()
		if err != nil {
			l.s.log.Error("event loop failed: its connections go to goroutines, new ones to the other loops", "err", err)
			l.failed.Store(true)
			l.shutdown()
			return
		}
		l.now = l.s.cfg.Now().Unix()
		for i := range n {
			id := l.events[i].Fd
			if id == wakeID {
				l.shutdown()
				return
			}
			l.mu.Lock()
			c := l.conns[id]
			l.mu.Unlock()
			if c != nil {
				l.service(c)
			}
		}
	}
}

// shutdown hands every connection to a goroutine and releases the loop.
func (l *loop) shutdown() {
	l.mu.Lock()
	l.stopped = true
	conns := l.conns
	l.conns = nil
	l.mu.Unlock()
	for _, c := range conns {
		unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
		c.inLoop = false
		go c.serve()
	}
	l.file.Close() // epfd
}

// adopt makes the loop serve c, whose socket is c.fd; false if the loop
// has stopped (or refused the socket), and c stays with its caller.
func (l *loop) adopt(c *conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return false
	}
	for {
		if l.nextID++; l.nextID < 0 {
			l.nextID = 0
		}
		if _, used := l.conns[l.nextID]; !used {
			break
		}
	}
	// Set before the socket is in the set: the loop reads them after it
	// finds c in conns, under mu.
	c.loop, c.id, c.inLoop = l, l.nextID, true
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: c.id}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
		c.inLoop = false
		l.s.log.Warn("event loop refused a connection: a goroutine serves it", "err", err)
		return false
	}
	l.conns[c.id] = c
	return true
}

// remove takes c out of the loop: from here its caller serves it.
func (l *loop) remove(c *conn) {
	l.mu.Lock()
	delete(l.conns, c.id)
	l.mu.Unlock()
	unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	c.inLoop, c.yielding = false, false
}

// watchWritable makes the loop watch c's socket for writability as well
// as for bytes (on) or for bytes only: a socket that can take replies, as
// a yielding connection's nearly always can, is reported on every round,
// so the loop comes back to what is left in its buffer. It reports
// whether the loop still serves c: if the epoll set refuses the change,
// a goroutine takes c over, with what its buffer holds.
func (l *loop) watchWritable(c *conn, on bool) bool {
	if c.yielding == on {
		return true
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: c.id}
	if on {
		ev.Events |= unix.EPOLLOUT
	}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev); err != nil {
		l.s.log.Warn("event loop could not rearm a connection: a goroutine serves it", "err", err)
		l.handOff(c)
		return false
	}
	c.yielding = on
	return true
}

// handOff gives c to a goroutine.
func (l *loop) handOff(c *conn) {
	l.remove(c)
	c.scanned = 0 // the goroutine reads the line itself
	go c.serve()
}

// close closes c; err is why, if a read or write failed.
func (l *loop) close(c *conn, err error) {
	l.remove(c)
	if err != nil {
		c.logClose(err)
	}
	c.finish()
}

type stepResult int

const (
	stepRan        stepResult = iota // one request ran
	stepIncomplete                   // the next request is not all in the buffer yet
	stepHandOff                      // the next request needs a goroutine
	stepClose                        // the request asked to close the connection
)

// service reads what c's socket has (one system call), runs the complete
// requests in the buffer, up to Config.RequestsPerEvent of them, and
// sends their replies (one system call), or hands c to a goroutine for
// what would wait.
func (l *loop) service(c *conn) {
	if c.r == nil {
		c.acquireBuffers()
	}
	var readErr error
	if c.r.Buffered() < c.r.Size() {
		// Peek one byte past the buffered ones: bufio reads once.
		if _, err := c.r.Peek(c.r.Buffered() + 1); err != nil && err != errWouldBlock {
			readErr = err
		}
	}
	if c.request == nil && c.r.Buffered() > 0 {
		if c.pickProtocol(); c.noLoop {
			l.handOff(c)
			return
		}
	}
	// Once the socket stops taking replies, the goroutine goes on (with
	// the client's pace as its back-pressure). After RequestsPerEvent
	// requests the loop serves its other connections first.
	ran, yielded := 0, false
	for more := true; more && c.r.Buffered() > 0 && len(c.pending) == 0; {
		if ran == c.s.cfg.RequestsPerEvent {
			yielded = true
			break
		}
		switch c.loopStep() {
		case stepRan:
			ran++
		case stepIncomplete:
			more = false
		case stepHandOff:
			l.handOff(c)
			return
		case stepClose:
			if c.w.Flush(); len(c.pending) > 0 {
				c.quit = true // its goroutine closes it once they are sent
				l.handOff(c)
			} else {
				l.close(c, nil)
			}
			return
		}
	}
	if yielded {
		// The rest of the buffer is served on the next round, whatever
		// the socket holds (an EOF is read again then, after it). The
		// replies so far wait in the write buffer for the rest (it
		// writes through when full): a write per yield cost a pipeline
		// of 64 requests a third of its throughput.
		c.n.connYields.Add(1)
		l.watchWritable(c, true)
		return
	}
	err := c.w.Flush()
	switch {
	case err != nil:
		l.close(c, err)
		return
	case len(c.pending) > 0:
		// Its goroutine waits until the client reads them, answers what
		// is left, and meets the EOF or error of the read, if any.
		l.handOff(c)
		return
	}
	if !l.watchWritable(c, false) {
		return
	}
	switch {
	case readErr != nil && c.r.Buffered() > 0:
		// The stream ended inside a request: its goroutine reads it as
		// far as it goes and answers what a goroutine server answers (a
		// storage command too large for the cache gets its error though
		// its data never came), then meets the EOF or error again.
		l.handOff(c)
	case readErr != nil: // EOF or a failed socket: what was complete is answered
		l.close(c, readErr)
	case c.r.Buffered() == 0 && c.s.curConns.Load() > idleReleaseConns:
		c.releaseBuffers()
	}
}

// loopStep runs the next request of a text connection if all of it is in
// the buffer: its line and, for a storage command, its data block (also
// one that is too large, which run skips). What a goroutine reads the
// same way: lines longer than the buffer or MaxLine, blocks that do not
// fit in the buffer.
func (c *conn) loopStep() stepResult {
	buf, _ := c.r.Peek(c.r.Buffered())
	// A line arriving a few bytes at a time is searched once, not from
	// its start on every read.
	from := min(c.scanned, len(buf))
	i := bytes.IndexByte(buf[from:], '\n')
	if i < 0 {
		c.scanned = len(buf)
		if len(buf) >= c.r.Size() || len(buf) > c.s.cfg.MaxLine+2 {
			return stepHandOff
		}
		return stepIncomplete
	}
	i += from
	if i+1 > c.s.cfg.MaxLine+2 {
		return stepHandOff // readLine's error
	}
	line := buf[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	req, err := proto.Parse(line, c.keys, c.s.cfg.MaxItem)
	need := i + 1
	if err == nil && req.Op.Storage() || err == proto.ErrTooLarge {
		if req.Bytes < 0 || req.Bytes > c.r.Size() {
			return stepHandOff
		}
		need += req.Bytes + 2
	}
	switch {
	case need > c.r.Size():
		return stepHandOff
	case need > len(buf):
		return stepIncomplete
	}
	// The line stays where it is in the buffer: what run reads after it
	// (the data block) is buffered, so no read moves it.
	c.r.Discard(i + 1)
	c.scanned = 0
	if c.run(&req, err) {
		return stepRan
	}
	return stepClose
}

// errWouldBlock is a loop's read finding the socket empty.
var errWouldBlock = errors.New("server: nothing to read yet")

// loopRead reads once from the socket, never waiting.
func (c *conn) loopRead(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, e := sysRead(uintptr(c.fd), p)
	switch {
	case e == syscall.EAGAIN:
		return 0, errWouldBlock
	case e != 0:
		return 0, e
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// loopWrite writes p, never waiting: what the socket does not take now
// goes to c.pending (and so does everything after it), which the
// goroutine that takes the connection over sends first.
func (c *conn) loopWrite(p []byte) (int, error) {
	total := len(p)
	for len(c.pending) == 0 && len(p) > 0 {
		n, e := sysWrite(uintptr(c.fd), p)
		switch e {
		case 0:
			p = p[n:]
		case syscall.EAGAIN:
			c.pending = append(c.pending, p...)
			p = nil
		default:
			return total - len(p), e
		}
	}
	c.pending = append(c.pending, p...)
	return total, nil
}

// detach moves a new connection to loop l: its socket is duplicated and
// the accepted connection closed, which takes it out of Go's poller. false
// means c stays as it is, with its goroutine to start.
func (c *conn) detach(l *loop) bool {
	if !c.toLoopFD() {
		return false
	}
	if !l.adopt(c) {
		go c.serve() // it attaches again
	}
	return true
}

// toLoopFD moves the socket of the net.Conn a goroutine serves c through
// to a descriptor outside Go's poller (c.fd), for a loop: a duplicate, and
// the net.Conn is closed, so that the connection holds one descriptor
// wherever it is served. false: c keeps its net.Conn (out of descriptors,
// it stays with its goroutine for good, which is logged and counted).
func (c *conn) toLoopFD() bool {
	fd, err := dupSocket(c.nc)
	if err != nil {
		if isFDExhaustion(err) {
			c.s.fdExhausted.Add(1)
			c.noLoop = true // a retry per request would fail and log as often
			c.logger().Warn("out of file descriptors: a goroutine serves the connection, not an event loop", "err", err)
		}
		return false
	}
	c.fd = fd
	c.s.mu.Lock()
	nc := c.nc
	c.nc, c.rc, c.waiter = nil, nil, nil
	c.s.mu.Unlock()
	nc.Close()
	return true
}

// dupSocket duplicates nc's socket.
func dupSocket(nc net.Conn) (int, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1, errors.ErrUnsupported
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd, dupErr := -1, error(nil)
	if err := raw.Control(func(s uintptr) { fd, dupErr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	if dupErr != nil {
		return -1, dupErr
	}
	return fd, nil
}

// attach gives a connection a loop handed over a net.Conn for its
// goroutine's blocking reads and writes through Go's poller, made from
// the loop's descriptor, which it then closes: the connection holds one
// descriptor either way. While the server shuts down, the read deadline
// is Shutdown's.
func (c *conn) attach() bool {
	f := os.NewFile(uintptr(c.fd), "segcached connection")
	c.fd = -1                  // f owns it
	nc, err := net.FileConn(f) // on a duplicate
	switch {
	case err == nil:
		f.Close()
	case isFDExhaustion(err):
		// Out of descriptors: a healthy connection is not reset for
		// it. Its goroutine serves it on the loop's descriptor itself
		// (an os.File of a non-blocking descriptor waits in Go's poller
		// and has deadlines), to the end.
		c.s.fdExhausted.Add(1)
		c.noLoop = true
		c.logger().Warn("out of file descriptors: a goroutine serves the connection on its event loop's socket", "err", err)
		nc, err = &socketFile{File: f, remote: c.remote}, nil
	default:
		f.Close()
		c.logClose(err)
		return false
	}
	c.s.mu.Lock()
	c.use(nc)
	if c.s.closing.Load() {
		nc.SetReadDeadline(time.Unix(0, c.s.drainUntil.Load()))
	}
	c.s.mu.Unlock()
	return true
}

// socketFile is a socket as an os.File, as a net.Conn.
type socketFile struct {
	*os.File
	remote net.Addr
}

func (f *socketFile) LocalAddr() net.Addr  { return nil } // no server code asks
func (f *socketFile) RemoteAddr() net.Addr { return f.remote }

// backToLoop gives a connection whose goroutine has answered everything
// back to its loop (awaitLoop: the goroutine must stop touching it). If
// the loop has stopped or the process is out of descriptors, the
// goroutine serves on (awaitRead), or the connection failed (awaitFail).
func (c *conn) backToLoop() awaitResult {
	if !c.toLoopFD() {
		return awaitRead
	}
	if c.loop.adopt(c) {
		return awaitLoop
	}
	if !c.attach() {
		return awaitFail
	}
	return awaitRead
}

// sendPending sends the replies a loop could not, waiting as long as the
// client takes to read them.
func (c *conn) sendPending() bool {
	n, err := c.rc.Write(c.pending)
	c.n.bytesWritten.Add(uint64(n))
	if cap(c.pending) > keepBytes {
		c.pending = nil
	} else {
		c.pending = c.pending[:0]
	}
	if err != nil {
		c.logClose(err)
		return false
	}
	return true
}

// closeFD closes the loop's socket, if the connection has one.
func (c *conn) closeFD() {
	if c.fd >= 0 {
		unix.Close(c.fd)
		c.fd = -1
	}
}
