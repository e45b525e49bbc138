"""Every method of segcache.Cache, its results and its errors."""

from __future__ import annotations

import pickle
import time
from datetime import timedelta

import pytest

import segcache

KEY_TYPES = [
    pytest.param(lambda b: b, id="bytes"),
    pytest.param(bytearray, id="bytearray"),
    pytest.param(memoryview, id="memoryview"),
    pytest.param(lambda b: b.decode("utf-8"), id="str"),
]


# -- reads and writes -------------------------------------------------------


def test_set_get_roundtrip(cache):
    cache.set(b"k", b"value")
    assert cache.get(b"k") == b"value"
    assert type(cache.get(b"k")) is bytes
    assert cache.get(b"absent") is None


def test_set_overwrites(cache):
    cache.set(b"k", b"one")
    cache.set(b"k", b"two")
    assert cache.get(b"k") == b"two"


def test_empty_value(cache):
    cache.set(b"k", b"")
    assert cache.get(b"k") == b""
    assert b"k" in cache


def test_binary_keys_and_values(cache):
    key = bytes(range(255))
    value = bytes(range(256)) * 4
    cache.set(key, value)
    assert cache.get(key) == value
    cache.set(b"\x00", b"\x00\x00")
    assert cache.get(b"\x00") == b"\x00\x00"
    assert cache.get(b"\x00\x00") is None


@pytest.mark.parametrize("conv", KEY_TYPES)
def test_key_types(cache, conv):
    cache.set(conv(b"key"), b"v1")
    assert cache.get(b"key") == b"v1"
    assert cache.get(conv(b"key")) == b"v1"
    assert cache.gets(conv(b"key"))[0] == b"v1"
    assert conv(b"key") in cache
    assert cache[conv(b"key")] == b"v1"
    assert cache.get_many([conv(b"key")]) == {b"key": b"v1"}
    assert cache.delete(conv(b"key"))
    assert cache.get(b"key") is None


def test_str_keys_are_utf8(cache):
    cache.set("clé", b"v")
    assert cache.get("clé".encode("utf-8")) == b"v"
    assert cache.get("cle") is None


@pytest.mark.parametrize("encoded", [12345, "a str", b"other"], ids=["int", "str", "bytes"])
def test_str_subclass_keys_are_utf8_whatever_encode_returns(cache, encoded):
    # A str subclass may override encode(); the key is still the UTF-8 of
    # the string. Trusting encode() handed the compiled path a non-bytes
    # object that it read as bytes (memory it does not own) and the ctypes
    # path a str it passed as wchar_t*: the item landed under a junk key.
    class Key(str):
        def encode(self, *args, **kwargs):
            return encoded

    k = Key("key")
    cache.set(k, b"v1")
    assert cache.get(b"key") == b"v1"
    assert cache.get(k) == b"v1"
    assert cache.get_many([k]) == {b"key": b"v1"}
    cache[k] = b"2"
    assert cache.incr(k) == 3
    assert cache.delete(k)
    assert cache.get(b"key") is None


def test_bytes_subclass_is_taken_by_its_bytes_not_its_len(cache):
    # A bytes subclass may override __len__; the C call must get the
    # object's real length. The ctypes path passed len(obj) with the
    # object's buffer: a 1-byte value with __len__ 4000 stored 4000 bytes
    # read past the object (process memory) into the cache.
    class Liar(bytes):
        def __len__(self):
            return 4000

    cache.set(b"k", Liar(b"x"))
    assert cache.get(b"k") == b"x"
    cache.set(Liar(b"key"), Liar(b"v"))
    assert cache.get(b"key") == b"v"
    assert cache.add(Liar(b"k2"), Liar(b"a"))
    assert cache.replace(Liar(b"k2"), Liar(b"b"))
    assert cache.get_many([Liar(b"k2")]) == {b"k2": b"b"}
    cache.set_many([(Liar(b"k3"), Liar(b"c"))])
    assert cache.get(b"k3") == b"c"
    assert cache.store("set", Liar(b"k4"), Liar(b"d")) is not None
    assert cache.get(b"k4") == b"d"
    assert cache.delete_many([Liar(b"k3"), Liar(b"k4")]) == 2


@pytest.mark.parametrize("conv", [bytearray, memoryview], ids=["bytearray", "memoryview"])
def test_value_types(cache, conv):
    cache.set(b"k", conv(b"payload"))
    assert cache.get(b"k") == b"payload"
    assert cache.add(b"k2", conv(b"x"))
    assert cache.replace(b"k2", conv(b"y"))
    _, token = cache.gets(b"k2")
    assert cache.cas(b"k2", conv(b"z"), token)
    assert cache.get(b"k2") == b"z"


def test_value_is_a_copy(cache):
    buf = bytearray(b"before")
    cache.set(b"k", buf)
    buf[:] = b"after!"
    assert cache.get(b"k") == b"before"


def test_one_argument_methods_take_it_by_position_only(cache):
    # get, gets, delete and get_many are one-argument methods (METH_O) on
    # the compiled path: a keyword must be refused there and on the ctypes
    # path alike, or code written against one fails on the other.
    cache.set(b"k", b"v")
    for call in (
        lambda: cache.get(key=b"k"),
        lambda: cache.gets(key=b"k"),
        lambda: cache.delete(key=b"k"),
        lambda: cache.get_many(keys=[b"k"]),
    ):
        with pytest.raises(TypeError):
            call()
    assert cache.get(b"k") == b"v"  # the refused delete removed nothing


