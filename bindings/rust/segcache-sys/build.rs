//! Finds and links libsegcache. Uses std only (pkg-config is run as a
//! command, so the crate keeps no build dependency).
//!
//! Where, first match wins:
//!  1. `SEGCACHE_LIB_DIR`, if set: an explicit choice overrides everything;
//!  2. an installed library, through `pkg-config --variable=libdir
//!     segcache` (`make install` writes segcache.pc; set PKG_CONFIG_PATH
//!     for a prefix pkg-config does not search);
//!  3. the repository's build directory, found relative to this crate
//!     (`make lib` puts libsegcache.so in build/, `make lib-static`
//!     libsegcache.a in build/static/).
//!
//! How: by default libsegcache.so, with the directory written into the
//! rpath of this crate's tests and handed to direct dependents as
//! DEP_SEGCACHE_LIB_DIR, so `cargo test` and `cargo run` need no
//! LD_LIBRARY_PATH. With the `static` feature, libsegcache.a (a
//! `go build -buildmode=c-archive` of the library, Go runtime included) is
//! linked into the binary, which then needs no libsegcache.so at run time.
//!
//! The choice is passed to the crate's tests as SEGCACHE_LINKED_FROM (the
//! directory) and SEGCACHE_LINK_SOURCE (env, pkg-config or repository).
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=SEGCACHE_LIB_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_LIBDIR");
    println!("cargo:rerun-if-changed=build.rs");
    let static_link = env::var_os("CARGO_FEATURE_STATIC").is_some();
    let file = if static_link {
        "libsegcache.a"
    } else {
        "libsegcache.so"
    };

    let (dir, source) = match env::var_os("SEGCACHE_LIB_DIR") {
        Some(d) if !d.is_empty() => (PathBuf::from(d), "env"),
        _ => match pkg_config_libdir() {
            Some(d) => (d, "pkg-config"),
            None => {
                // bindings/rust/segcache-sys -> repository root -> build/
                let manifest = PathBuf::from(
                    env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
                );
                let build = manifest.join("../../../build");
                (
                    if static_link {
                        build.join("static")
                    } else {
                        build
                    },
                    "repository",
                )
            }
        },
    };
    // An absolute, normalized path: the rpath must not depend on the
    // directory a binary is started from.
    let dir = dir.canonicalize().unwrap_or(dir);
    // Relink when the library is rebuilt (and rerun until it exists, so
    // that the path above gets canonicalized once it does).
    println!("cargo:rerun-if-changed={}", dir.join(file).display());
    if !dir.join(file).exists() {
        let make = if static_link {
            "make lib-static"
        } else {
            "make lib"
        };
        println!(
            "cargo:warning={file} not found in {} (found via {source}): run `{make}` at the repository root, `make install`, or set SEGCACHE_LIB_DIR",
            dir.display()
        );
    }
    let d = dir.display();
    println!("cargo:rustc-link-search=native={d}");
    if static_link {
        println!("cargo:rustc-link-lib=static=segcache");
        // The Go runtime in the archive uses threads (glibc before 2.34
        // keeps them in libpthread).
        println!("cargo:rustc-link-lib=dylib=pthread");
    } else {
        println!("cargo:rustc-link-lib=dylib=segcache");
        println!("cargo:rustc-link-arg=-Wl,-rpath,{d}");
    }
    println!("cargo:lib_dir={d}");
    println!("cargo:rustc-env=SEGCACHE_LINKED_FROM={d}");
    println!("cargo:rustc-env=SEGCACHE_LINK_SOURCE={source}");
}

/// The libdir of an installed segcache according to pkg-config, or None if
/// pkg-config is missing or knows no segcache.
fn pkg_config_libdir() -> Option<PathBuf> {
    let out = Command::new(env::var_os("PKG_CONFIG").unwrap_or_else(|| "pkg-config".into()))
        .args(["--variable=libdir", "segcache"])
        .output()
        .ok()?;
    let dir = String::from_utf8(out.stdout).ok()?;
    let dir = dir.trim();
    if !out.status.success() || dir.is_empty() {
        return None;
    }
    Some(Path::new(dir).to_path_buf())
}
