//! Links libsegcache.so. The directory comes from SEGCACHE_LIB_DIR or, by
//! default, from the repository's build directory (where `make lib` puts the
//! library), found relative to this crate so that the workspace works from
//! any current directory. The directory is also written into the rpath of
//! this crate's tests, and handed to direct dependents as
//! DEP_SEGCACHE_LIB_DIR, so that `cargo test` and `cargo run` need no
//! LD_LIBRARY_PATH. Uses std only.
use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=SEGCACHE_LIB_DIR");
    println!("cargo:rerun-if-changed=build.rs");

    let dir = match env::var_os("SEGCACHE_LIB_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => {
            // bindings/rust/segcache-sys -> repository root -> build/
            let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
            manifest.join("../../../build")
        }
    };
    // An absolute, normalized path: the rpath must not depend on the
    // directory a binary is started from.
    let dir = dir.canonicalize().unwrap_or(dir);
    // Relink when `make lib` rebuilds the library (and rerun until it
    // exists, so that the path above gets canonicalized once it does).
    println!("cargo:rerun-if-changed={}", dir.join("libsegcache.so").display());
    if !dir.join("libsegcache.so").exists() {
        println!(
            "cargo:warning=libsegcache.so not found in {}: run `make lib` at the repository root or set SEGCACHE_LIB_DIR",
            dir.display()
        );
    }
    let d = dir.display();
    println!("cargo:rustc-link-search=native={d}");
    println!("cargo:rustc-link-lib=dylib=segcache");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{d}");
    println!("cargo:lib_dir={d}");
}
