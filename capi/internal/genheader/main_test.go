package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPrototypes(t *testing.T) {
	cgo := `/* Start of preamble */
typedef const void *capi_cptr;
typedef const void *const *capi_cptrs;
typedef void *const *capi_bufs;
typedef const char *capi_cstring;
` + exportsStart + `
#ifdef __cplusplus
extern "C" {
#endif

extern uint32_t capi_segcache_version(void);
extern capi_cstring capi_segcache_strerror(int status);
extern int capi_segcache_get(segcache_t cache, capi_cptr key, size_t klen, void* buf, size_t* vlen);
extern int capi_segcache_get_multi(segcache_t cache, capi_cptrs keys, capi_bufs bufs, segcache_stats* out);
`
	sigs, err := signatures(cgo)
	if err != nil {
		t.Fatal(err)
	}
	got := prototypes(sigs)
	want := map[string]string{
		"segcache_version":   "uint32_t segcache_version(void)",
		"segcache_strerror":  "const char *segcache_strerror(int status)",
		"segcache_get":       "int segcache_get(segcache_t cache, const void *key, size_t klen, void *buf, size_t *vlen)",
		"segcache_get_multi": "int segcache_get_multi(segcache_t cache, const void *const *keys, void *const *bufs, segcache_stats *out)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("prototypes (-want +got)\n%s", diff)
	}
}

func TestPrototypesRejectGoTypes(t *testing.T) {
	for _, line := range []string{
		"extern GoInt capi_segcache_len(segcache_t c);",
		"extern int capi_segcache_name(segcache_t c, GoString s);",
		"extern int capi_segcache_raw(_GoString_ s);",
	} {
		if _, err := signatures(exportsStart + "\n" + line + "\n"); err == nil {
			t.Errorf("%s: accepted a Go type", line)
		}
	}
}

