package clock

import "time"

var base = time.Now()

// Now returns the monotonic time in milliseconds since process start.
func Now() int64 { return int64(time.Since(base) / time.Millisecond) }

// Reached reports whether the time is at or past deadline (ms since
// process start).
func Reached(deadline int64) bool { return Now() >= deadline }
