// Package clock is the engine's monotonic millisecond clock.
//
// Every expiry and seal decision reads the precise monotonic clock. An
// earlier design compared against a coarse clock that a ticker goroutine
// refreshed every few milliseconds, to save the ~50 ns a clock read costs
// on these virtual machines; under load (many runnable goroutines, -race)
// the ticker was starved for seconds, and an item with a 3 s TTL was
// served 4.6 s after it was set. The clock is read only for items that
// have a TTL; items that never expire cost nothing.
package clock
