package tagscan

import "testing"

func TestCandidatesBasic(t *testing.T) {
	b0, b1, tag := Candidates(0, 7)
	if b0 != 0 || b1 != 1 || tag != 1 {
		t.Fatalf("Candidates(0,7) = %d,%d,%d", b0, b1, tag)
	}
	var a, b Bucket
	a[3] = 5<<52 | 9
	b[7] = 5<<52 | GhostLoc
	if got := Match(&a, &b, 5); got != 1<<3 {
		t.Fatalf("Match = %#x", got)
	}
}
