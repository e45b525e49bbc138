"""The compiled and the ctypes implementation agree, call for call.

One randomized operation sequence (valid and invalid keys, values, ttls
and item shapes; values on both sides of the compiled path's stack buffer
and of get_many's slot size) runs on a cache of each implementation; every
call must return the same result or raise the same exception class with
the same message (but for Python's own wording of a call's argument errors).
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

import segcache
from conftest import impl_class

# Builds both implementations itself.
IMPL_INDEPENDENT = True

KEYS = [b"a", b"b", b"key:0001", b"\x00", "clé", bytearray(b"ba"), memoryview(b"mv"),
        b"k" * 255, b"", b"k" * 256, 7, None, "a"]
VALUES = [b"", b"v", b"x" * 100, b"y" * 129, b"z" * 5000, b"w" * 9000, b"q" * 70_000,
          bytearray(b"ba"), memoryview(b"mv"), "str", 3, b"12", b"18446744073709551615"]
TTLS = [0, 3600, 3600.0, timedelta(hours=1), 1.5, -1, True, "1", None, 1 << 32]
# incr/decr deltas and cas tokens: valid ones first.
NUMBERS = [1, 5, 0, (1 << 64) - 1, 2.0, True, -1, 1 << 64, "1", None]


# Mostly valid arguments, so that batches (which fail whole on one bad
# argument) mostly get through to the library.
GOOD_KEYS = KEYS[:8]
GOOD_VALUES = VALUES[:9]


def _ops(rng: random.Random):
    key = lambda: rng.choice(GOOD_KEYS if rng.random() < 0.9 else KEYS)  # noqa: E731
    val = lambda: rng.choice(GOOD_VALUES if rng.random() < 0.9 else VALUES)  # noqa: E731
    ttl = lambda: rng.choice(TTLS[:4] if rng.random() < 0.8 else TTLS)  # noqa: E731
    num = lambda: rng.choice(NUMBERS[:4] if rng.random() < 0.8 else NUMBERS)  # noqa: E731
    choices = [
        ("get", lambda: (key(),)),
        ("set", lambda: (key(), val())),
        ("set", lambda: (key(), val(), ttl())),
        ("delete", lambda: (key(),)),
        ("get_many", lambda: ([key() for _ in range(rng.randrange(0, 70))],)),
        ("get_many", lambda: ([rng.choice(GOOD_KEYS) for _ in range(rng.randrange(0, 70))],)),
        ("set_many", lambda: ({k: val() for k in [key() for _ in range(rng.randrange(0, 8))]
                               if k is None or isinstance(k, (bytes, str, int))},)),
        ("set_many", lambda: ([(key(), val()) for _ in range(rng.randrange(0, 8))], ttl())),
        ("set_many", lambda: ([(key(),), (key(), val(), val()), 5][rng.randrange(3):][:1],)),
        ("__contains__", lambda: (key(),)),
        ("__getitem__", lambda: (key(),)),
        ("__setitem__", lambda: (key(), val())),
        ("__delitem__", lambda: (key(),)),
        ("add", lambda: (key(), val(), ttl())),
        ("replace", lambda: (key(), val())),
        ("replace", lambda: (key(), val(), ttl())),
        ("incr", lambda: (key(), num())),
        ("incr", lambda: (key(),)),
        ("decr", lambda: (key(), num())),
        ("gets_value", lambda: (key(),)),
        # cas with the token of this cache's own gets (so a success is
        # possible on both), and with arbitrary (mostly stale) tokens.
        ("cas_own", lambda: (key(), val(), ttl())),
        ("cas", lambda: (key(), val(), num())),
        ("cas", lambda: (key(), val(), num(), ttl())),
        # Keyword arguments, right and wrong.
        ("kw", lambda: ("set", (key(),), {"value": val(), "ttl": ttl()})),
        ("kw", lambda: ("add", (key(), val()), {"ttl": ttl()})),
        ("kw", lambda: ("cas", (key(), val()), {"token": num()})),
        ("kw", lambda: ("incr", (key(),), {"delta": num()})),
        ("kw", lambda: ("decr", (), {"key": key(), "delta": num()})),
        ("kw", lambda: (rng.choice(["set", "add", "incr"]), (key(),), {"nope": 1})),
        # One-argument methods refuse keywords on both paths.
        ("kw", lambda: (rng.choice(["get", "gets", "delete"]), (), {"key": key()})),
        ("kw", lambda: ("get_many", (), {"keys": [key()]})),
        # The methods both paths share still see what the per-item ones left:
        # store (its token is per cache, so only whether it stored), cas and
        # delete_cas with the cache's own token, batches of deletes, len.
        ("store", lambda: (rng.choice(["set", "add", "replace", "cas", "get"]), key(), val(),
                           ttl(), num())),
        ("store_own", lambda: (key(), val(), ttl())),
        ("delete_cas_own", lambda: (key(),)),
        ("delete_many", lambda: ([key() for _ in range(rng.randrange(0, 6))],)),
        ("__len__", lambda: ()),
    ]
    while True:
        name, args = rng.choice(choices)
        yield name, args()


def _call(cache, name, args):
    try:
        if name == "gets_value":
            r = cache.gets(*args)
            return ("ok", None if r is None else r[0])
        if name == "cas_own":
            k, v, ttl = args
            r = cache.gets(k)
            return ("ok", r is not None and cache.cas(k, v, r[1], ttl))
        if name == "store":
            return ("ok", cache.store(*args) is not None)
        if name == "store_own":
            k, v, ttl = args
            r = cache.gets(k)
            return ("ok", r is not None and cache.store("cas", k, v, ttl, r[1]) is not None)
        if name == "delete_cas_own":
            r = cache.gets(args[0])
            return ("ok", r is not None and cache.delete_cas(args[0], r[1]))
        if name == "kw":
            method, pos, kw = args
            return ("ok", getattr(cache, method)(*pos, **kw))
        return ("ok", getattr(cache, name)(*args))
    except Exception as e:  # the outcome is compared, whatever it is
        # Messages too, except where Python itself words a call's argument
        # error (the methods' names and arities differ between a C method
        # and a Python function).
        msg = str(e) if isinstance(e, segcache.Error) or name != "kw" else None
        return ("raise", type(e), msg)


@pytest.mark.parametrize("seed", range(6))
def test_both_paths_give_identical_results(seed):
    fast_cls, ctypes_cls = impl_class("compiled"), impl_class("ctypes")
    opts = dict(heap_bytes=32 << 20, segment_bytes=1 << 20, eviction="none")
    with fast_cls(**opts) as fast, ctypes_cls(**opts) as slow:
        assert type(fast) is not type(slow)
        ops = _ops(random.Random(seed))
        for i in range(2000):
            name, args = next(ops)
            got, want = _call(fast, name, args), _call(slow, name, args)
            assert got == want, (i, name, args)
        # Same contents at the end, read through the other path's get_many.
        keys = [k for k in KEYS if isinstance(k, (bytes, str, bytearray, memoryview)) and 0 < len(k) < 256]
        assert fast.get_many(keys) == slow.get_many(keys)
        assert fast.stats()["items"] == slow.stats()["items"]
