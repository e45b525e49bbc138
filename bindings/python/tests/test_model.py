"""Model-based tests: random operation sequences against a dict."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import segcache

U64 = 1 << 64
NUMERIC = re.compile(rb"0|[1-9][0-9]*")

KEYS = st.sampled_from([b"a", b"b", b"key", b"\x00", b"\xff" * 255, "été".encode()])
VALUES = st.one_of(
    st.binary(max_size=300),
    st.integers(min_value=0, max_value=U64 - 1).map(lambda n: b"%d" % n),
    st.sampled_from([b"0", b"007", b"-1", b"18446744073709551616", b"1 "]),
)
DELTAS = st.one_of(st.integers(0, 10), st.integers(0, U64 - 1))


def numeric(v: bytes):
    if NUMERIC.fullmatch(v) and int(v) < U64:
        return int(v)
    return None


class CacheModel(RuleBasedStateMachine):
    @initialize()
    def open(self):
        self.cache = segcache.Cache(heap_bytes=4 << 20, segment_bytes=64 << 10, eviction="none")
        self.model: dict[bytes, bytes] = {}

    def teardown(self):
        if hasattr(self, "cache"):
            self.cache.close()

    @rule(k=KEYS, v=VALUES)
    def set(self, k, v):
        self.cache.set(k, v)
        self.model[k] = v

    @rule(k=KEYS, v=VALUES)
    def add(self, k, v):
        assert self.cache.add(k, v) == (k not in self.model)
        self.model.setdefault(k, v)

    @rule(k=KEYS, v=VALUES)
    def replace(self, k, v):
        assert self.cache.replace(k, v) == (k in self.model)
        if k in self.model:
            self.model[k] = v

    @rule(k=KEYS, v=VALUES, interleave=st.booleans())
    def gets_cas(self, k, v, interleave):
        got = self.cache.gets(k)
        if k not in self.model:
            assert got is None
            assert self.cache.cas(k, v, 12345) is False
            return
        value, token = got
        assert value == self.model[k]
        if interleave:  # another write spends the token
            self.cache.set(k, value)
            assert self.cache.cas(k, v, token) is False
        else:
            assert self.cache.cas(k, v, token) is True
            self.model[k] = v

    @rule(k=KEYS, v=VALUES, op=st.sampled_from(["set", "add", "replace"]), chain=st.booleans())
    def store(self, k, v, op, chain):
        token = self.cache.store(op, k, v)
        stored = op == "set" or (op == "add") == (k not in self.model)
        assert (token is not None) == stored
        if not stored:
            return
        self.model[k] = v
        assert self.cache.gets(k) == (v, token)  # the token of what was stored
        if chain:  # a cas with that token needs no gets in between
            token2 = self.cache.store("cas", k, v + b"!", 0, token)
            assert token2 is not None and token2 != token
            assert self.cache.store("cas", k, v, 0, token) is None  # spent
            self.model[k] = v + b"!"

    @rule(k=KEYS, stale=st.booleans())
    def delete_cas(self, k, stale):
        got = self.cache.gets(k)
        if got is None:
            assert k not in self.model
            assert self.cache.delete_cas(k, 1) is False
            return
        if stale:  # a write in between: nothing is removed
            self.cache.set(k, got[0])
            assert self.cache.delete_cas(k, got[1]) is False
        else:
            assert self.cache.delete_cas(k, got[1]) is True
            del self.model[k]

    @rule(ks=st.lists(KEYS, max_size=6))
    def delete_many(self, ks):
        assert self.cache.delete_many(ks) == len(set(ks) & self.model.keys())
        for k in ks:
            self.model.pop(k, None)

    @rule(k=KEYS)
    def delete(self, k):
        assert self.cache.delete(k) == (k in self.model)
        self.model.pop(k, None)

    @rule(k=KEYS, d=DELTAS, up=st.booleans())
    def incr_decr(self, k, d, up):
        op = self.cache.incr if up else self.cache.decr
        if k not in self.model:
            try:
                op(k, d)
            except KeyError:
                return
            raise AssertionError("incr/decr of an absent key did not raise KeyError")
        n = numeric(self.model[k])
        if n is None:
            try:
                op(k, d)
            except segcache.NotNumeric:
                return
            raise AssertionError(f"incr/decr of {self.model[k]!r} did not raise NotNumeric")
        want = (n + d) % U64 if up else max(n - d, 0)
        assert op(k, d) == want
        self.model[k] = b"%d" % want

    @rule(k=KEYS)
    def get(self, k):
        assert self.cache.get(k) == self.model.get(k)
        assert (k in self.cache) == (k in self.model)

    @rule(ks=st.lists(KEYS, max_size=8))
    def get_many(self, ks):
        assert self.cache.get_many(ks) == {k: self.model[k] for k in ks if k in self.model}

    @rule(items=st.dictionaries(KEYS, VALUES, max_size=4))
    def set_many(self, items):
        self.cache.set_many(items)
        self.model.update(items)

    @precondition(lambda self: len(self.model) > 0)
    @rule()
    def clear(self):
        self.cache.clear()
        self.model.clear()

    @invariant()
    def same_size(self):
        if hasattr(self, "cache"):
            assert len(self.cache) == len(self.model)


CacheModel.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestCacheModel = CacheModel.TestCase


@settings(max_examples=200, deadline=None)
@given(key=st.binary(min_size=1, max_size=255), value=st.binary(max_size=10_000))
def test_any_key_and_value_roundtrip(key, value):
    with segcache.Cache(heap_bytes=1 << 20, segment_bytes=64 << 10) as c:
        c.set(key, value)
        assert c.get(key) == value
        assert c.gets(key)[0] == value
        assert c.get_many([key]) == {key: value}


@settings(max_examples=200, deadline=None)
@given(key=st.text(min_size=1, max_size=60))
def test_str_keys_equal_their_utf8(key):
    with segcache.Cache(heap_bytes=1 << 20, segment_bytes=64 << 10) as c:
        c[key] = b"v"
        assert c.get(key.encode("utf-8")) == b"v"
