package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// ABI is the machine-readable description of the C ABI written beside the
// header (include/segcache.abi.json). The drift checks of the bindings and
// of the C tests read it instead of parsing C. Struct layouts are computed
// here with the LP64 sizes of the scalar types; check-header compiles
// static assertions of every offset, size and value against the header, so
// a wrong computation fails the build rather than misleading a binding.
type ABI struct {
	Comment   string   `json:"comment"`
	Version   Version  `json:"version"`
	Constants []Const  `json:"constants"`
	Statuses  []Status `json:"statuses"`
	// UnknownStatusMessage is what segcache_strerror returns for any
	// value that is not a status.
	UnknownStatusMessage string     `json:"unknown_status_message"`
	Enums                []Enum     `json:"enums"`
	Typedefs             []Typedef  `json:"typedefs"`
	Structs              []Struct   `json:"structs"`
	Functions            []Function `json:"functions"`
}

// Version is the header's version macros.
type Version struct {
	Major  int `json:"major"`
	Minor  int `json:"minor"`
	Patch  int `json:"patch"`
	Number int `json:"number"` // major*10000 + minor*100 + patch
}

// Const is an integer #define of the header (statuses included).
type Const struct {
	Name  string `json:"name"`
	Value int64  `json:"value"`
	Type  string `json:"type"` // the C type of the expression: "int" or "unsigned int"
	Doc   string `json:"doc,omitempty"`
}

// Status is one SEGCACHE_OK/SEGCACHE_E* status with segcache_strerror's text.
type Status struct {
	Name    string `json:"name"`
	Value   int64  `json:"value"`
	Doc     string `json:"doc"`
	Message string `json:"message"`
}

// Enum is a C enum; its constants have type int.
type Enum struct {
	Name   string      `json:"name"`
	Values []EnumValue `json:"values"`
}

// EnumValue is one constant of an Enum.
type EnumValue struct {
	Name  string `json:"name"`
	Value int64  `json:"value"`
	Doc   string `json:"doc,omitempty"`
}

// Typedef is a scalar typedef (segcache_t).
type Typedef struct {
	Name string `json:"name"`
	Type CType  `json:"type"`
}

// Struct is a struct typedef with its layout on 64-bit Linux.
type Struct struct {
	Name   string  `json:"name"`
	Size   int     `json:"size"`
	Align  int     `json:"align"`
	Fields []Field `json:"fields"`
}

// Field is one member of a Struct.
type Field struct {
	Name   string `json:"name"`
	Type   CType  `json:"type"`
	Offset int    `json:"offset"`
	Size   int    `json:"size"`
	Doc    string `json:"doc,omitempty"`
}

// Function is one exported function.
type Function struct {
	Name    string  `json:"name"`
	Returns CType   `json:"returns"`
	Params  []Param `json:"params"`
}

// Param is one parameter of a Function.
type Param struct {
	Name string `json:"name"`
	Type CType  `json:"type"`
}

// CType is a C type as a binding needs it: the base type, the number of
// pointer levels, and const of each level. Const[0] qualifies the base
// type and Const[i] the i-th pointer, so "const void *const *" is
// {Base: void, Pointers: 2, Const: [true, true, false]}; a binding maps
// pointer level i to a pointer to const (Rust *const) when Const[i-1].
type CType struct {
	C        string `json:"c"`
	Base     string `json:"base"`
	Pointers int    `json:"pointers"`
	Const    []bool `json:"const"`
}

// parseCType reads a C type without a declarator name: "size_t*",
// "const void *const *", "segcache_t".
func parseCType(s string) (CType, error) {
	s = strings.ReplaceAll(s, "*", " * ")
	t := CType{Const: []bool{false}}
	var base []string
	for _, w := range strings.Fields(s) {
		switch {
		case w == "*":
			if len(base) == 0 {
				return t, fmt.Errorf("type %q: pointer without a base type", s)
			}
			t.Pointers++
			t.Const = append(t.Const, false)
		case w == "const":
			t.Const[t.Pointers] = true
		case t.Pointers > 0:
			return t, fmt.Errorf("type %q: %q after a pointer", s, w)
		default:
			base = append(base, w)
		}
	}
	if len(base) == 0 {
		return t, fmt.Errorf("type %q: no base type", s)
	}
	t.Base = strings.Join(base, " ")
	t.C = t.spell()
	return t, nil
}

