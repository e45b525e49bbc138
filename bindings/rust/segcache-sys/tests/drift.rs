//! Drift check: parses include/segcache.h and fails if a function, #define
//! constant, enum constant, typedef or struct field of the header is missing
//! from segcache-sys, is declared there with another signature, type or
//! value, or if segcache-sys declares something the header does not have.
//! Struct layouts are compared byte for byte: the offsets and sizes C gives
//! the header's fields (computed here with the target's C type sizes)
//! against the real offsets of the Rust structs.
//!
//! The parser is deliberately small and strict: it accepts the C subset a
//! public header of plain functions, macros and structs uses, and anything
//! else is an error that fails the test (naming the line), never something
//! skipped. The header is found at SEGCACHE_HEADER or, by default, at
//! include/segcache.h in the repository.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use segcache_sys::{ConstValue, CONSTANTS, FUNCTIONS, STRUCTS, TYPEDEFS};

// ---------------------------------------------------------------- model --

/// A C type in the vocabulary of the Rust declarations.
#[derive(Debug, Clone, PartialEq)]
enum CType {
    /// A scalar, by its Rust name (`u32`, `c_int`, `usize`, ...).
    Scalar(&'static str),
    Void,
    /// A typedef or struct name of the header.
    Named(String),
    Ptr { is_const: bool, to: Box<CType> },
    Array(Box<CType>, usize),
}

impl CType {
    /// The Rust spelling, as stringify! writes the declaration's type,
    /// less whitespace.
    fn rust(&self) -> String {
        match self {
            CType::Scalar(s) => s.to_string(),
            CType::Void => "c_void".to_string(),
            CType::Named(n) => n.clone(),
            CType::Ptr { is_const, to } => format!("*{} {}", if *is_const { "const" } else { "mut" }, to.rust()),
            CType::Array(t, n) => format!("[{};{}]", t.rust(), n),
        }
    }
}

#[derive(Debug)]
struct Function {
    line: usize,
    ret: CType,
    params: Vec<CType>,
}

#[derive(Debug)]
struct Field {
    name: String,
    ty: CType,
}

#[derive(Debug, Default)]
struct Header {
    /// name -> (Rust type of the C constant, value)
    constants: BTreeMap<String, (&'static str, ConstValue)>,
    /// Attribute macros (like SEGCACHE_API) allowed before a function.
    attributes: BTreeSet<String>,
    typedefs: BTreeMap<String, CType>,
    structs: BTreeMap<String, Vec<Field>>,
    functions: BTreeMap<String, Function>,
}

// ------------------------------------------------------------ tokenizer --

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// An integer literal and its C type (as a Rust type name).
    Int(i128, &'static str),
    Str(String),
    Punct(char),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: usize,
}

fn fail(line: usize, msg: impl AsRef<str>) -> ! {
    panic!("include/segcache.h:{line}: {}", msg.as_ref())
}

/// Removes comments, keeping newlines so line numbers stay right.
fn strip_comments(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let mut line = 1;
    while i < b.len() {
        if b[i] == b'"' {
            // A string literal: copy it whole (it may contain "/*").
            let start = i;
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\n' {
                    fail(line, "newline inside a string literal");
                }
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str(&src[start..i.min(b.len())]);
        } else if b[i..].starts_with(b"/*") {
            let end = src[i + 2..].find("*/").unwrap_or_else(|| fail(line, "unterminated comment")) + i + 2;
            for c in src[i..end].chars().filter(|&c| c == '\n') {
                out.push(c);
                line += 1;
            }
            out.push(' ');
            i = end + 2;
        } else if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else {
            let c = src[i..].chars().next().unwrap();
            if c == '\n' {
                line += 1;
            }
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Parses an integer literal (decimal, hex or octal, u/l/ll suffixes) and
/// gives it its C type by C11's rules (6.4.4.1), for an LP64 target.
fn parse_int(s: &str, line: usize) -> (i128, &'static str) {
    let t = s.trim_end_matches(['u', 'U', 'l', 'L']);
    let suffix = s[t.len()..].to_ascii_lowercase();
    let (decimal, v) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (false, i128::from_str_radix(h, 16))
    } else if t.len() > 1 && t.starts_with('0') {
        (false, i128::from_str_radix(&t[1..], 8))
    } else {
        (true, t.parse::<i128>())
    };
    let v = v.unwrap_or_else(|_| fail(line, format!("bad integer literal {s:?}")));
    let candidates: &[&str] = match suffix.as_str() {
        "" if decimal => &["i32", "i64"],
        "" => &["i32", "u32", "i64", "u64"],
        "u" => &["u32", "u64"],
        "l" | "ll" if decimal => &["i64"],
        "l" | "ll" => &["i64", "u64"],
        "ul" | "lu" | "ull" | "llu" => &["u64"],
        _ => fail(line, format!("bad integer suffix in {s:?}")),
    };
    let ty = candidates
        .iter()
        .copied()
        .find(|ty| fit(v, ty) == v)
        .unwrap_or_else(|| fail(line, format!("integer literal {s:?} too large")));
    (v, ty)
}

/// v converted to the C integer type ty (wrapping, as C does for unsigned).
fn fit(v: i128, ty: &str) -> i128 {
    match ty {
        "i32" => v as i32 as i128,
        "u32" => v as u32 as i128,
        "i64" => v as i64 as i128,
        "u64" => v as u64 as i128,
        _ => panic!("not an integer type: {ty}"),
    }
}

/// The common type of two integer operands (C's usual arithmetic
/// conversions, LP64).
fn common(a: &'static str, b: &'static str) -> &'static str {
    if a == b {
        a
    } else if a == "u64" || b == "u64" {
        "u64"
    } else if a == "i64" || b == "i64" {
        "i64"
    } else {
        "u32" // i32 with u32
    }
}

fn tokenize(text: &str, line: usize) -> Vec<Token> {
    let mut toks = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            toks.push(Token { tok: Tok::Ident(chars[start..i].iter().collect()), line });
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric()) {
                i += 1;
            }
            if i < chars.len() && chars[i] == '.' {
                fail(line, "floating-point literals are not supported");
            }
            let s: String = chars[start..i].iter().collect();
            let (v, ty) = parse_int(&s, line);
            toks.push(Token { tok: Tok::Int(v, ty), line });
        } else if c == '"' {
            let start = i + 1;
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    fail(line, "escapes in string literals are not supported");
                }
                i += 1;
            }
            if i >= chars.len() {
                fail(line, "unterminated string literal");
            }
            toks.push(Token { tok: Tok::Str(chars[start..i].iter().collect()), line });
            i += 1;
        } else if "(){}[];,*=+-<>|&~".contains(c) {
            toks.push(Token { tok: Tok::Punct(c), line });
            i += 1;
        } else {
            fail(line, format!("unexpected character {c:?}"));
        }
    }
    toks
}

