// Command segcached is a memcached-compatible cache server on the Segcache
// engine: it speaks memcached's text (with meta commands) and binary
// protocols over TCP and unix sockets, so memcached clients and proxies
// (twemproxy; mcrouter too, though it is untested: Debian does not package
// it) use it unchanged.
//
//	segcached -p 11211 -l 127.0.0.1 -m 1024 -c 4096 -t 4
//
// The flags follow memcached's where one exists (-p, -l, -s, -a, -m, -c,
// -t, -I, -L, -A); the engine adds -segment-size, -eviction and -hash-power. It
// logs with log/slog (text or JSON on stderr) and shuts down gracefully on
// SIGTERM or SIGINT, or on a client's "shutdown" with -A: it stops
// accepting, answers the requests already received, and exits.
//
// Memory: the items (-m) and the hashtable live outside the Go heap, and
// serving a request allocates nothing, so the Go heap stays under 1 MB
// however much is cached and the GC needs no tuning (GOGC and GOMEMLIMIT
// can stay unset). An item with flags 0 and no expiry costs the engine's
// 8-byte header, its key and its value, rounded up to 8 bytes; non-zero
// flags or an expiry add a 5-byte prefix to the value, both 9. A busy
// connection holds 32 KiB of buffers (plus 16 KiB once it sends a
// multi-get, and at most 64 KiB of scratch kept from large requests; a
// larger value or line takes its memory while it is served); past 256
// open connections, those waiting for a request give
// the 32 KiB back, so 2,000 idle connections cost about 8.5 KiB each
// (mostly goroutine stacks; memcached: 1.4 KiB), or 5 KiB in event loops,
// where a waiting text connection has no goroutine. `make segcached`
// builds the command static (CGO_ENABLED=0), which keeps libc out of its
// resident memory.
//
// Event loops (-event-loops N) serve text connections as memcached's
// worker threads do, each waiting on its own epoll set; the other
// connections get a goroutine each, which the runtime spreads over the -t
// threads. The default is one loop with -t 1 and none with more threads,
// which is what measured faster on a 2-CPU machine shared with the load
// generator (see server.Config.EventLoops); -idle-timeout needs a
// goroutine per connection to time it, so it turns loops off. A loop runs
// at most -R requests (20, memcached's default) of one connection before
// the other connections' (stats conn_yields counts the times), so a client
// pipelining a buffer of small requests cannot hold the rest for long.
//
// Descriptors: a connection holds one, wherever it is served. With an open
// files limit (after Go raises the soft limit to the hard one) below -c
// plus 32, segcached warns at start (memcached refuses to start). Out of
// descriptors, accepts back off and retry, connections already open are
// still served, and the stat segcached_fd_exhausted counts the times.
//
// It lives in the main module as a command over package server (standard
// library, core and golang.org/x/sys/unix, which core needs too), so `go install .../cmd/segcached` builds it
// without pulling test-only client libraries; the tests that drive it with
// third-party clients and proxies live in their own module, server/clienttest.
package main
