package spinlock

import (
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestTryLock(t *testing.T) {
	var m Mutex
	if !m.TryLock() {
		t.Fatal("TryLock of a free mutex failed")
	}
	if !m.Locked() {
		t.Fatal("a held mutex reports unlocked")
	}
	if m.TryLock() {
		t.Fatal("TryLock of a held mutex succeeded")
	}
	m.Unlock()
	if m.Locked() {
		t.Fatal("a released mutex reports locked")
	}
	m.Lock()
	if m.TryLock() {
		t.Fatal("TryLock after Lock succeeded")
	}
	m.Unlock()
}

// Lock waits for the holder, however long it holds: through the spins,
// the yields and the naps.
func TestLockWaitsForHolder(t *testing.T) {
	var m Mutex
	m.Lock()
	released := make(chan time.Time, 1)
	got := make(chan time.Time, 1)
	go func() {
		m.Lock()
		got <- time.Now()
		m.Unlock()
	}()
	time.Sleep(20 * time.Millisecond) // well past spins and yields: the waiter naps
	select {
	case <-got:
		t.Fatal("Lock returned while another goroutine held the mutex")
	default:
	}
	released <- time.Now()
	m.Unlock()
	r, g := <-released, <-got
	if g.Before(r) {
		t.Fatalf("Lock returned %v before the release", r.Sub(g))
	}
}

// Writers increment a plain counter pair under the lock; a missing
// exclusion or a release that let the critical section's stores leak past
// the unlock shows as a torn pair or a lost increment (and under -race as
// a reported race).
func TestMutualExclusion(t *testing.T) {
	var (
		m    Mutex
		a, b uint64
		wg   sync.WaitGroup
	)
	workers := 2 * runtime.GOMAXPROCS(0)
	const per = 20000
	torn := make(chan [2]uint64, 1)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				if w%2 == 0 || !m.TryLock() {
					m.Lock()
				}
				if a != b {
					select {
					case torn <- [2]uint64{a, b}:
					default:
					}
				}
				a++
				if i%64 == 0 {
					runtime.Gosched() // a holder that loses its CPU: waiters must yield or nap
				}
				b++
				m.Unlock()
			}
		}(w)
	}
	wg.Wait()
	select {
	case p := <-torn:
		t.Fatalf("a holder saw the pair torn: %d, %d", p[0], p[1])
	default:
	}
	if want := uint64(workers * per); a != want || b != want {
		t.Fatalf("counters %d, %d after %d increments each: increments were lost", a, b, want)
	}
}

// The build's release is the one its file says: a plain store only on
// amd64 without race or purego.
func TestReleaseKind(t *testing.T) {
	want := runtime.GOARCH == "amd64" && !raceBuild && !puregoBuild
	if plainRelease != want {
		t.Fatalf("plainRelease = %v on %s (race %v, purego %v)", plainRelease, runtime.GOARCH, raceBuild, puregoBuild)
	}
}

// BenchmarkHotLockWait runs three goroutines per P on one lock, each
// taking it for a short critical section in a loop, and reports the
// longest wait of any Lock and its 99.9th percentile, beside sync.Mutex's
// (whose starvation mode hands the lock to a waiter that waited 1 ms).
// It is the case doc.go's last paragraph measures: more goroutines
// contending for one lock than there are CPUs.
func BenchmarkHotLockWait(b *testing.B) {
	b.Run("spinlock", func(b *testing.B) { hotLockWait(b, new(Mutex)) })
	b.Run("sync.Mutex", func(b *testing.B) { hotLockWait(b, new(sync.Mutex)) })
}

func hotLockWait(b *testing.B, m sync.Locker) {
	var (
		counter uint64
		wg      sync.WaitGroup
		next    atomic.Int64
	)
	workers := 3 * runtime.GOMAXPROCS(0)
	waits := make([][]time.Duration, workers)
	b.ResetTimer()
	for w := range workers {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				start := time.Now()
				m.Lock()
				waits[w] = append(waits[w], time.Since(start))
				for range 50 { // a critical section of some tens of ns
					counter++
				}
				m.Unlock()
			}
		}(w)
	}
	wg.Wait()
	b.StopTimer()
	all := slices.Concat(waits...)
	slices.Sort(all)
	if len(all) > 0 {
		b.ReportMetric(float64(all[len(all)-1].Microseconds()), "max-wait-µs")
		b.ReportMetric(float64(all[len(all)*999/1000].Microseconds()), "p99.9-wait-µs")
	}
}

// BenchmarkLockUnlock compares an uncontended take and release with
// sync.Mutex's, side by side.
func BenchmarkLockUnlock(b *testing.B) {
	b.Run("spinlock", func(b *testing.B) {
		var m Mutex
		for i := 0; i < b.N; i++ {
			m.Lock()
			m.Unlock()
		}
	})
	b.Run("sync.Mutex", func(b *testing.B) {
		var m sync.Mutex
		for i := 0; i < b.N; i++ {
			m.Lock()
			m.Unlock()
		}
	})
}
