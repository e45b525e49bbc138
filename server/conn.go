package server

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segcache/segcache/core"
	"github.com/segcache/segcache/server/internal/binproto"
	"github.com/segcache/segcache/server/internal/envelope"
	"github.com/segcache/segcache/server/internal/proto"
)

// ioBufSize is each connection's read and write buffer. A data block that
// fits in the read buffer is stored straight from it, without a copy.
const ioBufSize = 16 << 10

// batch is how many keys of a multi-get go to the engine's batch lookup at
// once, and slotBytes the per-key buffer of that batch: values that do not
// fit are read again one by one, so the scratch stays bounded.
const (
	batch     = 32
	slotBytes = 512
)

var (
	errLineTooLong = errors.New("line too long")
	errBadChunk    = errors.New("bad data chunk")
)

// conn is one client connection. Whoever serves it (its event loop or
// its goroutine, never both: see loop) alone touches its fields, except n
// and lastRead (read by "stats") and nc (read by Shutdown under Server.mu,
// so changed under it).
type conn struct {
	s      *Server
	nc     net.Conn // nil while an event loop serves the connection
	rc     net.Conn // what a goroutine reads and writes through: nc, raw where possible
	remote net.Addr
	log    *slog.Logger // see logger
	r      *bufio.Reader
	w      *bufio.Writer
	n      counters
	// For "stats conns": the listener's address, the number naming the
	// connection, and when it last read bytes (Unix seconds; written by
	// whoever serves it, read by any "stats").
	local    net.Addr
	serial   uint64
	lastRead atomic.Int64
	// waiter lets the connection wait for a request without holding
	// buffers (nil where the platform has no raw connection).
	waiter readableWaiter

	// Event loop state (see loop). fd is the socket outside Go's poller
	// while a loop serves the connection (-1 while a goroutine does: nc
	// then holds the socket), loop the loop that
	// serves it when it waits, inLoop whether it serves it now. pending
	// holds replies the socket did not take in the loop, which the
	// goroutine that takes over sends first. request reads and runs one
	// request of the connection's protocol (nil until its first byte).
	fd      int
	loop    *loop
	id      int32
	inLoop  bool
	noLoop  bool // served by its goroutine to the end (the binary protocol, out of descriptors)
	pending []byte
	request func() (keep bool, err error)
	rest    getRest // what a loop left of a multi-key get to the goroutine
	quit    bool    // close once pending is sent
	scanned int     // bytes of the buffered partial line a loop searched for its end
	// yielding: the loop stopped running its buffered requests after
	// Config.RequestsPerEvent and watches the socket for writability too,
	// which it nearly always has, so the next round serves it again.
	yielding bool

	line  []byte   // a request line longer than the read buffer
	keys  [][]byte // key scratch of Parse
	key   []byte   // a copy of the key of a storage command
	bkey  []byte   // a meta command's key decoded from base64
	block []byte   // data blocks that do not fit in r
	val   []byte   // values read one by one
	rmw   []byte   // read-modify-write: the old value, then the new one
	num   []byte   // formatting
	// flagBytes and flagList hold an ms line's flag tokens while its data
	// block is read (see keepFlags).
	flagBytes []byte
	flagList  [][]byte
	// written is the CAS token of the item this connection's last
	// successful write stored, from the engine's write itself (0 when it
	// stored nothing to read back: a past exptime). A token read back
	// after the write could be a later writer's, and a client that then
	// sent a cas with it would overwrite a value it never saw.
	written uint64
	slab    []byte // batch lookup buffers
	bufs    [][]byte
	lens    []int
	errs    []error
	unread  int  // bytes of the current data block left in r (see readData)
	noreply bool // the running command's replies are suppressed
}

// connIO is what a connection's buffered reader and writer read and
// write: the socket through the event loop's non-blocking calls or the
// goroutine's connection, whichever serves it now, counting the bytes for
// bytes_read/bytes_written.
type connIO struct{ c *conn }

