package tagscantest

import (
	"testing"

	"github.com/segcache/segcache/core/internal/tagscan"
)

// ForEachImpl runs f as a subtest named after each available
// implementation, with that implementation forced for the duration of f.
// f must not call t.Parallel: the forced choice is package state.
func ForEachImpl(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, impl := range tagscan.Impls() {
		t.Run(string(impl), func(t *testing.T) {
			restore := tagscan.Force(impl)
			defer restore()
			if got := tagscan.Active(); got != impl {
				t.Fatalf("Force(%s): Active() = %s", impl, got)
			}
			f(t)
		})
	}
}

// ForEachImplB is ForEachImpl for benchmarks: one sub-benchmark per
// implementation, side by side, named impl=<name> so that benchstat can
// put them in columns (benchstat -col /impl).
func ForEachImplB(b *testing.B, f func(b *testing.B)) {
	b.Helper()
	for _, impl := range tagscan.Impls() {
		b.Run("impl="+string(impl), func(b *testing.B) {
			restore := tagscan.Force(impl)
			defer restore()
			f(b)
		})
	}
}
