package core

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
	"unsafe"
)

// mapped reports whether address p lies in a mapping of this process.
func mapped(t *testing.T, p uintptr) bool {
	t.Helper()
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var lo, hi uintptr
		if _, err := fmt.Sscanf(sc.Text(), "%x-%x", &lo, &hi); err == nil && lo <= p && p < hi {
			return true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return false
}

// Close unmaps the cache's memory, but only once no lock-free reader still
// holds it: a reader that loaded the memory before Close keeps it mapped
// until it lets go.
func TestCloseWaitsForReadersThenUnmaps(t *testing.T) {
	c, err := Open(Options{HeapBytes: 4 << 20, SegmentBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set([]byte("k"), []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	arenaAt := uintptr(unsafe.Pointer(unsafe.SliceData(c.arena)))
	tableAt := uintptr(unsafe.Pointer(unsafe.SliceData(c.table().Memory())))
	if !mapped(t, arenaAt) || !mapped(t, tableAt) {
		t.Fatal("an open cache's memory is not mapped")
	}
	m := c.reading() // a reader in flight
	if m == nil {
		t.Fatal("reading() = nil on an open cache")
	}
	done := make(chan error)
	go func() { done <- c.Close() }()
	// Close cannot finish while the reader holds the memory, however long
	// we wait; give it many collections' time to get it wrong.
	for i := 0; i < 20; i++ {
		runtime.GC()
		select {
		case err := <-done:
			t.Fatalf("Close returned (%v) while a reader held the memory", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	_ = m.arena[len(m.arena)-1] // still readable: a fault would kill the test
	if !mapped(t, arenaAt) || !mapped(t, tableAt) {
		t.Fatal("memory unmapped under a reader")
	}
	if c.reading() != nil {
		t.Error("reading() != nil once Close has begun")
	}
	runtime.KeepAlive(m)
	m = nil // the reader is done
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("Close did not return after the reader let go")
	}
	if mapped(t, arenaAt) || mapped(t, tableAt) {
		t.Errorf("closed cache still mapped: arena %v, table %v", mapped(t, arenaAt), mapped(t, tableAt))
	}
	if _, ok := c.Get(nil, []byte("k")); ok {
		t.Error("Get on a closed cache found the key")
	}
	if err := c.Close(); err != ErrClosed {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}
}
