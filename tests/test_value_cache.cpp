// detail::value_cache: stamps decide hits, least-recently-used entries go first, the charged bytes
// never pass the budget, the counters are exact, and threads may share one cache.
// (Catch2 assertions are not thread-safe: threads collect failures, the test checks them after.)

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <latch>
#include <list>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <mmry/detail/value_cache.hpp>

using mmry::detail::value_cache;

namespace {

constexpr std::size_t overhead = value_cache::entry_overhead;

/// A value of `size` bytes whose content depends on `seed`.
std::shared_ptr<const mmry::bytes> value_of(std::size_t size, std::uint64_t seed = 0) {
    auto v = std::make_shared<mmry::bytes>(size);
    for (std::size_t i = 0; i < size; ++i)
        (*v)[i] = static_cast<std::byte>((seed * 131 + i * 7 + (seed >> 8)) & 0xff);
    return v;
}

std::size_t charge(std::string_view key, std::size_t value_size) {
    return key.size() + value_size + overhead;
}

}  // namespace

TEST_CASE("value_cache: a hit returns the value inserted, shared, not copied", "[value_cache]") {
    value_cache cache(4096);
    const auto v = value_of(100, 1);
    cache.insert("alpha", 7, v);

    const auto got = cache.find("alpha", 7);
    REQUIRE(got);
    CHECK(got.get() == v.get());
    CHECK(*got == *value_of(100, 1));
    CHECK(cache.find("beta", 7) == nullptr);

    // Lookup by a view into a larger buffer, and keys holding NUL bytes.
    const std::string buffer = "xxalphaxx";
    CHECK(cache.find(std::string_view(buffer).substr(2, 5), 7) == v);
    const std::string binary("a\0b", 3);
    cache.insert(binary, 1, value_of(3, 3));
    CHECK(cache.find(std::string_view("a"), 1) == nullptr);
    REQUIRE(cache.find(binary, 1));
    CHECK(*cache.find(binary, 1) == *value_of(3, 3));
}

TEST_CASE("value_cache: another stamp misses and drops the stale entry", "[value_cache]") {
    value_cache cache(4096);
    cache.insert("k", 5, value_of(10));
    REQUIRE(cache.stats().entries == 1);

    CHECK(cache.find("k", 6) == nullptr);
    CHECK(cache.stats().entries == 0);
    CHECK(cache.stats().bytes == 0);
    // Dropped for good: its own stamp misses now too.
    CHECK(cache.find("k", 5) == nullptr);

    // An older stamp than the one cached is just as stale.
    cache.insert("k", 9, value_of(10));
    CHECK(cache.find("k", 8) == nullptr);
    CHECK(cache.stats().entries == 0);
}

TEST_CASE("value_cache: insert replaces the entry of a key", "[value_cache]") {
    value_cache cache(4096);
    cache.insert("k", 1, value_of(10, 1));
    cache.insert("k", 2, value_of(30, 2));
    const auto st = cache.stats();
    CHECK(st.entries == 1);
    CHECK(st.bytes == charge("k", 30));
    CHECK(st.evictions == 0);
    CHECK(cache.find("k", 1) == nullptr);  // the old stamp is gone (and this drops the entry)
    cache.insert("k", 3, value_of(30, 3));
    REQUIRE(cache.find("k", 3));
    CHECK(*cache.find("k", 3) == *value_of(30, 3));
}