func (x connIO) Read(p []byte) (n int, err error) {
	// Per read, not per request: "stats conns" needs seconds.
	if x.c.inLoop {
		if n, err = x.c.loopRead(p); n > 0 {
			x.c.readAt(x.c.loop.now)
		}
	} else if n, err = x.c.rc.Read(p); n > 0 {
		x.c.readAt(x.c.s.cfg.Now().Unix())
	}
	x.c.n.bytesRead.Add(uint64(n))
	return n, err
}

// readAt records a read at Unix second now. Only whoever serves the
// connection calls it (its loop or its goroutine), so the load and the
// store need not be one atomic step. An atomic store is a locked
// instruction on amd64 (XCHG), and most reads fall in the same second as
// the connection's previous one, so the store is made only when the
// second changed.
func (c *conn) readAt(now int64) {
	if c.lastRead.Load() != now {
		c.lastRead.Store(now)
	}
}

func (x connIO) Write(p []byte) (n int, err error) {
	if x.c.inLoop {
		// What the loop queues for the goroutine to send is counted
		// when sent (sendPending): a client may leave first.
		queued := len(x.c.pending)
		n, err = x.c.loopWrite(p)
		x.c.n.bytesWritten.Add(uint64(n - (len(x.c.pending) - queued)))
		return n, err
	}
	n, err = x.c.rc.Write(p)
	x.c.n.bytesWritten.Add(uint64(n))
	return n, err
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{s: s, remote: nc.RemoteAddr(), local: nc.LocalAddr(), fd: -1, serial: s.serials.Add(1)}
	c.lastRead.Store(s.cfg.Now().Unix())
	c.use(nc)
	c.acquireBuffers()
	return c
}

// use makes nc the connection a goroutine serves c through.
func (c *conn) use(nc net.Conn) {
	c.nc, c.rc = nc, newRawConn(nc)
	c.waiter, _ = c.rc.(readableWaiter)
}

// pickProtocol chooses the protocol from the first byte, which is
// buffered. Like memcached, the first byte picks it for the life of the
// connection: the binary protocol's requests start with its magic byte,
// which no text command does.
func (c *conn) pickProtocol() {
	c.request = c.textRequest
	if b, err := c.r.Peek(1); err == nil && b[0] == binproto.MagicRequest {
		c.request, c.noLoop = c.binaryRequest, true
	}
}

// serve serves the connection on its own goroutine until it closes or,
// when an event loop handed it over and it has nothing left to do, goes
// back to that loop.
func (c *conn) serve() {
	backToLoop := false
	defer func() {
		if !backToLoop {
			c.finish()
		}
	}()
	if c.nc == nil && !c.attach() {
		return
	}
	if c.r == nil { // a loop released them while the connection waited
		c.acquireBuffers()
	}
	if len(c.pending) > 0 && !c.sendPending() || c.quit {
		return
	}
	if c.rest.keys != nil {
		c.finishGet()
	}
	for {
		switch c.await() {
		case awaitFail:
			return
		case awaitLoop:
			backToLoop = true
			return
		}
		if c.request == nil {
			c.pickProtocol()
		}
		keep, err := c.request()
		if err != nil {
			// The replies to the requests before the one the stream
			// ended in (or failed in) still go out, as memcached sends
			// its replies before it waits for more.
			c.w.Flush()
			c.logClose(err)
			return
		}
		if !keep {
			c.w.Flush()
			return
		}
	}
}

// finish closes the connection and unregisters it.
func (c *conn) finish() {
	if c.nc != nil {
		c.nc.Close()
	}
	c.closeFD()
	if c.r != nil {
		c.releaseBuffers()
	}
	c.s.done(c)
}

// textRequest reads and runs one request of the text protocol; keep false
// or an error (of the read) means close the connection.
func (c *conn) textRequest() (keep bool, err error) {
	line, err := c.readLine()
	if err == errLineTooLong {
		c.n.clientErrors.Add(1)
		c.w.WriteString("CLIENT_ERROR line too long\r\n")
		c.w.Flush()
		c.logger().Info("connection closed: request line too long", "max", c.s.cfg.MaxLine)
	}
	if err != nil {
		return false, err
	}
	return c.handle(line), nil
}

type awaitResult int

const (
	awaitRead awaitResult = iota // read the next request
	awaitFail                    // the connection failed
	awaitLoop                    // its event loop serves it again: the goroutine must stop touching it
)

