//! Safe Rust API over `libsegcache.so`, the Segcache engine (NSDI'21):
//! a segment-structured in-memory key-value cache with a few bytes of
//! overhead per item, expiry by the segment and lock-free lookups.
//!
//! ```
//! use segcache::{Cache, Eviction};
//!
//! let cache = Cache::builder()
//!     .heap_bytes(16 << 20)
//!     .segment_bytes(256 << 10)
//!     .eviction(Eviction::Merge)
//!     .build()?;
//! cache.set("greeting", "hello", 0)?; // ttl in seconds, 0 = never expires
//! assert_eq!(cache.get("greeting")?.as_deref(), Some(&b"hello"[..]));
//!
//! // Reuse one buffer across lookups to avoid an allocation per get.
//! let mut buf = Vec::new();
//! assert!(cache.get_into("greeting", &mut buf)?);
//! assert_eq!(buf, b"hello");
//! assert!(!cache.get_into("absent", &mut buf)?);
//! # Ok::<(), segcache::Error>(())
//! ```
//!
//! Keys are 1 to 255 bytes of anything, values 0 bytes up to what fits in
//! one segment; both are taken as `impl AsRef<[u8]>` (`&str`, `&[u8]`,
//! `Vec<u8>`, `b"..."`). Values are copied in and out of the cache: nothing
//! returned borrows from it.
//!
//! A [`Cache`] is `Send + Sync`: share one between threads with an `Arc`.
//!
//! The library is linked from `SEGCACHE_LIB_DIR`, else an installed one
//! that `pkg-config` finds (`segcache.pc`), else the repository's `build/`
//! directory (see `segcache-sys`'s build script). It hosts a Go runtime, which
//! has consequences for the host process, documented in
//! `include/segcache.h`: in short, a child after `fork()` cannot use the
//! library (every call there fails with [`Error::Forked`]), and prefer long-lived threads (a thread's first call into the
//! library costs microseconds, later calls tens of nanoseconds).
#![deny(missing_docs)]

use core::ffi::{c_int, c_void};
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::str::FromStr;

pub use segcache_sys as sys;

mod error;
use error::check;
pub use error::Error;

/// The signature shared by `segcache_set`, `segcache_add` and `segcache_replace`.
type StoreFn =
    unsafe extern "C" fn(sys::segcache_t, *const c_void, usize, *const c_void, usize, u32) -> c_int;

/// The eviction policy of a cache, chosen when it is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Eviction {
    /// Never evict: writes fail with [`Error::NoSpace`] once the heap is
    /// full and nothing has expired.
    None,
    /// Evict a random segment.
    Random,
    /// Pick a random TTL bucket and evict its oldest segment.
    RandomFifo,
    /// Evict the oldest segment.
    Fifo,
    /// Evict the segment closest to expiration.
    Cte,
    /// Evict the segment with the fewest live bytes.
    Util,
    /// The paper's merge eviction: merge consecutive segments of one TTL
    /// bucket, keeping the frequently read items.
    Merge,
    /// S3-FIFO over segments: an admission pool, a main pool and a ghost set.
    /// The default.
    #[default]
    S3Fifo,
}

/// The write [`Cache::store`] performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreOp {
    /// As [`Cache::set`].
    Set,
    /// As [`Cache::add`].
    Add,
    /// As [`Cache::replace`].
    Replace,
    /// As [`Cache::cas`], with the token given to [`Cache::store`].
    Cas,
}

impl StoreOp {
    /// The C constant (`SEGCACHE_STORE_*`) of this op.
    pub fn raw(self) -> c_int {
        match self {
            StoreOp::Set => sys::SEGCACHE_STORE_SET,
            StoreOp::Add => sys::SEGCACHE_STORE_ADD,
            StoreOp::Replace => sys::SEGCACHE_STORE_REPLACE,
            StoreOp::Cas => sys::SEGCACHE_STORE_CAS,
        }
    }
}

impl Eviction {
    /// Every policy, in the order of the C constants.
    pub const ALL: [Eviction; 8] = [
        Eviction::None,
        Eviction::Random,
        Eviction::RandomFifo,
        Eviction::Fifo,
        Eviction::Cte,
        Eviction::Util,
        Eviction::Merge,
        Eviction::S3Fifo,
    ];

    /// The C constant (`SEGCACHE_EVICT_*`) of this policy.
    pub fn raw(self) -> c_int {
        match self {
            Eviction::None => sys::SEGCACHE_EVICT_NONE,
            Eviction::Random => sys::SEGCACHE_EVICT_RANDOM,
            Eviction::RandomFifo => sys::SEGCACHE_EVICT_RANDOM_FIFO,
            Eviction::Fifo => sys::SEGCACHE_EVICT_FIFO,
            Eviction::Cte => sys::SEGCACHE_EVICT_CTE,
            Eviction::Util => sys::SEGCACHE_EVICT_UTIL,
            Eviction::Merge => sys::SEGCACHE_EVICT_MERGE,
            Eviction::S3Fifo => sys::SEGCACHE_EVICT_S3FIFO,
        }
    }

