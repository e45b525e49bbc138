"""The ctypes implementation of segcache.Cache, and what both paths share.

CacheBase holds everything that is not a per-item call (options,
open/close, delete_many, stats, ...). CtypesCache adds the per-item methods
(get, gets, set, add, replace, cas, delete, incr, decr), get_many, set_many
and the mapping protocol over ctypes; segcache._fast.FastCache takes them
from the compiled extension instead.

The ctypes hot paths are written for the cost of a ctypes call: the C
functions are module globals (rebound to a raiser in a forked child, so the
common path carries no fork check), called through function objects
without argtypes with arguments that already are ctypes objects (argtypes
conversion was most of a call's cost), get and gets call segcache_get_buf
(three arguments; the handle, buffer and outputs sit in a struct of a
pooled buffer that grows on SEGCACHE_ERANGE: one C call in the common
case), and get_many makes one segcache_get_multi call for the whole batch.
"""

from __future__ import annotations

import ctypes
import datetime
import threading
import weakref
from ctypes import byref, c_int, c_size_t, c_uint32, c_uint64, c_void_p
from itertools import accumulate

from . import _lib
from ._errors import (
    EEXISTS,
    EINVAL,
    ENOTFOUND,
    ERANGE,
    InvalidArgument,
    KeyTooLarge,
    MAX_KEY_LEN,
    error_for,
)

_U32_MAX = (1 << 32) - 1
_U64_MAX = (1 << 64) - 1

# The ops of CacheBase.store: enum segcache_store_op.
_STORE_OPS = {"set": 0, "add": 1, "replace": 2, "cas": 3}

# get buffers: start here, grow to fit the largest value read, up to
# _BUF_MAX; larger values use a one-off buffer so that one huge read does not
# pin megabytes forever.
_BUF_START = 4096
_BUF_MAX = 1 << 20
# get_many: per-key slot size bounds, and the largest batch whose buffers are
# kept for the next call (bigger ones get buffers for one call).
_SLOT_START = 128
_SLOT_MAX = 1 << 14
_BATCH_MAX = 4096

# Called without argtypes, a C function takes each argument as what it is:
# ctypes objects by their type, bytes as char *, None as NULL, but a Python
# int as a C int. So every length and ttl is passed as a ctypes object; these
# tables hold the c_size_t of every small length and the c_uint32 ttl 0, so
# that the hot paths build no ctypes object per argument per call. They
# spell the lookup out (`_SZ[n] if n < _SMALL else c_size_t(n)`): a helper
# function would cost more than the lookup it saves.
_SMALL = 4096
_SZ = tuple(c_size_t(i) for i in range(_SMALL))
_TTL0 = c_uint32(0)
# incr/decr deltas, likewise (most are small).
_SMALL_U64 = 256
_U64 = tuple(c_uint64(i) for i in range(_SMALL_U64))

# The C functions, bound by _bind() when the first Cache loads the library:
# declared (argtypes) ones, and the hot ones without argtypes (_c_r*).
_c_stats = _c_expire = _c_clear = None
_c_open = _c_close = _c_options_init = None
_c_set_multi = _c_delete_multi = _c_delete_cas = _c_store = None  # None when the library lacks them
_c_rget = _c_rgetb = _c_rset = _c_rdelete = _c_rget_multi = _c_rset_multi = None
_c_radd = _c_rreplace = _c_rcas = _c_rincr = _c_rdecr = None
_bound = False
_bind_lock = threading.Lock()
_bind_listeners = []


def on_bind(fn) -> None:
    """Registers fn(lib) to run once the library is loaded and bound (the
    compiled path resolves its functions then)."""
    _bind_listeners.append(fn)


def _bind(lib: _lib.Library) -> None:
    global _c_stats, _c_expire, _c_clear, _c_open
    global _c_close, _c_options_init, _c_set_multi, _c_delete_multi, _c_delete_cas, _c_store, _bound
    global _c_rget, _c_rgetb, _c_rset, _c_rdelete, _c_rget_multi, _c_rset_multi
    global _c_radd, _c_rreplace, _c_rcas, _c_rincr, _c_rdecr
    f = lib.fn
    _c_stats = f["segcache_stats_get"]
    _c_expire = f["segcache_expire"]
    _c_clear = f["segcache_clear"]
    _c_open = f["segcache_open"]
    _c_close = f["segcache_close"]
    _c_options_init = f["segcache_options_init"]
    _c_set_multi = f.get("segcache_set_multi")
    _c_delete_multi = f.get("segcache_delete_multi")
    _c_delete_cas = f.get("segcache_delete_cas")
    _c_store = f.get("segcache_store")
    # Fresh function objects (indexing a library does not cache them), so
    # the declared ones above keep their argtypes. restype stays int. The
    # single-key ones keep the GIL (PyDLL, the same dlopen handle): the
    # library call is a small part of a ctypes get, so releasing the GIL
    # bought no parallelism and cost a handover per call. Batches release it.
    one = ctypes.PyDLL(lib.path, handle=lib.dll._handle)
    _c_rget = one["segcache_get"]
    _c_rgetb = one["segcache_get_buf"]
    _c_rset = one["segcache_set"]
    _c_rdelete = one["segcache_delete"]
    _c_radd = one["segcache_add"]
    _c_rreplace = one["segcache_replace"]
    _c_rcas = one["segcache_cas"]
    _c_rincr = one["segcache_incr"]
    _c_rdecr = one["segcache_decr"]
    _c_rget_multi = lib.dll["segcache_get_multi"]
    _c_rset_multi = lib.dll["segcache_set_multi"] if _c_set_multi is not None else None
    try:
        for fn in _bind_listeners:
            fn(lib)
    finally:
        # Only now: a Cache opened by another thread must not skip binding
        # while a listener (the compiled path's configure) has not run yet.
        # Also after a listener failed (a library without a symbol the
        # compiled path needs): the ctypes path is bound and keeps working.
        _bound = True