// --------------------------------------------------------- preprocessor --

/// What an open #if.. of the header is for.
#[derive(Debug, Clone, PartialEq)]
enum Cond {
    /// `#ifndef X_H` around the whole header.
    Guard,
    /// `#ifdef __cplusplus` around `extern "C" {` and its `}`.
    Cplusplus,
    /// `#ifndef ATTR` ... `#endif`, which only defines the attribute macro
    /// ATTR (per platform, with nested #if/#elif/#else); depth counts the
    /// nested #if.
    Attribute { name: String, depth: usize },
}

/// Splits the header into preprocessor directives (handled here) and the
/// remaining C declarations (returned as tokens).
fn preprocess(src: &str, h: &mut Header) -> Vec<Token> {
    let text = strip_comments(src);
    let mut decl_toks = Vec::new();
    let mut guard: Option<String> = None;
    let mut conds: Vec<Cond> = Vec::new();
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.to_string()));
    while let Some((line, mut l)) = lines.next() {
        while l.ends_with('\\') {
            l.pop();
            let (_, next) = lines.next().unwrap_or_else(|| fail(line, "continuation at end of file"));
            l.push(' ');
            l.push_str(&next);
        }
        let t = l.trim();
        let directive = t.strip_prefix('#').map(|d| {
            let d = d.trim();
            let (kw, rest) = d.split_once(char::is_whitespace).unwrap_or((d, ""));
            (kw, rest.trim())
        });
        match (conds.last_mut(), directive) {
            // Inside an attribute block: only the macro's definitions.
            (Some(Cond::Attribute { name, depth }), d) => match d {
                Some(("if" | "ifdef" | "ifndef", _)) => *depth += 1,
                Some(("elif" | "else", _)) => {}
                Some(("endif", _)) if *depth == 0 => {
                    conds.pop();
                }
                Some(("endif", _)) => *depth -= 1,
                Some(("define", rest)) if rest.split_whitespace().next() == Some(name.as_str()) => {}
                None if t.is_empty() => {}
                _ => fail(line, format!("unexpected {t:?} in the block defining {name}")),
            },
            (Some(Cond::Cplusplus), None) => {
                // Inside #ifdef __cplusplus: only the extern "C" wrapper.
                if !(t.is_empty() || t == "extern \"C\" {" || t == "}") {
                    fail(line, format!("unexpected C++-only line {t:?}"));
                }
            }
            (_, None) => decl_toks.extend(tokenize(t, line)),
            (_, Some((kw, rest))) => match kw {
                "ifndef" if guard.is_none() && conds.is_empty() => {
                    guard = Some(rest.to_string());
                    conds.push(Cond::Guard);
                }
                "ifndef" if conds == [Cond::Guard] => {
                    h.attributes.insert(rest.to_string());
                    conds.push(Cond::Attribute { name: rest.to_string(), depth: 0 });
                }
                "ifdef" if rest == "__cplusplus" => conds.push(Cond::Cplusplus),
                "endif" => {
                    conds.pop().unwrap_or_else(|| fail(line, "#endif without #if"));
                }
                "include" => {
                    if !(rest.starts_with('<') && rest.ends_with('>')) {
                        fail(line, format!("unexpected include {rest:?}"));
                    }
                }
                "pragma" if rest == "once" => {}
                "define" => {
                    let name_end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
                    let (name, value) = rest.split_at(name_end);
                    if value.starts_with('(') {
                        fail(line, format!("function-like macro {name} is not supported"));
                    }
                    let value = value.trim();
                    if value.is_empty() {
                        if guard.as_deref() == Some(name) {
                            continue; // the include guard
                        }
                        fail(line, format!("#define {name} has no value"));
                    }
                    let toks = tokenize(value, line);
                    let v = eval_const(&toks, &h.constants, line);
                    if h.constants.insert(name.to_string(), v).is_some() {
                        fail(line, format!("{name} defined twice"));
                    }
                }
                _ => fail(line, format!("unsupported directive #{kw}")),
            },
        }
    }
    if !conds.is_empty() {
        fail(text.lines().count(), "unterminated #if");
    }
    if guard.is_none() {
        fail(1, "no include guard");
    }
    decl_toks
}

