//go:build linux

package throughput

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/segcache/segcache/bench/harness"
)

// memTable is the physical-limit reference: an anonymous mapping as large
// as core's memory in §1 (heap + hashtable), of 64-byte lines whose first
// word holds the index of another line (a random permutation), so that a
// load of one line says where the next load goes, as a hashtable slot says
// where the item is.
type memTable struct {
	mem   []byte
	words []uint64
	lines uint64
}

const hugePage = 2 << 20

// newMemTable maps bytes (rounded up to a huge page), asks for huge pages
// or for none (madvise), and fills it, which faults every page in.
func newMemTable(b *testing.B, bytes uint64, huge bool) *memTable {
	size := (bytes + hugePage - 1) &^ (hugePage - 1)
	mem, err := syscall.Mmap(-1, 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		b.Fatalf("mmap %d bytes: %v", size, err)
	}
	advice := syscall.MADV_NOHUGEPAGE
	if huge {
		advice = syscall.MADV_HUGEPAGE
	}
	if err := syscall.Madvise(mem, advice); err != nil {
		syscall.Munmap(mem)
		b.Fatalf("madvise: %v", err)
	}
	t := &memTable{mem: mem, words: unsafe.Slice((*uint64)(unsafe.Pointer(&mem[0])), size/8), lines: size / 64}
	rng := rand.New(rand.NewPCG(7, 7))
	for i, to := range rng.Perm(int(t.lines)) {
		t.words[i*8] = uint64(to)
		t.words[i*8+1] = uint64(i) // what the second load reads: < 2^63
	}
	return t
}

func (t *memTable) close() { syscall.Munmap(t.mem) }

// hugeShare is the share of the table's resident memory backed by huge
// pages, in percent (from /proc/self/smaps; -1 if it cannot be read): it
// says whether the kernel honoured the madvise.
func (t *memTable) hugeShare() float64 {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return -1
	}
	defer f.Close()
	start := fmt.Sprintf("%x-", uintptr(unsafe.Pointer(&t.mem[0])))
	in := false
	var rss, huge float64 = -1, -1
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if f := strings.Fields(l); len(f) > 0 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			in = strings.HasPrefix(l, start)
			continue
		}
		if !in {
			continue
		}
		if v, ok := strings.CutPrefix(l, "Rss:"); ok {
			rss, _ = strconv.ParseFloat(strings.Fields(v)[0], 64)
		}
		if v, ok := strings.CutPrefix(l, "AnonHugePages:"); ok {
			huge, _ = strconv.ParseFloat(strings.Fields(v)[0], 64)
		}
	}
	if rss <= 0 || huge < 0 {
		return -1
	}
	return 100 * huge / rss
}

// uniformSeq returns SeqLen indexes drawn uniformly from [0, n).
func uniformSeq(n int, seed uint64) []uint32 {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	s := make([]uint32, seqLen)
	for i := range s {
		s[i] = uint32(rng.IntN(n))
	}
	return s
}

var physSink uint64

// BatchLen is the GetBatch size of the physical-limit benchmarks.
const batchLen = 16

// BenchmarkPhysical/<case>: the physical limit of a get beside core's get.
//
//   - ref-2loads/{thp,nothp}: per op, two dependent loads at uniformly
//     random lines of a table as large as core's memory, with huge pages
//     (MADV_HUGEPAGE) and without (MADV_NOHUGEPAGE); each op's first load
//     also waits for the previous op's second, so an op costs the latency
//     of two dependent misses and nothing overlaps: a get that touched only
//     a bucket line and an item line, with no work of its own.
//   - ref-2loads-prefetch16/{thp,nothp}: the same loads in batches of 16,
//     issued as a batch lookup does: prefetch the 16 first lines, then read
//     each and prefetch its second line, then read those; ns/op per key.
//   - core/get-uniform: core's Get of present keys chosen uniformly (cold:
//     the working set is the whole cache), as in §1 otherwise.
//   - core/getbatch16-uniform: core's GetBatch of 16 such keys, ns/op per key.
//
// huge% is the share of the table's resident memory in huge pages.
// Meant for -cpu 1.
func BenchmarkPhysical(b *testing.B) {
	w := getWorkload()
	spec := harness.FitSpec(w.hit.Len(), *flagHashFill)
	memBytes := spec.Core.HeapBytes + uint64(8)<<spec.Core.HashPower
	fmt.Printf("physical-table-bytes: %d\n", memBytes)
	for _, huge := range []bool{true, false} {
		name := map[bool]string{true: "thp", false: "nothp"}[huge]
		b.Run("ref-2loads/"+name, func(b *testing.B) {
			t := newMemTable(b, memBytes, huge)
			defer t.close()
			seq := uniformSeq(int(t.lines), 1)
			words := t.words
			var prev uint64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// prev>>63 is 0 (stored words are < 2^63), but the CPU must
				// wait for prev to know it: ops do not overlap.
				l1 := uint64(seq[i&mask]) + prev>>63
				l2 := words[l1*8]
				prev = words[l2*8+1]
			}
			b.StopTimer()
			physSink += prev
			b.ReportMetric(t.hugeShare(), "huge%")
		})
		b.Run("ref-2loads-prefetch16/"+name, func(b *testing.B) {
			t := newMemTable(b, memBytes, huge)
			defer t.close()
			seq := uniformSeq(int(t.lines), 1)
			words := t.words
			var second [batchLen]uint64
			var prev uint64
			b.ResetTimer()
			for i := 0; i < b.N; i += batchLen {
				first := seq[(i&mask)&^(batchLen-1):][:batchLen]
				dep := prev >> 63
				for _, l1 := range first {
					prefetch(unsafe.Pointer(&words[(uint64(l1)+dep)*8]))
				}
				for j, l1 := range first {
					second[j] = words[(uint64(l1)+dep)*8]
					prefetch(unsafe.Pointer(&words[second[j]*8]))
				}
				for _, l2 := range second {
					prev += words[l2*8+1]
				}
				prev &= 1<<63 - 1
			}
			b.StopTimer()
			physSink += prev
			b.ReportMetric(t.hugeShare(), "huge%")
		})
	}
	b.Run("core", func(b *testing.B) {
		c := fill(b, "core", w, nil)
		defer c.Close()
		cc := harness.Core(c)
		seq := uniformSeq(w.hit.Len(), 2)
		b.Run("get-uniform", func(b *testing.B) {
			dst := make([]byte, 0, 128)
			hits := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, ok := cc.Get(dst[:0], w.hit.At(int(seq[i&mask]))); ok {
					hits++
				}
			}
			b.StopTimer()
			b.ReportMetric(100*float64(hits)/float64(b.N), "hit%")
		})
		b.Run(fmt.Sprintf("getbatch%d-uniform", batchLen), func(b *testing.B) {
			keys := make([][]byte, batchLen)
			bufs := make([][]byte, batchLen)
			for j := range bufs {
				bufs[j] = make([]byte, 128)
			}
			lens := make([]int, batchLen)
			errs := make([]error, batchLen)
			hits, n := 0, 0
			b.ResetTimer()
			for i := 0; i < b.N; i += batchLen {
				for j := range keys {
					keys[j] = w.hit.At(int(seq[(i+j)&mask]))
				}
				cc.GetBatch(keys, bufs, lens, errs)
				for _, err := range errs {
					if err == nil {
						hits++
					}
				}
				n += batchLen
			}
			b.StopTimer()
			b.ReportMetric(100*float64(hits)/float64(n), "hit%")
		})
	})
}