@pytest.mark.parametrize("bad", [1, 1.5, None, object(), ["a"], ("a",)])
def test_bad_key_type(cache, bad):
    for call in (
        lambda: cache.get(bad),
        lambda: cache.gets(bad),
        lambda: cache.set(bad, b"v"),
        lambda: cache.add(bad, b"v"),
        lambda: cache.replace(bad, b"v"),
        lambda: cache.cas(bad, b"v", 1),
        lambda: cache.delete(bad),
        lambda: cache.incr(bad),
        lambda: cache.decr(bad),
        lambda: cache.get_many([bad]),
        lambda: bad in cache,
        lambda: cache[bad],
    ):
        with pytest.raises(TypeError):
            call()


@pytest.mark.parametrize("bad", ["text", 1, None, 2.0])
def test_bad_value_type(cache, bad):
    with pytest.raises(TypeError):
        cache.set(b"k", bad)
    with pytest.raises(TypeError):
        cache.add(b"k", bad)
    with pytest.raises(TypeError):
        cache[b"k"] = bad
    assert cache.get(b"k") is None  # nothing was stored


def test_large_value_grows_the_buffer(cache):
    # Bigger than the per-thread buffer's start size: get retries once with
    # the size the library reported.
    for size in (4095, 4096, 4097, 100_000, 900_000):
        value = bytes([size % 251]) * size
        cache.set(b"big", value)
        assert cache.get(b"big") == value
        assert cache.gets(b"big")[0] == value
        assert cache.get_many([b"big", b"none"]) == {b"big": value}
    # and small ones still work after the buffer grew
    cache.set(b"small", b"s")
    assert cache.get(b"small") == b"s"


def test_value_over_one_mib_thread_buffer_limit():
    # Values above the per-thread buffer's limit use a one-off buffer.
    with segcache.Cache(heap_bytes=32 << 20, segment_bytes=4 << 20) as c:
        value = b"\xab" * (3 << 20)
        c.set(b"huge", value)
        assert c.get(b"huge") == value
        assert c.gets(b"huge")[0] == value
        assert c.get_many([b"huge"]) == {b"huge": value}


# -- key and value limits ---------------------------------------------------


def test_max_key_length(cache):
    key = b"k" * 255
    cache.set(key, b"v")
    assert cache.get(key) == b"v"


OPS_WITH_KEY = {
    "get": lambda c, k: c.get(k),
    "gets": lambda c, k: c.gets(k),
    "set": lambda c, k: c.set(k, b"v"),
    "add": lambda c, k: c.add(k, b"v"),
    "replace": lambda c, k: c.replace(k, b"v"),
    "cas": lambda c, k: c.cas(k, b"v", 1),
    "delete": lambda c, k: c.delete(k),
    "incr": lambda c, k: c.incr(k),
    "decr": lambda c, k: c.decr(k),
    "contains": lambda c, k: k in c,
    "getitem": lambda c, k: c[k],
    "setitem": lambda c, k: c.__setitem__(k, b"v"),
    "delitem": lambda c, k: c.__delitem__(k),
    "get_many": lambda c, k: c.get_many([b"ok", k]),
    "set_many": lambda c, k: c.set_many({k: b"v"}),
    "delete_many": lambda c, k: c.delete_many([k]),
}


@pytest.mark.parametrize("op", OPS_WITH_KEY)
def test_key_too_large(cache, op):
    with pytest.raises(segcache.KeyTooLarge) as e:
        OPS_WITH_KEY[op](cache, b"k" * 256)
    assert isinstance(e.value, ValueError)
    assert isinstance(e.value, segcache.Error)


@pytest.mark.parametrize("op", OPS_WITH_KEY)
def test_empty_key(cache, op):
    with pytest.raises(ValueError) as e:
        OPS_WITH_KEY[op](cache, b"")
    assert isinstance(e.value, segcache.Error)
    assert "empty key" in str(e.value)


def test_value_too_large():
    with segcache.Cache(heap_bytes=1 << 20, segment_bytes=64 << 10) as c:
        c.set(b"k", b"old")
        with pytest.raises(segcache.ValueTooLarge) as e:
            c.set(b"k", b"x" * (64 << 10))
        assert isinstance(e.value, ValueError)
        assert e.value.status == -5
        assert c.get(b"k") == b"old"  # a failed set loses nothing
        # the largest value that fits: 8-byte header + key + value <= segment
        c.set(b"k", b"x" * ((64 << 10) - 8 - 1))
        assert len(c.get(b"k")) == (64 << 10) - 9


def test_no_space_without_eviction():
    with segcache.Cache(heap_bytes=128 << 10, segment_bytes=64 << 10, eviction="none") as c:
        with pytest.raises(segcache.NoSpace):
            for i in range(10_000):
                c.set(b"key%d" % i, b"v" * 1000)
        assert c.get(b"key0") == b"v" * 1000  # earlier items are intact


# -- add / replace / cas / delete -------------------------------------------


def test_add(cache):
    assert cache.add(b"k", b"first") is True
    assert cache.add(b"k", b"second") is False
    assert cache.get(b"k") == b"first"


def test_replace(cache):
    assert cache.replace(b"k", b"v") is False
    assert cache.get(b"k") is None
    cache.set(b"k", b"v1")
    assert cache.replace(b"k", b"v2") is True
    assert cache.get(b"k") == b"v2"


def test_gets_and_cas(cache):
    assert cache.gets(b"k") is None
    cache.set(b"k", b"v1")
    value, token = cache.gets(b"k")
    assert value == b"v1" and isinstance(token, int)
    assert cache.cas(b"k", b"v2", token) is True
    assert cache.get(b"k") == b"v2"
    # the token is spent: the item changed
    assert cache.cas(b"k", b"v3", token) is False
    assert cache.get(b"k") == b"v2"
    _, token2 = cache.gets(b"k")
    assert token2 != token
    cache.set(b"k", b"v4")  # any write changes the token
    assert cache.cas(b"k", b"v5", token2) is False
    assert cache.cas(b"absent", b"v", token2) is False
    assert cache.get(b"absent") is None


