"""ABI drift check: the binding's declarations against include/segcache.h.

The header is the contract; the binding restates it in ctypes. These tests
parse the header and compare statuses, enum values, struct layouts and
function prototypes, so that a change on either side fails here rather
than corrupting memory at run time.
"""

from __future__ import annotations

import ctypes
import re

import pytest

import segcache
from segcache import _errors, _lib
from conftest import REPO

# Not about the hot methods: run once, with the default implementation.
IMPL_INDEPENDENT = True

HEADER = (REPO / "include" / "segcache.h").read_text()
CODE = re.sub(r"/\*.*?\*/", " ", HEADER, flags=re.S)  # without comments

C_TYPES = {
    "uint32_t": ctypes.c_uint32,
    "int32_t": ctypes.c_int32,
    "uint64_t": ctypes.c_uint64,
    "segcache_t": ctypes.c_uint64,
    "size_t": ctypes.c_size_t,
    "int": ctypes.c_int,
    "double": ctypes.c_double,
    "void": None,
}


def define(name: str) -> int:
    m = re.search(rf"#define\s+{name}\s+\(?\s*(-?\d+)u?\s*\)?", CODE)
    assert m, f"{name} not in the header"
    return int(m.group(1))


def test_statuses_match():
    for status, name in _errors.STATUS_NAMES.items():
        assert define(name) == status, name
    in_header = set(re.findall(r"#define\s+(SEGCACHE_E[A-Z]+|SEGCACHE_OK)\b", CODE))
    assert in_header == set(_errors.STATUS_NAMES.values())


def test_version_matches():
    assert define("SEGCACHE_VERSION_MAJOR") == _lib.ABI_MAJOR
    header_version = ".".join(
        str(define(f"SEGCACHE_VERSION_{p}")) for p in ("MAJOR", "MINOR", "PATCH")
    )
    assert segcache.__version__ == header_version
    assert segcache.library_version() == tuple(map(int, header_version.split(".")))


def test_eviction_enum_matches():
    body = re.search(r"enum\s+segcache_eviction\s*\{(.*?)\}", CODE, re.S).group(1)
    values = {
        name.lower(): int(v)
        for name, v in re.findall(r"SEGCACHE_EVICT_(\w+)\s*=\s*(\d+)", body)
    }
    assert values == _lib.EVICTIONS


def struct_fields(name: str) -> list[tuple[str, type]]:
    body = re.search(rf"typedef\s+struct\s+{name}\s*\{{(.*?)\}}\s*{name}\s*;", CODE, re.S)
    assert body, f"struct {name} not in the header"
    fields = []
    for decl in body.group(1).split(";"):
        decl = decl.strip()
        if not decl:
            continue
        ctype, names = decl.split(None, 1)
        for n in names.split(","):
            fields.append((n.strip(), C_TYPES[ctype]))
    return fields


@pytest.mark.parametrize("name,cls", [("segcache_options", _lib.Options),
                                      ("segcache_stats", _lib.Stats)])
def test_struct_layout_matches(name, cls):
    assert struct_fields(name) == list(cls._fields_)


def test_struct_min_sizes():
    assert define("SEGCACHE_OPTIONS_MIN_SIZE") == _lib.Options.eviction.offset + 4
    assert define("SEGCACHE_STATS_MIN_SIZE") == _lib.Stats.expired_segments.offset + 8


def prototypes() -> dict[str, tuple[str, list[str]]]:
    out = {}
    for ret, name, params in re.findall(
        r"SEGCACHE_API\s+([\w\s\*]+?)\s*\b(segcache_\w+)\s*\(([^)]*)\)\s*;", CODE
    ):
        params = [p.strip() for p in params.split(",")]
        if params == ["void"]:
            params = []
        out[name] = (ret.strip(), params)
    return out


def c_param_type(decl: str):
    """('pointer', None) for any pointer, else the ctypes type."""
    if "*" in decl:
        return "pointer"
    words = decl.replace("const", "").split()
    return C_TYPES[words[0]]


def py_param_type(t):
    if t in (ctypes.c_void_p, ctypes.c_char_p) or (
        isinstance(t, type) and issubclass(t, ctypes._Pointer)
    ):
        return "pointer"
    return t


def test_every_declared_function_matches_its_prototype():
    protos = prototypes()
    declared = {**_lib._SIGNATURES, **_lib._OPTIONAL_SIGNATURES}
    for name, (restype, argtypes) in declared.items():
        assert name in protos, f"{name} is not in the header"
        ret, params = protos[name]
        assert len(params) == len(argtypes), name
        for decl, t in zip(params, argtypes):
            want = c_param_type(decl)
            got = py_param_type(t)
            if want is not got and not (
                want is not None and got is not None and want != "pointer"
                and got != "pointer" and ctypes.sizeof(want) == ctypes.sizeof(got)
                and want.__name__ == got.__name__
            ):
                raise AssertionError(f"{name}: parameter {decl!r} declared as {t}")
        if "*" in ret:
            assert restype in (ctypes.c_char_p, ctypes.c_void_p), name
        else:
            assert restype is C_TYPES[ret.split()[-1]], name


def test_binding_covers_the_whole_header():
    declared = set(_lib._SIGNATURES) | set(_lib._OPTIONAL_SIGNATURES)
    assert set(prototypes()) == declared
