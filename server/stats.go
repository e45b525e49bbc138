package server

import (
	"bufio"
	"cmp"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/segcache/segcache/core"
)

// counters are one connection's command counters, named as memcached's
// stats. Only the connection's goroutine adds to them; atomics let "stats"
// on another connection read them while it runs.
type counters struct {
	cmdGet, cmdSet, cmdFlush, cmdTouch     atomic.Uint64
	getHits, getMisses                     atomic.Uint64
	deleteHits, deleteMisses               atomic.Uint64
	incrHits, incrMisses                   atomic.Uint64
	decrHits, decrMisses                   atomic.Uint64
	casHits, casMisses, casBadval          atomic.Uint64
	touchHits, touchMisses                 atomic.Uint64
	totalItems                             atomic.Uint64
	bytesRead, bytesWritten                atomic.Uint64
	connYields                             atomic.Uint64
	casRetries, clientErrors, serverErrors atomic.Uint64
}

// fields lists the counters with their stats names, in output order.
func (c *counters) fields() []struct {
	name string
	v    *atomic.Uint64
} {
	return []struct {
		name string
		v    *atomic.Uint64
	}{
		{"cmd_get", &c.cmdGet}, {"cmd_set", &c.cmdSet}, {"cmd_flush", &c.cmdFlush}, {"cmd_touch", &c.cmdTouch},
		{"get_hits", &c.getHits}, {"get_misses", &c.getMisses},
		{"delete_misses", &c.deleteMisses}, {"delete_hits", &c.deleteHits},
		{"incr_misses", &c.incrMisses}, {"incr_hits", &c.incrHits},
		{"decr_misses", &c.decrMisses}, {"decr_hits", &c.decrHits},
		{"cas_misses", &c.casMisses}, {"cas_hits", &c.casHits}, {"cas_badval", &c.casBadval},
		{"touch_hits", &c.touchHits}, {"touch_misses", &c.touchMisses},
		{"total_items", &c.totalItems},
		{"bytes_read", &c.bytesRead}, {"bytes_written", &c.bytesWritten},
		{"conn_yields", &c.connYields},
		{"segcached_cas_retries", &c.casRetries},
		{"segcached_client_errors", &c.clientErrors}, {"segcached_server_errors", &c.serverErrors},
	}
}

// add adds o's counts to c (c is not shared while this runs).
func (c *counters) add(o *counters) {
	cf, of := c.fields(), o.fields()
	for i := range cf {
		cf[i].v.Add(of[i].v.Load())
	}
}

func (c *counters) reset() {
	for _, f := range c.fields() {
		f.v.Store(0)
	}
}

// stat is one "STAT name value" line.
type stat struct{ name, value string }

func u64(v uint64) string { return strconv.FormatUint(v, 10) }

// generalStats returns the lines of "stats": memcached's names where one
// means the same here, then the engine's own counters prefixed "segcache_".
func (s *Server) generalStats() []stat {
	var sum counters
	s.mu.Lock()
	sum.add(&s.retired)
	for c := range s.conns {
		sum.add(&c.n)
	}
	s.mu.Unlock()

	now := s.cfg.Now()
	user, system := cpuTimes()
	secs := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 6, 64) }
	es := s.cache.Stats()
	out := []stat{
		{"pid", strconv.Itoa(os.Getpid())},
		{"uptime", strconv.FormatInt(int64(now.Sub(s.started)/time.Second), 10)},
		{"time", strconv.FormatInt(now.Unix(), 10)},
		{"version", Version},
		{"libevent", "none (Go netpoller)"},
		{"pointer_size", strconv.Itoa(8 * int(unsafe.Sizeof(uintptr(0))))},
		{"rusage_user", secs(user)},
		{"rusage_system", secs(system)},
		{"max_connections", strconv.Itoa(s.cfg.MaxConns)},
		{"curr_connections", strconv.FormatInt(s.curConns.Load(), 10)},
		{"total_connections", u64(s.totalConns.Load())},
		{"rejected_connections", u64(s.rejected.Load())},
		{"connection_structures", strconv.FormatInt(s.curConns.Load(), 10)},
		{"segcached_fd_exhausted", u64(s.fdExhausted.Load())},
	}
	for _, f := range sum.fields() {
		out = append(out, stat{f.name, u64(f.v.Load())})
	}
	out = append(out,
		stat{"limit_maxbytes", u64(es.HeapBytes)},
		stat{"threads", strconv.Itoa(runtime.GOMAXPROCS(0))},
		stat{"bytes", u64(es.ItemBytes)},
		stat{"curr_items", u64(es.Items)},
		stat{"evictions", u64(es.EvictedItems)},
		stat{"reclaimed", u64(es.ExpiredItems)},
	)
	return append(out, engineStats(es)...)
}

func engineStats(es core.Stats) []stat {
	return []stat{
		{"segcache_items", u64(es.Items)},
		{"segcache_item_bytes", u64(es.ItemBytes)},
		{"segcache_heap_bytes", u64(es.HeapBytes)},
		{"segcache_hashtable_bytes", u64(es.HashtableBytes)},
		{"segcache_segments_total", u64(es.SegmentsTotal)},
		{"segcache_segments_free", u64(es.SegmentsFree)},
		{"segcache_segments_retired", u64(es.SegmentsRetired)},
		{"segcache_hashtable_growths", u64(es.HashtableGrowths)},
		{"segcache_gets", u64(es.Gets)},
		{"segcache_hits", u64(es.Hits)},
		{"segcache_misses", u64(es.Misses)},
		{"segcache_sets", u64(es.Sets)},
		{"segcache_deletes", u64(es.Deletes)},
		{"segcache_evicted_items", u64(es.EvictedItems)},
		{"segcache_expired_items", u64(es.ExpiredItems)},
		{"segcache_evicted_segments", u64(es.EvictedSegments)},
		{"segcache_expired_segments", u64(es.ExpiredSegments)},
		{"segcache_merged_segments", u64(es.MergedSegments)},
		{"segcache_promoted_items", u64(es.PromotedItems)},
	}
}

