//! Writes the rpath of libsegcache.so into this crate's tests, doctests,
//! examples and benchmarks. segcache-sys finds the library (SEGCACHE_LIB_DIR
//! or the repository's build directory) and passes its directory down as
//! DEP_SEGCACHE_LIB_DIR; link arguments of a build script apply only to its
//! own package, so each package that has binaries repeats this step.
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_SEGCACHE_LIB_DIR");
    if let Some(dir) = std::env::var_os("DEP_SEGCACHE_LIB_DIR") {
        println!(
            "cargo:rustc-link-arg=-Wl,-rpath,{}",
            std::path::Path::new(&dir).display()
        );
    }
}
