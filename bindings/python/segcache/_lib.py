"""Finding, loading and declaring libsegcache.so.

Every C function the binding calls gets its argtypes and restype here, once.
The library is loaded on first use (the first Cache), not at import, so that
``import segcache`` works on a machine without the library (to read the
docs, the version, or to report where it looked).
"""

from __future__ import annotations

import ctypes
import os
import threading
from ctypes import (
    POINTER,
    Structure,
    c_char_p,
    c_double,
    c_int,
    c_int32,
    c_size_t,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path

from . import _errors
from ._errors import ForkError, LibraryError

# The library's major version this package is written for. A library with
# another major version has another ABI and is refused.
ABI_MAJOR = 0

LIBRARY_NAME = "libsegcache.so"
ENV_VAR = "SEGCACHE_LIBRARY"

# enum segcache_eviction, by the names Cache(eviction=...) takes.
EVICTIONS = {
    "none": 0,
    "random": 1,
    "random_fifo": 2,
    "fifo": 3,
    "cte": 4,
    "util": 5,
    "merge": 6,
    "s3fifo": 7,
}


class Options(Structure):
    """struct segcache_options (include/segcache.h), field for field."""

    _fields_ = [
        ("size", c_uint32),
        ("heap_bytes", c_uint64),
        ("segment_bytes", c_uint32),
        ("hash_power", c_uint32),
        ("eviction", c_int32),
        ("merge_max", c_int32),
        ("merge_target", c_int32),
        ("merge_compact", c_int32),
        ("s3fifo_admission_ratio", c_double),
        ("prefault", c_uint32),
    ]


class Stats(Structure):
    """struct segcache_stats (include/segcache.h), field for field."""

    _fields_ = [("size", c_uint32)] + [
        (name, c_uint64)
        for name in (
            "items",
            "item_bytes",
            "heap_bytes",
            "hashtable_bytes",
            "segments_total",
            "segments_free",
            "gets",
            "hits",
            "misses",
            "sets",
            "deletes",
            "evicted_items",
            "expired_items",
            "evicted_segments",
            "expired_segments",
            "merged_segments",
            "promoted_items",
            "hashtable_growths",
            "segments_retired",
        )
    ]


STATS_FIELDS = tuple(name for name, _ in Stats._fields_ if name != "size")


class GetBuf(Structure):
    """struct segcache_getbuf (include/segcache.h), field for field."""

    _fields_ = [
        ("cache", c_uint64),
        ("buf", c_void_p),
        ("cap", c_size_t),
        ("vlen", c_size_t),
        ("cas", c_uint64),
    ]

_u64p = POINTER(c_uint64)
_szp = POINTER(c_size_t)
_H = c_uint64  # segcache_t

# name: (restype, argtypes). Keys and values are c_char_p: ctypes passes a
# bytes object's buffer without copying, and it is never written.
_SIGNATURES = {
    "segcache_version": (c_uint32, []),
    "segcache_strerror": (c_char_p, [c_int]),
    "segcache_options_init": (None, [c_void_p]),
    "segcache_open": (c_int, [c_void_p, _u64p]),
    "segcache_close": (c_int, [_H]),
    "segcache_set": (c_int, [_H, c_char_p, c_size_t, c_char_p, c_size_t, c_uint32]),
    "segcache_add": (c_int, [_H, c_char_p, c_size_t, c_char_p, c_size_t, c_uint32]),
    "segcache_replace": (c_int, [_H, c_char_p, c_size_t, c_char_p, c_size_t, c_uint32]),
    "segcache_cas": (
        c_int,
        [_H, c_char_p, c_size_t, c_char_p, c_size_t, c_uint32, c_uint64],
    ),
    "segcache_get": (c_int, [_H, c_char_p, c_size_t, c_void_p, c_size_t, _szp, _u64p]),
    "segcache_get_buf": (c_int, [c_void_p, c_char_p, c_size_t]),
    "segcache_delete": (c_int, [_H, c_char_p, c_size_t]),
    "segcache_incr": (c_int, [_H, c_char_p, c_size_t, c_uint64, _u64p]),
    "segcache_decr": (c_int, [_H, c_char_p, c_size_t, c_uint64, _u64p]),
    "segcache_expire": (c_int, [_H]),
    "segcache_clear": (c_int, [_H]),
    "segcache_stats_get": (c_int, [_H, c_void_p]),
    # keys, klens, bufs, caps, vlens, statuses: arrays passed as pointers.
    "segcache_get_multi": (
        c_int,
        [_H, c_size_t, c_void_p, c_void_p, c_void_p, c_void_p, c_void_p, c_void_p],
    ),
}

# Functions the binding uses when the loaded library has them (an older
# library may lack them).
_OPTIONAL_SIGNATURES = {
    "segcache_noop": (None, []),  # empty call: the benchmark's floor
    "segcache_set_max_procs": (c_int, [c_int]),
    # keys, klens, vals, vlens, ttls, statuses
    "segcache_set_multi": (
        c_int,
        [_H, c_size_t, c_void_p, c_void_p, c_void_p, c_void_p, c_void_p, c_void_p],
    ),
    # keys, klens, statuses
    "segcache_delete_multi": (c_int, [_H, c_size_t, c_void_p, c_void_p, c_void_p]),
    "segcache_delete_cas": (c_int, [_H, c_char_p, c_size_t, c_uint64]),
    # op, key, klen, val, vlen, ttl, cas, new_cas
    "segcache_store": (
        c_int,
        [_H, c_int, c_char_p, c_size_t, c_char_p, c_size_t, c_uint32, c_uint64, _u64p],
    ),
}


class Library:
    """The loaded library: its path, version and declared functions."""

    def __init__(self, path: str, dll: ctypes.CDLL):
        self.path = path
        self.dll = dll
        self.fn = {}
        for name, (restype, argtypes) in _SIGNATURES.items():
            try:
                f = getattr(dll, name)
            except AttributeError:
                raise LibraryError(
                    f"{path} does not export {name}; is it libsegcache?"
                ) from None
            f.restype = restype
            f.argtypes = argtypes
            self.fn[name] = f
        for name, (restype, argtypes) in _OPTIONAL_SIGNATURES.items():
            f = getattr(dll, name, None)
            if f is not None:
                f.restype = restype
                f.argtypes = argtypes
                self.fn[name] = f
        v = self.fn["segcache_version"]()
        self.version = (v // 10000, v // 100 % 100, v % 100)
        if self.version[0] != ABI_MAJOR:
            raise LibraryError(
                f"{path} is libsegcache {'.'.join(map(str, self.version))}, "
                f"but this segcache package needs major version {ABI_MAJOR}; "
                f"install the matching library or package"
            )
        # Cache the messages now: raising an error must never call into the
        # library (after fork it would hang).
        strerror = self.fn["segcache_strerror"]
        for status in _errors.STATUS_NAMES:
            text = strerror(status)
            if text:
                _errors.MESSAGES[status] = text.decode("utf-8", "replace")


def candidates() -> list[str]:
    """The paths the library is looked for at, in order.

    SEGCACHE_LIBRARY, when set, is the only one: an explicit choice must not
    silently fall back to another build.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        return [env]
    here = Path(__file__).resolve().parent
    return [
        str(here / LIBRARY_NAME),  # copied next to the package (pip install)
        str(here.parents[2] / "build" / LIBRARY_NAME),  # the repo's build dir
    ]


_lock = threading.Lock()
_library: Library | None = None
_load_pid: int | None = None
_forked = False
_fork_listeners = []


def on_fork_child(fn) -> None:
    """Registers fn() to run in a forked child of a process that had loaded
    the library."""
    _fork_listeners.append(fn)


def _after_fork_in_child() -> None:
    global _forked
    if _library is not None:
        _forked = True
        for fn in _fork_listeners:
            fn()


def forked() -> bool:
    """True in a child forked after the library was loaded (checked by pid
    too, for forks that bypass Python's at-fork hooks)."""
    return _forked or (_load_pid is not None and os.getpid() != _load_pid)


def fork_error() -> ForkError:
    return ForkError(
        "segcache cannot be used in a process forked after the library was "
        f"loaded (loaded in pid {_load_pid}, this is pid {os.getpid()}): the "
        "Go runtime inside libsegcache does not survive fork(). Use "
        'multiprocessing.get_context("spawn") or "forkserver", or open '
        "caches only in the child.",
        _errors.EFORKED,
    )


def load() -> Library:
    """Loads and checks the library on first use; later calls return it."""
    global _library, _load_pid
    lib = _library
    if lib is not None:
        if forked():
            raise fork_error()
        return lib
    with _lock:
        if _library is not None:
            return _library
        tried = []
        for path in candidates():
            if not os.path.exists(path):
                tried.append(f"{path} (no such file)")
                continue
            # dlopen() searches LD_LIBRARY_PATH and the system directories
            # for a name without a slash instead of opening that file: an
            # absolute path opens the file that was found here.
            path = os.path.abspath(path)
            try:
                dll = ctypes.CDLL(path)
            except OSError as e:
                tried.append(f"{path} ({e})")
                continue
            lib = Library(path, dll)
            _load_pid = os.getpid()
            if hasattr(os, "register_at_fork"):
                os.register_at_fork(after_in_child=_after_fork_in_child)
            _library = lib
            return lib
        raise LibraryError(
            "libsegcache.so not found; tried:\n  "
            + "\n  ".join(tried)
            + f"\nSet {ENV_VAR} to the library's path, copy it next to the "
            "segcache package, or build it with `make lib` in the repository."
        )
