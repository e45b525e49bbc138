package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/segcache/segcache/core"
	"github.com/segcache/segcache/server/internal/proto"
)

// Version is the server's version, reported by "version" and "stats".
const Version = "1.6.0-segcached-0.1"

// Defaults of Config.
const (
	DefaultMaxConns = 1024
	DefaultMaxLine  = 64 << 10
	DefaultMaxItem  = 1 << 20
	// DefaultRequestsPerEvent is memcached's default -R.
	DefaultRequestsPerEvent = 20
)

// Config configures a Server. Zero fields take their defaults.
type Config struct {
	// MaxConns bounds the open connections (memcached's -c). Connections
	// beyond it get "ERROR Too many open connections" and are closed.
	MaxConns int
	// MaxLine bounds a request line (a long multi-get). A longer line gets
	// "CLIENT_ERROR line too long" and the connection is closed, since
	// the rest of it cannot be parsed.
	MaxLine int
	// MaxItem bounds a data block (memcached's -I). A larger one gets
	// "SERVER_ERROR object too large for cache" and is skipped unread.
	MaxItem int
	// IdleTimeout closes connections idle for that long (0: never):
	// timed from the end of the last request (or the connection's start)
	// to the end of the next request line, so a line still arriving
	// counts as idle, as in memcached; every read that brings bytes of
	// a data block restarts it.
	// With one, every connection is served by a goroutine of its own
	// (see EventLoops).
	IdleTimeout time.Duration
	// EventLoops is how many event loops serve the text connections, the
	// way memcached's worker threads serve them (Linux only; see loop);
	// with none, every connection is served by a goroutine of its own.
	// 0 picks: one loop when GOMAXPROCS is 1, else none; negative: none.
	//
	// Why: on 2 CPUs shared with the load generator, 50 unpipelined
	// clients, one thread with a loop answered 4% more requests than with
	// a goroutine per connection and its p99 was 0.5x; at 16 requests per
	// round trip the p99 was 0.4x. With 2 threads, 2 loops (a connection
	// stays with its loop) answered 14-19% fewer pipelined requests than
	// goroutines the runtime spreads over both threads; unpipelined, 7%
	// fewer at a p99 of 0.87x in one measurement, and 4-5% more at a p99
	// of 1.5-1.9x in two later ones. Machines with spare cores may favour
	// loops at more threads: set it and measure.
	EventLoops int
	// RequestsPerEvent bounds the requests an event loop runs for one
	// connection before it serves the others (memcached's -R, default
	// 20): a client pipelining a buffer full of small requests (over a
	// thousand gets in 16 KiB) would otherwise hold every other
	// connection of its loop for that long. The connection resumes on the
	// loop's next round; stats conn_yields counts the times. A goroutine
	// serving a connection needs no bound: the runtime schedules it.
	RequestsPerEvent int
	// DrainWindow is how long Shutdown lets connections read requests
	// their clients already sent (default 1s): bytes in flight or queued
	// in the kernel are answered, not dropped, even on a loaded machine.
	DrainWindow time.Duration
	// Logger receives structured logs (default: slog.Default()).
	Logger *slog.Logger
	// Settings are reported by "stats settings" (name → value), e.g. the
	// command line's port and memory.
	Settings [][2]string
	// Now is the clock (default time.Now); tests replace it.
	Now func() time.Time
	// EnableShutdown lets clients stop the server with "shutdown"
	// (memcached's -A): ShutdownRequested's channel then closes, and the
	// program shuts the server down.
	EnableShutdown bool
}