def _ensure_bound(lib: _lib.Library) -> None:
    """Binds once per process; a thread that comes while another binds waits
    for it to finish."""
    if _bound:
        return
    with _bind_lock:
        if not _bound:
            _bind(lib)


def _forked_call(*args):
    raise _lib.fork_error()


def _poison() -> None:
    """In a forked child: every C entry point now raises ForkError instead of
    calling into a Go runtime that lost its threads."""
    g = globals()
    for name in list(g):
        if name.startswith("_c_") and g[name] is not None:
            g[name] = _forked_call


_lib.on_fork_child(_poison)


def _as_key(key) -> bytes:
    """key as exact bytes. A bytes subclass is copied: the callers pass
    len(key) to C beside its buffer, and a subclass may override __len__
    (the buffer protocol gives its real contents)."""
    if type(key) is bytes:
        return key
    if isinstance(key, bytes):
        return bytes(memoryview(key))
    if isinstance(key, str):
        # str.encode, not key.encode: a subclass may override encode() to
        # return anything, and both paths pass the result to C as bytes.
        return str.encode(key, "utf-8")
    if isinstance(key, (bytearray, memoryview)):
        return bytes(key)
    raise TypeError(
        f"segcache keys are bytes, bytearray, memoryview or str, not "
        f"{type(key).__name__}"
    )


def _check_keys(keys, op: str) -> None:
    """Refuses one key given where an iterable of keys is expected: a str
    or bytes is an iterable too, of its characters or byte values, and
    delete_many("user:1") deleted the keys "u", "s", "e", ... The compiled
    get_many says the same (_speedups.c, key_list)."""
    if isinstance(keys, (str, bytes, bytearray, memoryview)):
        raise TypeError(
            f"{op}: keys must be an iterable of keys, not a single key "
            "(str, bytes, bytearray or memoryview)"
        )


def _as_value(value) -> bytes:
    """value as exact bytes (a bytes subclass copied, as in _as_key)."""
    if type(value) is bytes:
        return value
    if isinstance(value, bytes):
        return bytes(memoryview(value))
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(
        f"segcache values are bytes, bytearray or memoryview, not "
        f"{type(value).__name__} (encode str values yourself)"
    )


def _uint(name: str, v, top: int, top_text: str) -> int:
    """v as an int in [0, top], else TypeError (not an integer: bool and
    float are refused) or ValueError (out of range, named by top_text)."""
    if type(v) is not int:
        if isinstance(v, bool) or not hasattr(v, "__index__"):
            raise TypeError(f"{name} must be an int, not {type(v).__name__}")
        v = v.__index__()
    if not 0 <= v <= top:
        raise ValueError(f"{name} must be between 0 and {top_text}, not {v}")
    return v


def _u32(name: str, v) -> int:
    return _uint(name, v, _U32_MAX, str(_U32_MAX))


def _u64(name: str, v) -> int:
    return _uint(name, v, _U64_MAX, "2**64-1")


def _pack(items: list) -> tuple:
    """(pointer array, length array) for a list of bytes: the pointers point
    into one joined copy, which the returned array keeps alive."""
    n = len(items)
    lens = [len(b) for b in items]
    blob = ctypes.create_string_buffer(b"".join(items), max(sum(lens), 1))
    ptrs = (c_void_p * n)(*accumulate(lens[:-1], initial=ctypes.addressof(blob)))
    ptrs._keepalive = blob  # the pointers are only valid while blob lives
    return ptrs, (c_size_t * n)(*lens)


def _check_key(key: bytes) -> None:
    """Raises for a key the library would reject. Used only on the miss
    path, in case the library reports an invalid key as "not found"."""
    if not key:
        raise InvalidArgument("empty key (keys are 1 to 255 bytes)")
    if len(key) > MAX_KEY_LEN:
        raise KeyTooLarge(f"key of {len(key)} bytes is over the {MAX_KEY_LEN}-byte limit")


def _ttl(ttl) -> int:
    """A ttl as the C ABI takes it: whole seconds, 0 = never expires.

    An int, a float with no fractional part, or a datetime.timedelta of
    whole seconds, from 0 to 2**32-1. The library counts whole seconds, and
    rounding would break a promise either way (1.5 rounded down serves the
    item after its ttl; 0.5 rounded down to 0 makes it never expire), so a
    fractional or negative ttl is a ValueError; a bool is a TypeError.
    """
    if type(ttl) is int:
        v = ttl
    elif isinstance(ttl, bool):
        raise TypeError("ttl must be whole seconds (int, float or timedelta), not bool")
    elif isinstance(ttl, float):
        if not ttl.is_integer():
            raise ValueError(f"ttl must be whole seconds, not {ttl!r} (the library counts whole seconds)")
        v = int(ttl)
    elif isinstance(ttl, datetime.timedelta):
        if ttl.microseconds:
            raise ValueError(f"ttl must be whole seconds, not {ttl!r} (the library counts whole seconds)")
        v = ttl.days * 86400 + ttl.seconds
    elif hasattr(ttl, "__index__"):
        v = ttl.__index__()
    else:
        raise TypeError(
            f"ttl must be whole seconds (int, float or timedelta), not {type(ttl).__name__}"
        )
    if not 0 <= v <= _U32_MAX:
        raise ValueError(f"ttl must be between 0 and {_U32_MAX} seconds, not {v}")
    return v