TEST_CASE("value_cache: the least recently used entry is evicted first", "[value_cache]") {
    const std::size_t one = charge("A", 100);  // every key below is one character
    value_cache cache(2 * one + one / 2);      // room for two entries

    SECTION("a touched entry is kept") {
        cache.insert("A", 1, value_of(100));
        cache.insert("B", 1, value_of(100));
        REQUIRE(cache.find("A", 1));
        cache.insert("C", 1, value_of(100));
        CHECK(cache.find("B", 1) == nullptr);
        CHECK(cache.find("A", 1) != nullptr);
        CHECK(cache.find("C", 1) != nullptr);
    }
    SECTION("without the touch, the oldest goes") {
        cache.insert("A", 1, value_of(100));
        cache.insert("B", 1, value_of(100));
        cache.insert("C", 1, value_of(100));
        CHECK(cache.find("A", 1) == nullptr);
        CHECK(cache.find("B", 1) != nullptr);
        CHECK(cache.find("C", 1) != nullptr);
    }
    SECTION("a replaced entry becomes the most recent") {
        cache.insert("A", 1, value_of(100));
        cache.insert("B", 1, value_of(100));
        cache.insert("A", 2, value_of(100));
        cache.insert("C", 1, value_of(100));
        CHECK(cache.find("B", 1) == nullptr);
        CHECK(cache.find("A", 2) != nullptr);
    }
    SECTION("a big value evicts as many entries as it needs") {
        cache.insert("A", 1, value_of(100));
        cache.insert("B", 1, value_of(100));
        cache.insert("C", 1, value_of(2 * one - overhead - 1));  // fits alone only
        const auto st = cache.stats();
        CHECK(st.entries == 1);
        CHECK(st.evictions == 2);
        CHECK(st.bytes == 2 * one);
        CHECK(cache.find("C", 1) != nullptr);
    }
    CHECK(cache.stats().bytes <= cache.stats().budget);
}

TEST_CASE("value_cache: an evicted value stays valid for a reader holding it", "[value_cache]") {
    value_cache cache(charge("A", 1000));
    cache.insert("A", 1, value_of(1000, 42));
    const auto held = cache.find("A", 1);
    REQUIRE(held);
    cache.insert("B", 1, value_of(1000, 43));  // evicts A
    REQUIRE(cache.find("A", 1) == nullptr);
    cache.clear();
    CHECK(held.use_count() == 1);
    CHECK(*held == *value_of(1000, 42));
}

TEST_CASE("value_cache: a budget of 0 disables the cache", "[value_cache]") {
    value_cache cache(0);
    cache.insert("k", 1, value_of(0));
    CHECK(cache.find("k", 1) == nullptr);
    CHECK(cache.find("other", 2) == nullptr);
    cache.erase("k");
    cache.clear();
    const auto st = cache.stats();
    CHECK(st.hits == 0);
    CHECK(st.misses == 0);
    CHECK(st.evictions == 0);
    CHECK(st.entries == 0);
    CHECK(st.bytes == 0);
    CHECK(st.budget == 0);
}

TEST_CASE("value_cache: a value over the whole budget is not cached", "[value_cache]") {
    const std::size_t budget = 1000;
    value_cache cache(budget);
    cache.insert("small", 1, value_of(10));

    SECTION("one byte over the budget") {
        cache.insert("big", 1, value_of(budget - overhead - 3 + 1));
        CHECK(cache.find("big", 1) == nullptr);
        CHECK(cache.find("small", 1) != nullptr);  // nothing was evicted for it
        CHECK(cache.stats().evictions == 0);
    }
    SECTION("far over the budget") {
        cache.insert("big", 1, value_of(10 * budget));
        CHECK(cache.find("big", 1) == nullptr);
        CHECK(cache.find("small", 1) != nullptr);
    }
    SECTION("exactly the budget is cached") {
        cache.insert("big", 1, value_of(budget - overhead - 3));
        CHECK(cache.stats().bytes == budget);
        CHECK(cache.find("big", 1) != nullptr);
        CHECK(cache.find("small", 1) == nullptr);  // evicted to make room
    }
    SECTION("an oversize value drops the entry it replaces") {
        cache.insert("small", 2, value_of(2 * budget));
        CHECK(cache.stats().entries == 0);
        CHECK(cache.stats().bytes == 0);
    }
    SECTION("a null value caches nothing") {
        cache.insert("small", 2, nullptr);
        CHECK(cache.stats().entries == 0);
    }
    CHECK(cache.stats().bytes <= budget);
}

