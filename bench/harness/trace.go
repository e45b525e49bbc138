package harness

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/zeebo/xxh3"
)

// TracesEnv names the environment variable that points at the traces.
const TracesEnv = "SEGCACHE_TRACES"

// TracesDir resolves the trace directory: the flag value if set, else
// $SEGCACHE_TRACES, else ../shared/traces beside the repository root (the
// directory holding the segcache go.mod, found by walking up from the
// working directory). The traces are never copied into the repository.
func TracesDir(flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if d := os.Getenv(TracesEnv); d != "" {
		return d, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module github.com/segcache/segcache\n") {
			return filepath.Join(filepath.Dir(dir), "shared", "traces"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("harness: repository root not found; set " + TracesEnv)
		}
		dir = parent
	}
}

// ReadTrace reads a trace file (gzip of big-endian uint32 key ids) and
// returns at most limit ids (all if limit <= 0).
func ReadTrace(path string, limit int) ([]uint32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w (set -traces or %s)", err, TracesEnv)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r := bufio.NewReaderSize(zr, 1<<16)
	var ids []uint32
	var w [4]byte
	for limit <= 0 || len(ids) < limit {
		if _, err := io.ReadFull(r, w[:]); err != nil {
			if err == io.EOF {
				break
			}
			return nil, fmt.Errorf("%s: after %d ids: %w", path, len(ids), err)
		}
		ids = append(ids, binary.BigEndian.Uint32(w[:]))
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%s: empty trace", path)
	}
	return ids, nil
}

// Workload is a trace prepared for replay: requests as dense indexes into
// Keys (8-byte big-endian key ids) and per-key value lengths.
type Workload struct {
	Requests []uint32
	Keys     [][]byte
	ValueLen []int
	MaxValue int
	AvgValue int // mean value length over distinct keys
}

// FixedValue and the variable rule are the traces README's value sizes.
const FixedValue = 64

// VariableValueLen is the variable value size of a key: 16 + xxh3(key) % 1009.
func VariableValueLen(key []byte) int { return 16 + int(xxh3.Hash(key)%1009) }

// Prepare maps ids to dense indexes and sizes each key's value: fixed
// 64-byte values if variable is false, else VariableValueLen.
func Prepare(ids []uint32, variable bool) *Workload {
	w := &Workload{Requests: make([]uint32, len(ids))}
	index := make(map[uint32]uint32)
	total := 0
	for i, id := range ids {
		x, ok := index[id]
		if !ok {
			x = uint32(len(w.Keys))
			index[id] = x
			k := binary.BigEndian.AppendUint32(make([]byte, 4, 8), id)
			n := FixedValue
			if variable {
				n = VariableValueLen(k)
			}
			w.Keys = append(w.Keys, k)
			w.ValueLen = append(w.ValueLen, n)
			w.MaxValue = max(w.MaxValue, n)
			total += n
		}
		w.Requests[i] = x
	}
	w.AvgValue = total / len(w.Keys)
	return w
}

// Result of one replay.
type Result struct {
	Requests, Misses int
	SetErrors        int // sets the cache refused (counted as misses anyway)
	Wrong            int // hits whose value was not the one stored
}

// MissRatio is misses / requests.
func (r Result) MissRatio() float64 { return float64(r.Misses) / float64(r.Requests) }

// Replay runs the workload cache-aside: get; on a miss, set the key with
// its value. A value starts with its own 8-byte key, so every hit is
// checked. progress, if not nil, is called every 1<<20 requests.
func Replay(c Cache, w *Workload, progress func(done int)) Result {
	val := make([]byte, w.MaxValue)
	for i := range val {
		val[i] = byte(i)
	}
	dst := make([]byte, 0, w.MaxValue)
	var r Result
	for i, x := range w.Requests {
		key := w.Keys[x]
		v, ok := c.Get(dst[:0], key)
		if ok {
			if len(v) != w.ValueLen[x] || !bytes.Equal(v[:len(key)], key) {
				r.Wrong++
			}
		} else {
			r.Misses++
			copy(val, key)
			if err := c.Set(key, val[:w.ValueLen[x]]); err != nil {
				r.SetErrors++
			}
		}
		if progress != nil && (i+1)&(1<<20-1) == 0 {
			progress(i + 1)
		}
	}
	r.Requests = len(w.Requests)
	return r
}
