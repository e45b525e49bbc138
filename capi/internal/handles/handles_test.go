package handles

import (
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestInsertGetRemove(t *testing.T) {
	var tb Table[string]
	h1, err := tb.Insert("a")
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := tb.Insert("b")
	if h1 == 0 || h2 == 0 || h1 == h2 {
		t.Fatalf("handles %#x %#x: want distinct and non-zero", h1, h2)
	}
	type result struct {
		V  string
		OK bool
	}
	get := func(h uint64) result { v, ok := tb.Get(h); return result{v, ok} }
	remove := func(h uint64) result { v, ok := tb.Remove(h); return result{v, ok} }

	tests := []struct {
		name string
		op   func() result
		want result
	}{
		{"get h1", func() result { return get(h1) }, result{"a", true}},
		{"get h2", func() result { return get(h2) }, result{"b", true}},
		{"get 0", func() result { return get(0) }, result{}},
		{"wrong generation", func() result { return get(h1 ^ 1<<40) }, result{}},
		{"zero generation", func() result { return get(h1 & 0xffffffff) }, result{}},
		{"index never handed out", func() result { return get(h1&^0xffffffff | 5000) }, result{}},
		{"index beyond table", func() result { return get(h1&^0xffffffff | MaxHandles) }, result{}},
		{"all ones", func() result { return get(^uint64(0)) }, result{}},
		{"remove h1", func() result { return remove(h1) }, result{"a", true}},
		{"get removed h1", func() result { return get(h1) }, result{}},
		{"remove h1 twice", func() result { return remove(h1) }, result{}},
		{"remove forged", func() result { return remove(h2 ^ 1<<63) }, result{}},
		{"h2 still there", func() result { return get(h2) }, result{"b", true}},
		{"len", func() result { return result{OK: tb.Len() == 1} }, result{OK: true}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, tt.op()); diff != "" {
			t.Errorf("%s: (-want +got)\n%s", tt.name, diff)
		}
	}
}

// A slot reused after Remove gets a new generation, so the old handle stays
// dead even though its index is live again.
func TestStaleHandleAfterReuse(t *testing.T) {
	var tb Table[int]
	h, _ := tb.Insert(1)
	for i := 0; i < 1000; i++ {
		if _, ok := tb.Remove(h); !ok {
			t.Fatalf("round %d: remove failed", i)
		}
		nh, err := tb.Insert(i)
		if err != nil {
			t.Fatal(err)
		}
		if uint32(nh) != uint32(h) {
			t.Fatalf("round %d: slot %d not reused (got %d)", i, uint32(h), uint32(nh))
		}
		if nh == h {
			t.Fatalf("round %d: reused slot kept generation %#x", i, h)
		}
		if _, ok := tb.Get(h); ok {
			t.Fatalf("round %d: stale handle %#x resolves", i, h)
		}
		h = nh
	}
}

func TestFull(t *testing.T) {
	var tb Table[int]
	for i := 0; i < MaxHandles; i++ {
		if _, err := tb.Insert(i); err != nil {
			t.Fatalf("insert %d: %v", i, err)
		}
	}
	if _, err := tb.Insert(-1); err != ErrFull {
		t.Fatalf("insert past MaxHandles: err %v, want ErrFull", err)
	}
}

// Concurrent owners insert, read and remove their own handles while readers
// probe every handle ever issued: a handle resolves only to its own value,
// and only while it is live.
func TestConcurrent(t *testing.T) {
	var tb Table[uint64]
	const workers, rounds = 8, 2000
	var issued sync.Map // handle -> value
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				v := uint64(w)<<32 | uint64(r)
				h, err := tb.Insert(v)
				if err != nil {
					t.Error(err)
					return
				}
				issued.Store(h, v)
				if got, ok := tb.Get(h); !ok || got != v {
					t.Errorf("get own handle: %d %v, want %d", got, ok, v)
				}
				if got, ok := tb.Remove(h); !ok || got != v {
					t.Errorf("remove own handle: %d %v, want %d", got, ok, v)
				}
				if _, ok := tb.Get(h); ok {
					t.Errorf("handle %#x resolves after remove", h)
				}
			}
		}(w)
	}
	for p := 0; p < 2; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				issued.Range(func(k, v any) bool {
					if got, ok := tb.Get(k.(uint64)); ok && got != v.(uint64) {
						t.Errorf("handle %#x resolved to %d, want %d", k, got, v)
					}
					return true
				})
			}
		}()
	}
	wg.Wait()
	if n := tb.Len(); n != 0 {
		t.Fatalf("Len after all removed = %d", n)
	}
}

// Of many concurrent Removes of one handle exactly one succeeds.
func TestRemoveRace(t *testing.T) {
	var tb Table[int]
	for round := 0; round < 200; round++ {
		h, _ := tb.Insert(round)
		var wins sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for i := 0; i < 4; i++ {
			wins.Add(1)
			go func() {
				defer wins.Done()
				if _, ok := tb.Remove(h); ok {
					mu.Lock()
					won++
					mu.Unlock()
				}
			}()
		}
		wins.Wait()
		if won != 1 {
			t.Fatalf("round %d: %d removes succeeded, want 1", round, won)
		}
	}
}