// await prepares to read the next request: when everything received is
// answered, it sends the replies of the batch in one write and then
// either gives the connection back to its event loop or arms the idle
// timeout before the read blocks.
func (c *conn) await() awaitResult {
	if c.r.Buffered() > 0 {
		return awaitRead
	}
	if err := c.w.Flush(); err != nil {
		return awaitFail
	}
	if c.loop != nil && !c.noLoop && !c.s.closing.Load() {
		if next := c.backToLoop(); next != awaitRead {
			return next
		}
	}
	c.armIdle()
	if c.waiter != nil && c.s.curConns.Load() > idleReleaseConns {
		// Wait without buffers. An error (deadline, close) is left for
		// the read that follows, which meets it again and reports it.
		c.releaseBuffers()
		c.waiter.waitReadable()
		c.acquireBuffers()
	}
	return awaitRead
}

// armIdle starts the idle timeout, if there is one: before the read of a
// request, and again whenever bytes of a data block arrive (a value still
// arriving is not idle, and memcached does not time out a connection
// reading one either). While shutting down, the read deadline is
// Shutdown's: the connection reads what the client already sent until
// then.
func (c *conn) armIdle() {
	if idle := c.s.cfg.IdleTimeout; idle > 0 && !c.s.closing.Load() {
		c.nc.SetReadDeadline(c.s.cfg.Now().Add(idle))
		if c.s.closing.Load() { // Shutdown's deadline may predate this one
			c.nc.SetReadDeadline(time.Unix(0, c.s.drainUntil.Load()))
		}
	}
}

// idleReleaseConns is the number of open connections above which a
// connection waiting for its next request gives its read and write
// buffers back to a pool: memory then grows with the connections that
// are busy, not with those open (32 KiB each, about 1.4 KiB in memcached).
// Below it the buffers stay, which saves the peek system call the release
// costs per request (measured: about 4% more server CPU per unpipelined
// request). A variable so that tests can run every connection this way.
var idleReleaseConns int64 = 256

// acquireBuffers takes read and write buffers from their pools.
func (c *conn) acquireBuffers() {
	c.r, c.w = readers.Get().(*bufio.Reader), writers.Get().(*bufio.Writer)
	c.r.Reset(connIO{c})
	c.w.Reset(connIO{c})
}

// releaseBuffers gives the read and write buffers back to their pools
// (when the connection waits, and when it closes).
func (c *conn) releaseBuffers() {
	c.r.Reset(nil) // drop the reference to the connection
	c.w.Reset(nil)
	readers.Put(c.r)
	writers.Put(c.w)
	c.r, c.w = nil, nil
}

// readers and writers hold the buffers of waiting connections.
var (
	readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, ioBufSize) }}
	writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, ioBufSize) }}
)

// readableWaiter waits until a connection has bytes to read (or EOF, or
// an error) without reading them.
type readableWaiter interface{ waitReadable() error }

// logger returns the server's logger with the client's address, made on
// first use: most connections never log, and one made per connection
// would cost each about a kilobyte.
func (c *conn) logger() *slog.Logger {
	if c.log == nil {
		c.log = c.s.log.With("remote", c.remote.String())
	}
	return c.log
}

// logClose logs why a read ended the connection, when that is news.
func (c *conn) logClose(err error) {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded) && !c.s.closing.Load():
		c.logger().Info("connection closed: idle timeout", "idle", c.s.cfg.IdleTimeout)
	case err != io.EOF && err != errLineTooLong && !c.s.closing.Load():
		c.logger().Debug("connection closed", "err", err)
	}
}

// readLine returns the next request line without its line ending. The
// slice is valid until the next read from c.r.
func (c *conn) readLine() ([]byte, error) {
	line, err := c.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		c.line = append(c.line[:0], line...)
		for err == bufio.ErrBufferFull {
			if len(c.line) > c.s.cfg.MaxLine {
				return nil, errLineTooLong
			}
			line, err = c.r.ReadSlice('\n')
			c.line = append(c.line, line...)
		}
		line = c.line
	}
	if err != nil {
		return nil, err
	}
	if len(line) > c.s.cfg.MaxLine+2 {
		return nil, errLineTooLong
	}
	line = line[:len(line)-1]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, nil
}

