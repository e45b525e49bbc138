package clock

import "testing"

func TestCoarseNeverAhead(t *testing.T) {
	Acquire()
	defer Release()
	for i := 0; i < 1000; i++ {
		c := Coarse()
		if n := Now(); c > n {
			t.Fatalf("coarse %d ahead of precise %d", c, n)
		}
	}
}

func TestReached(t *testing.T) {
	Acquire()
	defer Release()
	now := Now()
	cases := []struct {
		deadline int64
		want     bool
	}{
		{now - 10_000, true},
		{now, true},
		{now + 10_000, false},
		{now + 60_000, false},
	}
	for _, c := range cases {
		if got := Reached(c.deadline); got != c.want {
			t.Errorf("Reached(now%+d) = %v, want %v", c.deadline-now, got, c.want)
		}
	}
}
