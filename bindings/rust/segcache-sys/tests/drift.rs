//! Drift check: compares segcache-sys with include/segcache.abi.json, the
//! description of the C ABI generated with the header (make check-header
//! proves the two equal, every value, offset and prototype checked by the
//! C compiler). Fails if a function, constant, enum constant, typedef or
//! struct field of the ABI is missing from segcache-sys, is declared there
//! with another signature, type or value, or if segcache-sys declares
//! something the ABI does not have. Struct layouts are compared byte for
//! byte: the description's offsets, sizes and alignments against the real
//! ones of the Rust structs. The description is found at SEGCACHE_ABI or,
//! by default, at include/segcache.abi.json in the repository.

mod abi_json;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::CStr;

use abi_json::{rust_type, Value};
use segcache_sys::{ConstValue, CONSTANTS, FUNCTIONS, STRUCTS, TYPEDEFS};

/// The ABI in the terms of the Rust declarations (types as Rust spells
/// them, normalized by [`norm`]).
#[derive(Debug, Clone, Default)]
struct Abi {
    /// name -> (return type, "" for void; parameter types)
    functions: BTreeMap<String, (String, Vec<String>)>,
    /// name -> (Rust type, value); #defines and enum constants
    constants: BTreeMap<String, (String, i128)>,
    typedefs: BTreeMap<String, String>,
    /// name -> (size, align, [(field, type, offset)])
    structs: BTreeMap<String, (usize, usize, Vec<(String, String, usize)>)>,
}

fn model(v: &Value) -> Abi {
    let mut a = Abi::default();
    for f in v.get("functions").array() {
        let params = f
            .get("params")
            .array()
            .iter()
            .map(|p| norm(&rust_type(p.get("type"))))
            .collect();
        a.functions.insert(
            f.get("name").str().into(),
            (norm(&rust_type(f.get("returns"))), params),
        );
    }
    for c in v.get("constants").array() {
        let ty = match c.get("type").str() {
            "int" => "i32",
            "unsigned int" => "u32",
            other => panic!("constant of C type {other}"),
        };
        a.constants.insert(
            c.get("name").str().into(),
            (ty.into(), c.get("value").int()),
        );
    }
    for e in v.get("enums").array() {
        for c in e.get("values").array() {
            // C enum constants have type int.
            a.constants.insert(
                c.get("name").str().into(),
                ("i32".into(), c.get("value").int()),
            );
        }
    }
    for t in v.get("typedefs").array() {
        a.typedefs
            .insert(t.get("name").str().into(), norm(&rust_type(t.get("type"))));
    }
    for s in v.get("structs").array() {
        let fields = s
            .get("fields")
            .array()
            .iter()
            .map(|f| {
                (
                    f.get("name").str().to_string(),
                    norm(&rust_type(f.get("type"))),
                    f.get("offset").usize(),
                )
            })
            .collect();
        a.structs.insert(
            s.get("name").str().into(),
            (s.get("size").usize(), s.get("align").usize(), fields),
        );
    }
    a
}

