//! Every operation of the safe API and every error it can report, against
//! the real library.
use std::collections::BTreeSet;

use segcache::{sys, Cache, Error, Eviction, Stats};

fn small() -> Cache {
    Cache::builder()
        .heap_bytes(8 << 20)
        .segment_bytes(64 << 10)
        .build()
        .expect("open")
}

#[test]
fn builder_starts_from_the_library_defaults() {
    let b = Cache::builder();
    let o = b.options();
    let mut want = sys::segcache_options::default();
    unsafe { sys::segcache_options_init(&mut want) };
    assert_eq!(*o, want);
    assert_eq!(
        o.size as usize,
        std::mem::size_of::<sys::segcache_options>()
    );
    assert_eq!(
        (o.heap_bytes, o.segment_bytes, o.eviction),
        (64 << 20, 1 << 20, sys::SEGCACHE_EVICT_S3FIFO)
    );

    let b = b
        .heap_bytes(1 << 24)
        .segment_bytes(1 << 16)
        .hash_power(16)
        .eviction(Eviction::S3Fifo)
        .merge_max(6)
        .merge_target(3)
        .merge_compact(2)
        .s3fifo_admission_ratio(0.25)
        .prefault(true);
    let o = b.options();
    assert_eq!(o.prefault, 1);
    assert_eq!(
        (
            o.heap_bytes,
            o.segment_bytes,
            o.hash_power,
            o.eviction,
            o.merge_max,
            o.merge_target,
            o.merge_compact,
            o.s3fifo_admission_ratio
        ),
        (
            1 << 24,
            1 << 16,
            16,
            sys::SEGCACHE_EVICT_S3FIFO,
            6,
            3,
            2,
            0.25
        )
    );
    let cache = b.build().expect("open with every option set");
    let s = cache.stats().unwrap();
    assert_eq!(s.heap_bytes, 1 << 24);
    assert_eq!(s.segments_total, (1 << 24) / (1 << 16));
}

#[test]
fn bad_options_are_refused_with_invalid() {
    let cases: Vec<(&str, segcache::Builder)> = vec![
        (
            "segment not a multiple of 8",
            Cache::builder().segment_bytes(4097),
        ),
        ("segment below 4 KiB", Cache::builder().segment_bytes(2048)),
        (
            "segment above 8 MiB",
            Cache::builder().segment_bytes((8 << 20) + 8),
        ),
        (
            "heap of one segment",
            Cache::builder().segment_bytes(1 << 20).heap_bytes(1 << 20),
        ),
        (
            "admission ratio above 0.9",
            Cache::builder().s3fifo_admission_ratio(2.0),
        ),
        ("negative merge_max", Cache::builder().merge_max(-1)),
        ("hash_power 64", Cache::builder().hash_power(64)),
    ];
    for (what, b) in cases {
        assert_eq!(b.build().err(), Some(Error::Invalid), "{what}");
    }
}

#[test]
fn every_eviction_policy_opens_and_serves() {
    for e in Eviction::ALL {
        let cache = Cache::builder()
            .heap_bytes(1 << 20)
            .segment_bytes(64 << 10)
            .eviction(e)
            .build()
            .unwrap();
        cache.set("k", e.name(), 0).unwrap();
        assert_eq!(
            cache.get("k").unwrap().as_deref(),
            Some(e.name().as_bytes()),
            "{e:?}"
        );
        assert_eq!(e.name().parse::<Eviction>(), Ok(e));
        assert_eq!(
            e.name()
                .to_uppercase()
                .replace('_', "-")
                .parse::<Eviction>(),
            Ok(e)
        );
    }
    let raws: BTreeSet<i32> = Eviction::ALL.iter().map(|e| e.raw()).collect();
    assert_eq!(raws, (0..8).collect());
    assert_eq!(Eviction::default(), Eviction::S3Fifo);
    assert_eq!("lru".parse::<Eviction>(), Err(Error::Invalid));
}

