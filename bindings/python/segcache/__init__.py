"""segcache: the Segcache key-value cache (NSDI'21) for Python.

A binding to libsegcache.so: a compiled extension (segcache._speedups) for
the hot methods when it was built, over ctypes (standard library only)
otherwise; segcache.FAST says which one segcache.Cache is::

    import segcache
    with segcache.Cache(heap_bytes=64 << 20, eviction="merge") as c:
        c.set(b"k", b"v", ttl=60)
        c.get(b"k")          # b"v"
        c[b"n"] = b"41"; c.incr(b"n")   # 42

The library is found through the SEGCACHE_LIBRARY environment variable (a
path), next to this package, or in the repository's build/ directory.
SEGCACHE_SPEEDUPS=0 makes Cache the ctypes implementation even when the
extension is built; SEGCACHE_SPEEDUPS=1 makes import fail without it.

The library embeds a Go runtime, which does not survive fork(): a process
forked after the library was loaded gets segcache.ForkError on any use.
multiprocessing must use the "spawn" or "forkserver" start method.
"""

from __future__ import annotations

import os as _os

from ._cache import CtypesCache
from ._fast import SPEEDUPS_ERROR, FastCache
from ._errors import (
    Closed,
    Error,
    Exists,
    ForkError,
    InternalError,
    InvalidArgument,
    KeyTooLarge,
    LibraryError,
    NoMemory,
    NoSpace,
    NotFound,
    NotNumeric,
    ValueTooLarge,
)
from ._errors import error_for as _error_for
from ._lib import EVICTIONS as _EVICTIONS
from ._lib import candidates as _candidates
from ._lib import load as _load

__version__ = "0.1.0"

_want = _os.environ.get("SEGCACHE_SPEEDUPS", "")
if _want == "1" and FastCache is None:
    raise ImportError(f"SEGCACHE_SPEEDUPS=1 but {SPEEDUPS_ERROR}")

#: The cache class: FastCache (compiled hot methods) when the extension is
#: built and SEGCACHE_SPEEDUPS is not "0", else CtypesCache. Both have the
#: same API, semantics and exceptions.
Cache = FastCache if FastCache is not None and _want != "0" else CtypesCache

#: True when Cache is the compiled implementation.
FAST = Cache is FastCache

#: Eviction policy names accepted by Cache(eviction=...).
EVICTIONS = tuple(_EVICTIONS)

#: Longest key, in bytes.
MAX_KEY_LEN = 255


def library_path() -> str:
    """Loads the library if needed and returns the path it was loaded from."""
    return _load().path


def library_version() -> tuple[int, int, int]:
    """(major, minor, patch) of the loaded library (loads it if needed)."""
    return _load().version


def set_max_procs(n: int) -> int:
    """Sets how many threads may run library code at once (Go's GOMAXPROCS)
    and returns the previous value; n < 1 only returns the current value.
    The Go runtime reads the GOMAXPROCS environment variable only when the
    library is loaded, and from the environment the process started with
    (os.environ set before the first Cache is not seen), so this call is
    the way to tune it. n may
    be at most max(256, 4 x the CPUs); above, InvalidArgument."""
    lib = _load()
    fn = lib.fn.get("segcache_set_max_procs")
    if fn is None:
        raise LibraryError(f"{lib.path} has no segcache_set_max_procs")
    if type(n) is not int:
        raise TypeError(f"n must be an int, not {type(n).__name__}")
    # Clamped into a C int; the library refuses anything above its limit.
    rc = fn(max(min(n, (1 << 31) - 1), -1))
    if rc < 0:
        raise _error_for(rc, None, f"set_max_procs({n})")
    return rc


def library_candidates() -> list[str]:
    """The paths the library is looked for at, in order."""
    return _candidates()


__all__ = [
    "Cache",
    "CtypesCache",
    "FAST",
    "FastCache",
    "SPEEDUPS_ERROR",
    "Closed",
    "Error",
    "EVICTIONS",
    "Exists",
    "ForkError",
    "InternalError",
    "InvalidArgument",
    "KeyTooLarge",
    "LibraryError",
    "MAX_KEY_LEN",
    "NoMemory",
    "NoSpace",
    "NotFound",
    "NotNumeric",
    "ValueTooLarge",
    "library_candidates",
    "library_path",
    "library_version",
    "set_max_procs",
]