def test_store_returns_the_token_of_what_it_stored(cache):
    t1 = cache.store("add", b"k", b"v1")
    assert t1 == cache.gets(b"k")[1]
    t2 = cache.store("cas", b"k", b"v2", token=t1)  # a chain: no gets between
    t3 = cache.store("cas", "k", bytearray(b"v3"), token=t2)
    assert None not in (t2, t3) and len({t1, t2, t3}) == 3
    assert cache.gets(b"k") == (b"v3", t3)
    assert cache.store("cas", b"k", b"v4", token=t2) is None  # stale
    assert cache.store("add", b"k", b"v4") is None
    assert cache.store("replace", b"absent", b"v4") is None
    assert cache.store("replace", b"k", b"v5", ttl=60) == cache.gets(b"k")[1]
    assert cache.store("set", b"k", b"v6") == cache.gets(b"k")[1]
    assert cache.get(b"k") == b"v6"
    with pytest.raises(ValueError):
        cache.store("append", b"k", b"v")
    with pytest.raises(ValueError):
        cache.store(0, b"k", b"v")
    with pytest.raises(ValueError):
        cache.store("cas", b"k", b"v", token=-1)
    with pytest.raises(TypeError):
        cache.store("set", b"k", "str value")
    with pytest.raises(segcache.KeyTooLarge):
        cache.store("set", b"x" * 256, b"v")
    assert cache.get(b"k") == b"v6"


def test_delete_cas(cache):
    assert cache.delete_cas(b"k", 1) is False
    cache.set(b"k", b"v1")
    _, stale = cache.gets(b"k")
    cache.set(b"k", b"v2")
    assert cache.delete_cas(b"k", stale) is False  # changed since: kept
    assert cache.get(b"k") == b"v2"
    _, token = cache.gets(b"k")
    assert cache.delete_cas("k", token) is True
    assert cache.get(b"k") is None
    assert cache.delete_cas(b"k", token) is False  # gone
    with pytest.raises(ValueError):
        cache.delete_cas(b"k", -1)
    with pytest.raises(TypeError):
        cache.delete_cas(b"k", "1")
    with pytest.raises(TypeError):
        cache.delete_cas(3, 1)
    with pytest.raises(segcache.KeyTooLarge):
        cache.delete_cas(b"x" * 256, 1)


def test_cas_token_validation(cache):
    cache.set(b"k", b"v")
    with pytest.raises(ValueError):
        cache.cas(b"k", b"v", -1)
    with pytest.raises(ValueError):
        cache.cas(b"k", b"v", 1 << 64)
    with pytest.raises(TypeError):
        cache.cas(b"k", b"v", "1")


def test_delete(cache):
    assert cache.delete(b"k") is False
    cache.set(b"k", b"v")
    assert cache.delete(b"k") is True
    assert cache.get(b"k") is None
    assert cache.delete(b"k") is False


# -- numbers ----------------------------------------------------------------


def test_incr_decr(cache):
    cache.set(b"n", b"41")
    assert cache.incr(b"n") == 42
    assert cache.get(b"n") == b"42"
    assert cache.incr(b"n", 100) == 142
    assert cache.decr(b"n") == 141
    assert cache.decr(b"n", 41) == 100
    assert cache.get(b"n") == b"100"


def test_incr_wraps_decr_saturates(cache):
    cache.set(b"n", b"18446744073709551615")  # 2**64 - 1
    assert cache.incr(b"n") == 0
    assert cache.incr(b"n", (1 << 64) - 1) == (1 << 64) - 1
    cache.set(b"m", b"5")
    assert cache.decr(b"m", 10) == 0
    assert cache.get(b"m") == b"0"


def test_incr_absent_is_keyerror(cache):
    with pytest.raises(KeyError) as e:
        cache.incr(b"nope")
    assert e.value.args[0] == b"nope"
    with pytest.raises(KeyError):
        cache.decr("nope")


@pytest.mark.parametrize("value", [b"abc", b"-1", b"007", b"", b"1.5", b" 1",
                                   b"18446744073709551616"])
def test_incr_not_numeric(cache, value):
    cache.set(b"n", value)
    with pytest.raises(segcache.NotNumeric) as e:
        cache.incr(b"n")
    assert isinstance(e.value, ValueError)
    with pytest.raises(segcache.NotNumeric):
        cache.decr(b"n")
    assert cache.get(b"n") == value  # unchanged


def test_incr_delta_validation(cache):
    cache.set(b"n", b"1")
    for bad in (-1, 1 << 64):
        with pytest.raises(ValueError):
            cache.incr(b"n", bad)
        with pytest.raises(ValueError):
            cache.decr(b"n", bad)
    with pytest.raises(TypeError):
        cache.incr(b"n", 1.0)
    assert cache.get(b"n") == b"1"


# -- batches ----------------------------------------------------------------


def test_get_many(cache):
    for i in range(100):
        cache.set(b"k%d" % i, b"v%d" % i)
    keys = [b"k%d" % i for i in range(0, 200, 2)]
    got = cache.get_many(keys)
    assert got == {b"k%d" % i: b"v%d" % i for i in range(0, 100, 2)}
    assert cache.get_many([]) == {}
    assert cache.get_many(iter([b"k1", "k2"])) == {b"k1": b"v1", b"k2": b"v2"}
    assert cache.get_many([b"k1", b"k1"]) == {b"k1": b"v1"}