func TestSplitExportAndComment(t *testing.T) {
	dir := t.TempDir()
	src := `package main

import "C"

// segcache_a does a.
//
// Returns:
//   - SEGCACHE_OK: done. /* not a comment */
//
//export capi_segcache_a
func capi_segcache_a() {}

// helper is not exported.
func helper() {}

//export capi_segcache_b
func capi_segcache_b() {}
`
	if err := os.WriteFile(filepath.Join(dir, "x.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := exportDocs(dir); err == nil || !strings.Contains(err.Error(), "segcache_b has no doc comment") {
		t.Fatalf("undocumented export: err = %v", err)
	}
	src = strings.Replace(src, "//export capi_segcache_b", "// segcache_b does b.\n//\n//capi:nogo\n//export capi_segcache_b", 1)
	if err := os.WriteFile(filepath.Join(dir, "x.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	docs, order, nogo, err := exportDocs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"segcache_a", "segcache_b"}, order); diff != "" {
		t.Errorf("order (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff(map[string]bool{"segcache_a": false, "segcache_b": true}, nogo); diff != "" {
		t.Errorf("nogo (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff("segcache_b does b.", docs["segcache_b"]); diff != "" {
		t.Errorf("doc without the directive (-want +got)\n%s", diff)
	}
	wantA := "segcache_a does a.\n\nReturns:\n  - SEGCACHE_OK: done. /* not a comment */"
	if diff := cmp.Diff(wantA, docs["segcache_a"]); diff != "" {
		t.Errorf("doc (-want +got)\n%s", diff)
	}
	wantC := "/*\n * segcache_a does a.\n *\n * Returns:\n *   - SEGCACHE_OK: done. / * not a comment * /\n */\n"
	if diff := cmp.Diff(wantC, cComment(docs["segcache_a"])); diff != "" {
		t.Errorf("cComment (-want +got)\n%s", diff)
	}
}

// The Go name must be the public name with the capi_ prefix, which keeps
// it out of the version script's segcache_*.
func TestExportNeedsGoPrefix(t *testing.T) {
	dir := t.TempDir()
	src := "package main\n\nimport \"C\"\n\n// segcache_a does a.\n//\n//export segcache_a\nfunc segcache_a() {}\n"
	if err := os.WriteFile(filepath.Join(dir, "x.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := exportDocs(dir); err == nil || !strings.Contains(err.Error(), "the Go name of an export is capi_segcache_") {
		t.Fatalf("export without the capi_ prefix: err = %v", err)
	}
}

// The entry points refuse in a forked child before calling Go, nogo
// exports never call Go, and strerror's table comes from the statuses.
func TestEntryPoints(t *testing.T) {
	sigs := map[string]signature{
		"segcache_get":      {ret: "int", params: []cparam{{"segcache_t", "cache"}, {"const void *", "key"}}},
		"segcache_noop":     {ret: "void", params: []cparam{}},
		"segcache_strerror": {ret: "const char *", params: []cparam{{"int", "status"}}},
		"segcache_init":     {ret: "void", params: []cparam{{"segcache_options *", "opts"}}},
	}
	order := []string{"segcache_get", "segcache_noop", "segcache_strerror", "segcache_init"}
	nogo := map[string]bool{"segcache_strerror": true, "segcache_init": true}
	model := &ABI{UnknownStatusMessage: "unknown", Statuses: []Status{
		{Name: "SEGCACHE_OK", Value: 0, Message: "ok"}, {Name: "SEGCACHE_EX", Value: -2, Message: "x \"y\""}}}
	got, err := entryPoints(order, nogo, sigs, prototypes(sigs), model)
	if err != nil {
		t.Fatal(err)
	}
	want := wrappersPrologue + `
/* segcache_strerror's texts, indexed by -status. */
const char *const capi_status_text[] = {
    [-(SEGCACHE_OK)] = "ok",
    [-(SEGCACHE_EX)] = "x \"y\"",
};
const int capi_status_count = 3;
const char capi_unknown_status_text[] = "unknown";

int segcache_get(segcache_t cache, const void *key) {
    if (capi_forked) return SEGCACHE_EFORKED;
    return capi_segcache_get(cache, key);
}

void segcache_noop(void) {
    if (capi_forked) return;
    capi_segcache_noop();
}

const char *segcache_strerror(int status) {
    return capi_c_strerror(status);
}

void segcache_init(segcache_options *opts) {
    capi_c_init(opts);
}
`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("entryPoints (-want +got)\n%s", diff)
	}
	// A function that returns neither a status nor nothing cannot report
	// the fork: it must be written in C.
	nogo["segcache_strerror"] = false
	if _, err := entryPoints(order, nogo, sigs, prototypes(sigs), model); err == nil || !strings.Contains(err.Error(), "capi:nogo") {
		t.Errorf("const char * export without nogo: err = %v", err)
	}
}

func TestSameNames(t *testing.T) {
	protos := map[string]string{"segcache_a": "", "segcache_b": ""}
	tests := []struct {
		order   []string
		wantErr string
	}{
		{[]string{"segcache_a", "segcache_b"}, ""},
		{[]string{"segcache_a"}, "segcache_b, which has no documented //export"},
		{[]string{"segcache_a", "segcache_b", "segcache_c"}, "segcache_c is missing from the cgo header"},
	}
	for _, tt := range tests {
		err := sameNames(tt.order, protos)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if tt.wantErr == "" && got != "" || tt.wantErr != "" && !strings.Contains(got, tt.wantErr) {
			t.Errorf("sameNames(%v) = %q, want %q", tt.order, got, tt.wantErr)
		}
	}
}

func TestWrap(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SEGCACHE_API int f(int a);", "SEGCACHE_API int f(int a);"},
		{
			"SEGCACHE_API int segcache_set(segcache_t cache, const void *key, size_t klen, const void *val, size_t vlen, uint32_t ttl);",
			"SEGCACHE_API int segcache_set(segcache_t cache, const void *key, size_t klen,\n" +
				"                              const void *val, size_t vlen, uint32_t ttl);",
		},
	}
	for _, tt := range tests {
		got := wrap(tt.in, 80)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("wrap (-want +got)\n%s", diff)
		}
		for _, line := range strings.Split(got, "\n") {
			if len(line) > 80 {
				t.Errorf("line over 80 columns: %q", line)
			}
		}
	}
}

func TestPublicPart(t *testing.T) {
	got, err := publicPart("#ifndef X\n" + beginMarker + "typedef int t;\n" + endMarker + "#endif\n")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("typedef int t;\n", got); diff != "" {
		t.Errorf("publicPart (-want +got)\n%s", diff)
	}
	if _, err := publicPart("no markers"); err == nil {
		t.Error("publicPart accepted a file without markers")
	}
}