#[test]
fn set_get_roundtrip_of_any_bytes() {
    let cache = small();
    let long_key = vec![b'k'; 255];
    let binary_key = [0u8, 255, 0, 1];
    let big = (0..20_000u32).map(|i| (i * 7) as u8).collect::<Vec<u8>>();
    let cases: Vec<(&[u8], &[u8])> = vec![
        (b"plain", b"value"),
        (b"empty value", b""),
        (&binary_key, b"\0\x01\x02"),
        (&long_key, b"255-byte key"),
        (b"big", &big),
        (b"exactly 256", &[9u8; 256]),
        (b"257", &[8u8; 257]),
    ];
    for (k, v) in &cases {
        cache.set(k, v, 0).unwrap();
    }
    for (k, v) in &cases {
        assert_eq!(cache.get(k).unwrap().as_deref(), Some(*v), "key {k:?}");
    }
    cache.set("plain", "second", 0).unwrap();
    assert_eq!(cache.get("plain").unwrap(), Some(b"second".to_vec()));
    assert_eq!(cache.get("absent").unwrap(), None);
    // Numbers are stored as numbers but read back as the same text.
    cache.set("n", "12345", 0).unwrap();
    assert_eq!(cache.get("n").unwrap(), Some(b"12345".to_vec()));
}

#[test]
fn bad_keys_and_items_are_refused_and_lose_nothing() {
    let cache = Cache::builder()
        .heap_bytes(1 << 20)
        .segment_bytes(64 << 10)
        .build()
        .unwrap();
    cache.set("kept", "v", 0).unwrap();
    let long_key = vec![b'k'; 256];
    assert_eq!(cache.set("", "v", 0), Err(Error::Invalid));
    assert_eq!(cache.set(&long_key, "v", 0), Err(Error::TooLarge));
    assert_eq!(
        cache.set("huge", vec![0u8; 64 << 10], 0),
        Err(Error::TooLarge)
    );
    assert_eq!(cache.add("", "v", 0), Err(Error::Invalid));
    assert_eq!(cache.replace(&long_key, "v", 0), Err(Error::TooLarge));
    assert_eq!(cache.cas("", "v", 0, 1), Err(Error::Invalid));
    assert_eq!(cache.get(""), Err(Error::Invalid));
    assert_eq!(cache.get(&long_key), Err(Error::TooLarge));
    assert_eq!(cache.get_into("", &mut Vec::new()), Err(Error::Invalid));
    assert_eq!(cache.gets(&long_key), Err(Error::TooLarge));
    assert_eq!(cache.delete(""), Err(Error::Invalid));
    assert_eq!(cache.incr(&long_key, 1), Err(Error::TooLarge));
    assert_eq!(cache.decr("", 1), Err(Error::Invalid));
    assert_eq!(cache.get_many(&[&b"kept"[..], b""]), Err(Error::Invalid));
    // The largest item that fits a 64 KiB segment: 8-byte header + key +
    // value = 64 KiB.
    let fits = vec![1u8; (64 << 10) - 8 - 4];
    cache.set("edge", &fits, 0).unwrap();
    assert_eq!(
        cache.get("edge").unwrap().map(|v| v.len()),
        Some(fits.len())
    );
    assert_eq!(cache.get("kept").unwrap(), Some(b"v".to_vec()));
    assert_eq!(cache.get("huge").unwrap(), None);
}

#[test]
fn get_into_replaces_grows_and_keeps_capacity() {
    let cache = small();
    cache.set("small", "abc", 0).unwrap();
    cache.set("large", vec![5u8; 5000], 0).unwrap();
    let mut buf = b"stale contents".to_vec();
    assert!(cache.get_into("small", &mut buf).unwrap());
    assert_eq!(buf, b"abc");
    assert!(cache.get_into("large", &mut buf).unwrap());
    assert_eq!(buf, vec![5u8; 5000]);
    let cap = buf.capacity();
    assert!(cap >= 5000);
    assert!(cache.get_into("small", &mut buf).unwrap());
    assert_eq!((buf.as_slice(), buf.capacity()), (&b"abc"[..], cap));
    assert!(!cache.get_into("absent", &mut buf).unwrap());
    assert!(buf.is_empty(), "a miss leaves the buffer empty");
    // An empty value into an empty, unallocated buffer.
    cache.set("empty", "", 0).unwrap();
    let mut none = Vec::new();
    assert!(cache.get_into("empty", &mut none).unwrap());
    assert!(none.is_empty());
}