def test_get_many_leaves_the_references_of_its_keys_as_they_were(cache):
    # get_many holds its keys while the GIL is released: by a reference of
    # its own for a small list or tuple of bytes, by a converted copy of the
    # sequence otherwise. Either way, every reference is given back.
    import sys

    keys = [b"ref%03d" % i for i in range(80)]
    cache.set_many({k: b"v" + k for k in keys[::2]})
    present = set(keys[::2])
    for name, make, asked in [
        ("list of 64", lambda: keys[:64], keys[:64]),
        ("tuple of 64", lambda: tuple(keys[:64]), keys[:64]),
        ("list of 65", lambda: keys[:65], keys[:65]),
        ("list with a str", lambda: keys[:10] + ["ref012"], keys[:10] + [keys[12]]),
        ("generator", lambda: (k for k in keys[:20]), keys[:20]),
        ("repeated key", lambda: [keys[0]] * 64, [keys[0]]),
    ]:
        want = {k: b"v" + k for k in asked if k in present}
        before = [sys.getrefcount(k) for k in keys]
        got = cache.get_many(make())
        assert got == want, name
        del got
        assert [sys.getrefcount(k) for k in keys] == before, name


def test_get_many_mixed_sizes_and_big_batches(cache):
    values = {b"key%05d" % i: bytes([i % 256]) * (i * 37 % 5000) for i in range(6000)}
    cache.set_many(values)
    keys = list(values) + [b"missing%d" % i for i in range(100)]
    assert cache.get_many(keys) == values  # one C call, buffers for this call only
    assert cache.get_many(keys[:64]) == {k: values[k] for k in keys[:64]}


def test_get_many_key_layouts_and_slot_sizes(cache):
    # get_many reuses its address arrays for batches of equal-length keys and
    # sizes its value slots from what it has seen: change both under it.
    short = [b"s%02d" % i for i in range(40)]  # 3 bytes
    long_ = [b"long%04d" % i for i in range(40)]  # 8 bytes
    mixed = short[:20] + long_[:20]
    want = {}
    for i, k in enumerate(short + long_):
        want[k] = b"%d" % i
    cache.set_many(want)
    for batch in (short, long_, mixed, short, long_[:7], short[:7], mixed[::-1], short):
        assert cache.get_many(batch) == {k: want[k] for k in batch}
    # Big values grow the slots; small values are then copied one by one.
    cache.set(b"s00", b"B" * 12000)
    want[b"s00"] = b"B" * 12000
    for batch in (short, short, long_, mixed):
        assert cache.get_many(batch) == {k: want[k] for k in batch}
    # Keys as wide as allowed, and one of each width from 1 to 255.
    wide = [bytes([65 + i % 26]) * w for i, w in enumerate(range(1, 256))]
    cache.set_many((k, k[:3]) for k in wide)
    assert cache.get_many(wide) == {k: k[:3] for k in wide}


def test_set_many_and_delete_many(cache):
    cache.set_many({b"a": b"1", "b": bytearray(b"2")})
    cache.set_many([(b"c", b"3"), (b"a", b"4")])  # later pairs win
    assert cache.get_many([b"a", b"b", b"c"]) == {b"a": b"4", b"b": b"2", b"c": b"3"}
    assert cache.delete_many([b"a", b"b", b"zz"]) == 2
    assert cache.get_many([b"a", b"b", b"c"]) == {b"c": b"3"}
    assert cache.delete_many([]) == 0
    cache.set_many({})


@pytest.mark.parametrize("impl", ["ctypes"], indirect=True)  # the C one has no seam
def test_get_many_is_one_call(cache, monkeypatch):
    from segcache import _cache

    calls = []
    real = _cache._c_rget_multi
    monkeypatch.setattr(_cache, "_c_rget_multi", lambda *a: calls.append(a[1].value) or real(*a))
    cache.set_many({b"k%d" % i: b"v" for i in range(10_000)})
    for n in (1, 64, 4096, 10_000):
        calls.clear()
        got = cache.get_many([b"k%d" % i for i in range(n)])
        assert len(got) == n
        assert calls == [n]


def test_delete_many_partial_failure_deletes_the_rest(cache):
    cache.set_many({b"a": b"1", b"b": b"2"})
    with pytest.raises(segcache.KeyTooLarge):
        cache.delete_many([b"a", b"x" * 300, b"b"])
    assert cache.get_many([b"a", b"b"]) == {}


@pytest.mark.parametrize("one_key", ["user:1", b"user:1", bytearray(b"user:1"), memoryview(b"user:1")])
def test_a_single_key_is_not_taken_for_a_batch(cache, one_key):
    # A str or bytes is an iterable of its characters or byte values:
    # delete_many("user:1") deleted the keys "u", "s", "e", ... and
    # get_many("ab") looked up "a" and "b". Both paths refuse it, keeping
    # every item.
    for k in ("u", "s", "e", "r", ":", "1", b"u"):
        cache.set(k, b"v")
    for call in (cache.get_many, cache.delete_many):
        with pytest.raises(TypeError, match="keys must be an iterable of keys, not a single key"):
            call(one_key)
    assert len(cache.get_many(["u", "s", "e", "r", ":", "1"])) == 6