/// Evaluates a constant expression: integer literals, earlier constants,
/// parentheses, unary - and ~, binary + - * << >> | &, left to right with
/// C precedence for these; or one string literal.
fn eval_const(toks: &[Token], known: &BTreeMap<String, (&'static str, ConstValue)>, line: usize) -> (&'static str, ConstValue) {
    if let [Token { tok: Tok::Str(s), .. }] = toks {
        return ("str", ConstValue::Str(Box::leak(s.clone().into_boxed_str())));
    }
    // Casts such as ((int32_t)-1) are not supported: fail rather than guess.
    let mut p = Expr { toks, pos: 0, known, line };
    let (v, ty) = p.bitor();
    if p.pos != toks.len() {
        fail(line, format!("cannot evaluate constant expression {toks:?}"));
    }
    (ty, ConstValue::Int(v))
}

/// A typed integer value.
type TV = (i128, &'static str);

/// Applies a binary operator with C's conversions and wrapping.
fn binop(a: TV, b: TV, f: impl Fn(i128, i128) -> i128) -> TV {
    let ty = common(a.1, b.1);
    (fit(f(fit(a.0, ty), fit(b.0, ty)), ty), ty)
}

struct Expr<'a> {
    toks: &'a [Token],
    pos: usize,
    known: &'a BTreeMap<String, (&'static str, ConstValue)>,
    line: usize,
}

impl Expr<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }
    fn punct(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn shift_op(&mut self) -> Option<char> {
        for c in ['<', '>'] {
            if self.peek() == Some(&Tok::Punct(c)) && self.toks.get(self.pos + 1).map(|t| &t.tok) == Some(&Tok::Punct(c)) {
                self.pos += 2;
                return Some(c);
            }
        }
        None
    }
    fn bitor(&mut self) -> TV {
        let mut v = self.bitand();
        while self.punct('|') {
            v = binop(v, self.bitand(), |a, b| a | b);
        }
        v
    }
    fn bitand(&mut self) -> TV {
        let mut v = self.shift();
        while self.punct('&') {
            v = binop(v, self.shift(), |a, b| a & b);
        }
        v
    }
    fn shift(&mut self) -> TV {
        let mut v = self.sum();
        while let Some(op) = self.shift_op() {
            let r = self.sum();
            if !(0..64).contains(&r.0) {
                fail(self.line, "shift out of range");
            }
            // The result has the (promoted) type of the left operand.
            v = (fit(if op == '<' { v.0 << r.0 } else { v.0 >> r.0 }, v.1), v.1);
        }
        v
    }
    fn sum(&mut self) -> TV {
        let mut v = self.product();
        loop {
            if self.punct('+') {
                v = binop(v, self.product(), |a, b| a + b);
            } else if self.punct('-') {
                v = binop(v, self.product(), |a, b| a - b);
            } else {
                return v;
            }
        }
    }
    fn product(&mut self) -> TV {
        let mut v = self.unary();
        while self.punct('*') {
            v = binop(v, self.unary(), |a, b| a * b);
        }
        v
    }
    fn unary(&mut self) -> TV {
        if self.punct('-') {
            let (v, ty) = self.unary();
            return (fit(-v, ty), ty);
        }
        if self.punct('~') {
            let (v, ty) = self.unary();
            return (fit(!v, ty), ty);
        }
        if self.punct('(') {
            let v = self.bitor();
            if !self.punct(')') {
                fail(self.line, "expected ) in constant expression");
            }
            return v;
        }
        let line = self.line;
        match self.toks.get(self.pos).map(|t| t.tok.clone()) {
            Some(Tok::Int(v, ty)) => {
                self.pos += 1;
                (v, ty)
            }
            Some(Tok::Ident(name)) => {
                self.pos += 1;
                match self.known.get(&name) {
                    Some((ty, ConstValue::Int(v))) => (*v, ty),
                    _ => fail(line, format!("constant expression uses unknown or non-integer {name}")),
                }
            }
            other => fail(line, format!("unexpected {other:?} in constant expression")),
        }
    }
}

// --------------------------------------------------------------- parser --

struct Parser {
    toks: Vec<Token>,
    pos: usize,
}

