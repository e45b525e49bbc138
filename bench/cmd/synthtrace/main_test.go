package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/segcache/segcache/bench/harness"
)

// The stand-ins are readable by the harness, hold the requested number of
// ids within the key space, are skewed (a hot key repeats), and are the
// same bytes on every run.
func TestWriteIsReadableAndDeterministic(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.gz"), filepath.Join(dir, "b.gz")
	for _, p := range []string{a, b} {
		if err := write(p, 1, 1000, 50); err != nil {
			t.Fatal(err)
		}
	}
	ids, err := harness.ReadTrace(a, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1000 {
		t.Fatalf("%d ids, want 1000", len(ids))
	}
	count := map[uint32]int{}
	for _, id := range ids {
		if id >= 50 {
			t.Fatalf("id %d outside the 50 keys", id)
		}
		count[id]++
	}
	if count[0] < 100 {
		t.Errorf("the hottest key appears %d times in 1000; want a Zipf skew", count[0])
	}
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	if !bytes.Equal(da, db) {
		t.Error("two runs with one seed wrote different bytes")
	}
}
