package server

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
)

// BenchmarkServerGet measures gets over loopback connections in process,
// pipelined and not; ns/req is per request, both sides included.
func BenchmarkServerGet(b *testing.B) {
	req := "get key:000000000001\r\n"
	reply := "VALUE key:000000000001 0 64\r\n" + strings.Repeat("v", 64) + "\r\nEND\r\n"
	benchRequests(b, req, reply)
}

// BenchmarkServerSet is BenchmarkServerGet for sets of 64-byte values;
// its allocs/op shows whether the store path allocates.
func BenchmarkServerSet(b *testing.B) {
	req := "set key:000000000001 0 0 64\r\n" + strings.Repeat("w", 64) + "\r\n"
	benchRequests(b, req, "STORED\r\n")
}

// benchRequests sends req over 50 connections, depth at a time, and reads
// the replies, which must be reply each.
func benchRequests(b *testing.B, req, reply string) {
	for _, depth := range []int{1, 16} {
		b.Run(fmt.Sprintf("conns=50/depth=%d", depth), func(b *testing.B) {
			ts := startServer(b, Config{})
			setup := ts.dial()
			setup.send("set key:000000000001 0 0 64\r\n" + strings.Repeat("v", 64) + "\r\n")
			setup.line()
			const conns = 50
			reqs := []byte(strings.Repeat(req, depth))
			replies := strings.Repeat(reply, depth)
			per := b.N/(conns*depth) + 1
			clients := make([]*client, conns)
			for i := range clients {
				clients[i] = ts.dial()
			}
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			errs := make(chan error, conns)
			for _, c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					buf := make([]byte, len(replies))
					r := bufio.NewReader(c.nc)
					for range per {
						c.nc.Write(reqs)
						if _, err := io.ReadFull(r, buf); err != nil {
							errs <- err
							return
						}
						if string(buf) != replies {
							errs <- fmt.Errorf("got %q, want %q", buf, replies)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			close(errs)
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(per*conns*depth), "ns/req")
		})
	}
}