// reply writes msg and its line ending unless the command said noreply.
func (c *conn) reply(msg string) {
	if !c.noreply {
		c.w.WriteString(msg)
		c.w.WriteString("\r\n")
	}
}

func (c *conn) clientError(msg string) {
	c.n.clientErrors.Add(1)
	c.reply("CLIENT_ERROR " + msg)
}

func (c *conn) serverError(msg string) {
	c.n.serverErrors.Add(1)
	c.reply("SERVER_ERROR " + msg)
}

// keepBytes is the most scratch a connection keeps between requests, all
// its buffers together: one large request (a long multi-get line, a big
// value) must not pin its buffers for the life of an idle connection, and
// a client that sent one of each kind (a long line, a block, an append, a
// multi-get of large values, an ms with long flags) kept up to 64 KiB in
// each, over 300 KiB per connection.
const keepBytes = 64 << 10

func (c *conn) releaseLarge() {
	const header = 24 // bytes of a slice header, the element of keys and flagList
	bufs := [...]*[]byte{&c.val, &c.block, &c.rmw, &c.line, &c.flagBytes}
	total := header * (cap(c.keys) + cap(c.flagList))
	for _, b := range bufs {
		total += cap(*b)
	}
	if total <= keepBytes {
		return // the common case: a few small buffers
	}
	// keys and flagList hold slices of the last request's line and flags:
	// a buffer dropped below would stay alive through them. Unless a
	// loop's multi-get left keys to answer (c.rest), which are c.keys'.
	if c.rest.keys == nil {
		clear(c.keys[:cap(c.keys)])
	}
	clear(c.flagList[:cap(c.flagList)])
	if header*cap(c.keys) > keepBytes/2 {
		total -= header * cap(c.keys)
		c.keys = nil
	}
	// Drop the largest until the rest fit: what stays serves the common
	// sizes without an allocation.
	for total > keepBytes {
		big := bufs[0]
		for _, b := range bufs[1:] {
			if cap(*b) > cap(*big) {
				big = b
			}
		}
		if cap(*big) == 0 {
			total -= header * cap(c.flagList) // only the flag list is left
			c.flagList = nil
			break
		}
		total -= cap(*big)
		*big = nil
	}
}

// handle runs one request; false means close the connection.
func (c *conn) handle(line []byte) bool {
	req, err := proto.Parse(line, c.keys, c.s.cfg.MaxItem)
	return c.run(&req, err)
}

