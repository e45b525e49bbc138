package core_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/segcache/segcache/core"
)

// An invalid option is ErrInvalid, and the error names the field to fix.
func TestOptionErrorsNameTheField(t *testing.T) {
	tests := []struct {
		name  string
		opts  core.Options
		field string // "" = valid
	}{
		{"defaults", core.Options{}, ""},
		{"segment not multiple of 8", core.Options{SegmentBytes: 4100}, "SegmentBytes"},
		{"segment too small", core.Options{SegmentBytes: 1024}, "SegmentBytes"},
		{"segment too large", core.Options{SegmentBytes: 16 << 20}, "SegmentBytes"},
		{"heap under 2 segments", core.Options{HeapBytes: 1 << 20, SegmentBytes: 1 << 20}, "HeapBytes"},
		{"too many segments", core.Options{HeapBytes: 1 << 40, SegmentBytes: 4096}, "HeapBytes"},
		{"unknown policy", core.Options{Eviction: 99}, "Eviction"},
		{"hash power too small", core.Options{HashPower: 3}, "HashPower"},
		{"hash power too large", core.Options{HashPower: 40}, "HashPower"},
		// A 1 MiB heap: 2^17 slots are exactly 1 MiB, 2^18 twice the heap.
		{"table as large as the heap", core.Options{HeapBytes: 1 << 20, SegmentBytes: 64 << 10, HashPower: 17}, ""},
		{"table larger than the heap", core.Options{HeapBytes: 1 << 20, SegmentBytes: 64 << 10, HashPower: 18}, "HashPower"},
		{"4 GiB table for a 1 MiB heap", core.Options{HeapBytes: 1 << 20, SegmentBytes: 64 << 10, HashPower: 29}, "HashPower"},
		// The heap counts in whole segments: 1 MiB + 4 KiB of 64 KiB
		// segments is a 1 MiB heap.
		{"partial segment not counted", core.Options{HeapBytes: 1<<20 + 4096, SegmentBytes: 64 << 10, HashPower: 18}, "HashPower"},
		{"merge max too small", core.Options{MergeMax: 1}, "MergeMax"},
		{"merge max too large", core.Options{MergeMax: 65}, "MergeMax"},
		{"merge target above max", core.Options{MergeMax: 4, MergeTarget: 5}, "MergeTarget"},
		{"merge compact negative", core.Options{MergeCompact: -1}, "MergeCompact"},
		{"admission ratio too large", core.Options{S3FIFOAdmissionRatio: 0.95}, "S3FIFOAdmissionRatio"},
		{"admission ratio NaN", core.Options{S3FIFOAdmissionRatio: math.NaN()}, "S3FIFOAdmissionRatio"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := core.Open(tt.opts)
			if err == nil {
				c.Close()
			}
			got := ""
			if err != nil {
				if !errors.Is(err, core.ErrInvalid) {
					t.Fatalf("Open: %v, want ErrInvalid", err)
				}
				prefix := core.ErrInvalid.Error() + ": "
				if !strings.HasPrefix(err.Error(), prefix) {
					t.Fatalf("Open: %q does not start with %q", err, prefix)
				}
				got, _, _ = strings.Cut(strings.TrimPrefix(err.Error(), prefix), " ")
			}
			if diff := cmp.Diff(tt.field, got); diff != "" {
				t.Errorf("field named by %v (-want +got):\n%s", err, diff)
			}
		})
	}
}
