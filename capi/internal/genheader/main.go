package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

func main() {
	cgoHeader := flag.String("cgo", "build/libsegcache.h", "header written by cgo for the c-shared library")
	src := flag.String("src", "capi", "directory of the capi Go sources and segcache_types.h")
	out := flag.String("o", "include/segcache.h", "output header")
	abiOut := flag.String("abi", "", "also write the ABI description (JSON) to this file")
	checkC := flag.String("check-c", "", "instead: read this ABI description and write to -o a C file of static assertions that compiles only if the header agrees with it")
	names := flag.String("functions", "", "instead: print the function names of this ABI description, one a line")
	wrappers := flag.String("wrappers", "", "also write the C entry points (capi/exports_gen.c) to this file")
	flag.Parse()
	if err := run(*cgoHeader, *src, *out, *abiOut, *checkC, *names, *wrappers); err != nil {
		fmt.Fprintln(os.Stderr, "genheader:", err)
		os.Exit(1)
	}
}

func run(cgoHeader, src, out, abiOut, checkC, names, wrappers string) error {
	switch {
	case names != "":
		a, err := readABI(names)
		if err != nil {
			return err
		}
		for _, n := range functionNames(a) {
			fmt.Println(n)
		}
		return nil
	case checkC != "":
		a, err := readABI(checkC)
		if err != nil {
			return err
		}
		return os.WriteFile(out, checkProgram(a), 0o644)
	}
	h, abi, w, err := generate(cgoHeader, src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, h, 0o644); err != nil {
		return err
	}
	if abiOut != "" {
		if err := os.WriteFile(abiOut, abi, 0o644); err != nil {
			return err
		}
	}
	if wrappers != "" {
		return os.WriteFile(wrappers, w, 0o644)
	}
	return nil
}

// generate returns the header, the ABI description (JSON) and the C entry
// points.
func generate(cgoHeader, src string) (header, abi, wrappers []byte, err error) {
	cgo, err := os.ReadFile(cgoHeader)
	if err != nil {
		return nil, nil, nil, err
	}
	types, err := os.ReadFile(filepath.Join(src, "segcache_types.h"))
	if err != nil {
		return nil, nil, nil, err
	}
	public, err := publicPart(string(types))
	if err != nil {
		return nil, nil, nil, err
	}
	docs, order, nogo, err := exportDocs(src)
	if err != nil {
		return nil, nil, nil, err
	}
	sigs, err := signatures(string(cgo))
	if err != nil {
		return nil, nil, nil, err
	}
	protos := prototypes(sigs)
	if err := sameNames(order, protos); err != nil {
		return nil, nil, nil, err
	}
	model, err := buildABI(public, sigs, order, src)
	if err != nil {
		return nil, nil, nil, err
	}
	w, err := entryPoints(order, nogo, sigs, protos, model)
	if err != nil {
		return nil, nil, nil, err
	}
	var b bytes.Buffer
	b.WriteString(prologue)
	b.WriteString(public)
	b.WriteString("\n/* Functions. */\n")
	for _, name := range order {
		b.WriteString("\n")
		b.WriteString(cComment(docs[name]))
		b.WriteString(wrap("SEGCACHE_API "+protos[name]+";", 80))
		b.WriteString("\n")
	}
	b.WriteString(epilogue)
	return b.Bytes(), model.marshal(), w, nil
}

// goPrefix starts the Go name of every export: the Go function
// capi_segcache_get implements the public C function segcache_get. The
// version script exports only segcache_*, so the Go symbols stay private.
const goPrefix = "capi_"

// nogoDirective in an export's doc comment means that its public C
// function never enters Go: it calls the C function capi_c_<name without
// "segcache_"> (declared in forkguard.h) instead, so it also works in a
// forked child. The Go function must do the same, so both agree.
const nogoDirective = "//capi:nogo"

// entryPoints writes the C definitions of the public functions: each
// returns SEGCACHE_EFORKED (or, returning void, does nothing) in a child
// after fork() and otherwise calls its Go implementation; nogo exports
// call their C implementation always. It also writes segcache_strerror's
// table, from status.go's texts (through the ABI model), so the strings
// exist in C, usable in a forked child, and have one source.
func entryPoints(order []string, nogo map[string]bool, sigs map[string]signature, protos map[string]string, model *ABI) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(wrappersPrologue)
	b.WriteString("\n/* segcache_strerror's texts, indexed by -status. */\n")
	b.WriteString("const char *const capi_status_text[] = {\n")
	n := int64(0)
	for _, st := range model.Statuses {
		fmt.Fprintf(&b, "    [-(%s)] = %s,\n", st.Name, strconv.Quote(st.Message))
		n = max(n, -st.Value+1)
	}
	b.WriteString("};\n")
	fmt.Fprintf(&b, "const int capi_status_count = %d;\n", n)
	fmt.Fprintf(&b, "const char capi_unknown_status_text[] = %s;\n", strconv.Quote(model.UnknownStatusMessage))
	for _, name := range order {
		sig := sigs[name]
		var args []string
		for _, p := range sig.params {
			args = append(args, p.name)
		}
		call := "(" + strings.Join(args, ", ") + ")"
		b.WriteString("\n" + protos[name] + " {\n")
		switch {
		case nogo[name]:
			ret := "return "
			if sig.ret == "void" {
				ret = ""
			}
			fmt.Fprintf(&b, "    %scapi_c_%s%s;\n", ret, strings.TrimPrefix(name, "segcache_"), call)
		case sig.ret == "int":
			b.WriteString("    if (capi_forked) return SEGCACHE_EFORKED;\n")
			fmt.Fprintf(&b, "    return %s%s%s;\n", goPrefix, name, call)
		case sig.ret == "void":
			b.WriteString("    if (capi_forked) return;\n")
			fmt.Fprintf(&b, "    %s%s%s;\n", goPrefix, name, call)
		default:
			return nil, fmt.Errorf("export %s returns %s: only int (a status) and void can refuse in a forked child; mark it %s and write it in C", name, sig.ret, nogoDirective)
		}
		b.WriteString("}\n")
	}
	return b.Bytes(), nil
}

