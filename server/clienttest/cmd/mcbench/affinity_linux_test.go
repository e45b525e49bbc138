//go:build linux

package main

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// threadCPUs returns the Cpus_allowed_list of every thread of this process.
func threadCPUs(t *testing.T) map[string]string {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + task.Name() + "/status")
		if err != nil {
			continue // exited
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "Cpus_allowed_list:"); ok {
				out[task.Name()] = strings.TrimSpace(v)
			}
		}
	}
	return out
}

// TestPinSelf pins every thread to one CPU and undoes it: each thread's
// allowed list and GOMAXPROCS follow.
func TestPinSelf(t *testing.T) {
	allowed, err := allowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	if len(allowed) == 0 {
		t.Fatal("no allowed CPU")
	}
	procs := runtime.GOMAXPROCS(0)
	last := allowed[len(allowed)-1]
	undo, err := pinSelf([]int{last}, allowed)
	if err != nil {
		t.Fatal(err)
	}
	got := threadCPUs(t)
	want := map[string]string{}
	for tid := range got {
		want[tid] = strconv.Itoa(last)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("threads after pinSelf([%d]) (-want +got):\n%s", last, d)
	}
	if n := runtime.GOMAXPROCS(0); n != 1 {
		t.Errorf("GOMAXPROCS = %d after pinning to one CPU, want 1", n)
	}
	if err := undo(); err != nil {
		t.Fatal(err)
	}
	for tid, cpus := range threadCPUs(t) {
		if len(allowed) > 1 && cpus == strconv.Itoa(last) {
			t.Errorf("thread %s still pinned to %s after undoing", tid, cpus)
		}
	}
	if n := runtime.GOMAXPROCS(0); n != procs {
		t.Errorf("GOMAXPROCS = %d after undoing, want %d as before", n, procs)
	}
}
