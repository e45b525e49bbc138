package core_test

// TTL contract: an item set with TTL t is never served after t has elapsed,
// and is served for at least 0.9·t − 1 s; TTL 0 never expires. Expired
// items are absent to every operation (lazy expiry), and Expire() frees
// their segments (eager expiry). The tests poll real time with deadlines
// and judge each observation by the instants that bracket it, so a stalled
// machine can make an observation inconclusive but never fail a correct
// engine.

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/segcache/segcache/core"
)

// grace covers the documented 1 ms resolution of expiry times.
const grace = 2 * time.Millisecond

// ttlItem is one key written with a TTL; set0 and set1 bracket the Set call.
type ttlItem struct {
	key        string
	ttl        time.Duration
	set0, set1 time.Time
}

// mustLiveUntil is the last instant at which the item must still be served.
func (it ttlItem) mustLiveUntil() time.Time {
	return it.set0.Add(time.Duration(0.9*float64(it.ttl)) - time.Second)
}

// deadAfter is the instant after which the item must never be served.
func (it ttlItem) deadAfter() time.Time { return it.set1.Add(it.ttl + grace) }

// judge checks one observation made between g0 and g1.
func (it ttlItem) judge(found bool, g0, g1 time.Time) error {
	if found && g0.After(it.deadAfter()) {
		return fmt.Errorf("%s (TTL %v) served %v after it was set", it.key, it.ttl, g0.Sub(it.set1))
	}
	if !found && g1.Before(it.mustLiveUntil()) {
		return fmt.Errorf("%s (TTL %v) absent only %v after it was set (must live %v)",
			it.key, it.ttl, g1.Sub(it.set0), it.mustLiveUntil().Sub(it.set0))
	}
	return nil
}