    /// The policy's name, as accepted by [`str::parse`]: `"none"`,
    /// `"random"`, `"random_fifo"`, `"fifo"`, `"cte"`, `"util"`, `"merge"`,
    /// `"s3fifo"`.
    pub fn name(self) -> &'static str {
        match self {
            Eviction::None => "none",
            Eviction::Random => "random",
            Eviction::RandomFifo => "random_fifo",
            Eviction::Fifo => "fifo",
            Eviction::Cte => "cte",
            Eviction::Util => "util",
            Eviction::Merge => "merge",
            Eviction::S3Fifo => "s3fifo",
        }
    }
}

impl FromStr for Eviction {
    type Err = Error;

    /// Parses a policy name (case-insensitive, `-` allowed for `_`);
    /// [`Error::Invalid`] for an unknown name.
    ///
    /// ```
    /// use segcache::Eviction;
    /// assert_eq!("random-fifo".parse(), Ok(Eviction::RandomFifo));
    /// assert_eq!("lru".parse::<Eviction>(), Err(segcache::Error::Invalid));
    /// ```
    fn from_str(s: &str) -> Result<Eviction, Error> {
        let s = s.to_ascii_lowercase().replace('-', "_");
        Eviction::ALL
            .into_iter()
            .find(|e| e.name() == s)
            .ok_or(Error::Invalid)
    }
}

/// Options of a new [`Cache`]; start from [`Cache::builder`]. Every option
/// left alone keeps the library's default. Values are checked by the
/// library when [`Builder::build`] opens the cache ([`Error::Invalid`]).
#[derive(Debug, Clone)]
pub struct Builder {
    opts: sys::segcache_options,
}

impl Builder {
    fn new() -> Builder {
        let mut opts = sys::segcache_options::default();
        // SAFETY: opts is a valid, writable segcache_options.
        unsafe { sys::segcache_options_init(&mut opts) };
        Builder { opts }
    }

    /// Item memory in bytes (default 64 MiB).
    pub fn heap_bytes(mut self, bytes: u64) -> Builder {
        self.opts.heap_bytes = bytes;
        self
    }

    /// Segment size in bytes (default 1 MiB): a multiple of 8, from 4 KiB
    /// to 8 MiB. An item must fit in one segment.
    pub fn segment_bytes(mut self, bytes: u32) -> Builder {
        self.opts.segment_bytes = bytes;
        self
    }

    /// The hashtable starts with 2^`power` slots; 0 (the default) gives one
    /// slot per 256 heap bytes. It doubles when it fills, retiring segments
    /// worth its growth (see [`Stats::segments_retired`]).
    pub fn hash_power(mut self, power: u32) -> Builder {
        self.opts.hash_power = power;
        self
    }

    /// The eviction policy (default [`Eviction::S3Fifo`]).
    pub fn eviction(mut self, policy: Eviction) -> Builder {
        self.opts.eviction = policy.raw();
        self
    }

    /// Merge eviction: the most segments merged in one pass.
    pub fn merge_max(mut self, segments: i32) -> Builder {
        self.opts.merge_max = segments;
        self
    }

    /// Merge eviction: how many segments are merged into one.
    pub fn merge_target(mut self, segments: i32) -> Builder {
        self.opts.merge_target = segments;
        self
    }

    /// Merge eviction: segments at most 1/`n` full are compacted.
    pub fn merge_compact(mut self, n: i32) -> Builder {
        self.opts.merge_compact = n;
        self
    }

    /// S3-FIFO: the share of the heap given to the admission pool.
    pub fn s3fifo_admission_ratio(mut self, ratio: f64) -> Builder {
        self.opts.s3fifo_admission_ratio = ratio;
        self
    }

    /// Make the heap and the initial hashtable resident when the cache
    /// opens (every page written once), so that no write pays a
    /// first-touch page fault; the cache's resident memory is then its
    /// full size from the start. Default: resident as writes reach it.
    pub fn prefault(mut self, on: bool) -> Builder {
        self.opts.prefault = u32::from(on);
        self
    }

    /// The raw options as they will be passed to `segcache_open`.
    pub fn options(&self) -> &sys::segcache_options {
        &self.opts
    }

