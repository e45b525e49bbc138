//go:build !linux

package server

// Event loops exist only on Linux (epoll): elsewhere a goroutine serves
// each connection, and these are never reached.

import "sync/atomic"

type loop struct {
	failed atomic.Bool
	now    int64
}

func startLoops(*Server, int) []*loop { return nil }

func (l *loop) stop() {}

func (c *conn) detach(*loop) bool { return false }

func (c *conn) attach() bool { return c.nc != nil }

func (c *conn) backToLoop() awaitResult { return awaitRead }

func (c *conn) sendPending() bool { return true }

func (c *conn) closeFD() {}

func (c *conn) loopRead([]byte) (int, error) { panic("server: no event loop on this system") }

func (c *conn) loopWrite([]byte) (int, error) { panic("server: no event loop on this system") }
