package tagscan

import "fmt"

// Impl names an implementation of the kernels.
type Impl string

// The implementations. Which ones a process can use depends on the build
// (purego, GOARCH) and the CPU; see Impls.
const (
	Go   Impl = "go"
	AVX2 Impl = "avx2"
	NEON Impl = "neon"
)

// Active returns the implementation Match, MatchBatch and Classify use now.
func Active() Impl {
	if useAsm {
		return asmImpl
	}
	return Go
}

// Impls returns the implementations available in this build on this CPU,
// the default (fastest) first.
func Impls() []Impl {
	if asmAvailable {
		return []Impl{asmImpl, Go}
	}
	return []Impl{Go}
}

// Force makes Match, MatchBatch and Classify use impl until restore is
// called. It is for tests and benchmarks: it must not run concurrently with
// any use of the package. It panics if impl is not among Impls().
func Force(impl Impl) (restore func()) {
	prev := Active()
	switch {
	case impl == Go:
		setAsm(false)
	case asmAvailable && impl == asmImpl:
		setAsm(true)
	default:
		panic(fmt.Sprintf("tagscan: implementation %q not available (have %v)", impl, Impls()))
	}
	return func() { setAsm(prev != Go) }
}
