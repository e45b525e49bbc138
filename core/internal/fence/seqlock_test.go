//go:build !race

// A seqlock reads its data with plain loads that race with the writer by
// design (the generation check discards torn copies), so this test cannot
// run under the race detector.

package fence

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

type seqData struct {
	gen  atomic.Uint64
	_    [56]byte
	data [8]uint64 // every word holds the same value when not torn
}

// A reader that copies the data, calls Load and finds the generation
// unchanged must hold an untorn copy. The writer bumps the generation to
// odd, rewrites all the words, and bumps it to even.
//
// On amd64 (TSO) and under qemu on an x86 host the hardware would not
// reorder the loads even without the barrier, so there this checks the
// protocol and that Load does not break it; on arm64 hardware it also
// exercises the barrier itself.
func TestSeqlockCopy(t *testing.T) {
	const attempts, minGood = 100000, 100
	var s seqData
	var wg sync.WaitGroup
	var stop atomic.Bool
	wg.Add(1)
	go func() { // the writer runs for as long as the reader reads
		defer wg.Done()
		for v := uint64(1); !stop.Load(); v++ {
			s.gen.Add(1) // odd: writing (an RMW: later stores stay after it)
			for i := range s.data {
				s.data[i] = v
			}
			s.gen.Add(1) // even: stable (release: the stores above come first)
			if v%64 == 0 {
				runtime.Gosched() // let a reader on a shared core progress
			}
		}
	}()
	for s.gen.Load() < 4 { // start once the writer is running
		runtime.Gosched()
	}
	var good, retries int
	for n := 0; n < attempts || good < minGood; n++ {
		g1 := s.gen.Load()
		if g1&1 == 1 {
			retries++
			continue
		}
		var c [8]uint64
		copy(c[:], s.data[:])
		Load()
		if s.gen.Load() != g1 {
			retries++
			continue
		}
		good++
		for i := range c {
			if c[i] != c[0] {
				t.Fatalf("torn copy accepted at generation %d: %v", g1, c)
			}
		}
		if c[0] != g1/2 {
			t.Fatalf("generation %d carries value %d, want %d", g1, c[0], g1/2)
		}
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d consistent copies, %d retries", good, retries)
}
