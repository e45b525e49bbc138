package throughput

import (
	"errors"
	"flag"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/segcache/segcache/bench/harness"
	"github.com/segcache/segcache/core"
)

var (
	flagKeys     = flag.Int("keys", 1_000_000, "distinct keys (all inserted before the benchmarks)")
	flagSystems  = flag.String("systems", strings.Join(harness.Systems, ","), "systems to run, comma-separated")
	flagHashFill = flag.Float64("hashfill", harness.DefaultHashFill, "core: smallest 2^HashPower with slots*fill >= keys")
	flagPolicy   = flag.String("policy", "", "core: eviction policy (default: core's default)")
	flagOwnKeys  = flag.Bool("own-keys", true, "otter and the map store a copy of each key (false: a view of the harness's, which lets a lookup match by pointer identity; see harness.Spec.OwnKeys)")
	flagPrefault = flag.Bool("prefault", false, "core: Options.Prefault (the heap resident from Open, as the Rust crate's populated heap)")
)

const (
	seqLen = harness.SeqLen
	mask   = seqLen - 1
)

type workload struct {
	hit, miss harness.KeySet
	seq       []uint32
	val       []byte
}

var (
	wlOnce sync.Once
	wl     workload
)

func getWorkload() *workload {
	wlOnce.Do(func() {
		t := harness.NewThroughputWorkload(*flagKeys)
		wl = workload{hit: t.Hit, miss: t.Miss, seq: t.Seq, val: t.Val}
	})
	return &wl
}

// fill inserts every key and checks they are all there: the §1 figures
// are about speed, so a system that cannot hold the keys is logged (the
// hit% metric shows it).
//
// order is the insertion order of the key indexes (nil: index order).
func fill(b *testing.B, sys string, w *workload, order []int) harness.Cache {
	spec := harness.FitSpec(w.hit.Len(), *flagHashFill)
	spec.Core.Prefault = *flagPrefault
	spec.OwnKeys = *flagOwnKeys
	if *flagPolicy != "" {
		p, err := core.ParsePolicy(*flagPolicy)
		if err != nil {
			b.Fatal(err)
		}
		spec.Core.Eviction = p
	}
	c, err := harness.Open(sys, spec)
	if err != nil {
		b.Fatalf("open %s: %v", sys, err)
	}
	held, err := harness.FillInOrder(c, w.hit, w.val, order)
	if err != nil {
		b.Fatalf("%s: fill: %v", sys, err)
	}
	if held < w.hit.Len() {
		b.Logf("%s holds %d of %d keys after 3 fill passes", sys, held, w.hit.Len())
	}
	return c
}

// An op runs one goroutine's share: n iterations from position i of the
// key sequence; it returns its gets and hits.
type op struct {
	name   string
	refill bool // re-insert every key first: the set runs before it evicted some
	run    func(c harness.Cache, w *workload, i uint32, pb *testing.PB, dst []byte) (gets, hits int64, err error)
}

var ops = []op{
	{"get-hit", false, func(c harness.Cache, w *workload, i uint32, pb *testing.PB, dst []byte) (g, h int64, _ error) {
		for pb.Next() {
			if _, ok := c.Get(dst[:0], w.hit.At(int(w.seq[i&mask]))); ok {
				h++
			}
			g++
			i++
		}
		return g, h, nil
	}},
	{"get-miss", false, func(c harness.Cache, w *workload, i uint32, pb *testing.PB, dst []byte) (g, h int64, _ error) {
		for pb.Next() {
			if _, ok := c.Get(dst[:0], w.miss.At(int(w.seq[i&mask]))); ok {
				h++
			}
			g++
			i++
		}
		return g, h, nil
	}},
	{"set", false, func(c harness.Cache, w *workload, i uint32, pb *testing.PB, dst []byte) (g, h int64, _ error) {
		for pb.Next() {
			if err := c.Set(w.hit.At(int(w.seq[i&mask])), w.val); err != nil && !errors.Is(err, harness.ErrDropped) {
				return g, h, err
			}
			i++
		}
		return g, h, nil
	}},
	{"mix90", true, mix(10)}, // 90% get, 10% set
	{"mix50", true, mix(2)},  // 50% get, 50% set
}

// mix sets on every every-th operation and gets otherwise.
func mix(every uint32) func(c harness.Cache, w *workload, i uint32, pb *testing.PB, dst []byte) (int64, int64, error) {
	return func(c harness.Cache, w *workload, i uint32, pb *testing.PB, dst []byte) (g, h int64, _ error) {
		for n := uint32(0); pb.Next(); n++ {
			k := w.hit.At(int(w.seq[i&mask]))
			i++
			if n%every == 0 {
				if err := c.Set(k, w.val); err != nil && !errors.Is(err, harness.ErrDropped) {
					return g, h, err
				}
				continue
			}
			if _, ok := c.Get(dst[:0], k); ok {
				h++
			}
			g++
		}
		return g, h, nil
	}
}

// BenchmarkThroughput/<system>/<op>: ns/op is wall time per operation over
// all goroutines (with -cpu 2, the aggregate of 2 goroutines).
func BenchmarkThroughput(b *testing.B) {
	w := getWorkload()
	// A benchfmt configuration line: the report reads the key count here.
	fmt.Printf("keys: %d\n", w.hit.Len())
	for _, sys := range strings.Split(*flagSystems, ",") {
		b.Run(sys, func(b *testing.B) {
			c := fill(b, sys, w, nil)
			defer func() {
				c.Close()
				runtime.GC() // do not charge the next system for this one's heap
			}()
			for _, o := range ops {
				if o.refill {
					// Log-structured caches (core, fastcache, bigcache)
					// drop items when overwrites fill their memory; start
					// each mix from a full cache (hit% shows what is lost
					// during the mix itself).
					if _, err := harness.FillAll(c, w.hit, w.val); err != nil {
						b.Fatalf("%s: refill: %v", sys, err)
					}
				}
				b.Run(o.name, func(b *testing.B) { runOp(b, c, w, o, seqLen/8) })
			}
		})
	}
}

// runOp runs o with b.RunParallel; goroutine g (from 1) starts walking the
// key sequence at g*stride.
func runOp(b *testing.B, c harness.Cache, w *workload, o op, stride uint32) {
	b.ReportAllocs()
	var start atomic.Uint32
	var gets, hits atomic.Int64
	var failed atomic.Value
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		// Each goroutine walks the sequence from its own far-apart offset.
		i := start.Add(1) * stride
		dst := make([]byte, 0, 128)
		g, h, err := o.run(c, w, i, pb, dst)
		gets.Add(g)
		hits.Add(h)
		if err != nil {
			failed.Store(err)
		}
	})
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatalf("%s: %v", o.name, err)
	}
	if g := gets.Load(); g > 0 {
		b.ReportMetric(100*float64(hits.Load())/float64(g), "hit%")
	}
}