@pytest.mark.parametrize("items,exc,message", [
    (lambda: [(b"a", b"1"), (b"b",)], ValueError, "got 1 values"),
    (lambda: [(b"a", b"1"), [b"b", b"2", b"3"]], ValueError, "got 3 values"),
    # A str or bytes item (a common slip: set_many(["k=v"])) is a
    # sequence of its characters on both paths.
    (lambda: [(b"a", b"1"), "abc"], ValueError, "got 3 values"),
    (lambda: [(b"a", b"1"), b"a"], ValueError, "got 1 values"),
    (lambda: [(b"a", b"1"), 5], TypeError, ""),
    (lambda: (p for p in [(b"a", b"1"), None]), TypeError, ""),
])
def test_set_many_malformed_item_says_the_same_on_both_paths(cache, items, exc, message):
    # The compiled path names the rule; the ctypes one used to let Python's
    # unpacking speak ("not enough values to unpack ...").
    with pytest.raises(exc) as e:
        cache.set_many(items())
    assert str(e.value) == ("set_many: items must be (key, value) pairs"
                            + (", " + message if message else ""))
    assert cache.get(b"a") is None  # refused whole: nothing was stored


def test_set_many_partial_failure_stores_the_rest():
    with segcache.Cache(heap_bytes=1 << 20, segment_bytes=64 << 10) as c:
        with pytest.raises(segcache.ValueTooLarge):
            c.set_many([(b"a", b"1"), (b"big", b"x" * (64 << 10)), (b"c", b"3")])
        assert c.get_many([b"a", b"big", b"c"]) == {b"a": b"1", b"c": b"3"}


# -- ttl and maintenance ----------------------------------------------------


# A ttl is whole seconds: an int, an integral float or a timedelta of whole
# seconds. The library counts whole seconds, so rounding a fractional ttl
# would either serve an item after it (1.5 -> 1) or make it never expire
# (0.5 -> 0): fractional is a ValueError, as is negative; bool a TypeError.
TTL_ACCEPTED = [
    (0, 0), (0.0, 0), (timedelta(0), 0), (60, 60), (60.0, 60),
    (timedelta(minutes=1), 60), (timedelta(days=2), 172800),
    ((1 << 32) - 1, (1 << 32) - 1), (float((1 << 32) - 1), (1 << 32) - 1),
]
TTL_REJECTED = [
    (-1, ValueError), (1 << 32, ValueError), (1.5, ValueError), (0.5, ValueError),
    (-1.0, ValueError), (float("nan"), ValueError), (float("inf"), ValueError),
    (timedelta(seconds=1.5), ValueError), (timedelta(seconds=-1), ValueError),
    (float(1 << 32), ValueError), (False, TypeError), (True, TypeError),
    ("60", TypeError), (None, TypeError), (b"1", TypeError),
]
TTL_WRITES = {
    "set": lambda c, ttl: c.set(b"k", b"v", ttl=ttl),
    "add": lambda c, ttl: c.delete(b"k") and c.add(b"k", b"v", ttl=ttl),
    "replace": lambda c, ttl: c.replace(b"k", b"v", ttl),
    "cas": lambda c, ttl: c.cas(b"k", b"v", c.gets(b"k")[1], ttl=ttl),
    "set_many": lambda c, ttl: c.set_many({b"k": b"v"}, ttl=ttl),
}


@pytest.mark.parametrize("write", TTL_WRITES)
def test_ttl_forms(cache, write):
    from segcache import _cache

    for ttl, seconds in TTL_ACCEPTED:
        assert _cache._ttl(ttl) == seconds, ttl
        cache.set(b"k", b"old")
        TTL_WRITES[write](cache, ttl)
        assert cache.get(b"k") == b"v", (write, ttl)
    for ttl, exc in TTL_REJECTED:
        cache.set(b"k", b"old")
        with pytest.raises(exc) as e:
            TTL_WRITES[write](cache, ttl)
        assert "ttl" in str(e.value), (write, ttl, e.value)
        # Nothing written (add deleted the old value before it refused).
        assert cache.get(b"k") == (None if write == "add" else b"old"), (write, ttl)


def test_ttl_fractional_is_refused_not_rounded(cache):
    with pytest.raises(ValueError, match="whole seconds"):
        cache.set(b"k", b"v", ttl=0.5)
    assert cache.get(b"k") is None


def test_ttl_expires(cache):
    cache.set(b"short", b"v", ttl=1)
    cache.set(b"long", b"v", ttl=3600)
    cache.set(b"forever", b"v")
    assert cache.get(b"short") == b"v"
    # No fixed sleep: poll until the 1 s item is gone (the clock is coarse,
    # so it may take up to ~2 s), with a generous bound for a loaded box.
    deadline = time.monotonic() + 30
    while cache.get(b"short") is not None:
        assert time.monotonic() < deadline, "ttl=1 item still there after 30 s"
        time.sleep(0.05)
    assert b"short" not in cache
    assert cache.replace(b"short", b"x") is False
    assert cache.add(b"short", b"new") is True
    cache.expire()
    assert cache.get(b"long") == b"v"
    assert cache.get(b"forever") == b"v"


def test_clear(cache):
    cache.set_many({b"k%d" % i: b"v" for i in range(100)})
    assert len(cache) == 100
    cache.clear()
    assert len(cache) == 0
    assert cache.get(b"k1") is None
    cache.set(b"k1", b"again")
    assert cache.get(b"k1") == b"again"


def test_stats(cache):
    s0 = cache.stats()
    expected = {
        "items", "item_bytes", "heap_bytes", "hashtable_bytes", "segments_total",
        "segments_free", "gets", "hits", "misses", "sets", "deletes",
        "evicted_items", "expired_items", "evicted_segments", "expired_segments",
    }
    assert expected <= set(s0)
    assert all(isinstance(v, int) for v in s0.values())
    assert s0["heap_bytes"] == 32 << 20
    assert s0["segments_total"] == 32
    for i in range(10):
        cache.set(b"k%d" % i, b"v" * 10)
    cache.get(b"k1")
    cache.get(b"nope")
    cache.delete(b"k2")
    s = cache.stats()
    assert s["items"] == 9
    assert s["item_bytes"] > 0
    assert s["sets"] - s0["sets"] == 10
    assert s["hits"] - s0["hits"] >= 1
    assert s["misses"] - s0["misses"] >= 1
    assert s["deletes"] - s0["deletes"] == 1


