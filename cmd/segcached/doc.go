// Command segcached is a memcached-compatible cache server on the Segcache
// engine: it speaks memcached's text (with meta commands) and binary
// protocols over TCP and unix sockets, so memcached clients and proxies
// (twemproxy, mcrouter) use it unchanged.
//
//	segcached -p 11211 -l 127.0.0.1 -m 1024 -c 4096 -t 4
//
// The flags follow memcached's where one exists (-p, -l, -s, -a, -m, -c,
// -t, -I); the engine adds -segment-size, -eviction and -hash-power. It logs
// with log/slog (text or JSON on stderr) and shuts down gracefully on
// SIGTERM or SIGINT: it stops accepting, answers the requests already
// received, and exits.
//
// It lives in the main module as a command over package server (standard
// library and core only), so `go install .../cmd/segcached` builds it
// without pulling test-only client libraries; the tests that drive it with
// third-party clients and proxies live in their own module, server/clienttest.
package main
