"""The compiled path: segcache.Cache with the hot methods of _speedups.

FastCache takes the per-item methods (get, gets, set, add, replace, cas,
delete, incr, decr), get_many, set_many and the mapping protocol from the
C extension segcache._speedups, and everything else from
the ctypes implementation (CacheBase). When the extension is not built
(no C compiler at install time), FastCache is None and SPEEDUPS_ERROR says
why; segcache.Cache is then the ctypes implementation.
"""

from __future__ import annotations

from . import _cache, _lib
from ._errors import error_for

try:
    from . import _speedups
except ImportError as e:  # not built: the ctypes path serves
    _speedups = None
    SPEEDUPS_ERROR: str | None = f"segcache._speedups is not built ({e})"
else:
    SPEEDUPS_ERROR = None


def _configure(lib: _lib.Library) -> None:
    # The extension resolves the C functions from the library ctypes loaded
    # (its dlopen handle), and raises through the ctypes path's helpers.
    _speedups.configure(
        lib.dll._handle,
        error_for,
        _cache._check_key,
        _cache._as_key,
        _cache._as_value,
        _cache._ttl,
        _cache._u64,
        _lib.fork_error,
    )


if _speedups is not None:
    _cache.on_bind(_configure)
    _lib.on_fork_child(_speedups._mark_forked)

    class FastCache(_speedups.CacheCore, _cache.CacheBase):
        __doc__ = _cache.CacheBase.__doc__ + """
        This is the compiled implementation (segcache.FAST is True when it is
        the default): single operations hold the GIL (a library call is
        shorter than releasing and retaking it), batches release it.
        """

        __slots__ = ("_h", "_finalizer", "_opts", "__weakref__")

else:
    FastCache = None