def _c_ttl(ttl) -> c_uint32:
    """_ttl() as the c_uint32 the C functions take."""
    if type(ttl) is int and ttl == 0:
        return _TTL0
    return c_uint32(_ttl(ttl))


class _GetBuf:
    """A get buffer of one cache with its struct segcache_getbuf (the
    cache's handle, the buffer, the outputs), for segcache_get_buf: three
    call arguments instead of segcache_get's seven, which is most of what a
    ctypes call costs. Each cache keeps a pool of them (the handle is in the
    struct), used like _pool below: one call at a time.
    """

    __slots__ = ("req", "reqp", "buf", "cap")

    def __init__(self, h: int):
        self.req = _lib.GetBuf()
        self.req.cache = h
        self.reqp = byref(self.req)
        self.size(_BUF_START)

    def size(self, cap: int) -> None:
        # A c_char array: slicing it makes the result bytes in one step (a
        # memoryview of a bytearray needs two).
        self.cap = cap
        self.buf = (ctypes.c_char * cap)()
        self.req.buf = ctypes.addressof(self.buf)
        self.req.cap = cap


class _Buf:
    """Outputs of single calls and get_many arrays, used by one call at a
    time.

    Calls take one from _pool and put it back when done (list.pop and
    list.append are atomic), so threads never share one, and a call nested
    in the same thread (a signal handler or a finalizer run by the garbage
    collector between the C call's return and the copy-out) takes another
    instead of overwriting the one being read. A buffer lost to an exception
    in between is only garbage: nothing to restore.
    """

    __slots__ = (
        "vlen", "vlenp", "cas", "casp", "bn", "slot", "arena", "amv", "keys", "klens", "bufs", "caps",
        "vlens", "statuses", "vlens_mv", "statuses_mv", "karena", "kview", "kbase", "layout",
    )  # fmt: skip

    def __init__(self):
        self.vlen = c_size_t()
        self.vlenp = byref(self.vlen)
        self.cas = c_uint64()
        self.casp = byref(self.cas)
        self.bn = 0
        self.slot = _SLOT_START
        self.keyspace(4096)

    def batch(self, n: int, slot: int) -> None:
        """Sizes the get_many arrays for n keys of slot bytes each."""
        self.bn = n
        self.slot = slot
        self.arena = bytearray(n * slot)
        self.amv = memoryview(self.arena)  # also pins the buffer: no resize
        base = ctypes.addressof((ctypes.c_char * len(self.arena)).from_buffer(self.arena))
        self.klens = (c_size_t * n)()
        self.bufs = (c_void_p * n)(*range(base, base + n * slot, slot))
        self.caps = (c_size_t * n)(*([slot] * n))
        self.vlens = (c_size_t * n)()
        self.statuses = (c_int * n)()
        # Reading results through memoryviews (.tolist()) is cheaper than
        # slicing the ctypes arrays.
        self.vlens_mv = memoryview(self.vlens).cast("B").cast("N")
        self.statuses_mv = memoryview(self.statuses).cast("B").cast("i")
        self.keys = (c_void_p * n)()
        self.layout = None  # (n, key length) the keys/klens arrays hold

    def keyspace(self, size: int) -> None:
        """Sizes the arena that get_many copies a batch's keys into."""
        self.karena = bytearray(size)
        # The view pins the bytearray (a resize would raise, not move it).
        self.kview = (ctypes.c_char * size).from_buffer(self.karena)
        self.kbase = ctypes.addressof(self.kview)
        self.layout = None


# Free buffers. Its length is the most calls that ever ran at once. The hot
# paths call the bound methods (one lookup less than _pool.pop).
_pool: list = []
_pop, _push = _pool.pop, _pool.append


def _take() -> _Buf:
    try:
        return _pool.pop()
    except IndexError:
        return _Buf()


def _give(b: _Buf) -> None:
    if b.bn <= _BATCH_MAX:
        _pool.append(b)


# The handle of a closed cache: calls with it return SEGCACHE_EBADHANDLE.
_NO_HANDLE = c_uint64(0)


def _close_handle(h: int) -> None:
    """Closes handle h; run once by Cache.close(), garbage collection or
    interpreter exit (weakref.finalize)."""
    if _lib.forked():
        return  # the child's Go runtime is unusable; the parent owns h
    rc = _c_close(h)
    if rc and rc != -8:  # EBADHANDLE: already gone, nothing to report
        raise error_for(rc, None, "close")


# Fields of segcache_options where 0 means the default (the header).
_ZERO_IS_DEFAULT = frozenset(
    ("heap_bytes", "segment_bytes", "merge_max", "merge_target", "s3fifo_admission_ratio")
)

# The library's option limits that _explain_options names (core: MaxSegments,
# hashtable.MinPower and MaxPower).
_MAX_SEGMENTS = (1 << 18) - 1
_HASH_POWER_MIN, _HASH_POWER_MAX = 4, 29


