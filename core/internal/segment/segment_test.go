package segment

import (
	"sync"
	"testing"
	"time"
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
	n, b := tb.Recycle(got[0])
	if n != 5 || b != 500 {
		t.Errorf("recycle found %d items / %d bytes live, want the 5 / 500 left", n, b)
	}
	if h.Gen.Load() != g+1 || h.State() != Free || h.acct.Load() != 0 || tb.FreeCount() != 2 {
		t.Fatalf("recycle: gen %d->%d state %d acct %#x free %d", g, h.Gen.Load(), h.State(), h.acct.Load(), tb.FreeCount())
	}
}

// The three counters sharing acct each keep their own sum, under the
// deltas the engine adds, up to their widths.
func TestAcctFieldsIndependent(t *testing.T) {
	type counts struct{ Pins, Items, Bytes int32 }
	steps := []struct {
		name              string
		pins, items, byts int
		want              counts
	}{
		{"pin and count an item", 1, 1, 88, counts{1, 1, 88}},
		{"count a relocated item", 0, 1, 8 << 20, counts{1, 2, 88 + 8<<20}},
		{"unpin and uncount one", -1, -1, -88, counts{0, 1, 8 << 20}},
		{"most pins", MaxPins, 0, 0, counts{MaxPins, 1, 8 << 20}},
		{"most items", 0, 1<<20 - 2, 0, counts{MaxPins, 1<<20 - 1, 8 << 20}},
		{"bytes to the top", 0, 0, 1<<31 - 1 - 8<<20, counts{MaxPins, 1<<20 - 1, 1<<31 - 1}},
		{"all back", -MaxPins, -(1<<20 - 1), -(1<<31 - 1), counts{0, 0, 0}},
	}
	var h Header
	for _, st := range steps {
		h.acct.Add(acctDelta(st.pins, st.items, st.byts))
		n, b := h.Live()
		got := counts{h.Pins(), n, b}
		if diff := cmp.Diff(st.want, got); diff != "" {
			t.Fatalf("after %q (-want +got):\n%s", st.name, diff)
		}
	}
}

// A pin whose check fails takes back the count it added with it, and
// PinCounting and UnpinCounting are each other's inverse.
func TestPinCounting(t *testing.T) {
	var h Header
	h.Gen.Store(1)
	h.SetState(Sealed)
	if h.PinCounting(1<<Open, 1, 1, 96) {
		t.Fatal("pinned a sealed segment for writing")
	}
	if v := h.acct.Load(); v != 0 {
		t.Fatalf("a failed pin left acct %#x", v)
	}
	h.SetState(Open)
	if h.PinCounting(1<<Open, 2, 1, 96) {
		t.Fatal("pinned at the wrong generation")
	}
	if !h.PinCounting(1<<Open, 1, 1, 96) {
		t.Fatal("could not pin an open segment")
	}
	if n, b := h.Live(); h.Pins() != 1 || n != 1 || b != 96 {
		t.Fatalf("pinned and counted: pins %d, live %d / %d", h.Pins(), n, b)
	}
	h.UnpinCounting(-1, -96)
	if v := h.acct.Load(); v != 0 {
		t.Fatalf("unpinned and uncounted: acct %#x", v)
	}
}

// Recycle waits for a writer that pinned and counted after the drain
// claimed the segment, then zeroes: the writer's take-back does not
// underflow into the pins.
func TestRecycleWaitsForStrayPin(t *testing.T) {
	tb := NewTable(1, 4096)
	id := tb.Take(0)
	tb.Init(id, Open, 0, PoolMain, 1, 0, 0, 0)
	h := &tb.Headers[id]
	h.SetState(Draining)
	h.acct.Add(acctDelta(1, 1, 64)) // a stray's pin and count, not yet taken back
	done := make(chan struct{})
	go func() {
		tb.Recycle(id)
		close(done)
	}()
	time.Sleep(10 * time.Millisecond)
	select {
	case <-done:
		t.Fatal("Recycle zeroed the counts under a pin")
	default:
	}
	h.acct.Add(acctDelta(-1, -1, -64))
	<-done
	if v := h.acct.Load(); v != 0 {
		t.Fatalf("after the stray's take-back and the recycle: acct %#x", v)
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
	type layout struct{ Size, GenLine, ExpireLine, StateLine, WriteOffLine, AcctLine uintptr }
	want := layout{128, 0, 0, 0, 1, 1}
	got := layout{unsafe.Sizeof(h), unsafe.Offsetof(h.Gen) / 64, unsafe.Offsetof(h.Expire) / 64,
		unsafe.Offsetof(h.state) / 64, unsafe.Offsetof(h.WriteOff) / 64, unsafe.Offsetof(h.acct) / 64}
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
