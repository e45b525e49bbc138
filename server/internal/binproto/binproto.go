package binproto

import (
	"encoding/binary"
	"errors"
)

// Magic bytes: the first byte of every request and response.
const (
	MagicRequest  = 0x80
	MagicResponse = 0x81
)

// HeaderLen is the length of a request or response header.
const HeaderLen = 24

// Opcode is a command.
type Opcode uint8

// The opcodes served. The Q variants are quiet: they send no response when
// the command did what was expected (a get's miss, a store's success);
// the K variants of get return the key.
const (
	OpGet        Opcode = 0x00
	OpSet        Opcode = 0x01
	OpAdd        Opcode = 0x02
	OpReplace    Opcode = 0x03
	OpDelete     Opcode = 0x04
	OpIncrement  Opcode = 0x05
	OpDecrement  Opcode = 0x06
	OpQuit       Opcode = 0x07
	OpFlush      Opcode = 0x08
	OpGetQ       Opcode = 0x09
	OpNoop       Opcode = 0x0a
	OpVersion    Opcode = 0x0b
	OpGetK       Opcode = 0x0c
	OpGetKQ      Opcode = 0x0d
	OpAppend     Opcode = 0x0e
	OpPrepend    Opcode = 0x0f
	OpStat       Opcode = 0x10
	OpSetQ       Opcode = 0x11
	OpAddQ       Opcode = 0x12
	OpReplaceQ   Opcode = 0x13
	OpDeleteQ    Opcode = 0x14
	OpIncrementQ Opcode = 0x15
	OpDecrementQ Opcode = 0x16
	OpQuitQ      Opcode = 0x17
	OpFlushQ     Opcode = 0x18
	OpAppendQ    Opcode = 0x19
	OpPrependQ   Opcode = 0x1a
	OpVerbosity  Opcode = 0x1b
	OpTouch      Opcode = 0x1c
	OpGAT        Opcode = 0x1d
	OpGATQ       Opcode = 0x1e
	OpGATK       Opcode = 0x23
	OpGATKQ      Opcode = 0x24
)

// Status is a response's outcome.
type Status uint16

// The status codes, as memcached sends them.
const (
	StatusOK          Status = 0x0000
	StatusNotFound    Status = 0x0001
	StatusExists      Status = 0x0002
	StatusTooLarge    Status = 0x0003
	StatusInvalid     Status = 0x0004
	StatusNotStored   Status = 0x0005
	StatusNonNumeric  Status = 0x0006
	StatusUnknown     Status = 0x0081
	StatusOutOfMemory Status = 0x0082
	StatusInternal    Status = 0x0084
)

// Message is the body memcached sends with an error status.
func (s Status) Message() string {
	switch s {
	case StatusNotFound:
		return "Not found"
	case StatusExists:
		return "Data exists for key."
	case StatusTooLarge:
		return "Too large."
	case StatusInvalid:
		return "Invalid arguments"
	case StatusNotStored:
		return "Not stored."
	case StatusNonNumeric:
		return "Non-numeric server-side value for incr or decr"
	case StatusUnknown:
		return "Unknown command"
	case StatusOutOfMemory:
		return "Out of memory"
	case StatusInternal:
		return "Internal error"
	}
	return ""
}

// Header is a request header (Status unused) or a response header
// (VBucket unused: the same two bytes carry the status).
type Header struct {
	Opcode    Opcode
	KeyLen    uint16
	ExtrasLen uint8
	DataType  uint8
	VBucket   uint16
	Status    Status
	BodyLen   uint32
	Opaque    uint32
	CAS       uint64
}

// ErrMagic is the error of a request that does not start with MagicRequest:
// the stream cannot be resynchronised, so the connection must close.
var ErrMagic = errors.New("binproto: bad magic byte")

// ParseRequest decodes a request header from b (HeaderLen bytes).
func ParseRequest(b []byte) (Header, error) {
	_ = b[HeaderLen-1]
	if b[0] != MagicRequest {
		return Header{}, ErrMagic
	}
	return Header{
		Opcode:    Opcode(b[1]),
		KeyLen:    binary.BigEndian.Uint16(b[2:]),
		ExtrasLen: b[4],
		DataType:  b[5],
		VBucket:   binary.BigEndian.Uint16(b[6:]),
		BodyLen:   binary.BigEndian.Uint32(b[8:]),
		Opaque:    binary.BigEndian.Uint32(b[12:]),
		CAS:       binary.BigEndian.Uint64(b[16:]),
	}, nil
}

// AppendResponse appends the response header h to dst.
func AppendResponse(dst []byte, h Header) []byte {
	dst = append(dst, MagicResponse, byte(h.Opcode))
	dst = binary.BigEndian.AppendUint16(dst, h.KeyLen)
	dst = append(dst, h.ExtrasLen, h.DataType)
	dst = binary.BigEndian.AppendUint16(dst, uint16(h.Status))
	dst = binary.BigEndian.AppendUint32(dst, h.BodyLen)
	dst = binary.BigEndian.AppendUint32(dst, h.Opaque)
	return binary.BigEndian.AppendUint64(dst, h.CAS)
}