// TestTTLContract writes keys with TTLs from 1 ms to 3.5 s into one cache
// and reads all of them in a loop until every one must be gone, judging
// each read against the contract. Every key must be observed present before
// its lower bound (where that bound is positive) and absent after its TTL.
func TestTTLContract(t *testing.T) {
	t.Parallel()
	for _, p := range []core.Policy{core.PolicyMerge, core.PolicyNone} {
		t.Run(p.String(), func(t *testing.T) {
			t.Parallel()
			c := openT(t, core.Options{HeapBytes: 4 << 20, SegmentBytes: 64 << 10, Eviction: p})
			ttls := []time.Duration{time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
				250 * time.Millisecond, 500 * time.Millisecond, 999 * time.Millisecond, time.Second,
				1500 * time.Millisecond, 2 * time.Second, 2500 * time.Millisecond, 3 * time.Second, 3500 * time.Millisecond}
			var items []ttlItem
			for i, ttl := range ttls {
				for j := 0; j < 3; j++ { // a few per TTL, written at slightly different times
					it := ttlItem{key: fmt.Sprintf("ttl%d-%d", i, j), ttl: ttl}
					it.set0 = time.Now()
					mustSet(t, c, it.key, strings.Repeat("v", 50+i), ttl)
					it.set1 = time.Now()
					items = append(items, it)
				}
			}
			forever := []string{"keep-a", "keep-b"}
			for _, k := range forever {
				mustSet(t, c, k, "forever", 0)
			}
			var last time.Time
			for _, it := range items {
				if d := it.deadAfter(); d.After(last) {
					last = d
				}
			}
			sawLive := map[string]bool{}
			sawDead := map[string]bool{}
			done := watchdog(t, 30*time.Second, "TTL read loop")
			for {
				for _, it := range items {
					g0 := time.Now()
					_, found := c.Get(nil, []byte(it.key))
					g1 := time.Now()
					if err := it.judge(found, g0, g1); err != nil {
						t.Error(err)
						sawDead[it.key], sawLive[it.key] = true, true // report once
						continue
					}
					if found && g1.Before(it.mustLiveUntil()) {
						sawLive[it.key] = true
					}
					if !found && g0.After(it.deadAfter()) {
						sawDead[it.key] = true
					}
				}
				if time.Now().After(last) && len(sawDead) == len(items) {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			done()
			for _, it := range items {
				if it.mustLiveUntil().Sub(it.set0) > 100*time.Millisecond && !sawLive[it.key] {
					// Only a machine stalled for the whole window gets here.
					t.Logf("%s: no conclusive early read (machine too slow?)", it.key)
				}
			}
			for _, k := range forever {
				if v, found := get(c, k); !found || v != "forever" {
					t.Errorf("%s (TTL 0) = %q, %v after %v", k, v, found, time.Since(items[0].set0))
				}
			}
		})
	}
}

// TestTTLLowerBound checks the lower bound directly for t = 2 s and 3 s:
// present right after the set and just before 0.9·t − 1 s, absent after t.
func TestTTLLowerBound(t *testing.T) {
	t.Parallel()
	for _, ttl := range []time.Duration{2 * time.Second, 3 * time.Second} {
		t.Run(ttl.String(), func(t *testing.T) {
			t.Parallel()
			c := openT(t, core.Options{HeapBytes: 1 << 20, SegmentBytes: 64 << 10})
			for attempt := 0; ; attempt++ {
				it := ttlItem{key: fmt.Sprintf("k%d", attempt), ttl: ttl}
				it.set0 = time.Now()
				mustSet(t, c, it.key, "v", ttl)
				it.set1 = time.Now()
				if _, found := get(c, it.key); !found {
					t.Fatalf("TTL %v: absent right after Set", ttl)
				}
				time.Sleep(time.Until(it.mustLiveUntil()) - 100*time.Millisecond)
				g0 := time.Now()
				_, found := get(c, it.key)
				g1 := time.Now()
				if g1.After(it.mustLiveUntil()) {
					if attempt < 3 {
						continue // the machine stalled past the bound: try again
					}
					t.Fatalf("could not read before the bound in 4 attempts")
				}
				if err := it.judge(found, g0, g1); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Until(it.deadAfter()) + 5*time.Millisecond)
				if _, found := get(c, it.key); found {
					t.Fatalf("TTL %v: still served %v after Set", ttl, time.Since(it.set1))
				}
				return
			}
		})
	}
}

// TestLazyExpiry: an expired item is absent to every operation, before any
// Expire() call.
func TestLazyExpiry(t *testing.T) {
	t.Parallel()
	c := openT(t, core.Options{HeapBytes: 1 << 20, SegmentBytes: 64 << 10})
	keys := []string{"get", "getcas", "getinto", "batch", "cas", "delete", "incr", "decr", "replace", "add"}
	set1 := map[string]time.Time{}
	tokens := map[string]uint64{}
	for _, k := range keys {
		mustSet(t, c, k, "10", 300*time.Millisecond)
		set1[k] = time.Now()
		tokens[k] = mustToken(t, c, k)
	}
	mustSet(t, c, "forever", "10", 0)
	time.Sleep(time.Until(set1[keys[len(keys)-1]].Add(300*time.Millisecond + grace + 5*time.Millisecond)))

	got := map[string]string{}
	_, f1 := c.Get(nil, []byte("get"))
	got["get"] = fmt.Sprint(f1)
	_, _, f2 := c.GetCAS(nil, []byte("getcas"))
	got["getcas"] = fmt.Sprint(f2)
	_, _, err := c.GetInto(make([]byte, 8), []byte("getinto"))
	got["getinto"] = errName(err)
	errs := make([]error, 1)
	c.GetBatch([][]byte{[]byte("batch")}, [][]byte{make([]byte, 8)}, make([]int, 1), errs)
	got["batch"] = errName(errs[0])
	got["cas"] = errName(c.CAS([]byte("cas"), []byte("x"), 0, tokens["cas"]))
	got["delete"] = errName(c.Delete([]byte("delete")))
	_, err = c.Incr([]byte("incr"), 1)
	got["incr"] = errName(err)
	_, err = c.Decr([]byte("decr"), 1)
	got["decr"] = errName(err)
	got["replace"] = errName(c.Replace([]byte("replace"), []byte("x"), 0))
	got["add"] = errName(c.Add([]byte("add"), []byte("fresh"), 0))
	want := map[string]string{"get": "false", "getcas": "false", "getinto": "NotFound", "batch": "NotFound",
		"cas": "NotFound", "delete": "NotFound", "incr": "NotFound", "decr": "NotFound", "replace": "NotFound", "add": "ok"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("operations on expired items (-want +got):\n%s", diff)
	}
	// The failed operations did not bring anything back; add stored a new item.
	for _, k := range []string{"cas", "incr", "decr", "replace", "delete"} {
		if v, found := get(c, k); found {
			t.Errorf("%s: expired item came back as %q", k, v)
		}
	}
	if v, _ := get(c, "add"); v != "fresh" {
		t.Errorf("add over an expired item: Get = %q, want fresh", v)
	}
	if v, _ := get(c, "forever"); v != "10" {
		t.Errorf("TTL 0 item = %q", v)
	}
}

// TestTTLUpdates: incr and decr keep the expiry; set, replace and cas set a
// new one (0 = never).
func TestTTLUpdates(t *testing.T) {
	t.Parallel()
	c := openT(t, core.Options{HeapBytes: 1 << 20, SegmentBytes: 64 << 10})
	const ttl = 400 * time.Millisecond
	for _, k := range []string{"incr", "set0", "replace0", "cas0", "setttl"} {
		mustSet(t, c, k, "1", ttl)
	}
	mustSet(t, c, "setttl", "1", 0)
	start := time.Now()
	for time.Since(start) < ttl/2 {
		if _, err := c.Incr([]byte("incr"), 1); err != nil {
			t.Fatalf("Incr: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	mustSet(t, c, "set0", "2", 0)
	if err := c.Replace([]byte("replace0"), []byte("2"), 0); err != nil {
		t.Fatal(err)
	}
	if err := c.CAS([]byte("cas0"), []byte("2"), 0, mustToken(t, c, "cas0")); err != nil {
		t.Fatal(err)
	}
	mustSet(t, c, "setttl", "2", ttl) // TTL 0 replaced by a short one
	setAt := time.Now()
	time.Sleep(time.Until(setAt.Add(ttl + grace + 5*time.Millisecond)))
	got := map[string]bool{}
	for _, k := range []string{"incr", "set0", "replace0", "cas0", "setttl"} {
		_, got[k] = get(c, k)
	}
	want := map[string]bool{"incr": false, "set0": true, "replace0": true, "cas0": true, "setttl": false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("present after the first TTL (-want +got):\n%s", diff)
	}
}

// TestExpireEager: Expire() drops expired items a segment at a time, counts
// them, and frees their segments; TTL-0 items stay.
func TestExpireEager(t *testing.T) {
	t.Parallel()
	c := openT(t, core.Options{HeapBytes: 64 * 4096, SegmentBytes: 4096, Eviction: core.PolicyNone})
	const nexp, nkeep = 300, 50
	for i := 0; i < nkeep; i++ {
		mustSet(t, c, keyN("keep", i), strings.Repeat("k", 60), 0)
	}
	for i := 0; i < nexp; i++ {
		mustSet(t, c, keyN("exp", i), strings.Repeat("e", 100), time.Second)
	}
	mustSet(t, c, "probe", strings.Repeat("e", 100), time.Second)
	set1 := time.Now()
	before := c.Stats()
	if before.Items != nexp+nkeep+1 {
		t.Fatalf("Items = %d before expiry, want %d", before.Items, nexp+nkeep+1)
	}
	time.Sleep(time.Until(set1.Add(time.Second + grace)))
	// Lazy expiry already hides them (the probe may be dropped by this
	// lookup rather than by Expire) ...
	if _, found := get(c, "probe"); found {
		t.Fatalf("probe served after its TTL")
	}
	// ... and Expire() reclaims them. A coarse expiry clock may need a
	// little longer: poll with a deadline.
	deadline := set1.Add(3 * time.Second)
	var s core.Stats
	for {
		if err := c.Expire(); err != nil {
			t.Fatalf("Expire: %v", err)
		}
		s = c.Stats()
		if s.Items == nkeep || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	sane(t, s)
	minSegs := uint64(nexp*itemSize(6, 100)/4096) - 1
	if s.ExpiredItems == nexp+1 {
		s.ExpiredItems = nexp // the probe was counted by Expire
	}
	got := []uint64{s.Items, s.ExpiredItems, uint64(c.Len())}
	want := []uint64{nkeep, nexp, nkeep}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after Expire [Items ExpiredItems Len] (-want +got):\n%s", diff)
	}
	if s.ExpiredSegments < minSegs || s.SegmentsFree < before.SegmentsFree+minSegs {
		t.Errorf("ExpiredSegments %d, SegmentsFree %d (was %d): want at least %d segments freed",
			s.ExpiredSegments, s.SegmentsFree, before.SegmentsFree, minSegs)
	}
	for i := 0; i < nkeep; i++ {
		if _, found := get(c, keyN("keep", i)); !found {
			t.Fatalf("keep%d (TTL 0) lost by Expire", i)
		}
	}
	// The freed space is reusable under PolicyNone.
	for i := 0; i < nexp; i++ {
		if err := c.Set([]byte(keyN("new", i)), []byte(strings.Repeat("n", 100)), 0); err != nil {
			t.Fatalf("Set after Expire freed the space: %v", err)
		}
	}
}

// Guards against a published-engine bug (a maturity gate blocked evicting short-TTL segments): a short-TTL segment must be evictable as soon as the cache is
// full (the published engine waited 20 s and refused writes meanwhile).
func TestShortTTLFullCacheAcceptsWrites(t *testing.T) {
	c := openT(t, smallOpts(core.PolicyRandom, 2))
	for i := 0; i < 1000; i++ {
		k := keyN("k", i)
		if err := c.Set([]byte(k), mkVal(k, uint64(i), 100), 10*time.Second); err != nil {
			t.Fatalf("Set #%d with TTL 10 s on a 2-segment random cache: %v", i, err)
		}
	}
	if v, found := c.Get(nil, []byte("k999")); !found {
		t.Errorf("the last key written is absent")
	} else if _, err := checkVal("k999", v); err != nil {
		t.Error(err)
	}
}

// The TTL contract holds in real time, also across a pause of the whole
// process (a stopped container, a VM pause, a long CPU-quota throttle):
// an item must not be served after its TTL just because the engine's
// notion of "now" has not caught up yet. The test stops its own process
// for 0.6 s with SIGSTOP (a child shell sends SIGCONT, twice for safety),
// and reads a 300 ms item the moment it resumes. With one P, no other
// goroutine (such as a clock ticker) runs before that read.
func TestTTLAcrossProcessPause(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	c := openT(t, core.Options{HeapBytes: 1 << 20, SegmentBytes: 64 << 10})
	const ttl = 300 * time.Millisecond
	for attempt := 0; attempt < 3; attempt++ {
		it := ttlItem{key: keyN("k", attempt), ttl: ttl}
		it.set0 = time.Now()
		mustSet(t, c, it.key, "v", ttl)
		it.set1 = time.Now()
		pid := os.Getpid()
		cont := exec.Command("/bin/sh", "-c", fmt.Sprintf("sleep 0.6; kill -CONT %d; sleep 1; kill -CONT %d", pid, pid))
		if err := cont.Start(); err != nil {
			t.Skipf("cannot start the shell that would resume this process: %v", err)
		}
		prev := time.Now()
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatalf("SIGSTOP: %v", err)
		}
		// Spin until the clock jumps: the process was stopped and resumed.
		resumed := false
		for time.Since(it.set1) < 3*time.Second {
			now := time.Now()
			if now.Sub(prev) > 400*time.Millisecond {
				resumed = true
				break
			}
			prev = now
		}
		g0 := time.Now()
		_, found := get(c, it.key)
		cont.Wait()
		if !resumed {
			continue // the stop was not observed; try again
		}
		if err := it.judge(found, g0, time.Now()); err != nil {
			t.Fatalf("right after a 0.6 s process pause: %v", err)
		}
		return
	}
	t.Fatalf("the process pause was never observed in 3 attempts")
}
