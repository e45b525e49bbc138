//! Benchmark of the safe crate (the cost of the binding): ns/op of
//! `get_into` and `set` through `segcache`, side by side in one process
//! with the same operations called raw through `segcache-sys` and with an
//! empty exported call (`segcache_noop`), the floor of any call into the
//! library. Workload of section 1: 1,000,000 keys of 16 bytes, 64-byte
//! values, keys chosen Zipf(0.99), cache large enough for every key, keys
//! and the key sequence generated before timing. Each figure is the median
//! of 5 runs; ratios are to the noop floor measured in the same run.
//!
//! `cargo bench -p segcache --bench ops` (or `make bench-rust`);
//! `-- --smoke` runs a tiny version that only proves the benchmark works;
//! SEGCACHE_BENCH_SAMPLES=1 also prints every run's figure, to judge the
//! noise of the machine.
use std::hint::black_box;
use std::time::Instant;

use segcache::{sys, Cache, Eviction};

const VALUE_BYTES: usize = 64;
const ZIPF_THETA: f64 = 0.99;

/// splitmix64: a small, good-enough PRNG so the benchmark needs only std.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Zipf ranks in [0, n) by the method of Gray et al. (the YCSB generator):
/// rank 0 is the most popular.
struct Zipf {
    n: f64,
    theta: f64,
    zetan: f64,
    alpha: f64,
    eta: f64,
}

impl Zipf {
    fn new(n: usize, theta: f64) -> Zipf {
        let zetan: f64 = (1..=n).map(|i| 1.0 / (i as f64).powf(theta)).sum();
        let zeta2 = 1.0 + 0.5f64.powf(theta);
        let nf = n as f64;
        Zipf {
            n: nf,
            theta,
            zetan,
            alpha: 1.0 / (1.0 - theta),
            eta: (1.0 - (2.0 / nf).powf(1.0 - theta)) / (1.0 - zeta2 / zetan),
        }
    }
    fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        let uz = u * self.zetan;
        if uz < 1.0 {
            return 0;
        }
        if uz < 1.0 + 0.5f64.powf(self.theta) {
            return 1;
        }
        let r = (self.n * (self.eta * u - self.eta + 1.0).powf(self.alpha)) as usize;
        r.min(self.n as usize - 1)
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    xs[xs.len() / 2]
}

