package core

import "testing"

// SetEarlyWriteOrder makes every set of the policies that may write before
// they look up do so (on) or never do (off), whatever the table's size,
// and returns what restores the threshold. For the external tests (model,
// determinism); not safe while other tests run sets.
func SetEarlyWriteOrder(on bool) (restore func()) {
	old := earlyWriteTableBytes
	earlyWriteTableBytes = ^uint64(0)
	if on {
		earlyWriteTableBytes = 0
	}
	return func() { earlyWriteTableBytes = old }
}

// Sets that write before they look up keep every guarantee: the churn,
// mix, growth and lesson tests again with that order for every table.
func TestEarlyWriteOrder(t *testing.T) {
	defer SetEarlyWriteOrder(true)()
	for name, test := range map[string]func(*testing.T){
		"churn":             TestChurnIntegrity,
		"mix":               TestSmallKeySpaceMix,
		"growth":            TestGrowthUnderConcurrentReadersAndWriters,
		"growth-churn":      TestGrowthUnderEvictionChurn,
		"parked-drain":      TestParkedDrain,
		"writers-vs-clear":  TestWritersVersusClear,
		"merge-no-livelock": TestMergeFullNoLivelock,
		"displaced-slot":    TestDrainFollowsDisplacedSlot,
	} {
		t.Run(name, test)
	}
}
