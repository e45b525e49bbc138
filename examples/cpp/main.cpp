// main.cpp: the C++ API (<segcache.hpp>, installed with the library) in use. Each step checks
// its result; the program exits non-zero if any differs from what the API
// promises, so ctest and make test run it as a test.
#include <segcache.hpp>

#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

static int failures = 0;
#define EXPECT(cond)                                                             \
    do {                                                                         \
        if (!(cond)) {                                                           \
            std::cerr << __FILE__ << ":" << __LINE__ << ": expected " #cond "\n"; \
            failures++;                                                          \
        }                                                                        \
    } while (0)

int main() {
    using namespace std::literals;
    segcache::Cache cache(segcache::Options().heap_bytes(8 << 20).eviction(segcache::Eviction::merge));

    cache.set("greeting", "hello from C++");
    auto v = cache.get("greeting");
    std::cout << "get greeting: " << v.value_or("(absent)") << "\n";
    EXPECT(v == "hello from C++"s);
    EXPECT(!cache.get("nobody"));

    // Values of any size and with NUL bytes round-trip.
    std::string big(100000, 'x');
    big[5] = '\0';
    cache.set("big", big);
    EXPECT(cache.get("big") == big);
    std::string reuse;  // get_into reuses the caller's buffer
    EXPECT(cache.get_into("big", reuse) && reuse == big);

    EXPECT(cache.add("fresh", "1"));
    EXPECT(!cache.add("fresh", "2"));
    EXPECT(!cache.replace("nobody", "x"));
    auto g = cache.gets("fresh");
    EXPECT(g && g->first == "1");
    EXPECT(cache.cas("fresh", "3", g->second));
    EXPECT(!cache.cas("fresh", "4", g->second));  // stale token
    EXPECT(cache.get("fresh") == "3"s);

    cache.set("visits", "41");
    auto n = cache.incr("visits");
    std::cout << "incr visits: " << n.value_or(0) << "\n";
    EXPECT(n == 42u);
    EXPECT(cache.decr("visits", 100) == 0u);
    EXPECT(!cache.incr("nobody"));

    // Failures other than "absent" throw with the status.
    try {
        cache.incr("greeting");
        EXPECT(false);
    } catch (const segcache::Error &e) {
        std::cout << "incr greeting throws: " << e.what() << "\n";
        EXPECT(e.status() == SEGCACHE_ENOTNUMERIC);
    }
    try {
        cache.set(std::string(300, 'k'), "v");
        EXPECT(false);
    } catch (const segcache::Error &e) {
        EXPECT(e.status() == SEGCACHE_ETOOLARGE);
    }

    auto many = cache.get_multi({"greeting", "nobody", "big", "fresh"});
    EXPECT(many.size() == 4);
    EXPECT(many[0] == "hello from C++"s && !many[1] && many[2] == big && many[3] == "3"s);
    std::cout << "get_multi: " << (many[0] ? "hit" : "miss") << " " << (many[1] ? "hit" : "miss")
              << " " << (many[2] ? "hit" : "miss") << " " << (many[3] ? "hit" : "miss") << "\n";

    // Threads share one Cache.
    cache.set("counter", "0");
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; t++)
        threads.emplace_back([&cache] {
            for (int i = 0; i < 1000; i++) cache.incr("counter");
        });
    for (auto &t : threads) t.join();
    EXPECT(cache.get("counter") == "4000"s);

    // Move-only: the moved-from object holds no handle and throws on use.
    segcache::Cache moved = std::move(cache);
    EXPECT(!cache && moved);
    EXPECT(moved.get("greeting") == "hello from C++"s);
    try {
        cache.get("greeting");
        EXPECT(false);
    } catch (const segcache::Error &e) {
        EXPECT(e.status() == SEGCACHE_EBADHANDLE);
    }

    auto st = moved.stats();
    std::cout << "stats: " << st.items << " items, " << st.hits << " hits\n";
    EXPECT(st.items == 5);  // greeting, big, fresh, visits, counter
    moved.clear();
    EXPECT(moved.stats().items == 0);
    moved.close();
    EXPECT(!moved);

    std::cout << (failures ? "FAILED" : "ok") << "\n";
    return failures ? 1 : 0;
}