// spell writes the type the usual C way: "const void *const *".
func (t CType) spell() string {
	s := t.Base
	if t.Const[0] {
		s = "const " + s
	}
	if t.Pointers > 0 {
		s += " "
	}
	for i := 1; i <= t.Pointers; i++ {
		s += "*"
		if t.Const[i] {
			s += "const "
		}
	}
	return strings.TrimRight(s, " ")
}

// scalarLayout is the size (= alignment) of the scalar types a public
// struct may use, on the 64-bit Linux targets the library supports.
var scalarLayout = map[string]int{
	"char": 1, "int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2,
	"int": 4, "unsigned int": 4, "int32_t": 4, "uint32_t": 4, "float": 4,
	"int64_t": 8, "uint64_t": 8, "size_t": 8, "double": 8,
}

// buildABI reads the model of the ABI from the public part of
// segcache_types.h, the cgo header's prototypes and status.go's
// strerror table.
func buildABI(public string, sigs map[string]signature, order []string, src string) (*ABI, error) {
	a := &ABI{Comment: "Code generated by capi/internal/genheader from capi; DO NOT EDIT. " +
		"The C ABI of libsegcache (include/segcache.h) for the bindings' drift checks; " +
		"struct layouts are those of 64-bit Linux."}
	if err := a.readDefines(public); err != nil {
		return nil, err
	}
	code := stripComments(public)
	if err := a.readEnums(public, code); err != nil {
		return nil, err
	}
	if err := a.readTypedefs(public, code); err != nil {
		return nil, err
	}
	messages, unknown, err := statusMessages(filepath.Join(src, "status.go"))
	if err != nil {
		return nil, err
	}
	a.UnknownStatusMessage = unknown
	for _, c := range a.Constants {
		if c.Name != "SEGCACHE_OK" && !strings.HasPrefix(c.Name, "SEGCACHE_E") {
			continue
		}
		msg, ok := messages[c.Name]
		if !ok {
			return nil, fmt.Errorf("status %s has no segcache_strerror text in status.go", c.Name)
		}
		delete(messages, c.Name)
		a.Statuses = append(a.Statuses, Status{Name: c.Name, Value: c.Value, Doc: c.Doc, Message: msg})
	}
	for name := range messages {
		return nil, fmt.Errorf("status.go has a segcache_strerror text for %s, which the header does not define", name)
	}
	for _, name := range order {
		s := sigs[name]
		f := Function{Name: name, Params: []Param{}}
		if f.Returns, err = parseCType(s.ret); err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		for _, p := range s.params {
			t, err := parseCType(p.typ)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", name, err)
			}
			f.Params = append(f.Params, Param{Name: p.name, Type: t})
		}
		a.Functions = append(a.Functions, f)
	}
	v := map[string]int64{}
	for _, c := range a.Constants {
		v[c.Name] = c.Value
	}
	for _, part := range []string{"MAJOR", "MINOR", "PATCH", "NUMBER"} {
		if _, ok := v["SEGCACHE_VERSION_"+part]; !ok {
			return nil, fmt.Errorf("the header has no SEGCACHE_VERSION_%s", part)
		}
	}
	a.Version = Version{int(v["SEGCACHE_VERSION_MAJOR"]), int(v["SEGCACHE_VERSION_MINOR"]),
		int(v["SEGCACHE_VERSION_PATCH"]), int(v["SEGCACHE_VERSION_NUMBER"])}
	if a.Version.Number != a.Version.Major*10000+a.Version.Minor*100+a.Version.Patch {
		return nil, fmt.Errorf("SEGCACHE_VERSION_NUMBER %d is not major*10000+minor*100+patch", a.Version.Number)
	}
	return a, nil
}

