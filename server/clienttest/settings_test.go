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
	for _, name := range []string{"maxbytes", "maxconns", "item_size_max", "verbosity", "num_threads", "idle_timeout", "umask"} {
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
