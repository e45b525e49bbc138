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

extern uint32_t segcache_version(void);
extern capi_cstring segcache_strerror(int status);
extern int segcache_get(segcache_t cache, capi_cptr key, size_t klen, void* buf, size_t* vlen);
extern int segcache_get_multi(segcache_t cache, capi_cptrs keys, capi_bufs bufs, segcache_stats* out);
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
		"extern GoInt segcache_len(segcache_t c);",
		"extern int segcache_name(segcache_t c, GoString s);",
		"extern int segcache_raw(_GoString_ s);",
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
//export segcache_a
func segcache_a() {}

// helper is not exported.
func helper() {}

//export segcache_b
func segcache_b() {}
`
	if err := os.WriteFile(filepath.Join(dir, "x.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := exportDocs(dir); err == nil || !strings.Contains(err.Error(), "segcache_b has no doc comment") {
		t.Fatalf("undocumented export: err = %v", err)
	}
	src = strings.Replace(src, "//export segcache_b", "// segcache_b does b.\n//\n//export segcache_b", 1)
	if err := os.WriteFile(filepath.Join(dir, "x.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	docs, order, err := exportDocs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"segcache_a", "segcache_b"}, order); diff != "" {
		t.Errorf("order (-want +got)\n%s", diff)
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
