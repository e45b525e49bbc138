//go:build race

package tagscan_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/segcache/segcache/core/internal/tagscan"
)

// The race detector must see the reads of every implementation: a Match or
// MatchBatch racing a plain write to a bucket is reported. Each case runs
// in a child process (a race report fails the process that has it).
func TestRaceVisible(t *testing.T) {
	for _, impl := range tagscan.Impls() {
		for _, kernel := range []string{"match", "batch"} {
			t.Run(string(impl)+"/"+kernel, func(t *testing.T) {
				cmd := exec.Command(os.Args[0], "-test.run=^TestRaceChild$", "-test.count=1")
				cmd.Env = append(os.Environ(), "TAGSCAN_RACE_CHILD="+string(impl)+"/"+kernel)
				out, err := cmd.CombinedOutput()
				if err == nil || !strings.Contains(string(out), "WARNING: DATA RACE") {
					t.Fatalf("racy %s under %s not reported (err %v):\n%s", kernel, impl, err, out)
				}
				if !strings.Contains(string(out), "racy write done") {
					t.Fatalf("child did not run the racy write:\n%s", out)
				}
			})
		}
	}
}

// TestRaceChild is the child of TestRaceVisible; alone it does nothing.
func TestRaceChild(t *testing.T) {
	spec := os.Getenv("TAGSCAN_RACE_CHILD")
	if spec == "" {
		return
	}
	impl, kernel, _ := strings.Cut(spec, "/")
	defer tagscan.Force(tagscan.Impl(impl))()
	table := make([]tagscan.Bucket, 4)
	hashes := []uint64{0} // buckets 0 and 1
	masks := make([]uint32, 1)
	done := make(chan struct{})
	go func() {
		table[1][5] = 1<<52 | 42 // no synchronization with the scan below
		close(done)
	}()
	if kernel == "match" {
		_ = tagscan.Match(&table[0], &table[1], 1)
	} else {
		tagscan.MatchBatch(table, 3, hashes, masks)
	}
	<-done
	println("racy write done")
}
