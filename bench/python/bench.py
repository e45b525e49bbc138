"""Python binding benchmark: the cost of a call through each path.

Nanoseconds per operation of Cache.get (hit), Cache.set (overwrite),
Cache.get_many and Cache.set_many (batches of 64) on both implementations
of segcache.Cache, the compiled one (segcache._speedups) and the ctypes
one, side by side with:

- an empty call into the library (segcache_noop through ctypes): the floor
  under any ctypes call, and the unit of the targets;
- dict.get / dict[k] = v: the reference line;
- the ctypes get as it was before the compiled path and the faster ctypes
  path existed (a faithful copy of that code, below), so the speed-up of
  the fallback is measured in the same process, not against old figures.

Two key sets: "hot" (a few hundred keys, every access a cache hit on warm
memory) and "random" (uniform over --keys distinct keys, 1M by default).
16-byte keys, 64-byte values, key sequences pre-generated. Each figure is
the median of --runs runs; runs of the different cases are interleaved so
that drift of this shared machine hits them alike. With --threads 2, two
threads run the same case at once, each on its own sequence; the figure is
wall time per operation of one thread (so 2 threads that scale perfectly
show the 1-thread figure). 1-thread figures are CPU time of the thread, so
that the load of a shared machine inflates them less.

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
from segcache import _cache, _lib

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


class LegacyGet:
    """Cache.get of the ctypes binding before the compiled path (0.1.0 as first
    released), verbatim in what it
    does per call: the declared function (argtypes conversion of all 7
    arguments), a thread-local buffer with a busy flag under try/finally,
    the result sliced from a memoryview."""

    class _T:
        __slots__ = ("busy", "vlen", "cbufp", "ccap", "mv", "buf")

        def __init__(self):
            self.busy = False
            self.vlen = ctypes.c_size_t()
            self.buf = bytearray(4096)
            cbuf = (ctypes.c_char * 4096).from_buffer(self.buf)
            self.cbufp = ctypes.c_void_p(ctypes.addressof(cbuf))
            self.ccap = ctypes.c_size_t(4096)
            self.mv = memoryview(self.buf)

    class _Local(threading.local):
        def __init__(self):
            self.t = LegacyGet._T()

    def __init__(self, cache):
        self._h = ctypes.c_uint64(cache._h.value)
        self._c_get = _lib.load().fn["segcache_get"]
        self._tls = LegacyGet._Local()

    def get(self, key):
        if type(key) is not bytes:
            key = _cache._as_key(key)
        t = self._tls.t
        if t.busy:
            t = LegacyGet._T()
        t.busy = True
        try:
            n = len(key)
            rc = self._c_get(
                self._h, key, _cache._SZ[n] if n < _cache._SMALL else n, t.cbufp, t.ccap, t.vlen, None
            )
            if rc == 0:
                return t.mv[: t.vlen.value].tobytes()
            return None  # a miss (the old code checked the key first: valid here)
        finally:
            t.busy = False


def timed(fn, threads: int) -> float:
    """Seconds of fn(i) run in `threads` threads at once (i = thread index),
    with the garbage collector off. One thread: the CPU time of the thread
    (time.thread_time), because on a shared, loaded machine the other
    processes take wall time away, not CPU time. Two threads: wall time
    (what contention and the GIL cost is only visible there)."""
    gc.disable()
    try:
        if threads == 1:
            t0 = time.thread_time()
            fn(0)
            return time.thread_time() - t0
        start = threading.Barrier(threads + 1)

        def run(i):
            start.wait()
            fn(i)

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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keys", type=int, default=1_000_000, help="keys of the random set")
    ap.add_argument("--hot", type=int, default=300, help="keys of the hot set")
    ap.add_argument("--ops", type=int, default=100_000, help="operations per run and thread")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if segcache.FastCache is None:
        print(f"the compiled path is not built: {segcache.SPEEDUPS_ERROR}", file=sys.stderr)
        return 1

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
    for c in caches.values():
        for i in range(0, len(keys), 4096):
            c.set_many({k: value for k in keys[i : i + 4096]})
        assert len(c) == args.keys, (len(c), args.keys)
    ref = dict.fromkeys(keys, value)
    hot = rng.sample(keys, min(args.hot, len(keys)))
    # Per thread (2 at most) and key set: a sequence of keys and its batches.
    seqs = {
        name: [[rng.choice(pool) for _ in range(args.ops)] for _ in range(2)]
        for name, pool in (("hot", hot), ("random", keys))
    }
    lib = _lib.load()
    noop = lib.fn.get("segcache_noop")
    if noop is None:
        print("the library has no segcache_noop: cannot measure the floor", file=sys.stderr)
        return 1
    legacy = LegacyGet(caches["ctypes"])

    # case name -> (function of the thread index, operations per thread)
    cases = {}

    def add(name, per_key, make, ops=args.ops):
        cases[name] = (make, ops, per_key)

    for ks in ("hot", "random"):
        s = seqs[ks]
        b = [[q[i : i + BATCH] for i in range(0, len(q) - BATCH + 1, BATCH)] for q in s]
        nb = len(b[0]) * BATCH

        def noop_loop(i, s=s):
            for _ in s[i]:
                noop()

        def dict_get(i, s=s, g=ref.get):
            for k in s[i]:
                g(k)

        def dict_set(i, s=s, d=ref):
            for k in s[i]:
                d[k] = value

        def legacy_get(i, s=s, g=legacy.get):
            for k in s[i]:
                g(k)

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

        def bare_multi(i, p=prepared):
            for ka, kl in p[i]:
                raw_multi(h, nbatch, ka, kl, bufs, caps, vls, sts)

        add(f"empty ctypes call (segcache_noop), {ks}", False, noop_loop)
        add(f"segcache_get_multi({BATCH}), bare ctypes call, per key, {ks}", True, bare_multi, nb)
        add(f"dict.get, {ks}", False, dict_get)
        add(f"dict[k] = v, {ks}", False, dict_set)
        add(f"old ctypes get (argtypes), {ks}", False, legacy_get)
        for path, c in caches.items():
            def get(i, s=s, g=c.get):
                for k in s[i]:
                    g(k)

            def set_(i, s=s, f=c.set):
                for k in s[i]:
                    f(k, value)

            def get_many(i, b=b, f=c.get_many):
                for batch in b[i]:
                    f(batch)

            pairs = [[[(k, value) for k in batch] for batch in bi] for bi in b]

            def set_many(i, p=pairs, f=c.set_many):
                for batch in p[i]:
                    f(batch)

            add(f"{path} get, {ks}", False, get)
            add(f"{path} set, {ks}", False, set_)
            add(f"{path} get_many({BATCH}) per key, {ks}", True, get_many, nb)
            add(f"{path} set_many({BATCH}) per key, {ks}", True, set_many, nb)

    # Correctness before speed: the benchmarked calls return what they should.
    for c in caches.values():
        batch = seqs["random"][0][:BATCH]
        assert c.get(batch[0]) == value and c.get_many(batch) == {k: value for k in batch}
    assert legacy.get(hot[0]) == value

    ns = {}
    for threads in (1, 2):
        for fn, _, _ in cases.values():  # warm up: buffers, caches, branch history
            timed(fn, threads)
        samples = {name: [] for name in cases}
        for _ in range(args.runs):
            for name, (fn, n, _) in cases.items():
                samples[name].append(timed(fn, threads) / n * 1e9)
        for name, v in samples.items():
            ns[(name, threads)] = statistics.median(v)

    print("# Python binding benchmark")
    print()
    print(f"- date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; load average before: {LOAD_BEFORE}, "
          f"after: {load_average()}")
    print(f"- CPU: {cpu_model()}, {os.cpu_count()} CPUs")
    print(f"- Python {platform.python_version()} ({platform.python_implementation()}), "
          f"libsegcache {'.'.join(map(str, lib.version))} at {lib.path}")
    print(f"- workload: 16-byte keys, 64-byte values; hot = {len(hot)} keys, random = uniform "
          f"over {args.keys} keys; {args.ops} ops per run and thread, median of {args.runs} runs")
    print(f"- command: {' '.join([os.path.basename(sys.executable)] + sys.argv)}")
    print("- 1 thread: CPU time of the thread per operation (time.thread_time); 2 threads: wall "
          "ns per operation of one thread, both running the case at once (inflated by load)")
    print()
    print("| operation | ns/op, 1 thread | x empty call | x dict | ns/op, 2 threads | x empty call (2 thr.) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name in cases:
        ks = name.rsplit(", ", 1)[1]
        floor1 = ns[(f"empty ctypes call (segcache_noop), {ks}", 1)]
        floor2 = ns[(f"empty ctypes call (segcache_noop), {ks}", 2)]
        t1, t2 = ns[(name, 1)], ns[(name, 2)]
        ref_name = None
        if " get, " in name or "old ctypes get" in name:
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
    legacy_ns = ns[("old ctypes get (argtypes), hot", 1)]
    new_ns = ns[("ctypes get, hot", 1)]
    faster = 1 - new_ns / legacy_ns
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
    print(f"- ctypes get >= 25% faster than the old one: {faster * 100:.0f}% faster "
          f"({legacy_ns:.0f} -> {new_ns:.0f} ns; {'met' if faster >= 0.25 else 'NOT met'})")
    print(f"- compiled get vs ctypes get: {ns[('compiled get, hot', 1)] / new_ns:.2f} x the time")
    for c in caches.values():
        c.close()
    return 0


LOAD_BEFORE = load_average()

if __name__ == "__main__":
    sys.exit(main())