// groupStats returns the lines of "stats <group>" (memcached's "stats
// reset" aside, which changes state), and false for a group it does not
// serve. items, slabs and sizes are memcached's per-slab-class groups,
// which monitoring tools poll with stats: the engine has no slab classes,
// so they answer as a memcached with none does (slabs with the memory its
// segments hold in total_malloced).
func (s *Server) groupStats(group string) ([]stat, bool) {
	switch group {
	case "":
		return s.generalStats(), true
	case "settings":
		return s.settingsStats(), true
	case "conns":
		return s.connStats(), true
	case "items":
		return nil, true
	case "slabs":
		es := s.cache.Stats()
		inUse := uint64(0)
		if n := es.SegmentsRetired + es.SegmentsFree; es.SegmentsTotal > n {
			inUse = (es.SegmentsTotal - n) * (es.HeapBytes / es.SegmentsTotal)
		}
		return []stat{{"active_slabs", "0"}, {"total_malloced", u64(inUse)}}, true
	case "sizes":
		return []stat{{"sizes_status", "disabled"}}, true
	}
	return nil, false
}

// settingsStats returns the lines of "stats settings".
func (s *Server) settingsStats() []stat {
	out := []stat{
		{"maxconns", strconv.Itoa(s.cfg.MaxConns)},
		{"item_size_max", strconv.Itoa(s.cfg.MaxItem)},
		{"max_line", strconv.Itoa(s.cfg.MaxLine)},
		{"reqs_per_event", strconv.Itoa(s.cfg.RequestsPerEvent)},
		{"idle_timeout", strconv.FormatInt(int64(s.cfg.IdleTimeout/time.Second), 10)},
		{"verbosity", strconv.FormatInt(s.verbosity.Load(), 10)},
		{"num_threads", strconv.Itoa(runtime.GOMAXPROCS(0))},
		{"shutdown_command", yesNo(s.cfg.EnableShutdown)},
	}
	for _, kv := range s.cfg.Settings {
		out = append(out, stat{kv[0], kv[1]})
	}
	return out
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// connStats returns the lines of "stats conns", memcached's names: each
// listener's addr and state, each connection's addr, listen_addr and
// secs_since_last_cmd (here: since it last read bytes), prefixed by a
// number naming it. memcached's number is the socket's descriptor; here
// listeners are numbered from 0 in address order and connections by
// their serial number (the accept count when they came), which a
// descriptor's reuse cannot confuse. Connections do not report memcached's
// state field: they keep no state machine to name.
func (s *Server) connStats() []stat {
	type entry struct {
		serial   uint64
		remote   net.Addr
		local    net.Addr
		lastRead int64
	}
	s.mu.Lock()
	lns := make([]string, 0, len(s.listeners))
	for ln := range s.listeners {
		lns = append(lns, addrString(ln.Addr()))
	}
	conns := make([]entry, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, entry{c.serial, c.remote, c.local, c.lastRead.Load()})
	}
	s.mu.Unlock()
	slices.Sort(lns)
	slices.SortFunc(conns, func(a, b entry) int { return cmp.Compare(a.serial, b.serial) })
	now := s.cfg.Now().Unix()
	out := make([]stat, 0, 2*len(lns)+3*len(conns))
	for i, a := range lns {
		id := strconv.Itoa(i) + ":"
		out = append(out, stat{id + "addr", a}, stat{id + "state", "conn_listening"})
	}
	for _, c := range conns {
		id := strconv.FormatUint(c.serial, 10) + ":"
		remote := addrString(c.remote)
		if c.remote == nil || c.remote.String() == "" || c.remote.String() == "@" {
			remote = addrString(c.local) // a unix socket's client has no name
		}
		out = append(out,
			stat{id + "addr", remote},
			stat{id + "listen_addr", addrString(c.local)},
			stat{id + "secs_since_last_cmd", strconv.FormatInt(max(now-c.lastRead, 0), 10)})
	}
	return out
}

// addrString writes an address as memcached does: "tcp:1.2.3.4:5",
// "unix:/path".
func addrString(a net.Addr) string {
	if a == nil {
		return "unknown"
	}
	n := a.Network()
	if n == "tcp4" || n == "tcp6" {
		n = "tcp"
	}
	return n + ":" + a.String()
}

// resetStats zeroes the command counters ("stats reset").
func (s *Server) resetStats() {
	s.mu.Lock()
	s.retired.reset()
	for c := range s.conns {
		c.n.reset()
	}
	s.mu.Unlock()
	s.totalConns.Store(0)
	s.rejected.Store(0)
	s.fdExhausted.Store(0)
}

func writeStats(w *bufio.Writer, lines []stat) {
	for _, l := range lines {
		w.WriteString("STAT ")
		w.WriteString(l.name)
		w.WriteByte(' ')
		w.WriteString(l.value)
		w.WriteString("\r\n")
	}
	w.WriteString("END\r\n")
}
