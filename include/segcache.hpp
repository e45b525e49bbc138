// segcache.hpp: the C++17 API of libsegcache, header-only, over the C API
// of segcache.h (installed beside it; link -lsegcache, or the CMake target
// segcache::segcache, or pkg-config segcache).
//
//   segcache::Cache cache(segcache::Options().heap_bytes(64 << 20));
//   cache.set("key", "value");
//   std::optional<std::string> v = cache.get("key");
//
// Ownership: Cache is move-only (RAII) and closes its handle in the
// destructor; a moved-from Cache holds no handle, and any call on it
// throws Error with SEGCACHE_EBADHANDLE.
//
// Errors: results that are a normal answer are values: an absent key is
// std::nullopt (get, gets, incr, decr) or false (add on a present key,
// replace/erase of an absent key, cas or erase_cas with a stale token).
// Every other failure throws segcache::Error, a std::runtime_error
// carrying the C status (status()) and the library's text. We chose
// exceptions over an expected-style result because std::expected needs
// C++23 and the failures left (key over 255 bytes, item over a segment, no
// space with eviction "none", bad options, a closed cache, out of memory)
// are exceptional for a cache client; a caller who wants no exceptions
// uses the C API.
//
// Keys and values are std::string_view: any bytes, NUL included; the
// library copies them, so the views need only live for the call.
//
// Threads: a Cache may be used from many threads at once, like the C
// handle. Moving or destroying it while other threads use it is, as for
// any C++ object, the caller's responsibility (the library itself stays
// safe: those calls get SEGCACHE_EBADHANDLE, which throws).
#ifndef SEGCACHE_HPP
#define SEGCACHE_HPP

#include <segcache.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace segcache {

// Error is thrown for every status other than success and the "absent"
// results an API returns as a value.
class Error : public std::runtime_error {
public:
    explicit Error(int status, const std::string &what)
        : std::runtime_error(what + ": " + segcache_strerror(status)), status_(status) {}
    int status() const noexcept { return status_; }

private:
    int status_;
};

namespace detail {
inline void check(int status, const char *what) {
    if (status != SEGCACHE_OK) throw Error(status, what);
}
// An empty std::string_view may have a null data(); the C API takes a
// pointer for every buffer, so pass a valid one for empty values.
inline const void *bytes(std::string_view s) noexcept { return s.empty() ? "" : s.data(); }
}  // namespace detail

// The version of the library actually loaded, as major*10000 + minor*100 +
// patch; compare with SEGCACHE_VERSION_NUMBER (this header's).
inline uint32_t library_version() noexcept { return segcache_version(); }
// Whether the loaded library has this header's major version (same ABI).
inline bool library_compatible() noexcept {
    return segcache_version() / 10000 == SEGCACHE_VERSION_MAJOR;
}

enum class Eviction : int32_t {
    none = SEGCACHE_EVICT_NONE,
    random = SEGCACHE_EVICT_RANDOM,
    random_fifo = SEGCACHE_EVICT_RANDOM_FIFO,
    fifo = SEGCACHE_EVICT_FIFO,
    cte = SEGCACHE_EVICT_CTE,
    util = SEGCACHE_EVICT_UTIL,
    merge = SEGCACHE_EVICT_MERGE,
    s3fifo = SEGCACHE_EVICT_S3FIFO,
};

// Options wraps segcache_options with chainable setters over the defaults.
class Options {
public:
    Options() noexcept { segcache_options_init(&o_); }
    Options &heap_bytes(uint64_t v) noexcept { o_.heap_bytes = v; return *this; }
    Options &segment_bytes(uint32_t v) noexcept { o_.segment_bytes = v; return *this; }
    Options &hash_power(uint32_t v) noexcept { o_.hash_power = v; return *this; }
    Options &eviction(Eviction v) noexcept { o_.eviction = static_cast<int32_t>(v); return *this; }
    Options &merge_max(int32_t v) noexcept { o_.merge_max = v; return *this; }
    Options &merge_target(int32_t v) noexcept { o_.merge_target = v; return *this; }
    Options &merge_compact(int32_t v) noexcept { o_.merge_compact = v; return *this; }
    Options &s3fifo_admission_ratio(double v) noexcept { o_.s3fifo_admission_ratio = v; return *this; }
    // prefault(true): the heap and the initial hashtable resident at open.
    Options &prefault(bool v) noexcept { o_.prefault = v ? 1u : 0u; return *this; }
    const segcache_options &raw() const noexcept { return o_; }

private:
    segcache_options o_;
};

// Cache is one open cache (a segcache_t handle).
class Cache {
public:
    explicit Cache(const Options &opts = Options()) {
        detail::check(segcache_open(&opts.raw(), &h_), "segcache_open");
    }
    ~Cache() { segcache_close(h_); }  // closing 0 (moved-from) is a no-op

    Cache(const Cache &) = delete;
    Cache &operator=(const Cache &) = delete;
    Cache(Cache &&other) noexcept : h_(std::exchange(other.h_, 0)) {}
    Cache &operator=(Cache &&other) noexcept {
        if (this != &other) {
            segcache_close(h_);
            h_ = std::exchange(other.h_, 0);
        }
        return *this;
    }

