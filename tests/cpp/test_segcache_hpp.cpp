// Tests of include/segcache.hpp, the C++ API: ownership (move-only RAII),
// the error model (absent -> nullopt/false, everything else throws Error
// with the status), byte-exact string_view keys and values, the batch
// calls (and the lookup's fallback for large values), options, stats and
// versions. Run by
// ctest (make test-cmake).
#include <segcache.hpp>

#include <iostream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

using namespace std::literals;

static int failures = 0, checks = 0;
#define EXPECT(cond)                                                             \
    do {                                                                         \
        checks++;                                                                \
        if (!(cond)) {                                                           \
            std::cerr << __FILE__ << ":" << __LINE__ << ": expected " #cond "\n"; \
            failures++;                                                          \
        }                                                                        \
    } while (0)

// EXPECT_STATUS runs stmt and expects it to throw Error with status st.
#define EXPECT_STATUS(stmt, st)                                                      \
    do {                                                                             \
        checks++;                                                                    \
        try {                                                                        \
            stmt;                                                                    \
            std::cerr << __FILE__ << ":" << __LINE__ << ": " #stmt " did not throw\n"; \
            failures++;                                                              \
        } catch (const segcache::Error &e) {                                         \
            if (e.status() != (st)) {                                                \
                std::cerr << __FILE__ << ":" << __LINE__ << ": " #stmt " threw "      \
                          << e.status() << " (" << e.what() << "), want " #st "\n";  \
                failures++;                                                          \
            }                                                                        \
        }                                                                            \
    } while (0)

// Ownership is part of the type: no copies, noexcept moves.
static_assert(!std::is_copy_constructible_v<segcache::Cache>);
static_assert(!std::is_copy_assignable_v<segcache::Cache>);
static_assert(std::is_nothrow_move_constructible_v<segcache::Cache>);
static_assert(std::is_nothrow_move_assignable_v<segcache::Cache>);
static_assert(std::is_base_of_v<std::runtime_error, segcache::Error>);

static segcache::Options small() { return segcache::Options().heap_bytes(4 << 20).segment_bytes(64 << 10); }

static void test_versions() {
    EXPECT(segcache::library_version() == SEGCACHE_VERSION_NUMBER);
    EXPECT(segcache::library_compatible());
}

static void test_raii_closes_the_handle() {
    segcache_t raw;
    {
        segcache::Cache c(small());
        raw = c.handle();
        EXPECT(raw != 0 && c);
        EXPECT(segcache_set(raw, "k", 1, "v", 1, 0) == SEGCACHE_OK);
    }
    // The destructor closed it: the raw handle is dead.
    EXPECT(segcache_set(raw, "k", 1, "v", 1, 0) == SEGCACHE_EBADHANDLE);
}

static void test_moves_transfer_ownership() {
    segcache::Cache a(small());
    a.set("k", "from a");
    segcache_t h = a.handle();
    segcache::Cache b(std::move(a));
    EXPECT(!a && b && b.handle() == h);  // a moved-from Cache is specified: empty
    EXPECT(b.get("k") == "from a"s);
    EXPECT_STATUS(a.get("k"), SEGCACHE_EBADHANDLE);

    segcache::Cache c(small());
    segcache_t old = c.handle();
    c = std::move(b);  // closes c's own cache, takes b's
    EXPECT(c.handle() == h && !b);
    EXPECT(segcache_set(old, "k", 1, "v", 1, 0) == SEGCACHE_EBADHANDLE);
    EXPECT(c.get("k") == "from a"s);

    c.close();
    EXPECT(!c);
    EXPECT_STATUS(c.set("k", "v"), SEGCACHE_EBADHANDLE);
    // close is a call like any other: on a closed or moved-from Cache it
    // throws, as segcache_close reports a second close (EBADHANDLE), rather
    // than hiding a double close behind segcache_close(0)'s no-op.
    EXPECT_STATUS(c.close(), SEGCACHE_EBADHANDLE);
    EXPECT_STATUS(a.close(), SEGCACHE_EBADHANDLE);
    EXPECT(!c && !a);
}

