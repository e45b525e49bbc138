package main

import "testing"

// A throughput configuration where a server missed gets is named in the
// section: the keys are all preloaded, so misses mean lost items (and
// cheaper requests).
func TestMissNote(t *testing.T) {
	if n := missNote("segcached", 1000, 0); n != "" {
		t.Errorf("no misses gave %q", n)
	}
	if n, want := missNote("memcached", 990, 10), "memcached missed 10 of 1000 gets (1.00%)"; n != want {
		t.Errorf("got %q, want %q", n, want)
	}
}
