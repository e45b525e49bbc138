package binproto

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestHeaderRoundTrip(t *testing.T) {
	h := Header{Opcode: OpSet, KeyLen: 3, ExtrasLen: 8, VBucket: 7, BodyLen: 20, Opaque: 0xdeadbeef, CAS: 1<<63 + 5}
	b := AppendRequest(nil, h)
	if len(b) != HeaderLen {
		t.Fatalf("request header of %d bytes", len(b))
	}
	got, err := ParseRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(h, got); diff != "" {
		t.Fatalf("round trip (-want +got):\n%s", diff)
	}
	b[0] = MagicResponse
	if _, err := ParseRequest(b); err != ErrMagic {
		t.Fatalf("a response header parsed as a request: %v", err)
	}
	r := AppendResponse(nil, Header{Opcode: OpGet, Status: StatusNotFound, BodyLen: 9, Opaque: 1})
	want := []byte{MagicResponse, byte(OpGet), 0, 0, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Fatalf("response header (-want +got):\n%s", diff)
	}
}

func TestValid(t *testing.T) {
	tests := []struct {
		name              string
		op                Opcode
		extras, key, body int
		want              bool
	}{
		{"get", OpGet, 0, 1, 0, true},
		{"get without key", OpGet, 0, 0, 0, false},
		{"get with value", OpGet, 0, 1, 1, false},
		{"get with extras", OpGet, 4, 1, 0, false},
		{"set", OpSet, 8, 1, 5, true},
		{"set of an empty value", OpSetQ, 8, 1, 0, true},
		{"set without extras", OpSet, 0, 1, 5, false},
		{"incr", OpIncrement, 20, 1, 0, true},
		{"incr with short extras", OpIncrement, 8, 1, 0, false},
		{"flush", OpFlush, 0, 0, 0, true},
		{"flush with delay", OpFlush, 4, 0, 0, true},
		{"flush with key", OpFlush, 0, 1, 0, false},
		{"stat", OpStat, 0, 0, 0, true},
		{"stat with group", OpStat, 0, 8, 0, true},
		{"gat", OpGATK, 4, 1, 0, true},
		{"noop with body", OpNoop, 0, 0, 1, false},
	}
	for _, tt := range tests {
		h := Header{Opcode: tt.op, ExtrasLen: uint8(tt.extras), KeyLen: uint16(tt.key), BodyLen: uint32(tt.extras + tt.key + tt.body)}
		if got := Valid(h); got != tt.want {
			t.Errorf("%s: Valid = %v, want %v", tt.name, got, tt.want)
		}
	}
	// Key and extras longer than the body announced.
	if Valid(Header{Opcode: OpGet, KeyLen: 5, BodyLen: 4}) {
		t.Error("a key longer than the body is valid")
	}
	if Known(0x50) || !Known(OpGATKQ) {
		t.Error("Known is wrong about 0x50 or GATKQ")
	}
}

func TestLoud(t *testing.T) {
	for quiet, loud := range map[Opcode]Opcode{OpGetKQ: OpGetK, OpSetQ: OpSet, OpQuitQ: OpQuit, OpGATQ: OpGAT} {
		if got, q := Loud(quiet); got != loud || !q {
			t.Errorf("Loud(%#x) = %#x, %v; want %#x, true", quiet, got, q, loud)
		}
	}
	if got, q := Loud(OpGet); got != OpGet || q {
		t.Errorf("Loud(get) = %#x, %v", got, q)
	}
}
