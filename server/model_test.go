package server

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
)

// modelItem is memcached's view of an item.
type modelItem struct {
	flags uint32
	value string
}

// TestModel plays random commands on a few keys, with values that
// exercise the flag envelope (marker bytes, numbers, empty values, flags
// and TTLs), and checks every reply against a map model of memcached's
// semantics.
func TestModel(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dial()
	const keys = 6
	alphabet := []string{"0", "1", "7", "9", "a", " ", "\xfc", "\xfd", "\xff", "\r", "\n"}
	for seed := range uint64(4) {
		rng := rand.New(rand.NewPCG(seed, 7))
		model := map[string]modelItem{}
		runSteps(t, c, []step{{"flush_all\r\n", "OK\r\n"}})
		randValue := func() string {
			if rng.IntN(3) == 0 {
				return strconv.FormatUint(rng.Uint64N(1000), 10)
			}
			v := ""
			for range rng.IntN(6) {
				v += alphabet[rng.IntN(len(alphabet))]
			}
			return v
		}
		randFlags := func() uint32 {
			if rng.IntN(2) == 0 {
				return 0
			}
			return rng.Uint32()
		}
		randExptime := func() int {
			return []int{0, 0, 3600, 100000}[rng.IntN(4)]
		}
		for i := range 1500 {
			k := fmt.Sprintf("k%d", rng.IntN(keys))
			it, ok := model[k]
			var send, want string
			switch op := rng.IntN(11); op {
			case 0, 1, 2, 3, 4: // set add replace append prepend
				verb := []string{"set", "add", "replace", "append", "prepend"}[op]
				v, f := randValue(), randFlags()
				send = fmt.Sprintf("%s %s %d %d %d\r\n%s\r\n", verb, k, f, randExptime(), len(v), v)
				want = "STORED\r\n"
				switch {
				case verb == "set", verb == "add" && !ok, verb == "replace" && ok:
					model[k] = modelItem{f, v}
				case verb == "append" && ok:
					model[k] = modelItem{it.flags, it.value + v}
				case verb == "prepend" && ok:
					model[k] = modelItem{it.flags, v + it.value}
				default:
					want = "NOT_STORED\r\n"
				}
			case 5:
				send = "delete " + k + "\r\n"
				want = "NOT_FOUND\r\n"
				if ok {
					want = "DELETED\r\n"
					delete(model, k)
				}
			case 6, 7: // incr decr
				d := rng.Uint64N(20)
				verb := []string{"incr", "decr"}[op-6]
				send = fmt.Sprintf("%s %s %d\r\n", verb, k, d)
				n, numeric := parseCounter([]byte(it.value))
				switch {
				case !ok:
					want = "NOT_FOUND\r\n"
				case !numeric:
					want = "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
				default:
					if verb == "incr" {
						n += d
					} else {
						n -= min(n, d)
					}
					want = strconv.FormatUint(n, 10) + "\r\n"
					model[k] = modelItem{it.flags, strconv.FormatUint(n, 10)}
				}
			case 8:
				send = fmt.Sprintf("touch %s %d\r\n", k, randExptime())
				want = "NOT_FOUND\r\n"
				if ok {
					want = "TOUCHED\r\n"
				}
			default:
				send = "get " + k + "\r\n"
				want = "END\r\n"
				if ok {
					want = fmt.Sprintf("VALUE %s %d %d\r\n%s\r\nEND\r\n", k, it.flags, len(it.value), it.value)
				}
			}
			c.send(send)
			if got := c.readN(len(want)); got != want {
				t.Fatalf("seed %d op %d: %q answered %q, want %q", seed, i, send, got, want)
			}
		}
		// Everything the model holds is there, with its flags.
		for k, it := range model {
			c.send("get " + k + "\r\n")
			want := fmt.Sprintf("VALUE %s %d %d\r\n%s\r\nEND\r\n", k, it.flags, len(it.value), it.value)
			if got := c.readN(len(want)); got != want {
				t.Fatalf("seed %d final get %s = %q, want %q", seed, k, got, want)
			}
		}
	}
}