fn main() {
    let smoke = std::env::args().any(|a| a == "--smoke");
    let (nkeys, nops, runs): (usize, usize, usize) = if smoke {
        (10_000, 20_000, 1)
    } else {
        (1_000_000, 2_000_000, 5)
    };

    // 16-byte keys, a 64-byte value per key (its index in the first bytes).
    let keys: Vec<[u8; 16]> = (0..nkeys)
        .map(|i| {
            let mut k = [0u8; 16];
            k.copy_from_slice(format!("key:{i:012}").as_bytes());
            k
        })
        .collect();
    let value = |i: usize| {
        let mut v = [b'v'; VALUE_BYTES];
        v[..8].copy_from_slice(&(i as u64).to_le_bytes());
        v
    };
    let zipf = Zipf::new(nkeys, ZIPF_THETA);
    let mut rng = Rng(42);
    let seq: Vec<u32> = (0..nops).map(|_| zipf.sample(&mut rng) as u32).collect();

    let heap = if smoke { 64 << 20 } else { 1 << 30 };
    let cache = Cache::builder()
        .heap_bytes(heap)
        .eviction(Eviction::Merge)
        .build()
        .expect("open");
    let populate = || {
        for (i, k) in keys.iter().enumerate() {
            cache.set(k, value(i), 0).expect("populate");
        }
    };
    let h = cache.as_raw();

    // Each timed loop runs over a slice of the key sequence and returns
    // (nanoseconds spent, lookups that hit).
    type Op<'a> = (&'static str, Box<dyn Fn(&[u32]) -> (f64, usize) + 'a>);
    let per_op = |t: Instant| t.elapsed().as_nanos() as f64;
    let noop: Op = (
        "noop (raw floor)",
        Box::new(|seq: &[u32]| {
            let t = Instant::now();
            for _ in 0..seq.len() {
                unsafe { sys::segcache_noop() };
            }
            (per_op(t), 0)
        }),
    );
    let gets: Vec<Op> = vec![
        (
            "get (raw sys)",
            Box::new(|seq: &[u32]| {
                let mut out = [0u8; VALUE_BYTES];
                let mut hits = 0;
                let t = Instant::now();
                for &i in seq {
                    // A copy, as the safe loops make one (their key is
                    // passed by value): the load then overlaps the call.
                    let k: [u8; 16] = keys[i as usize];
                    let mut vlen = 0usize;
                    let rc = unsafe {
                        sys::segcache_get(
                            h,
                            k.as_ptr().cast(),
                            k.len(),
                            out.as_mut_ptr().cast(),
                            out.len(),
                            &mut vlen,
                            std::ptr::null_mut(),
                        )
                    };
                    hits += (black_box(rc) == sys::SEGCACHE_OK) as usize;
                }
                (per_op(t), hits)
            }),
        ),
        (
            "get_into (safe)",
            Box::new(|seq: &[u32]| {
                let mut buf = Vec::with_capacity(VALUE_BYTES);
                let mut hits = 0;
                let t = Instant::now();
                for &i in seq {
                    hits += black_box(cache.get_into(keys[i as usize], &mut buf).unwrap()) as usize;
                }
                (per_op(t), hits)
            }),
        ),
        (
            "get (safe, new Vec)",
            Box::new(|seq: &[u32]| {
                let mut hits = 0;
                let t = Instant::now();
                for &i in seq {
                    hits += black_box(cache.get(keys[i as usize]).unwrap()).is_some() as usize;
                }
                (per_op(t), hits)
            }),
        ),
    ];
    let sets: Vec<Op> = vec![
        (
            "set (raw sys)",
            Box::new(|seq: &[u32]| {
                let t = Instant::now();
                for &i in seq {
                    // A copy, as the safe loops make one (their key is
                    // passed by value): the load then overlaps the call.
                    let k: [u8; 16] = keys[i as usize];
                    let v = value(i as usize);
                    let rc = unsafe {
                        sys::segcache_set(
                            h,
                            k.as_ptr().cast(),
                            k.len(),
                            v.as_ptr().cast(),
                            v.len(),
                            0,
                        )
                    };
                    assert_eq!(black_box(rc), sys::SEGCACHE_OK);
                }
                (per_op(t), 0)
            }),
        ),
        (
            "set (safe)",
            Box::new(|seq: &[u32]| {
                let t = Instant::now();
                for &i in seq {
                    cache.set(keys[i as usize], value(i as usize), 0).unwrap();
                }
                (per_op(t), 0)
            }),
        ),
    ];

    // Each run: store every key again (untimed: overwrites of earlier runs
    // leave dead bytes that eviction reclaims, dropping cold keys, and the
    // gets must be about hits), then time the gets, the sets and the floor
    // over the key sequence cut into SLICES parts, the operations of a group
    // taking turns on each part (their order rotating), so that a change in
    // the load of this shared machine falls on all of them alike. A run's
    // figure for an operation is its total time over the whole sequence.
    const SLICES: usize = 10;
    let slice_len = nops.div_ceil(SLICES);
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); 1 + gets.len() + sets.len()];
    let mut min_hit_ratio = 1.0f64;
    for run in 0..runs {
        populate();
        let mut total = vec![0.0f64; samples.len()];
        let mut hits = vec![0usize; gets.len()];
        for (p, part) in seq.chunks(slice_len).enumerate() {
            for j in 0..gets.len() {
                let j = (j + run + p) % gets.len();
                let (ns, h) = (gets[j].1)(part);
                total[1 + j] += ns;
                hits[j] += h;
            }
        }
        for (p, part) in seq.chunks(slice_len).enumerate() {
            for j in 0..sets.len() {
                let j = (j + run + p) % sets.len();
                total[1 + gets.len() + j] += (sets[j].1)(part).0;
            }
            total[0] += (noop.1)(part).0;
        }
        for h in hits {
            min_hit_ratio = min_hit_ratio.min(h as f64 / nops as f64);
        }
        for (sample, t) in samples.iter_mut().zip(total) {
            sample.push(t / nops as f64);
        }
    }
    let names: Vec<&str> = std::iter::once(&noop)
        .chain(&gets)
        .chain(&sets)
        .map(|op| op.0)
        .collect();
    if std::env::var_os("SEGCACHE_BENCH_SAMPLES").is_some() {
        for (name, xs) in names.iter().zip(&samples) {
            println!("samples {name:<22} {xs:.1?}");
        }
    }
    assert_eq!(
        names[1..],
        [
            "get (raw sys)",
            "get_into (safe)",
            "get (safe, new Vec)",
            "set (raw sys)",
            "set (safe)"
        ]
    );
    // Ratios are taken within each run (the operations ran side by side
    // under the same load) and then their median over the runs, which is
    // steadier on a busy machine than a ratio of two medians.
    let ratio =
        |a: usize, b: usize| median((0..runs).map(|r| samples[a][r] / samples[b][r]).collect());
    let (get_raw, get_into, get_vec, set_raw, set_safe) = (1, 2, 3, 4, 5);

    println!(
        "segcache Rust bench: {nkeys} keys x 16 B, {VALUE_BYTES} B values, Zipf {ZIPF_THETA}, {nops} ops per run, median of {runs} run(s), 1 thread"
    );
    println!(
        "{:<22} {:>9} {:>9} {:>9}",
        "operation", "ns/op", "x noop", "x raw"
    );
    for (j, name) in names.iter().enumerate() {
        let raw = if j == get_into || j == get_vec {
            format!("{:.3}", ratio(j, get_raw))
        } else if j == set_safe {
            format!("{:.3}", ratio(j, set_raw))
        } else {
            "-".to_string()
        };
        println!(
            "{name:<22} {:>9.1} {:>9.2} {raw:>9}",
            median(samples[j].clone()),
            ratio(j, 0)
        );
    }
    let diff =
        |a: usize, b: usize| median((0..runs).map(|r| samples[a][r] - samples[b][r]).collect());
    println!(
        "safe - raw (median of per-run differences): get_into {:+.1} ns, set {:+.1} ns",
        diff(get_into, get_raw),
        diff(set_safe, set_raw)
    );
    println!("lowest hit ratio of a timed get loop: {:.4}", min_hit_ratio);
    let s = cache.stats().expect("stats");
    println!("items resident at the end: {} (of {nkeys})", s.items);
    if smoke {
        assert_eq!(min_hit_ratio, 1.0, "the smoke run must hit every key");
        println!("smoke run ok");
    }
}
