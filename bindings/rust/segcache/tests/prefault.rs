//! `Builder::prefault` makes the heap resident when the cache opens;
//! without it a new cache costs next to nothing resident. A binary of its
//! own with one test: the process's RSS is what it measures, and tests of
//! one binary run in parallel threads.
use segcache::Cache;

fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmRSS in /proc/self/status")
        << 10
}

#[test]
fn prefault_makes_the_heap_resident_at_open() {
    const HEAP: u64 = 32 << 20;
    for prefault in [false, true] {
        let before = resident_bytes();
        let cache = Cache::builder()
            .heap_bytes(HEAP)
            .prefault(prefault)
            .build()
            .expect("open");
        let grown = resident_bytes() as i64 - before as i64;
        if prefault {
            assert!(grown >= (HEAP * 9 / 10) as i64, "prefault: RSS grew by {grown}");
        } else {
            assert!(grown < (HEAP / 4) as i64, "no prefault: RSS grew by {grown}");
        }
        cache.set(b"k", b"v", 0).expect("set");
        assert_eq!(cache.get(b"k").expect("get").as_deref(), Some(&b"v"[..]));
    }
}