/// Words that make up the C base types [`scalar`] knows.
fn is_base_word(w: &str) -> bool {
    matches!(w, "void" | "char" | "int" | "signed" | "unsigned" | "double" | "float" | "_Bool" | "bool")
        || matches!(
            w,
            "uint8_t" | "uint16_t" | "uint32_t" | "uint64_t" | "int8_t" | "int16_t" | "int32_t" | "int64_t"
                | "size_t" | "ssize_t" | "ptrdiff_t" | "uintptr_t"
        )
}

fn scalar(words: &[String], line: usize) -> CType {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    CType::Scalar(match w.as_slice() {
        ["uint8_t"] => "u8",
        ["uint16_t"] => "u16",
        ["uint32_t"] => "u32",
        ["uint64_t"] => "u64",
        ["int8_t"] => "i8",
        ["int16_t"] => "i16",
        ["int32_t"] => "i32",
        ["int64_t"] => "i64",
        ["size_t"] => "usize",
        ["ssize_t"] | ["ptrdiff_t"] => "isize",
        ["uintptr_t"] => "usize",
        ["int"] | ["signed"] | ["signed", "int"] => "c_int",
        ["unsigned"] | ["unsigned", "int"] => "c_uint",
        ["char"] => "c_char",
        ["double"] => "f64",
        ["float"] => "f32",
        ["_Bool"] | ["bool"] => "bool",
        ["void"] => return CType::Void,
        _ => fail(line, format!("unsupported C type {w:?}")),
    })
}

