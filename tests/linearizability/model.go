package linearizability

import (
	"fmt"
	"strconv"

	"github.com/anishathalye/porcupine"
)

// Op is an operation on one key.
type Op uint8

// The operations the model knows. CAS and DeleteCAS carry the value their
// token was taken with (Input.Expect).
const (
	Set Op = iota
	Add
	Replace
	Delete
	Get
	CAS
	DeleteCAS
	Incr
	Decr
	// Take returns the key's value and removes it in one step (memcached's
	// touch to a past time: mg T-1, gat with a past exptime).
	Take
	// Append and Prepend add Input.Val after or before the value.
	Append
	Prepend
)

var opNames = [...]string{"set", "add", "replace", "delete", "get", "cas", "delete-cas", "incr", "decr", "take", "append", "prepend"}

func (o Op) String() string { return opNames[o] }

// Input is what an operation was asked.
type Input struct {
	Key    string
	Op     Op
	Val    string // the value Set, Add, Replace and CAS write; what Append and Prepend add
	Expect string // CAS, DeleteCAS: the value the token was read or written with
	Delta  uint64 // Incr, Decr
}

// The outcomes of an operation (Output.Res).
const (
	OK         = "ok"         // done; Get, Take: found
	Exists     = "exists"     // Add: present; CAS, DeleteCAS: changed since the token
	NotFound   = "not found"  // absent
	NotNumeric = "not number" // Incr, Decr on a value that is not a number
)

// Output is what an operation returned.
type Output struct {
	Res string
	Val string // Get, Take: the value found; Incr, Decr: the new number
}

// state is one key's: present, holding v.
type state struct {
	present bool
	v       string
}

// step applies in, which returned out, to s: whether s allows that
// outcome, and the state after it.
func step(s state, in Input, out Output) (bool, state) {
	absent := state{}
	switch in.Op {
	case Set:
		return out.Res == OK, state{true, in.Val}
	case Add:
		if s.present {
			return out.Res == Exists, s
		}
		return out.Res == OK, state{true, in.Val}
	case Replace:
		if !s.present {
			return out.Res == NotFound, s
		}
		return out.Res == OK, state{true, in.Val}
	case Delete:
		if !s.present {
			return out.Res == NotFound, s
		}
		return out.Res == OK, absent
	case Append, Prepend:
		if !s.present {
			return out.Res == NotFound, s
		}
		if in.Op == Append {
			return out.Res == OK, state{true, s.v + in.Val}
		}
		return out.Res == OK, state{true, in.Val + s.v}
	case Get, Take:
		if !s.present {
			return out.Res == NotFound, s
		}
		if in.Op == Take {
			return out.Res == OK && out.Val == s.v, absent
		}
		return out.Res == OK && out.Val == s.v, s
	case CAS, DeleteCAS:
		switch {
		case !s.present:
			return out.Res == NotFound, s
		case s.v != in.Expect:
			return out.Res == Exists, s
		case in.Op == CAS:
			return out.Res == OK, state{true, in.Val}
		default:
			return out.Res == OK, absent
		}
	case Incr, Decr:
		if !s.present {
			return out.Res == NotFound, s
		}
		n, err := strconv.ParseUint(s.v, 10, 64)
		if err != nil {
			return out.Res == NotNumeric, s
		}
		switch {
		case in.Op == Incr:
			n += in.Delta
		case in.Delta >= n:
			n = 0
		default:
			n -= in.Delta
		}
		v := strconv.FormatUint(n, 10)
		return out.Res == OK && out.Val == v, state{true, v}
	}
	panic(fmt.Sprintf("unknown op %d", in.Op))
}

// Model is a map of keys, each checked on its own. With lossy, a present
// key may become absent before any operation (the cache evicted it).
func Model(lossy bool) porcupine.Model {
	nm := porcupine.NondeterministicModel{
		Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
			byKey := map[string][]porcupine.Operation{}
			var keys []string
			for _, op := range history {
				k := op.Input.(Input).Key
				if _, ok := byKey[k]; !ok {
					keys = append(keys, k)
				}
				byKey[k] = append(byKey[k], op)
			}
			var parts [][]porcupine.Operation
			for _, k := range keys {
				parts = append(parts, byKey[k])
			}
			return parts
		},
		Init: func() []any { return []any{state{}} },
		Step: func(st, in, out any) []any {
			s := st.(state)
			from := []state{s}
			if lossy && s.present {
				from = append(from, state{})
			}
			var next []any
			for _, f := range from {
				if ok, n := step(f, in.(Input), out.(Output)); ok {
					next = append(next, n)
				}
			}
			return next
		},
		Equal: func(a, b any) bool { return a.(state) == b.(state) },
		DescribeOperation: func(in, out any) string {
			i, o := in.(Input), out.(Output)
			s := fmt.Sprintf("%s %s", i.Op, i.Key)
			switch i.Op {
			case Set, Add, Replace, Append, Prepend:
				s += " " + i.Val
			case CAS:
				s += fmt.Sprintf(" %s if %s", i.Val, i.Expect)
			case DeleteCAS:
				s += " if " + i.Expect
			case Incr, Decr:
				s += fmt.Sprintf(" %d", i.Delta)
			}
			s += " -> " + o.Res
			if o.Val != "" {
				s += " " + o.Val
			}
			return s
		},
		DescribeState: func(st any) string {
			if s := st.(state); s.present {
				return s.v
			}
			return "(absent)"
		},
	}
	return nm.ToModel()
}
