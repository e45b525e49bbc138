package item

import (
	"encoding/binary"
	"math"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseCanonical(t *testing.T) {
	type res struct {
		N  uint64
		OK bool
	}
	cases := map[string]res{
		"0": {0, true}, "42": {42, true}, "18446744073709551615": {math.MaxUint64, true},
		"18446744073709551616": {}, "042": {}, "-5": {}, " 5": {}, "5 ": {}, "": {}, "+5": {},
		"0x1": {}, "00": {}, "99999999999999999999": {}, "1e3": {},
	}
	for in, want := range cases {
		n, ok := ParseCanonical([]byte(in))
		if diff := cmp.Diff(want, res{n, ok}); diff != "" {
			t.Errorf("ParseCanonical(%q): %s", in, diff)
		}
	}
}

func TestDecimalRoundTrip(t *testing.T) {
	for _, n := range []uint64{0, 1, 9, 10, 99, 100, 12345, math.MaxUint64 / 3, math.MaxUint64} {
		b := make([]byte, DecimalLen(n))
		PutDecimal(b, n)
		if diff := cmp.Diff(strconv.FormatUint(n, 10), string(b)); diff != "" {
			t.Errorf("PutDecimal(%d): %s", n, diff)
		}
		if got := string(AppendDecimal(nil, n)); got != string(b) {
			t.Errorf("AppendDecimal(%d) = %s", n, got)
		}
	}
}

func TestHeaderRoundTripAndSize(t *testing.T) {
	cases := []struct {
		klen, vlen int
		numeric    bool
		size       int
	}{
		{1, 0, false, 16}, {8, 0, false, 16}, {9, 0, false, 24}, {16, 64, false, 88},
		{255, 1 << 20, false, 8 + 255 + 1<<20 + 1}, {1, 8<<20 - 16, false, 8 << 20}, {3, 16, true, 32}, {8, 16, true, 32}, {9, 16, true, 40},
	}
	for _, c := range cases {
		flags := uint8(0)
		if c.numeric {
			flags = FlagNumeric
		}
		h := Header{Klen: c.klen, Flags: flags, Vlen: c.vlen, Stamp: 0x5eadbeef}
		got, ok := Decode(h.Encode())
		if !ok || got != h {
			t.Errorf("Decode(Encode(%+v)) = %+v, %v", h, got, ok)
		}
		if s := h.SizeOf(); s != c.size {
			t.Errorf("SizeOf(%+v) = %d, want %d", h, s, c.size)
		}
	}
	for _, w := range []uint64{0, 1 << 40, uint64(5) | FlagNumeric<<8 | 8<<10} {
		if _, ok := Decode(w); ok {
			t.Errorf("Decode(%#x) accepted", w)
		}
	}
}

func TestItemWriteAndNumeric(t *testing.T) {
	b := make([]byte, 64)
	Write(b, []byte("key"), []byte("value"), 77)
	h, ok := Decode(LoadHeader(b))
	if !ok || string(b[8:11]) != "key" || string(b[11:16]) != "value" || h.Vlen != 5 || h.Stamp != 77 {
		t.Fatalf("Write: %+v %q", h, b[:16])
	}
	MarkDeleted(b)
	if h, _ := Decode(LoadHeader(b)); !h.Deleted() || h.Klen != 3 || h.Vlen != 5 || h.Stamp != 77 {
		t.Fatalf("after MarkDeleted: %+v", h)
	}
	WriteNumeric(b, []byte("counter"), 41, 2, 78)
	w := Numeric(b, 7)
	if v, n, ok := ReadNumeric(w); !ok || v != 2 || n != 41 {
		t.Fatalf("ReadNumeric = %d %d %v", v, n, ok)
	}
	if v := UpdateNumeric(w, 42); v != 4 {
		t.Fatalf("version after update %d", v)
	}
	if _, n, _ := ReadNumeric(w); n != 42 {
		t.Fatalf("number after update %d", n)
	}
}

// MarkDeleted changes the deleted flag and nothing else, whatever the
// other fields hold.
func TestMarkDeletedTouchesOnlyTheFlag(t *testing.T) {
	for _, h := range []Header{
		{Klen: 1, Vlen: 0, Stamp: 0},
		{Klen: 255, Flags: FlagNumeric, Vlen: numericSize, Stamp: stampMask},
		{Klen: 16, Vlen: maxVlen, Stamp: 1 << 30},
	} {
		b := make([]byte, HeaderSize)
		binary.LittleEndian.PutUint64(b, h.Encode())
		MarkDeleted(b)
		got, ok := Decode(LoadHeader(b))
		want := h
		want.Flags |= FlagDeleted
		if !ok {
			t.Fatalf("%+v: header undecodable after MarkDeleted", h)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("MarkDeleted(%+v) (-want +got):\n%s", h, diff)
		}
	}
}