# -- mapping protocol -------------------------------------------------------


def test_mapping_protocol(cache):
    assert len(cache) == 0
    cache[b"a"] = b"1"
    cache["b"] = b"2"
    assert cache[b"a"] == b"1"
    assert cache[b"b"] == b"2"
    assert b"a" in cache and "b" in cache and b"c" not in cache
    assert len(cache) == 2
    with pytest.raises(KeyError) as e:
        cache[b"c"]
    assert e.value.args[0] == b"c"
    del cache[b"a"]
    assert b"a" not in cache
    with pytest.raises(KeyError):
        del cache[b"a"]
    assert len(cache) == 1


def test_not_iterable(cache):
    with pytest.raises(TypeError):
        iter(cache)
    with pytest.raises(TypeError):
        list(cache)


# -- lifecycle --------------------------------------------------------------


def test_context_manager_and_close():
    with segcache.Cache(heap_bytes=4 << 20) as c:
        c.set(b"k", b"v")
        assert not c.closed
    assert c.closed
    c.close()  # idempotent
    c.close()
    for op in (
        lambda: c.get(b"k"),
        lambda: c.gets(b"k"),
        lambda: c.set(b"k", b"v"),
        lambda: c.add(b"k", b"v"),
        lambda: c.replace(b"k", b"v"),
        lambda: c.cas(b"k", b"v", 1),
        lambda: c.delete(b"k"),
        lambda: c.incr(b"k"),
        lambda: c.decr(b"k"),
        lambda: c.get_many([b"k"]),
        lambda: c.set_many({b"k": b"v"}),
        lambda: c.delete_many([b"k"]),
        lambda: c.expire(),
        lambda: c.clear(),
        lambda: c.stats(),
        lambda: len(c),
        lambda: b"k" in c,
        lambda: c[b"k"],
        lambda: c.__setitem__(b"k", b"v"),
        lambda: c.__delitem__(b"k"),
    ):
        with pytest.raises(segcache.Closed):
            op()


def test_empty_batches_on_a_closed_cache_raise_closed():
    # "Any call on a closed cache raises Closed": an empty batch has no key
    # to look up, but it still names the cache, as on an open one it still
    # checks it (and in a forked child it raises ForkError on both paths).
    c = segcache.Cache(heap_bytes=1 << 20, segment_bytes=64 << 10)
    assert c.get_many([]) == {}
    assert c.set_many({}) is None
    assert c.delete_many([]) == 0
    c.close()
    for op in (
        lambda: c.get_many([]),
        lambda: c.get_many(iter(())),
        lambda: c.set_many({}),
        lambda: c.set_many([], ttl=5),
        lambda: c.delete_many([]),
    ):
        with pytest.raises(segcache.Closed):
            op()


def test_context_manager_closes_on_error():
    with pytest.raises(RuntimeError):
        with segcache.Cache(heap_bytes=4 << 20) as c:
            raise RuntimeError("boom")
    assert c.closed


def test_many_caches_are_independent():
    caches = [segcache.Cache(heap_bytes=2 << 20, segment_bytes=64 << 10) for _ in range(4)]
    try:
        for i, c in enumerate(caches):
            c.set(b"k", b"%d" % i)
        assert [c.get(b"k") for c in caches] == [b"0", b"1", b"2", b"3"]
        caches[1].close()
        assert caches[2].get(b"k") == b"2"
    finally:
        for c in caches:
            c.close()


def test_garbage_collected_cache_is_closed():
    import gc
    import weakref

    c = segcache.Cache(heap_bytes=2 << 20, segment_bytes=64 << 10)
    c.set(b"k", b"v")
    handle = c._h.value
    ref = weakref.ref(c)
    del c
    gc.collect()
    assert ref() is None
    # The finalizer closed the handle: closing it again is EBADHANDLE.
    close = segcache._lib.load().fn["segcache_close"]
    assert close(handle) == -8


def test_init_again_closes_the_first_cache():
    close = segcache._lib.load().fn["segcache_close"]
    c = segcache.Cache(heap_bytes=2 << 20, segment_bytes=64 << 10)
    c.set(b"k", b"v")
    first = c._h.value
    c.__init__(heap_bytes=2 << 20, segment_bytes=64 << 10)
    assert close(first) == -8  # EBADHANDLE: the second __init__ closed it
    assert c.get(b"k") is None  # a new, empty cache
    c.set(b"k", b"w")
    assert c.get(b"k") == b"w"
    second = c._h.value
    # A second __init__ that fails still closes the first cache, and leaves
    # the object closed.
    with pytest.raises(ValueError):
        c.__init__(eviction="no-such-policy")
    assert close(second) == -8
    assert c.closed
    with pytest.raises(segcache.Closed):
        c.get(b"k")


def test_not_picklable(cache):
    with pytest.raises(TypeError):
        pickle.dumps(cache)


def test_errors_pickle_with_status():
    e = segcache.NoSpace("full", -6)
    e2 = pickle.loads(pickle.dumps(e))
    assert type(e2) is segcache.NoSpace and e2.status == -6 and str(e2) == "full"


def test_repr(cache):
    assert "open" in repr(cache)
    cache.close()
    assert "closed" in repr(cache)


# -- options ----------------------------------------------------------------