TEST_CASE("value_cache: erase and clear", "[value_cache]") {
    value_cache cache(4096);
    cache.insert("a", 1, value_of(10));
    cache.insert("b", 1, value_of(20));

    cache.erase("a");
    CHECK(cache.find("a", 1) == nullptr);
    CHECK(cache.stats().entries == 1);
    CHECK(cache.stats().bytes == charge("b", 20));
    cache.erase("a");        // not there: nothing happens
    cache.erase("missing");  // never there
    CHECK(cache.stats().entries == 1);
    CHECK(cache.find("b", 1) != nullptr);

    cache.clear();
    const auto st = cache.stats();
    CHECK(st.entries == 0);
    CHECK(st.bytes == 0);
    CHECK(st.hits == 1);    // counters survive clear()
    CHECK(st.misses == 1);  // the find("a") after erase
    CHECK(st.evictions == 0);
    CHECK(cache.find("b", 1) == nullptr);
    cache.insert("b", 2, value_of(20));  // usable after clear()
    CHECK(cache.find("b", 2) != nullptr);
}

TEST_CASE("value_cache: stats count exactly", "[value_cache]") {
    const std::size_t one = charge("a", 50);
    value_cache cache(3 * one);
    cache.insert("a", 1, value_of(50));
    cache.insert("b", 1, value_of(50));
    cache.insert("c", 1, value_of(50));  // LRU order now: c b a
    CHECK(cache.find("a", 1));           // hit:  a c b
    CHECK(!cache.find("b", 2));          // miss, b dropped: a c
    CHECK(!cache.find("x", 1));          // miss
    cache.insert("d", 1, value_of(50));  // d a c
    cache.insert("e", 1, value_of(50));  // e d a, c evicted
    cache.erase("d");                    // e a: not an eviction

    const auto st = cache.stats();
    CHECK(st.hits == 1);
    CHECK(st.misses == 2);
    CHECK(st.evictions == 1);
    CHECK(st.entries == 2);
    CHECK(st.bytes == 2 * one);
    CHECK(st.budget == 3 * one);
    CHECK(!cache.find("c", 1));
    CHECK(cache.find("a", 1));
    CHECK(cache.find("e", 1));
    CHECK(cache.stats().hits == 3);
    CHECK(cache.stats().misses == 3);
}

TEST_CASE("value_cache: random operations agree with a simple model", "[value_cache]") {
    // The model: a list, most recent first, searched linearly.
    struct model_entry {
        std::string key;
        std::uint64_t stamp;
        std::size_t charge;
    };
    const std::size_t budget = 10'000;
    value_cache cache(budget);
    std::list<model_entry> model;
    std::uint64_t hits = 0, misses = 0, evictions = 0;
    const auto model_bytes = [&] {
        std::size_t n = 0;
        for (const auto& e : model) n += e.charge;
        return n;
    };
    const auto in_model = [&](const std::string& key) {
        return std::find_if(model.begin(), model.end(), [&](auto& e) { return e.key == key; });
    };

    std::mt19937_64 rng(12345);
    for (int op = 0; op < 3000; ++op) {
        const auto n = rng() % 32;  // 32 keys of 4 to 23 characters
        const std::string key = "key" + std::to_string(n) + std::string(n % 7 * 3, 'x');
        const std::uint64_t stamp = rng() % 2;
        const auto choice = rng() % 10;
        if (choice < 5) {
            const std::size_t size = rng() % 8 == 0 ? rng() % 12'000 : rng() % 800;
            cache.insert(key, stamp, value_of(size, stamp));
            if (auto at = in_model(key); at != model.end()) model.erase(at);
            if (charge(key, size) <= budget) {
                model.push_front({key, stamp, charge(key, size)});
                while (model_bytes() > budget) model.pop_back(), ++evictions;
            }
        } else if (choice < 9) {
            const auto got = cache.find(key, stamp);
            const auto at = in_model(key);
            const bool hit = at != model.end() && at->stamp == stamp;
            REQUIRE((got != nullptr) == hit);
            if (hit) {
                ++hits;
                CHECK(charge(key, got->size()) == at->charge);
                CHECK(*got == *value_of(got->size(), stamp));
                model.splice(model.begin(), model, at);
            } else {
                ++misses;
                if (at != model.end()) model.erase(at);
            }
        } else {
            cache.erase(key);
            if (auto at = in_model(key); at != model.end()) model.erase(at);
        }
        const auto st = cache.stats();
        REQUIRE(st.bytes <= budget);
        REQUIRE(st.bytes == model_bytes());
        REQUIRE(st.entries == model.size());
    }
    const auto st = cache.stats();
    CHECK(st.hits == hits);
    CHECK(st.misses == misses);
    CHECK(st.evictions == evictions);
    CHECK(hits > 100);  // the test exercised hits, misses and evictions
    CHECK(misses > 100);
    CHECK(evictions > 100);
}

