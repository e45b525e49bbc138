package clienttest

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestStatsSettingsAsMemcached: the "stats settings" both servers report
// carry memcached's names, so that tools reading them find them: the
// listening interface is "inter", the unix socket "domain_socket" ("NULL"
// when there is none, as memcached writes an unset one) and its
// permissions (-a) "umask", in octal; and for the same command line both
// report the same values where they mean the same. (segcached called the
// first two "interface" and "unix_socket", and reported no umask.)
func TestStatsSettingsAsMemcached(t *testing.T) {
	settings := func(s *diffConn) map[string]string {
		out := map[string]string{}
		for _, l := range strings.Split(s.do(t, "stats settings\r\n"), "\r\n") {
			if f := strings.SplitN(l, " ", 3); len(f) == 3 && f[0] == "STAT" {
				out[f[1]] = f[2]
			}
		}
		return out
	}
	mc := settings(dialDiff(t, "unix", startMemcached(t)))
	sock := filepath.Join(t.TempDir(), "segcached.sock")
	sc := settings(dialDiff(t, "tcp", startNode(t, "-m", "64", "-t", "1", "-s", sock).addr))
	for _, name := range []string{"maxbytes", "maxconns", "item_size_max", "verbosity", "num_threads", "idle_timeout", "umask", "shutdown_command"} {
		if mc[name] != sc[name] {
			t.Errorf("%s: memcached %q, segcached %q", name, mc[name], sc[name])
		}
	}
	for name, want := range map[string]string{"inter": "127.0.0.1", "domain_socket": sock} {
		if _, ok := mc[name]; !ok {
			t.Errorf("memcached reports no %s (%v)", name, mc)
		}
		if sc[name] != want {
			t.Errorf("%s: segcached %q, want %q", name, sc[name], want)
		}
	}
	// Without -s, memcached's word for none.
	tcpOnly := settings(dialDiff(t, "tcp", startNode(t).addr))
	if got := tcpOnly["domain_socket"]; got != "NULL" {
		t.Errorf("domain_socket without -s: %q, want NULL", got)
	}
}

// TestAdminCommandsAsMemcached: the administrative commands segcached
// answers as memcached does, sent to both (neither started with -A).
// Before, segcached answered ERROR to shutdown and cache_memlimit, and
// CLIENT_ERROR to a stats group followed by another token (stats reset
// noreply, stats detail on).
func TestAdminCommandsAsMemcached(t *testing.T) {
	mc := dialDiff(t, "unix", startMemcached(t))
	sc := dialDiff(t, "tcp", startNode(t, "-m", "64", "-t", "1").addr)
	for _, cmd := range []string{
		"shutdown\r\n", "shutdown graceful\r\n", "shutdown x y\r\n",
		"stats reset noreply\r\n", "stats reset x y\r\n", "stats nosuch x\r\n", "stats noreply\r\n",
		"stats detail\r\n", "stats detail x\r\n",
		"cache_memlimit 1\r\n", "cache_memlimit\r\n", "cache_memlimit x\r\n", "cache_memlimit 100 noreply\r\n",
	} {
		if m, s := mc.do(t, cmd), sc.do(t, cmd); m != s {
			t.Errorf("%q: memcached %q, segcached %q", cmd, m, s)
		}
	}
}
