package clienttest

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// -L makes the item memory and the hashtable resident at start, as
// memcached's -L preallocates; without it a new server's RSS holds only
// what it has written. Either way the server serves.
func TestPrefaultFlag(t *testing.T) {
	const memMiB = 64
	for _, tc := range []struct {
		args     []string
		min, max uint64 // the server's RSS before any request, in MiB
	}{
		{nil, 0, memMiB / 2},
		{[]string{"-L"}, memMiB * 9 / 10, 1 << 20},
	} {
		n := startNode(t, append([]string{"-m", strconv.Itoa(memMiB)}, tc.args...)...)
		rss := residentMiB(t, n.cmd.Process.Pid)
		if rss < tc.min || rss > tc.max {
			t.Errorf("segcached -m %d %v: RSS %d MiB at start, want %d to %d", memMiB, tc.args, rss, tc.min, tc.max)
		}
		nc, err := net.Dial("tcp", n.addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(nc, "set k 0 0 1\r\nv\r\nget k\r\n")
		want := "STORED\r\nVALUE k 0 1\r\nv\r\nEND\r\n"
		got := make([]byte, len(want))
		if _, err := io.ReadFull(nc, got); err != nil || string(got) != want {
			t.Errorf("segcached %v: replies %q, %v; want %q", tc.args, got, err, want)
		}
		nc.Close()
		n.stop()
	}
}

// residentMiB is the VmRSS of process pid.
func residentMiB(t *testing.T, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb >> 10
		}
	}
	t.Fatalf("no VmRSS for pid %d", pid)
	return 0
}