static void test_absent_is_a_value() {
    segcache::Cache c(small());
    EXPECT(!c.get("nobody"));
    EXPECT(!c.gets("nobody"));
    EXPECT(!c.incr("nobody"));
    EXPECT(!c.decr("nobody"));
    EXPECT(!c.erase("nobody"));
    EXPECT(!c.replace("nobody", "x"));
    EXPECT(!c.cas("nobody", "x", 1));
    EXPECT(c.add("k", "1"));
    EXPECT(!c.add("k", "2"));
    EXPECT(c.replace("k", "3"));
    auto g = c.gets("k");
    EXPECT(g && g->first == "3");
    EXPECT(c.cas("k", "4", g->second));
    EXPECT(!c.cas("k", "5", g->second));  // stale token
    EXPECT(c.get("k") == "4"s);
    EXPECT(!c.erase_cas("k", g->second));  // stale token: kept
    EXPECT(c.get("k") == "4"s);
    auto g4 = c.gets("k");
    EXPECT(g4 && c.erase_cas("k", g4->second));
    EXPECT(!c.get("k"));
    EXPECT(!c.erase_cas("k", g4->second));  // gone
    EXPECT(c.add("k", "5"));
    // store returns the token gets then gives; a cas chain needs no gets.
    auto t1 = c.store(SEGCACHE_STORE_SET, "k", "6");
    EXPECT(t1 && c.gets("k")->second == *t1);
    auto t2 = c.store(SEGCACHE_STORE_CAS, "k", "7", 0, *t1);
    EXPECT(t2 && *t2 != *t1);
    EXPECT(!c.store(SEGCACHE_STORE_CAS, "k", "8", 0, *t1));  // stale token
    EXPECT(!c.store(SEGCACHE_STORE_ADD, "k", "8"));
    EXPECT(!c.store(SEGCACHE_STORE_REPLACE, "nobody", "8"));
    EXPECT(c.get("k") == "7"s);
    EXPECT(c.erase("k"));
    EXPECT(!c.get("k"));
}

static void test_other_failures_throw() {
    segcache::Cache c(small());
    c.set("word", "abc");
    EXPECT_STATUS(c.incr("word"), SEGCACHE_ENOTNUMERIC);
    EXPECT_STATUS(c.set(std::string(256, 'k'), "v"), SEGCACHE_ETOOLARGE);
    EXPECT_STATUS(c.set("", "v"), SEGCACHE_EINVAL);
    EXPECT_STATUS(c.set("huge", std::string(128 << 10, 'v')), SEGCACHE_ETOOLARGE);  // over a segment
    EXPECT_STATUS(segcache::Cache(segcache::Options().segment_bytes(100)), SEGCACHE_EINVAL);
    EXPECT_STATUS(c.store(static_cast<segcache_store_op>(9), "word", "x"), SEGCACHE_EINVAL);
    try {
        c.incr("word");
    } catch (const segcache::Error &e) {
        // The message names the call and carries the library's text.
        EXPECT(std::string(e.what()).find("segcache_incr") != std::string::npos);
        EXPECT(std::string(e.what()).find(segcache_strerror(SEGCACHE_ENOTNUMERIC)) != std::string::npos);
    }
    // A failed call loses nothing.
    EXPECT(c.get("word") == "abc"s);
}

static void test_bytes_round_trip() {
    segcache::Cache c(small());
    const std::string key("k\0ey"s), val("v\0al\xff"s);
    c.set(key, val);
    EXPECT(c.get(key) == val);
    EXPECT(!c.get("k"));  // the NUL is part of the key
    c.set("empty", "");
    EXPECT(c.get("empty") == ""s);
    std::string_view none;  // data() == nullptr
    c.set("none", none);
    EXPECT(c.get("none") == ""s);
    std::string big(40000, 'x');
    c.set("big", big);
    std::string buf(8, '?');  // grows to fit
    EXPECT(c.get_into("big", buf) && buf == big);
    EXPECT(c.get_into("empty", buf) && buf.empty());
}

// get_into lends out's whole capacity to the library, so out must not keep
// that scratch length when nothing was copied: a miss or a failure leaves
// out empty (capacity kept, as Rust's get_into leaves its Vec), never the
// old contents padded with NULs to the capacity.
static void test_get_into_leaves_out_empty_without_a_value() {
    segcache::Cache c(small());
    std::string out = "stale";
    EXPECT(!c.get_into("nobody", out));
    EXPECT(out.empty());
    uint64_t token = 7;
    out = "stale";
    EXPECT(!c.get_into("nobody", out, &token));
    EXPECT(out.empty() && token == 7);
    out.assign(1000, 'x');
    const size_t cap = out.capacity();
    EXPECT(!c.get_into("nobody", out));
    EXPECT(out.empty() && out.capacity() == cap);  // the buffer stays reusable
    out = "stale";
    EXPECT_STATUS(c.get_into(std::string(256, 'k'), out), SEGCACHE_ETOOLARGE);
    EXPECT(out.empty());
    c.set("k", "v");
    EXPECT(c.get_into("k", out) && out == "v");
}

