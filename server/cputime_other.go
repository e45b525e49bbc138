//go:build !unix

package server

import "time"

// cpuTimes reports no CPU time where the system has no getrusage (the
// stats then show 0): the server still builds and serves there.
func cpuTimes() (user, system time.Duration) { return 0, 0 }
