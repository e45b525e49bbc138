package throughput

import (
	"flag"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/segcache/segcache/bench/harness"
)

var flagScalingSystems = flag.String("scaling-systems", "core,fastcache,map", "systems of BenchmarkScaling, comma-separated")

// scalingOps are the operations of BenchmarkScaling: reads, overwrites and
// the 90/10 mix (the ops of §1 with these names).
var scalingOps = []string{"get-hit", "set", "mix90"}

// BenchmarkScaling/<layout>/<system>/<op>: the §1 operations at any
// goroutine count, for `-cpu 1,2,4,8,16` on a machine that has the cores
// (ns/op is the aggregate over GOMAXPROCS goroutines, so perfect scaling
// halves it when the goroutines double), with two layouts of the keys:
//
//   - hot-first: keys inserted in popularity order, so the hottest keys are
//     neighbours in memory (the same few segments and their headers);
//   - shuffled: keys inserted in an order unrelated to popularity, so hot
//     keys are spread over the whole heap.
//
// A gain on one layout that is a loss on the other shows here. Goroutine g
// starts at g*SeqLen/32 of the key sequence, so up to 31 goroutines walk
// distinct stretches.
func BenchmarkScaling(b *testing.B) {
	w := getWorkload()
	n := w.hit.Len()
	layouts := []struct {
		name  string
		order []int
	}{
		{"hot-first", harness.RankToKey(n, harness.SeqSeed)},
		{"shuffled", rand.New(rand.NewPCG(9, 9)).Perm(n)},
	}
	for _, l := range layouts {
		b.Run(l.name, func(b *testing.B) {
			for _, sys := range strings.Split(*flagScalingSystems, ",") {
				b.Run(sys, func(b *testing.B) {
					c := fill(b, sys, w, l.order)
					defer func() {
						c.Close()
						runtime.GC()
					}()
					for _, o := range ops {
						if !contains(scalingOps, o.name) {
							continue
						}
						if o.refill {
							if _, err := harness.FillInOrder(c, w.hit, w.val, l.order); err != nil {
								b.Fatalf("%s: refill: %v", sys, err)
							}
						}
						b.Run(o.name, func(b *testing.B) { runOp(b, c, w, o, seqLen/32) })
					}
				})
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
