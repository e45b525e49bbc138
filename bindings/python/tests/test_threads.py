"""Threads hammering one cache: counters balance, values stay whole.

Batches and all but the single-key hot calls release the GIL, so these
threads really run library code in parallel. Every test runs a fixed amount of work (no timing); a hang is
caught by the thread join timeout.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time

import pytest

import segcache

JOIN_TIMEOUT = 120


def run_threads(n, target):
    errors = []

    def wrap(i):
        try:
            target(i)
        except BaseException as e:  # reported in the main thread
            errors.append(e)

    threads = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT)
        assert not t.is_alive(), "thread hung"
    if errors:
        raise errors[0]


def test_incr_from_threads_is_exact(cache):
    cache.set(b"counter", b"0")
    cache.set(b"mixed", b"1000000")
    n, per = 4, 2000

    def work(i):
        for _ in range(per):
            cache.incr(b"counter")
            if i % 2:
                cache.incr(b"mixed", 3)
            else:
                cache.decr(b"mixed", 2)

    run_threads(n, work)
    assert cache.get(b"counter") == b"%d" % (n * per)
    assert cache.incr(b"counter", 0) == n * per
    assert cache.get(b"mixed") == b"%d" % (1000000 + 2 * per * 3 - 2 * per * 2)


def test_cas_loop_from_threads_loses_nothing(cache):
    cache.set(b"n", b"0")
    n, per = 4, 300
    conflicts = []

    def work(i):
        lost = 0
        for _ in range(per):
            while True:
                value, token = cache.gets(b"n")
                if cache.cas(b"n", b"%d" % (int(value) + 1), token):
                    break
                lost += 1
        conflicts.append(lost)

    run_threads(n, work)
    assert cache.get(b"n") == b"%d" % (n * per)


def test_concurrent_add_has_one_winner(cache):
    for round_ in range(20):
        key = b"race%d" % round_
        wins = []
        barrier = threading.Barrier(4)

        def work(i):
            barrier.wait()
            if cache.add(key, b"%d" % i):
                wins.append(i)

        run_threads(4, work)
        assert len(wins) == 1
        assert cache.get(key) == b"%d" % wins[0]


def _value(key: bytes, rng: random.Random) -> bytes:
    # key | payload | sha256(key | payload): a reader can tell a whole value
    # of this key from a torn or foreign one. Sizes cross the per-thread
    # buffer's start size so that buffers grow while others read.
    n = rng.choice((0, 10, 100, 3000, 5000, 20000))
    payload = rng.getrandbits(8 * n).to_bytes(n, "little") if n else b""  # randbytes is 3.9+
    body = key + b"|" + payload
    return body + hashlib.sha256(body).digest()


def _check(key: bytes, value: bytes) -> None:
    body, digest = value[:-32], value[-32:]
    assert hashlib.sha256(body).digest() == digest, "torn value"
    assert body.startswith(key + b"|"), "value of another key"


def test_checksummed_values_under_concurrent_writes(cache):
    keys = [b"key%03d" % i for i in range(64)]
    for k in keys:
        cache.set(k, _value(k, random.Random(0)))
    seen = [0]

    def writer(i):
        rng = random.Random(i)
        for _ in range(1500):
            k = rng.choice(keys)
            op = rng.random()
            if op < 0.8:
                cache.set(k, _value(k, rng))
            elif op < 0.9:
                got = cache.gets(k)
                if got is not None:
                    cache.cas(k, _value(k, rng), got[1])
            else:
                cache.replace(k, _value(k, rng))

    def reader(i):
        rng = random.Random(100 + i)
        for j in range(1500):
            if j % 10 == 0:
                batch = rng.sample(keys, 16)
                got = cache.get_many(batch)
                assert set(got) == set(batch)  # nothing is ever deleted
                for k, v in got.items():
                    _check(k, v)
            else:
                k = rng.choice(keys)
                v = cache.get(k)
                assert v is not None
                _check(k, v)
                seen[0] += 1

    def work(i):
        (writer if i < 2 else reader)(i)

    run_threads(4, work)
    assert seen[0] > 0
    for k in keys:
        _check(k, cache.get(k))
    assert len(cache) == len(keys)


def test_close_while_threads_use_the_cache():
    c = segcache.Cache(heap_bytes=8 << 20, segment_bytes=256 << 10)
    c.set(b"k", b"v")
    started = threading.Barrier(5)
    outcomes = []
    progress = [0] * 4

    def work(i):
        started.wait()
        ops = 0
        try:
            while True:
                c.set(b"k%d" % (ops % 100), b"v" * 50)
                v = c.get(b"k")
                assert v in (b"v", None)
                c.get_many([b"k", b"k1"])
                ops += 1
                progress[i] = ops
        except segcache.Closed:
            outcomes.append(ops)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    started.wait()
    # Let every worker get some calls in flight, then close under them.
    deadline = time.monotonic() + JOIN_TIMEOUT
    while min(progress) < 20:
        assert time.monotonic() < deadline, f"workers made no progress: {progress}"
    c.close()
    for t in threads:
        t.join(JOIN_TIMEOUT)
        assert not t.is_alive()
    assert len(outcomes) == 4  # every worker ended with Closed, nothing else
    with pytest.raises(segcache.Closed):
        c.get(b"k")


def test_caches_used_from_many_short_lived_threads(cache):
    # Each new thread gets its own buffers (threading.local) and binds to the
    # Go runtime on its first call.
    def work(i):
        cache.set(b"t%d" % i, b"x" * (i * 1000))
        assert cache.get(b"t%d" % i) == b"x" * (i * 1000)

    for round_ in range(5):
        run_threads(8, lambda i: work(round_ * 8 + i))
    assert len(cache) == 40


def test_reentrant_get_from_a_finalizer(cache):
    # A finalizer that reads the cache can run inside this thread's own get,
    # between the C call and the copy-out (the garbage collector runs on
    # allocation). It must not overwrite the value being returned.
    import gc

    cache.set(b"outer", b"O" * 3000)
    cache.set(b"inner", b"I" * 5000)
    nested = []

    class Reader:
        def __del__(self):
            nested.append(cache.get(b"inner"))
            nested.append(cache.get_many([b"inner"]))
            nested.append(b"inner" in cache)
            nested.append(cache.gets(b"inner")[0])

    from segcache import _cache

    # As if inside an outer ctypes get: its buffer is out of the pool, and
    # the nested calls must not write to it. (The compiled path reads into a
    # buffer on its own C stack and holds the GIL up to the copy-out.)
    ctypes_path = isinstance(cache, segcache.CtypesCache)
    if ctypes_path:
        cache.get(b"outer")  # the cache's pool of get buffers has one now
        held_get = cache._gpop()
        held_get.buf[:16] = b"H" * 16
    held = _cache._take()  # the shared outputs (contains, incr, get_many)
    held.cas.value = 0xDEAD
    try:
        r = Reader()
        r.cycle = r
        del r
        gc.collect()
        # The outer buffers are untouched.
        assert held.cas.value == 0xDEAD
        if ctypes_path:
            assert held_get.buf[:16] == b"H" * 16
    finally:
        _cache._give(held)
        if ctypes_path:
            cache._gpush(held_get)
    assert nested == [b"I" * 5000, {b"inner": b"I" * 5000}, True, b"I" * 5000]
    # and the ordinary path still works afterwards
    assert cache.get(b"outer") == b"O" * 3000


def test_calls_release_the_gil():
    # ctypes releases the GIL around calls through CDLL functions, and holds
    # it through PyDLL ones (FUNCFLAG_PYTHONAPI). Every declared function
    # and the batches must be of the first kind, or threads would not run
    # library code in parallel; the single-key hot calls of the ctypes path
    # are of the second (the call is a small part of a ctypes get).
    import ctypes

    from segcache import _cache, _lib

    lib = _lib.load()
    segcache.CtypesCache(heap_bytes=2 << 20, segment_bytes=64 << 10).close()  # binds
    assert type(lib.dll) is ctypes.CDLL
    for name, fn in lib.fn.items():
        assert not fn._flags_ & ctypes._FUNCFLAG_PYTHONAPI, name
    for fn in (_cache._c_rget_multi, _cache._c_rset_multi):
        assert not fn._flags_ & ctypes._FUNCFLAG_PYTHONAPI
    for fn in (_cache._c_rget, _cache._c_rset, _cache._c_rdelete, _cache._c_radd,
               _cache._c_rreplace, _cache._c_rcas, _cache._c_rincr, _cache._c_rdecr):
        assert fn._flags_ & ctypes._FUNCFLAG_PYTHONAPI


def test_get_many_of_a_list_another_thread_changes(cache):
    # get_many releases the GIL during its C call: a list another thread
    # changes meanwhile must not free a key the call is reading (each key is
    # held by a reference of the call's own, not by the caller's list).
    names = [b"mut%04d" % i for i in range(512)]
    cache.set_many({k: b"v" + k for k in names})
    shared = [bytes(names[i]) for i in range(64)]
    done = threading.Event()

    def work(i):
        rng = random.Random(i)
        if i == 0:  # the mutator: fresh key objects, so replaced ones die
            while not done.is_set():
                shared[rng.randrange(64)] = bytes(bytearray(rng.choice(names)))
            return
        try:
            for _ in range(1000):
                got = cache.get_many(shared)
                assert 0 < len(got) <= 64
                for k, v in got.items():
                    assert v == b"v" + k
        finally:
            done.set()

    run_threads(2, work)


def test_batches_of_threads_sharing_one_cache_object(cache):
    # get_many and set_many take their arrays from a block the cache object
    # keeps; a call that finds it in use by another thread (which released
    # the GIL) must take its own, or the two calls would overwrite each
    # other's keys, buffers and statuses. Every value names its key.
    keys = [b"blk%04d" % i for i in range(256)]
    cache.set_many({k: k + b"=0" for k in keys})

    def work(i):
        rng = random.Random(i)
        for r in range(400):
            batch = rng.sample(keys, 64)
            if r % 2:
                cache.set_many({k: k + b"=%d.%d" % (i, r) + b"x" * rng.randrange(300) for k in batch})
            else:
                got = cache.get_many(batch)
                assert set(got) == set(batch)
                for k, v in got.items():
                    assert v.startswith(k + b"="), (k, v[:40])

    run_threads(4, work)


# The first Cache binds the library's functions (and configures the compiled
# path) once for the process. A second thread that opens a cache meanwhile
# must wait for the whole binding, not find it marked done while the compiled
# path is still unconfigured ("segcache._speedups is not configured"). The
# binding listener is slowed down here to hold that window open.
FIRST_BIND = r"""
import threading, time, segcache
from segcache import _cache

slow_started = threading.Event()
listeners = _cache._bind_listeners

def slow(lib):
    slow_started.set()
    time.sleep(0.5)

listeners.insert(0, slow)
errors = []

def first():
    try:
        segcache.Cache(heap_bytes=1 << 20, segment_bytes=64 << 10).close()
    except BaseException as e:
        errors.append(e)

t = threading.Thread(target=first)
t.start()
assert slow_started.wait(60)
with segcache.Cache(heap_bytes=1 << 20, segment_bytes=64 << 10) as c:
    c.set(b"k", b"v")
    assert c.get(b"k") == b"v"
t.join(60)
assert not errors, errors
print("ok", segcache.FAST)
"""


def test_cache_opened_while_another_thread_binds_the_library(impl):
    from conftest import run_python

    # The child picks the implementation from SEGCACHE_SPEEDUPS (set by impl).
    r = run_python(FIRST_BIND, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.split() == ["ok", str(impl == "compiled")]