def _explain_options(o, d) -> str | None:
    """Which field of the options o the library refused as EINVAL (it
    reports only the status), or None if none of the known rules explains
    it. d holds the library's defaults (segcache_options_init): a 0 in
    heap_bytes, segment_bytes or merge_max means the default, and a rule
    holds for the value the library uses."""
    seg = o.segment_bytes or d.segment_bytes or 1 << 20
    heap = o.heap_bytes or d.heap_bytes or 64 << 20
    if seg % 8 or not 4096 <= seg <= 8 << 20:
        return f"segment_bytes {seg}: want a multiple of 8 from 4096 to {8 << 20}"
    if heap // seg < 2:
        return f"heap_bytes {heap} holds fewer than 2 segments of segment_bytes {seg}"
    if heap // seg > _MAX_SEGMENTS:
        return (f"heap_bytes {heap} needs more than {_MAX_SEGMENTS} segments of "
                f"segment_bytes {seg}")
    whole = heap - heap % seg
    # The range first, as the library checks it: 8 << hash_power of an
    # out-of-range hash_power can be an integer of hundreds of megabytes.
    if o.hash_power and not _HASH_POWER_MIN <= o.hash_power <= _HASH_POWER_MAX:
        return f"hash_power {o.hash_power} outside [{_HASH_POWER_MIN}, {_HASH_POWER_MAX}]"
    if o.hash_power and 8 << o.hash_power > whole:
        return (f"hash_power {o.hash_power} maps a {8 << o.hash_power}-byte table, larger "
                f"than the {whole}-byte heap (heap_bytes)")
    # The merge fields are checked whatever the policy.
    mm, mt, mc = o.merge_max or d.merge_max or 8, o.merge_target, o.merge_compact
    if not 2 <= mm <= 64:
        return f"merge_max {mm} outside [2, 64]"
    if mt > mm:
        return f"merge_target {mt} > merge_max {mm}"
    if mt != 0 and mt < 2:  # 0 follows merge_max: min(4, merge_max)
        return f"merge_target {mt} below 2"
    if not 0 <= mc <= 64:
        return f"merge_compact {mc} outside [0, 64]"
    r = o.s3fifo_admission_ratio
    if r and not 0.01 <= r <= 0.9:
        return f"s3fifo_admission_ratio {r} outside [0.01, 0.9]"
    return None