// Server serves one cache over any number of listeners.
type Server struct {
	cache   *core.Cache
	cfg     Config
	log     *slog.Logger
	started time.Time

	mu        sync.Mutex
	conns     map[*conn]struct{}
	listeners map[net.Listener]struct{}
	retired   counters // counters of closed connections
	flush     *time.Timer
	wg        sync.WaitGroup

	loopsOnce sync.Once
	loops     []*loop // the event loops (none: a goroutine per connection)
	nextLoop  atomic.Uint64

	closing    atomic.Bool
	drainUntil atomic.Int64 // Unix ns: the read deadline of every connection once closing
	curConns   atomic.Int64
	totalConns atomic.Uint64
	rejected   atomic.Uint64
	// fdExhausted counts the times the process was out of descriptors:
	// an accept that failed, a connection that could not be handed to a
	// goroutine the usual way.
	fdExhausted atomic.Uint64
	verbosity   atomic.Int64
	serials     atomic.Uint64 // connections accepted since start (stats reset keeps it)

	shutdownOnce sync.Once
	shutdownReq  chan struct{}
}

// New returns a server over cache. The server does not own the cache: the
// caller closes it after Shutdown.
func New(cache *core.Cache, cfg Config) *Server {
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.MaxLine <= 0 {
		cfg.MaxLine = DefaultMaxLine
	}
	if cfg.MaxItem <= 0 {
		cfg.MaxItem = DefaultMaxItem
	}
	if cfg.RequestsPerEvent <= 0 {
		cfg.RequestsPerEvent = DefaultRequestsPerEvent
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DrainWindow <= 0 {
		cfg.DrainWindow = time.Second
	}
	return &Server{
		cache: cache, cfg: cfg, log: cfg.Logger, started: cfg.Now(),
		conns: map[*conn]struct{}{}, listeners: map[net.Listener]struct{}{},
		shutdownReq: make(chan struct{}),
	}
}

// ShutdownRequested is closed once a client sent "shutdown" (only with
// Config.EnableShutdown). The server keeps serving: stopping it is the
// program's call (Shutdown), as for a signal.
func (s *Server) ShutdownRequested() <-chan struct{} { return s.shutdownReq }

func (s *Server) requestShutdown() { s.shutdownOnce.Do(func() { close(s.shutdownReq) }) }

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("server: closed")

// Serve accepts connections on ln until Shutdown (then it returns
// ErrServerClosed) or a permanent accept error.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			if acceptFatal(err) {
				return err
			}
			// Out of descriptors or memory, or an error of the
			// connection being accepted (Linux's accept passes a new
			// TCP connection's network errors up, for the server to
			// retry): wait and retry rather than spin or give up, as
			// memcached does. Go retries only EINTR and ECONNABORTED.
			if isFDExhaustion(err) {
				s.fdExhausted.Add(1)
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed; retrying", "err", err, "backoff", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.accept(nc)
	}
}

// isFDExhaustion reports whether err is the process or the system out of
// descriptors.
func isFDExhaustion(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

// acceptFatal reports whether an accept error means the listener cannot
// accept again: it was closed, or it is no listening socket.
func acceptFatal(err error) bool {
	if errors.Is(err, net.ErrClosed) {
		return true
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.EBADF, syscall.EINVAL, syscall.ENOTSOCK, syscall.EFAULT:
			return true
		}
		return false
	}
	// Not a socket's error (a listener of another kind): retried if it
	// says it is temporary.
	var t interface{ Temporary() bool }
	var ne net.Error
	return !(errors.As(err, &t) && t.Temporary() || errors.As(err, &ne) && ne.Timeout())
}

func (s *Server) accept(nc net.Conn) {
	if s.curConns.Add(1) > int64(s.cfg.MaxConns) {
		s.curConns.Add(-1)
		s.rejected.Add(1)
		s.log.Warn("connection rejected: too many open connections", "remote", nc.RemoteAddr().String(), "max", s.cfg.MaxConns)
		// Tell the client why, without letting a slow one stall accept.
		go func() {
			nc.SetWriteDeadline(time.Now().Add(time.Second))
			io.WriteString(nc, "ERROR Too many open connections\r\n")
			nc.Close()
		}()
		return
	}
	s.totalConns.Add(1)
	c := newConn(s, nc)
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		s.curConns.Add(-1)
		nc.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	if s.verbosity.Load() > 1 {
		c.logger().Debug("connection opened")
	}
	if l := s.pickLoop(); l != nil && c.detach(l) {
		return
	}
	go c.serve()
}

