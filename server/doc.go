// Package server serves a core.Cache over memcached's protocols, so the
// clients and proxies written for memcached (libmemcached, pymemcache,
// gomemcache and twemproxy are tested; mcrouter speaks the same protocol
// but is not packaged in Debian, so nothing here runs it) use the engine
// unchanged: the text protocol (the classic commands and the meta
// commands mg/ms/md/ma/mn) and the binary protocol (every command of
// memcached 1.6 but SASL), chosen per connection by its first byte as
// memcached does.
//
// On Linux, event loops can serve the text connections the way
// memcached's worker threads do (see loop), by default when the server
// runs one thread: each loop has a level-triggered epoll set; for a connection that has bytes, a loop reads
// once, runs every complete request in the buffer against the engine and
// writes the replies with one system call. What would make a loop wait
// (a request larger than the read buffer, replies the client is slow to
// read, the binary protocol) goes to a goroutine serving that connection
// alone, which gives it back to its loop once it has answered everything.
// Otherwise (by default with more than one thread, see Config.EventLoops;
// with an idle timeout; not on Linux) one goroutine serves each connection (its reads and writes are raw system calls on
// Linux, see rawConn). Either way a command is parsed from the connection's
// buffered reader, run against the engine, and its reply written into a
// buffered writer that is flushed only when no further request is already
// buffered, so a pipelined batch costs one write system call.
// Every per-connection buffer is bounded (request line, data block, batch
// scratch), so a malformed or hostile request gets CLIENT_ERROR or
// SERVER_ERROR and never grows memory without bound.
//
// The engine has no field for memcached's 32-bit client flags, so they are
// kept inside the stored value by package envelope: values with flags 0
// and no expiry are stored raw (numbers stay the engine's numbers, which
// incr/decr update atomically in place); others carry a 1-9 byte prefix.
// append, prepend, touch and incr on prefixed values are read-modify-write
// loops over the engine's CAS, which retry when another writer got there
// first, so they are atomic like memcached's. The CAS a write answers with
// (binary responses, ms and ma with c) is that of the item it stored, taken
// from the engine's write, not read back after it; a delete conditional on
// a CAS (md with C, a binary delete with one, a cas with a past exptime)
// and a touch to a past time remove only the item whose token they read,
// never a write that came after (the engine's DeleteCAS).
//
// exptime follows memcached: 0 never expires, up to 30 days is seconds
// from now, more is an absolute Unix time, and a negative or past time
// means already expired (the store succeeds and the key reads as absent).
//
// Departures from memcached, all forced by the engine's design:
//   - An item with a TTL may disappear up to 10% (+1 s) before its expiry
//     (items expire with their segment), never after it; earlier when more
//     distinct TTLs are in use than a quarter of the segments can hold
//     open in a cache short of free segments (it then expires with a
//     shorter TTL's segment, as if evicted).
//   - touch, gat and mg with T keep the item's CAS unique, as memcached's
//     do, but that of a number incr or decr changed in place (one stored
//     without flags or expiry) to which they give an expiry: the engine
//     keeps the number's version in the number's own item, which a value
//     with an expiry is not.
//   - decr writes the number without memcached's trailing-space padding.
//   - Eviction is by segment (the configured policy), not item LRU.
//   - A key with a control character is refused (CLIENT_ERROR bad command
//     line format), as memcached's protocol says; memcached stores it, and
//     a "\r" in it would come back inside reply lines.
//   - A binary store, or an increment that creates its counter, with an
//     exptime already past answers without a CAS: nothing was stored
//     (memcached answers with the CAS of the item it stored expired).
//   - mg's k answers the key as the request gave it (base64 with b);
//     memcached answers it as the item was stored (base64 only if a
//     command with b stored it).
//   - cache_memlimit is refused (SERVER_ERROR; MEMLIMIT_TOO_SMALL under
//     8 MiB, as memcached): the engine lays its memory out at start.
//     stats detail (per-prefix counters) is refused too, and stats conns
//     names connections by their accept count, not a descriptor, and has
//     no state line for them. "shutdown" (with Config.EnableShutdown,
//     memcached's -A) always shuts down gracefully.
//
// Where memcached 1.6.18 answers wrongly, segcached does not copy it: an
// incr of a value of only white space is non-numeric (memcached parses
// past the value's end), and one of a number of 2^63 or more succeeds
// (memcached refuses it when a '-' byte follows the item in its memory);
// client flags above 2^32-1 are refused (memcached keeps them modulo
// 2^32); mg reports t after its own T whatever their order, and so does an
// ma that creates a counter with N (memcached answers t-1 there), and an
// mg whose T expired the item reports t0.
package server
