package tagscan_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The generated AVX2 code must use only VEX-encoded vector instructions: a
// legacy SSE instruction (such as MOVQ to an X register) executed while
// YMM upper halves are dirty costs a state transition, measured at ~400 ns
// per call on the benchmark machine. This guards the generator against
// reintroducing one; every vector function must also end in VZEROUPPER.
func TestAVX2OnlyVEX(t *testing.T) {
	src, err := os.ReadFile("match_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	vecReg := regexp.MustCompile(`\b[XY]\d+\b`)
	ymmReg := regexp.MustCompile(`\bY\d+\b`)
	var fn string
	var dirty bool // YMM upper halves possibly dirty
	rets := 0
	for _, line := range strings.Split(string(src), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "//") || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch {
		case f[0] == "TEXT":
			fn, dirty = strings.TrimSuffix(f[1], ","), false
		case f[0] == "VZEROUPPER":
			dirty = false
		case f[0] == "RET":
			rets++
			if dirty {
				t.Errorf("%s returns with dirty YMM state (no VZEROUPPER)", fn)
			}
		case vecReg.MatchString(line):
			if !strings.HasPrefix(f[0], "V") {
				t.Errorf("%s: legacy SSE instruction: %s", fn, strings.TrimSpace(line))
			}
			if ymmReg.MatchString(line) {
				dirty = true
			}
		}
	}
	if rets == 0 {
		t.Fatal("no functions found in match_amd64.s")
	}
}
