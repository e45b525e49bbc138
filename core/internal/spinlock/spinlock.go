package spinlock

import (
	"runtime"
	"sync/atomic"
	"time"
)

// Mutex is a mutual exclusion lock. The zero value is unlocked. Unlike
// sync.Mutex it may be released by a goroutine other than the one that
// took it, and releasing an unlocked Mutex is not detected.
type Mutex struct {
	held atomic.Uint32 // 1 while locked
}

// Lock takes m, waiting while another holder has it.
func (m *Mutex) Lock() {
	if !m.held.CompareAndSwap(0, 1) {
		m.lockSlow()
	}
}

// TryLock takes m if it is free and reports whether it did.
func (m *Mutex) TryLock() bool {
	return m.held.Load() == 0 && m.held.CompareAndSwap(0, 1)
}

// Unlock releases m. Every write made while holding it is visible to the
// next holder (see release).
func (m *Mutex) Unlock() { release(&m.held) }

// Locked reports whether m is held (by anyone): for tests and assertions.
func (m *Mutex) Locked() bool { return m.held.Load() != 0 }

// How a waiter waits: spins re-reads first (the holder is likely running
// on another CPU and about to release), then yields its P (the holder may
// be a goroutine waiting for one), then naps, doubling from minNap to
// maxNap, for a holder that keeps the lock long.
const (
	spins  = 64
	yields = 64
	minNap = time.Microsecond
	maxNap = 50 * time.Microsecond
)

func (m *Mutex) lockSlow() {
	nap := minNap
	for i := 0; ; i++ {
		// Test before the compare-and-swap: waiters read the line shared
		// instead of bouncing it between CPUs with failed writes.
		if m.held.Load() == 0 && m.held.CompareAndSwap(0, 1) {
			return
		}
		switch {
		case i < spins:
		case i < spins+yields:
			runtime.Gosched()
		default:
			time.Sleep(nap)
			nap = min(2*nap, maxNap)
		}
	}
}
