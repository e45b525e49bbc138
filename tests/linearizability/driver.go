package linearizability

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/anishathalye/porcupine"
)

// Client runs operations against the system under test, one at a time.
type Client interface {
	// Run performs in, with token as the CAS token of CAS and
	// DeleteCAS. It returns the outcome and the CAS token of the item
	// it read (Get) or wrote (Set, Add, Replace, CAS) when it learnt one
	// (0 otherwise).
	Run(in Input, token uint64) (out Output, tok uint64)
	// Supports reports whether the client can run op.
	Supports(op Op) bool
}

// Workload is what Record runs.
type Workload struct {
	Clients  int    // goroutines, each with its own Client
	Ops      int    // operations per client
	Plain    int    // plain keys ("p0", ...): written with unique values, tokens used
	Counters int    // counter keys ("n0", ...): numbers, no tokens
	Seed     uint64 // the random choices; each client's derive from it
}

// Record runs w: each client draws random operations on the keys and
// runs them one after another, all clients at once. It returns the
// history: every operation with its input, output, and the logical times
// of its call and return (taken from one counter, so an operation that
// returned before another was called has the smaller return time).
func Record(w Workload, newClient func(id int) Client) []porcupine.Operation {
	var clock atomic.Int64
	histories := make([][]porcupine.Operation, w.Clients)
	var wg sync.WaitGroup
	for id := range w.Clients {
		c := newClient(id)
		wg.Go(func() {
			d := driver{id: id, c: c, w: w, rng: rand.New(rand.NewPCG(w.Seed, uint64(id))), tokens: map[string][]remembered{}}
			for i := range w.Ops {
				in, token := d.draw(i)
				call := clock.Add(1)
				out, tok := c.Run(in, token)
				ret := clock.Add(1)
				d.learn(in, out, tok)
				histories[id] = append(histories[id], porcupine.Operation{ClientId: id, Input: in, Call: call, Output: out, Return: ret})
			}
		})
	}
	wg.Wait()
	var all []porcupine.Operation
	for _, h := range histories {
		all = append(all, h...)
	}
	return all
}

// remembered is a token and the value it stands for.
type remembered struct {
	tok uint64
	val string
}

type driver struct {
	id     int
	c      Client
	w      Workload
	rng    *rand.Rand
	tokens map[string][]remembered // per plain key, the last few learnt
}

// draw returns the i-th operation and, for CAS and DeleteCAS, the token.
func (d *driver) draw(i int) (Input, uint64) {
	if d.w.Counters > 0 && (d.w.Plain == 0 || d.rng.IntN(4) == 0) {
		in := Input{Key: fmt.Sprintf("n%d", d.rng.IntN(d.w.Counters)), Delta: uint64(d.rng.IntN(3))}
		switch r := d.rng.IntN(10); {
		case r < 4:
			in.Op = Incr
		case r < 6:
			in.Op = Decr
		case r < 9:
			in.Op = Get
		default:
			in.Op, in.Val = Set, fmt.Sprint(d.rng.IntN(100))
		}
		return in, 0
	}
	in := Input{Key: fmt.Sprintf("p%d", d.rng.IntN(d.w.Plain)), Val: fmt.Sprintf("c%d.%d", d.id, i)}
	ops := []Op{Set, Set, Add, Replace, Delete, Get, Get, Get, CAS, CAS, CAS, DeleteCAS, Take, Append, Prepend}
	in.Op = ops[d.rng.IntN(len(ops))]
	if !d.c.Supports(in.Op) {
		in.Op = Get
	}
	if in.Op == CAS || in.Op == DeleteCAS {
		known := d.tokens[in.Key]
		if len(known) == 0 {
			in.Op = Get
			return in, 0
		}
		r := known[d.rng.IntN(len(known))]
		in.Expect = r.val
		return in, r.tok
	}
	return in, 0
}

// learn remembers the token an operation returned, with its value (not
// an append's or prepend's, whose resulting value it does not know).
func (d *driver) learn(in Input, out Output, tok uint64) {
	if tok == 0 || out.Res != OK || in.Key[0] != 'p' || in.Op == Append || in.Op == Prepend {
		return
	}
	val := in.Val
	if in.Op == Get {
		val = out.Val
	}
	known := append(d.tokens[in.Key], remembered{tok, val})
	if len(known) > 4 {
		known = known[1:]
	}
	d.tokens[in.Key] = known
}
