//! The library this process runs is the one build.rs chose: with the
//! `static` feature no libsegcache.so is mapped at all (the archive is in
//! the binary), otherwise exactly one, from the directory build.rs linked.
//! SEGCACHE_EXPECT_LINK_SOURCE (env, pkg-config or repository), when set by
//! the caller (make test-rust), must be how build.rs found it.
use std::path::Path;

fn mapped_shared_libsegcache() -> Vec<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("Linux /proc/self/maps");
    let mut paths: Vec<String> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|p| p.ends_with("/libsegcache.so"))
        .map(str::to_string)
        .collect();
    paths.dedup();
    paths
}

#[test]
fn runs_the_library_build_rs_linked() {
    // A call into the library: it is loaded and initialized by now.
    // SAFETY: segcache_version takes nothing and never fails.
    let v = unsafe { segcache_sys::segcache_version() };
    assert_eq!(v as i32, segcache_sys::SEGCACHE_VERSION_NUMBER);
    let mapped = mapped_shared_libsegcache();
    if cfg!(feature = "static") {
        assert!(
            mapped.is_empty(),
            "a static build has libsegcache.so mapped: {mapped:?}"
        );
    } else {
        let dir = Path::new(env!("SEGCACHE_LINKED_FROM"));
        assert_eq!(
            mapped.len(),
            1,
            "want one libsegcache.so mapped: {mapped:?}"
        );
        assert_eq!(
            Path::new(&mapped[0]).parent(),
            Some(dir),
            "linked from {}, but runs {}",
            dir.display(),
            mapped[0]
        );
    }
    if let Ok(want) = std::env::var("SEGCACHE_EXPECT_LINK_SOURCE") {
        assert_eq!(
            env!("SEGCACHE_LINK_SOURCE"),
            want,
            "build.rs found the library another way"
        );
    }
}