class CacheBase:
    """A segcache cache in this process.

    All arguments are keyword-only and optional (None = the library's
    default): heap_bytes (item memory, default 64 MiB), segment_bytes
    (default 1 MiB; multiple of 8, 4 KiB to 8 MiB), hash_power (the initial
    table, 2^hash_power slots; 0 = one slot per 256 heap bytes; it doubles
    when it fills), eviction (one of segcache.EVICTIONS: "none",
    "random", "random_fifo", "fifo", "cte", "util", "merge", "s3fifo"
    (default)), merge_max, merge_target, merge_compact (merge policy),
    s3fifo_admission_ratio (s3fifo policy) and prefault (True: the heap and
    the initial table are made resident at open, so that no write pays a
    first-touch page fault; default False).

    Keys are bytes, bytearray, memoryview or str (UTF-8), 1 to 255 bytes;
    values are bytes, bytearray or memoryview. A ttl is whole seconds (an
    int, an integral float or a timedelta; 0 = never expires). A Cache is
    safe to share between threads.
    """

    # The subclasses declare the slots (the compiled base type forbids a
    # second layout-bearing base).
    __slots__ = ()

    # No iteration: the engine has no key order to offer. Without this,
    # iter(cache) would fall back to __getitem__(0), (1), ...
    __iter__ = None

    def __init__(
        self,
        *,
        heap_bytes: int | None = None,
        segment_bytes: int | None = None,
        hash_power: int | None = None,
        eviction: str | None = None,
        merge_max: int | None = None,
        merge_target: int | None = None,
        merge_compact: int | None = None,
        s3fifo_admission_ratio: float | None = None,
        prefault: bool | None = None,
    ):
        # A second __init__ on the same object (legal Python, if rare)
        # closes the cache the first one opened, which otherwise stayed
        # open, unreachable, until the object was collected.
        if getattr(self, "_finalizer", None) is not None:
            self.close()
        self._h = _NO_HANDLE
        self._finalizer = None
        lib = _lib.load()
        if not _bound:
            _ensure_bound(lib)
        # options_init writes the library's own sizeof(segcache_options),
        # which a newer library may have grown: give it room to spare.
        raw = (ctypes.c_char * max(512, ctypes.sizeof(_lib.Options)))()
        _c_options_init(raw)
        opts = _lib.Options.from_buffer(raw)
        have = min(opts.size, ctypes.sizeof(_lib.Options))
        opts.size = ctypes.sizeof(_lib.Options)

        def put(name, value):
            field = getattr(_lib.Options, name)
            if field.offset + field.size > have:
                raise InvalidArgument(
                    f"option {name} is not supported by the loaded library "
                    f"{'.'.join(map(str, lib.version))}"
                )
            setattr(opts, name, value)

        if heap_bytes is not None:
            put("heap_bytes", _u64("heap_bytes", heap_bytes))
        if segment_bytes is not None:
            put("segment_bytes", _u32("segment_bytes", segment_bytes))
        if hash_power is not None:
            put("hash_power", _u32("hash_power", hash_power))
        if eviction is not None:
            if not isinstance(eviction, str):
                raise TypeError(f"eviction must be a str, not {type(eviction).__name__}")
            try:
                put("eviction", _lib.EVICTIONS[eviction.lower()])
            except KeyError:
                raise ValueError(
                    f"unknown eviction {eviction!r}; one of: "
                    + ", ".join(_lib.EVICTIONS)
                ) from None
        for name, v in (
            ("merge_max", merge_max),
            ("merge_target", merge_target),
            ("merge_compact", merge_compact),
        ):
            if v is not None:
                v = _u32(name, v)
                if v > 0x7FFFFFFF:
                    raise ValueError(f"{name} must be at most 2**31-1, not {v}")
                put(name, v)
        if s3fifo_admission_ratio is not None:
            r = s3fifo_admission_ratio
            if isinstance(r, bool) or not isinstance(r, (int, float)):
                raise TypeError(f"s3fifo_admission_ratio must be a float, not {type(r).__name__}")
            r = float(r)
            if not 0.0 <= r < 1.0:
                raise ValueError(
                    f"s3fifo_admission_ratio must be in [0, 1), not {r}"
                )
            put("s3fifo_admission_ratio", r)
        if prefault is not None:
            if not isinstance(prefault, bool):
                raise TypeError(f"prefault must be a bool, not {type(prefault).__name__}")
            put("prefault", int(prefault))

        h = c_uint64()
        rc = _c_open(raw, byref(h))
        # The library's defaults: what a 0 in some fields means.
        draw = (ctypes.c_char * len(raw))()
        _c_options_init(draw)
        defaults = _lib.Options.from_buffer(draw)
        if rc == EINVAL:
            # The status does not say which field: name it when we can.
            why = _explain_options(opts, defaults)
            if why is not None:
                raise InvalidArgument(f"open: invalid options: {why}", rc)
        if rc:
            raise error_for(rc, None, "open")
        self._opts = {
            name: (getattr(opts, name) or getattr(defaults, name)) if name in _ZERO_IS_DEFAULT
            else getattr(opts, name)
            for name, _ in _lib.Options._fields_
            if name != "size"
        }
        if "prefault" in self._opts:
            self._opts["prefault"] = bool(self._opts["prefault"])
        # The hot calls take the handle as a c_uint64 object (no argtypes).
        self._h = c_uint64(h.value)
        self._attach(h.value)
        self._finalizer = weakref.finalize(self, _close_handle, h.value)

    def _attach(self, h: int) -> None:
        """Tells the hot methods the handle (a no-op on the ctypes path,
        which reads self._h)."""

    def _detach(self) -> None:
        """Tells the hot methods the cache is closed."""

    # -- lifecycle ---------------------------------------------------------

    def close(self) -> None:
        """Closes the cache and frees its memory. Closing twice is a no-op;
        any other call on a closed cache raises segcache.Closed."""
        self._h = _NO_HANDLE
        self._detach()
        if self._finalizer is not None:
            self._finalizer()  # runs _close_handle at most once

    @property
    def closed(self) -> bool:
        return self._h.value == 0

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __reduce__(self):
        raise TypeError(
            "a segcache.Cache lives in one process and cannot be pickled; "
            "open a cache in each process"
        )

    def __repr__(self) -> str:
        state = "closed" if self._h.value == 0 else "open"
        return f"<segcache.Cache {state} {getattr(self, '_opts', {})}>"

    # -- writes ------------------------------------------------------------

    def __delitem__(self, key) -> None:
        if not self.delete(key):
            raise KeyError(key)

    def store(self, op, key, value, ttl=0, token=0) -> int | None:
        """set, add, replace or cas, named by op ("set", "add", "replace",
        "cas"; token is read by "cas"), returning the cas token of the item
        stored: what gets() returns until the key is written again, so a
        chain of cas calls needs no gets() in between (which could already
        see another writer's item). None if add found the key, or replace
        or cas did not (absent, or changed since token)."""
        code = _STORE_OPS.get(op) if type(op) is str else None
        if code is None:
            raise ValueError(f"store op must be one of {', '.join(_STORE_OPS)}, not {op!r}")
        if type(key) is not bytes:
            key = _as_key(key)
        if type(value) is not bytes:
            value = _as_value(value)
        if type(token) is not int or not 0 <= token <= _U64_MAX:
            token = _u64("token", token)
        ttl = _c_ttl(ttl)
        if _c_store is None:
            raise NotImplementedError("the loaded libsegcache has no segcache_store")
        stored = c_uint64()
        rc = _c_store(self._h, code, key, len(key), value, len(value), ttl, token, byref(stored))
        if rc == 0:
            return stored.value
        if rc == EEXISTS or rc == ENOTFOUND:  # add: present; replace, cas: absent or changed
            return None
        raise error_for(rc, key, "store")

    def delete_cas(self, key, token) -> bool:
        """Removes key only if it still has the cas token from gets(), in
        one step (a write made after the token was read is never removed);
        False if the key is absent or was changed since."""
        if type(key) is not bytes:
            key = _as_key(key)
        if type(token) is not int or not 0 <= token <= _U64_MAX:
            token = _u64("token", token)
        if _c_delete_cas is None:
            raise NotImplementedError("the loaded libsegcache has no segcache_delete_cas")
        rc = _c_delete_cas(self._h, key, len(key), token)
        if rc == 0:
            return True
        if rc == EEXISTS or rc == ENOTFOUND:  # changed, or gone
            return False
        raise error_for(rc, key, "delete_cas")

    def delete_many(self, keys) -> int:
        """Removes every key of keys, in one C call per 4096 keys; returns
        how many were present. If some key is invalid (e.g. KeyTooLarge),
        the others are still removed and the first key's error is raised."""
        _check_keys(keys, "delete_many")
        keys = [k if type(k) is bytes else _as_key(k) for k in keys]
        if _c_delete_multi is None:
            return sum(self.delete(k) for k in keys)
        if not keys:  # the library still checks the handle, as get_many's
            rc = _c_delete_multi(self._h, 0, None, None, None)
            if rc:
                raise error_for(rc, None, "delete_many")
            return 0
        deleted = 0
        first = None
        for i in range(0, len(keys), _BATCH_MAX):
            chunk = keys[i : i + _BATCH_MAX]
            n = len(chunk)
            kb, kl = _pack(chunk)
            statuses = (c_int * n)()
            rc = _c_delete_multi(self._h, n, kb, kl, statuses)
            if rc:
                raise error_for(rc, None, "delete_many")
            for k, s in zip(chunk, statuses):
                if s == 0:
                    deleted += 1
                elif s != ENOTFOUND and first is None:
                    first = error_for(s, k, "delete_many")
        if first is not None:
            raise first
        return deleted

    # -- maintenance -------------------------------------------------------

    def expire(self) -> None:
        """Frees expired segments now (they are also freed lazily)."""
        rc = _c_expire(self._h)
        if rc:
            raise error_for(rc, None, "expire")

    def clear(self) -> None:
        """Removes every item."""
        rc = _c_clear(self._h)
        if rc:
            raise error_for(rc, None, "clear")

    def stats(self) -> dict:
        """Counters of the cache, keyed by the field names of
        segcache_stats ("items", "hits", ...)."""
        s = _lib.Stats()
        s.size = ctypes.sizeof(s)
        rc = _c_stats(self._h, byref(s))
        if rc:
            raise error_for(rc, None, "stats")
        filled = s.size
        return {
            name: getattr(s, name)
            for name in _lib.STATS_FIELDS
            if getattr(_lib.Stats, name).offset < filled
        }

    def __len__(self) -> int:
        """The number of live items. An item past its expiry counts until
        expire() drops its segment (expiry is by segment; a read already
        reports it absent)."""
        return self.stats()["items"]

    @property
    def options(self) -> dict:
        """The options the cache was opened with (defaults filled in)."""
        return dict(self._opts)


