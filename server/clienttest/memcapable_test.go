package clienttest

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMemcapable runs libmemcached's conformance tool (ASCII tests; the
// binary protocol is not served) against a fresh node: every test must
// pass.
func TestMemcapable(t *testing.T) {
	tool := binary(t, "", "memccapable")
	n := startNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, tool, "-a", "-t", "30", "-h", "127.0.0.1", "-p", strconv.Itoa(n.port)).CombinedOutput()
	t.Logf("memccapable:\n%s", out)
	if err != nil || !strings.Contains(string(out), "All tests passed") {
		t.Fatalf("memccapable failed (%v)", err)
	}
	if strings.Count(string(out), "[pass]") != 27 {
		t.Fatalf("expected the 27 ASCII tests to pass, got %d", strings.Count(string(out), "[pass]"))
	}
}
