package pcount

import (
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
)

// The plain add writes an atomic.Uint64 through a *uint64: the type must be
// the bare word.
func TestAtomicUint64IsAWord(t *testing.T) {
	var v atomic.Uint64
	if unsafe.Sizeof(v) != 8 {
		t.Fatalf("atomic.Uint64 is %d bytes", unsafe.Sizeof(v))
	}
	add(&v, 3)
	add(&v, 4)
	if got := v.Load(); got != 7 {
		t.Fatalf("add: %d, want 7", got)
	}
}

// Every add is counted exactly once, from many goroutines at once, with
// more Ps than shards so that the shared counters are used too.
func TestConcurrentAddsAreExact(t *testing.T) {
	for _, procs := range []int{1, runtime.NumCPU(), Shards + 8} {
		prev := runtime.GOMAXPROCS(procs)
		var c Counters
		const goroutines, adds = 32, 20000
		var wg sync.WaitGroup
		for g := 0; g < goroutines; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < adds; i++ {
					c.Add(i%Fields, 1)
					c.Add2(0, 2, 3, uint64(g&1)) // a zero b for half the goroutines
					if i%64 == 0 {
						runtime.Gosched() // move between Ps
					}
				}
			}()
		}
		wg.Wait()
		runtime.GOMAXPROCS(prev)
		got := make([]uint64, Fields)
		for i := range got {
			got[i] = c.Sum(i)
		}
		want := []uint64{adds / 4 * goroutines, adds / 4 * goroutines, adds / 4 * goroutines, adds / 4 * goroutines}
		want[0] += 2 * adds * goroutines
		want[3] += adds * goroutines / 2
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("GOMAXPROCS %d: counters (-want +got):\n%s", procs, d)
		}
	}
}

// Sum while adds run never goes backwards.
func TestSumIsMonotonicDuringAdds(t *testing.T) {
	var c Counters
	var stop atomic.Bool
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				c.Add(1, 1)
			}
		}()
	}
	last := uint64(0)
	for i := 0; i < 10000; i++ {
		s := c.Sum(1)
		if s < last {
			t.Fatalf("Sum went from %d to %d", last, s)
		}
		last = s
	}
	stop.Store(true)
	wg.Wait()
}

// The build's add is the one its constraints promise.
func TestAddKind(t *testing.T) {
	plain := []string{"amd64", "arm64", "loong64", "mips64", "mips64le", "ppc64", "ppc64le", "riscv64", "s390x"}
	wantAtomic := raceBuild || !slices.Contains(plain, runtime.GOARCH)
	if atomicAdds != wantAtomic {
		t.Fatalf("atomicAdds = %v, want %v", atomicAdds, wantAtomic)
	}
}

// Two shards' counters never share a cache line, whatever the alignment
// of the array (8 bytes is all Go promises).
func TestShardsNeverShareALine(t *testing.T) {
	var c Counters
	first := unsafe.Offsetof(c.shards[0].v)
	last := first + unsafe.Sizeof(c.shards[0].v) - 1
	gap := unsafe.Sizeof(c.shards[0]) - (last - first) // from one shard's last counter byte to the next one's first
	if gap < 64 {
		t.Fatalf("%d bytes between the counters of neighbouring shards: a 64-byte line can hold both", gap)
	}
}
