package clienttest

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMemcapable runs libmemcached's conformance tool against a fresh
// node, both protocols: every test must pass.
func TestMemcapable(t *testing.T) {
	tool := binary(t, "", "memccapable")
	n := startNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, tool, "-t", "30", "-h", "127.0.0.1", "-p", strconv.Itoa(n.port)).CombinedOutput()
	t.Logf("memccapable:\n%s", out)
	if err != nil || !strings.Contains(string(out), "All tests passed") {
		t.Fatalf("memccapable failed (%v)", err)
	}
	// 27 ASCII tests and 27 binary ones.
	for _, proto := range []string{"ascii", "binary"} {
		if n := strings.Count("\n"+string(out), "\n"+proto+" "); n != 27 {
			t.Errorf("expected the 27 %s tests to run, got %d", proto, n)
		}
	}
	if n := strings.Count(string(out), "[pass]"); n != 54 {
		t.Fatalf("expected the 54 tests to pass, got %d", n)
	}
}
