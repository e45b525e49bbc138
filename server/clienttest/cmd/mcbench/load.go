package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// workload is one load generator run.
type workload struct {
	addr     string
	conns    int           // connections, each with its own goroutine
	depth    int           // requests pipelined per round trip
	keys     int           // key space: key:000000000000 ... (16 bytes)
	valueLen int           // bytes per value
	getRatio float64       // share of gets; the rest are sets
	zipfS    float64       // Zipf exponent of key popularity (> 1)
	duration time.Duration // measuring time
}

// result of a run. Latency is per request: from the send of its pipelined
// batch to the arrival of its reply.
type result struct {
	Ops       uint64  `json:"ops"`
	Seconds   float64 `json:"seconds"`
	OpsPerSec float64 `json:"ops_per_sec"`
	P50us     float64 `json:"p50_us"`
	P99us     float64 `json:"p99_us"`
	Hits      uint64  `json:"hits"`
	Misses    uint64  `json:"misses"`
}

func keyName(dst []byte, i uint64) []byte {
	dst = append(dst, "key:"...)
	s := strconv.FormatUint(i, 10)
	for range 12 - len(s) {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// histogram of latencies in log-linear buckets: 16 per power of two of
// nanoseconds, so quantiles are within about 6%.
type histogram [64 * 16]uint64

func (h *histogram) record(d time.Duration) {
	ns := uint64(max(d, 1))
	e := bits.Len64(ns) - 1
	sub := uint64(0)
	if e >= 4 {
		sub = (ns >> (e - 4)) & 15
	} else {
		sub = (ns << (4 - e)) & 15
	}
	h[e*16+int(sub)]++
}

func (h *histogram) add(o *histogram) {
	for i := range h {
		h[i] += o[i]
	}
}

// quantile returns the lower bound of the bucket holding quantile q.
func (h *histogram) quantile(q float64) time.Duration {
	var total uint64
	for _, n := range h {
		total += n
	}
	want := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, n := range h {
		seen += n
		if seen >= want && n > 0 {
			e, sub := i/16, uint64(i%16)
			return time.Duration((uint64(1) << e) + (sub<<e)/16)
		}
	}
	return 0
}

// conn is a pipelining client connection.
type conn struct {
	nc net.Conn
	r  *bufio.Reader
	w  *bufio.Writer
}

func dial(addr string) (*conn, error) {
	nc, err := net.DialTimeout("tcp", addr, 30*time.Second)
	if err != nil {
		return nil, err
	}
	return &conn{nc, bufio.NewReaderSize(nc, 64<<10), bufio.NewWriterSize(nc, 64<<10)}, nil
}

var errReply = errors.New("unexpected reply")

// readGet reads the reply of a single-key get; it reports a hit.
func (c *conn) readGet(valueLen int) (bool, error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return false, err
	}
	if bytes.Equal(line, []byte("END\r\n")) {
		return false, nil
	}
	if !bytes.HasPrefix(line, []byte("VALUE ")) {
		return false, fmt.Errorf("%w to get: %q", errReply, line)
	}
	if _, err := c.r.Discard(valueLen + 2); err != nil {
		return false, err
	}
	line, err = c.r.ReadSlice('\n')
	if err != nil {
		return false, err
	}
	if !bytes.Equal(line, []byte("END\r\n")) {
		return false, fmt.Errorf("%w after a value: %q", errReply, line)
	}
	return true, nil
}

func (c *conn) readStored() error {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.Equal(line, []byte("STORED\r\n")) {
		return fmt.Errorf("%w to set: %q", errReply, line)
	}
	return nil
}

// preload stores keys [0, n) over conns connections, pipelined.
func preload(addr string, conns, n, valueLen int) error {
	value := bytes.Repeat([]byte("v"), valueLen)
	var next atomic.Int64
	errs := make(chan error, conns)
	var wg sync.WaitGroup
	for range conns {
		c, err := dial(addr)
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.nc.Close()
			var key []byte
			const batch = 200
			for {
				start := int(next.Add(batch)) - batch
				if start >= n {
					return
				}
				end := min(start+batch, n)
				for i := start; i < end; i++ {
					key = keyName(key[:0], uint64(i))
					fmt.Fprintf(c.w, "set %s 0 0 %d\r\n", key, valueLen)
					c.w.Write(value)
					c.w.WriteString("\r\n")
				}
				if err := c.w.Flush(); err != nil {
					errs <- err
					return
				}
				for i := start; i < end; i++ {
					if err := c.readStored(); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// run drives the workload and measures it.
func run(w workload) (result, error) {
	clients := make([]*conn, w.conns)
	for i := range clients {
		c, err := dial(w.addr)
		if err != nil {
			return result{}, err
		}
		defer c.nc.Close()
		clients[i] = c
	}
	var stop atomic.Bool
	hists := make([]histogram, w.conns)
	ops := make([]uint64, w.conns)
	hits := make([]uint64, w.conns)
	misses := make([]uint64, w.conns)
	errs := make(chan error, w.conns)
	value := bytes.Repeat([]byte("w"), w.valueLen)
	setHeader := []byte(" 0 0 " + strconv.Itoa(w.valueLen) + "\r\n")
	var wg sync.WaitGroup
	start := time.Now()
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i)+1, 42))
			zipf := rand.NewZipf(rng, w.zipfS, 1, uint64(w.keys-1))
			isGet := make([]bool, w.depth)
			var key []byte
			for !stop.Load() {
				for j := range w.depth {
					key = keyName(key[:0], zipf.Uint64())
					isGet[j] = rng.Float64() < w.getRatio
					if isGet[j] {
						c.w.WriteString("get ")
						c.w.Write(key)
						c.w.WriteString("\r\n")
					} else {
						c.w.WriteString("set ")
						c.w.Write(key)
						c.w.Write(setHeader)
						c.w.Write(value)
						c.w.WriteString("\r\n")
					}
				}
				t0 := time.Now()
				if err := c.w.Flush(); err != nil {
					errs <- err
					return
				}
				c.nc.SetReadDeadline(t0.Add(30 * time.Second))
				for j := range w.depth {
					if isGet[j] {
						hit, err := c.readGet(w.valueLen)
						if err != nil {
							errs <- err
							return
						}
						if hit {
							hits[i]++
						} else {
							misses[i]++
						}
					} else if err := c.readStored(); err != nil {
						errs <- err
						return
					}
					hists[i].record(time.Since(t0))
				}
				ops[i] += uint64(w.depth)
			}
		}()
	}
	time.Sleep(w.duration)
	stop.Store(true)
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil && !errors.Is(err, io.EOF) {
		return result{}, err
	}
	var h histogram
	var res result
	for i := range clients {
		h.add(&hists[i])
		res.Ops += ops[i]
		res.Hits += hits[i]
		res.Misses += misses[i]
	}
	res.Seconds = elapsed.Seconds()
	res.OpsPerSec = float64(res.Ops) / res.Seconds
	res.P50us = float64(h.quantile(0.50)) / 1e3
	res.P99us = float64(h.quantile(0.99)) / 1e3
	return res, nil
}