// marshal writes the ABI as indented JSON with a final newline.
func (a *ABI) marshal() []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(a); err != nil {
		panic(err) // only plain strings, ints and bools: cannot fail
	}
	return b.Bytes()
}

var (
	commentRE = regexp.MustCompile(`(?s)/\*.*?\*/`)
	defineRE  = regexp.MustCompile(`^#define\s+(\w+)\s+(.*)$`)
	spaceRE   = regexp.MustCompile(`\s+`)
)

func stripComments(s string) string { return commentRE.ReplaceAllString(s, " ") }

// commentText is the text of the comments in s, whitespace collapsed.
func commentText(s string) string {
	var parts []string
	for _, c := range commentRE.FindAllString(s, -1) {
		parts = append(parts, strings.TrimSuffix(strings.TrimPrefix(c, "/*"), "*/"))
	}
	return strings.TrimSpace(spaceRE.ReplaceAllString(strings.Join(parts, " "), " "))
}

// readDefines reads every #define NAME VALUE of the public text, with
// its trailing comment as doc. A #define whose comment continues on the
// next lines (or whose value does, after a backslash) is read whole.
func (a *ABI) readDefines(public string) error {
	lines := strings.Split(public, "\n")
	known := map[string]Const{}
	for i := 0; i < len(lines); i++ {
		m := defineRE.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		text := m[2]
		for strings.HasSuffix(text, "\\") && i+1 < len(lines) {
			i++
			text = strings.TrimSuffix(text, "\\") + " " + lines[i]
		}
		for strings.Count(text, "/*") > strings.Count(text, "*/") && i+1 < len(lines) {
			i++
			text += "\n" + lines[i]
		}
		val, err := evalConst(stripComments(text), known)
		if err != nil {
			return fmt.Errorf("#define %s: %v", m[1], err)
		}
		val.Name, val.Doc = m[1], commentText(text)
		known[val.Name] = val
		a.Constants = append(a.Constants, val)
	}
	return nil
}

var enumRE = regexp.MustCompile(`(?s)enum\s+(\w+)\s*\{(.*?)\}`)

// readEnums reads every enum with explicit values (docs from the comments
// after each constant).
func (a *ABI) readEnums(public, code string) error {
	commented := map[string]string{} // enum name -> its body with comments
	for _, m := range enumRE.FindAllStringSubmatch(public, -1) {
		commented[m[1]] = m[2]
	}
	for _, m := range enumRE.FindAllStringSubmatch(code, -1) {
		e := Enum{Name: m[1]}
		docs := memberDocs(commented[m[1]], regexp.MustCompile(`^\s*(\w+)\s*=`))
		for _, item := range strings.Split(m[2], ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			name, val, ok := strings.Cut(item, "=")
			if !ok {
				return fmt.Errorf("enum %s: %q has no explicit value", e.Name, item)
			}
			v, err := strconv.ParseInt(strings.TrimSpace(val), 0, 64)
			if err != nil {
				return fmt.Errorf("enum %s: %v", e.Name, err)
			}
			name = strings.TrimSpace(name)
			e.Values = append(e.Values, EnumValue{Name: name, Value: v, Doc: docs[name]})
		}
		a.Enums = append(a.Enums, e)
	}
	return nil
}

var (
	scalarTypedefRE = regexp.MustCompile(`(?m)^typedef\s+([\w ]+?)\s+(\w+)\s*;`)
	structRE        = regexp.MustCompile(`(?s)typedef\s+struct\s+(\w+)\s*\{(.*?)\}\s*(\w+)\s*;`)
	// A field declaration: the type (a pointer's stars included), then one
	// or more names: "uint64_t gets, hits;", "void *buf;".
	fieldDeclRE = regexp.MustCompile(`^\s*([\w ]*\w[\s*]+)(\w+(?:\s*,\s*\w+)*)\s*;`)
)