const wrappersPrologue = `/* Code generated by capi/internal/genheader from capi; DO NOT EDIT.
 *
 * The public entry points of libsegcache. Each checks, in C, whether it
 * runs in a child after fork() (see forkguard.h) before it enters the Go
 * runtime, which cannot run there; then it calls its Go implementation,
 * the //export function of the same name prefixed with capi_. */
#include "_cgo_export.h"
#include "forkguard.h"
`

const prologue = `/* Code generated by capi/internal/genheader from capi; DO NOT EDIT.
 * Edit the doc comments of the //export functions in capi (Go files) or
 * capi/segcache_types.h, then run "make header". */
#ifndef SEGCACHE_H
#define SEGCACHE_H

#include <stddef.h>
#include <stdint.h>

/* SEGCACHE_API marks the functions the shared library exports. */
#ifndef SEGCACHE_API
#if defined(_WIN32)
#define SEGCACHE_API __declspec(dllimport)
#elif defined(__GNUC__) && __GNUC__ >= 4
#define SEGCACHE_API __attribute__((visibility("default")))
#else
#define SEGCACHE_API
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

`

const epilogue = `
#ifdef __cplusplus
}
#endif

#endif /* SEGCACHE_H */
`

const (
	beginMarker = "/* PUBLIC BEGIN */\n"
	endMarker   = "/* PUBLIC END */\n"
)

// publicPart returns the text of segcache_types.h between the markers.
func publicPart(types string) (string, error) {
	i := strings.Index(types, beginMarker)
	j := strings.Index(types, endMarker)
	if i < 0 || j < i {
		return "", errors.New("segcache_types.h: missing PUBLIC BEGIN/END markers")
	}
	return types[i+len(beginMarker) : j], nil
}

// exportDocs returns the doc comment of each //export function of the
// package in dir, the export names in source order (files sorted by name,
// the order cgo uses too) and which exports are marked nogoDirective. The
// names are the public ones: the Go name without goPrefix.
func exportDocs(dir string) (docs map[string]string, order []string, nogo map[string]bool, err error) {
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, nil, nil, err
	}
	sort.Strings(files)
	docs, nogo = map[string]string{}, map[string]bool{}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return nil, nil, nil, err
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Doc == nil {
				continue
			}
			goName, doc, isNogo, ok := splitExport(fn.Doc)
			if !ok {
				continue
			}
			if goName != fn.Name.Name {
				return nil, nil, nil, fmt.Errorf("%s: //export %s on func %s", fset.Position(fn.Pos()), goName, fn.Name.Name)
			}
			name, found := strings.CutPrefix(goName, goPrefix)
			if !found || !strings.HasPrefix(name, "segcache_") {
				return nil, nil, nil, fmt.Errorf("%s: export %s: the Go name of an export is %ssegcache_<name>", fset.Position(fn.Pos()), goName, goPrefix)
			}
			if strings.TrimSpace(doc) == "" {
				return nil, nil, nil, fmt.Errorf("%s: export %s has no doc comment", fset.Position(fn.Pos()), name)
			}
			docs[name] = doc
			nogo[name] = isNogo
			order = append(order, name)
		}
	}
	return docs, order, nogo, nil
}

