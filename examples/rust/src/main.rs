//! A tour of the safe Rust API over libsegcache.so: build a cache, store
//! and read items, use cas and counters, share the cache between threads,
//! and read the statistics. Run with `make demo-rust` or, from
//! bindings/rust, `cargo run -p segcache-example`.
//!
//! The program checks what it prints and exits non-zero on any surprise,
//! so `make test` can run it as a test.
use std::sync::Arc;
use std::thread;

use segcache::{Cache, Error, Eviction};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (major, minor, patch) = segcache::version();
    println!("libsegcache {major}.{minor}.{patch}");

    let cache = Cache::builder()
        .heap_bytes(32 << 20)
        .segment_bytes(1 << 20)
        .eviction(Eviction::Merge)
        .build()?;

    // Plain set/get; values are copied out, so nothing borrows the cache.
    cache.set("user:1", "alice", 0)?;
    cache.set(b"user:2", b"bob", 60)?; // any AsRef<[u8]>; expires in 60 s
    let alice = cache.get("user:1")?;
    println!(
        "user:1 = {:?}",
        alice.as_deref().map(String::from_utf8_lossy)
    );
    assert_eq!(alice.as_deref(), Some(&b"alice"[..]));

    // A reused buffer: no allocation per lookup once it is big enough.
    let mut buf = Vec::with_capacity(64);
    for key in ["user:1", "user:2", "user:3"] {
        let found = cache.get_into(key, &mut buf)?;
        println!(
            "{key}: {}",
            if found {
                String::from_utf8_lossy(&buf).into_owned()
            } else {
                "(absent)".into()
            }
        );
    }

    // Conditional stores report the condition as an error variant.
    match cache.add("user:1", "mallory", 0) {
        Err(Error::Exists) => println!("add user:1: already present, kept"),
        other => return Err(format!("add on a present key gave {other:?}").into()),
    }
    let (_, token) = cache.gets("user:1")?.ok_or("user:1 vanished")?;
    cache.cas("user:1", "alice2", 0, token)?;
    assert_eq!(cache.cas("user:1", "alice3", 0, token), Err(Error::Exists));
    println!(
        "cas with a fresh token stored, with a stale one: {}",
        Error::Exists
    );

    // Counters, incremented from four threads sharing one cache.
    cache.set("visits", "0", 0)?;
    let cache = Arc::new(cache);
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let cache = Arc::clone(&cache);
            thread::spawn(move || -> Result<(), Error> {
                for _ in 0..1000 {
                    cache.incr("visits", 1)?;
                }
                Ok(())
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker panicked")?;
    }
    let visits = cache.incr("visits", 0)?;
    println!("visits after 4 threads x 1000 incr: {visits}");
    assert_eq!(visits, 4000);

    // Batch lookup: one call into the library for many keys.
    let got = cache.get_many(&["user:1", "nobody", "user:2"])?;
    println!(
        "get_many: {} of {} found",
        got.iter().flatten().count(),
        got.len()
    );
    assert_eq!(got[1], None);

    assert!(cache.delete("user:2")?);
    assert!(!cache.delete("user:2")?);

    let s = cache.stats()?;
    println!(
        "stats: items={} item_bytes={} gets={} hits={} misses={} sets={} deletes={}",
        s.items, s.item_bytes, s.gets, s.hits, s.misses, s.sets, s.deletes
    );
    Ok(())
}
