//! Reads include/segcache.abi.json, the machine-readable description of the
//! C ABI that the generator writes with the header (and that make
//! check-header proves equal to it, every offset and prototype checked by
//! the C compiler). Shared by the drift tests of both crates; a small
//! strict JSON reader, since the crates have no dependencies.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

/// A JSON value. Numbers are integers: the description has no others, and
/// anything else is an error rather than a silently rounded value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Str(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The member `key` of an object; panics naming it if absent.
    pub fn get(&self, key: &str) -> &Value {
        match self {
            Value::Object(m) => m
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
                .unwrap_or_else(|| panic!("no member {key:?}")),
            _ => panic!("not an object looking up {key:?}"),
        }
    }
    /// The member `key` if present.
    pub fn opt(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    pub fn str(&self) -> &str {
        match self {
            Value::Str(s) => s,
            v => panic!("not a string: {v:?}"),
        }
    }
    pub fn int(&self) -> i128 {
        match self {
            Value::Int(i) => *i,
            v => panic!("not an integer: {v:?}"),
        }
    }
    pub fn usize(&self) -> usize {
        usize::try_from(self.int()).expect("a non-negative integer")
    }
    pub fn bool(&self) -> bool {
        match self {
            Value::Bool(b) => *b,
            v => panic!("not a bool: {v:?}"),
        }
    }
    pub fn array(&self) -> &[Value] {
        match self {
            Value::Array(a) => a,
            v => panic!("not an array: {v:?}"),
        }
    }
}

/// Parses a whole JSON document; panics with the byte offset on any error.
pub fn parse(src: &str) -> Value {
    let mut p = Parser {
        b: src.as_bytes(),
        pos: 0,
    };
    let v = p.value();
    p.ws();
    if p.pos != p.b.len() {
        p.fail("trailing characters");
    }
    v
}

struct Parser<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn fail(&self, msg: &str) -> ! {
        panic!("segcache.abi.json: byte {}: {msg}", self.pos)
    }
    fn ws(&mut self) {
        while self.pos < self.b.len() && matches!(self.b[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }
    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.b.get(self.pos) == Some(&c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, c: u8) {
        if !self.eat(c) {
            self.fail(&format!("expected {:?}", c as char));
        }
    }
    fn literal(&mut self, word: &str, v: Value) -> Value {
        if !self.b[self.pos..].starts_with(word.as_bytes()) {
            self.fail("unknown literal");
        }
        self.pos += word.len();
        v
    }
    fn value(&mut self) -> Value {
        self.ws();
        match self.b.get(self.pos) {
            Some(b'{') => {
                self.pos += 1;
                let mut members = Vec::new();
                if !self.eat(b'}') {
                    loop {
                        self.ws();
                        let k = self.string();
                        self.expect(b':');
                        if members.iter().any(|(m, _)| *m == k) {
                            self.fail(&format!("duplicate member {k:?}"));
                        }
                        members.push((k, self.value()));
                        if self.eat(b'}') {
                            break;
                        }
                        self.expect(b',');
                    }
                }
                Value::Object(members)
            }
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                if !self.eat(b']') {
                    loop {
                        items.push(self.value());
                        if self.eat(b']') {
                            break;
                        }
                        self.expect(b',');
                    }
                }
                Value::Array(items)
            }
            Some(b'"') => Value::Str(self.string()),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => {
                let start = self.pos;
                self.pos += 1;
                while self.pos < self.b.len() && self.b[self.pos].is_ascii_digit() {
                    self.pos += 1;
                }
                if matches!(self.b.get(self.pos), Some(b'.' | b'e' | b'E')) {
                    self.fail("a non-integer number");
                }
                let s = std::str::from_utf8(&self.b[start..self.pos]).unwrap();
                Value::Int(s.parse().unwrap_or_else(|_| self.fail("bad integer")))
            }
            _ => self.fail("expected a value"),
        }
    }
    fn string(&mut self) -> String {
        if self.b.get(self.pos) != Some(&b'"') {
            self.fail("expected a string");
        }
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.b.get(self.pos) else {
                self.fail("unterminated string")
            };
            self.pos += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let e = *self
                        .b
                        .get(self.pos)
                        .unwrap_or_else(|| self.fail("unterminated escape"));
                    self.pos += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'u' => {
                            let hex = self
                                .b
                                .get(self.pos..self.pos + 4)
                                .unwrap_or_else(|| self.fail("short \\u escape"));
                            let cp = u32::from_str_radix(std::str::from_utf8(hex).unwrap(), 16)
                                .unwrap_or_else(|_| self.fail("bad \\u escape"));
                            self.pos += 4;
                            let ch = char::from_u32(cp)
                                .unwrap_or_else(|| self.fail("\\u escape of a surrogate"));
                            out.extend_from_slice(ch.to_string().as_bytes());
                        }
                        _ => self.fail("unknown escape"),
                    }
                }
                c if c < 0x20 => self.fail("control character in a string"),
                c => out.push(c),
            }
        }
        String::from_utf8(out).unwrap_or_else(|_| self.fail("invalid UTF-8"))
    }
}

/// The description's path: SEGCACHE_ABI, or include/segcache.abi.json in
/// the repository (found from this crate's directory).
pub fn path() -> PathBuf {
    match std::env::var_os("SEGCACHE_ABI") {
        Some(p) => PathBuf::from(p),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../include/segcache.abi.json")
        }
    }
}

/// Reads and parses the description.
pub fn read() -> Value {
    let p = path();
    let src =
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {} ({e})", p.display()));
    parse(&src)
}

/// The Rust FFI spelling of a C type of the description: base type mapped
/// to its Rust name, then one raw pointer per level, `*const` where the
/// level points to const (`const void *const *` is `*const *const
/// c_void`). `int` is spelled `i32` and `void` (not behind a pointer) ""
/// (the return type of a function returning nothing).
pub fn rust_type(t: &Value) -> String {
    let base = t.get("base").str();
    let pointers = t.get("pointers").usize();
    let consts: Vec<bool> = t.get("const").array().iter().map(Value::bool).collect();
    assert_eq!(
        consts.len(),
        pointers + 1,
        "const has one entry per level: {t:?}"
    );
    let mut s = match base {
        "void" if pointers == 0 => return String::new(),
        "void" => "c_void",
        "char" => "c_char",
        "int" => "i32",
        "unsigned int" => "u32",
        "int32_t" => "i32",
        "uint32_t" => "u32",
        "int64_t" => "i64",
        "uint64_t" => "u64",
        "int8_t" => "i8",
        "uint8_t" => "u8",
        "int16_t" => "i16",
        "uint16_t" => "u16",
        "size_t" => "usize",
        "double" => "f64",
        "float" => "f32",
        named if named.starts_with("segcache_") => named,
        other => panic!("no Rust spelling for C type {other:?}"),
    }
    .to_string();
    for level in 0..pointers {
        s = format!("*{} {s}", if consts[level] { "const" } else { "mut" });
    }
    s
}

/// name -> (field names in order) of every struct of the description.
pub fn struct_fields(abi: &Value) -> BTreeMap<String, Vec<String>> {
    abi.get("structs")
        .array()
        .iter()
        .map(|s| {
            (
                s.get("name").str().to_string(),
                s.get("fields")
                    .array()
                    .iter()
                    .map(|f| f.get("name").str().to_string())
                    .collect(),
            )
        })
        .collect()
}