    /// Opens a cache with these options.
    ///
    /// ```
    /// use segcache::{Cache, Error};
    /// // A segment size that is not a multiple of 8 is refused.
    /// let err = Cache::builder().segment_bytes(4097).build().unwrap_err();
    /// assert_eq!(err, Error::Invalid);
    /// ```
    pub fn build(&self) -> Result<Cache, Error> {
        let mut handle: sys::segcache_t = 0;
        // SAFETY: both pointers are valid for the duration of the call.
        check(unsafe { sys::segcache_open(&self.opts, &mut handle) })?;
        if handle == 0 {
            // The contract says 0 is never a valid handle.
            return Err(Error::Internal);
        }
        Ok(Cache::from_handle(handle))
    }
}

/// Counters and gauges of a cache ([`Cache::stats`]); the fields of the C
/// `segcache_stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Live items. An item past its expiry counts until [`Cache::expire`]
    /// drops its segment (expiry is by segment; a read already reports it
    /// absent).
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
    /// Lookups: calls into the library that looked a key up, counting
    /// one that found the buffer too small. The reads of this crate make
    /// one for a value of up to 256 bytes and two for a larger one
    /// ([`Cache::get_into`] and [`Cache::gets_into`]: one when the value
    /// fits the buffer's capacity).
    pub gets: u64,
    /// Lookups that found their key.
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
    /// Doublings of the hashtable since the cache was opened.
    pub hashtable_growths: u64,
    /// Segments retired to pay for the table's growth: they hold no items
    /// and their pages are returned to the system.
    pub segments_retired: u64,
}

/// The byte slices of `items`, each taken with one `as_ref` call. The
/// batch calls hand the library a pointer and a length per item, and both
/// must come from the same slice: `AsRef` is safe to implement and nothing
/// makes it return the same slice twice, so the pointer of one call with
/// the length of another could name memory past the item's allocation.
fn slices<'a, T: AsRef<[u8]> + ?Sized + 'a>(
    items: impl IntoIterator<Item = &'a T>,
) -> Vec<&'a [u8]> {
    items.into_iter().map(AsRef::as_ref).collect()
}

/// Size of the stack buffer a plain [`Cache::get`] tries first, so that a
/// small value costs one call and one exact allocation.
const GET_STACK_BYTES: usize = 256;

/// A cache: a handle to a Segcache instance in `libsegcache.so`, closed on
/// drop. Share it between threads with an `Arc`.
///
/// ```
/// use segcache::{Cache, Error};
/// use std::sync::Arc;
///
/// let cache = Arc::new(Cache::new()?);
/// cache.set("hits", "0", 0)?;
/// let workers: Vec<_> = (0..4)
///     .map(|_| {
///         let cache = Arc::clone(&cache);
///         std::thread::spawn(move || {
///             for _ in 0..100 {
///                 cache.incr("hits", 1).unwrap();
///             }
///         })
///     })
///     .collect();
/// for w in workers {
///     w.join().unwrap();
/// }
/// assert_eq!(cache.get("hits")?.as_deref(), Some(&b"400"[..]));
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug)]
pub struct Cache {
    handle: sys::segcache_t,
    // The handle is an integer, so without this marker the compiler would
    // derive Send and Sync on its own, for a reason that has nothing to do
    // with why they hold. The marker removes them; they are granted below,
    // with the reason.
    _not_auto: PhantomData<*const ()>,
}

// SAFETY: the C API is thread-safe on a handle: every function may be
// called concurrently from any thread on the same handle (include/
// segcache.h, "Thread safety"), and the library keeps no per-thread state
// tied to a handle. A Cache owns nothing but the handle, so moving it to
// another thread (Send) and calling `&self` methods from several threads at
// once (Sync) are both covered by that contract. Close is the only call
// that ends the handle: Drop and `close` take the Cache by `&mut`/value, so
// safe Rust cannot close it while another call is in flight, and even if it
// could, the contract says such calls finish or return
// SEGCACHE_EBADHANDLE, without touching freed memory. No call retains a
// pointer to Rust memory after it returns.
unsafe impl Send for Cache {}
unsafe impl Sync for Cache {}

impl Cache {
    /// A [`Builder`] holding the library's default options.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Opens a cache with the default options (64 MiB of items, 1 MiB
    /// segments, S3-FIFO eviction: [`Eviction::default`]).
    pub fn new() -> Result<Cache, Error> {
        Builder::new().build()
    }

    fn from_handle(handle: sys::segcache_t) -> Cache {
        Cache {
            handle,
            _not_auto: PhantomData,
        }
    }

    /// The raw handle, for calls through [`sys`]. It stays owned by this
    /// `Cache`: do not close it.
    pub fn as_raw(&self) -> sys::segcache_t {
        self.handle
    }