/// Rust type text as stringify! writes it, normalized: no whitespace, no
/// path prefix on the core::ffi names. The core::ffi aliases that are the
/// same type on every Linux target the library supports are compared as
/// that type (c_int is i32, ...), so a declaration may use either spelling.
fn norm(rust: &str) -> String {
    let s = rust
        .replace("core::ffi::", "")
        .replace("std::ffi::", "")
        .replace("std::os::raw::", "");
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

/// Every difference between the ABI and segcache-sys.
fn differences(a: &Abi) -> Vec<String> {
    let mut errors = Vec::new();

    let rust_fns: BTreeMap<&str, _> = FUNCTIONS.iter().map(|f| (f.name, f)).collect();
    for (name, (ret, params)) in &a.functions {
        let Some(r) = rust_fns.get(name.as_str()) else {
            errors.push(format!("function {name} is not declared in segcache-sys"));
            continue;
        };
        let got: Vec<String> = r.params.iter().map(|p| norm(p)).collect();
        if norm(r.ret) != *ret || got != *params {
            errors.push(format!(
                "function {name}: the ABI says fn({}) -> {ret:?}, segcache-sys says fn({}) -> {:?}",
                params.join(", "),
                got.join(", "),
                norm(r.ret)
            ));
        }
    }
    for name in rust_fns.keys() {
        if !a.functions.contains_key(*name) {
            errors.push(format!(
                "segcache-sys declares function {name}, which the ABI does not have"
            ));
        }
    }

    let rust_consts: BTreeMap<&str, (String, ConstValue)> = CONSTANTS
        .iter()
        .map(|(n, t, v)| (*n, (norm(t), *v)))
        .collect();
    for (name, (ty, v)) in &a.constants {
        match rust_consts.get(name.as_str()) {
            None => errors.push(format!(
                "constant {name}: {ty} = {v} is missing from segcache-sys"
            )),
            Some((rt, rv)) if rt != ty || *rv != ConstValue::Int(*v) => errors.push(format!(
                "constant {name}: the ABI says {ty} = {v}, segcache-sys {rt} = {rv:?}"
            )),
            Some(_) => {}
        }
    }
    for name in rust_consts.keys() {
        if !a.constants.contains_key(*name) {
            errors.push(format!(
                "segcache-sys defines constant {name}, which the ABI does not have"
            ));
        }
    }

    let rust_tds: BTreeMap<&str, &str> = TYPEDEFS.iter().copied().collect();
    for (name, t) in &a.typedefs {
        match rust_tds.get(name.as_str()) {
            None => errors.push(format!("typedef {name} is missing from segcache-sys")),
            Some(r) if norm(r) != *t => errors.push(format!(
                "typedef {name}: the ABI says {t}, segcache-sys {}",
                norm(r)
            )),
            Some(_) => {}
        }
    }
    for name in rust_tds.keys() {
        if !a.typedefs.contains_key(*name) {
            errors.push(format!(
                "segcache-sys has typedef {name}, which the ABI does not have"
            ));
        }
    }

    let rust_structs: BTreeMap<&str, _> = STRUCTS.iter().map(|s| (s.name, s)).collect();
    for (name, (size, align, want)) in &a.structs {
        let Some(r) = rust_structs.get(name.as_str()) else {
            errors.push(format!("struct {name} is missing from segcache-sys"));
            continue;
        };
        let got: Vec<(String, String, usize)> = r
            .fields
            .iter()
            .map(|f| (f.name.to_string(), norm(f.ty), f.offset))
            .collect();
        if *want != got {
            errors.push(format!("struct {name} fields (name, type, offset):\n  ABI:          {want:?}\n  segcache-sys: {got:?}"));
        }
        if (*size, *align) != (r.size, r.align) {
            errors.push(format!(
                "struct {name}: the ABI says size/align {size}/{align}, segcache-sys {}/{}",
                r.size, r.align
            ));
        }
    }
    for name in rust_structs.keys() {
        if !a.structs.contains_key(*name) {
            errors.push(format!(
                "segcache-sys has struct {name}, which the ABI does not have"
            ));
        }
    }
    errors
}

#[test]
fn abi_matches_declarations() {
    let a = model(&abi_json::read());
    let errors = differences(&a);
    assert!(
        errors.is_empty(),
        "segcache-sys differs from {}:\n{}",
        abi_json::path().display(),
        errors.join("\n")
    );
    // The description must have been read, not found empty.
    assert!(!a.functions.is_empty() && !a.constants.is_empty() && !a.structs.is_empty());
}

/// The library's strerror texts are the ones the ABI lists (the safe crate
/// shows them in its errors).
#[test]
fn strerror_texts_match_the_abi() {
    let v = abi_json::read();
    for s in v.get("statuses").array() {
        let status = s.get("value").int() as i32;
        // SAFETY: segcache_strerror returns a static NUL-terminated string for any int.
        let text = unsafe { CStr::from_ptr(segcache_sys::segcache_strerror(status)) };
        assert_eq!(
            text.to_str().unwrap(),
            s.get("message").str(),
            "{}",
            s.get("name").str()
        );
    }
    // SAFETY: as above.
    let unknown = unsafe { CStr::from_ptr(segcache_sys::segcache_strerror(12345)) };
    assert_eq!(
        unknown.to_str().unwrap(),
        v.get("unknown_status_message").str()
    );
}

/// The check catches drift of each kind: each edit of the real ABI must
/// produce a difference naming the item.
#[test]
fn every_kind_of_drift_is_caught() {
    let real = model(&abi_json::read());
    type Edit = (&'static str, &'static str, fn(&mut Abi));
    let edits: [Edit; 10] = [
        ("a parameter type", "segcache_set_max_procs", |a| {
            a.functions.get_mut("segcache_set_max_procs").unwrap().1[0] = "u32".into()
        }),
        ("a parameter count", "segcache_expire", |a| {
            a.functions
                .get_mut("segcache_expire")
                .unwrap()
                .1
                .push("u32".into())
        }),
        ("a pointer's constness", "segcache_stats_get", |a| {
            a.functions.get_mut("segcache_stats_get").unwrap().1[1] = "*constsegcache_stats".into()
        }),
        ("a return type", "segcache_version", |a| {
            a.functions.get_mut("segcache_version").unwrap().0 = "u64".into()
        }),
        ("a new function", "segcache_flush", |a| {
            a.functions.insert(
                "segcache_flush".into(),
                ("i32".into(), vec!["segcache_t".into()]),
            );
        }),
        ("a removed function", "segcache_noop", |a| {
            a.functions.remove("segcache_noop");
        }),
        ("a constant's value", "SEGCACHE_ERANGE", |a| {
            a.constants.get_mut("SEGCACHE_ERANGE").unwrap().1 = -40
        }),
        ("a constant's type", "SEGCACHE_STATS_MIN_SIZE", |a| {
            a.constants.get_mut("SEGCACHE_STATS_MIN_SIZE").unwrap().0 = "i32".into()
        }),
        ("a new struct field", "segcache_stats", |a| {
            let s = a.structs.get_mut("segcache_stats").unwrap();
            s.2.push(("ghost_items".into(), "u64".into(), 144));
            s.0 = 152;
        }),
        ("a field's offset", "segcache_options", |a| {
            a.structs.get_mut("segcache_options").unwrap().2[8].2 = 36
        }),
    ];
    assert!(differences(&real).is_empty());
    for (what, name, edit) in edits {
        let mut a = real.clone();
        edit(&mut a);
        let errors = differences(&a);
        assert!(
            errors.iter().any(|e| e.contains(name)),
            "changing {what} went unnoticed: {errors:?}"
        );
    }
}

#[test]
fn rust_spelling_of_c_types() {
    let ty = |c: &str, base: &str, consts: &[bool]| {
        abi_json::parse(&format!(
            r#"{{"c": "{c}", "base": "{base}", "pointers": {}, "const": [{}]}}"#,
            consts.len() - 1,
            consts
                .iter()
                .map(|b| b.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    };
    let cases = [
        (ty("int", "int", &[false]), "i32"),
        (ty("void", "void", &[false]), ""),
        (ty("size_t *", "size_t", &[false, false]), "*mut usize"),
        (ty("const char *", "char", &[true, false]), "*const c_char"),
        (
            ty("const void *const *", "void", &[true, true, false]),
            "*const *const c_void",
        ),
        (
            ty("void *const *", "void", &[false, true, false]),
            "*const *mut c_void",
        ),
        (
            ty(
                "const segcache_options *",
                "segcache_options",
                &[true, false],
            ),
            "*const segcache_options",
        ),
    ];
    for (t, want) in cases {
        assert_eq!(rust_type(&t), want, "{t:?}");
    }
}

#[test]
fn json_reader_reads_and_rejects() {
    let v =
        abi_json::parse(r#" {"a": [1, -2, true, false, null], "s": "x\"\\\/\n\u00e9", "o": {}} "#);
    assert_eq!(v.get("a").array()[1].int(), -2);
    assert_eq!(v.get("s").str(), "x\"\\/\n\u{e9}");
    assert_eq!(v.get("o"), &Value::Object(vec![]));
    assert!(v.opt("missing").is_none());
    for bad in [
        "",
        "{",
        "[1,]",
        "{\"a\" 1}",
        "1.5",
        "1e3",
        "\"\\q\"",
        "{\"a\":1,\"a\":2}",
        "[1] x",
        "tru",
    ] {
        assert!(
            std::panic::catch_unwind(|| abi_json::parse(bad)).is_err(),
            "accepted {bad:?}"
        );
    }
}

#[test]
fn declared_names_are_unique() {
    let mut seen = BTreeSet::new();
    for n in FUNCTIONS
        .iter()
        .map(|f| f.name)
        .chain(CONSTANTS.iter().map(|c| c.0))
        .chain(STRUCTS.iter().map(|s| s.name))
    {
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
        assert!(
            addrs.insert(f.addr as usize),
            "{} shares its address",
            f.name
        );
    }
}