// readTypedefs reads the scalar typedefs and the struct typedefs, and lays
// the structs out by the C rules (each field at the next multiple of its
// alignment; the size a multiple of the largest alignment).
func (a *ABI) readTypedefs(public, code string) error {
	layout := map[string]int{}
	for k, v := range scalarLayout {
		layout[k] = v
	}
	for _, m := range scalarTypedefRE.FindAllStringSubmatch(code, -1) {
		t, err := parseCType(m[1])
		if err != nil {
			return err
		}
		size, ok := layout[t.Base]
		if !ok || t.Pointers > 0 {
			return fmt.Errorf("typedef %s: unsupported type %q", m[2], m[1])
		}
		layout[m[2]] = size
		a.Typedefs = append(a.Typedefs, Typedef{Name: m[2], Type: t})
	}
	commented := map[string]string{} // struct name -> its body with comments
	for _, m := range structRE.FindAllStringSubmatch(public, -1) {
		commented[m[1]] = m[2]
	}
	for _, m := range structRE.FindAllStringSubmatch(code, -1) {
		if m[1] != m[3] {
			return fmt.Errorf("typedef struct %s {...} %s: the names must agree", m[1], m[3])
		}
		docs := memberDocs(commented[m[1]], regexp.MustCompile(`^\s*[\w ]*\w[\s*]+(\w+)\s*;`))
		s := Struct{Name: m[1], Align: 1}
		for _, decl := range strings.Split(m[2], ";") {
			if strings.TrimSpace(decl) == "" {
				continue
			}
			fm := fieldDeclRE.FindStringSubmatch(decl + ";")
			if fm == nil {
				return fmt.Errorf("struct %s: cannot read field %q", s.Name, strings.TrimSpace(decl))
			}
			t, err := parseCType(fm[1])
			if err != nil {
				return fmt.Errorf("struct %s: %v", s.Name, err)
			}
			size, ok := layout[t.Base]
			if t.Pointers > 0 {
				size, ok = 8, true
			}
			if !ok {
				return fmt.Errorf("struct %s: field type %q has no known layout", s.Name, fm[1])
			}
			for _, name := range strings.Split(fm[2], ",") {
				name = strings.TrimSpace(name)
				off := (s.Size + size - 1) / size * size
				s.Fields = append(s.Fields, Field{Name: name, Type: t, Offset: off, Size: size, Doc: docs[name]})
				s.Size = off + size
				s.Align = max(s.Align, size)
			}
		}
		s.Size = (s.Size + s.Align - 1) / s.Align * s.Align
		layout[s.Name] = s.Align // only used as a field's alignment: nested structs are not in the ABI
		a.Structs = append(a.Structs, s)
	}
	return nil
}

// memberDocs maps the member named by nameRE at the start of a line to the
// comment that follows it on that line and its continuation lines (lines
// that are only comment text).
func memberDocs(public string, nameRE *regexp.Regexp) map[string]string {
	docs := map[string]string{}
	lines := strings.Split(public, "\n")
	for i := 0; i < len(lines); i++ {
		m := nameRE.FindStringSubmatch(lines[i])
		if m == nil || strings.HasPrefix(strings.TrimSpace(lines[i]), "#") {
			continue
		}
		text := lines[i]
		for strings.Count(text, "/*") > strings.Count(text, "*/") && i+1 < len(lines) {
			i++
			text += "\n" + lines[i]
		}
		docs[m[1]] = commentText(text)
	}
	return docs
}

// evalConst evaluates the value of a #define: integer literals (with a u
// suffix: unsigned int), names of earlier constants, unary minus,
// parentheses, + - and *. Anything else is an error, so a new kind of
// macro cannot slip into the description with a wrong value.
func evalConst(expr string, known map[string]Const) (Const, error) {
	toks := regexp.MustCompile(`\w+|[-+*()]|\S`).FindAllString(expr, -1)
	p := &constParser{toks: toks, known: known}
	c, err := p.sum()
	if err == nil && p.pos < len(toks) {
		err = fmt.Errorf("unexpected %q", toks[p.pos])
	}
	if err != nil {
		return Const{}, fmt.Errorf("%q: %v", strings.TrimSpace(expr), err)
	}
	if c.Type == "unsigned int" {
		c.Value = int64(uint32(c.Value))
	}
	return c, nil
}

type constParser struct {
	toks  []string
	pos   int
	known map[string]Const
}