TEST_CASE("value_cache concurrency: threads find, insert and erase at once", "[value_cache]") {
    // Every key has 3 characters and every value 100 bytes, so each entry costs the same and the
    // charged bytes must always be a whole number of entries.
    constexpr int threads = 8, ops_per_thread = 4000, keys = 64, stamps = 3;
    static constexpr std::size_t value_size = 100;
    const std::size_t one = 3 + value_size + overhead;
    const std::size_t budget = 20 * one + one / 2;
    value_cache cache(budget);

    // The value of (key, stamp): its numbers first, so a reader can tell which value it got.
    const auto make = [](int key, std::uint64_t stamp) {
        auto v = std::make_shared<mmry::bytes>(value_size, std::byte{0x5a});
        const std::uint64_t id = static_cast<std::uint64_t>(key) << 32 | stamp;
        std::memcpy(v->data(), &id, sizeof id);
        return std::shared_ptr<const mmry::bytes>(std::move(v));
    };
    const auto key_name = [](int k) {
        return std::string(1, static_cast<char>('a' + k / 26 % 26)) +
               static_cast<char>('a' + k % 26) + "!";
    };

    std::mutex failures_mutex;
    std::vector<std::string> failures;
    const auto fail = [&](std::string what) {
        std::lock_guard lock(failures_mutex);
        if (failures.size() < 20) failures.push_back(std::move(what));
    };
    std::atomic<std::uint64_t> finds{0}, hits{0};
    std::latch start(threads);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            std::mt19937 rng(static_cast<unsigned>(t) + 1);
            start.arrive_and_wait();
            for (int i = 0; i < ops_per_thread; ++i) {
                const int k = static_cast<int>(rng() % keys);
                const std::uint64_t stamp = rng() % stamps;
                const std::string key = key_name(k);
                const auto choice = rng() % 10;
                if (choice < 5) {
                    ++finds;
                    if (const auto v = cache.find(key, stamp)) {
                        ++hits;
                        if (*v != *make(k, stamp))
                            fail(key + ": a hit returned another key's or stamp's value");
                    }
                } else if (choice < 9) {
                    cache.insert(key, stamp, make(k, stamp));
                } else if (rng() % 50 == 0) {
                    cache.clear();
                } else {
                    cache.erase(key);
                }
                if (i % 64 == 0) {
                    const auto st = cache.stats();
                    if (st.bytes > budget || st.bytes != st.entries * one)
                        fail("stats: " + std::to_string(st.entries) + " entries charged " +
                             std::to_string(st.bytes) + " bytes");
                }
            }
        });
    for (auto& th : pool) th.join();

    for (const auto& f : failures) FAIL_CHECK(f);
    const auto st = cache.stats();
    CHECK(st.bytes <= budget);
    CHECK(st.entries <= 20);
    CHECK(st.bytes == st.entries * one);
    CHECK(st.hits + st.misses == finds.load());
    CHECK(st.hits == hits.load());
    CHECK(st.hits > 0);
    CHECK(st.evictions > 0);

    // Still a working LRU cache: the last 20 inserted keys are all there.
    for (int k = 0; k < keys; ++k) cache.insert(key_name(k), 7, make(k, 7));
    CHECK(cache.stats().entries == 20);
    for (int k = keys - 20; k < keys; ++k) CHECK(cache.find(key_name(k), 7) != nullptr);
    CHECK(cache.find(key_name(0), 7) == nullptr);
}