// run runs the request parsed from a line (err: how Parse failed).
func (c *conn) run(req *proto.Request, err error) bool {
	defer c.releaseLarge()
	if cap(req.Keys) > cap(c.keys) {
		c.keys = req.Keys[:0]
	}
	if cap(req.Meta) > cap(c.keys) {
		c.keys = req.Meta[:0]
	}
	c.noreply = req.Noreply
	defer func() { c.noreply = false }()
	switch err {
	case nil:
	case proto.ErrUnknown:
		c.noreply = false
		c.reply("ERROR")
		return true
	case proto.ErrTooLarge:
		// Skip the announced block unread, as memcached does, so the
		// next request parses.
		c.refuseOversized(req)
		if c.w.Flush() != nil { // the skip may wait for a client that waits for us
			return false
		}
		_, err := c.r.Discard(req.Bytes + 2)
		return err == nil
	default:
		// Like memcached, a malformed storage line does not skip a data
		// block: its length may be what was malformed. And like
		// memcached's, the error is not sent if the line ended in
		// noreply (its protocol allows either).
		c.clientError(err.Error())
		return true
	}

	switch req.Op {
	case proto.OpGet, proto.OpGets:
		c.get(req.Keys, req.Op == proto.OpGets)
	case proto.OpGat, proto.OpGats:
		c.gat(req.Keys, req.Exptime, req.Op == proto.OpGats)
	case proto.OpSet, proto.OpAdd, proto.OpReplace, proto.OpAppend, proto.OpPrepend, proto.OpCAS:
		return c.storage(req)
	case proto.OpDelete:
		c.delete(req.Key)
	case proto.OpIncr, proto.OpDecr:
		c.arith(req.Key, req.Delta, req.Op == proto.OpIncr)
	case proto.OpTouch:
		c.n.cmdTouch.Add(1)
		if _, _, ok := c.touch(req.Key, req.Exptime); ok {
			c.n.touchHits.Add(1)
			c.reply("TOUCHED")
		} else {
			c.n.touchMisses.Add(1)
			c.reply("NOT_FOUND")
		}
	case proto.OpFlushAll:
		c.n.cmdFlush.Add(1)
		c.s.flushAll(req.Delay)
		c.reply("OK")
	case proto.OpStats:
		c.noreply = false // memcached answers "stats reset noreply" too
		switch string(req.Arg) {
		case "reset":
			c.s.resetStats()
			c.reply("RESET")
		case "detail":
			// Per-prefix counters (memcached's "stats detail") are not kept.
			switch string(req.Arg2) {
			case "on", "off", "dump":
				c.serverError("stats detail is not supported")
			default:
				c.clientError("usage: stats detail on|off|dump")
			}
		default:
			if lines, ok := c.s.groupStats(string(req.Arg)); ok {
				writeStats(c.w, lines)
			} else {
				c.reply("ERROR")
			}
		}
	case proto.OpShutdown:
		// As memcached: refused unless enabled (-A); then the connection
		// closes without a reply and the server shuts down gracefully
		// (both of memcached's modes: its immediate one would drop the
		// other clients' answered-but-unsent replies).
		switch mode := string(req.Arg); {
		case !c.s.cfg.EnableShutdown:
			c.reply("ERROR: shutdown not enabled")
		case mode == "" || mode == "graceful":
			c.logger().Info("shutdown requested by a client")
			c.s.requestShutdown()
			return false
		default:
			c.clientError("invalid shutdown mode")
		}
	case proto.OpMemLimit:
		// The engine's memory is laid out once, at start; memcached
		// answers a limit under 8 MiB this way before anything else.
		if req.Level < 8 {
			c.reply("MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m")
		} else {
			c.serverError("cache_memlimit is not supported: the memory is fixed at start (-m)")
		}
	case proto.OpVersion:
		c.reply("VERSION " + Version)
	case proto.OpVerbosity:
		c.s.verbosity.Store(req.Level)
		c.reply("OK")
	case proto.OpQuit:
		return false
	case proto.OpMetaGet:
		c.metaGet(req)
	case proto.OpMetaSet:
		return c.metaSet(req)
	case proto.OpMetaDelete:
		c.metaDelete(req)
	case proto.OpMetaArith:
		c.metaArith(req)
	case proto.OpMetaNoop:
		c.w.WriteString("MN\r\n")
	}
	return true
}

// writeValue writes one VALUE line and its data block.
func (c *conn) writeValue(key, stored []byte, withCAS bool, token uint64) {
	m, data := envelope.Decode(stored)
	b := append(c.num[:0], "VALUE "...)
	b = append(b, key...)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(m.Flags), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(len(data)), 10)
	if withCAS {
		b = append(b, ' ')
		b = strconv.AppendUint(b, token, 10)
	}
	b = append(b, '\r', '\n')
	c.num = b
	c.w.Write(b)
	c.w.Write(data)
	c.w.WriteString("\r\n")
}

// get answers get/gets. Plain gets of several keys go through the
// engine's batch lookup a chunk at a time; gets needs each item's CAS
// token, which only the single-key lookup returns, and a get of one key
// gains nothing from a batch (the single-key lookup measured 200-280 ns
// against 380-500 ns for a batch of one).
func (c *conn) get(keys [][]byte, withCAS bool) {
	c.n.cmdGet.Add(uint64(len(keys)))
	c.getKeys(getRest{keys: keys, withCAS: withCAS})
}

// getRest is a get, gets, gat or gats to answer from keys on.
type getRest struct {
	keys         [][]byte
	withCAS, gat bool
	exptime      int64
}

// stalled reports whether an event loop serves the connection and its
// socket has stopped taking replies: a multi-key get then stops, so that
// the replies it has not written yet are not buffered without bound, and
// leaves the rest (c.rest) to the goroutine that takes the connection
// over (its keys alias the read buffer, which nothing reads into before
// finishGet).
func (c *conn) stalled() bool { return c.inLoop && len(c.pending) > 0 }

