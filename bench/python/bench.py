"""Python binding benchmark (BENCHMARKS.md section 4).

Operations per second of Cache.get (hit), Cache.set (overwrite) and
Cache.get_many (batches of 64 hits) through the binding, side by side with
the same operations on a dict (the reference line) and with an empty call
into the library (segcache_noop through ctypes: the floor under any call).

Workload of section 1: 16-byte keys, 64-byte values, Zipf(0.99) key choice
over --keys distinct keys, pre-generated so that generating keys is not
timed, a cache big enough to hold every key. Each figure is the median of
--runs runs; runs of the different operations are interleaved so that
drift of this shared machine hits them alike.

    SEGCACHE_LIBRARY=build/libsegcache.so PYTHONPATH=bindings/python \
        python3 bench/python/bench.py [--keys N] [--ops N] [--runs N]
"""

from __future__ import annotations

import argparse
import bisect
import ctypes
import gc
import itertools
import os
import platform
import random
import statistics
import sys
import time

import segcache

BATCH = 64


def zipf_indices(n_keys: int, count: int, s: float, rng: random.Random) -> list[int]:
    cum = list(itertools.accumulate(1.0 / (i ** s) for i in range(1, n_keys + 1)))
    total = cum[-1]
    # Rank r is key r of a shuffled order, so hot keys are spread out.
    order = list(range(n_keys))
    rng.shuffle(order)
    return [order[min(bisect.bisect_left(cum, rng.random() * total), n_keys - 1)]
            for _ in range(count)]


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def timed(fn) -> float:
    """Seconds for one call of fn, with the garbage collector off."""
    gc.disable()
    try:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0
    finally:
        gc.enable()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--ops", type=int, default=200_000, help="operations per run")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    keys = [b"key:%012d" % i for i in range(args.keys)]  # 16 bytes
    assert all(len(k) == 16 for k in keys[:10])
    value = bytes(range(64))
    seq = [keys[i] for i in zipf_indices(args.keys, args.ops, 0.99, rng)]
    batches = [seq[i : i + BATCH] for i in range(0, len(seq) - BATCH + 1, BATCH)]

    # Item: 8-byte header + 16 + 64 = 88 bytes; leave room so nothing is
    # evicted (the figure is about speed, not misses).
    heap = max(64 << 20, (args.keys * 88 * 3 // 2 + (1 << 20) - 1) // (1 << 20) << 20)
    cache = segcache.Cache(heap_bytes=heap, segment_bytes=1 << 20)
    ref = {}
    cache.set_many((k, value) for k in keys)
    for k in keys:
        ref[k] = value
    assert len(cache) == args.keys, (len(cache), args.keys)

    lib = segcache._lib.load()
    noop = lib.fn.get("segcache_noop")
    if noop is None:
        print("the library has no segcache_noop: cannot measure the floor", file=sys.stderr)
        return 1

    cget, cset, cmany = cache.get, cache.set, cache.get_many

    # The bare declared ctypes call under Cache.get, with every argument
    # pre-built: what the crossing itself costs, without the wrapper's work
    # (type checks, per-thread buffer, making the result bytes).
    from segcache import _cache

    raw_get = lib.fn["segcache_get"]
    tl = _cache._tls.t
    kl16 = _cache._SZ[16]

    def b_raw_get():
        h, buf, cap, vlen = cache._h, tl.cbufp, tl.ccap, tl.vlen
        for k in seq:
            raw_get(h, k, kl16, buf, cap, vlen, None)
    dget, dset = ref.get, ref.__setitem__

    # The bare segcache_get_multi call under get_many, on the same batches,
    # with their key arrays built before timing: the library's own per-key
    # cost plus one crossing per batch.
    raw_multi = lib.fn["segcache_get_multi"]
    cmany(batches[0])  # sizes the per-thread arrays for 64 keys
    prepared = [
        ((ctypes.c_char_p * len(b))(*b), (ctypes.c_size_t * len(b))(*map(len, b)))
        for b in batches
    ]

    def b_raw_multi():
        h, bufs, caps, vl, st = cache._h, tl.bufs, tl.caps, tl.vlens, tl.statuses
        for ka, kl in prepared:
            raw_multi(h, BATCH, ka, kl, bufs, caps, vl, st)

    def b_noop():
        for _ in seq:
            noop()

    def b_get():
        for k in seq:
            cget(k)

    def b_dict_get():
        for k in seq:
            dget(k)

    def b_set():
        for k in seq:
            cset(k, value)

    def b_dict_set():
        for k in seq:
            dset(k, value)

    def b_many():
        for b in batches:
            cmany(b)

    def b_dict_many():
        for b in batches:
            {k: v for k in b if (v := dget(k)) is not None}

    # Correctness before speed: the benchmarked calls return what they should.
    assert cget(seq[0]) == value and cmany(batches[0]) == {k: value for k in batches[0]}

    cases = {
        "empty ctypes call (segcache_noop)": (b_noop, len(seq)),
        "segcache_get, bare ctypes call": (b_raw_get, len(seq)),
        "get (hit)": (b_get, len(seq)),
        "dict.get": (b_dict_get, len(seq)),
        "set (overwrite)": (b_set, len(seq)),
        "dict[k] = v": (b_dict_set, len(seq)),
        f"segcache_get_multi({BATCH}), bare ctypes call, per key": (b_raw_multi, len(batches) * BATCH),
        f"get_many({BATCH}), per key": (b_many, len(batches) * BATCH),
        f"dict comprehension of {BATCH}, per key": (b_dict_many, len(batches) * BATCH),
    }
    for fn, _ in cases.values():  # warm up: thread binding, buffers, caches
        fn()
    samples = {name: [] for name in cases}
    for _ in range(args.runs):
        for name, (fn, n) in cases.items():
            samples[name].append(timed(fn) / n * 1e9)
    ns = {name: statistics.median(v) for name, v in samples.items()}

    floor = ns["empty ctypes call (segcache_noop)"]
    print("# Python binding benchmark (BENCHMARKS.md section 4)")
    print()
    print(f"- date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print(f"- CPU: {cpu_model()}, {os.cpu_count()} CPUs")
    print(f"- Python {platform.python_version()} ({platform.python_implementation()}), "
          f"libsegcache {'.'.join(map(str, lib.version))} at {lib.path}")
    print(f"- workload: {args.keys} keys of 16 B, values of 64 B, Zipf 0.99, "
          f"{args.ops} ops per run, median of {args.runs} runs, 1 thread")
    print(f"- command: {' '.join([os.path.basename(sys.executable)] + sys.argv)}")
    print()
    print("| operation | ns/op (median) | ops/s | x empty call | x dict |")
    print("| --- | ---: | ---: | ---: | ---: |")
    pairs = {
        "get (hit)": "dict.get",
        "set (overwrite)": "dict[k] = v",
        f"get_many({BATCH}), per key": f"dict comprehension of {BATCH}, per key",
    }
    for name in cases:
        t = ns[name]
        vs_dict = f"{t / ns[pairs[name]]:.1f}" if name in pairs else ""
        print(f"| {name} | {t:.0f} | {1e9 / t:,.0f} | {t / floor:.2f} | {vs_dict} |")
    print()
    get_x = ns["get (hit)"] / floor
    many = ns[f"get_many({BATCH}), per key"]
    print("Targets (BENCHMARKS.md section 7):")
    print(f"- get <= 1.5 x empty ctypes call: {get_x:.2f} x "
          f"({'met' if get_x <= 1.5 else 'NOT met'})")
    print(f"- get_many({BATCH}) <= 100 ns per key: {many:.0f} ns "
          f"({'met' if many <= 100 else 'NOT met'})")
    print(f"- get_many({BATCH}) per key vs get: {many / ns['get (hit)']:.2f} x")
    cache.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
