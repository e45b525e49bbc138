package core_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/segcache/segcache/core"
)

func Example() {
	c, err := core.Open(core.Options{HeapBytes: 8 << 20, Eviction: core.PolicyS3FIFO})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	c.Set([]byte("user:42"), []byte(`{"name":"Ada"}`), time.Minute)
	if v, ok := c.Get(nil, []byte("user:42")); ok {
		fmt.Printf("%s\n", v)
	}

	c.Set([]byte("hits"), []byte("10"), 0) // a canonical decimal is stored as a number
	n, _ := c.Incr([]byte("hits"), 5)
	fmt.Println(n)

	if err := c.Add([]byte("hits"), []byte("0"), 0); errors.Is(err, core.ErrExists) {
		fmt.Println("add refused: key exists")
	}
	// Output:
	// {"name":"Ada"}
	// 15
	// add refused: key exists
}

func ExampleCache_CAS() {
	c, _ := core.Open(core.Options{HeapBytes: 8 << 20})
	defer c.Close()
	c.Set([]byte("config"), []byte("v1"), 0)

	_, token, _ := c.GetCAS(nil, []byte("config"))
	c.Set([]byte("config"), []byte("v2 by someone else"), 0)
	err := c.CAS([]byte("config"), []byte("v3"), 0, token)
	fmt.Println(errors.Is(err, core.ErrExists))
	// Output: true
}

// Store returns the token of the item it wrote, so a writer can go on
// with compare-and-sets without reading its own write back.
func ExampleCache_Store() {
	c, _ := core.Open(core.Options{HeapBytes: 8 << 20})
	defer c.Close()
	key := []byte("config")

	token, _ := c.Store(core.StoreSet, key, []byte("v1"), 0, 0)
	token, err := c.Store(core.StoreCAS, key, []byte("v2"), 0, token)
	fmt.Println(err)
	c.Set(key, []byte("v3 by someone else"), 0)
	_, err = c.Store(core.StoreCAS, key, []byte("v4"), 0, token)
	fmt.Println(errors.Is(err, core.ErrExists))
	// Output:
	// <nil>
	// true
}
