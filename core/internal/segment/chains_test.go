package segment

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestChainsModel applies random appends, insertions and removals to
// Chains and to a model (plain slices per chain and per pool) and compares
// every list, forwards, after each step.
func TestChainsModel(t *testing.T) {
	const n, buckets = 64, 3
	c := NewChains(n, buckets)
	chains := make([][]int32, buckets*Pools)
	pools := make([][]int32, Pools)
	listed := map[int32]bool{}
	r := rand.New(rand.NewPCG(3, 4))
	remove := func(s []int32, id int32) []int32 { return slices.DeleteFunc(s, func(x int32) bool { return x == id }) }
	for step := 0; step < 20000; step++ {
		id := int32(r.IntN(n))
		switch {
		case listed[id]:
			ch := c.Chain(id)
			c.Remove(id)
			chains[ch] = remove(chains[ch], id)
			pools[ch%Pools] = remove(pools[ch%Pools], id)
			delete(listed, id)
		case r.IntN(4) == 0 && len(listed) > 0:
			// Insert before a listed segment, in its chain and pool.
			var at int32 = -1
			for x := range listed {
				at = x
				break
			}
			ch := c.Chain(at)
			c.InsertBefore(id, at)
			chains[ch] = slices.Insert(chains[ch], slices.Index(chains[ch], at), id)
			pools[ch%Pools] = slices.Insert(pools[ch%Pools], slices.Index(pools[ch%Pools], at), id)
			listed[id] = true
		default:
			b, p := int32(r.IntN(buckets)), int32(r.IntN(Pools))
			c.Append(id, b, p)
			chains[ChainOf(b, p)] = append(chains[ChainOf(b, p)], id)
			pools[p] = append(pools[p], id)
			listed[id] = true
		}
		for ch := range chains {
			var got []int32
			for x := c.Head(int32(ch)); x != None; x = c.Next(x) {
				got = append(got, x)
			}
			if !slices.Equal(chains[ch], got) {
				t.Fatalf("step %d: chain %d = %v, want %v", step, ch, got, chains[ch])
			}
		}
		for p := range pools {
			var got []int32
			for x := c.PoolHead(int32(p)); x != None; x = c.PoolNext(x) {
				got = append(got, x)
			}
			if !slices.Equal(pools[p], got) || c.Len(int32(p)) != len(pools[p]) {
				t.Fatalf("step %d: pool %d = %v (len %d), want %v", step, p, got, c.Len(int32(p)), pools[p])
			}
		}
	}
}
