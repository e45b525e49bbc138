package item

import (
	"encoding/binary"
	"strconv"
	"sync/atomic"
	"unsafe"
)

// HeaderSize is the size of an item header.
const HeaderSize = 8

// Flags of an item.
const (
	// FlagNumeric marks an item whose value is a 64-bit number.
	FlagNumeric = 1
	// FlagDeleted marks an item that was unlinked (overwritten, deleted,
	// evicted from its slot), so that a drain skips it without probing
	// the hashtable. It is only a hint: the hashtable decides liveness.
	FlagDeleted = 2
	flagMask    = FlagNumeric | FlagDeleted
)

const (
	numericSize = 16 // version word + number word
	vlenBits    = 23 // items fit in a segment of at most 8 MiB
	maxVlen     = 1<<vlenBits - 1
	stampMask   = 1<<31 - 1
)

// StampMask bounds item stamps (31 bits).
const StampMask = stampMask

// MarkDeleted sets the deleted flag of the item whose bytes start at b.
// Only the party that unlinked the item calls it, with the segment pinned
// or claimed, so the word still belongs to that item and no one else
// writes it meanwhile.
//
// It sets one bit of the header's second byte (the flags are bits 8-9 of
// the little-endian word), with a plain byte store, not sync/atomic's
// store of the whole word (an XCHG on amd64, a locked instruction on every
// overwrite and every unlink; and on a big-endian machine its native word
// put the bit in another field). Readers load the header with a plain load
// too (LoadHeader) and see it with or without the flag, either of which
// is right for them (the flag only spares a drain a hashtable probe for an
// item it would find unlinked), and the unpin that follows is an atomic
// add, which orders the store before it for the drain that waits for the
// pin. The arena is outside the Go heap, where the race detector does not
// look.
func MarkDeleted(b []byte) {
	b[1] |= FlagDeleted
}

// Deleted reports whether the header is marked deleted.
func (h Header) Deleted() bool { return h.Flags&FlagDeleted != 0 }

// Header is the decoded item header: klen (8 bits) | flags (2) | vlen (23)
// | stamp (31).
type Header struct {
	Klen  int
	Flags uint8
	Vlen  int    // stored bytes of the value (16 for numeric items)
	Stamp uint32 // 31 bits; differs between any two writes of one key (see core's CAS tokens)
}

// Align8 rounds n up to a multiple of 8.
func Align8(n int) int { return (n + 7) &^ 7 }

// Size returns the bytes an item with this key and value length occupies.
func Size(klen, vlen int, numeric bool) int {
	if numeric {
		return Align8(HeaderSize+klen) + numericSize
	}
	return Align8(HeaderSize + klen + vlen)
}

// SizeOf returns the bytes the item with header h occupies.
func (h Header) SizeOf() int { return Size(h.Klen, h.Vlen, h.Flags&FlagNumeric != 0) }

// Encode returns the header word.
func (h Header) Encode() uint64 {
	return uint64(h.Klen) | uint64(h.Flags&flagMask)<<8 | uint64(h.Vlen)<<10 | uint64(h.Stamp&stampMask)<<33
}

// Decode parses a header word. ok is false for the end marker (zero) or a
// word that no writer produces.
func Decode(w uint64) (h Header, ok bool) {
	h = Header{Klen: int(w & 0xff), Flags: uint8(w>>8) & flagMask, Vlen: int(w>>10) & maxVlen, Stamp: uint32(w >> 33)}
	if h.Klen == 0 {
		return h, false
	}
	if h.Flags&FlagNumeric != 0 && h.Vlen != numericSize {
		return h, false
	}
	return h, true
}

// LoadHeader reads the header word at b[0:8].
func LoadHeader(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

// Write writes a complete non-numeric item into b (at least Size bytes).
func Write(b, key, val []byte, stamp uint32) {
	h := Header{Klen: len(key), Vlen: len(val), Stamp: stamp}
	binary.LittleEndian.PutUint64(b, h.Encode())
	copy(b[HeaderSize:], key)
	copy(b[HeaderSize+len(key):], val)
}

// WriteNumeric writes a numeric item holding n with the given version
// (even) into b.
func WriteNumeric(b, key []byte, n, version uint64, stamp uint32) {
	h := Header{Klen: len(key), Flags: FlagNumeric, Vlen: numericSize, Stamp: stamp}
	binary.LittleEndian.PutUint64(b, h.Encode())
	copy(b[HeaderSize:], key)
	off := Align8(HeaderSize + len(key))
	words := numericWords(b[off:])
	atomic.StoreUint64(&words[0], version)
	atomic.StoreUint64(&words[1], n)
}

// numericWords views the 16 aligned bytes at b as the version and number.
func numericWords(b []byte) *[2]uint64 {
	return (*[2]uint64)(unsafe.Pointer(unsafe.SliceData(b[:numericSize])))
}

// Numeric gives atomic access to a numeric item's words. The slice must
// start at the item's header.
func Numeric(b []byte, klen int) *[2]uint64 {
	return numericWords(b[Align8(HeaderSize+klen):])
}

// ReadNumeric returns a consistent (version, number) pair, spinning while an
// update is in progress. ok is false if no consistent pair was seen in a
// bounded number of tries (the item is being rewritten under the caller).
func ReadNumeric(w *[2]uint64) (version, n uint64, ok bool) {
	for i := 0; i < 1000; i++ {
		v1 := atomic.LoadUint64(&w[0])
		if v1&1 != 0 {
			continue
		}
		n = atomic.LoadUint64(&w[1])
		if atomic.LoadUint64(&w[0]) == v1 {
			return v1, n, true
		}
	}
	return 0, 0, false
}

// UpdateNumeric replaces the number under the seqlock. The caller must be
// the only writer of the item. It returns the new version.
func UpdateNumeric(w *[2]uint64, n uint64) uint64 {
	v := atomic.LoadUint64(&w[0])
	atomic.StoreUint64(&w[0], v+1)
	atomic.StoreUint64(&w[1], n)
	atomic.StoreUint64(&w[0], v+2)
	return v + 2
}

// ParseCanonical reports whether b is a canonical unsigned decimal that fits
// in 64 bits ("0", "42"; no sign, space or leading zero) and returns it.
func ParseCanonical(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (^uint64(0)-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// DecimalLen returns the length of n's decimal form.
func DecimalLen(n uint64) int {
	l := 1
	for n >= 10 {
		n /= 10
		l++
	}
	return l
}

// AppendDecimal appends n's decimal form to dst.
func AppendDecimal(dst []byte, n uint64) []byte { return strconv.AppendUint(dst, n, 10) }

// PutDecimal writes n's decimal form into b, which has DecimalLen(n) bytes.
func PutDecimal(b []byte, n uint64) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
}