impl Parser {
    fn line(&self) -> usize {
        self.toks.get(self.pos).or(self.toks.last()).map_or(0, |t| t.line)
    }
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }
    fn next(&mut self) -> Tok {
        let t = self.toks.get(self.pos).unwrap_or_else(|| fail(self.line(), "unexpected end of header")).tok.clone();
        self.pos += 1;
        t
    }
    fn expect(&mut self, c: char) {
        let line = self.line();
        let t = self.next();
        if t != Tok::Punct(c) {
            fail(line, format!("expected {c:?}, found {t:?}"));
        }
    }
    fn is(&self, c: char) -> bool {
        self.peek() == Some(&Tok::Punct(c))
    }
    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(s)) if s == w)
    }
    fn ident(&mut self) -> String {
        let line = self.line();
        match self.next() {
            Tok::Ident(s) => s,
            t => fail(line, format!("expected a name, found {t:?}")),
        }
    }

    /// A type up to the declarator name: qualifiers, base words, then
    /// `*` [const] levels. Returns the type; the caller reads the name.
    fn type_(&mut self, h: &Header) -> CType {
        let line = self.line();
        let mut base_const = false;
        let mut words = Vec::new();
        let mut named = None;
        while let Some(Tok::Ident(w)) = self.peek().cloned() {
            if w == "const" {
                base_const = true;
            } else if w == "struct" && named.is_none() && words.is_empty() {
                self.pos += 1;
                named = Some(self.ident());
                continue;
            } else if named.is_none() && words.is_empty() && (h.typedefs.contains_key(&w) || h.structs.contains_key(&w)) {
                named = Some(w);
            } else if named.is_none() && is_base_word(&w) {
                words.push(w);
            } else {
                break; // the declarator's name
            }
            self.pos += 1;
        }
        let mut ty = match (named, words.is_empty()) {
            (Some(n), true) => CType::Named(n),
            (None, false) => scalar(&words, line),
            _ => fail(line, "expected a type"),
        };
        let mut pointee_const = base_const;
        while self.is('*') {
            self.pos += 1;
            ty = CType::Ptr { is_const: pointee_const, to: Box::new(ty) };
            pointee_const = false;
            if self.is_word("const") {
                // A const pointer: matters for the level that points to it.
                self.pos += 1;
                pointee_const = true;
            }
        }
        ty
    }

    fn parse(&mut self, h: &mut Header) {
        let mut extern_c_open = false;
        while self.pos < self.toks.len() {
            let line = self.line();
            if self.is_word("extern") {
                self.pos += 1;
                match self.next() {
                    Tok::Str(s) if s == "C" => {}
                    t => fail(line, format!("expected extern \"C\", found {t:?}")),
                }
                self.expect('{');
                extern_c_open = true;
                continue;
            }
            if self.is('}') && extern_c_open {
                self.pos += 1;
                extern_c_open = false;
                continue;
            }
            if self.is_word("typedef") {
                self.pos += 1;
                self.typedef(h, line);
                continue;
            }
            if self.is_word("struct") && matches!(self.toks.get(self.pos + 2).map(|t| &t.tok), Some(Tok::Punct('{'))) {
                self.pos += 1;
                let name = self.ident();
                let fields = self.struct_body(h);
                self.expect(';');
                self.add_struct(h, name, fields, line);
                continue;
            }
            if self.is_word("enum") {
                self.pos += 1;
                if matches!(self.peek(), Some(Tok::Ident(_))) {
                    self.pos += 1; // the tag, unused by the Rust side
                }
                self.enum_body(h);
                self.expect(';');
                continue;
            }
            self.function(h, line);
        }
    }

    fn typedef(&mut self, h: &mut Header, line: usize) {
        let tok_at = |i: usize| self.toks.get(self.pos + i).map(|t| t.tok.clone());
        let struct_def = self.is_word("struct")
            && (tok_at(1) == Some(Tok::Punct('{')) || (matches!(tok_at(1), Some(Tok::Ident(_))) && tok_at(2) == Some(Tok::Punct('{'))));
        if struct_def {
            self.pos += 1;
            let tag = if let Some(Tok::Ident(_)) = self.peek() { Some(self.ident()) } else { None };
            let fields = self.struct_body(h);
            let name = self.ident();
            self.expect(';');
            if let Some(tag) = &tag {
                if *tag != name {
                    fail(line, format!("struct tag {tag} differs from its typedef name {name}"));
                }
            }
            self.add_struct(h, name, fields, line);
            return;
        }
        if self.is_word("enum") {
            self.pos += 1;
            if matches!(self.peek(), Some(Tok::Ident(_))) && matches!(self.toks.get(self.pos + 1).map(|t| &t.tok), Some(Tok::Punct('{'))) {
                self.pos += 1;
            }
            self.enum_body(h);
            let name = self.ident();
            self.expect(';');
            // An enum type is an int in C's ABI.
            h.typedefs.insert(name, CType::Scalar("c_int"));
            return;
        }
        let ty = self.type_(h);
        let name = self.ident();
        self.expect(';');
        if ty == CType::Named(name.clone()) {
            return; // typedef struct x x; after the struct
        }
        if h.typedefs.insert(name.clone(), ty).is_some() {
            fail(line, format!("typedef {name} twice"));
        }
    }

    fn add_struct(&mut self, h: &mut Header, name: String, fields: Vec<Field>, line: usize) {
        if h.structs.insert(name.clone(), fields).is_some() {
            fail(line, format!("struct {name} twice"));
        }
    }

    fn struct_body(&mut self, h: &Header) -> Vec<Field> {
        self.expect('{');
        let mut fields = Vec::new();
        while !self.is('}') {
            let ty = self.type_(h);
            loop {
                let name = self.ident();
                let mut fty = ty.clone();
                if self.is('[') {
                    self.pos += 1;
                    let line = self.line();
                    let n = match self.next() {
                        Tok::Int(n, _) if n > 0 => n as usize,
                        t => fail(line, format!("unsupported array length {t:?}")),
                    };
                    self.expect(']');
                    fty = CType::Array(Box::new(fty), n);
                }
                fields.push(Field { name, ty: fty });
                if self.is(',') {
                    self.pos += 1;
                    continue;
                }
                self.expect(';');
                break;
            }
        }
        self.expect('}');
        fields
    }

    fn enum_body(&mut self, h: &mut Header) {
        self.expect('{');
        let mut next = 0i128;
        while !self.is('}') {
            let line = self.line();
            let name = self.ident();
            if self.is('=') {
                self.pos += 1;
                let start = self.pos;
                while !(self.is(',') || self.is('}')) {
                    self.pos += 1;
                }
                match eval_const(&self.toks[start..self.pos], &h.constants, line) {
                    (_, ConstValue::Int(v)) if fit(v, "i32") == v => next = v,
                    _ => fail(line, "enum value that is not an int"),
                }
            }
            // An enumeration constant has type int (C11 6.7.2.2).
            if h.constants.insert(name.clone(), ("i32", ConstValue::Int(next))).is_some() {
                fail(line, format!("{name} defined twice"));
            }
            next += 1;
            if self.is(',') {
                self.pos += 1;
            }
        }
        self.expect('}');
    }

    fn function(&mut self, h: &mut Header, line: usize) {
        if let Some(Tok::Ident(w)) = self.peek() {
            if h.attributes.contains(w) {
                self.pos += 1; // e.g. SEGCACHE_API (visibility)
            }
        }
        let ret = self.type_(h);
        let name = self.ident();
        self.expect('(');
        let mut params = Vec::new();
        if self.is_word("void") && matches!(self.toks.get(self.pos + 1).map(|t| &t.tok), Some(Tok::Punct(')'))) {
            self.pos += 1;
        } else if self.is(')') {
            fail(line, format!("{name}() has no prototype: write ({name})(void)"));
        } else {
            loop {
                let ty = self.type_(h);
                if ty == CType::Void {
                    fail(line, "void parameter");
                }
                if let Some(Tok::Ident(_)) = self.peek() {
                    self.pos += 1; // the parameter name
                }
                if self.is('[') {
                    fail(self.line(), "array parameters are not supported");
                }
                params.push(ty);
                if self.is(',') {
                    self.pos += 1;
                    continue;
                }
                break;
            }
        }
        self.expect(')');
        self.expect(';');
        if h.functions.insert(name.clone(), Function { line, ret, params }).is_some() {
            fail(line, format!("function {name} declared twice"));
        }
    }
}

fn header_path() -> PathBuf {
    match std::env::var_os("SEGCACHE_HEADER") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../include/segcache.h"),
    }
}

fn parse_header(src: &str) -> Header {
    let mut h = Header::default();
    let toks = preprocess(src, &mut h);
    Parser { toks, pos: 0 }.parse(&mut h);
    h
}

