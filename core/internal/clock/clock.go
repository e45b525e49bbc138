package clock

import (
	"sync"
	"sync/atomic"
	"time"
)

// Tick is how often the coarse clock is refreshed.
const Tick = 5 * time.Millisecond

// Margin is how close to a deadline the coarse clock must come before the
// precise clock is read. The coarse clock never runs ahead of the precise
// one; it may lag by a tick plus scheduling delay, which Margin covers.
const Margin = 250

var (
	base   = time.Now()
	coarse atomic.Int64 // ms since base; never ahead of Now()

	mu      sync.Mutex
	users   int
	stopped chan struct{}
)

// Now returns the precise monotonic time in milliseconds since process start.
func Now() int64 { return int64(time.Since(base) / time.Millisecond) }

// Coarse returns a recent reading of Now that is never ahead of it.
func Coarse() int64 { return coarse.Load() }

// Reached reports whether the time is at or past deadline (ms since process
// start), reading the precise clock only within Margin of the deadline.
func Reached(deadline int64) bool {
	if coarse.Load() < deadline-Margin {
		return false
	}
	return Now() >= deadline
}

// Acquire starts the ticker for a new user (a cache); Release stops it
// when the last user is gone, so an idle process has no ticking goroutine.
func Acquire() {
	mu.Lock()
	defer mu.Unlock()
	users++
	if users > 1 {
		return
	}
	coarse.Store(Now())
	stop := make(chan struct{})
	stopped = stop
	go func() {
		t := time.NewTicker(Tick)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				coarse.Store(Now())
			case <-stop:
				return
			}
		}
	}()
}

// Release undoes one Acquire.
func Release() {
	mu.Lock()
	defer mu.Unlock()
	users--
	if users == 0 {
		close(stopped)
		stopped = nil
	}
}
