//go:build !linux

package server

import "net"

// newRawConn returns nc: raw system calls are used on Linux only.
func newRawConn(nc net.Conn) net.Conn { return nc }
