//! Raw bindings to `libsegcache.so`: hand-written `extern "C"` declarations
//! of every function, constant and struct of `include/segcache.h`.
//!
//! Everything here is `unsafe` to call and mirrors the C header one to one;
//! see the header for the contract of each function (ownership, thread
//! safety, return codes). The safe API is the `segcache` crate.
//!
//! The declarations are written through three small macros that also record
//! what they declare (names, parameter types as written, struct field
//! offsets) in [`FUNCTIONS`], [`CONSTANTS`], [`TYPEDEFS`] and [`STRUCTS`].
//! The drift test (`tests/drift.rs`) compares those tables with
//! `include/segcache.abi.json`, the machine-readable description of the ABI
//! generated with the header, so a change to the header that is not
//! mirrored here fails `cargo test`. Because the tables come from the same tokens as the
//! declarations, they cannot disagree with them.
//!
//! Linking: `build.rs` links `segcache` from `SEGCACHE_LIB_DIR` or the
//! repository's `build/` directory and sets an rpath to it.
#![no_std]
#![allow(non_camel_case_types)]

pub use core::ffi::{c_char, c_int, c_void};

/// A C function as declared here: name, parameter types and return type,
/// each as written in the Rust declaration (`stringify!`).
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct FnDesc {
    pub name: &'static str,
    /// The function's address: taking it makes the linker resolve the
    /// symbol in libsegcache.so, so a declared function the library does
    /// not export fails the link of any test instead of going unnoticed.
    pub addr: *const (),
    pub params: &'static [&'static str],
    /// `""` for a function returning `void`.
    pub ret: &'static str,
}

/// A `#[repr(C)]` struct as declared here, with its real layout.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct StructDesc {
    pub name: &'static str,
    pub size: usize,
    pub align: usize,
    pub fields: &'static [FieldDesc],
}

/// One field of a [`StructDesc`].
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct FieldDesc {
    pub name: &'static str,
    pub ty: &'static str,
    pub offset: usize,
}

/// A constant's value, widened so that every C integer type fits.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ConstValue {
    Int(i128),
    Str(&'static str),
}

macro_rules! ret_ty {
    () => {
        ""
    };
    ($t:ty) => {
        stringify!($t)
    };
}

macro_rules! to_const_value {
    (str, $v:expr) => {
        ConstValue::Str($v)
    };
    ($t:ident, $v:expr) => {
        ConstValue::Int($v as i128)
    };
}

