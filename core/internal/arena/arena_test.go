package arena

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

func TestMapZeroedAndWritable(t *testing.T) {
	m, err := Map(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		if m[i] != 0 {
			t.Fatalf("fresh mapping not zero at %d", i)
		}
	}
	m[0], m[len(m)-1] = 7, 9
	if err := Unmap(m); err != nil {
		t.Fatal(err)
	}
	if _, err := Map(0); err == nil {
		t.Errorf("Map(0) succeeded")
	}
	if err := Unmap(nil); err != nil {
		t.Errorf("Unmap(nil) = %v", err)
	}
}

// Unmap gives the address range back: mappings of ever-changing sizes do
// not accumulate (they once were kept for reuse by a mapping of the same
// size, which grew the reservation without bound).
func TestUnmapReturnsAddressSpace(t *testing.T) {
	before := mappedBytes(t)
	var total uint64
	for i := 0; i < 200; i++ {
		n := (i + 2) << 16
		m, err := Map(n)
		if err != nil {
			t.Fatal(err)
		}
		m[n-1] = 1
		if err := Unmap(m); err != nil {
			t.Fatal(err)
		}
		total += uint64(n)
	}
	// 1.3 GB were mapped in all; what stays is the runtime's own noise, plus,
	// under qemu-user (the arm64 suite), the emulator's own mappings, which
	// VmSize counts too (67 MB seen). The bug kept the whole 1.3 GB.
	if grown := int64(mappedBytes(t)) - int64(before); grown > 256<<20 {
		t.Errorf("address space grew by %d bytes after mapping and unmapping %d", grown, total)
	}
}

// mappedBytes is the process's virtual size (VmSize).
func mappedBytes(t *testing.T) uint64 { return statusBytes(t, "VmSize:") }

// residentBytes is the process's resident memory (VmRSS).
func residentBytes(t *testing.T) uint64 { return statusBytes(t, "VmRSS:") }

// statusBytes reads a field of /proc/self/status given in kB.
func statusBytes(t *testing.T, field string) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// A fresh mapping costs no resident memory until it is written; Prefault
// makes all of it resident at once, and leaves it zero.
func TestPrefaultMakesTheMappingResident(t *testing.T) {
	const n = 32 << 20
	debug.FreeOSMemory() // what the collector returns while we measure would shrink the growth
	before := residentBytes(t)
	m, err := Map(n)
	if err != nil {
		t.Fatal(err)
	}
	defer Unmap(m)
	if grown := int64(residentBytes(t)) - int64(before); grown > n/4 {
		t.Fatalf("a fresh mapping of %d bytes is already resident: RSS grew by %d", n, grown)
	}
	Prefault(m)
	if grown := int64(residentBytes(t)) - int64(before); grown < n*9/10 {
		t.Errorf("after Prefault of %d bytes RSS grew by %d, want nearly all of it", n, grown)
	}
	for i := range m {
		if m[i] != 0 {
			t.Fatalf("Prefault changed byte %d to %d", i, m[i])
		}
	}
}

// Release zeroes the whole pages inside its range and nothing outside it,
// and the range stays mapped (reads and writes work after it).
func TestReleaseWholePagesOnly(t *testing.T) {
	page := os.Getpagesize()
	m, err := Map(4 * page)
	if err != nil {
		t.Fatal(err)
	}
	defer Unmap(m)
	for i := range m {
		m[i] = 0xAB
	}
	// From mid first page to mid last page: pages 1 and 2 are whole.
	if err := Release(m[page/2 : 3*page+page/2]); err != nil {
		t.Fatal(err)
	}
	for i, b := range m {
		want := byte(0xAB)
		if i >= page && i < 3*page {
			want = 0
		}
		if b != want {
			t.Fatalf("byte %d (page %d) = %#x after Release, want %#x", i, i/page, b, want)
		}
	}
	m[page] = 1 // still mapped and writable
	if err := Release(m[:page/2]); err != nil {
		t.Errorf("Release of less than a page: %v", err)
	}
}