#[test]
fn gets_and_cas() {
    let cache = small();
    assert_eq!(cache.gets("k").unwrap(), None);
    assert_eq!(cache.cas("k", "v", 0, 1), Err(Error::NotFound));
    cache.set("k", "v1", 0).unwrap();
    let (v, t1) = cache.gets("k").unwrap().unwrap();
    assert_eq!(v, b"v1");
    let mut buf = Vec::new();
    assert_eq!(cache.gets_into("k", &mut buf).unwrap(), Some(t1));
    assert_eq!(buf, b"v1");
    cache.cas("k", "v2", 0, t1).unwrap();
    assert_eq!(cache.cas("k", "v3", 0, t1), Err(Error::Exists));
    let (v, t2) = cache.gets("k").unwrap().unwrap();
    assert_eq!(v, b"v2");
    assert_ne!(t1, t2);
    // Any write changes the token.
    cache.set("k", "v2", 0).unwrap();
    assert_eq!(cache.cas("k", "v4", 0, t2), Err(Error::Exists));
    assert_eq!(cache.get("k").unwrap(), Some(b"v2".to_vec()));
    // A cleared and re-inserted key does not accept the old token.
    let (_, t3) = cache.gets("k").unwrap().unwrap();
    cache.clear().unwrap();
    cache.set("k", "again", 0).unwrap();
    assert_eq!(cache.cas("k", "v5", 0, t3), Err(Error::Exists));
}

#[test]
fn store_returns_the_token_of_what_it_stored() {
    use segcache::StoreOp;
    let cache = small();
    let t1 = cache.store(StoreOp::Add, "k", "v1", 0, 0).unwrap();
    assert_eq!(cache.gets("k").unwrap(), Some((b"v1".to_vec(), t1)));
    // A chain of compare-and-swaps: no gets in between.
    let t2 = cache.store(StoreOp::Cas, "k", "v2", 0, t1).unwrap();
    let t3 = cache.store(StoreOp::Cas, "k", "v3", 0, t2).unwrap();
    assert!(t1 != t2 && t2 != t3 && t1 != t3);
    assert_eq!(cache.gets("k").unwrap(), Some((b"v3".to_vec(), t3)));
    assert_eq!(cache.store(StoreOp::Cas, "k", "v4", 0, t2), Err(Error::Exists));
    assert_eq!(cache.store(StoreOp::Add, "k", "v4", 0, 0), Err(Error::Exists));
    assert_eq!(cache.store(StoreOp::Replace, "absent", "v4", 0, 0), Err(Error::NotFound));
    let t5 = cache.store(StoreOp::Replace, "k", "v5", 0, 0).unwrap();
    let t6 = cache.store(StoreOp::Set, "k", "v6", 0, 0).unwrap();
    assert_ne!(t5, t6);
    assert_eq!(cache.gets("k").unwrap(), Some((b"v6".to_vec(), t6)));
    assert_eq!(cache.store(StoreOp::Set, [b'x'; 256], "v", 0, 0), Err(Error::TooLarge));
}

#[test]
fn delete_cas() {
    let cache = small();
    assert_eq!(cache.delete_cas("k", 1), Err(Error::NotFound));
    cache.set("k", "v1", 0).unwrap();
    let (_, stale) = cache.gets("k").unwrap().unwrap();
    cache.set("k", "v2", 0).unwrap();
    // Changed since the token was read: kept.
    assert_eq!(cache.delete_cas("k", stale), Err(Error::Exists));
    assert_eq!(cache.get("k").unwrap(), Some(b"v2".to_vec()));
    let (_, token) = cache.gets("k").unwrap().unwrap();
    cache.delete_cas("k", token).unwrap();
    assert_eq!(cache.get("k").unwrap(), None);
    assert_eq!(cache.delete_cas("k", token), Err(Error::NotFound));
    assert_eq!(cache.delete_cas([b'x'; 256], 1), Err(Error::TooLarge));
}

