//! Writes the directory of libsegcache.so into this program's rpath, so it
//! runs without LD_LIBRARY_PATH. segcache-sys finds the library
//! (SEGCACHE_LIB_DIR, pkg-config, or the repository's build directory) and hands its
//! directory to direct dependents as DEP_SEGCACHE_LIB_DIR; link arguments
//! of a build script apply only to its own package, which is why this
//! program depends on segcache-sys directly and repeats the step. A program
//! of your own can do the same, or install the library where the dynamic
//! loader looks.
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_SEGCACHE_LIB_DIR");
    if let Some(dir) = std::env::var_os("DEP_SEGCACHE_LIB_DIR") {
        println!(
            "cargo:rustc-link-arg=-Wl,-rpath,{}",
            std::path::Path::new(&dir).display()
        );
    }
}
