package clienttest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/google/go-cmp/cmp"
)

func newClient(t *testing.T, addrs ...string) *memcache.Client {
	t.Helper()
	mc := memcache.New(addrs...)
	mc.Timeout = 30 * time.Second // a loaded machine is slow, not broken
	t.Cleanup(func() { mc.Close() })
	return mc
}

// TestGomemcache exercises every command gomemcache has against one node.
func TestGomemcache(t *testing.T) {
	n := startNode(t)
	mc := newClient(t, n.addr)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	value := func(key string) (string, uint32) {
		t.Helper()
		it, err := mc.Get(key)
		must(err)
		return string(it.Value), it.Flags
	}
	wantErr := func(err, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Fatalf("error %v, want %v", err, want)
		}
	}

	must(mc.Ping())
	must(mc.Set(&memcache.Item{Key: "a", Value: []byte("hello"), Flags: 42}))
	if v, f := value("a"); v != "hello" || f != 42 {
		t.Fatalf("get a = %q flags %d", v, f)
	}
	_, err := mc.Get("missing")
	wantErr(err, memcache.ErrCacheMiss)

	wantErr(mc.Add(&memcache.Item{Key: "a", Value: []byte("x")}), memcache.ErrNotStored)
	must(mc.Add(&memcache.Item{Key: "b", Value: []byte("bee")}))
	wantErr(mc.Replace(&memcache.Item{Key: "c", Value: []byte("x")}), memcache.ErrNotStored)
	must(mc.Replace(&memcache.Item{Key: "b", Value: []byte("bee2"), Flags: 7}))
	if v, f := value("b"); v != "bee2" || f != 7 {
		t.Fatalf("get b = %q flags %d", v, f)
	}

	must(mc.Append(&memcache.Item{Key: "a", Value: []byte(" world")}))
	must(mc.Prepend(&memcache.Item{Key: "a", Value: []byte(">")}))
	if v, f := value("a"); v != ">hello world" || f != 42 {
		t.Fatalf("after append/prepend a = %q flags %d", v, f)
	}
	wantErr(mc.Append(&memcache.Item{Key: "nope", Value: []byte("x")}), memcache.ErrNotStored)

	// Multi-get: every key in one request; misses are left out.
	keys := []string{"a", "b", "missing"}
	for i := range 50 {
		k := fmt.Sprintf("m%d", i)
		keys = append(keys, k)
		must(mc.Set(&memcache.Item{Key: k, Value: []byte(k + "-value"), Flags: uint32(i)}))
	}
	got, err := mc.GetMulti(keys)
	must(err)
	gotVals := map[string]string{}
	for k, it := range got {
		gotVals[k] = fmt.Sprintf("%s/%d", it.Value, it.Flags)
	}
	want := map[string]string{"a": ">hello world/42", "b": "bee2/7"}
	for i := range 50 {
		want[fmt.Sprintf("m%d", i)] = fmt.Sprintf("m%d-value/%d", i, i)
	}
	if diff := cmp.Diff(want, gotVals); diff != "" {
		t.Fatalf("GetMulti (-want +got):\n%s", diff)
	}

	// Compare-and-swap with the unique gets returned.
	it, err := mc.Get("b")
	must(err)
	it.Value = []byte("swapped")
	must(mc.CompareAndSwap(it))
	it.Value = []byte("stale")
	wantErr(mc.CompareAndSwap(it), memcache.ErrCASConflict)
	if v, _ := value("b"); v != "swapped" {
		t.Fatalf("after cas b = %q", v)
	}

	// Counters, raw and flagged (the server's two incr paths).
	must(mc.Set(&memcache.Item{Key: "n", Value: []byte("10")}))
	must(mc.Set(&memcache.Item{Key: "fn", Value: []byte("10"), Flags: 3, Expiration: 3600}))
	for _, k := range []string{"n", "fn"} {
		if v, err := mc.Increment(k, 5); err != nil || v != 15 {
			t.Fatalf("incr %s = %d, %v", k, v, err)
		}
		if v, err := mc.Decrement(k, 20); err != nil || v != 0 {
			t.Fatalf("decr %s = %d, %v", k, v, err)
		}
	}
	if v, f := value("fn"); v != "0" || f != 3 {
		t.Fatalf("fn = %q flags %d", v, f)
	}
	_, err = mc.Increment("nope", 1)
	wantErr(err, memcache.ErrCacheMiss)
	if _, err = mc.Increment("a", 1); err == nil {
		t.Fatal("incr of a non-number succeeded")
	}

	// Touch and get-and-touch; a past expiration removes the item.
	must(mc.Touch("a", 3600))
	wantErr(mc.Touch("nope", 10), memcache.ErrCacheMiss)
	it, err = mc.GetAndTouch("a", 3600)
	must(err)
	if string(it.Value) != ">hello world" || it.Flags != 42 {
		t.Fatalf("gat a = %q flags %d", it.Value, it.Flags)
	}
	must(mc.Touch("a", -1))
	_, err = mc.Get("a")
	wantErr(err, memcache.ErrCacheMiss)

	// Expiration: relative seconds; the item is gone once they passed.
	must(mc.Set(&memcache.Item{Key: "ttl", Value: []byte("x"), Expiration: 1}))
	time.Sleep(2100 * time.Millisecond)
	_, err = mc.Get("ttl")
	wantErr(err, memcache.ErrCacheMiss)

	must(mc.Delete("b"))
	wantErr(mc.Delete("b"), memcache.ErrCacheMiss)
	must(mc.FlushAll())
	_, err = mc.Get("m1")
	wantErr(err, memcache.ErrCacheMiss)
}
