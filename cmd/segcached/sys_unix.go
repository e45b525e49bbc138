//go:build unix

package main

import (
	"io/fs"
	"log/slog"
	"net"
	"syscall"
)

// warnFDLimit warns when the process may open fewer descriptors than -c
// connections need: past the limit, accepts fail and clients wait in the
// listen backlog instead of getting "Too many open connections".
// memcached refuses to start then; Go has already raised the soft limit
// to the hard one, so nothing more can be done here.
func warnFDLimit(log *slog.Logger, maxConns int) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	// Cur is an int64 on some systems (FreeBSD), and RLIM_INFINITY there
	// is its largest value, not a negative one.
	if need, cur := uint64(maxConns)+fdReserve, uint64(lim.Cur); cur < need {
		log.Warn("the open files limit is below what -c needs: connections past it wait unanswered", "limit", cur, "max_conns", maxConns, "need", need)
	}
}

// bindUnix listens on path with the umask that gives its file mode.
func bindUnix(path string, mode fs.FileMode) (net.Listener, error) {
	old := syscall.Umask(int(0o777 &^ mode.Perm()))
	defer syscall.Umask(old)
	return net.Listen("unix", path)
}
