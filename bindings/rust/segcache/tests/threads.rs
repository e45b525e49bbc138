//! One Cache shared by several threads through an Arc: exact counters,
//! values that carry their own checksum, a per-thread reference model, and
//! the C contract Send + Sync rests on (a close while calls are in flight).
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use segcache::{sys, Cache, Error, Eviction};

const THREADS: usize = 4;

/// splitmix64, so the test needs nothing beyond std.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// FNV-1a 64.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// A value for `key` that proves its integrity: the key's hash, the
/// writer, a sequence number, a payload of varying length, and a checksum
/// over all of it.
fn make_value(key: &[u8], writer: u64, seq: u64, rng: &mut Rng) -> Vec<u8> {
    let len = rng.below(300) as usize;
    let mut v = Vec::with_capacity(32 + len);
    v.extend_from_slice(&fnv(key).to_le_bytes());
    v.extend_from_slice(&writer.to_le_bytes());
    v.extend_from_slice(&seq.to_le_bytes());
    v.extend((0..len).map(|_| rng.next() as u8));
    let sum = fnv(&v);
    v.extend_from_slice(&sum.to_le_bytes());
    v
}

/// Panics unless `v` is a whole value written for `key`.
fn check_value(key: &[u8], v: &[u8]) {
    assert!(
        v.len() >= 32,
        "torn value of {} bytes for {:?}",
        v.len(),
        String::from_utf8_lossy(key)
    );
    let (body, sum) = v.split_at(v.len() - 8);
    assert_eq!(
        fnv(body).to_le_bytes(),
        sum,
        "checksum mismatch for {:?}",
        String::from_utf8_lossy(key)
    );
    assert_eq!(
        &body[..8],
        fnv(key).to_le_bytes(),
        "value of another key under {:?}",
        String::from_utf8_lossy(key)
    );
}