// splitExport finds the //export line of a doc comment and returns the
// exported (Go) name, the comment text without the directives, and
// whether it holds nogoDirective.
func splitExport(cg *ast.CommentGroup) (name, doc string, nogo, ok bool) {
	var lines []string
	for _, c := range cg.List {
		if n, found := strings.CutPrefix(c.Text, "//export "); found {
			name, ok = strings.TrimSpace(n), true
			continue
		}
		if c.Text == nogoDirective {
			nogo = true
			continue
		}
		if !strings.HasPrefix(c.Text, "//") {
			// A /* */ comment: keep its text.
			lines = append(lines, strings.Split(strings.TrimSuffix(strings.TrimPrefix(c.Text, "/*"), "*/"), "\n")...)
			continue
		}
		line := strings.TrimPrefix(c.Text, "//")
		line = strings.TrimPrefix(line, " ")
		lines = append(lines, line)
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return name, strings.Join(lines, "\n"), nogo, ok
}

var (
	privateTypedef = regexp.MustCompile(`(?m)^typedef\s+(.+?)\s*\b(capi_\w+)\s*;`)
	externLine     = regexp.MustCompile(`(?m)^extern\s+(.+?)\s*\b` + goPrefix + `(segcache_\w+)\((.*)\);$`)
	goType         = regexp.MustCompile(`\bGo[A-Z]\w*|\b_Go\w*`)
)

const exportsStart = "/* End of boilerplate cgo prologue.  */"

// signature is an export's return type and parameters as cgo declares
// them, with capi_* typedefs expanded.
type signature struct {
	ret    string
	params []cparam
}

type cparam struct{ typ, name string }

// signatures reads the prototype of each export in the cgo header, with
// capi_* typedefs expanded.
func signatures(cgo string) (map[string]signature, error) {
	subst := map[string]string{}
	for _, m := range privateTypedef.FindAllStringSubmatch(cgo, -1) {
		subst[m[2]] = m[1]
	}
	i := strings.Index(cgo, exportsStart)
	if i < 0 {
		return nil, errors.New("cgo header: no exports section")
	}
	sigs := map[string]signature{}
	for _, m := range externLine.FindAllStringSubmatch(cgo[i:], -1) {
		ret, name, params := m[1], m[2], m[3]
		if goType.MatchString(ret + " " + params) {
			return nil, fmt.Errorf("export %s uses a Go type: %s(%s)", name, ret, params)
		}
		sig := signature{ret: expand(ret, subst), params: []cparam{}}
		if params != "void" {
			for _, p := range strings.Split(params, ",") {
				p = strings.TrimSpace(p)
				k := strings.LastIndexAny(p, " *")
				typ, pname := strings.TrimSpace(p[:k+1]), p[k+1:]
				sig.params = append(sig.params, cparam{expand(typ, subst), pname})
			}
		}
		sigs[name] = sig
	}
	return sigs, nil
}

// prototypes returns the C prototype (without "extern" and ";") of each
// export, with pointers written as "T *name".
func prototypes(sigs map[string]signature) map[string]string {
	protos := map[string]string{}
	for name, sig := range sigs {
		ps := []string{"void"}
		if len(sig.params) > 0 {
			ps = ps[:0]
			for _, p := range sig.params {
				ps = append(ps, declare(p.typ, p.name))
			}
		}
		protos[name] = declare(sig.ret, name) + "(" + strings.Join(ps, ", ") + ")"
	}
	return protos
}

// expand replaces a private capi_* typedef by its definition.
func expand(typ string, subst map[string]string) string {
	base := strings.TrimRight(typ, "* ")
	stars := strings.Count(typ[len(base):], "*")
	if def, ok := subst[base]; ok {
		base = def
	}
	return base + strings.Repeat("*", stars)
}

// declare writes a declaration of name with type typ in the usual C style:
// "int x", "const void *p", "void *const *bufs".
func declare(typ, name string) string {
	base := strings.TrimRight(typ, "* ")
	stars := strings.Count(typ[len(base):], "*")
	if stars == 0 && strings.HasSuffix(base, "*") { // "const char *" + "name"
		return base + name
	}
	return base + " " + strings.Repeat("*", stars) + name
}

func sameNames(order []string, protos map[string]string) error {
	seen := map[string]bool{}
	for _, n := range order {
		seen[n] = true
		if _, ok := protos[n]; !ok {
			return fmt.Errorf("export %s is missing from the cgo header (stale build?)", n)
		}
	}
	for n := range protos {
		if !seen[n] {
			return fmt.Errorf("cgo header exports %s, which has no documented //export in the sources", n)
		}
	}
	return nil
}

// cComment turns a Go doc comment into a C block comment. Go doc
// indentation (lists, code) is kept.
func cComment(doc string) string {
	var b strings.Builder
	b.WriteString("/*\n")
	for _, line := range strings.Split(doc, "\n") {
		line = strings.ReplaceAll(line, "*/", "* /")
		line = strings.ReplaceAll(line, "/*", "/ *")
		line = strings.ReplaceAll(line, "\t", "    ")
		if strings.TrimSpace(line) == "" {
			b.WriteString(" *\n")
		} else {
			b.WriteString(" * " + line + "\n")
		}
	}
	b.WriteString(" */\n")
	return b.String()
}

// wrap breaks a prototype longer than width after commas, aligning the
// continuation lines with the opening parenthesis.
func wrap(proto string, width int) string {
	if len(proto) <= width {
		return proto
	}
	open := strings.Index(proto, "(")
	indent := strings.Repeat(" ", open+1)
	parts := strings.SplitAfter(proto, ", ")
	var b strings.Builder
	line := ""
	for _, p := range parts {
		if line != "" && len(line)+len(strings.TrimRight(p, " ")) > width {
			b.WriteString(strings.TrimRight(line, " ") + "\n")
			line = indent
		}
		line += p
	}
	b.WriteString(line)
	return b.String()
}