#[test]
fn add_replace_delete() {
    let cache = small();
    assert_eq!(cache.replace("k", "v", 0), Err(Error::NotFound));
    assert_eq!(cache.get("k").unwrap(), None);
    cache.add("k", "v1", 0).unwrap();
    assert_eq!(cache.add("k", "v2", 0), Err(Error::Exists));
    assert_eq!(cache.get("k").unwrap(), Some(b"v1".to_vec()));
    cache.replace("k", "v3", 0).unwrap();
    assert_eq!(cache.get("k").unwrap(), Some(b"v3".to_vec()));
    assert_eq!(cache.delete("k"), Ok(true));
    assert_eq!(cache.delete("k"), Ok(false));
    assert_eq!(cache.get("k").unwrap(), None);
    cache.add("k", "v4", 0).unwrap();
    assert_eq!(cache.get("k").unwrap(), Some(b"v4".to_vec()));
}

#[test]
fn incr_and_decr() {
    let cache = small();
    assert_eq!(cache.incr("n", 1), Err(Error::NotFound));
    assert_eq!(cache.decr("n", 1), Err(Error::NotFound));
    cache.set("n", "0", 0).unwrap();
    assert_eq!(cache.incr("n", 5), Ok(5));
    assert_eq!(cache.incr("n", 0), Ok(5));
    assert_eq!(cache.decr("n", 2), Ok(3));
    assert_eq!(cache.decr("n", 10), Ok(0), "decr saturates at 0");
    assert_eq!(cache.get("n").unwrap(), Some(b"0".to_vec()));
    cache.set("max", u64::MAX.to_string(), 0).unwrap();
    assert_eq!(cache.incr("max", 2), Ok(1), "incr wraps at 2^64");
    cache.set("n", "99", 0).unwrap();
    assert_eq!(cache.incr("n", 1), Ok(100));
    assert_eq!(
        cache.get("n").unwrap(),
        Some(b"100".to_vec()),
        "get returns the decimal text"
    );
    for not_numeric in ["abc", "", "007", "-1", "1.5", " 1", "18446744073709551616"] {
        cache.set("s", not_numeric, 0).unwrap();
        assert_eq!(
            cache.incr("s", 1),
            Err(Error::NotNumeric),
            "{not_numeric:?}"
        );
        assert_eq!(
            cache.decr("s", 1),
            Err(Error::NotNumeric),
            "{not_numeric:?}"
        );
        assert_eq!(
            cache.get("s").unwrap(),
            Some(not_numeric.as_bytes().to_vec())
        );
    }
}

#[test]
fn ttl_expire_and_clear() {
    let cache = small();
    cache.set("long", "v", 3600).unwrap();
    cache.set("short", "v", 1).unwrap();
    cache.set("forever", "v", 0).unwrap();
    // The contract: an item with TTL t is never served after t seconds.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(cache.get("short").unwrap(), None);
    cache.expire().unwrap();
    assert_eq!(cache.get("long").unwrap(), Some(b"v".to_vec()));
    assert_eq!(cache.get("forever").unwrap(), Some(b"v".to_vec()));
    cache.clear().unwrap();
    assert_eq!(cache.get("long").unwrap(), None);
    assert_eq!(cache.get("forever").unwrap(), None);
    assert_eq!(cache.stats().unwrap().items, 0);
}