// finishGet answers what a loop left of a get.
func (c *conn) finishGet() {
	g := c.rest
	c.rest = getRest{}
	c.getKeys(g)
}

// getKeys writes the values of g's keys and END, unless the connection
// stalls first (then c.rest holds the keys left).
func (c *conn) getKeys(g getRest) {
	keys := g.keys
	if g.gat {
		for i, k := range keys {
			if c.stalled() {
				g.keys = keys[i:]
				c.rest = g
				return
			}
			c.gatKey(k, g.exptime, g.withCAS)
		}
		c.w.WriteString("END\r\n")
		return
	}
	withCAS := g.withCAS
	if withCAS || len(keys) == 1 {
		for i, k := range keys {
			if c.stalled() {
				g.keys = keys[i:]
				c.rest = g
				return
			}
			if v, token, ok := c.lookup(k); ok {
				c.n.getHits.Add(1)
				c.writeValue(k, v, withCAS, token)
			} else {
				c.n.getMisses.Add(1)
			}
		}
		c.w.WriteString("END\r\n")
		return
	}
	if c.slab == nil {
		c.slab = make([]byte, batch*slotBytes)
		c.bufs = make([][]byte, batch)
		for i := range c.bufs {
			c.bufs[i] = c.slab[i*slotBytes : (i+1)*slotBytes : (i+1)*slotBytes]
		}
		c.lens = make([]int, batch)
		c.errs = make([]error, batch)
	}
	for start := 0; start < len(keys); start += batch {
		chunk := keys[start:min(start+batch, len(keys))]
		n := len(chunk)
		c.s.cache.GetBatch(chunk, c.bufs[:n], c.lens[:n], c.errs[:n])
		for i, k := range chunk {
			if c.stalled() {
				g.keys = keys[start+i:]
				c.rest = g
				return
			}
			switch c.errs[i] {
			case nil:
				c.n.getHits.Add(1)
				c.writeValue(k, c.bufs[i][:c.lens[i]], false, 0)
			case core.ErrBufferSmall:
				if v, _, ok := c.lookup(k); ok {
					c.n.getHits.Add(1)
					c.writeValue(k, v, false, 0)
				} else {
					c.n.getMisses.Add(1)
				}
			default:
				c.n.getMisses.Add(1)
			}
		}
	}
	c.w.WriteString("END\r\n")
}

// lookup reads one value into c.val, growing it to the value's size
// (bounded by the item limit), and returns it with its CAS token.
func (c *conn) lookup(key []byte) ([]byte, uint64, bool) {
	for {
		n, token, err := c.s.cache.GetInto(c.val[:cap(c.val)], key)
		switch err {
		case nil:
			return c.val[:n], token, true
		case core.ErrBufferSmall:
			c.val = make([]byte, n+n/4)
		default:
			return nil, 0, false
		}
	}
}

// gat answers gat/gats: touch each key, then return it. As memcached's,
// each key counts as a touch (cmd_touch, touch_hits or touch_misses), not
// as a get.
func (c *conn) gat(keys [][]byte, exptime int64, withCAS bool) {
	c.getKeys(getRest{keys: keys, withCAS: withCAS, gat: true, exptime: exptime})
}

// gatKey answers one key of gat/gats.
func (c *conn) gatKey(k []byte, exptime int64, withCAS bool) {
	c.n.cmdTouch.Add(1)
	if v, token, ok := c.touch(k, exptime); ok {
		c.n.touchHits.Add(1)
		c.writeValue(k, v, withCAS, token)
	} else {
		c.n.touchMisses.Add(1)
	}
}

// readData reads a data block of n bytes and its "\r\n". The block is
// returned in place in the read buffer when it fits (valid until
// dataDone) and in c.block otherwise (which lookups, reading into c.val
// while the block is in use, must not share). Every successful or
// errBadChunk return must be followed by dataDone before the next read.
func (c *conn) readData(n int) ([]byte, error) {
	b, err := c.readBody(n + 2)
	if err != nil {
		return nil, err
	}
	if b[n] != '\r' || b[n+1] != '\n' {
		return nil, errBadChunk
	}
	return b[:n], nil
}

