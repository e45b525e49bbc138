"""Exceptions of the segcache binding and the mapping from C statuses."""

from __future__ import annotations

# C statuses (include/segcache.h). tests/test_header.py checks these against
# the header so that a renumbering cannot go unnoticed.
OK = 0
ENOTFOUND = -1
EEXISTS = -2
ENOTNUMERIC = -3
ERANGE = -4
ETOOLARGE = -5
ENOSPACE = -6
EINVAL = -7
EBADHANDLE = -8
ENOMEM = -9
EINTERNAL = -10
EFORKED = -11

STATUS_NAMES = {
    OK: "SEGCACHE_OK",
    ENOTFOUND: "SEGCACHE_ENOTFOUND",
    EEXISTS: "SEGCACHE_EEXISTS",
    ENOTNUMERIC: "SEGCACHE_ENOTNUMERIC",
    ERANGE: "SEGCACHE_ERANGE",
    ETOOLARGE: "SEGCACHE_ETOOLARGE",
    ENOSPACE: "SEGCACHE_ENOSPACE",
    EINVAL: "SEGCACHE_EINVAL",
    EBADHANDLE: "SEGCACHE_EBADHANDLE",
    ENOMEM: "SEGCACHE_ENOMEM",
    EINTERNAL: "SEGCACHE_EINTERNAL",
    EFORKED: "SEGCACHE_EFORKED",
}

MAX_KEY_LEN = 255


class Error(Exception):
    """Base class of every error raised by segcache.

    ``status`` is the C status (a negative int) when the error came from the
    library, else None.
    """

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status

    def __reduce__(self):
        # Keep the status across pickling (multiprocessing sends exceptions
        # back to the parent).
        return (type(self), (str(self), self.status))


class LibraryError(Error, OSError):
    """libsegcache.so could not be found or loaded, or its version does not
    match this package."""


class ForkError(Error, RuntimeError):
    """The library was loaded before this process was forked.

    The Go runtime inside libsegcache does not survive fork(): the child's
    first garbage collection hangs. Use multiprocessing's "spawn" or
    "forkserver" start method, or open caches only after forking.
    """


class Closed(Error):
    """The cache was closed (SEGCACHE_EBADHANDLE)."""


class InvalidArgument(Error, ValueError):
    """A bad argument or option (SEGCACHE_EINVAL), e.g. an empty key."""


class KeyTooLarge(Error, ValueError):
    """The key is longer than 255 bytes (SEGCACHE_ETOOLARGE)."""


class ValueTooLarge(Error, ValueError):
    """The item (header + key + value) does not fit in one segment
    (SEGCACHE_ETOOLARGE)."""


class NotNumeric(Error, ValueError):
    """incr/decr on a value that is not a canonical unsigned decimal
    (SEGCACHE_ENOTNUMERIC)."""


class NoSpace(Error):
    """Nothing could be evicted or expired to make room (SEGCACHE_ENOSPACE);
    the cache uses eviction="none" or every segment is busy."""


class NoMemory(Error, MemoryError):
    """Memory for the cache could not be mapped (SEGCACHE_ENOMEM)."""


class InternalError(Error):
    """The library recovered from an internal fault (SEGCACHE_EINTERNAL);
    the cache stays usable."""


class Exists(Error):
    """SEGCACHE_EEXISTS where the API has no boolean to report it."""


class NotFound(Error, KeyError):
    """SEGCACHE_ENOTFOUND where the API has no other way to report it."""

    def __str__(self):  # KeyError quotes its argument; we want the message.
        return Exception.__str__(self)


_BY_STATUS = {
    ENOTFOUND: NotFound,
    EEXISTS: Exists,
    ENOTNUMERIC: NotNumeric,
    ETOOLARGE: ValueTooLarge,
    ENOSPACE: NoSpace,
    EINVAL: InvalidArgument,
    EBADHANDLE: Closed,
    ENOMEM: NoMemory,
    EINTERNAL: InternalError,
    EFORKED: ForkError,
}

# Filled from segcache_strerror() when the library is loaded, so that raising
# an error never calls into the library (it may be unusable, e.g. after fork).
MESSAGES: dict[int, str] = {}


def error_for(status: int, key: bytes | None = None, what: str = "") -> Error:
    """Returns the exception for a failed call's status.

    ``key`` (when the call had one) tells KeyTooLarge from ValueTooLarge and
    an empty key from other invalid arguments.
    """
    msg = MESSAGES.get(status) or STATUS_NAMES.get(status) or "unknown status"
    if key is not None:
        if status == ETOOLARGE and len(key) > MAX_KEY_LEN:
            return KeyTooLarge(
                f"key of {len(key)} bytes is over the {MAX_KEY_LEN}-byte limit",
                status,
            )
        if status == EINVAL and len(key) == 0:
            return InvalidArgument("empty key (keys are 1 to 255 bytes)", status)
    if status == EBADHANDLE:
        return Closed("cache is closed", status)
    if status == EFORKED:
        # The library refused to run in a forked child (a fork the Python
        # at-fork hooks did not see, e.g. a raw fork(2)): the same error,
        # with the same advice, as when the binding catches the fork itself.
        from ._lib import fork_error

        return fork_error()
    cls = _BY_STATUS.get(status, Error)
    text = f"{what}: {msg}" if what else msg
    return cls(f"{text} ({STATUS_NAMES.get(status, status)})", status)