#[test]
fn concurrent_incr_is_exact_and_every_result_is_unique() {
    const PER_THREAD: usize = 10_000;
    let cache = Arc::new(Cache::new().unwrap());
    cache.set("counter", "0", 0).unwrap();
    let start = Arc::new(Barrier::new(THREADS));
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (cache, start) = (Arc::clone(&cache), Arc::clone(&start));
            thread::spawn(move || {
                start.wait();
                (0..PER_THREAD)
                    .map(|_| cache.incr("counter", 1).unwrap())
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let mut seen: Vec<u64> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    let total = (THREADS * PER_THREAD) as u64;
    assert_eq!(
        cache.get("counter").unwrap(),
        Some(total.to_string().into_bytes())
    );
    // Each increment returned its own new value: no two saw the same one.
    seen.sort_unstable();
    assert_eq!(seen, (1..=total).collect::<Vec<u64>>());
}

#[test]
fn concurrent_incr_and_decr_balance() {
    let cache = Arc::new(Cache::new().unwrap());
    cache.set("gauge", "1000000", 0).unwrap();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let cache = Arc::clone(&cache);
            thread::spawn(move || {
                for _ in 0..5000 {
                    if t % 2 == 0 {
                        cache.incr("gauge", 3).unwrap();
                    } else {
                        cache.decr("gauge", 3).unwrap();
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(cache.incr("gauge", 0), Ok(1_000_000));
}

/// Threads share hot keys (checksummed values from any writer) and own
/// private keys checked against a reference map. The cache holds every
/// key, so the model must match exactly.
#[test]
fn shared_and_private_keys_under_contention_match_the_model() {
    const OPS: usize = 20_000;
    const SHARED: u64 = 64;
    const PRIVATE: u64 = 200;
    let cache = Arc::new(
        Cache::builder()
            .heap_bytes(64 << 20)
            .segment_bytes(256 << 10)
            .build()
            .unwrap(),
    );
    let start = Arc::new(Barrier::new(THREADS));
    let workers: Vec<_> = (0..THREADS as u64)
        .map(|t| {
            let (cache, start) = (Arc::clone(&cache), Arc::clone(&start));
            thread::spawn(move || {
                let mut rng = Rng(t + 1);
                let mut model: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
                let mut buf = Vec::new();
                start.wait();
                for seq in 0..OPS as u64 {
                    let r = rng.below(100);
                    if r < 50 {
                        let key = format!("shared:{}", rng.below(SHARED)).into_bytes();
                        if r < 15 {
                            let v = make_value(&key, t, seq, &mut rng);
                            cache.set(&key, &v, 0).unwrap();
                        } else if cache.get_into(&key, &mut buf).unwrap() {
                            check_value(&key, &buf);
                        }
                        continue;
                    }
                    let key = format!("private:{t}:{}", rng.below(PRIVATE)).into_bytes();
                    match r {
                        50..=69 => {
                            let v = make_value(&key, t, seq, &mut rng);
                            cache.set(&key, &v, 0).unwrap();
                            model.insert(key, v);
                        }
                        70..=74 => {
                            let present = cache.delete(&key).unwrap();
                            assert_eq!(present, model.remove(&key).is_some(), "delete of {key:?}");
                        }
                        75..=79 => {
                            let v = make_value(&key, t, seq, &mut rng);
                            match cache.add(&key, &v, 0) {
                                Ok(()) => assert!(
                                    model.insert(key, v).is_none(),
                                    "add succeeded on a present key"
                                ),
                                Err(Error::Exists) => {
                                    assert!(model.contains_key(&key), "add refused an absent key")
                                }
                                Err(e) => panic!("add: {e}"),
                            }
                        }
                        80..=84 => {
                            let v = make_value(&key, t, seq, &mut rng);
                            match cache.gets(&key).unwrap() {
                                Some((old, token)) => {
                                    assert_eq!(Some(&old), model.get(&key));
                                    cache.cas(&key, &v, 0, token).unwrap();
                                    model.insert(key, v);
                                }
                                None => {
                                    assert!(!model.contains_key(&key));
                                    assert_eq!(cache.replace(&key, &v, 0), Err(Error::NotFound));
                                }
                            }
                        }
                        _ => {
                            let found = cache.get_into(&key, &mut buf).unwrap();
                            assert_eq!(found.then_some(&buf), model.get(&key), "get of {key:?}");
                        }
                    }
                }
                // Final sweep: every private key is exactly as modelled.
                for i in 0..PRIVATE {
                    let key = format!("private:{t}:{i}").into_bytes();
                    assert_eq!(
                        cache.get(&key).unwrap().as_ref(),
                        model.get(&key),
                        "final {key:?}"
                    );
                }
                model.len()
            })
        })
        .collect();
    let private_items: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let s = cache.stats().unwrap();
    let shared_items = cache
        .get_many(
            &(0..SHARED)
                .map(|i| format!("shared:{i}"))
                .collect::<Vec<_>>(),
        )
        .unwrap();
    for (i, v) in shared_items.iter().enumerate() {
        if let Some(v) = v {
            check_value(format!("shared:{i}").as_bytes(), v);
        }
    }
    let shared_present = shared_items.iter().flatten().count();
    assert_eq!(s.items as usize, private_items + shared_present, "{s:?}");
    assert_eq!(s.evicted_items, 0);
}

/// A small cache under churn: items are evicted (and, with merge,
/// relocated) while readers run; every value read is whole and belongs to
/// its key.
#[test]
fn readers_see_whole_values_while_eviction_churns() {
    for policy in [Eviction::Merge, Eviction::S3Fifo, Eviction::Random] {
        let cache = Arc::new(
            Cache::builder()
                .heap_bytes(512 << 10)
                .segment_bytes(32 << 10)
                .eviction(policy)
                .build()
                .unwrap(),
        );
        let hits = Arc::new(AtomicUsize::new(0));
        // Readers keep reading until every writer is done, so that reads
        // overlap writes however the threads are scheduled (a reader that
        // ran its loop before any writer started never hit).
        let writers_left = Arc::new(AtomicUsize::new(
            (0..THREADS).filter(|t| t % 2 == 0).count(),
        ));
        let workers: Vec<_> = (0..THREADS as u64)
            .map(|t| {
                let (cache, hits, writers_left) = (
                    Arc::clone(&cache),
                    Arc::clone(&hits),
                    Arc::clone(&writers_left),
                );
                thread::spawn(move || {
                    let mut rng = Rng(100 + t);
                    let mut buf = Vec::new();
                    let mut seq = 0u64;
                    while seq < 15_000 || (t % 2 == 1 && writers_left.load(Ordering::SeqCst) > 0) {
                        let key = format!("k{}", rng.below(5000)).into_bytes();
                        if t % 2 == 0 {
                            let v = make_value(&key, t, seq, &mut rng);
                            cache.set(&key, &v, 0).unwrap();
                        } else if cache.get_into(&key, &mut buf).unwrap() {
                            check_value(&key, &buf);
                            hits.fetch_add(1, Ordering::Relaxed);
                        }
                        seq += 1;
                    }
                    if t % 2 == 0 {
                        writers_left.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        let s = cache.stats().unwrap();
        assert!(
            s.evicted_items > 0,
            "{policy:?}: the test did not make the cache evict: {s:?}"
        );
        assert!(
            hits.load(Ordering::Relaxed) > 0,
            "{policy:?}: readers never hit"
        );
    }
}

/// The contract that makes `Cache: Sync` sound even beyond what safe Rust
/// allows: closing a handle while other threads are calling it makes those
/// calls finish or return EBADHANDLE, never crash. Driven through the raw
/// API, since a Cache cannot be closed while shared.
#[test]
fn close_while_calls_are_in_flight_is_safe() {
    let mut handle: sys::segcache_t = 0;
    assert_eq!(
        unsafe { sys::segcache_open(std::ptr::null(), &mut handle) },
        sys::SEGCACHE_OK
    );
    let key = b"k";
    let value = [1u8; 100];
    assert_eq!(
        unsafe {
            sys::segcache_set(
                handle,
                key.as_ptr().cast(),
                1,
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        },
        sys::SEGCACHE_OK
    );
    let calls = Arc::new(AtomicUsize::new(0));
    let closed = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (calls, closed) = (Arc::clone(&calls), Arc::clone(&closed));
            thread::spawn(move || {
                let mut buf = [0u8; 128];
                loop {
                    let was_closed = closed.load(Ordering::SeqCst);
                    let mut vlen = 0usize;
                    let rc = unsafe {
                        if t % 2 == 0 {
                            sys::segcache_get(
                                handle,
                                key.as_ptr().cast(),
                                1,
                                buf.as_mut_ptr().cast(),
                                buf.len(),
                                &mut vlen,
                                std::ptr::null_mut(),
                            )
                        } else {
                            sys::segcache_set(
                                handle,
                                key.as_ptr().cast(),
                                1,
                                value.as_ptr().cast(),
                                value.len(),
                                0,
                            )
                        }
                    };
                    calls.fetch_add(1, Ordering::SeqCst);
                    match rc {
                        sys::SEGCACHE_OK => {
                            assert!(
                                !was_closed,
                                "a call that started after close returned succeeded"
                            );
                            if t % 2 == 0 {
                                assert_eq!(&buf[..vlen], &value[..]);
                            }
                        }
                        sys::SEGCACHE_EBADHANDLE => return,
                        other => panic!("unexpected status {other} during close"),
                    }
                }
            })
        })
        .collect();
    // Close once the workers are demonstrably running (no timed sleep).
    while calls.load(Ordering::SeqCst) < 1000 {
        thread::yield_now();
    }
    assert_eq!(unsafe { sys::segcache_close(handle) }, sys::SEGCACHE_OK);
    // Calls that start from here on began after close returned.
    closed.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().unwrap();
    }
}