#[test]
fn get_many_keeps_order_and_handles_large_values() {
    let cache = small();
    let big = vec![3u8; 1000];
    cache.set("a", "1", 0).unwrap();
    cache.set("big", &big, 0).unwrap();
    cache.set("c", "", 0).unwrap();
    let got = cache.get_many(&["a", "missing", "big", "c", "a"]).unwrap();
    assert_eq!(
        got,
        vec![
            Some(b"1".to_vec()),
            None,
            Some(big),
            Some(Vec::new()),
            Some(b"1".to_vec())
        ]
    );
    assert_eq!(
        cache.get_many::<&str>(&[]).unwrap(),
        Vec::<Option<Vec<u8>>>::new()
    );
    let keys: Vec<String> = (0..500).map(|i| format!("key{i}")).collect();
    for k in keys.iter().step_by(2) {
        cache.set(k, k, 0).unwrap();
    }
    let got = cache.get_many(&keys).unwrap();
    for (i, (k, v)) in keys.iter().zip(&got).enumerate() {
        assert_eq!(
            v.as_deref(),
            if i % 2 == 0 { Some(k.as_bytes()) } else { None }
        );
    }
}

#[test]
fn stats_count_operations() {
    let cache = Cache::builder()
        .heap_bytes(4 << 20)
        .segment_bytes(1 << 20)
        .build()
        .unwrap();
    let s0 = cache.stats().unwrap();
    assert_eq!(
        (s0.items, s0.gets, s0.sets, s0.heap_bytes, s0.segments_total),
        (0, 0, 0, 4 << 20, 4)
    );
    assert!(s0.hashtable_bytes > 0);
    cache.set("a", "x", 0).unwrap();
    cache.set("b", "y", 0).unwrap();
    cache.set("c", "z", 0).unwrap();
    cache.get("a").unwrap();
    cache.get("b").unwrap();
    cache.get("zz").unwrap();
    cache.delete("c").unwrap();
    let s = cache.stats().unwrap();
    let mut want: Stats = s;
    (
        want.items,
        want.gets,
        want.hits,
        want.misses,
        want.sets,
        want.deletes,
    ) = (2, 3, 2, 1, 3, 1);
    assert_eq!(s, want);
    assert!(
        s.item_bytes >= 2 * (8 + 1 + 1) && s.item_bytes <= 2 * 16,
        "item_bytes {}",
        s.item_bytes
    );
    assert!(s.segments_free < s.segments_total);
}

#[test]
fn stats_report_table_growth() {
    // A 16-slot initial table and 5,000 small items: the table doubles (at
    // least 9 times), every item stays readable, and the retired segments
    // keep the memory within the heap plus one segment (the table's budget
    // here: larger than the initial table).
    let seg = 64u64 << 10;
    let cache = Cache::builder()
        .heap_bytes(1 << 20)
        .segment_bytes(seg as u32)
        .hash_power(4)
        .eviction(Eviction::None)
        .build()
        .unwrap();
    let s0 = cache.stats().unwrap();
    assert_eq!(
        (
            s0.hashtable_bytes,
            s0.hashtable_growths,
            s0.segments_retired
        ),
        (8 << 4, 0, 0)
    );
    for i in 0..5000 {
        cache.set(format!("g{i:06}"), format!("v{i}"), 0).unwrap();
    }
    for i in 0..5000 {
        assert_eq!(
            cache.get(format!("g{i:06}")).unwrap(),
            Some(format!("v{i}").into_bytes())
        );
    }
    let s = cache.stats().unwrap();
    assert_eq!(s.items, 5000);
    assert!(s.hashtable_growths >= 9, "{} growths", s.hashtable_growths);
    assert_eq!(s.hashtable_bytes, (8 << 4) << s.hashtable_growths);
    let in_use = (s.segments_total - s.segments_retired) * seg;
    assert!(
        in_use + s.hashtable_bytes <= s.heap_bytes + seg,
        "{in_use} + {} bytes",
        s.hashtable_bytes
    );
}

