"""ABI drift check: the binding's declarations against the C ABI.

The C ABI is described by include/segcache.abi.json, generated from capi
with include/segcache.h (make check-header proves the two current and in
agreement, down to every struct offset). The binding restates the ABI in
ctypes; these tests compare statuses and their strerror texts, the
eviction enum, struct fields with their offsets and sizes, and function
prototypes, so that a change on either side fails here rather than
corrupting memory at run time.
"""

from __future__ import annotations

import ctypes
import json
import os

import pytest

import segcache
from segcache import _errors, _lib
from conftest import REPO

# Not about the hot methods: run once, with the default implementation.
IMPL_INDEPENDENT = True

ABI = json.loads((REPO / "include" / "segcache.abi.json").read_text())

# The ctypes type of each C base type the ABI uses.
C_TYPES = {
    "uint32_t": ctypes.c_uint32,
    "int32_t": ctypes.c_int32,
    "uint64_t": ctypes.c_uint64,
    "segcache_t": ctypes.c_uint64,
    "size_t": ctypes.c_size_t,
    "int": ctypes.c_int,
    "unsigned int": ctypes.c_uint,
    "double": ctypes.c_double,
}


def constant(name: str) -> int:
    for c in ABI["constants"]:
        if c["name"] == name:
            return c["value"]
    raise AssertionError(f"{name} is not in the ABI description")


def struct(name: str) -> dict:
    for s in ABI["structs"]:
        if s["name"] == name:
            return s
    raise AssertionError(f"struct {name} is not in the ABI description")


def same_scalar(want, got) -> bool:
    """Same C scalar: ctypes aliases (c_uint64 is c_ulong) compare equal,
    and otherwise size, signedness and kind must agree."""
    if want is got:
        return True
    if want is None or got is None:
        return False
    floating = {ctypes.c_double, ctypes.c_float}
    return (
        ctypes.sizeof(want) == ctypes.sizeof(got)
        and (want in floating) == (got in floating)
        and (want in floating or (want(-1).value < 0) == (got(-1).value < 0))
    )


def test_description_is_not_empty():
    assert ABI["functions"] and ABI["statuses"] and ABI["structs"] and ABI["enums"]


def test_statuses_match():
    want = {s["value"]: s["name"] for s in ABI["statuses"]}
    assert _errors.STATUS_NAMES == want


def test_strerror_texts_match_the_description():
    path = os.environ.get("SEGCACHE_LIBRARY") or str(REPO / "build" / "libsegcache.so")
    dll = ctypes.CDLL(path)
    dll.segcache_strerror.restype = ctypes.c_char_p
    dll.segcache_strerror.argtypes = [ctypes.c_int]
    for s in ABI["statuses"]:
        assert dll.segcache_strerror(s["value"]).decode() == s["message"], s["name"]
    assert dll.segcache_strerror(12345).decode() == ABI["unknown_status_message"]


def test_version_matches():
    v = ABI["version"]
    assert v["major"] == _lib.ABI_MAJOR
    assert segcache.__version__ == f"{v['major']}.{v['minor']}.{v['patch']}"
    assert segcache.library_version() == (v["major"], v["minor"], v["patch"])
    assert v["number"] == v["major"] * 10000 + v["minor"] * 100 + v["patch"]


def test_eviction_enum_matches():
    (enum,) = [e for e in ABI["enums"] if e["name"] == "segcache_eviction"]
    values = {
        v["name"][len("SEGCACHE_EVICT_"):].lower(): v["value"] for v in enum["values"]
    }
    assert values == _lib.EVICTIONS


def test_store_op_enum_matches():
    (enum,) = [e for e in ABI["enums"] if e["name"] == "segcache_store_op"]
    values = {
        v["name"][len("SEGCACHE_STORE_"):].lower(): v["value"] for v in enum["values"]
    }
    assert values == segcache._cache._STORE_OPS


@pytest.mark.parametrize(
    "name,cls",
    [("segcache_options", _lib.Options), ("segcache_stats", _lib.Stats),
     ("segcache_getbuf", _lib.GetBuf)],
)
def test_struct_layout_matches(name, cls):
    s = struct(name)
    want = [(f["name"], f["offset"], f["size"]) for f in s["fields"]]
    got = [(n, getattr(cls, n).offset, getattr(cls, n).size) for n, _ in cls._fields_]
    assert got == want
    for f, (n, t) in zip(s["fields"], cls._fields_):
        if f["type"]["pointers"]:
            assert py_type(t) == "pointer", n
        else:
            assert same_scalar(C_TYPES[f["type"]["base"]], t), n
    assert ctypes.sizeof(cls) == s["size"]
    assert ctypes.alignment(cls) == s["align"]


def test_stats_field_list_matches():
    want = tuple(f["name"] for f in struct("segcache_stats")["fields"] if f["name"] != "size")
    assert _lib.STATS_FIELDS == want


def test_struct_min_sizes():
    # The minimum sizes end at a field boundary of the description.
    assert constant("SEGCACHE_OPTIONS_MIN_SIZE") == _lib.Options.eviction.offset + 4
    assert constant("SEGCACHE_STATS_MIN_SIZE") == _lib.Stats.expired_segments.offset + 8


def ctype_of(t: dict):
    """'pointer' for any pointer, None for void, else the ctypes type."""
    if t["pointers"]:
        return "pointer"
    if t["base"] == "void":
        return None
    return C_TYPES[t["base"]]


def py_type(t):
    if t in (ctypes.c_void_p, ctypes.c_char_p) or (
        isinstance(t, type) and issubclass(t, ctypes._Pointer)
    ):
        return "pointer"
    return t


def test_every_declared_function_matches_its_prototype():
    protos = {f["name"]: f for f in ABI["functions"]}
    declared = {**_lib._SIGNATURES, **_lib._OPTIONAL_SIGNATURES}
    for name, (restype, argtypes) in declared.items():
        assert name in protos, f"{name} is not in the ABI description"
        f = protos[name]
        assert len(f["params"]) == len(argtypes), name
        for p, t in zip(f["params"], argtypes):
            want, got = ctype_of(p["type"]), py_type(t)
            if want == "pointer" or got == "pointer":
                assert want == got, f"{name}: parameter {p['name']} ({p['type']['c']}) declared as {t}"
            else:
                assert same_scalar(want, got), f"{name}: parameter {p['name']} ({p['type']['c']}) declared as {t}"
        want = ctype_of(f["returns"])
        if want == "pointer":
            assert restype in (ctypes.c_char_p, ctypes.c_void_p), name
        else:
            assert same_scalar(want, restype), name


def test_binding_covers_the_whole_abi():
    declared = set(_lib._SIGNATURES) | set(_lib._OPTIONAL_SIGNATURES)
    assert {f["name"] for f in ABI["functions"]} == declared
