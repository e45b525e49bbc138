package envelope

import "encoding/binary"

const (
	markerBase  = 0xFC
	hasFlags    = 1 << 0
	hasDeadline = 1 << 1
)

// MaxOverhead is the most bytes Encode adds to a value.
const MaxOverhead = 9

// Meta is what memcached keeps with a value besides its bytes.
type Meta struct {
	Flags uint32 // the client's opaque flags
	// Deadline is the Unix second at which the item expires; 0 = never.
	// The engine enforces the expiry itself; the deadline is kept so that
	// read-modify-write commands (append, prepend, incr on an enveloped
	// number) can store the new value with the item's remaining lifetime.
	Deadline uint32
}

// Raw reports whether a value with this metadata and first bytes v is
// stored without an envelope.
func Raw(m Meta, v []byte) bool {
	return m == Meta{} && (len(v) == 0 || v[0] < markerBase)
}

// HeaderLen returns the length of the envelope Encode writes for m and v
// (0 when the value is stored raw).
func HeaderLen(m Meta, v []byte) int {
	if Raw(m, v) {
		return 0
	}
	n := 1
	if m.Flags != 0 {
		n += 4
	}
	if m.Deadline != 0 {
		n += 4
	}
	return n
}

// PutHeader writes m's envelope into dst, which must have HeaderLen(m, v)
// bytes, for a value starting with v. The caller places the value after it.
func PutHeader(dst []byte, m Meta, v []byte) {
	if Raw(m, v) {
		return
	}
	kind := byte(0)
	i := 1
	if m.Flags != 0 {
		kind |= hasFlags
		binary.BigEndian.PutUint32(dst[i:], m.Flags)
		i += 4
	}
	if m.Deadline != 0 {
		kind |= hasDeadline
		binary.BigEndian.PutUint32(dst[i:], m.Deadline)
	}
	dst[0] = markerBase | kind
}

// Append appends the stored form of (m, v) to dst.
func Append(dst []byte, m Meta, v []byte) []byte {
	n := HeaderLen(m, v)
	dst = append(dst, make([]byte, n)...)
	PutHeader(dst[len(dst)-n:], m, v)
	return append(dst, v...)
}

// Decode splits a stored value into its metadata and the client's bytes.
// A value too short for the envelope its marker announces cannot have been
// written by Encode; it is returned whole as a raw value, so a foreign
// writer sharing the cache never makes a read fail.
func Decode(stored []byte) (Meta, []byte) {
	if len(stored) == 0 || stored[0] < markerBase {
		return Meta{}, stored
	}
	kind := stored[0] - markerBase
	need := 1
	if kind&hasFlags != 0 {
		need += 4
	}
	if kind&hasDeadline != 0 {
		need += 4
	}
	if len(stored) < need {
		return Meta{}, stored
	}
	var m Meta
	i := 1
	if kind&hasFlags != 0 {
		m.Flags = binary.BigEndian.Uint32(stored[i:])
		i += 4
	}
	if kind&hasDeadline != 0 {
		m.Deadline = binary.BigEndian.Uint32(stored[i:])
		i += 4
	}
	return m, stored[i:]
}
