//go:build !unix

package main

import (
	"io/fs"
	"log/slog"
	"net"
)

// warnFDLimit has no limit to check where the system has no
// RLIMIT_NOFILE.
func warnFDLimit(*slog.Logger, int) {}

// bindUnix listens on path. Without a umask the file takes the system's
// default permissions; listenUnix then applies mode.
func bindUnix(path string, _ fs.FileMode) (net.Listener, error) {
	return net.Listen("unix", path)
}