    /// One of the C ABI's store calls (set, add, replace: the same
    /// arguments, different conditions) on this cache.
    fn store_with(&self, f: StoreFn, k: &[u8], v: &[u8], ttl: u32) -> Result<(), Error> {
        // SAFETY: each pointer is valid for its length during the call.
        check(unsafe {
            f(
                self.handle,
                k.as_ptr().cast(),
                k.len(),
                v.as_ptr().cast(),
                v.len(),
                ttl,
            )
        })
    }

    /// Stores `value` under `key`, replacing any previous value. `ttl` is
    /// in seconds; 0 means the item never expires.
    ///
    /// Errors: [`Error::Invalid`] for an empty key, [`Error::TooLarge`] for
    /// a key over 255 bytes or an item larger than a segment,
    /// [`Error::NoSpace`] when nothing can be evicted.
    pub fn set(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        ttl: u32,
    ) -> Result<(), Error> {
        self.store_with(sys::segcache_set, key.as_ref(), value.as_ref(), ttl)
    }

    /// Stores `value` only if `key` is absent; [`Error::Exists`] if present.
    ///
    /// ```
    /// # let cache = segcache::Cache::new()?;
    /// cache.add("k", "first", 0)?;
    /// assert_eq!(cache.add("k", "second", 0), Err(segcache::Error::Exists));
    /// # Ok::<(), segcache::Error>(())
    /// ```
    pub fn add(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        ttl: u32,
    ) -> Result<(), Error> {
        self.store_with(sys::segcache_add, key.as_ref(), value.as_ref(), ttl)
    }

    /// Stores `value` only if `key` is present; [`Error::NotFound`] if absent.
    pub fn replace(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        ttl: u32,
    ) -> Result<(), Error> {
        self.store_with(sys::segcache_replace, key.as_ref(), value.as_ref(), ttl)
    }

    /// Stores `value` only if the item's cas token is still `token` (from
    /// [`Cache::gets`]): [`Error::Exists`] if the item changed since,
    /// [`Error::NotFound`] if it is gone.
    ///
    /// ```
    /// # let cache = segcache::Cache::new()?;
    /// cache.set("k", "v1", 0)?;
    /// let (_, token) = cache.gets("k")?.unwrap();
    /// cache.cas("k", "v2", 0, token)?;
    /// // The token is stale now.
    /// assert_eq!(cache.cas("k", "v3", 0, token), Err(segcache::Error::Exists));
    /// # Ok::<(), segcache::Error>(())
    /// ```
    pub fn cas(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        ttl: u32,
        token: u64,
    ) -> Result<(), Error> {
        self.store(StoreOp::Cas, key, value, ttl, token).map(|_| ())
    }