    // close releases the cache now; later calls throw (EBADHANDLE), close
    // included: a second close is reported as segcache_close reports it.
    // (segcache_close(0) is a no-op that succeeds, which would hide it.)
    void close() {
        if (h_ == 0) throw Error(SEGCACHE_EBADHANDLE, "segcache_close");
        detail::check(segcache_close(std::exchange(h_, 0)), "segcache_close");
    }
    segcache_t handle() const noexcept { return h_; }
    explicit operator bool() const noexcept { return h_ != 0; }

    void set(std::string_view key, std::string_view val, uint32_t ttl = 0) {
        detail::check(segcache_set(h_, detail::bytes(key), key.size(), detail::bytes(val), val.size(), ttl),
                      "segcache_set");
    }
    // add stores only if key is absent; false if it was present.
    bool add(std::string_view key, std::string_view val, uint32_t ttl = 0) {
        return absent_is_false(segcache_add(h_, detail::bytes(key), key.size(), detail::bytes(val), val.size(), ttl),
                               SEGCACHE_EEXISTS, "segcache_add");
    }
    // replace stores only if key is present; false if it was absent.
    bool replace(std::string_view key, std::string_view val, uint32_t ttl = 0) {
        return absent_is_false(
            segcache_replace(h_, detail::bytes(key), key.size(), detail::bytes(val), val.size(), ttl),
            SEGCACHE_ENOTFOUND, "segcache_replace");
    }
    // cas stores only if the item still has token; false if it changed or
    // is gone.
    bool cas(std::string_view key, std::string_view val, uint64_t token, uint32_t ttl = 0) {
        int rc = segcache_cas(h_, detail::bytes(key), key.size(), detail::bytes(val), val.size(), ttl, token);
        if (rc == SEGCACHE_EEXISTS || rc == SEGCACHE_ENOTFOUND) return false;
        detail::check(rc, "segcache_cas");
        return true;
    }

    // store is set, add, replace or cas (op: SEGCACHE_STORE_*; token is
    // read by SEGCACHE_STORE_CAS) and returns the cas token of the item it
    // stored, so that a chain of cas calls needs no gets in between (one
    // could see another writer's item); nullopt if add found the key or
    // replace/cas did not (absent, or changed since token).
    std::optional<uint64_t> store(segcache_store_op op, std::string_view key, std::string_view val,
                                  uint32_t ttl = 0, uint64_t token = 0) {
        uint64_t stored = 0;
        int rc = segcache_store(h_, op, detail::bytes(key), key.size(), detail::bytes(val), val.size(), ttl, token,
                                &stored);
        if (rc == SEGCACHE_EEXISTS || rc == SEGCACHE_ENOTFOUND) return std::nullopt;
        detail::check(rc, "segcache_store");
        return stored;
    }

    // get_into copies the value into out (resized to fit); false if absent.
    // Without a value (absent, or an error thrown) out is left empty; its
    // capacity is kept either way, so a reused out allocates only to grow.
    // key may be a view of out (get_into(k, k) follows a chain of keys).
    bool get_into(std::string_view key, std::string &out, uint64_t *token = nullptr) const {
        // out's storage is overwritten by the value and freed when out
        // grows, so a key inside it is copied first (a valid key is at most
        // 255 bytes).
        const std::less<const char *> before{};
        if (!key.empty() && !before(key.data(), out.data()) &&
            before(key.data(), out.data() + out.capacity())) {
            const std::string k(key);
            return get_into(k, out, token);
        }
        // The whole capacity is lent to the library as scratch; every exit
        // below sets out's length to what it holds.
        if (out.size() < out.capacity()) out.resize(out.capacity());
        for (;;) {
            size_t len = 0;
            int rc = segcache_get(h_, detail::bytes(key), key.size(), out.data(), out.size(), &len, token);
            if (rc == SEGCACHE_ERANGE) {  // grow and retry: the value may grow again meanwhile
                out.resize(len);
                continue;
            }
            if (rc != SEGCACHE_OK) {
                out.clear();
                if (rc == SEGCACHE_ENOTFOUND) return false;
                detail::check(rc, "segcache_get");
            }
            out.resize(len);
            return true;
        }
    }
    std::optional<std::string> get(std::string_view key) const {
        std::string out(64, '\0');
        if (!get_into(key, out)) return std::nullopt;
        return out;
    }
    // gets returns the value and its cas token.
    std::optional<std::pair<std::string, uint64_t>> gets(std::string_view key) const {
        std::string out(64, '\0');
        uint64_t token = 0;
        if (!get_into(key, out, &token)) return std::nullopt;
        return std::make_pair(std::move(out), token);
    }

    // erase removes key; false if it was absent.
    bool erase(std::string_view key) {
        return absent_is_false(segcache_delete(h_, detail::bytes(key), key.size()), SEGCACHE_ENOTFOUND,
                               "segcache_delete");
    }
    // erase_cas removes key only if the item still has token; false if it
    // changed or is gone.
    bool erase_cas(std::string_view key, uint64_t token) {
        int rc = segcache_delete_cas(h_, detail::bytes(key), key.size(), token);
        if (rc == SEGCACHE_EEXISTS || rc == SEGCACHE_ENOTFOUND) return false;
        detail::check(rc, "segcache_delete_cas");
        return true;
    }