@pytest.mark.parametrize("policy", segcache.EVICTIONS)
def test_every_eviction_policy_opens_and_works(policy):
    with segcache.Cache(heap_bytes=1 << 20, segment_bytes=64 << 10, eviction=policy) as c:
        assert c.options["eviction"] == segcache.EVICTIONS.index(policy)
        c.set(b"k", b"v")
        assert c.get(b"k") == b"v"


def test_eviction_keeps_writes_working():
    # A cache far smaller than what is written: the default policy (s3fifo)
    # makes room, so every set succeeds and recent keys are readable.
    with segcache.Cache(heap_bytes=512 << 10, segment_bytes=64 << 10) as c:
        for i in range(20_000):
            c.set(b"key%08d" % i, b"v" * 100)
        assert c.get(b"key%08d" % 19_999) == b"v" * 100
        s = c.stats()
        assert s["items"] < 20_000
        assert s["evicted_items"] + s.get("merged_segments", 0) > 0


def test_stats_report_table_growth():
    # A 16-slot initial table and 5,000 small items: the table doubles
    # (at least 9 times to hold them), the stats say so, every item stays
    # readable, and the segments retired to pay for the table keep the
    # memory within the heap plus the larger of the initial table and a
    # segment.
    with segcache.Cache(heap_bytes=1 << 20, segment_bytes=64 << 10, hash_power=4,
                        eviction="none") as c:
        s0 = c.stats()
        assert s0["hashtable_bytes"] == 8 << 4
        assert s0["hashtable_growths"] == 0 and s0["segments_retired"] == 0
        for i in range(5000):
            c.set(b"g%06d" % i, b"v%d" % i)
        s = c.stats()
        assert s["items"] == 5000
        assert all(c.get(b"g%06d" % i) == b"v%d" % i for i in range(5000))
        assert s["hashtable_growths"] >= 9
        assert s["hashtable_bytes"] == (8 << 4) << s["hashtable_growths"]
        in_use = (s["segments_total"] - s["segments_retired"]) * (64 << 10)
        assert in_use + s["hashtable_bytes"] <= s["heap_bytes"] + (64 << 10)
        assert s["segments_free"] + s["segments_retired"] <= s["segments_total"]


def test_options_are_applied():
    with segcache.Cache(
        heap_bytes=4 << 20,
        segment_bytes=128 << 10,
        hash_power=12,
        eviction="merge",
        merge_max=6,
        merge_target=3,
        merge_compact=2,
    ) as c:
        o = c.options
        assert (o["heap_bytes"], o["segment_bytes"], o["hash_power"]) == (4 << 20, 128 << 10, 12)
        assert (o["merge_max"], o["merge_target"], o["merge_compact"]) == (6, 3, 2)
        assert c.stats()["segments_total"] == 32
    with segcache.Cache(heap_bytes=4 << 20, eviction="s3fifo", s3fifo_admission_ratio=0.25) as c:
        assert c.options["s3fifo_admission_ratio"] == 0.25
        assert c.options["eviction"] == 7
    # merge_target left at its default follows merge_max, as in Go.
    with segcache.Cache(heap_bytes=4 << 20, eviction="merge", merge_max=2) as c:
        assert (c.options["merge_max"], c.options["merge_target"]) == (2, 0)
        c[b"k"] = b"v"
        assert c[b"k"] == b"v"


def test_default_options():
    with segcache.Cache() as c:
        o = c.options
        assert o["heap_bytes"] == 64 << 20
        assert o["segment_bytes"] == 1 << 20
        assert o["eviction"] == segcache.EVICTIONS.index("s3fifo")
        assert o["prefault"] is False


def test_zero_options_report_the_defaults_they_mean():
    # The header: 0 in these fields means "the default". A cache opened with
    # them is the default cache, and options (defaults filled in) says so
    # rather than reporting segment_bytes 0 for 1 MiB segments.
    zeros = dict(heap_bytes=0, segment_bytes=0, merge_max=0, merge_target=0,
                 s3fifo_admission_ratio=0.0)
    with segcache.Cache(**zeros) as c, segcache.Cache() as d:
        assert c.options == d.options
        assert c.options["segment_bytes"] == 1 << 20
        assert c.options["heap_bytes"] == 64 << 20
        assert c.stats()["heap_bytes"] == d.stats()["heap_bytes"]


def _resident_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) << 10
    raise AssertionError("no VmRSS in /proc/self/status")


# prefault=True makes the heap resident at open; without it a new cache
# costs next to nothing resident. Either way it serves.
@pytest.mark.parametrize("prefault", [False, True])
def test_prefault(prefault):
    heap = 32 << 20
    before = _resident_bytes()
    with segcache.Cache(heap_bytes=heap, prefault=prefault) as c:
        grown = _resident_bytes() - before
        if prefault:
            assert grown >= heap * 9 // 10
        else:
            assert grown < heap // 4
        assert c.options["prefault"] is prefault
        c[b"k"] = b"v"
        assert c[b"k"] == b"v"


def test_eviction_names():
    assert segcache.EVICTIONS == (
        "none", "random", "random_fifo", "fifo", "cte", "util", "merge", "s3fifo",
    )
    with pytest.raises(ValueError) as e:
        segcache.Cache(eviction="lru")
    assert "s3fifo" in str(e.value)
    with pytest.raises(TypeError):
        segcache.Cache(eviction=3)
    with segcache.Cache(heap_bytes=1 << 20, segment_bytes=64 << 10, eviction="FIFO") as c:
        assert c.options["eviction"] == 3


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(segment_bytes=1000),  # not a multiple of 8
        dict(segment_bytes=1 << 24),  # over 8 MiB
        dict(heap_bytes=1 << 20, segment_bytes=1 << 20),  # fewer than 2 segments
        dict(s3fifo_admission_ratio=0.95),
    ],
)
def test_invalid_options(kwargs):
    with pytest.raises(ValueError):
        segcache.Cache(**kwargs)


