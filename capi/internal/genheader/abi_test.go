package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseCType(t *testing.T) {
	tests := []struct {
		in   string
		want CType
	}{
		{"int", CType{C: "int", Base: "int", Const: []bool{false}}},
		{"size_t*", CType{C: "size_t *", Base: "size_t", Pointers: 1, Const: []bool{false, false}}},
		{"const char *", CType{C: "const char *", Base: "char", Pointers: 1, Const: []bool{true, false}}},
		{"const void *const *", CType{C: "const void *const *", Base: "void", Pointers: 2, Const: []bool{true, true, false}}},
		{"void *const *", CType{C: "void *const *", Base: "void", Pointers: 2, Const: []bool{false, true, false}}},
		{"unsigned int", CType{C: "unsigned int", Base: "unsigned int", Const: []bool{false}}},
	}
	for _, tt := range tests {
		got, err := parseCType(tt.in)
		if err != nil {
			t.Errorf("parseCType(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("parseCType(%q) (-want +got)\n%s", tt.in, diff)
		}
	}
	for _, bad := range []string{"", "*", "const", "int * x"} {
		if _, err := parseCType(bad); err == nil {
			t.Errorf("parseCType(%q) accepted", bad)
		}
	}
}

func TestEvalConst(t *testing.T) {
	known := map[string]Const{"A": {Name: "A", Value: 2, Type: "int"}, "U": {Name: "U", Value: 3, Type: "unsigned int"}}
	tests := []struct {
		in   string
		want Const
	}{
		{"0", Const{Value: 0, Type: "int"}},
		{"(-10)", Const{Value: -10, Type: "int"}},
		{"28u", Const{Value: 28, Type: "unsigned int"}},
		{"(A * 10000 + 1 * 100 + A)", Const{Value: 20102, Type: "int"}},
		{"A - U", Const{Value: 1<<32 - 1, Type: "unsigned int"}}, // wraps like C
		{"-1u", Const{Value: 1<<32 - 1, Type: "unsigned int"}},
	}
	for _, tt := range tests {
		got, err := evalConst(tt.in, known)
		if err != nil {
			t.Errorf("evalConst(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("evalConst(%q) (-want +got)\n%s", tt.in, diff)
		}
	}
	for _, bad := range []string{"", "B", "(1", "1 / 2", "((int)1)", "\"s\"", "1 2"} {
		if c, err := evalConst(bad, known); err == nil {
			t.Errorf("evalConst(%q) = %v, want an error", bad, c)
		}
	}
}

const samplePublic = `/* overview */
#define SEGCACHE_VERSION_MAJOR 1
#define SEGCACHE_VERSION_MINOR 2
#define SEGCACHE_VERSION_PATCH 3
#define SEGCACHE_VERSION_NUMBER \
    (SEGCACHE_VERSION_MAJOR * 10000 + SEGCACHE_VERSION_MINOR * 100 + SEGCACHE_VERSION_PATCH)
typedef uint64_t s_t;
#define SEGCACHE_OK 0        /* fine */
#define SEGCACHE_EBAD (-3)   /* bad, with a comment
                                over two lines */
#define S_MIN 12u
enum s_mode {
    S_A = 0, /* a */
    S_B = 7  /* b */
};
typedef struct s_opts {
    uint32_t size; /* the size */
    uint64_t big;
    uint8_t small, tiny;
    double d;
    uint16_t last;
} s_opts;
`

const sampleStatus = `package main

var statusText = func() map[C.int]*C.char {
	m := map[C.int]*C.char{}
	for st, s := range map[C.int]string{
		C.SEGCACHE_OK:   "all good",
		C.SEGCACHE_EBAD: "it went bad",
	} {
		m[st] = C.CString(s)
	}
	return m
}()

var unknownStatusText = C.CString("no idea")
`

func writeStatus(t *testing.T, src string) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "status.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestBuildABI(t *testing.T) {
	sigs := map[string]signature{
		"s_get": {ret: "int", params: []cparam{{"s_t", "c"}, {"const void *const *", "keys"}}},
		"s_nop": {ret: "void", params: []cparam{}},
	}
	a, err := buildABI(samplePublic, sigs, []string{"s_get", "s_nop"}, writeStatus(t, sampleStatus))
	if err != nil {
		t.Fatal(err)
	}
	ty := func(s string) CType {
		c, err := parseCType(s)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	want := &ABI{
		Comment: a.Comment,
		Version: Version{1, 2, 3, 10203},
		Constants: []Const{
			{"SEGCACHE_VERSION_MAJOR", 1, "int", ""}, {"SEGCACHE_VERSION_MINOR", 2, "int", ""}, {"SEGCACHE_VERSION_PATCH", 3, "int", ""},
			{"SEGCACHE_VERSION_NUMBER", 10203, "int", ""},
			{"SEGCACHE_OK", 0, "int", "fine"}, {"SEGCACHE_EBAD", -3, "int", "bad, with a comment over two lines"},
			{"S_MIN", 12, "unsigned int", ""},
		},
		Statuses: []Status{
			{"SEGCACHE_OK", 0, "fine", "all good"},
			{"SEGCACHE_EBAD", -3, "bad, with a comment over two lines", "it went bad"},
		},
		UnknownStatusMessage: "no idea",
		Enums:                []Enum{{"s_mode", []EnumValue{{"S_A", 0, "a"}, {"S_B", 7, "b"}}}},
		Typedefs:             []Typedef{{"s_t", ty("uint64_t")}},
		// C layout: padding before big (8) and d (8), after last to the alignment.
		Structs: []Struct{{"s_opts", 32, 8, []Field{
			{"size", ty("uint32_t"), 0, 4, "the size"},
			{"big", ty("uint64_t"), 8, 8, ""},
			{"small", ty("uint8_t"), 16, 1, ""},
			{"tiny", ty("uint8_t"), 17, 1, ""},
			{"d", ty("double"), 24, 8, ""},
			{"last", ty("uint16_t"), 32, 2, ""},
		}}},
		Functions: []Function{
			{"s_get", ty("int"), []Param{{"c", ty("s_t")}, {"keys", ty("const void *const *")}}},
			{"s_nop", ty("void"), []Param{}},
		},
	}
	// The size of s_opts: last ends at 34, rounded up to 8.
	want.Structs[0].Size = 40
	if diff := cmp.Diff(want, a); diff != "" {
		t.Errorf("buildABI (-want +got)\n%s", diff)
	}
	// And it survives a round trip through the JSON reader.
	path := filepath.Join(t.TempDir(), "abi.json")
	if err := os.WriteFile(path, a.marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := readABI(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, back); diff != "" {
		t.Errorf("JSON round trip (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff([]string{"s_get", "s_nop"}, functionNames(a)); diff != "" {
		t.Errorf("functionNames (-want +got)\n%s", diff)
	}
}

func TestBuildABIRejects(t *testing.T) {
	sigs := map[string]signature{}
	tests := []struct {
		what, public, status, wantErr string
	}{
		{"a status without strerror text", samplePublic + "#define SEGCACHE_ENEW (-4) /* new */\n", sampleStatus, "SEGCACHE_ENEW has no segcache_strerror text"},
		{"a strerror text without status", samplePublic, strings.Replace(sampleStatus, "C.SEGCACHE_EBAD:", "C.SEGCACHE_EBAD: \"x\", C.SEGCACHE_EGONE:", 1), "SEGCACHE_EGONE, which the header does not define"},
		{"a macro it cannot evaluate", samplePublic + "#define S_CAST ((int)1)\n", sampleStatus, "#define S_CAST"},
		{"a field of unknown type", strings.Replace(samplePublic, "double d;", "long double d;", 1), sampleStatus, "no known layout"},
		{"an enum constant without value", strings.Replace(samplePublic, "S_B = 7", "S_B", 1), sampleStatus, "no explicit value"},
		{"a wrong version number", strings.Replace(samplePublic, "* 100 +", "* 10 +", 1), sampleStatus, "SEGCACHE_VERSION_NUMBER"},
		{"no strerror table", samplePublic, "package main\n", "no statusText"},
	}
	for _, tt := range tests {
		_, err := buildABI(tt.public, sigs, nil, writeStatus(t, tt.status))
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: err = %v, want one containing %q", tt.what, err, tt.wantErr)
		}
	}
}

func TestCheckProgram(t *testing.T) {
	a, err := buildABI(samplePublic, map[string]signature{"s_get": {ret: "int", params: []cparam{{"const void *const *", "keys"}}}},
		[]string{"s_get"}, writeStatus(t, sampleStatus))
	if err != nil {
		t.Fatal(err)
	}
	got := string(checkProgram(a))
	for _, want := range []string{
		`_Static_assert(SEGCACHE_EBAD == -3, "SEGCACHE_EBAD value");`,
		`_Static_assert(_Generic((S_MIN), unsigned int: 1, default: 0), "S_MIN is unsigned int");`,
		`_Static_assert(offsetof(s_opts, d) == 24, "s_opts.d offset");`,
		`_Static_assert(sizeof(s_opts) == 40, "s_opts size");`,
		`_Static_assert(_Generic((&s_get), int (*)(const void *const *): 1, default: 0), "s_get is int (*)(const void *const *)");`,
		`_Static_assert(S_B == 7, "S_B value");`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("check program lacks %s", want)
		}
	}
}
