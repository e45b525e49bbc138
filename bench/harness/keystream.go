package harness

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/segcache/segcache/core"
)

// SeqLen is the length of the §1 key sequence, walked cyclically (a power
// of two, so that walkers wrap with a mask).
const SeqLen = 1 << 22

// SeqSeed seeds the §1 key sequence (and so its rank-to-key permutation).
const SeqSeed = 42

// ThroughputWorkload is the §1 workload: the keys inserted (Hit), keys never
// inserted (Miss), the Zipf(0.99) sequence of key indexes every operation
// walks, and the fixed value.
type ThroughputWorkload struct {
	Hit, Miss KeySet
	Seq       []uint32
	Val       []byte
}

// NewThroughputWorkload builds the §1 workload over n keys. It is a pure
// function of n: the Go benchmarks and the programs that read a key
// stream file (the Rust peer) see the same keys in the same order.
func NewThroughputWorkload(n int) ThroughputWorkload {
	return ThroughputWorkload{
		Hit:  Keys(n, 0),
		Miss: Keys(n, MissSalt),
		Seq:  Sequence(n, SeqLen, 0.99, SeqSeed),
		Val:  Value(),
	}
}

// keyStreamMagic starts a key stream file; the digit is its format version.
const keyStreamMagic = "SEGKS001"

// WriteKeyStream writes w and the cache configuration to out, for programs
// outside Go that must drive the same workload. The format (every integer
// little-endian u64 unless said otherwise):
//
//	"SEGKS001"
//	keys, seq_len, key_len, value_len, heap_bytes, segment_bytes, hash_power
//	value (value_len bytes)
//	hit keys (keys x key_len bytes), miss keys (the same)
//	sequence (seq_len x u32 little-endian key indexes)
func WriteKeyStream(out io.Writer, w ThroughputWorkload, opts core.Options) error {
	bw := bufio.NewWriterSize(out, 1<<20)
	bw.WriteString(keyStreamMagic)
	for _, v := range []uint64{uint64(w.Hit.Len()), uint64(len(w.Seq)), KeyLen, uint64(len(w.Val)),
		opts.HeapBytes, uint64(opts.SegmentBytes), uint64(opts.HashPower)} {
		binary.Write(bw, binary.LittleEndian, v)
	}
	bw.Write(w.Val)
	bw.Write(w.Hit.b)
	bw.Write(w.Miss.b)
	var b [4]byte
	for _, i := range w.Seq {
		binary.LittleEndian.PutUint32(b[:], i)
		bw.Write(b[:])
	}
	return bw.Flush() // a bufio.Writer keeps its first error and returns it here
}

// ReadKeyStream reads what WriteKeyStream wrote (the tests check the round
// trip; the Rust peer has its own reader of the same format).
func ReadKeyStream(in io.Reader) (ThroughputWorkload, core.Options, error) {
	br := bufio.NewReaderSize(in, 1<<20)
	var w ThroughputWorkload
	var opts core.Options
	magic := make([]byte, len(keyStreamMagic))
	if _, err := io.ReadFull(br, magic); err != nil {
		return w, opts, err
	}
	if string(magic) != keyStreamMagic {
		return w, opts, fmt.Errorf("not a key stream (magic %q)", magic)
	}
	var h [7]uint64
	if err := binary.Read(br, binary.LittleEndian, &h); err != nil {
		return w, opts, err
	}
	n, seqLen, keyLen, valLen := h[0], h[1], h[2], h[3]
	if keyLen != KeyLen || n > 1<<32 || seqLen > 1<<32 || valLen > 1<<20 {
		return w, opts, errors.New("key stream header out of range")
	}
	opts = core.Options{HeapBytes: h[4], SegmentBytes: uint32(h[5]), HashPower: uint32(h[6])}
	w.Val = make([]byte, valLen)
	w.Hit.b = make([]byte, n*KeyLen)
	w.Miss.b = make([]byte, n*KeyLen)
	raw := make([]byte, 4*seqLen)
	for _, b := range [][]byte{w.Val, w.Hit.b, w.Miss.b, raw} {
		if _, err := io.ReadFull(br, b); err != nil {
			return w, opts, err
		}
	}
	w.Seq = make([]uint32, seqLen)
	for i := range w.Seq {
		w.Seq[i] = binary.LittleEndian.Uint32(raw[4*i:])
	}
	return w, opts, nil
}
