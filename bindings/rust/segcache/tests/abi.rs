//! The safe crate against include/segcache.abi.json (the C ABI's
//! description): every status has its own Error variant, and Stats has
//! exactly the counters of segcache_stats, in order.

#[path = "../../segcache-sys/tests/abi_json/mod.rs"]
mod abi_json;

use segcache::{Error, Stats};

#[test]
fn every_status_has_its_own_error_variant() {
    let abi = abi_json::read();
    for s in abi.get("statuses").array() {
        let (name, code) = (s.get("name").str(), s.get("value").int() as i32);
        match Error::from_code(code) {
            None => assert_eq!(name, "SEGCACHE_OK"),
            Some(Error::Unknown(_)) => panic!("status {name} ({code}) has no Error variant"),
            Some(e) => assert_eq!(e.code(), code, "{name}"),
        }
    }
}

/// Field names of a Stats, from its Debug output ("Stats { items: 0, ... }").
fn stats_field_names() -> Vec<String> {
    let dbg = format!("{:?}", Stats::default());
    let body = dbg
        .strip_prefix("Stats { ")
        .and_then(|s| s.strip_suffix(" }"))
        .expect("Stats derives Debug");
    body.split(", ")
        .map(|f| f.split(':').next().unwrap().to_string())
        .collect()
}

#[test]
fn stats_fields_match_the_abi() {
    let abi = abi_json::read();
    let want: Vec<String> = abi_json::struct_fields(&abi)["segcache_stats"]
        .iter()
        .filter(|f| *f != "size")
        .cloned()
        .collect();
    assert_eq!(stats_field_names(), want);
}
