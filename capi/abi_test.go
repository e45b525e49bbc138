package main

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"

	"github.com/segcache/segcache/core"
)

// abiStruct reads one struct of the committed ABI description (which
// make check-header proves current and equal to the header).
func abiStruct(t *testing.T, name string) (size int, fields []abiField) {
	t.Helper()
	data, err := os.ReadFile("../include/segcache.abi.json")
	if err != nil {
		t.Fatal(err)
	}
	var abi struct {
		Structs []struct {
			Name   string     `json:"name"`
			Size   int        `json:"size"`
			Fields []abiField `json:"fields"`
		} `json:"structs"`
	}
	if err := json.Unmarshal(data, &abi); err != nil {
		t.Fatal(err)
	}
	for _, s := range abi.Structs {
		if s.Name == name {
			return s.Size, s.Fields
		}
	}
	t.Fatalf("struct %s is not in the ABI description", name)
	return 0, nil
}

type abiField struct {
	Name   string `json:"name"`
	Offset int    `json:"offset"`
	Size   int    `json:"size"`
}

// snake turns a Go field name into the C field name: HashtableBytes ->
// hashtable_bytes.
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// The engine's counters and the C struct's fields are the same list in the
// same order: a counter added to core.Stats must be added to the C ABI (at
// the end) and the other way round.
func TestStatsFieldsMatchABI(t *testing.T) {
	_, fields := abiStruct(t, "segcache_stats")
	var want []string
	for _, f := range fields[1:] { // fields[0] is size
		want = append(want, f.Name)
	}
	var got []string
	st := reflect.TypeOf(core.Stats{})
	for i := 0; i < st.NumField(); i++ {
		got = append(got, snake(st.Field(i).Name))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("core.Stats fields (snake_case) differ from segcache_stats in the ABI (-abi +core)\n%s", diff)
	}
}

// statsToC writes each core.Stats counter at the offset the ABI gives its
// field, and no further than the caller's size says.
func TestStatsToCWritesTheABILayout(t *testing.T) {
	size, fields := abiStruct(t, "segcache_stats")
	var s core.Stats
	sv := reflect.ValueOf(&s).Elem()
	for i := 0; i < sv.NumField(); i++ {
		sv.Field(i).SetUint(uint64(1000 + i)) // a distinct value per counter
	}
	img, filled, rc := statsImage(s, uint32(size))
	if rc != 0 || int(filled) != size {
		t.Fatalf("statsToC(size %d) = %d, filled %d", size, rc, filled)
	}
	for i, f := range fields[1:] {
		if f.Size != 8 {
			t.Fatalf("field %s has size %d; this test knows only uint64 counters", f.Name, f.Size)
		}
		if got := binary.LittleEndian.Uint64(img[f.Offset:]); got != uint64(1000+i) {
			t.Errorf("field %s (offset %d) = %d, want %d (core.Stats.%s)", f.Name, f.Offset, got, 1000+i, st(i))
		}
	}
	// A caller of an older header (the minimum size) gets only the fields
	// that fit, and is told so.
	minSize := fields[len(fields)-1].Offset
	img, filled, rc = statsImage(s, uint32(minSize))
	if rc != 0 || int(filled) != minSize {
		t.Fatalf("statsToC(size %d) = %d, filled %d", minSize, rc, filled)
	}
	if got := binary.LittleEndian.Uint64(img[minSize:]); got != 0 {
		t.Errorf("statsToC wrote %d past the caller's size", got)
	}
}

func st(i int) string { return reflect.TypeOf(core.Stats{}).Field(i).Name }