    // incr/decr return the new value, or nullopt if key is absent.
    std::optional<uint64_t> incr(std::string_view key, uint64_t delta = 1) {
        return numeric(segcache_incr, key, delta, "segcache_incr");
    }
    std::optional<uint64_t> decr(std::string_view key, uint64_t delta = 1) {
        return numeric(segcache_decr, key, delta, "segcache_decr");
    }

    // get_multi looks up many keys in one call into the library; absent
    // keys are nullopt.
    std::vector<std::optional<std::string>> get_multi(const std::vector<std::string_view> &keys) const {
        const size_t n = keys.size(), slot = 128;
        std::vector<const void *> kp(n);
        std::vector<size_t> kl(n), caps(n, slot), vlens(n);
        std::vector<void *> bufs(n);
        std::vector<int> sts(n);
        std::string arena(n * slot, '\0');
        for (size_t i = 0; i < n; i++) {
            kp[i] = detail::bytes(keys[i]);
            kl[i] = keys[i].size();
            bufs[i] = &arena[i * slot];
        }
        detail::check(segcache_get_multi(h_, n, kp.data(), kl.data(), bufs.data(), caps.data(),
                                         vlens.data(), sts.data()),
                      "segcache_get_multi");
        std::vector<std::optional<std::string>> out(n);
        for (size_t i = 0; i < n; i++) {
            if (sts[i] == SEGCACHE_OK)
                out[i].emplace(&arena[i * slot], vlens[i]);
            else if (sts[i] == SEGCACHE_ERANGE) {
                // Larger than the slot: fetch alone, into a buffer of the
                // length the batch reported (get() would start smaller and
                // retry: each call is a lookup in the counters).
                std::string v(vlens[i], '\0');
                if (get_into(keys[i], v)) out[i] = std::move(v);
            }
            else if (sts[i] != SEGCACHE_ENOTFOUND)
                throw Error(sts[i], "segcache_get_multi");
        }
        return out;
    }

    // set_multi stores many items in one call into the library, in order
    // (each a set with ttl). If any item fails, the first failure is thrown
    // after the call; the other items are stored.
    void set_multi(const std::vector<std::pair<std::string_view, std::string_view>> &items,
                   uint32_t ttl = 0) {
        const size_t n = items.size();
        std::vector<const void *> kp(n), vp(n);
        std::vector<size_t> kl(n), vl(n);
        std::vector<uint32_t> ttls(n, ttl);
        std::vector<int> sts(n);
        for (size_t i = 0; i < n; i++) {
            kp[i] = detail::bytes(items[i].first);
            kl[i] = items[i].first.size();
            vp[i] = detail::bytes(items[i].second);
            vl[i] = items[i].second.size();
        }
        detail::check(segcache_set_multi(h_, n, kp.data(), kl.data(), vp.data(), vl.data(),
                                         ttls.data(), sts.data()),
                      "segcache_set_multi");
        for (int st : sts) detail::check(st, "segcache_set_multi");
    }

    // erase_multi removes many keys in one call; returns how many were
    // present. A failure other than "absent" throws after the call.
    size_t erase_multi(const std::vector<std::string_view> &keys) {
        const size_t n = keys.size();
        std::vector<const void *> kp(n);
        std::vector<size_t> kl(n);
        std::vector<int> sts(n);
        for (size_t i = 0; i < n; i++) {
            kp[i] = detail::bytes(keys[i]);
            kl[i] = keys[i].size();
        }
        detail::check(segcache_delete_multi(h_, n, kp.data(), kl.data(), sts.data()),
                      "segcache_delete_multi");
        size_t erased = 0;
        for (int st : sts) {
            if (st == SEGCACHE_OK)
                erased++;
            else if (st != SEGCACHE_ENOTFOUND)
                throw Error(st, "segcache_delete_multi");
        }
        return erased;
    }

    void expire() { detail::check(segcache_expire(h_), "segcache_expire"); }
    void clear() { detail::check(segcache_clear(h_), "segcache_clear"); }
    segcache_stats stats() const {
        segcache_stats s{};
        s.size = sizeof s;
        detail::check(segcache_stats_get(h_, &s), "segcache_stats_get");
        return s;
    }

private:
    static bool absent_is_false(int rc, int absent, const char *what) {
        if (rc == absent) return false;
        detail::check(rc, what);
        return true;
    }
    template <class F>
    std::optional<uint64_t> numeric(F f, std::string_view key, uint64_t delta, const char *what) {
        uint64_t r = 0;
        int rc = f(h_, detail::bytes(key), key.size(), delta, &r);
        if (rc == SEGCACHE_ENOTFOUND) return std::nullopt;
        detail::check(rc, what);
        return r;
    }

    segcache_t h_ = 0;
};

}  // namespace segcache

#endif  // SEGCACHE_HPP