// The key may be a view of out itself: following a chain of keys, each
// value the next key, reads get_into(k, k). out's storage is the library's
// buffer for the value, and growing it frees the old storage, so the key
// must not be read from there once the call has begun: it used to be, and
// the retry after ERANGE looked up whatever the allocator had left in the
// freed key (a miss, here).
static void test_get_into_key_may_be_out() {
    segcache::Cache c(small());
    const std::string first = "the first key, longer than std::string's own buffer";
    const std::string second(200, 'n');  // longer than first's capacity: out grows
    c.set(first, second);
    c.set(second, "end");
    std::string k = first;
    EXPECT(c.get_into(k, k) && k == second);
    EXPECT(c.get_into(k, k) && k == "end");
    k = "e";
    std::string_view tail(k);  // a key that is part of out, short values too
    c.set("e", "x");
    EXPECT(c.get_into(tail, k) && k == "x");
}

static void test_numbers() {
    segcache::Cache c(small());
    c.set("n", "41");
    EXPECT(c.incr("n") == 42u);
    EXPECT(c.incr("n", 8) == 50u);
    EXPECT(c.decr("n", 100) == 0u);  // saturates at 0
    EXPECT(c.get("n") == "0"s);
}

static void test_get_multi() {
    segcache::Cache c(small());
    std::string big(1000, 'b');  // over the batch's 128-byte slot: fetched alone
    c.set("a", "1");
    c.set("big", big);
    auto got = c.get_multi({"a", "nobody", "big", "a"});
    EXPECT(got.size() == 4);
    EXPECT(got[0] == "1"s && !got[1] && got[2] == big && got[3] == "1"s);
    EXPECT(c.get_multi({}).empty());
    EXPECT_STATUS(c.get_multi({"a", std::string_view()}), SEGCACHE_EINVAL);
    // Every segcache_get is a lookup in the counters (a too-small buffer
    // too) and an access eviction sees: a value over the slot costs the
    // batch's lookup and one retry of the length the batch reported, not a
    // get() that starts again from a buffer smaller than the slot.
    const uint64_t gets = c.stats().gets, hits = c.stats().hits;
    got = c.get_multi({"big"});
    EXPECT(got.size() == 1 && got[0] == big);
    EXPECT(c.stats().gets - gets == 2 && c.stats().hits - hits == 2);
}

static void test_batch_writes() {
    segcache::Cache c(small());
    c.set_multi({{"a", "1"}, {"b", "2"}, {"a", "3"}, {"e", ""}});
    EXPECT(c.get("a") == "3"s && c.get("b") == "2"s && c.get("e") == ""s);  // in order: last wins
    c.set_multi({});
    // One bad item throws; the others are stored.
    EXPECT_STATUS(c.set_multi({{"c", "4"}, {std::string(256, 'k'), "x"}, {"d", "5"}}), SEGCACHE_ETOOLARGE);
    EXPECT(c.get("c") == "4"s && c.get("d") == "5"s);
    EXPECT(c.erase_multi({"a", "nobody", "b", "a"}) == 2);
    EXPECT(!c.get("a") && !c.get("b") && c.get("c") == "4"s);
    EXPECT(c.erase_multi({}) == 0);
}

static void test_options_and_stats() {
    segcache::Options o = small().eviction(segcache::Eviction::s3fifo).s3fifo_admission_ratio(0.2);
    EXPECT(o.raw().eviction == SEGCACHE_EVICT_S3FIFO && o.raw().s3fifo_admission_ratio == 0.2);
    o.eviction(segcache::Eviction::merge).merge_max(6).merge_target(3).merge_compact(2).hash_power(16);
    EXPECT(o.raw().merge_max == 6 && o.raw().merge_target == 3 && o.raw().merge_compact == 2 &&
           o.raw().hash_power == 16);
    EXPECT(o.raw().prefault == 0);
    EXPECT(segcache::Options(o).prefault(true).raw().prefault == 1);
    EXPECT(segcache::Options(o).prefault(true).prefault(false).raw().prefault == 0);
    {
        segcache::Cache p(segcache::Options(o).prefault(true));
        p.set("a", "1");
        EXPECT(p.get("a") == "1"s);
    }
    segcache::Cache c(o);
    c.set("a", "1");
    c.get("a");
    c.get("b");
    auto st = c.stats();
    EXPECT(st.size == sizeof(segcache_stats));
    EXPECT(st.items == 1 && st.hits == 1 && st.misses == 1 && st.sets == 1);
    EXPECT(st.heap_bytes == 4u << 20);
    c.clear();
    EXPECT(c.stats().items == 0);
    c.expire();
}

int main() {
    test_versions();
    test_raii_closes_the_handle();
    test_moves_transfer_ownership();
    test_absent_is_a_value();
    test_other_failures_throw();
    test_bytes_round_trip();
    test_get_into_leaves_out_empty_without_a_value();
    test_get_into_key_may_be_out();
    test_numbers();
    test_get_multi();
    test_batch_writes();
    test_options_and_stats();
    std::cout << "test_segcache_hpp: " << checks - failures << " passed, " << failures << " failed\n";
    return failures ? 1 : 0;
}
