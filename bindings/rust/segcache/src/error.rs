//! The error type: one variant per status of the C API.
use core::ffi::{c_int, CStr};
use std::fmt;

use segcache_sys as sys;

/// A failed operation: one variant per negative status of the C API
/// (`SEGCACHE_E*`), so callers can match on the condition, plus
/// [`Error::Unknown`] for a status this crate does not know (a newer
/// library), which keeps the raw value. [`Error::code`] gives back the raw
/// status of every variant, and `Display` prints the library's own text
/// (`segcache_strerror`).
///
/// ```
/// use segcache::{Cache, Error};
/// let cache = Cache::new()?;
/// let err = cache.incr("absent", 1).unwrap_err();
/// assert_eq!(err, Error::NotFound);
/// assert_eq!(err.code(), segcache::sys::SEGCACHE_ENOTFOUND);
/// assert!(!err.to_string().is_empty());
/// # Ok::<(), Error>(())
/// ```
///
/// The enum is `non_exhaustive`: a later library may add statuses, and
/// this crate variants for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// `SEGCACHE_ENOTFOUND`: the key is absent or expired.
    NotFound,
    /// `SEGCACHE_EEXISTS`: a cas token is stale, or `add` found the key.
    Exists,
    /// `SEGCACHE_ENOTNUMERIC`: incr/decr on a value that is not a canonical
    /// unsigned decimal number.
    NotNumeric,
    /// `SEGCACHE_ERANGE`: a caller buffer was too small. The safe API grows
    /// its buffers and retries, so this surfaces only from a library that
    /// misreports a length.
    Range,
    /// `SEGCACHE_ETOOLARGE`: the key is longer than 255 bytes or the item
    /// does not fit in a segment.
    TooLarge,
    /// `SEGCACHE_ENOSPACE`: nothing could be evicted or expired.
    NoSpace,
    /// `SEGCACHE_EINVAL`: a bad argument (an empty key) or option.
    Invalid,
    /// `SEGCACHE_EBADHANDLE`: the handle is unknown or closed.
    BadHandle,
    /// `SEGCACHE_ENOMEM`: the library could not allocate memory.
    NoMemory,
    /// `SEGCACHE_EINTERNAL`: the library recovered from an internal fault.
    Internal,
    /// `SEGCACHE_EFORKED`: called in a child process after `fork()` (without
    /// `exec`). The library's runtime cannot run there, so every call in
    /// the child fails with this at once; the parent is unaffected.
    Forked,
    /// A status this crate does not know, kept as returned.
    Unknown(c_int),
}

impl Error {
    /// The error for a C status, or `None` for `SEGCACHE_OK`.
    pub fn from_code(code: c_int) -> Option<Error> {
        Some(match code {
            sys::SEGCACHE_OK => return None,
            sys::SEGCACHE_ENOTFOUND => Error::NotFound,
            sys::SEGCACHE_EEXISTS => Error::Exists,
            sys::SEGCACHE_ENOTNUMERIC => Error::NotNumeric,
            sys::SEGCACHE_ERANGE => Error::Range,
            sys::SEGCACHE_ETOOLARGE => Error::TooLarge,
            sys::SEGCACHE_ENOSPACE => Error::NoSpace,
            sys::SEGCACHE_EINVAL => Error::Invalid,
            sys::SEGCACHE_EBADHANDLE => Error::BadHandle,
            sys::SEGCACHE_ENOMEM => Error::NoMemory,
            sys::SEGCACHE_EINTERNAL => Error::Internal,
            sys::SEGCACHE_EFORKED => Error::Forked,
            other => Error::Unknown(other),
        })
    }

    /// The raw C status (`SEGCACHE_E*`) of this error.
    pub fn code(&self) -> c_int {
        match *self {
            Error::NotFound => sys::SEGCACHE_ENOTFOUND,
            Error::Exists => sys::SEGCACHE_EEXISTS,
            Error::NotNumeric => sys::SEGCACHE_ENOTNUMERIC,
            Error::Range => sys::SEGCACHE_ERANGE,
            Error::TooLarge => sys::SEGCACHE_ETOOLARGE,
            Error::NoSpace => sys::SEGCACHE_ENOSPACE,
            Error::Invalid => sys::SEGCACHE_EINVAL,
            Error::BadHandle => sys::SEGCACHE_EBADHANDLE,
            Error::NoMemory => sys::SEGCACHE_ENOMEM,
            Error::Internal => sys::SEGCACHE_EINTERNAL,
            Error::Forked => sys::SEGCACHE_EFORKED,
            Error::Unknown(code) => code,
        }
    }
}

/// `Ok(())` for `SEGCACHE_OK`, else the status as an [`Error`].
pub(crate) fn check(code: c_int) -> Result<(), Error> {
    match Error::from_code(code) {
        None => Ok(()),
        Some(e) => Err(e),
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SAFETY: segcache_strerror returns a static NUL-terminated string
        // for every input (a generic one for unknown statuses); a NULL is
        // handled anyway rather than trusted away.
        let text = unsafe { sys::segcache_strerror(self.code()) };
        if text.is_null() {
            return write!(f, "segcache status {}", self.code());
        }
        let text = unsafe { CStr::from_ptr(text) };
        f.write_str(&text.to_string_lossy())
    }
}

impl std::error::Error for Error {}