/// Rust type text as stringify! writes it, normalized: no whitespace, no
/// path prefix on the core::ffi names.
/// The core::ffi aliases that are the same type on every Linux target the
/// library supports are compared as that type (c_int is i32, ...), so a
/// declaration may use either spelling.
fn norm(rust: &str) -> String {
    let s = rust.replace("core::ffi::", "").replace("std::ffi::", "").replace("std::os::raw::", "");
    let mut out = String::new();
    let mut word = String::new();
    for c in s.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        out.push_str(match word.as_str() {
            "c_int" => "i32",
            "c_uint" => "u32",
            "c_long" => "i64",
            "c_ulong" => "u64",
            "c_double" => "f64",
            "c_float" => "f32",
            w => w,
        });
        word.clear();
        if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

/// Size and alignment of a C type on this target, from Rust's view of the
/// same C types.
fn c_layout(t: &CType, h: &Header) -> (usize, usize) {
    use std::mem::{align_of, size_of};
    macro_rules! l {
        ($t:ty) => {
            (size_of::<$t>(), align_of::<$t>())
        };
    }
    match t {
        CType::Scalar(s) => match *s {
            "u8" | "i8" | "bool" => l!(u8),
            "u16" | "i16" => l!(u16),
            "u32" | "i32" | "f32" => l!(u32),
            "u64" | "i64" => l!(u64),
            "f64" => l!(f64),
            "usize" | "isize" => l!(usize),
            "c_int" | "c_uint" => l!(core::ffi::c_int),
            "c_char" => l!(core::ffi::c_char),
            _ => panic!("no layout for {s}"),
        },
        CType::Ptr { .. } => l!(*const u8),
        CType::Void => panic!("void has no layout"),
        CType::Array(t, n) => {
            let (s, a) = c_layout(t, h);
            (s * n, a)
        }
        CType::Named(n) => {
            if let Some(t) = h.typedefs.get(n) {
                return c_layout(t, h);
            }
            let fields = h.structs.get(n).unwrap_or_else(|| panic!("unknown type {n}"));
            struct_layout(fields, h).0
        }
    }
}

/// ((size, align), offsets) of a C struct under the usual C rules.
fn struct_layout(fields: &[Field], h: &Header) -> ((usize, usize), Vec<usize>) {
    let (mut off, mut align) = (0usize, 1usize);
    let mut offsets = Vec::new();
    for f in fields {
        let (s, a) = c_layout(&f.ty, h);
        off = off.div_ceil(a) * a;
        offsets.push(off);
        off += s;
        align = align.max(a);
    }
    ((off.div_ceil(align) * align, align), offsets)
}

// ----------------------------------------------------------------- test --

fn read_header() -> (PathBuf, String) {
    let path = header_path();
    let src = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {} ({e}); the drift check needs the header", path.display()));
    (path, src)
}

#[test]
fn header_matches_declarations() {
    let (path, src) = read_header();
    let h = parse_header(&src);
    let errors = differences(&h);
    assert!(errors.is_empty(), "segcache-sys differs from {}:\n{}", path.display(), errors.join("\n"));
    // The header must have been read, not parsed as empty.
    assert!(!h.functions.is_empty() && !h.constants.is_empty() && !h.structs.is_empty());
}

/// Every difference between the parsed header and segcache-sys.
fn differences(h: &Header) -> Vec<String> {
    let mut errors = Vec::new();

    // Functions, both ways.
    let rust_fns: BTreeMap<&str, _> = FUNCTIONS.iter().map(|f| (f.name, f)).collect();
    for (name, f) in &h.functions {
        let Some(r) = rust_fns.get(name.as_str()) else {
            errors.push(format!("function {name} (header line {}) is not declared in segcache-sys", f.line));
            continue;
        };
        let want_ret = if f.ret == CType::Void { String::new() } else { norm(&f.ret.rust()) };
        let want: Vec<String> = f.params.iter().map(|p| norm(&p.rust())).collect();
        let got: Vec<String> = r.params.iter().map(|p| norm(p)).collect();
        if norm(r.ret) != want_ret || got != want {
            errors.push(format!(
                "function {name}: header says fn({}) -> {want_ret:?}, segcache-sys says fn({}) -> {:?}",
                want.join(", "),
                got.join(", "),
                norm(r.ret)
            ));
        }
    }
    for name in rust_fns.keys() {
        if !h.functions.contains_key(*name) {
            errors.push(format!("segcache-sys declares function {name}, which the header does not have"));
        }
    }

    // Constants, both ways, by type and value.
    let rust_consts: BTreeMap<&str, (String, ConstValue)> = CONSTANTS.iter().map(|(n, t, v)| (*n, (norm(t), *v))).collect();
    for (name, (ty, v)) in &h.constants {
        match rust_consts.get(name.as_str()) {
            None => errors.push(format!("constant {name}: {ty} = {v:?} is missing from segcache-sys")),
            Some((rt, rv)) if rt != ty || rv != v => {
                errors.push(format!("constant {name}: header {ty} = {v:?}, segcache-sys {rt} = {rv:?}"))
            }
            Some(_) => {}
        }
    }
    for name in rust_consts.keys() {
        if !h.constants.contains_key(*name) {
            errors.push(format!("segcache-sys defines constant {name}, which the header does not have"));
        }
    }

    // Scalar typedefs.
    let rust_tds: BTreeMap<&str, &str> = TYPEDEFS.iter().copied().collect();
    for (name, t) in &h.typedefs {
        match rust_tds.get(name.as_str()) {
            None => errors.push(format!("typedef {name} is missing from segcache-sys")),
            Some(r) if norm(r) != norm(&t.rust()) => errors.push(format!("typedef {name}: header {}, segcache-sys {}", t.rust(), norm(r))),
            Some(_) => {}
        }
    }
    for name in rust_tds.keys() {
        if !h.typedefs.contains_key(*name) {
            errors.push(format!("segcache-sys has typedef {name}, which the header does not have"));
        }
    }

    // Structs: field names, types, offsets, size and alignment.
    let rust_structs: BTreeMap<&str, _> = STRUCTS.iter().map(|s| (s.name, s)).collect();
    for (name, fields) in &h.structs {
        let Some(r) = rust_structs.get(name.as_str()) else {
            errors.push(format!("struct {name} is missing from segcache-sys"));
            continue;
        };
        let ((size, align), offsets) = struct_layout(fields, h);
        let want: Vec<(String, String, usize)> =
            fields.iter().zip(&offsets).map(|(f, o)| (f.name.clone(), norm(&f.ty.rust()), *o)).collect();
        let got: Vec<(String, String, usize)> = r.fields.iter().map(|f| (f.name.to_string(), norm(f.ty), f.offset)).collect();
        if want != got {
            errors.push(format!("struct {name} fields (name, type, offset):\n  header:       {want:?}\n  segcache-sys: {got:?}"));
        }
        if (size, align) != (r.size, r.align) {
            errors.push(format!("struct {name}: header size/align {size}/{align}, segcache-sys {}/{}", r.size, r.align));
        }
    }
    for name in rust_structs.keys() {
        if !h.structs.contains_key(*name) {
            errors.push(format!("segcache-sys has struct {name}, which the header does not have"));
        }
    }

    errors
}

/// The check catches drift of each kind in the real header: each edit
/// below, applied to a copy, must produce a difference naming the item.
#[test]
fn every_kind_of_drift_is_caught() {
    let (_, src) = read_header();
    let edits: [(&str, &str, &str, &str); 9] = [
        ("a parameter type", "segcache_set_max_procs(int n);", "segcache_set_max_procs(uint32_t n);", "segcache_set_max_procs"),
        ("a parameter count", "int segcache_expire(segcache_t cache);", "int segcache_expire(segcache_t cache, uint32_t now);", "segcache_expire"),
        ("a pointer's constness", "segcache_stats_get(segcache_t cache, segcache_stats *out)", "segcache_stats_get(segcache_t cache, const segcache_stats *out)", "segcache_stats_get"),
        ("a return type", "SEGCACHE_API uint32_t segcache_version(void);", "SEGCACHE_API uint64_t segcache_version(void);", "segcache_version"),
        ("a new function", "SEGCACHE_API void segcache_noop(void);", "SEGCACHE_API void segcache_noop(void);\nSEGCACHE_API int segcache_flush(segcache_t c);", "segcache_flush"),
        ("a constant's value", "#define SEGCACHE_ERANGE      (-4)", "#define SEGCACHE_ERANGE      (-40)", "SEGCACHE_ERANGE"),
        ("a constant's type", "#define SEGCACHE_STATS_MIN_SIZE 128u", "#define SEGCACHE_STATS_MIN_SIZE 128", "SEGCACHE_STATS_MIN_SIZE"),
        ("a new struct field", "uint64_t promoted_items;", "uint64_t promoted_items;\n    uint64_t ghost_items;", "segcache_stats"),
        ("a field's type", "int32_t  merge_compact;", "uint32_t merge_compact;", "segcache_options"),
    ];
    for (what, from, to, name) in edits {
        assert_eq!(src.matches(from).count(), 1, "the header no longer contains {from:?}; update this test");
        let h = parse_header(&src.replacen(from, to, 1));
        let errors = differences(&h);
        assert!(
            errors.iter().any(|e| e.contains(name)),
            "changing {what} ({from:?} -> {to:?}) went unnoticed: {errors:?}"
        );
    }
    // And a removed function (every declaration of segcache_noop dropped).
    let h = parse_header(&src.replacen("SEGCACHE_API void segcache_noop(void);", "", 1));
    assert!(differences(&h).iter().any(|e| e.contains("segcache_noop")));
}

// The parser itself: a check that fails to notice drift is worse than none,
// so each kind of drift is shown to be caught, and unknown syntax to fail.

const SAMPLE: &str = r#"
/* A header. */
#ifndef SAMPLE_H
#define SAMPLE_H
#include <stdint.h>
#ifndef A_API
#if defined(_WIN32)
#define A_API __declspec(dllimport)
#elif defined(__GNUC__) && __GNUC__ >= 4
#define A_API __attribute__((visibility("default")))
#else
#define A_API
#endif
#endif
#ifdef __cplusplus
extern "C" {
#endif
#define A_OK 0
#define A_MIN 28u
#define A_NEG_U (-1u)
#define A_LONG 3000000000
#define A_ERR (-3) // errors are negative
#define A_BIG 0x10ULL
#define A_SUM (A_BIG + 1 << 2)
typedef uint64_t a_t;
typedef enum a_mode { A_X, A_Y = 5, A_Z } a_mode;
typedef struct a_opts {
    uint32_t size;
    uint64_t a, b;
    double r;
    uint8_t pad[3];
} a_opts;
int a_get(a_t c, const void *key, size_t klen, void *buf, size_t *vlen);
int a_multi(a_t c, const void *const *keys, void *const *bufs, int *st);
A_API const char *a_str(int status);
A_API void a_noop(void);
#ifdef __cplusplus
}
#endif
#endif
"#;

#[test]
fn parser_reads_every_construct() {
    let h = parse_header(SAMPLE);
    let consts: Vec<(&str, &str, ConstValue)> = h.constants.iter().map(|(k, (t, v))| (k.as_str(), *t, *v)).collect();
    assert_eq!(
        consts,
        vec![
            ("A_BIG", "u64", ConstValue::Int(16)),
            ("A_ERR", "i32", ConstValue::Int(-3)),
            ("A_LONG", "i64", ConstValue::Int(3_000_000_000)),
            ("A_MIN", "u32", ConstValue::Int(28)),
            ("A_NEG_U", "u32", ConstValue::Int(4_294_967_295)),
            ("A_OK", "i32", ConstValue::Int(0)),
            ("A_SUM", "u64", ConstValue::Int(68)),
            ("A_X", "i32", ConstValue::Int(0)),
            ("A_Y", "i32", ConstValue::Int(5)),
            ("A_Z", "i32", ConstValue::Int(6)),
        ]
    );
    assert!(h.attributes.contains("A_API"));
    let tds: Vec<(String, String)> = h.typedefs.iter().map(|(k, v)| (k.clone(), v.rust())).collect();
    assert_eq!(norm("* const core::ffi::c_int"), "*consti32");
    assert_eq!(tds, vec![("a_mode".into(), "c_int".into()), ("a_t".into(), "u64".into())]);
    let sig = |n: &str| {
        let f = &h.functions[n];
        (norm(&f.ret.rust()), f.params.iter().map(|p| norm(&p.rust())).collect::<Vec<_>>())
    };
    assert_eq!(sig("a_get").0, "i32");
    assert_eq!(sig("a_get").1, ["a_t", "*constc_void", "usize", "*mutc_void", "*mutusize"]);
    assert_eq!(sig("a_multi").1, ["a_t", "*const*constc_void", "*const*mutc_void", "*muti32"]);
    assert_eq!(sig("a_str").0, "*constc_char");
    assert!(sig("a_str").1 == ["i32"]);
    assert_eq!(h.functions["a_noop"].ret, CType::Void);
    let fields = &h.structs["a_opts"];
    let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["size", "a", "b", "r", "pad"]);
    let ((size, align), offsets) = struct_layout(fields, &h);
    assert_eq!((size, align, offsets), (40, 8, vec![0, 8, 16, 24, 32]));
}

