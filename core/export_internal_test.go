package core

import "testing"

// SetEarlyWriteOrder makes the sets of every policy but S3-FIFO write
// their item before they look the key up (on) or after (off), whatever the
// table's size (PolicyNone's sets write first either way), and returns
// what restores the threshold. For the external tests (determinism); not
// safe while other tests run sets.
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
	for _, tc := range []struct {
		name string
		test func(*testing.T)
	}{
		{"churn", TestChurnIntegrity},
		{"mix", TestSmallKeySpaceMix},
		{"growth", TestGrowthUnderConcurrentReadersAndWriters},
		{"growth-churn", TestGrowthUnderEvictionChurn},
		{"parked-drain", TestParkedDrain},
		{"writers-vs-clear", TestWritersVersusClear},
		{"merge-no-livelock", TestMergeFullNoLivelock},
		{"displaced-slot", TestDrainFollowsDisplacedSlot},
	} {
		t.Run(tc.name, tc.test)
	}
}
