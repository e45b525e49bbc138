package envelope

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		m        Meta
		v        string
		overhead int
	}{
		{"plain text is raw", Meta{}, "hello", 0},
		{"empty is raw", Meta{}, "", 0},
		{"number stays raw", Meta{}, "12345", 0},
		{"0xfb is raw", Meta{}, "\xfbx", 0},
		{"marker byte escaped", Meta{}, "\xfcx", 1},
		{"0xff escaped", Meta{}, "\xff", 1},
		{"flags", Meta{Flags: 0xdeadbeef}, "v", 5},
		{"deadline", Meta{Deadline: 1234567890}, "v", 5},
		{"both", Meta{Flags: 1, Deadline: 2}, "\xfe", 9},
		{"both, empty value", Meta{Flags: 1, Deadline: 2}, "", 9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stored := Append(nil, tc.m, []byte(tc.v))
			if got := len(stored) - len(tc.v); got != tc.overhead {
				t.Errorf("overhead %d, want %d", got, tc.overhead)
			}
			if got := HeaderLen(tc.m, []byte(tc.v)); got != tc.overhead {
				t.Errorf("HeaderLen %d, want %d", got, tc.overhead)
			}
			m, v := Decode(stored)
			if diff := cmp.Diff(tc.m, m); diff != "" {
				t.Errorf("meta (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.v, string(v)); diff != "" {
				t.Errorf("value (-want +got):\n%s", diff)
			}
		})
	}
}

// A marker announcing more header than there is bytes cannot come from
// Append: it is read as a raw value, never as an error or a panic.
func TestTruncatedEnvelopeReadsRaw(t *testing.T) {
	for _, s := range []string{"\xfd", "\xfd\x00\x00", "\xff\x01\x02\x03\x04\x05"} {
		m, v := Decode([]byte(s))
		if m != (Meta{}) || string(v) != s {
			t.Errorf("Decode(%q) = %+v, %q; want raw", s, m, v)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte("\xff\x00\x00\x00\x01\x00\x00\x00\x02v"))
	f.Add([]byte("plain"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, v := Decode(b)
		// Whatever Decode read, encoding it again gives a value that
		// decodes to the same thing.
		m2, v2 := Decode(Append(nil, m, v))
		if m2 != m || string(v2) != string(v) {
			t.Fatalf("re-encoding %q: got %+v %q, want %+v %q", b, m2, v2, m, v)
		}
	})
}
