package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/segcache/segcache/core"
	"github.com/segcache/segcache/server"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// options are the command line.
type options struct {
	port, maxConns, threads, hashPower int
	listen, socket, socketMode         string
	memoryMiB                          uint64
	maxItem, segmentSize               string
	eviction, logFormat, logLevel      string
	portFile                           string
	idleTimeout, shutdownTimeout       time.Duration
	maxLine                            int
	version, prefault, enableShutdown  bool
	eventLoops, reqsPerEvent           int
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fl := flag.NewFlagSet("segcached", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.IntVar(&o.port, "p", 11211, "TCP port to listen on (0: any free port; -1: no TCP)")
	fl.StringVar(&o.listen, "l", "127.0.0.1", "interface to listen on (\"\" or 0.0.0.0: all)")
	fl.StringVar(&o.socket, "s", "", "unix socket path to listen on (in addition to TCP unless -p -1)")
	fl.StringVar(&o.socketMode, "a", "0700", "unix socket permissions (octal)")
	fl.Uint64Var(&o.memoryMiB, "m", 64, "item memory in MiB")
	fl.IntVar(&o.maxConns, "c", server.DefaultMaxConns, "maximum simultaneous connections")
	fl.IntVar(&o.threads, "t", 0, "threads serving requests (GOMAXPROCS; 0: one per CPU)")
	fl.StringVar(&o.maxItem, "I", "1m", "largest value accepted (k/m suffixes); at most the segment size, and a value must also fit in one segment with its key and an 8-byte header (as memcached's -I counts its item header)")
	fl.StringVar(&o.segmentSize, "segment-size", "1m", "segment size (k/m suffixes; 4k to 8m, a multiple of 8)")
	fl.StringVar(&o.eviction, "eviction", core.DefaultPolicy.String(), "eviction policy: none, random, random_fifo, fifo, cte, util, merge, s3fifo")
	fl.IntVar(&o.hashPower, "hash-power", 0, "initial hashtable of 2^N slots (0: sized from -m); it doubles online when full")
	fl.DurationVar(&o.idleTimeout, "idle-timeout", 0, "close connections idle this long (0: never)")
	fl.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 10*time.Second, "on SIGTERM, how long to let connections finish")
	fl.IntVar(&o.maxLine, "max-line", server.DefaultMaxLine, "longest request line (a multi-get) in bytes")
	fl.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fl.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fl.StringVar(&o.portFile, "port-file", "", "write the TCP port listened on to this file (for -p 0)")
	fl.IntVar(&o.reqsPerEvent, "R", server.DefaultRequestsPerEvent, "requests an event loop runs for one connection before it serves the others (memcached's -R; stats conn_yields counts the times)")
	fl.IntVar(&o.eventLoops, "event-loops", 0, "event loops serving text connections as memcached's threads do (0: one with -t 1, else none; -1: none); the others get a goroutine each, as every connection does with -idle-timeout")
	fl.BoolVar(&o.prefault, "L", false, "make the item memory and the hashtable resident at start, as memcached's -L preallocates (transparent huge pages are asked for either way): no write pays a first-touch page fault, and the process's RSS is its full size from the start")
	fl.BoolVar(&o.enableShutdown, "A", false, "let clients stop the server with the shutdown command (memcached's -A); it shuts down as on SIGTERM")
	fl.BoolVar(&o.version, "V", false, "print the version and exit")
	if err := fl.Parse(args); err != nil {
		return nil, err
	}
	if fl.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fl.Arg(0))
	}
	return o, nil
}

// parseSize reads a byte count with an optional k or m suffix (binary).
func parseSize(s string) (int, error) {
	mult := 1
	switch {
	case strings.HasSuffix(strings.ToLower(s), "k"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(strings.ToLower(s), "m"):
		mult, s = 1<<20, s[:len(s)-1]
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || n > 1<<30/mult {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

func newLogger(o *options, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, fmt.Errorf("-log-level: %v", err)
	}
	ho := &slog.HandlerOptions{Level: level}
	switch o.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, ho)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, ho)), nil
	}
	return nil, fmt.Errorf("-log-format %q: want text or json", o.logFormat)
}

func run(args []string, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "segcached:", err)
		return 2
	}
	if o.version {
		fmt.Fprintln(stderr, "segcached", server.Version)
		return 0
	}
	log, err := newLogger(o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "segcached:", err)
		return 2
	}
	if err := serve(o, log); err != nil {
		log.Error("exiting", "err", err)
		return 1
	}
	return 0
}

