package cpu

import (
	"runtime"
	"testing"

	"github.com/klauspost/cpuid/v2"
)

// The flags must agree with what cpuid reports, and the arm64 baseline must
// hold whatever cpuid could read.
func TestFlags(t *testing.T) {
	if got, want := HasAVX2, cpuid.CPU.Supports(cpuid.AVX2); got != want {
		t.Errorf("HasAVX2 = %v, cpuid says %v", got, want)
	}
	if runtime.GOARCH == "arm64" && !HasASIMD {
		t.Errorf("HasASIMD = false on arm64")
	}
	if runtime.GOARCH != "amd64" && HasAVX2 {
		t.Errorf("HasAVX2 = true on %s", runtime.GOARCH)
	}
	t.Logf("cpu %q avx2=%v asimd=%v", Brand(), HasAVX2, HasASIMD)
}
