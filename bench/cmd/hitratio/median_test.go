package main

import (
	"testing"

	"github.com/segcache/segcache/bench/harness"
)

// A nondeterministic peer's cell is its median replay, not its first.
func TestMedianResult(t *testing.T) {
	rs := []harness.Result{
		{Requests: 100, Misses: 30}, {Requests: 100, Misses: 10, Wrong: 1}, {Requests: 100, Misses: 20},
		{Requests: 100, Misses: 50}, {Requests: 100, Misses: 40},
	}
	m, note := medianResult(rs)
	if m.Misses != 30 || m.Wrong != 1 {
		t.Errorf("median %+v, want 30 misses and the most wrong values (1)", m)
	}
	if want := "median of 5 replays (miss ratio 10.00% to 50.00%)"; note != want {
		t.Errorf("note %q, want %q", note, want)
	}
	if rs[0].Misses != 30 || rs[1].Misses != 10 {
		t.Errorf("medianResult reordered its argument: %+v", rs)
	}
	if m, _ := medianResult(rs[1:]); m.Misses != 20 { // 10 20 40 50: the lower middle
		t.Errorf("median of 4: %d misses, want 20", m.Misses)
	}
	j := &job{system: "otter"}
	if j.runs() != peerRuns {
		t.Errorf("otter replays %d times, want -peer-runs (%d)", j.runs(), peerRuns)
	}
	if j := (&job{system: "core/s3fifo"}); j.runs() != 1 {
		t.Errorf("core replays %d times, want 1 (deterministic)", j.runs())
	}
}