func serve(o *options, log *slog.Logger) error {
	// Signals are caught from the start: a supervisor (or a test) that
	// sends SIGTERM once the port file is written or "listening" is
	// logged gets a graceful stop, not the default action's (it did when
	// the signal came before the handler, registered after both).
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)
	if o.threads > 0 {
		runtime.GOMAXPROCS(o.threads)
	}
	policy, err := core.ParsePolicy(o.eviction)
	if err != nil {
		return err
	}
	segSize, err := parseSize(o.segmentSize)
	if err != nil {
		return fmt.Errorf("-segment-size: %v", err)
	}
	maxItem, err := parseSize(o.maxItem)
	if err != nil {
		return fmt.Errorf("-I: %v", err)
	}
	if maxItem > segSize {
		return fmt.Errorf("-I %d is larger than the segment size %d: raise -segment-size", maxItem, segSize)
	}
	if o.reqsPerEvent <= 0 {
		return fmt.Errorf("-R %d: the requests per event must be at least 1", o.reqsPerEvent)
	}
	if o.port < 0 && o.socket == "" {
		return errors.New("nothing to listen on: -p -1 without -s")
	}
	mode, err := strconv.ParseUint(o.socketMode, 8, 32)
	if err != nil {
		return fmt.Errorf("-a %q: want octal permissions", o.socketMode)
	}
	cache, err := core.Open(core.Options{
		HeapBytes:    o.memoryMiB << 20,
		SegmentBytes: uint32(segSize),
		HashPower:    uint32(o.hashPower),
		Eviction:     policy,
		Prefault:     o.prefault,
	})
	if err != nil {
		return err
	}
	defer cache.Close()

	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	if o.port >= 0 {
		ln, err := net.Listen("tcp", net.JoinHostPort(o.listen, strconv.Itoa(o.port)))
		if err != nil {
			return err
		}
		lns = append(lns, ln)
		if o.portFile != "" {
			port := ln.Addr().(*net.TCPAddr).Port
			if err := writeFileAtomic(o.portFile, strconv.Itoa(port)+"\n"); err != nil {
				return err
			}
		}
	}
	if o.socket != "" {
		// A socket file left by a previous run would make Listen fail.
		if fi, err := os.Lstat(o.socket); err == nil && fi.Mode()&fs.ModeSocket != 0 {
			os.Remove(o.socket)
		}
		ln, err := listenUnix(o.socket, fs.FileMode(mode))
		if err != nil {
			return err
		}
		lns = append(lns, ln)
		// Remove the socket file at exit only if it is still this
		// server's: one started over it meanwhile (a restart) removed
		// it and bound its own, which closing the listener (Go unlinks
		// the path by default) removed too, leaving that server running
		// unreachable.
		ln.(*net.UnixListener).SetUnlinkOnClose(false)
		if own, err := os.Lstat(o.socket); err == nil {
			defer func() {
				if fi, err := os.Lstat(o.socket); err == nil && os.SameFile(own, fi) {
					os.Remove(o.socket)
				}
			}()
		}
	}

	srv := server.New(cache, server.Config{
		MaxConns:         o.maxConns,
		MaxLine:          o.maxLine,
		MaxItem:          maxItem,
		IdleTimeout:      o.idleTimeout,
		EventLoops:       o.eventLoops,
		RequestsPerEvent: o.reqsPerEvent,
		Logger:           log,
		EnableShutdown:   o.enableShutdown,
		Settings: [][2]string{
			{"maxbytes", strconv.FormatUint(o.memoryMiB<<20, 10)},
			{"tcpport", strconv.Itoa(o.port)},
			// memcached's names, and its word for an unset string.
			{"inter", orNULL(o.listen)},
			{"domain_socket", orNULL(o.socket)},
			{"umask", strconv.FormatUint(mode, 8)},
			{"segment_size", strconv.Itoa(segSize)},
			{"eviction_policy", policy.String()},
		},
	})
	warnFDLimit(log, o.maxConns)
	stats := cache.Stats()
	var wg sync.WaitGroup
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		log.Info("listening", "network", ln.Addr().Network(), "addr", ln.Addr().String(),
			"memory_bytes", stats.HeapBytes, "segment_bytes", segSize, "eviction", policy.String(),
			"threads", runtime.GOMAXPROCS(0), "max_conns", o.maxConns, "version", server.Version)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, server.ErrServerClosed) {
				errc <- err
			}
		}()
	}

	var failed error
	select {
	case s := <-sig:
		log.Info("shutting down", "signal", s.String(), "timeout", o.shutdownTimeout)
	case <-srv.ShutdownRequested():
		log.Info("shutting down", "command", "shutdown", "timeout", o.shutdownTimeout)
	case failed = <-errc:
		log.Error("listener failed; shutting down", "err", failed)
	}
	signal.Stop(sig)
	ctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Warn("connections still open at the shutdown timeout were closed", "err", err)
	}
	wg.Wait()
	log.Info("stopped")
	return failed
}

// fdReserve is the descriptors segcached needs besides its connections:
// standard streams, listeners, event loops, the duplicate a connection
// takes while it moves between a loop and a goroutine, with room to spare.
const fdReserve = 32

// listenUnix listens on a unix socket at path whose file has mode from the
// start: bind creates it with the process's umask applied, and a chmod
// after it left a window in which another local user could connect to a
// socket meant for its owner (-a 0700) and stay connected. memcached sets
// the umask before bind too. The umask is the process's: nothing else
// creates files while the server starts.
func listenUnix(path string, mode fs.FileMode) (net.Listener, error) {
	ln, err := bindUnix(path, mode)
	if err != nil {
		return nil, err
	}
	// The mode bits umask cannot give (none for -a's octal permissions
	// today), and a file system that ignores the umask for sockets.
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// orNULL is s, or "NULL" (as memcached's stats write an unset string)
// when it is empty.
func orNULL(s string) string {
	if s == "" {
		return "NULL"
	}
	return s
}

// writeFileAtomic writes a file that readers see whole or not at all.
func writeFileAtomic(path, content string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
