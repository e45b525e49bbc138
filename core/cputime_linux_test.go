package core_test

import "golang.org/x/sys/unix"

// cpuNanos returns the CPU time the process has used, to the nanosecond
// (the scheduler's own accounting, not the tick-sampled rusage). A
// benchmark that reports it per operation stays meaningful on a loaded
// machine, where wall time mostly measures waiting for a core.
func cpuNanos() int64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return ts.Nano()
}