#[test]
fn parser_rejects_what_it_does_not_understand() {
    let cases = [
        ("a function-like macro", "#define F(x) (x)"),
        ("a valueless define", "#define FLAG"),
        ("an unknown directive", "#if X > 1\n#endif"),
        ("a cast in a constant", "#define C ((int)-1)"),
        ("an unknown type", "long long f(void);"),
        ("a function without a prototype", "int f();"),
        ("an unknown attribute macro", "SEGCACHE_API int f(void);"),
        ("code in an attribute block", "#ifndef ATTR\nint g(void);\n#endif"),
        ("another macro in an attribute block", "#ifndef ATTR\n#define OTHER 1\n#endif"),
        ("a struct field of unknown type", "struct s { long x; };"),
        ("an unsuffixed literal too large", "#define BIG 99999999999999999999999"),
        ("a missing semicolon", "int f(void)"),
    ];
    for (what, body) in cases {
        let src = format!("#ifndef G\n#define G\n{body}\n#endif\n");
        let r = std::panic::catch_unwind(|| parse_header(&src));
        assert!(r.is_err(), "the parser accepted {what}: {body:?}");
    }
    let r = std::panic::catch_unwind(|| parse_header("int f(void);\n"));
    assert!(r.is_err(), "the parser accepted a header without include guard");
}

#[test]
fn declared_names_are_unique() {
    let mut seen = BTreeSet::new();
    for n in FUNCTIONS.iter().map(|f| f.name).chain(CONSTANTS.iter().map(|c| c.0)).chain(STRUCTS.iter().map(|s| s.name)) {
        assert!(seen.insert(n), "{n} declared twice in segcache-sys");
    }
}

/// Every declared function resolves to its own symbol in the library: the
/// FUNCTIONS table takes each one's address, so this test binary links
/// (and, with immediate binding, loads) only if libsegcache.so exports all
/// of them.
#[test]
fn every_declared_function_is_exported() {
    let mut addrs = BTreeSet::new();
    for f in FUNCTIONS {
        assert!(!f.addr.is_null(), "{} has no address", f.name);
        assert!(addrs.insert(f.addr as usize), "{} shares its address", f.name);
    }
}
