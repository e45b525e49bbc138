package clock

import (
	"testing"
	"time"
)

func TestReached(t *testing.T) {
	now := Now()
	cases := []struct {
		deadline int64
		want     bool
	}{
		{now - 10_000, true},
		{now, true},
		{now + 10_000, false},
	}
	for _, c := range cases {
		if got := Reached(c.deadline); got != c.want {
			t.Errorf("Reached(now%+d) = %v, want %v", c.deadline-now, got, c.want)
		}
	}
}

func TestNowAdvances(t *testing.T) {
	a := Now()
	time.Sleep(20 * time.Millisecond)
	if b := Now(); b < a+20 {
		t.Fatalf("Now advanced %d ms over a 20 ms sleep", b-a)
	}
}
