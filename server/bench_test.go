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
// pipelined and not; ns/op is per request, both sides included.
func BenchmarkServerGet(b *testing.B) {
	for _, depth := range []int{1, 16} {
		b.Run(fmt.Sprintf("conns=50/depth=%d", depth), func(b *testing.B) {
			ts := startServer(b, Config{})
			setup := ts.dial()
			setup.send("set key:000000000001 0 0 64\r\n" + strings.Repeat("v", 64) + "\r\n")
			setup.line()
			const conns = 50
			req := strings.Repeat("get key:000000000001\r\n", depth)
			reply := len("VALUE key:000000000001 0 64\r\n") + 64 + 2 + len("END\r\n")
			per := b.N/(conns*depth) + 1
			clients := make([]*client, conns)
			for i := range clients {
				clients[i] = ts.dial()
			}
			b.ResetTimer()
			var wg sync.WaitGroup
			for _, c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					buf := make([]byte, reply*depth)
					r := bufio.NewReader(c.nc)
					for range per {
						io.WriteString(c.nc, req)
						if _, err := io.ReadFull(r, buf); err != nil {
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(per*conns*depth), "ns/req")
		})
	}
}
