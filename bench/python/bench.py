"""Python binding benchmark: the cost of a call through each path.

Nanoseconds per operation of Cache.get (hit), gets, set (overwrite), incr,
get_many and set_many (batches of 64) on both implementations of
segcache.Cache, the compiled one (segcache._speedups) and the ctypes one,
side by side with:

- an empty call into the library (segcache_noop through ctypes): the floor
  under any ctypes call, and the unit of the targets;
- dict.get / dict[k] = v: the reference line;
- the bare segcache_get_multi under get_many (arrays built before timing);
- the ctypes get of the seed's binding (--seed, a commit before the
  compiled path and the faster ctypes path existed), loaded from the
  repository's history by git into a temporary package, so the fallback's
  speed-up is measured against the old code itself, in the same process.

Two key sets: "hot" (a few hundred keys, every access a cache hit on warm
memory) and "random" (uniform over --keys distinct keys, 1M by default).
16-byte keys, 64-byte values, key sequences pre-generated. Each figure is
the median of --runs runs. With 1 thread the cases are interleaved in
blocks of --block operations (every case runs one block, then the next
block), so that the load of a shared machine hits them alike, and the
figure is CPU time of the thread (the load takes wall time away, not CPU
time). With --threads 2, two threads run the same case at once, each on its
own sequence, whole runs interleaved; the figure is wall time per operation
of one thread (so 2 threads that scale perfectly show the 1-thread figure).

    SEGCACHE_LIBRARY=build/libsegcache.so PYTHONPATH=bindings/python \\
        python3 bench/python/bench.py [--keys N] [--hot N] [--ops N] [--runs N]
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import os
import platform
import random
import statistics
import sys
import threading
import time

import segcache
from segcache import _lib

BATCH = 64


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def load_seed(commit: str):
    """The seed's segcache package at commit, imported as segcache_seed
    from a temporary directory (git show of each file), or None with the
    reason when git or the commit is not available."""
    import subprocess
    import tempfile

    repo = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    src = "bindings/python/segcache"
    try:
        names = subprocess.run(
            ["git", "-C", repo, "ls-tree", "--name-only", f"{commit}:{src}"],
            check=True, capture_output=True, text=True,
        ).stdout.split()
        dst = os.path.join(tempfile.mkdtemp(prefix="segcache-seed-"), "segcache_seed")
        os.mkdir(dst)
        for name in names:
            if name.endswith(".py"):
                with open(os.path.join(dst, name), "wb") as f:
                    f.write(subprocess.run(["git", "-C", repo, "show", f"{commit}:{src}/{name}"],
                                           check=True, capture_output=True).stdout)
    except (OSError, subprocess.CalledProcessError) as e:
        return None, f"the seed binding ({commit}) is not available: {e}"
    sys.path.insert(0, os.path.dirname(dst))
    import segcache_seed

    return segcache_seed, None


def timed_threads(fn, threads: int, ops: int) -> float:
    """Wall seconds of fn(i, 0, ops) run in `threads` threads at once (i =
    thread index), with the garbage collector off: what contention and the
    GIL cost is only visible in wall time."""
    gc.disable()
    try:
        start = threading.Barrier(threads + 1)

        def run(i):
            start.wait()
            fn(i, 0, ops)

        ts = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
        for t in ts:
            t.start()
        start.wait()
        t0 = time.perf_counter()
        for t in ts:
            t.join()
        return time.perf_counter() - t0
    finally:
        gc.enable()


def interleaved(cases: dict, ops: int, block: int) -> dict:
    """CPU seconds of the thread per case, every case running ops
    operations of thread 0's sequence in blocks: block k of every case, then
    block k + 1, so that a burst of load hits every case alike. The garbage
    collector is off while timing."""
    spent = dict.fromkeys(cases, 0.0)
    gc.disable()
    try:
        for lo in range(0, ops, block):
            hi = min(lo + block, ops)
            for name, fn in cases.items():
                t0 = time.thread_time()
                fn(0, lo, hi)
                spent[name] += time.thread_time() - t0
    finally:
        gc.enable()
    return spent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keys", type=int, default=1_000_000, help="keys of the random set")
    ap.add_argument("--hot", type=int, default=300, help="keys of the hot set")
    ap.add_argument("--ops", type=int, default=100_000, help="operations per run and thread")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--block", type=int, default=8192,
                    help="operations per block of the 1-thread interleaving (a multiple of 64)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--seed-binding", default="ee4a170",
                    help="commit of the old binding whose ctypes get is the baseline")
    args = ap.parse_args()
    if segcache.FastCache is None:
        print(f"the compiled path is not built: {segcache.SPEEDUPS_ERROR}", file=sys.stderr)
        return 1
    ops = args.ops // BATCH * BATCH  # whole batches
    block = max(BATCH, args.block // BATCH * BATCH)

    rng = random.Random(args.seed)
    keys = [b"key:%012d" % i for i in range(args.keys)]  # 16 bytes
    value = bytes(range(64))
    # Item: 8-byte header + 16 + 64 = 88 bytes; leave room so nothing is
    # evicted (the figure is about speed, not misses).
    heap = max(64 << 20, (args.keys * 88 * 3 // 2 + (1 << 20) - 1) // (1 << 20) << 20)
    caches = {
        "compiled": segcache.FastCache(heap_bytes=heap, segment_bytes=1 << 20),
        "ctypes": segcache.CtypesCache(heap_bytes=heap, segment_bytes=1 << 20),
    }
    seed_mod, seed_why = load_seed(args.seed_binding)
    if seed_mod is not None:
        caches["seed"] = seed_mod.Cache(heap_bytes=heap, segment_bytes=1 << 20)
    for c in caches.values():
        for i in range(0, len(keys), 4096):
            c.set_many({k: value for k in keys[i : i + 4096]})
        assert len(c) == args.keys, (len(c), args.keys)
    # incr needs numeric values: a few counters, read and bumped at random.
    counters = [b"ctr:%012d" % i for i in range(64)]
    for c in caches.values():
        c.set_many({k: b"0" for k in counters})
    ref = dict.fromkeys(keys, value)
    hot = rng.sample(keys, min(args.hot, len(keys)))
    # Per thread (2 at most) and key set: a sequence of keys and its batches.
    seqs = {
        name: [[rng.choice(pool) for _ in range(ops)] for _ in range(2)]
        for name, pool in (("hot", hot), ("random", keys))
    }
    ctr_seq = [[rng.choice(counters) for _ in range(ops)] for _ in range(2)]
    lib = _lib.load()
    noop = lib.fn.get("segcache_noop")
    if noop is None:
        print("the library has no segcache_noop: cannot measure the floor", file=sys.stderr)
        return 1

    # case name -> (function of (thread index, first op, end op), per key)
    cases = {}

    def add(name, per_key, fn):
        cases[name] = (fn, per_key)

    def each(f, s):
        """A case that calls f(key) for the keys of the ops [lo, hi)."""
        def run(i, lo, hi):
            for k in s[i][lo:hi]:
                f(k)
        return run

    for ks in ("hot", "random"):
        s = seqs[ks]
        b = [[q[i : i + BATCH] for i in range(0, len(q), BATCH)] for q in s]

        def batches(f, b):
            """A case that calls f(batch) for the batches of the ops [lo, hi)."""
            def run(i, lo, hi):
                for batch in b[i][lo // BATCH : hi // BATCH]:
                    f(batch)
            return run

        def noop_loop(i, lo, hi):
            for _ in range(lo, hi):
                noop()

        def dict_set(i, lo, hi, s=s, d=ref):
            for k in s[i][lo:hi]:
                d[k] = value

        # The bare segcache_get_multi under get_many, arrays built before
        # timing: the library's own per-key cost plus one crossing per batch,
        # i.e. the floor under either path's get_many.
        raw_multi = lib.dll["segcache_get_multi"]
        h = caches["compiled"]._h
        slot = 128
        arena = (ctypes.c_char * (BATCH * slot))()
        base = ctypes.addressof(arena)
        bufs = (ctypes.c_void_p * BATCH)(*range(base, base + BATCH * slot, slot))
        caps = (ctypes.c_size_t * BATCH)(*([slot] * BATCH))
        vls, sts = (ctypes.c_size_t * BATCH)(), (ctypes.c_int * BATCH)()
        prepared = [[((ctypes.c_char_p * BATCH)(*batch), (ctypes.c_size_t * BATCH)(*map(len, batch)))
                     for batch in bi] for bi in b]
        nbatch = ctypes.c_size_t(BATCH)

        def bare_multi(i, lo, hi, p=prepared):
            for ka, kl in p[i][lo // BATCH : hi // BATCH]:
                raw_multi(h, nbatch, ka, kl, bufs, caps, vls, sts)

        add(f"empty ctypes call (segcache_noop), {ks}", False, noop_loop)
        add(f"segcache_get_multi({BATCH}), bare ctypes call, per key, {ks}", True, bare_multi)
        add(f"dict.get, {ks}", False, each(ref.get, s))
        add(f"dict[k] = v, {ks}", False, dict_set)
        if "seed" in caches:
            add(f"seed ctypes get ({args.seed_binding}), {ks}", False, each(caches["seed"].get, s))
        for path in ("compiled", "ctypes"):
            c = caches[path]
            pairs = [[[(k, value) for k in batch] for batch in bi] for bi in b]

            def set_(i, lo, hi, s=s, f=c.set):
                for k in s[i][lo:hi]:
                    f(k, value)

            add(f"{path} get, {ks}", False, each(c.get, s))
            add(f"{path} gets, {ks}", False, each(c.gets, s))
            add(f"{path} set, {ks}", False, set_)
            if ks == "hot":
                add(f"{path} incr, {ks}", False, each(c.incr, ctr_seq))
            add(f"{path} get_many({BATCH}) per key, {ks}", True, batches(c.get_many, b))
            add(f"{path} set_many({BATCH}) per key, {ks}", True, batches(c.set_many, pairs))

    # Correctness before speed: the benchmarked calls return what they should.
    for c in caches.values():
        batch = seqs["random"][0][:BATCH]
        assert c.get(batch[0]) == value and c.get_many(batch) == {k: value for k in batch}

    ns = {}
    fns = {name: fn for name, (fn, _) in cases.items()}
    interleaved(fns, min(ops, 4 * block), block)  # warm up: buffers, caches, branch history
    samples = {name: [] for name in cases}
    for _ in range(args.runs):
        for name, sec in interleaved(fns, ops, block).items():
            samples[name].append(sec / ops * 1e9)
    for name, v in samples.items():
        ns[(name, 1)] = statistics.median(v)
    samples_1 = samples
    for fn in fns.values():
        timed_threads(fn, 2, min(ops, 4 * block))
    samples = {name: [] for name in cases}
    for _ in range(args.runs):
        for name, fn in fns.items():
            samples[name].append(timed_threads(fn, 2, ops) / ops * 1e9)
    for name, v in samples.items():
        ns[(name, 2)] = statistics.median(v)

    print("# Python binding benchmark")
    print()
    print(f"- date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; load average before: {LOAD_BEFORE}, "
          f"after: {load_average()}")
    print(f"- CPU: {cpu_model()}, {os.cpu_count()} CPUs")
    print(f"- Python {platform.python_version()} ({platform.python_implementation()}), "
          f"libsegcache {'.'.join(map(str, lib.version))} at {lib.path}")
    print(f"- workload: 16-byte keys, 64-byte values; hot = {len(hot)} keys, random = uniform "
          f"over {args.keys} keys; {ops} ops per run and thread, median of {args.runs} runs")
    print(f"- command: {' '.join([os.path.basename(sys.executable)] + sys.argv)}")
    print(f"- 1 thread: CPU time of the thread per operation (time.thread_time), the cases "
          f"interleaved in blocks of {block} operations; 2 threads: wall ns per operation of one "
          "thread, both running the case at once (inflated by load)")
    if seed_why:
        print(f"- {seed_why}")
    print()
    print("| operation | ns/op, 1 thread | x empty call | x dict | ns/op, 2 threads | x empty call (2 thr.) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name in cases:
        ks = name.rsplit(", ", 1)[1]
        floor1 = ns[(f"empty ctypes call (segcache_noop), {ks}", 1)]
        floor2 = ns[(f"empty ctypes call (segcache_noop), {ks}", 2)]
        t1, t2 = ns[(name, 1)], ns[(name, 2)]
        ref_name = None
        if " get, " in name or " get (" in name:
            ref_name = f"dict.get, {ks}"
        elif " set, " in name:
            ref_name = f"dict[k] = v, {ks}"
        vs_dict = f"{t1 / ns[(ref_name, 1)]:.1f}" if ref_name else ""
        print(f"| {name} | {t1:.0f} | {t1 / floor1:.2f} | {vs_dict} | {t2:.0f} | {t2 / floor2:.2f} |")
    print()

    def x(name, threads=1):
        ks = name.rsplit(", ", 1)[1]
        return ns[(name, threads)] / ns[(f"empty ctypes call (segcache_noop), {ks}", threads)]

    get_x = x("compiled get, hot")
    set_x = x("compiled set, hot")
    many = ns[(f"compiled get_many({BATCH}) per key, hot", 1)]
    new_ns = ns[("ctypes get, hot", 1)]
    print("Targets (hot keys, 1 thread):")
    print(f"- compiled get <= 1.5 x empty ctypes call: {get_x:.2f} x "
          f"({'met' if get_x <= 1.5 else 'NOT met'})")
    print(f"- compiled get_many({BATCH}) <= 100 ns per key: {many:.0f} ns "
          f"({'met' if many <= 100 else 'NOT met'})")
    floor = ns[(f"segcache_get_multi({BATCH}), bare ctypes call, per key, hot", 1)]
    print(f"  (the library's own segcache_get_multi({BATCH}) costs {floor:.0f} ns per key here; "
          f"the binding adds {many - floor:.0f})")
    print(f"- compiled set <= 2.5 x empty ctypes call: {set_x:.2f} x "
          f"({'met' if set_x <= 2.5 else 'NOT met'})")
    seed_name = f"seed ctypes get ({args.seed_binding}), hot"
    if (seed_name, 1) in ns:
        seed_ns = ns[(seed_name, 1)]
        faster = 1 - new_ns / seed_ns
        runs = [1 - a / b for a, b in zip(samples_1["ctypes get, hot"], samples_1[seed_name])]
        print(f"- ctypes get >= 25% faster than the seed's: {faster * 100:.0f}% faster "
              f"({seed_ns:.0f} -> {new_ns:.0f} ns; per run: "
              f"{' '.join(f'{r * 100:.0f}%' for r in runs)}; "
              f"{'met' if faster >= 0.25 else 'NOT met'})")
    else:
        print("- ctypes get >= 25% faster than the seed's: not measured (no seed binding)")
    print(f"- compiled get vs ctypes get: {ns[('compiled get, hot', 1)] / new_ns:.2f} x the time")
    for c in caches.values():
        c.close()
    return 0


LOAD_BEFORE = load_average()

if __name__ == "__main__":
    sys.exit(main())
