package cpu

import (
	"runtime"

	"github.com/klauspost/cpuid/v2"
)

var (
	// HasAVX2 reports whether the CPU has AVX2 and the OS saves the YMM
	// registers (cpuid checks OSXSAVE/XGETBV before it reports AVX2).
	HasAVX2 = cpuid.CPU.Supports(cpuid.AVX2)

	// HasASIMD reports whether Advanced SIMD (NEON) is available. It is
	// architecturally mandatory on arm64 and Go's own runtime already uses
	// it there (memclr, memmove), so on arm64 it is true even where cpuid
	// cannot read the hardware capabilities (e.g. some emulators or
	// sandboxes that hide the auxiliary vector).
	HasASIMD = runtime.GOARCH == "arm64" || cpuid.CPU.Supports(cpuid.ASIMD)
)

// Brand is the CPU's brand string, for benchmark reports.
func Brand() string { return cpuid.CPU.BrandName }