// readBody reads n bytes like readData, without a line ending. The caller
// bounds n.
func (c *conn) readBody(n int) ([]byte, error) {
	if n <= c.r.Size() {
		// One read at a time with an idle timeout, to restart it.
		for c.s.cfg.IdleTimeout > 0 && c.r.Buffered() < n {
			if _, err := c.r.Peek(c.r.Buffered() + 1); err != nil {
				return nil, err
			}
			c.armIdle()
		}
		b, err := c.r.Peek(n)
		if err != nil {
			return nil, err
		}
		// The bytes stay in the read buffer until dataDone; a count
		// rather than a closure keeps the store path free of allocations.
		c.unread = n
		return b, nil
	}
	// The block takes memory as its bytes arrive, not when it is
	// announced: a client that announces values near the item limit and
	// sends a byte of each would otherwise pin MaxItem per connection,
	// outside the cache's memory, for the price of a request line
	// (memcached takes the item from its cache memory, bounded by -m).
	// Doubling keeps what a slow block holds within twice what it sent.
	b := c.block[:0]
	for len(b) < n {
		if len(b) == cap(b) {
			grown := make([]byte, len(b), min(n, max(2*cap(b), keepBytes)))
			copy(grown, b)
			b = grown
		}
		k, err := c.r.Read(b[len(b):min(cap(b), n)])
		b = b[:len(b)+k]
		if err != nil {
			c.block = b[:0]
			return nil, err
		}
		if k > 0 {
			c.armIdle()
		}
	}
	c.block = b
	return b, nil
}

// dataDone releases the block readData returned.
func (c *conn) dataDone() {
	if c.unread > 0 {
		c.r.Discard(c.unread)
		c.unread = 0
	}
}

// readBlock reads the data block of a storage command (set ... or ms),
// copying its key to c.key first: the key
// aliases the line, which reading the block may overwrite. With handled
// the request is over (a bad chunk was answered, or the connection
// failed) and keep says whether to go on serving; otherwise the caller
// calls dataDone once it no longer needs data.
func (c *conn) readBlock(req *proto.Request) (data []byte, handled, keep bool) {
	c.key = append(c.key[:0], req.Key...)
	data, err := c.readData(req.Bytes)
	switch {
	case err == errBadChunk:
		c.dataDone()
		c.clientError("bad data chunk")
		return nil, true, true
	case err != nil:
		return nil, true, false
	}
	return data, false, true
}

func (c *conn) storage(req *proto.Request) bool {
	c.n.cmdSet.Add(1) // a bad data chunk too, as memcached counts
	data, handled, keep := c.readBlock(req)
	if handled {
		return keep
	}
	res := c.store(req, c.key, data)
	c.dataDone()
	c.replyResult(res)
	return true
}

func (c *conn) delete(key []byte) {
	switch err := c.s.cache.Delete(key); err {
	case nil:
		c.n.deleteHits.Add(1)
		c.reply("DELETED")
	case core.ErrNotFound:
		c.n.deleteMisses.Add(1)
		c.reply("NOT_FOUND")
	default:
		c.engineError(err)
	}
}

func (c *conn) arith(key []byte, delta uint64, incr bool) {
	n, res := c.addDelta(key, delta, incr, 0)
	c.countArith(incr, res, false)
	switch res {
	case "":
		if !c.noreply {
			c.num = strconv.AppendUint(c.num[:0], n, 10)
			c.w.Write(c.num)
			c.w.WriteString("\r\n")
		}
	default:
		c.replyResult(res)
	}
}

// replyResult sends a reply string of the store layer, counting errors.
func (c *conn) replyResult(res string) {
	switch {
	case len(res) > 13 && res[:13] == "CLIENT_ERROR ":
		c.clientError(res[13:])
	case len(res) > 13 && res[:13] == "SERVER_ERROR ":
		c.serverError(res[13:])
	default:
		c.reply(res)
	}
}

func (c *conn) engineError(err error) {
	c.replyResult(engineReply(err))
}