macro_rules! constants {
    ($( $(#[$m:meta])* pub const $name:ident: $kind:ident = $val:expr; )*) => {
        $( $(#[$m])* pub const $name: constants!(@ty $kind) = $val; )*
        /// Every constant of the header: name, Rust type, value (for the
        /// drift test).
        #[doc(hidden)]
        pub const CONSTANTS: &[(&str, &str, ConstValue)] = &[
            $( (stringify!($name), stringify!($kind), to_const_value!($kind, $name)) ),*
        ];
    };
    (@ty str) => { &'static str };
    (@ty $t:ident) => { $t };
}

macro_rules! typedefs {
    ($( $(#[$m:meta])* pub type $name:ident = $t:ty; )*) => {
        $( $(#[$m])* pub type $name = $t; )*
        /// Every scalar typedef of the header (for the drift test).
        #[doc(hidden)]
        pub const TYPEDEFS: &[(&str, &str)] = &[ $( (stringify!($name), stringify!($t)) ),* ];
    };
}

macro_rules! structs {
    ($( $(#[$m:meta])* pub struct $name:ident { $( $(#[$fm:meta])* pub $f:ident: $ft:ty, )* } )*) => {
        $(
            $(#[$m])*
            #[repr(C)]
            #[derive(Debug, Clone, Copy, PartialEq)]
            pub struct $name { $( $(#[$fm])* pub $f: $ft, )* }
        )*
        /// Every struct of the header with its layout (for the drift test).
        #[doc(hidden)]
        pub const STRUCTS: &[StructDesc] = &[ $(
            StructDesc {
                name: stringify!($name),
                size: core::mem::size_of::<$name>(),
                align: core::mem::align_of::<$name>(),
                fields: &[ $( FieldDesc {
                    name: stringify!($f),
                    ty: stringify!($ft),
                    offset: core::mem::offset_of!($name, $f),
                } ),* ],
            }
        ),* ];
    };
}

macro_rules! functions {
    ($( $(#[$m:meta])* pub fn $name:ident( $($arg:ident: $t:ty),* $(,)? ) $(-> $ret:ty)?; )*) => {
        extern "C" {
            $( $(#[$m])* pub fn $name( $($arg: $t),* ) $(-> $ret)?; )*
        }
        /// Every function of the header (for the drift test).
        #[doc(hidden)]
        pub const FUNCTIONS: &[FnDesc] = &[ $(
            FnDesc { name: stringify!($name), addr: $name as *const (), params: &[ $(stringify!($t)),* ], ret: ret_ty!($($ret)?) }
        ),* ];
    };
}

typedefs! {
    /// An opaque cache handle; `0` is never a valid handle.
    pub type segcache_t = u64;
}

constants! {
    /// Header version, major part.
    pub const SEGCACHE_VERSION_MAJOR: c_int = 0;
    /// Header version, minor part.
    pub const SEGCACHE_VERSION_MINOR: c_int = 1;
    /// Header version, patch part.
    pub const SEGCACHE_VERSION_PATCH: c_int = 0;
    /// Header version as one number: `major*10000 + minor*100 + patch`,
    /// what [`segcache_version`] returns for the library loaded.
    pub const SEGCACHE_VERSION_NUMBER: c_int = SEGCACHE_VERSION_MAJOR * 10000 + SEGCACHE_VERSION_MINOR * 100 + SEGCACHE_VERSION_PATCH;

    /// The smallest `segcache_options.size` `segcache_open` accepts: the
    /// fields up to and including `eviction`.
    pub const SEGCACHE_OPTIONS_MIN_SIZE: u32 = 28;
    /// The smallest `segcache_stats.size` `segcache_stats_get` accepts: the
    /// fields up to and including `expired_segments`.
    pub const SEGCACHE_STATS_MIN_SIZE: u32 = 128;

    /// Success.
    pub const SEGCACHE_OK: c_int = 0;
    /// The key is absent or expired.
    pub const SEGCACHE_ENOTFOUND: c_int = -1;
    /// cas token mismatch; add on a present key.
    pub const SEGCACHE_EEXISTS: c_int = -2;
    /// incr/decr on a value that is not a canonical unsigned decimal.
    pub const SEGCACHE_ENOTNUMERIC: c_int = -3;
    /// The caller's buffer is too small; `*vlen` holds the size needed.
    pub const SEGCACHE_ERANGE: c_int = -4;
    /// Key or item over the limits.
    pub const SEGCACHE_ETOOLARGE: c_int = -5;
    /// Nothing could be evicted or expired.
    pub const SEGCACHE_ENOSPACE: c_int = -6;
    /// Bad argument or option.
    pub const SEGCACHE_EINVAL: c_int = -7;
    /// Unknown, closed or forged handle.
    pub const SEGCACHE_EBADHANDLE: c_int = -8;
    /// Out of memory.
    pub const SEGCACHE_ENOMEM: c_int = -9;
    /// A recovered internal fault; the host keeps running.
    pub const SEGCACHE_EINTERNAL: c_int = -10;
    /// Called in a child process after `fork()`: the library cannot run
    /// there, and every call that returns a status returns this at once.
    pub const SEGCACHE_EFORKED: c_int = -11;

    // enum segcache_eviction: C enum constants have type int.

    /// Never evict: sets fail with `SEGCACHE_ENOSPACE` once full.
    pub const SEGCACHE_EVICT_NONE: c_int = 0;
    /// Evict a random sealed segment.
    pub const SEGCACHE_EVICT_RANDOM: c_int = 1;
    /// Pick a random TTL bucket, evict its oldest segment.
    pub const SEGCACHE_EVICT_RANDOM_FIFO: c_int = 2;
    /// Evict the oldest segment.
    pub const SEGCACHE_EVICT_FIFO: c_int = 3;
    /// Evict the segment closest to expiration.
    pub const SEGCACHE_EVICT_CTE: c_int = 4;
    /// Evict the segment with the fewest live bytes.
    pub const SEGCACHE_EVICT_UTIL: c_int = 5;
    /// Merge consecutive segments keeping frequent items.
    pub const SEGCACHE_EVICT_MERGE: c_int = 6;
    /// S3-FIFO over segments (the default).
    pub const SEGCACHE_EVICT_S3FIFO: c_int = 7;

    // enum segcache_store_op: the writes of `segcache_store`.

    /// As `segcache_set`.
    pub const SEGCACHE_STORE_SET: c_int = 0;
    /// As `segcache_add`.
    pub const SEGCACHE_STORE_ADD: c_int = 1;
    /// As `segcache_replace`.
    pub const SEGCACHE_STORE_REPLACE: c_int = 2;
    /// As `segcache_cas`.
    pub const SEGCACHE_STORE_CAS: c_int = 3;
}

structs! {
    /// Options of [`segcache_open`]; fill with [`segcache_options_init`]
    /// first, then change the fields wanted. A zero in `heap_bytes`,
    /// `segment_bytes`, `merge_max`, `merge_target` or
    /// `s3fifo_admission_ratio` also means the default.
    #[derive(Default)]
    pub struct segcache_options {
        /// `sizeof(segcache_options)`, set by `segcache_options_init`.
        pub size: u32,
        /// Item memory; default 64 MiB.
        pub heap_bytes: u64,
        /// Default 1 MiB; a multiple of 8, at most 8 MiB.
        pub segment_bytes: u32,
        /// 0 = sized from heap_bytes; else 2^hash_power slots.
        pub hash_power: u32,
        /// One of `SEGCACHE_EVICT_*` (default `SEGCACHE_EVICT_S3FIFO`).
        pub eviction: i32,
        /// MERGE: most segments one merge pass combines (default 8).
        pub merge_max: i32,
        /// MERGE: sources absorbed per merged segment, 2 ..= merge_max (default 0:
        /// min(4, merge_max)).
        pub merge_target: i32,
        /// MERGE: if > 0, compact neighbours each at most 1/merge_compact
        /// full after deletes (default 0: off).
        pub merge_compact: i32,
        /// S3FIFO: share of segments in the admission pool, 0.01 to 0.9
        /// (default 0.1).
        pub s3fifo_admission_ratio: f64,
        /// Nonzero: the heap and the initial hashtable are made resident at
        /// open, so that no write pays a first-touch page fault (default 0).
        pub prefault: u32,
    }

    /// Statistics filled by [`segcache_stats_get`]; set `size` to
    /// `size_of::<segcache_stats>()` before the call.
    #[derive(Default)]
    pub struct segcache_stats {
        /// `sizeof(segcache_stats)`, set by the caller.
        pub size: u32,
        /// Live items (expired ones count until `segcache_expire`).
        pub items: u64,
        /// Bytes of live items.
        pub item_bytes: u64,
        /// Configured item memory.
        pub heap_bytes: u64,
        /// Memory of the hashtable.
        pub hashtable_bytes: u64,
        /// Segments in the heap.
        pub segments_total: u64,
        /// Segments free.
        pub segments_free: u64,
        /// Lookups.
        pub gets: u64,
        /// Lookups that found the key.
        pub hits: u64,
        /// Lookups that did not.
        pub misses: u64,
        /// Stores.
        pub sets: u64,
        /// Deletes.
        pub deletes: u64,
        /// Items evicted.
        pub evicted_items: u64,
        /// Items expired.
        pub expired_items: u64,
        /// Segments evicted.
        pub evicted_segments: u64,
        /// Segments expired.
        pub expired_segments: u64,
        /// Segments reclaimed by merge or by S3-FIFO compaction.
        pub merged_segments: u64,
        /// Items copied by merge, compaction or S3-FIFO promotion.
        pub promoted_items: u64,
        /// Doublings of the hashtable since open.
        pub hashtable_growths: u64,
        /// Segments that pay for the table's growth (no items, pages returned).
        pub segments_retired: u64,
    }

    /// The cache, buffer and outputs of [`segcache_get_buf`], set up once
    /// and reused. (No `Default`: a raw pointer has none; see below.)
    pub struct segcache_getbuf {
        /// The cache to read.
        pub cache: segcache_t,
        /// Where the value is copied (NULL only if `cap` is 0).
        pub buf: *mut c_void,
        /// Bytes at `buf`.
        pub cap: usize,
        /// Out: as `segcache_get`'s `*vlen`.
        pub vlen: usize,
        /// Out: the item's cas token on `SEGCACHE_OK`.
        pub cas: u64,
    }
}

impl Default for segcache_getbuf {
    /// No cache (0, never a handle), no buffer.
    fn default() -> Self {
        segcache_getbuf {
            cache: 0,
            buf: core::ptr::null_mut(),
            cap: 0,
            vlen: 0,
            cas: 0,
        }
    }
}

functions! {
    /// A static string for every status, and a generic one for unknown values.
    pub fn segcache_strerror(status: c_int) -> *const c_char;
    /// `major*10000 + minor*100 + patch` of the library.
    pub fn segcache_version() -> u32;
    /// An exported call that does nothing: the cost floor of a call into the library.
    pub fn segcache_noop();
    /// Fills `opts` with the defaults.
    pub fn segcache_options_init(opts: *mut segcache_options);
    /// Opens a cache (`opts` NULL = defaults) and writes its handle to `out`.
    pub fn segcache_open(opts: *const segcache_options, out: *mut segcache_t) -> c_int;
    /// Closes a handle; `0` is a no-op OK, a second close `SEGCACHE_EBADHANDLE`.
    pub fn segcache_close(cache: segcache_t) -> c_int;
    /// Stores an item; `ttl` in seconds, 0 = never expires.
    pub fn segcache_set(c: segcache_t, key: *const c_void, klen: usize, val: *const c_void, vlen: usize, ttl: u32) -> c_int;
    /// Stores an item only if absent (`SEGCACHE_EEXISTS` otherwise).
    pub fn segcache_add(c: segcache_t, key: *const c_void, klen: usize, val: *const c_void, vlen: usize, ttl: u32) -> c_int;
    /// Stores an item only if present (`SEGCACHE_ENOTFOUND` otherwise).
    pub fn segcache_replace(c: segcache_t, key: *const c_void, klen: usize, val: *const c_void, vlen: usize, ttl: u32) -> c_int;
    /// Stores an item only if its cas token is still `cas`.
    pub fn segcache_cas(c: segcache_t, key: *const c_void, klen: usize, val: *const c_void, vlen: usize, ttl: u32, cas: u64) -> c_int;
    /// `segcache_set`, `_add`, `_replace` or `_cas` (`op`: `SEGCACHE_STORE_*`)
    /// that also stores the new item's cas token in `*new_cas` (may be NULL).
    pub fn segcache_store(c: segcache_t, op: c_int, key: *const c_void, klen: usize, val: *const c_void, vlen: usize, ttl: u32, cas: u64, new_cas: *mut u64) -> c_int;
    /// Copies the value into `buf`; `*vlen` is set whenever found.
    pub fn segcache_get(c: segcache_t, key: *const c_void, klen: usize, buf: *mut c_void, cap: usize, vlen: *mut usize, cas: *mut u64) -> c_int;
    /// `segcache_get` with the cache, buffer and outputs in `*b`
    /// (for dynamic FFIs, where each call argument costs a conversion).
    pub fn segcache_get_buf(b: *mut segcache_getbuf, key: *const c_void, klen: usize) -> c_int;
    /// Removes an item (`SEGCACHE_ENOTFOUND` if absent).
    pub fn segcache_delete(c: segcache_t, key: *const c_void, klen: usize) -> c_int;
    /// Removes an item only if its cas token is still `cas`.
    pub fn segcache_delete_cas(c: segcache_t, key: *const c_void, klen: usize, cas: u64) -> c_int;
    /// Adds `delta` to a numeric value (wraps at 2^64).
    pub fn segcache_incr(c: segcache_t, key: *const c_void, klen: usize, delta: u64, result: *mut u64) -> c_int;
    /// Subtracts `delta` from a numeric value (saturates at 0).
    pub fn segcache_decr(c: segcache_t, key: *const c_void, klen: usize, delta: u64, result: *mut u64) -> c_int;
    /// Eagerly frees expired segments.
    pub fn segcache_expire(c: segcache_t) -> c_int;
    /// Removes every item.
    pub fn segcache_clear(c: segcache_t) -> c_int;
    /// Fills `out` (whose `size` the caller set).
    pub fn segcache_stats_get(c: segcache_t, out: *mut segcache_stats) -> c_int;
    /// Looks up `n` keys in one call.
    pub fn segcache_get_multi(c: segcache_t, n: usize, keys: *const *const c_void, klens: *const usize, bufs: *const *mut c_void, caps: *const usize, vlens: *mut usize, statuses: *mut c_int) -> c_int;
    /// Stores `n` items in one call (`ttls` may be NULL: never expire).
    pub fn segcache_set_multi(c: segcache_t, n: usize, keys: *const *const c_void, klens: *const usize, vals: *const *const c_void, vlens: *const usize, ttls: *const u32, statuses: *mut c_int) -> c_int;
    /// Removes `n` keys in one call.
    pub fn segcache_delete_multi(c: segcache_t, n: usize, keys: *const *const c_void, klens: *const usize, statuses: *mut c_int) -> c_int;
    /// Sets how many threads may run library code at once (GOMAXPROCS);
    /// returns the previous value; `n < 1` only reads it.
    pub fn segcache_set_max_procs(n: c_int) -> c_int;
}

// The layout the C header implies on LP64 targets (every target the library
// is built for): checked at compile time, so a wrong field type or order
// here fails the build before any test runs.
const _: () = {
    assert!(core::mem::size_of::<segcache_t>() == 8);
    assert!(core::mem::size_of::<segcache_options>() == 56);
    assert!(core::mem::align_of::<segcache_options>() == 8);
    assert!(core::mem::offset_of!(segcache_options, heap_bytes) == 8);
    assert!(core::mem::offset_of!(segcache_options, eviction) == 24);
    assert!(core::mem::offset_of!(segcache_options, s3fifo_admission_ratio) == 40);
    assert!(core::mem::offset_of!(segcache_options, prefault) == 48);
    assert!(core::mem::size_of::<segcache_stats>() == 160);
    assert!(core::mem::align_of::<segcache_stats>() == 8);
    assert!(core::mem::offset_of!(segcache_stats, items) == 8);
    assert!(core::mem::offset_of!(segcache_stats, expired_segments) == 120);
    assert!(core::mem::offset_of!(segcache_stats, promoted_items) == 136);
    assert!(core::mem::offset_of!(segcache_stats, segments_retired) == 152);
    // The size fields the library checks against.
    assert!(
        core::mem::offset_of!(segcache_options, merge_max) == SEGCACHE_OPTIONS_MIN_SIZE as usize
    );
    assert!(
        core::mem::offset_of!(segcache_stats, merged_segments) == SEGCACHE_STATS_MIN_SIZE as usize
    );
};
