"""A tour of the segcache Python binding; run by `make demo-python` and
`make test-python`. Every line checks what it shows, so a broken binding
fails the demo instead of printing something wrong."""

import threading

import segcache

print(f"segcache {segcache.__version__} ({'compiled' if segcache.FAST else 'ctypes'} path), "
      f"library {segcache.library_path()}")

with segcache.Cache(heap_bytes=16 << 20, segment_bytes=1 << 20, eviction="merge") as cache:
    # Plain reads and writes; str keys are UTF-8.
    cache.set(b"user:1", b'{"name": "Ada"}', ttl=60)
    cache["user:2"] = b'{"name": "Grace"}'
    assert cache.get(b"user:1") == b'{"name": "Ada"}'
    assert cache.get(b"user:3") is None
    print("get user:2 ->", cache["user:2"])

    # Only-if-absent, only-if-present, compare-and-swap.
    assert cache.add(b"lock", b"owner-a") is True
    assert cache.add(b"lock", b"owner-b") is False
    assert cache.replace(b"missing", b"x") is False
    value, token = cache.gets(b"lock")
    assert cache.cas(b"lock", b"owner-c", token) is True
    assert cache.cas(b"lock", b"owner-d", token) is False  # token spent
    print("lock holder ->", cache[b"lock"])

    # Counters: canonical decimals can be incremented, from many threads.
    cache.set(b"hits", b"0")

    def count():
        for _ in range(1000):
            cache.incr(b"hits")

    threads = [threading.Thread(target=count) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.get(b"hits") == b"4000"
    print("hits after 4 threads x 1000 incr ->", cache.incr(b"hits", 0))

    # Batches: one call into the library for many keys.
    cache.set_many({b"k%d" % i: b"v%d" % i for i in range(100)})
    got = cache.get_many([b"k1", b"k2", b"nope"])
    assert got == {b"k1": b"v1", b"k2": b"v2"}
    print("get_many ->", got)

    # Errors are exceptions.
    try:
        cache.incr(b"user:1")
    except segcache.NotNumeric as e:
        print("incr on JSON ->", type(e).__name__)
    try:
        cache.set(b"k" * 256, b"v")
    except segcache.KeyTooLarge as e:
        print("256-byte key ->", type(e).__name__)

    s = cache.stats()
    print(f"{len(cache)} items, {s['hits']} hits, {s['misses']} misses")
    assert len(cache) == s["items"] == 104

print("demo ok")