@pytest.mark.parametrize(
    "kwargs,exc",
    [
        (dict(heap_bytes=-1), ValueError),
        (dict(segment_bytes=-8), ValueError),
        (dict(segment_bytes=1 << 32), ValueError),
        (dict(merge_max=-1), ValueError),
        (dict(heap_bytes="big"), TypeError),
        (dict(heap_bytes=1.5), TypeError),
        (dict(s3fifo_admission_ratio="0.5"), TypeError),
        (dict(s3fifo_admission_ratio=1.0), ValueError),
        (dict(prefault=1), TypeError),
        (dict(prefault="yes"), TypeError),
    ],
)
def test_option_types_and_ranges(kwargs, exc):
    with pytest.raises(exc):
        segcache.Cache(**kwargs)


def test_options_are_keyword_only():
    with pytest.raises(TypeError):
        segcache.Cache(64 << 20)


def test_library_info():
    assert segcache.library_version()[0] == 0
    assert segcache.library_path().endswith("libsegcache.so")
    assert segcache.set_max_procs(0) >= 1
    prev = segcache.set_max_procs(1)
    assert segcache.set_max_procs(prev) == 1


# The library reports a refused option only as SEGCACHE_EINVAL; the binding
# names the field and the rule it broke.
@pytest.mark.parametrize("opts,message", [
    (dict(merge_max=2, merge_target=4), "merge_target 4 > merge_max 2"),
    (dict(merge_target=1), "merge_target 1 below 2"),
    (dict(merge_max=65), "merge_max 65 outside [2, 64]"),
    (dict(merge_max=8, merge_target=9), "merge_target 9 > merge_max 8"),
    (dict(merge_compact=65), "merge_compact 65 outside [0, 64]"),
    (dict(segment_bytes=4100), "segment_bytes 4100"),
    (dict(heap_bytes=64 << 10, segment_bytes=64 << 10), "fewer than 2 segments"),
    (dict(heap_bytes=1 << 20, segment_bytes=64 << 10, hash_power=20),
     "hash_power 20 maps a 8388608-byte table, larger than the 1048576-byte heap"),
    (dict(s3fifo_admission_ratio=0.95), "s3fifo_admission_ratio"),
    # The library takes hash_power in [4, 29] and heap_bytes of at most
    # 2**18-1 segments. Explaining a refused hash_power must not compute
    # 8 << hash_power first: for hash_power 20000 that number is too long
    # for str() (a plain ValueError instead of InvalidArgument), and for
    # 2**32-1 it is a 512 MiB integer.
    (dict(hash_power=3), "hash_power 3 outside [4, 29]"),
    (dict(hash_power=30), "hash_power 30 outside [4, 29]"),
    (dict(hash_power=20000), "hash_power 20000 outside [4, 29]"),
    (dict(hash_power=(1 << 32) - 1), "hash_power 4294967295 outside [4, 29]"),
    (dict(heap_bytes=1 << 63, segment_bytes=4096), "needs more than 262143 segments"),
    # 0 in heap_bytes, segment_bytes or merge_max means the library's
    # default (64 MiB, 1 MiB, 8): the explanation of a refused option must
    # blame the field that broke a rule, not a 0 that the library accepted.
    (dict(segment_bytes=0, merge_target=1), "merge_target 1 below 2"),
    (dict(heap_bytes=0, merge_compact=65), "merge_compact 65 outside [0, 64]"),
    (dict(merge_max=0, merge_target=9), "merge_target 9 > merge_max 8"),
    (dict(heap_bytes=0, segment_bytes=8 << 20, hash_power=24),
     "hash_power 24 maps a 134217728-byte table, larger than the 67108864-byte heap"),
])
def test_invalid_options_name_the_field(opts, message):
    with pytest.raises(segcache.InvalidArgument) as e:
        segcache.Cache(**opts).close()
    assert message in str(e.value)
    assert e.value.status == -7


def test_set_max_procs_above_the_limit_is_refused():
    prev = segcache.set_max_procs(0)
    # 1 << 20, and the values that once crashed or bloated the host.
    for n in (1 << 20, 2147483647, 100000, 10000):
        with pytest.raises(segcache.InvalidArgument, match="set_max_procs"):
            segcache.set_max_procs(n)
        assert segcache.set_max_procs(0) == prev  # nothing changed


def test_eforked_status_is_fork_error():
    from segcache import _errors

    e = _errors.error_for(-11, b"k", "get")
    assert type(e) is segcache.ForkError and e.status == -11
    assert "fork" in str(e) and "spawn" in str(e)


def test_get_many_of_a_value_over_its_slot_makes_one_retry(cache):
    # Every call into the library is a lookup in the cache's counters and an
    # access its eviction sees, a too-small buffer included. A value larger
    # than get_many's slot (and than a single get's first buffer) costs the
    # batch's lookup and one retry of the size the batch reported: it used
    # to go through get, which tried its own smaller buffer first.
    big = bytes(range(256)) * 80  # 20,480 bytes: over every first buffer
    cache.set(b"big", big)
    cache.set(b"small", b"s")
    for _ in range(2):  # the slot does not grow past such a value
        before = cache.stats()
        assert cache.get_many([b"big", b"small", b"absent"]) == {b"big": big, b"small": b"s"}
        after = cache.stats()
        assert {k: after[k] - before[k] for k in ("gets", "hits", "misses")} == {
            "gets": 4, "hits": 3, "misses": 1,
        }
