package linearizability

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/segcache/segcache/core"
)

// coreClient runs the model's operations on a core.Cache; its writes
// carry ttl (0: never expire).
type coreClient struct {
	c   *core.Cache
	ttl time.Duration
	buf []byte
}

func (cc *coreClient) Supports(op Op) bool { return op != Take && op != Append && op != Prepend }

func (cc *coreClient) Run(in Input, token uint64) (Output, uint64) {
	k := []byte(in.Key)
	var tok uint64
	var err error
	switch in.Op {
	case Set, Add, Replace, CAS:
		op := map[Op]core.StoreOp{Set: core.StoreSet, Add: core.StoreAdd, Replace: core.StoreReplace, CAS: core.StoreCAS}[in.Op]
		tok, err = cc.c.Store(op, k, []byte(in.Val), cc.ttl, token)
	case Delete:
		err = cc.c.Delete(k)
	case DeleteCAS:
		err = cc.c.DeleteCAS(k, token)
	case Get:
		v, t, found := cc.c.GetCAS(cc.buf[:0], k)
		if !found {
			return Output{Res: NotFound}, 0
		}
		cc.buf = v
		return Output{Res: OK, Val: string(v)}, t
	case Incr, Decr:
		var n uint64
		if in.Op == Incr {
			n, tok, err = cc.c.IncrCAS(k, in.Delta)
		} else {
			n, tok, err = cc.c.DecrCAS(k, in.Delta)
		}
		if err == nil {
			return Output{Res: OK, Val: strconv.FormatUint(n, 10)}, tok
		}
	}
	return Output{Res: result(err)}, tok
}

func result(err error) string {
	switch {
	case err == nil:
		return OK
	case errors.Is(err, core.ErrExists):
		return Exists
	case errors.Is(err, core.ErrNotFound):
		return NotFound
	case errors.Is(err, core.ErrNotNumeric):
		return NotNumeric
	}
	return err.Error()
}

// TestCoreIsLinearizable runs concurrent clients on a cache that holds
// everything they write (every policy), on caches too small for what a
// filler goroutine writes beside them, so that eviction, S3-FIFO's
// promotions and merge's copies move and drop the clients' keys under
// them, on one that a goroutine clears every 200 µs, and on one whose
// writes live 20 ms and whose expired segments a goroutine reclaims every
// 200 µs (Expire) while the clients run (the lossy model for all three: a key may vanish,
// but never come back unwritten).
func TestCoreIsLinearizable(t *testing.T) {
	rounds := 6
	if testing.Short() {
		rounds = 2
	}
	small := core.Options{HeapBytes: 256 << 10, SegmentBytes: 16 << 10}
	with := func(o core.Options, p core.Policy) core.Options { o.Eviction = p; return o }
	for _, tc := range []struct {
		name   string
		opts   core.Options
		filler bool // a goroutine writes keys of its own, so that the cache evicts
		// chore, if set, runs every 200 µs while the clients run.
		chore func(*core.Cache) error
		ttl   time.Duration // of the clients' writes
		// spread gives the filler's writes TTLs from 1 minute to 1 day
		// (336 TTL buckets, none expiring during the test): open segments
		// run short, and writes go to shorter buckets' segments.
		spread bool
	}{
		{"s3fifo, no eviction", core.Options{HeapBytes: 16 << 20, SegmentBytes: 1 << 20, Eviction: core.PolicyS3FIFO}, false, nil, 0, false},
		{"none, no eviction", core.Options{HeapBytes: 16 << 20, SegmentBytes: 1 << 20, Eviction: core.PolicyNone}, false, nil, 0, false},
		{"s3fifo, evicting", with(small, core.PolicyS3FIFO), true, nil, 0, false},
		{"merge, evicting", with(small, core.PolicyMerge), true, nil, 0, false},
		{"fifo, evicting, growing table", core.Options{HeapBytes: 256 << 10, SegmentBytes: 16 << 10, Eviction: core.PolicyFIFO, HashPower: 4}, true, nil, 0, false},
		{"random, evicting", with(small, core.PolicyRandom), true, nil, 0, false},
		{"s3fifo, cleared", core.Options{HeapBytes: 16 << 20, SegmentBytes: 1 << 20, Eviction: core.PolicyS3FIFO}, false, (*core.Cache).Clear, 0, false},
		{"merge, expiring", core.Options{HeapBytes: 64 << 20, SegmentBytes: 4 << 10, Eviction: core.PolicyMerge}, true, (*core.Cache).Expire, 20 * time.Millisecond, false},
		{"s3fifo, evicting, many TTLs", with(small, core.PolicyS3FIFO), true, nil, time.Hour, true},
		{"fifo, evicting, many TTLs", with(small, core.PolicyFIFO), true, nil, time.Hour, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for round := range rounds {
				c, err := core.Open(tc.opts)
				if err != nil {
					t.Fatal(err)
				}
				stop, filled := fill(t, c, tc.filler, tc.ttl, tc.spread)
				chores := make(chan int)
				go func() {
					n := 0
					for tc.chore != nil {
						select {
						case <-stop:
							chores <- n
							return
						case <-time.After(200 * time.Microsecond):
						}
						tc.chore(c)
						n++
					}
					chores <- n
				}()
				w := Workload{Clients: 4, Ops: 4000, Plain: 1, Counters: 1, Seed: uint64(round)}
				history := Record(w, func(int) Client { return &coreClient{c: c, ttl: tc.ttl} })
				close(stop)
				<-filled
				if n := <-chores; tc.chore != nil && n == 0 {
					t.Errorf("round %d: the chore never ran", round)
				}
				st := c.Stats()
				c.Close()
				if tc.ttl > 0 && !tc.spread && st.ExpiredSegments == 0 {
					t.Errorf("round %d: no segment expired: the expiring case did not run (%+v)", round, st)
				}
				lossy := tc.filler || tc.chore != nil || tc.ttl > 0
				check(t, lossy, history, fmt.Sprintf("%s-%d", tc.name, round))
				if tc.filler && (tc.ttl == 0 || tc.spread) && st.EvictedItems == 0 {
					t.Errorf("round %d: no live item was evicted: the lossy case did not run", round)
				}
			}
		})
	}
}