// eventLoops is how many loops the server runs (see Config.EventLoops).
func (s *Server) eventLoops() int {
	switch n := s.cfg.EventLoops; {
	case s.cfg.IdleTimeout > 0 || n < 0:
		return 0 // an idle timeout is a goroutine's read deadline
	case n == 0 && runtime.GOMAXPROCS(0) == 1:
		return 1
	default:
		return n
	}
}

// pickLoop returns the event loop for a new connection, starting the
// loops on first use; nil when connections get a goroutine each.
func (s *Server) pickLoop() *loop {
	loops := s.startedLoops()
	// Round robin over the loops still running: a loop whose epoll set
	// failed hands its connections to goroutines and would refuse every
	// new one, so each would cost a goroutine while the other loops have
	// room.
	for range loops {
		if l := loops[s.nextLoop.Add(1)%uint64(len(loops))]; !l.failed.Load() {
			return l
		}
	}
	return nil
}

// startedLoops returns the event loops, starting them if no connection
// has yet (none once Shutdown has begun). Whoever reads s.loops goes
// through it: a Do with nothing to do, run before the first connection's,
// would leave the server without loops for good.
func (s *Server) startedLoops() []*loop {
	s.loopsOnce.Do(func() {
		if n := s.eventLoops(); n > 0 {
			s.loops = startLoops(s, n)
		}
	})
	return s.loops
}

// done unregisters a finished connection, keeping its counters.
func (s *Server) done(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.retired.add(&c.n)
	s.mu.Unlock()
	s.curConns.Add(-1)
	s.wg.Done()
}

// Shutdown stops accepting, lets every connection answer the requests its
// client sent before the drain window ends (their replies are flushed),
// and waits for them until ctx ends; then it closes the rest. It does not
// close the cache.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	until := time.Now().Add(s.cfg.DrainWindow)
	s.drainUntil.Store(until.UnixNano())
	s.closing.Store(true)
	for ln := range s.listeners {
		ln.Close()
	}
	if s.flush != nil {
		s.flush.Stop()
	}
	// A connection reads until the window ends, then its read times out
	// and it closes; one that sets an idle deadline meanwhile sees closing
	// and puts this deadline back.
	for c := range s.conns {
		if c.nc != nil { // else an event loop serves it: attach sets it
			c.nc.SetReadDeadline(until)
		}
	}
	s.mu.Unlock()
	// The loops hand every connection to a goroutine, which reads with
	// the deadline above until the window ends.
	s.loopsOnce.Do(func() {}) // no loop starts from now on
	for _, l := range s.loops {
		l.stop()
	}

	idle := make(chan struct{})
	go func() { s.wg.Wait(); close(idle) }()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			if c.nc != nil {
				c.nc.Close()
			}
		}
		s.mu.Unlock()
		<-idle
		return ctx.Err()
	}
}

// flushAll clears the cache now or after delay, memcached's exptime
// (seconds, or a Unix time; past means now), replacing any pending delayed
// flush (as memcached does).
func (s *Server) flushAll(exptime int64) {
	secs, expired := proto.Expiry(exptime, s.cfg.Now().Unix())
	if expired {
		secs = 0
	}
	// Capped as a TTL is: centuries of seconds overflow a Duration, and a
	// negative one flushed at once.
	delay := time.Duration(min(secs, maxLifetime)) * time.Second
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.flush != nil {
		s.flush.Stop()
		s.flush = nil
	}
	if delay <= 0 {
		s.cache.Clear()
		return
	}
	s.flush = time.AfterFunc(delay, func() { s.cache.Clear() })
}
