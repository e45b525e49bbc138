package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPlacement(t *testing.T) {
	type want struct {
		Server string
		Gen    []int
		OK     bool
	}
	for _, tc := range []struct {
		name    string
		place   string
		threads int
		allowed []int
		want    want
	}{
		{"shared runs anywhere", "shared", 1, []int{0, 1}, want{"", nil, true}},
		{"pinned, 1 of 2", "pinned", 1, []int{0, 1}, want{"0", []int{1}, true}},
		{"pinned, 2 of 4", "pinned", 2, []int{0, 1, 2, 3}, want{"0,1", []int{2, 3}, true}},
		{"pinned within a narrowed set", "pinned", 1, []int{3, 5, 7}, want{"3", []int{5, 7}, true}},
		{"pinned needs a CPU left for the generator", "pinned", 2, []int{0, 1}, want{"", nil, false}},
		{"pinned on one CPU", "pinned", 1, []int{0}, want{"", nil, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, g, ok := placement(tc.place, tc.threads, tc.allowed)
			if d := cmp.Diff(tc.want, want{s, g, ok}); d != "" {
				t.Errorf("placement(%q, %d, %v) (-want +got):\n%s", tc.place, tc.threads, tc.allowed, d)
			}
		})
	}
}