#[test]
fn a_full_cache_without_eviction_reports_no_space_and_keeps_its_items() {
    let cache = Cache::builder()
        .heap_bytes(64 << 10)
        .segment_bytes(16 << 10)
        .eviction(Eviction::None)
        .build()
        .unwrap();
    let value = vec![7u8; 1000];
    let mut stored = Vec::new();
    let err = loop {
        let key = format!("k{}", stored.len());
        match cache.set(&key, &value, 0) {
            Ok(()) => stored.push(key),
            Err(e) => break e,
        }
        assert!(stored.len() < 1000, "a 64 KiB cache took 1 MB");
    };
    assert_eq!(err, Error::NoSpace);
    assert!(stored.len() >= 40, "only {} items fit", stored.len());
    for k in &stored {
        assert_eq!(
            cache.get(k).unwrap().as_deref(),
            Some(&value[..]),
            "{k} lost"
        );
    }
    // Deleting frees nothing until a segment is empty, but clear does.
    cache.clear().unwrap();
    cache.set("after clear", &value, 0).unwrap();
}

#[test]
fn eviction_makes_room() {
    let cache = Cache::builder()
        .heap_bytes(256 << 10)
        .segment_bytes(16 << 10)
        .eviction(Eviction::Fifo)
        .build()
        .unwrap();
    for i in 0..2000 {
        cache.set(format!("k{i}"), vec![1u8; 500], 0).unwrap();
    }
    let s = cache.stats().unwrap();
    assert!(s.evicted_items > 0 && s.evicted_segments > 0, "{s:?}");
    assert!(s.items < 2000);
    assert_eq!(cache.get("k1999").unwrap().map(|v| v.len()), Some(500));
}

#[test]
fn errors_map_every_status_and_print_the_library_text() {
    let all = [
        (sys::SEGCACHE_ENOTFOUND, Error::NotFound),
        (sys::SEGCACHE_EEXISTS, Error::Exists),
        (sys::SEGCACHE_ENOTNUMERIC, Error::NotNumeric),
        (sys::SEGCACHE_ERANGE, Error::Range),
        (sys::SEGCACHE_ETOOLARGE, Error::TooLarge),
        (sys::SEGCACHE_ENOSPACE, Error::NoSpace),
        (sys::SEGCACHE_EINVAL, Error::Invalid),
        (sys::SEGCACHE_EBADHANDLE, Error::BadHandle),
        (sys::SEGCACHE_ENOMEM, Error::NoMemory),
        (sys::SEGCACHE_EINTERNAL, Error::Internal),
        (sys::SEGCACHE_EFORKED, Error::Forked),
        (-12345, Error::Unknown(-12345)),
    ];
    assert_eq!(Error::from_code(sys::SEGCACHE_OK), None);
    let mut texts = BTreeSet::new();
    for (code, err) in all {
        assert_eq!(Error::from_code(code), Some(err));
        assert_eq!(err.code(), code);
        let text = err.to_string();
        let c = unsafe { std::ffi::CStr::from_ptr(sys::segcache_strerror(code)) };
        assert_eq!(text, c.to_str().unwrap());
        assert!(!text.is_empty());
        texts.insert(text);
    }
    assert_eq!(texts.len(), all.len(), "each status has its own text");
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(Error::NoSpace);
    assert_eq!(boxed.to_string(), Error::NoSpace.to_string());
}

