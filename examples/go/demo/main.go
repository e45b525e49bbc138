// Command demo shows the Go engine in a few lines: open, set, get, incr.
package main

import (
	"fmt"
	"log"

	"github.com/segcache/segcache/core"
)

func main() {
	c, err := core.Open(core.Options{HeapBytes: 8 << 20})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Set([]byte("greeting"), []byte("hello, segcache"), 0); err != nil {
		log.Fatal(err)
	}
	v, ok := c.Get(nil, []byte("greeting"))
	fmt.Printf("get greeting: %q (found %v)\n", v, ok)
	if err := c.Set([]byte("visits"), []byte("41"), 0); err != nil {
		log.Fatal(err)
	}
	n, err := c.Incr([]byte("visits"), 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("incr visits:", n)
	s := c.Stats()
	fmt.Printf("items=%d item_bytes=%d segments=%d/%d free\n", s.Items, s.ItemBytes, s.SegmentsFree, s.SegmentsTotal)
}