    /// The value of `key`, or `None` if absent or expired.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.get_owned(key.as_ref())?.map(|(v, _)| v))
    }

    /// The value of `key` and its cas token, in a new exact-sized Vec.
    ///
    /// Every call into the library is a lookup in the cache's counters
    /// (`gets`, `hits`), a too-small buffer included, so the first try uses
    /// a stack buffer: one call and one exact allocation for small values;
    /// larger values take a second call with a buffer of their size.
    fn get_owned(&self, k: &[u8]) -> Result<Option<(Vec<u8>, u64)>, Error> {
        let mut stack = MaybeUninit::<[u8; GET_STACK_BYTES]>::uninit();
        let mut vlen = 0usize;
        let mut token = 0u64;
        // SAFETY: the buffer is valid for GET_STACK_BYTES writable bytes;
        // the library writes at most `cap` bytes and only reads key.
        let rc = unsafe {
            sys::segcache_get(
                self.handle,
                k.as_ptr().cast(),
                k.len(),
                stack.as_mut_ptr().cast(),
                GET_STACK_BYTES,
                &mut vlen,
                &mut token,
            )
        };
        match rc {
            sys::SEGCACHE_OK if vlen <= GET_STACK_BYTES => {
                // SAFETY: on OK the library wrote vlen (<= cap) bytes.
                let bytes =
                    unsafe { std::slice::from_raw_parts(stack.as_ptr().cast::<u8>(), vlen) };
                Ok(Some((bytes.to_vec(), token)))
            }
            sys::SEGCACHE_OK => Err(Error::Internal),
            sys::SEGCACHE_ENOTFOUND => Ok(None),
            sys::SEGCACHE_ERANGE => self.get_sized(k, vlen),
            other => Err(Error::from_code(other).unwrap_or(Error::Internal)),
        }
    }

    /// The value of `key` and its token, into a new Vec of `len` bytes'
    /// capacity: the length a call that found the buffer too small
    /// reported, so one more call does unless the value grew meanwhile.
    fn get_sized(&self, k: &[u8], len: usize) -> Result<Option<(Vec<u8>, u64)>, Error> {
        let mut buf = Vec::with_capacity(len);
        Ok(self.get_raw(k, &mut buf)?.map(|token| (buf, token)))
    }

    /// Copies the value of `key` into `buf`, replacing its contents, and
    /// returns whether the key was found (on a miss `buf` is left empty).
    /// `buf` grows as needed and keeps its capacity, so a loop that reuses
    /// one buffer allocates only when a value is larger than any before.
    ///
    /// ```
    /// # let cache = segcache::Cache::new()?;
    /// cache.set("big", vec![7u8; 10_000], 0)?;
    /// let mut buf = Vec::new();
    /// assert!(cache.get_into("big", &mut buf)?);
    /// assert_eq!(buf.len(), 10_000);
    /// # Ok::<(), segcache::Error>(())
    /// ```
    pub fn get_into(&self, key: impl AsRef<[u8]>, buf: &mut Vec<u8>) -> Result<bool, Error> {
        Ok(self.get_raw(key.as_ref(), buf)?.is_some())
    }

    /// The value of `key` and its cas token (for [`Cache::cas`]), or `None`.
    pub fn gets(&self, key: impl AsRef<[u8]>) -> Result<Option<(Vec<u8>, u64)>, Error> {
        self.get_owned(key.as_ref())
    }

    /// Like [`Cache::get_into`], returning the cas token when found.
    pub fn gets_into(
        &self,
        key: impl AsRef<[u8]>,
        buf: &mut Vec<u8>,
    ) -> Result<Option<u64>, Error> {
        self.get_raw(key.as_ref(), buf)
    }

    /// Copies the value into `buf`'s allocation, growing it and retrying
    /// on SEGCACHE_ERANGE (the value may grow again between two calls).
    fn get_raw(&self, key: &[u8], buf: &mut Vec<u8>) -> Result<Option<u64>, Error> {
        buf.clear();
        loop {
            let cap = buf.capacity();
            let mut vlen = 0usize;
            let mut token = 0u64;
            // SAFETY: buf's allocation has `cap` writable bytes (its length
            // is 0, so nothing is overwritten that Rust considers live);
            // the library writes at most `cap` bytes into it.
            let rc = unsafe {
                sys::segcache_get(
                    self.handle,
                    key.as_ptr().cast(),
                    key.len(),
                    buf.as_mut_ptr().cast(),
                    cap,
                    &mut vlen,
                    &mut token,
                )
            };
            match rc {
                sys::SEGCACHE_OK => {
                    if vlen > cap {
                        // Never trust a length past the buffer.
                        return Err(Error::Internal);
                    }
                    // SAFETY: the library initialized the first vlen bytes.
                    unsafe { buf.set_len(vlen) };
                    return Ok(Some(token));
                }
                sys::SEGCACHE_ENOTFOUND => return Ok(None),
                sys::SEGCACHE_ERANGE if vlen > cap => buf.reserve(vlen),
                // ERANGE with a length that fits would loop forever.
                sys::SEGCACHE_ERANGE => return Err(Error::Internal),
                other => return Err(Error::from_code(other).unwrap_or(Error::Internal)),
            }
        }
    }

    /// Looks up many keys in one call into the library (which amortizes
    /// the cost of the call) and returns their values in the same order,
    /// `None` for absent keys.
    ///
    /// ```
    /// # let cache = segcache::Cache::new()?;
    /// cache.set("a", "1", 0)?;
    /// cache.set("c", "3", 0)?;
    /// let got = cache.get_many(&["a", "b", "c"])?;
    /// assert_eq!(got, vec![Some(b"1".to_vec()), None, Some(b"3".to_vec())]);
    /// # Ok::<(), segcache::Error>(())
    /// ```
    pub fn get_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Vec<u8>>>, Error> {
        // Keys go to the library CHUNK at a time, into one scratch area of
        // SLOT bytes per key that is reused across chunks; a value that
        // does not fit its slot is fetched again on its own, exactly sized.
        const SLOT: usize = 256;
        const CHUNK: usize = 256;
        let mut out = Vec::with_capacity(keys.len());
        let mut scratch = vec![0u8; SLOT * CHUNK.min(keys.len())];
        let base = scratch.as_mut_ptr();
        // SAFETY (here and below): i * SLOT < scratch.len() for i < CHUNK.
        let bufs: Vec<*mut core::ffi::c_void> = (0..CHUNK.min(keys.len()))
            .map(|i| unsafe { base.add(i * SLOT) }.cast())
            .collect();
        let caps = vec![SLOT; bufs.len()];
        let mut vlens = vec![0usize; bufs.len()];
        let mut statuses: Vec<c_int> = vec![0; bufs.len()];
        let mut kptrs: Vec<*const core::ffi::c_void> = Vec::with_capacity(bufs.len());
        let mut klens: Vec<usize> = Vec::with_capacity(bufs.len());
        // Each key's slice is taken once (see `slices`), so its pointer and
        // length come from the same slice.
        let mut ks: Vec<&[u8]> = Vec::with_capacity(bufs.len());
        for chunk in keys.chunks(CHUNK) {
            let n = chunk.len();
            ks.clear();
            ks.extend(chunk.iter().map(AsRef::as_ref));
            kptrs.clear();
            klens.clear();
            kptrs.extend(ks.iter().map(|k| k.as_ptr().cast::<core::ffi::c_void>()));
            klens.extend(ks.iter().map(|k| k.len()));
            // SAFETY: every array has at least n elements; each key pointer
            // is valid for its length and each buffer for SLOT bytes for the
            // whole call; nothing else touches scratch during it.
            check(unsafe {
                sys::segcache_get_multi(
                    self.handle,
                    n,
                    kptrs.as_ptr(),
                    klens.as_ptr(),
                    bufs.as_ptr(),
                    caps.as_ptr(),
                    vlens.as_mut_ptr(),
                    statuses.as_mut_ptr(),
                )
            })?;
            for (i, &key) in ks.iter().enumerate() {
                match statuses[i] {
                    sys::SEGCACHE_OK if vlens[i] <= SLOT => {
                        // SAFETY: the library wrote vlens[i] bytes at bufs[i].
                        let v =
                            unsafe { std::slice::from_raw_parts(bufs[i].cast::<u8>(), vlens[i]) };
                        out.push(Some(v.to_vec()));
                    }
                    sys::SEGCACHE_OK => return Err(Error::Internal),
                    sys::SEGCACHE_ENOTFOUND => out.push(None),
                    // Larger than the slot (and than get's stack buffer):
                    // one retry of the length the batch reported.
                    sys::SEGCACHE_ERANGE => {
                        out.push(self.get_sized(key, vlens[i])?.map(|(v, _)| v))
                    }
                    other => return Err(Error::from_code(other).unwrap_or(Error::Internal)),
                }
            }
        }
        Ok(out)
    }

    /// Stores many items in one call into the library, in order (a key
    /// repeated in `items` ends with its last value), all with the same
    /// `ttl`. Returns each item's own outcome, as [`Cache::set`] would; the
    /// outer error is for the call as a whole (a closed handle).
    ///
    /// ```
    /// # let cache = segcache::Cache::new()?;
    /// let results = cache.set_many(&[("a", "1"), ("", "empty key"), ("b", "2")], 0)?;
    /// assert_eq!(results, vec![Ok(()), Err(segcache::Error::Invalid), Ok(())]);
    /// assert_eq!(cache.get("b")?.as_deref(), Some(&b"2"[..]));
    /// # Ok::<(), segcache::Error>(())
    /// ```
    pub fn set_many<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        items: &[(K, V)],
        ttl: u32,
    ) -> Result<Vec<Result<(), Error>>, Error> {
        let n = items.len();
        let ks = slices(items.iter().map(|(k, _)| k));
        let vs = slices(items.iter().map(|(_, v)| v));
        let kptrs: Vec<*const core::ffi::c_void> = ks.iter().map(|k| k.as_ptr().cast()).collect();
        let klens: Vec<usize> = ks.iter().map(|k| k.len()).collect();
        let vptrs: Vec<*const core::ffi::c_void> = vs.iter().map(|v| v.as_ptr().cast()).collect();
        let vlens: Vec<usize> = vs.iter().map(|v| v.len()).collect();
        let ttls = vec![ttl; n];
        let mut statuses: Vec<c_int> = vec![0; n];
        // SAFETY: every array has n elements; each pointer is valid for its
        // length for the whole call.
        check(unsafe {
            sys::segcache_set_multi(
                self.handle,
                n,
                kptrs.as_ptr(),
                klens.as_ptr(),
                vptrs.as_ptr(),
                vlens.as_ptr(),
                ttls.as_ptr(),
                statuses.as_mut_ptr(),
            )
        })?;
        Ok(statuses.into_iter().map(check).collect())
    }

    /// Removes many keys in one call into the library. Returns, for each
    /// key, whether it was present (or its own error, as [`Cache::delete`]
    /// would); the outer error is for the call as a whole.
    pub fn delete_many<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
    ) -> Result<Vec<Result<bool, Error>>, Error> {
        let n = keys.len();
        let ks = slices(keys);
        let kptrs: Vec<*const core::ffi::c_void> = ks.iter().map(|k| k.as_ptr().cast()).collect();
        let klens: Vec<usize> = ks.iter().map(|k| k.len()).collect();
        let mut statuses: Vec<c_int> = vec![0; n];
        // SAFETY: every array has n elements; each key pointer is valid for
        // its length for the whole call.
        check(unsafe {
            sys::segcache_delete_multi(
                self.handle,
                n,
                kptrs.as_ptr(),
                klens.as_ptr(),
                statuses.as_mut_ptr(),
            )
        })?;
        Ok(statuses
            .into_iter()
            .map(|st| match check(st) {
                Ok(()) => Ok(true),
                Err(Error::NotFound) => Ok(false),
                Err(e) => Err(e),
            })
            .collect())
    }

    /// Removes `key`; returns whether it was present.
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<bool, Error> {
        let k = key.as_ref();
        // SAFETY: the key pointer is valid for its length during the call.
        match check(unsafe { sys::segcache_delete(self.handle, k.as_ptr().cast(), k.len()) }) {
            Ok(()) => Ok(true),
            Err(Error::NotFound) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Writes as `op` says ([`StoreOp::Cas`] reads `token`) and returns the
    /// cas token of the item it stored: the token [`Cache::gets`] returns
    /// until the key is written again, so a chain of compare-and-swaps
    /// needs no `gets` in between (which could see another writer's item).
    /// Errors are those of the write `op` names.
    ///
    /// ```
    /// use segcache::StoreOp;
    /// # let cache = segcache::Cache::new()?;
    /// let t1 = cache.store(StoreOp::Set, "k", "v1", 0, 0)?;
    /// let t2 = cache.store(StoreOp::Cas, "k", "v2", 0, t1)?;
    /// assert_eq!(cache.gets("k")?, Some((b"v2".to_vec(), t2)));
    /// assert_eq!(cache.store(StoreOp::Cas, "k", "v3", 0, t1), Err(segcache::Error::Exists));
    /// # Ok::<(), segcache::Error>(())
    /// ```
    pub fn store(
        &self,
        op: StoreOp,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        ttl: u32,
        token: u64,
    ) -> Result<u64, Error> {
        let (k, v) = (key.as_ref(), value.as_ref());
        let mut stored = 0u64;
        // SAFETY: as in set; `stored` outlives the call.
        check(unsafe {
            sys::segcache_store(
                self.handle,
                op.raw(),
                k.as_ptr().cast(),
                k.len(),
                v.as_ptr().cast(),
                v.len(),
                ttl,
                token,
                &mut stored,
            )
        })?;
        Ok(stored)
    }

    /// Removes `key` only if the item's cas token is still `token` (from
    /// [`Cache::gets`]), in one step, so a write made after the token was
    /// read is never removed: [`Error::Exists`] if the item changed since,
    /// [`Error::NotFound`] if it is gone.
    ///
    /// ```
    /// # let cache = segcache::Cache::new()?;
    /// cache.set("k", "v1", 0)?;
    /// let (_, token) = cache.gets("k")?.unwrap();
    /// cache.set("k", "v2", 0)?;
    /// assert_eq!(cache.delete_cas("k", token), Err(segcache::Error::Exists));
    /// let (_, token) = cache.gets("k")?.unwrap();
    /// cache.delete_cas("k", token)?;
    /// assert_eq!(cache.get("k")?, None);
    /// # Ok::<(), segcache::Error>(())
    /// ```
    pub fn delete_cas(&self, key: impl AsRef<[u8]>, token: u64) -> Result<(), Error> {
        let k = key.as_ref();
        // SAFETY: the key pointer is valid for its length during the call.
        check(unsafe { sys::segcache_delete_cas(self.handle, k.as_ptr().cast(), k.len(), token) })
    }

    /// Adds `delta` to the number stored under `key` and returns the new
    /// value (wrapping at 2^64). The value must have been stored as a
    /// canonical unsigned decimal (`"0"`, `"42"`): [`Error::NotNumeric`]
    /// otherwise, [`Error::NotFound`] if absent. The expiry is unchanged.
    ///
    /// ```
    /// # let cache = segcache::Cache::new()?;
    /// cache.set("n", "41", 0)?;
    /// assert_eq!(cache.incr("n", 1)?, 42);
    /// assert_eq!(cache.decr("n", 100)?, 0); // decr saturates at 0
    /// cache.set("s", "forty", 0)?;
    /// assert_eq!(cache.incr("s", 1), Err(segcache::Error::NotNumeric));
    /// # Ok::<(), segcache::Error>(())
    /// ```
    pub fn incr(&self, key: impl AsRef<[u8]>, delta: u64) -> Result<u64, Error> {
        let k = key.as_ref();
        let mut result = 0u64;
        // SAFETY: valid key and result pointers during the call.
        check(unsafe {
            sys::segcache_incr(self.handle, k.as_ptr().cast(), k.len(), delta, &mut result)
        })?;
        Ok(result)
    }

    /// Subtracts `delta` from the number stored under `key`, stopping at 0,
    /// and returns the new value. Errors as for [`Cache::incr`].
    pub fn decr(&self, key: impl AsRef<[u8]>, delta: u64) -> Result<u64, Error> {
        let k = key.as_ref();
        let mut result = 0u64;
        // SAFETY: valid key and result pointers during the call.
        check(unsafe {
            sys::segcache_decr(self.handle, k.as_ptr().cast(), k.len(), delta, &mut result)
        })?;
        Ok(result)
    }

    /// Frees the segments whose items have all expired, now rather than
    /// when memory is needed.
    pub fn expire(&self) -> Result<(), Error> {
        // SAFETY: no pointers.
        check(unsafe { sys::segcache_expire(self.handle) })
    }

    /// Removes every item.
    pub fn clear(&self) -> Result<(), Error> {
        // SAFETY: no pointers.
        check(unsafe { sys::segcache_clear(self.handle) })
    }

    /// A snapshot of the cache's counters and gauges.
    ///
    /// ```
    /// # let cache = segcache::Cache::new()?;
    /// cache.set("k", "v", 0)?;
    /// cache.get("k")?;
    /// let stats = cache.stats()?;
    /// assert_eq!((stats.items, stats.hits), (1, 1));
    /// # Ok::<(), segcache::Error>(())
    /// ```
    pub fn stats(&self) -> Result<Stats, Error> {
        let mut s = sys::segcache_stats {
            size: std::mem::size_of::<sys::segcache_stats>() as u32,
            ..Default::default()
        };
        // SAFETY: s is a valid segcache_stats whose size field says so.
        check(unsafe { sys::segcache_stats_get(self.handle, &mut s) })?;
        Ok(Stats {
            items: s.items,
            item_bytes: s.item_bytes,
            heap_bytes: s.heap_bytes,
            hashtable_bytes: s.hashtable_bytes,
            segments_total: s.segments_total,
            segments_free: s.segments_free,
            gets: s.gets,
            hits: s.hits,
            misses: s.misses,
            sets: s.sets,
            deletes: s.deletes,
            evicted_items: s.evicted_items,
            expired_items: s.expired_items,
            evicted_segments: s.evicted_segments,
            expired_segments: s.expired_segments,
            merged_segments: s.merged_segments,
            promoted_items: s.promoted_items,
            hashtable_growths: s.hashtable_growths,
            segments_retired: s.segments_retired,
        })
    }

    /// Closes the cache now and reports the library's status (dropping a
    /// `Cache` closes it too, ignoring the status).
    pub fn close(self) -> Result<(), Error> {
        let handle = self.handle;
        std::mem::forget(self);
        // SAFETY: the handle is closed exactly once: self was forgotten.
        check(unsafe { sys::segcache_close(handle) })
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        // SAFETY: the handle is ours and closed exactly once, here. An
        // error cannot be reported from drop; `close` reports it.
        unsafe { sys::segcache_close(self.handle) };
    }
}

/// Sets how many threads may run library code at once (the embedded Go
/// runtime's GOMAXPROCS) and returns the previous value; `0` only reads
/// it. The runtime reads the GOMAXPROCS environment variable only when the
/// library is loaded, and from the environment the process started with
/// (`std::env::set_var` before the first call is not seen), so this is the
/// way to tune it. Threads beyond
/// the limit still make progress, but wait for each other.
///
/// The library refuses an `n` above max(256, 4 × the CPUs the process may
/// run on); nothing changes then, and the result is 0, which is never a
/// previous value (so is any other failure, such as a call in a forked
/// child).
///
/// ```
/// let current = segcache::set_max_procs(0);
/// assert!(current >= 1);
/// assert_eq!(segcache::set_max_procs(current), current);
/// assert_eq!(segcache::set_max_procs(1 << 20), 0); // refused
/// assert_eq!(segcache::set_max_procs(0), current);
/// ```
pub fn set_max_procs(n: usize) -> usize {
    let n = c_int::try_from(n).unwrap_or(c_int::MAX);
    // SAFETY: no pointers; n < 1 only reads the value.
    let prev = unsafe { sys::segcache_set_max_procs(n) };
    usize::try_from(prev).unwrap_or(0)
}

/// The library's version as (major, minor, patch).
///
/// ```
/// let (major, minor, patch) = segcache::version();
/// assert!(major < 100 && minor < 100 && patch < 100);
/// ```
pub fn version() -> (u32, u32, u32) {
    // SAFETY: no arguments.
    let v = unsafe { sys::segcache_version() };
    (v / 10000, v / 100 % 100, v % 100)
}
