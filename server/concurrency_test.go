package server

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestThousandPipelinedConnections opens 1,000 connections at once; each
// sends rounds of pipelined requests (sets, a multi-get, gets, an
// increment of shared counters) without waiting, then checks every reply.
// At the end the shared counters must hold every increment: the raw one
// goes through the engine's in-place incr, the flagged one through the
// server's CAS loop.
func TestThousandPipelinedConnections(t *testing.T) {
	conns, rounds, keys := 1000, 3, 8
	if testing.Short() {
		conns = 200
	}
	ts := startServer(t, Config{MaxConns: conns + 10})
	setup := ts.dial()
	runSteps(t, setup, []step{{"set raw 0 0 1\r\n0\r\nset flagged 7 0 1\r\n0\r\n", "STORED\r\nSTORED\r\n"}})

	clients := make([]*client, conns)
	for i := range clients {
		clients[i] = ts.dial()
	}
	var wg sync.WaitGroup
	errs := make(chan string, conns)
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				var req, want strings.Builder
				var names []string
				for k := range keys {
					name := fmt.Sprintf("c%d-r%d-k%d", i, r, k)
					val := strings.Repeat(strconv.Itoa(k), 1+(i+k)%40)
					names = append(names, name)
					fmt.Fprintf(&req, "set %s %d 0 %d\r\n%s\r\n", name, k, len(val), val)
					want.WriteString("STORED\r\n")
				}
				req.WriteString("get " + strings.Join(names, " ") + " absent\r\n")
				for k, name := range names {
					val := strings.Repeat(strconv.Itoa(k), 1+(i+k)%40)
					fmt.Fprintf(&want, "VALUE %s %d %d\r\n%s\r\n", name, k, len(val), val)
				}
				want.WriteString("END\r\n")
				req.WriteString("incr raw 1 noreply\r\nincr flagged 1 noreply\r\ndelete " + names[0] + "\r\nget " + names[0] + "\r\n")
				want.WriteString("DELETED\r\nEND\r\n")
				c.nc.Write([]byte(req.String()))
				got := c.readNQuiet(want.Len())
				if diff := cmp.Diff(want.String(), got); diff != "" {
					errs <- fmt.Sprintf("connection %d round %d (-want +got):\n%s", i, r, diff)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	total := strconv.Itoa(conns * rounds)
	runSteps(t, setup, []step{{"get raw flagged\r\n",
		fmt.Sprintf("VALUE raw 0 %d\r\n%s\r\nVALUE flagged 7 %d\r\n%s\r\nEND\r\n", len(total), total, len(total), total)}})
}

// TestConcurrentAppendIsAtomic: appends racing on one key all land.
func TestConcurrentAppendIsAtomic(t *testing.T) {
	ts := startServer(t, Config{})
	setup := ts.dial()
	runSteps(t, setup, []step{{"set log 3 3600 0\r\n\r\n", "STORED\r\n"}})
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		c := ts.dial()
		wg.Add(1)
		go func() {
			defer wg.Done()
			var req strings.Builder
			for range each {
				fmt.Fprintf(&req, "append log 0 0 1\r\n%c\r\n", 'a'+w)
			}
			c.nc.Write([]byte(req.String()))
			c.readNQuiet(len("STORED\r\n") * each)
		}()
	}
	wg.Wait()
	v, _ := gets(t, setup, "log")
	counts := map[rune]int{}
	for _, r := range v {
		counts[r]++
	}
	for w := range writers {
		if counts[rune('a'+w)] != each {
			t.Fatalf("writer %d: %d of %d appends in %q", w, counts[rune('a'+w)], each, v)
		}
	}
	if got := statsOf(t, setup, "stats\r\n"); got["curr_items"] != "1" {
		t.Fatalf("curr_items = %s", got["curr_items"])
	}
}