#[test]
fn drop_and_close_end_the_handle() {
    let cache = small();
    let h = cache.as_raw();
    assert_ne!(h, 0);
    drop(cache);
    let mut vlen = 0usize;
    let rc = unsafe {
        sys::segcache_get(
            h,
            b"k".as_ptr().cast(),
            1,
            std::ptr::null_mut(),
            0,
            &mut vlen,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(
        Error::from_code(rc),
        Some(Error::BadHandle),
        "drop did not close the handle"
    );

    let cache = small();
    let h = cache.as_raw();
    assert_eq!(cache.close(), Ok(()));
    assert_eq!(
        Error::from_code(unsafe { sys::segcache_close(h) }),
        Some(Error::BadHandle)
    );
}

#[test]
fn cache_is_send_and_sync() {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<Cache>();
    send_sync::<Error>();
}

#[test]
fn version_matches_the_header() {
    let want = (
        sys::SEGCACHE_VERSION_MAJOR as u32,
        sys::SEGCACHE_VERSION_MINOR as u32,
        sys::SEGCACHE_VERSION_PATCH as u32,
    );
    assert_eq!(segcache::version(), want);
}

#[test]
fn max_procs_reads_and_sets() {
    let before = segcache::set_max_procs(0);
    assert!(before >= 1);
    assert_eq!(segcache::set_max_procs(1), before);
    assert_eq!(segcache::set_max_procs(0), 1);
    assert_eq!(segcache::set_max_procs(before), 1);
    assert_eq!(segcache::set_max_procs(0), before);
}

#[test]
fn set_many_and_delete_many_report_each_item() {
    let cache = small();
    let long_key = vec![b'k'; 256];
    let big = vec![4u8; 2000];
    let items: Vec<(&[u8], &[u8])> = vec![
        (b"a", b"1"),
        (b"", b"x"),
        (b"b", &big),
        (&long_key, b"y"),
        (b"a", b"last"),
        (b"e", b""),
    ];
    let got = cache.set_many(&items, 0).unwrap();
    assert_eq!(
        got,
        vec![
            Ok(()),
            Err(Error::Invalid),
            Ok(()),
            Err(Error::TooLarge),
            Ok(()),
            Ok(())
        ]
    );
    assert_eq!(
        cache.get("a").unwrap(),
        Some(b"last".to_vec()),
        "a repeated key ends with its last value"
    );
    assert_eq!(cache.get("b").unwrap(), Some(big));
    assert_eq!(cache.get("e").unwrap(), Some(Vec::new()));
    assert_eq!(cache.set_many::<&str, &str>(&[], 0).unwrap(), vec![]);

    let got = cache
        .delete_many(&[&b"a"[..], b"zz", b"", b"b", b"a"])
        .unwrap();
    assert_eq!(
        got,
        vec![
            Ok(true),
            Ok(false),
            Err(Error::Invalid),
            Ok(true),
            Ok(false)
        ]
    );
    assert_eq!(
        cache.get_many(&["a", "b", "e"]).unwrap(),
        vec![None, None, Some(Vec::new())]
    );
    let s = cache.stats().unwrap();
    assert_eq!((s.items, s.sets, s.deletes), (1, 4, 2));
}

#[test]
fn stats_has_every_counter_of_the_c_struct() {
    // segcache_stats is a u32 size (padded to 8) followed by u64 counters;
    // Stats holds the same counters, so a counter added to the header (and
    // to segcache-sys, which the drift test enforces) but not to Stats
    // shows up here.
    assert_eq!(
        std::mem::size_of::<Stats>() + 8,
        std::mem::size_of::<sys::segcache_stats>()
    );
}

/// A key or value whose `as_ref` gives `first` on its first call and
/// `later` on every call after. Nothing requires an `AsRef` impl to return
/// the same slice each time, and such an impl is safe code, so a safe API
/// must take each slice once and hand the library the pointer and the
/// length of that same slice. A pointer from one call with the length of
/// another names memory that neither slice covers: here bytes between two
/// slices of one buffer, in general bytes past an allocation, which the
/// library would read (undefined behaviour from safe code).
struct Fickle<'a> {
    first: &'a [u8],
    later: &'a [u8],
    calls: std::cell::Cell<usize>,
}

impl<'a> Fickle<'a> {
    fn new(first: &'a [u8], later: &'a [u8]) -> Fickle<'a> {
        Fickle {
            first,
            later,
            calls: std::cell::Cell::new(0),
        }
    }
}

impl AsRef<[u8]> for Fickle<'_> {
    fn as_ref(&self) -> &[u8] {
        let n = self.calls.get();
        self.calls.set(n + 1);
        if n == 0 {
            self.first
        } else {
            self.later
        }
    }
}

