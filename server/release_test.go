package server

import (
	"testing"
	"time"
)

// TestBuffersReleasedWhileWaiting runs requests, the idle timeout and a
// shutdown drain with every connection giving its buffers back while it
// waits (as past idleReleaseConns connections).
func TestBuffersReleasedWhileWaiting(t *testing.T) {
	defer func(n int64) { idleReleaseConns = n }(idleReleaseConns)
	idleReleaseConns = 0
	t.Run("protocol", TestProtocol)
	t.Run("binary", TestBinaryProtocol)
	t.Run("pipelined", TestThousandPipelinedConnections)
	t.Run("shutdown", TestShutdownAnswersReceivedRequests)
	t.Run("idle timeout", func(t *testing.T) {
		ts := startServer(t, Config{IdleTimeout: 200 * time.Millisecond})
		c := ts.dial()
		runSteps(t, c, []step{{"set a 0 0 1\r\n1\r\n", "STORED\r\n"}})
		if !c.closed() { // the wait without buffers still times out
			t.Fatal("idle connection not closed")
		}
	})
}