func (p *constParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

// combine applies the usual arithmetic conversions of int and unsigned int.
func combine(a, b Const, v int64) Const {
	if a.Type == "unsigned int" || b.Type == "unsigned int" {
		return Const{Value: int64(uint32(v)), Type: "unsigned int"}
	}
	return Const{Value: v, Type: "int"}
}

func (p *constParser) sum() (Const, error) {
	a, err := p.product()
	for err == nil && (p.peek() == "+" || p.peek() == "-") {
		op := p.toks[p.pos]
		p.pos++
		var b Const
		if b, err = p.product(); err == nil {
			if op == "+" {
				a = combine(a, b, a.Value+b.Value)
			} else {
				a = combine(a, b, a.Value-b.Value)
			}
		}
	}
	return a, err
}

func (p *constParser) product() (Const, error) {
	a, err := p.unary()
	for err == nil && p.peek() == "*" {
		p.pos++
		var b Const
		if b, err = p.unary(); err == nil {
			a = combine(a, b, a.Value*b.Value)
		}
	}
	return a, err
}

func (p *constParser) unary() (Const, error) {
	t := p.peek()
	p.pos++
	switch {
	case t == "-":
		c, err := p.unary()
		return combine(c, c, -c.Value), err
	case t == "(":
		c, err := p.sum()
		if err == nil && p.peek() != ")" {
			err = errors.New("missing )")
		}
		p.pos++
		return c, err
	case t != "" && t[0] >= '0' && t[0] <= '9':
		typ := "int"
		if lit, ok := strings.CutSuffix(strings.ToLower(t), "u"); ok {
			t, typ = lit, "unsigned int"
		}
		v, err := strconv.ParseInt(t, 0, 32)
		return Const{Value: v, Type: typ}, err
	case p.known[t].Type != "":
		return p.known[t], nil
	}
	return Const{}, fmt.Errorf("unexpected %q", t)
}

// statusMessages reads segcache_strerror's texts from the statusText map
// literal of status.go (keys C.SEGCACHE_*, string values) and the text for
// unknown statuses (the string, or C.CString of it, assigned to
// unknownStatusText).
func statusMessages(path string) (map[string]string, string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		return nil, "", err
	}
	msgs := map[string]string{}
	unknown := ""
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if i >= len(vs.Values) {
					continue
				}
				switch name.Name {
				case "statusText":
					ast.Inspect(vs.Values[i], func(n ast.Node) bool {
						kv, ok := n.(*ast.KeyValueExpr)
						if !ok {
							return true
						}
						if key, ok := cName(kv.Key); ok && strings.HasPrefix(key, "SEGCACHE_") {
							if s, ok := stringLit(kv.Value); ok {
								msgs[key] = s
							}
						}
						return true
					})
				case "unknownStatusText":
					unknown, _ = stringLit(vs.Values[i])
					if call, ok := vs.Values[i].(*ast.CallExpr); ok && len(call.Args) == 1 {
						unknown, _ = stringLit(call.Args[0])
					}
				}
			}
		}
	}
	if len(msgs) == 0 || unknown == "" {
		return nil, "", fmt.Errorf("%s: no statusText map of C.SEGCACHE_* to strings, or no unknownStatusText", path)
	}
	return msgs, unknown, nil
}

// cName returns NAME of the expression C.NAME.
func cName(e ast.Expr) (string, bool) {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return "", false
	}
	if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "C" {
		return "", false
	}
	return sel.Sel.Name, true
}

// stringLit returns the value of a string literal, or of literals joined
// with +.
func stringLit(e ast.Expr) (string, bool) {
	if bin, ok := e.(*ast.BinaryExpr); ok && bin.Op == token.ADD {
		a, okA := stringLit(bin.X)
		b, okB := stringLit(bin.Y)
		return a + b, okA && okB
	}
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// functionNames lists the exported functions of a description, sorted.
func functionNames(a *ABI) []string {
	var names []string
	for _, f := range a.Functions {
		names = append(names, f.Name)
	}
	sort.Strings(names)
	return names
}