// AppendRequest appends the request header h to dst (for clients: tests).
func AppendRequest(dst []byte, h Header) []byte {
	dst = append(dst, MagicRequest, byte(h.Opcode))
	dst = binary.BigEndian.AppendUint16(dst, h.KeyLen)
	dst = append(dst, h.ExtrasLen, h.DataType)
	dst = binary.BigEndian.AppendUint16(dst, h.VBucket)
	dst = binary.BigEndian.AppendUint32(dst, h.BodyLen)
	dst = binary.BigEndian.AppendUint32(dst, h.Opaque)
	return binary.BigEndian.AppendUint64(dst, h.CAS)
}

// presence is whether a body part must be absent, must be present, or may
// be either.
type presence uint8

const (
	none presence = iota
	must
	may
)

// shape is what a command's body holds.
type shape struct {
	extras    []uint8 // the allowed extras lengths
	key, body presence
}

var shapes = map[Opcode]shape{
	OpGet: {nil, must, none}, OpGetQ: {nil, must, none}, OpGetK: {nil, must, none}, OpGetKQ: {nil, must, none},
	OpSet: {[]uint8{8}, must, may}, OpSetQ: {[]uint8{8}, must, may},
	OpAdd: {[]uint8{8}, must, may}, OpAddQ: {[]uint8{8}, must, may},
	OpReplace: {[]uint8{8}, must, may}, OpReplaceQ: {[]uint8{8}, must, may},
	OpAppend: {nil, must, may}, OpAppendQ: {nil, must, may},
	OpPrepend: {nil, must, may}, OpPrependQ: {nil, must, may},
	OpDelete: {nil, must, none}, OpDeleteQ: {nil, must, none},
	OpIncrement: {[]uint8{20}, must, none}, OpIncrementQ: {[]uint8{20}, must, none},
	OpDecrement: {[]uint8{20}, must, none}, OpDecrementQ: {[]uint8{20}, must, none},
	OpQuit: {nil, none, none}, OpQuitQ: {nil, none, none},
	OpFlush: {[]uint8{0, 4}, none, none}, OpFlushQ: {[]uint8{0, 4}, none, none},
	OpNoop: {nil, none, none}, OpVersion: {nil, none, none},
	OpStat:      {nil, may, none},
	OpVerbosity: {[]uint8{4}, none, none},
	OpTouch:     {[]uint8{4}, must, none},
	OpGAT:       {[]uint8{4}, must, none}, OpGATQ: {[]uint8{4}, must, none},
	OpGATK: {[]uint8{4}, must, none}, OpGATKQ: {[]uint8{4}, must, none},
}

// Known reports whether op is served.
func Known(op Opcode) bool {
	_, ok := shapes[op]
	return ok
}

// Valid reports whether h's body has the shape its command requires:
// the extras length, a key when one is needed, a value only where one is
// taken. h.Opcode must be Known.
func Valid(h Header) bool {
	s := shapes[h.Opcode]
	if uint32(h.KeyLen)+uint32(h.ExtrasLen) > h.BodyLen {
		return false
	}
	ok := len(s.extras) == 0 && h.ExtrasLen == 0
	for _, n := range s.extras {
		ok = ok || h.ExtrasLen == n
	}
	value := h.BodyLen - uint32(h.KeyLen) - uint32(h.ExtrasLen)
	return ok && allowed(s.key, h.KeyLen > 0) && allowed(s.body, value > 0)
}

func allowed(p presence, present bool) bool {
	switch p {
	case must:
		return present
	case none:
		return !present
	}
	return true
}

// ValueLen is the length of the value in h's body.
func (h Header) ValueLen() int {
	return int(h.BodyLen) - int(h.KeyLen) - int(h.ExtrasLen)
}

// loud maps each quiet opcode to its non-quiet variant.
var loud = map[Opcode]Opcode{
	OpGetQ: OpGet, OpGetKQ: OpGetK, OpSetQ: OpSet, OpAddQ: OpAdd, OpReplaceQ: OpReplace,
	OpDeleteQ: OpDelete, OpIncrementQ: OpIncrement, OpDecrementQ: OpDecrement, OpQuitQ: OpQuit,
	OpFlushQ: OpFlush, OpAppendQ: OpAppend, OpPrependQ: OpPrepend, OpGATQ: OpGAT, OpGATKQ: OpGATK,
}

// Loud returns the non-quiet variant of op and whether op was quiet.
func Loud(op Opcode) (Opcode, bool) {
	if l, ok := loud[op]; ok {
		return l, true
	}
	return op, false
}