def _get_slow(give, key: bytes, rc: int, b: _GetBuf, with_cas: bool):
    """The rest of a get whose first call returned rc: a miss, an error, or
    a value bigger than b (read again into a bigger buffer). Gives b back
    (give is its cache's pool's append) unless it grew past _BUF_MAX: one
    huge read must not pin megabytes forever."""
    try:
        while True:
            if rc == ENOTFOUND:
                _check_key(key)
                return None
            if rc != ERANGE:
                raise error_for(rc, key, "gets" if with_cas else "get")
            need = b.req.vlen
            b.size(need if need > _BUF_MAX else max(need, min(2 * b.cap, _BUF_MAX)))
            n = len(key)
            rc = _c_rgetb(b.reqp, key, c_size_t(n))
            if rc == 0:
                value = b.buf[: b.req.vlen]
                return (value, b.req.cas) if with_cas else value
            # ERANGE again: the value grew in between; loop with its new size.
    finally:
        if b.cap <= _BUF_MAX:
            give(b)


_DICT_ITEMS = type({}.items())


def _raise_pair_error(items) -> None:
    """After set_many failed to take items apart: raises the compiled path's
    error for the first item that is not a (key, value) pair, so that both
    paths say the same; returns (the caller re-raises its error) when the
    failure was a key or value, or an item it cannot look at again."""
    for item in items:
        # Sequences that can be looked at again; the compiled path takes
        # each item apart as a sequence, str and bytes included.
        if isinstance(item, (tuple, list, str, bytes, bytearray)):
            if len(item) != 2:
                raise ValueError(
                    f"set_many: items must be (key, value) pairs, got {len(item)} values"
                ) from None
            try:
                _as_key(item[0])
                _as_value(item[1])
            except (TypeError, ValueError):
                return
            continue
        try:
            iter(item)
        except TypeError:
            raise TypeError("set_many: items must be (key, value) pairs") from None
        return  # an iterable that may not survive a second look


def _store_if(fn, h, key, value, ttl, rc_false: int, what: str) -> bool:
    """add and replace over ctypes: True when stored, False when the library
    answered rc_false."""
    if type(key) is not bytes:
        key = _as_key(key)
    if type(value) is not bytes:
        value = _as_value(value)
    ttl = _c_ttl(ttl)
    n, m = len(key), len(value)
    rc = fn(h, key, _SZ[n] if n < _SMALL else c_size_t(n), value, _SZ[m] if m < _SMALL else c_size_t(m), ttl)
    if rc == 0:
        return True
    if rc == rc_false:
        return False
    raise error_for(rc, key, what)


def _numeric(fn, h, key, delta, what: str) -> int:
    """incr and decr over ctypes; the result lands in a pooled buffer's cas
    slot (a uint64 with its pointer prebuilt)."""
    k = key if type(key) is bytes else _as_key(key)
    if type(delta) is not int or not 0 <= delta <= _U64_MAX:
        delta = _u64("delta", delta)
    n = len(k)
    b = _take()
    rc = fn(h, k, _SZ[n] if n < _SMALL else c_size_t(n), _U64[delta] if delta < _SMALL_U64 else c_uint64(delta), b.casp)
    result = b.cas.value
    _give(b)
    if rc == 0:
        return result
    if rc == ENOTFOUND:
        _check_key(k)
        raise KeyError(key)
    raise error_for(rc, k, what)


def _reader(with_cas: bool, name: str, doc: str):
    """CtypesCache.get (with_cas False) or gets (True): one body for both,
    made twice rather than called, because a Python call in between costs
    a fifth of the ctypes get's gain over the seed binding's."""

    # key is positional-only, as on the compiled path (a METH_O method).
    def read(self, key, /):
        if type(key) is not bytes:
            key = _as_key(key)
        try:
            b = self._gpop()
        except IndexError:
            b = _GetBuf(self._h.value)
        try:
            sz = _SZ[len(key)]
        except IndexError:  # a key too long for the table (and the library)
            sz = c_size_t(len(key))
        rc = _c_rgetb(b.reqp, key, sz)
        if rc == 0:
            v = (b.buf[: b.req.vlen], b.req.cas) if with_cas else b.buf[: b.req.vlen]
            self._gpush(b)
            return v
        return _get_slow(self._gpush, key, rc, b, with_cas)

    read.__name__, read.__qualname__ = name, f"CtypesCache.{name}"
    read.__doc__ = doc
    return read