#[test]
fn batch_calls_pass_each_slice_whole_even_if_as_ref_varies() {
    // One buffer holding the two slices: the bytes [0, 255) that a mixed
    // pointer and length would name are readable, so a wrong key shows up
    // as a wrong key rather than as a crash.
    let buf: Vec<u8> = (0..600u32).map(|i| (i % 251) as u8 + 1).collect();
    let (first, later) = (&buf[0..1], &buf[300..555]);
    let mixed = &buf[0..255];

    let cache = small();
    let got = cache
        .set_many(
            &[(Fickle::new(first, later), Fickle::new(b"v1", b"value two"))],
            0,
        )
        .unwrap();
    assert_eq!(got, vec![Ok(())]);
    assert_eq!(
        cache.get(mixed).unwrap(),
        None,
        "set_many stored a key made of one slice's pointer and another's length"
    );
    // The value too: b"v1"'s pointer with the length of b"value two" read
    // past the end of a 2-byte literal.
    let v = cache.get(first).unwrap().or(cache.get(later).unwrap());
    assert!(
        v.as_deref() == Some(&b"v1"[..]) || v.as_deref() == Some(&b"value two"[..]),
        "stored {v:?}, under neither slice or as neither value"
    );

    let cache = small();
    cache.set(mixed, "mixed", 0).unwrap();
    cache.set(first, "first", 0).unwrap();
    cache.set(later, "later", 0).unwrap();
    let got = cache.get_many(&[Fickle::new(first, later)]).unwrap();
    assert!(
        got == vec![Some(b"first".to_vec())] || got == vec![Some(b"later".to_vec())],
        "get_many looked up a key neither slice holds: {got:?}"
    );

    let cache = small();
    cache.set(mixed, "mixed", 0).unwrap();
    let got = cache.delete_many(&[Fickle::new(first, later)]).unwrap();
    assert_eq!(got, vec![Ok(false)]);
    assert_eq!(
        cache.get(mixed).unwrap().as_deref(),
        Some(&b"mixed"[..]),
        "delete_many removed a key neither slice holds"
    );
}

/// The counters count calls into the library: a get whose buffer is too
/// small is a lookup (a hit) too, and its retry another. So each read of
/// the safe API must make as few calls as it can: `gets` of a small value
/// one, like `get` (it used to start from an empty Vec, so every hit was
/// counted twice, in `gets` and `hits`, whatever the value's size), and a
/// value too large for `get_many`'s slot one retry of its exact size (it
/// used to go through `get`, whose stack buffer is no larger than the
/// slot: two more calls).
#[test]
fn each_read_makes_as_few_lookups_as_it_can() {
    let cache = small();
    cache.set("small", "v", 0).unwrap();
    cache.set("big", vec![1u8; 1000], 0).unwrap();
    let lookups = |cache: &Cache| {
        let s = cache.stats().unwrap();
        (s.gets, s.hits, s.misses)
    };
    let before = lookups(&cache);
    assert_eq!(
        cache.gets("small").unwrap().map(|(v, _)| v),
        Some(b"v".to_vec())
    );
    let after = lookups(&cache);
    assert_eq!(
        (after.0 - before.0, after.1 - before.1, after.2 - before.2),
        (1, 1, 0),
        "one gets of a small value is one lookup"
    );
    assert_eq!(cache.gets("absent").unwrap(), None);
    let (gets, hits, misses) = lookups(&cache);
    assert_eq!((gets, hits, misses), (after.0 + 1, after.1, after.2 + 1));

    // The token gets returns is the item's, whichever path served it.
    let t = cache
        .store(segcache::StoreOp::Set, "small", "w", 0, 0)
        .unwrap();
    assert_eq!(cache.gets("small").unwrap(), Some((b"w".to_vec(), t)));
    let big = vec![2u8; 1000];
    let t = cache
        .store(segcache::StoreOp::Set, "big", &big, 0, 0)
        .unwrap();
    assert_eq!(cache.gets("big").unwrap(), Some((big.clone(), t)));

    let before = lookups(&cache);
    assert_eq!(cache.get_many(&["big"]).unwrap(), vec![Some(big)]);
    let after = lookups(&cache);
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (2, 2),
        "get_many of a value over its slot: the batch's lookup and one exact retry"
    );
}
