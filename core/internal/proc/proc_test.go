package proc

import (
	"runtime"
	"sync"
	"testing"
)

func TestIDInRange(t *testing.T) {
	n := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for g := 0; g < 4*n; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				if id := ID(); id < 0 || id >= n {
					t.Errorf("ID() = %d outside [0, %d)", id, n)
					return
				}
			}
		}()
	}
	wg.Wait()
}