// check fails the test unless history is linearizable; it writes a
// visualization of a failing history to the test's output directory.
func check(t *testing.T, lossy bool, history []porcupine.Operation, name string) {
	t.Helper()
	model := Model(lossy)
	res, info := porcupine.CheckOperationsVerbose(model, history, time.Minute)
	switch res {
	case porcupine.Ok:
		return
	case porcupine.Unknown:
		t.Errorf("%s: the checker timed out on %d operations", name, len(history))
		return
	}
	dir := os.Getenv("LINEARIZABILITY_OUT")
	if dir == "" {
		dir = t.TempDir()
	}
	file := filepath.Join(dir, "history-"+filepath.Base(fmt.Sprintf("%x", name))+".html")
	if err := porcupine.VisualizePath(model, info, file); err != nil {
		t.Logf("visualizing: %v", err)
	}
	t.Errorf("%s: %d operations are not linearizable (visualization: %s; set LINEARIZABILITY_OUT to keep it)", name, len(history), file)
}

// fill starts a goroutine that writes keys of its own into cache, with
// ttl, until stop is closed (filled is closed when it has returned), and
// returns once the cache is full: it has evicted a live item (or, with a
// ttl, dropped an expired one). Without on, it writes nothing.
func fill(t *testing.T, cache *core.Cache, on bool, ttl time.Duration, spread bool) (stop, filled chan struct{}) {
	t.Helper()
	stop, filled = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(filled)
		if !on {
			return
		}
		val := make([]byte, 200)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			d := ttl
			if spread {
				d = time.Duration(60+i*7919%(86400-60)) * time.Second
			}
			cache.Set([]byte(fmt.Sprintf("filler-%d", i)), val, d)
		}
	}()
	full := func() bool { st := cache.Stats(); return st.EvictedItems+st.ExpiredItems > 0 }
	for start := time.Now(); on && !full(); {
		if time.Since(start) > 10*time.Second {
			close(stop)
			t.Fatal("the filler did not fill the cache in 10 s")
		}
		time.Sleep(time.Millisecond)
	}
	return stop, filled
}