def _get_sized(self, key: bytes, size: int):
    """get of key whose value a batch reported to be size bytes: into a
    pooled buffer grown to that size first (CtypesCache._get_sized)."""
    try:
        b = self._gpop()
    except IndexError:
        b = _GetBuf(self._h.value)
    if b.cap < size:
        b.size(size if size > _BUF_MAX else max(size, min(2 * b.cap, _BUF_MAX)))
    rc = _c_rgetb(b.reqp, key, c_size_t(len(key)))
    if rc == 0:
        v = b.buf[: b.req.vlen]
        self._gpush(b)
        return v
    return _get_slow(self._gpush, key, rc, b, False)


class CtypesCache(CacheBase):
    __doc__ = CacheBase.__doc__ + """
    This is the ctypes implementation (segcache.FAST is False when it is the
    default): like the compiled one, single-key calls keep the GIL and
    batches release it.
    """

    # _gpop, _gpush: pop and append of the cache's pool of _GetBufs.
    __slots__ = ("_h", "_finalizer", "_opts", "__weakref__", "_gpop", "_gpush")

    def _attach(self, h: int) -> None:
        pool = []
        self._gpop, self._gpush = pool.pop, pool.append

    def _detach(self) -> None:
        # The buffers hold the handle: closing drops them, so that later
        # calls get buffers with the closed handle (0, SEGCACHE_EBADHANDLE)
        # instead of a stale one that a later cache could in principle get.
        self._attach(0)

    # get and gets are one body (see _reader), without a call in between.
    get = _reader(False, "get", "The value of key, or None if it is absent or expired.")
    gets = _reader(
        True, "gets",
        "(value, cas token) of key, or None if absent; pass the token to\n"
        "        cas() to write only if nobody changed the item since.",
    )

    def get_many(self, keys, /) -> dict:
        """{key: value} for the keys that are present, in one C call for the
        whole batch. Keys in the result are bytes (str keys are encoded)."""
        _check_keys(keys, "get_many")
        keys = [k if type(k) is bytes else _as_key(k) for k in keys]
        n = len(keys)
        if n == 0:
            # No key, but a cache: the library checks the handle (Closed on
            # a closed cache, ForkError in a forked child).
            rc = _c_rget_multi(self._h, _SZ[0], None, None, None, None, None, None)
            if rc:
                raise error_for(rc, None, "get_many")
            return {}
        # A batch too big to keep buffers for gets buffers for this call only
        # (_give drops them); still one C call for the whole batch.
        b = _take() if n <= _BATCH_MAX else _Buf()
        out = self._get_many(keys, n, b)
        _give(b)
        return out

    def _get_many(self, keys: list, n: int, b: _Buf) -> dict:
        if b.bn < n:
            b.batch(max(n, 64, b.bn * 2), b.slot)
        # The keys go into one arena and the C array gets their addresses:
        # much cheaper than a c_char_p array (which keeps a reference per
        # element).
        blob = b"".join(keys)
        if len(blob) > len(b.karena):
            b.keyspace(max(len(blob), 2 * len(b.karena)))
        b.karena[: len(blob)] = blob
        lens = list(map(len, keys))
        width = lens[0]
        if lens.count(width) == n:
            # Keys of one length (the common case): the address and length
            # arrays are the same as for the previous such batch.
            if b.layout != (n, width):
                b.keys[:n] = range(b.kbase, b.kbase + n * width, width) if width else [b.kbase] * n
                b.klens[:n] = lens
                b.layout = (n, width)
        else:
            b.klens[:n] = lens
            b.keys[:n] = list(accumulate(lens[:-1], initial=b.kbase))
            b.layout = None
        rc = _c_rget_multi(self._h, _SZ[n] if n < _SMALL else c_size_t(n), b.keys, b.klens, b.bufs, b.caps, b.vlens, b.statuses)
        if rc:
            raise error_for(rc, None, "get_many")
        st = b.statuses_mv[:n].tolist()
        vl = b.vlens_mv[:n].tolist()
        slot = b.slot
        hits = st.count(0)
        if sum(vl) * 4 >= n * slot:
            # One copy of the whole arena, then a slice per value.
            raw = b.amv[: n * slot].tobytes()
        else:
            # Values much smaller than their slots: copy each on its own.
            raw = b.amv
        offsets = range(0, n * slot, slot)
        if hits == n:
            out = {k: raw[o : o + l] for k, o, l in zip(keys, offsets, vl)}
        else:
            out = {k: raw[o : o + l] for k, s, o, l in zip(keys, st, offsets, vl) if s == 0}
        if raw is b.amv:
            out = {k: v.tobytes() for k, v in out.items()}
        if hits != n and hits + st.count(ENOTFOUND) != n:
            self._get_many_rest(keys, st, vl, b, out)
        return out

    _get_sized = _get_sized

    def _get_many_rest(self, keys, st, vl, b: _Buf, out: dict) -> None:
        need = 0
        for k, s, l in zip(keys, st, vl):
            if s == 0 or s == ENOTFOUND:
                continue
            if s == ERANGE:
                need = max(need, l)
                # A single get with its own buffer (the batch's is in use),
                # of the size the batch reported: every call is a lookup in
                # the counters and an access eviction sees, so one more.
                v = self._get_sized(k, l)
                if v is not None:
                    out[k] = v
            else:
                raise error_for(s, k, "get_many")
        if need > b.slot and need <= _SLOT_MAX:
            # Values are bigger than the slots: size them for next time.
            slot = b.slot
            while slot < need:
                slot *= 2
            b.batch(b.bn, slot)

    def __contains__(self, key) -> bool:
        if type(key) is not bytes:
            key = _as_key(key)
        b = _take()
        n = len(key)
        # cap 0: found-ness without copying (ERANGE means present).
        rc = _c_rget(self._h, key, _SZ[n] if n < _SMALL else c_size_t(n), None, _SZ[0], b.vlenp, None)
        _give(b)
        if rc == 0 or rc == ERANGE:
            return True
        if rc == ENOTFOUND:
            _check_key(key)
            return False
        raise error_for(rc, key, "contains")

    def __getitem__(self, key) -> bytes:
        v = self.get(key)
        if v is None:
            raise KeyError(key)
        return v

    def set(self, key, value, ttl=0) -> None:
        """Stores value under key; ttl in whole seconds, 0 = never expires."""
        if type(key) is not bytes:
            key = _as_key(key)
        if type(value) is not bytes:
            value = _as_value(value)
        if type(ttl) is not int or ttl:
            ttl = _c_ttl(ttl)
        else:
            ttl = _TTL0
        n, m = len(key), len(value)
        rc = _c_rset(
            self._h, key, _SZ[n] if n < _SMALL else c_size_t(n), value,
            _SZ[m] if m < _SMALL else c_size_t(m), ttl,
        )
        if rc:
            raise error_for(rc, key, "set")

    def __setitem__(self, key, value) -> None:
        self.set(key, value)

    def delete(self, key, /) -> bool:
        """Removes key; False if it was absent."""
        if type(key) is not bytes:
            key = _as_key(key)
        n = len(key)
        rc = _c_rdelete(self._h, key, _SZ[n] if n < _SMALL else c_size_t(n))
        if rc == 0:
            return True
        if rc == ENOTFOUND:
            return False
        raise error_for(rc, key, "delete")

    def add(self, key, value, ttl=0) -> bool:
        """Stores value only if key is absent; False if it is present."""
        return _store_if(_c_radd, self._h, key, value, ttl, EEXISTS, "add")

    def replace(self, key, value, ttl=0) -> bool:
        """Stores value only if key is present; False if it is absent."""
        return _store_if(_c_rreplace, self._h, key, value, ttl, ENOTFOUND, "replace")

    def cas(self, key, value, token, ttl=0) -> bool:
        """Stores value only if key still has the cas token from gets();
        False if the key is absent or was changed since."""
        if type(key) is not bytes:
            key = _as_key(key)
        if type(value) is not bytes:
            value = _as_value(value)
        if type(token) is not int or not 0 <= token <= _U64_MAX:
            token = _u64("token", token)
        ttl = _c_ttl(ttl)
        n, m = len(key), len(value)
        rc = _c_rcas(
            self._h, key, _SZ[n] if n < _SMALL else c_size_t(n), value,
            _SZ[m] if m < _SMALL else c_size_t(m), ttl, c_uint64(token),
        )
        if rc == 0:
            return True
        if rc == EEXISTS or rc == ENOTFOUND:  # changed, or gone
            return False
        raise error_for(rc, key, "cas")

    def incr(self, key, delta=1) -> int:
        """Adds delta to a numeric value (wrapping at 2**64) and returns the
        result. KeyError if absent, NotNumeric if the value is not a
        canonical unsigned decimal."""
        return _numeric(_c_rincr, self._h, key, delta, "incr")

    def decr(self, key, delta=1) -> int:
        """Subtracts delta from a numeric value (stopping at 0) and returns
        the result. KeyError if absent, NotNumeric if not numeric."""
        return _numeric(_c_rdecr, self._h, key, delta, "decr")

    def set_many(self, items, ttl=0) -> None:
        """Stores every (key, value) of items (a mapping or an iterable of
        pairs), in order, in one C call per 4096 items. If some item fails
        (e.g. ValueTooLarge), the others are still stored and the error of
        the first failing one is raised."""
        if hasattr(items, "items"):
            items = items.items()
        if not isinstance(items, (list, tuple, _DICT_ITEMS)):
            items = list(items)  # all of it first, as the compiled path does
        try:
            pairs = [
                (k if type(k) is bytes else _as_key(k), v if type(v) is bytes else _as_value(v))
                for k, v in items
            ]
        except (TypeError, ValueError):
            _raise_pair_error(items)
            raise
        ttl = _ttl(ttl)
        if _c_rset_multi is None:
            for k, v in pairs:
                self.set(k, v, ttl)
            return
        if not pairs:  # the library still checks the handle, as get_many's
            rc = _c_rset_multi(self._h, _SZ[0], None, None, None, None, None, None)
            if rc:
                raise error_for(rc, None, "set_many")
            return
        first = None
        for i in range(0, len(pairs), _BATCH_MAX):
            chunk = pairs[i : i + _BATCH_MAX]
            n = len(chunk)
            keys = [k for k, _ in chunk]
            vals = [v for _, v in chunk]
            kb, kl = _pack(keys)
            vb, vl = _pack(vals)
            ttls = (c_uint32 * n)(*([ttl] * n)) if ttl else None
            statuses = (c_int * n)()
            rc = _c_rset_multi(self._h, c_size_t(n), kb, kl, vb, vl, ttls, statuses)
            if rc:
                raise error_for(rc, None, "set_many")
            if first is None and any(statuses):
                j = next(j for j, s in enumerate(statuses) if s)
                first = error_for(statuses[j], keys[j], "set_many")
        if first is not None:
            raise first
