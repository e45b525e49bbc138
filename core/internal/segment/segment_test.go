package segment

import (
	"sync"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
)

func TestFreeListAndRecycle(t *testing.T) {
	tb := NewTable(4, 4096)
	if n := tb.FreeCount(); n != 4 {
		t.Fatalf("free %d", n)
	}
	var got []int32
	for {
		id := tb.Take(1)
		if id < 0 {
			break
		}
		got = append(got, id)
	}
	if len(got) != 3 || tb.FreeCount() != 1 {
		t.Fatalf("took %v, free %d", got, tb.FreeCount())
	}
	h := &tb.Headers[got[0]]
	g := h.Gen.Load()
	tb.Init(got[0], Open, 3, PoolMain, 1, 2, 3, 4)
	h.AddLive(5, 500)
	h.SetState(Draining)
	tb.Recycle(got[0])
	if h.Gen.Load() != g+1 || h.State() != Free || h.live.Load() != 0 || tb.FreeCount() != 2 {
		t.Fatalf("recycle: gen %d->%d state %d live %d free %d", g, h.Gen.Load(), h.State(), h.live.Load(), tb.FreeCount())
	}
}

// TestPinVersusDrain races pinners against a drainer: a pin that succeeds
// is always released before the drainer's wait returns, and no pin
// succeeds once the state is Draining.
func TestPinVersusDrain(t *testing.T) {
	for round := 0; round < 200; round++ {
		var h Header
		h.Gen.Store(1)
		h.SetState(Open)
		var wg sync.WaitGroup
		var drained, violations int32Box
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 50; i++ {
					if h.Pin(1<<Open, 1) {
						if drained.load() != 0 {
							violations.add(1)
						}
						h.Unpin()
					}
				}
			}()
		}
		h.Transition(Open, Draining)
		h.WaitUnpinned()
		drained.store(1)
		wg.Wait()
		if v := violations.load(); v != 0 {
			t.Fatalf("round %d: %d pins held after the drain's wait", round, v)
		}
	}
}

type int32Box struct {
	v sync.Mutex
	n int32
}

func (b *int32Box) load() int32   { b.v.Lock(); defer b.v.Unlock(); return b.n }
func (b *int32Box) store(n int32) { b.v.Lock(); b.n = n; b.v.Unlock() }
func (b *int32Box) add(n int32)   { b.v.Lock(); b.n += n; b.v.Unlock() }

// Readers' fields and writers' fields sit on different cache lines of
// every header, for any table size.
func TestHeaderLines(t *testing.T) {
	var h Header
	type layout struct{ Size, GenLine, ExpireLine, StateLine, WriteOffLine, PinsLine, LiveLine uintptr }
	want := layout{128, 0, 0, 0, 1, 1, 1}
	got := layout{unsafe.Sizeof(h), unsafe.Offsetof(h.Gen) / 64, unsafe.Offsetof(h.Expire) / 64,
		unsafe.Offsetof(h.state) / 64, unsafe.Offsetof(h.WriteOff) / 64, unsafe.Offsetof(h.Pins) / 64,
		unsafe.Offsetof(h.live) / 64}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("header layout (-want +got):\n%s", diff)
	}
	for _, n := range []int{1, 2, 3, 5, 7, 64, 100, 1000} {
		tb := NewTable(n, 4096)
		if len(tb.Headers) != n || uintptr(unsafe.Pointer(&tb.Headers[0]))%64 != 0 {
			t.Errorf("NewTable(%d): %d headers at %p", n, len(tb.Headers), &tb.Headers[0])
		}
	}
}
