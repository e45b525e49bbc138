package fence

import "testing"

// Load must be callable on every build path (amd64, arm64, purego) and have
// no effect on the values seen by its own goroutine.
func TestLoadSingleThread(t *testing.T) {
	x := []uint64{1, 2, 3}
	a := x[0]
	Load()
	b := x[0]
	if a != b {
		t.Fatalf("value changed across Load: %d != %d", a, b)
	}
}
