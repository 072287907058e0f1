// The hashed index on pages (extendible hashing over copy-on-write buckets), checked against a
// std::map model: puts, replacements and erases across many transactions, buckets that split and
// merge, a directory that doubles from one page to two levels, readers that keep
// their state, the page accounting after every step, writers killed at every fault point, and
// damaged pages refused by name.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <mmry/detail/pages/hash_index.hpp>
#include <mmry/detail/pages/page_store.hpp>

#include "pages_support.hpp"
#include "support.hpp"

namespace pg = mmry::detail::pages;
using mmry::errc;
using mmry_test::as_bytes;
using mmry_test::as_string;
using mmry_test::env_count;
using mmry_test::is_error;
using mmry_test::page_place;
using mmry_test::require_clean;
using mmry_test::segments_of;

namespace {

using model = std::map<std::string, std::string>;
const pg::hash_index index_at(2);  // words 0 and 1 are the test's: the step a state is at

/// The operations of step `step`: `ops` puts (new keys, replacements of other sizes) and
/// erases over a key space of `keys`.
std::vector<std::pair<std::string, std::optional<std::string>>> ops_of(std::uint64_t step, int ops,
                                                                       int keys) {
    std::mt19937_64 rng(step * 7919);
    std::vector<std::pair<std::string, std::optional<std::string>>> out;
    for (int i = 0; i < ops; ++i) {
        std::string key = "key/" + std::to_string(rng() % static_cast<std::uint64_t>(keys));
        if (rng() % 4 == 0) {
            out.emplace_back(std::move(key), std::nullopt);
        } else {
            const std::size_t n = rng() % 3 == 0 ? 300 + rng() % 500 : rng() % 120;
            out.emplace_back(std::move(key), std::string(n, static_cast<char>('a' + step % 26)) +
                                                 std::to_string(step));
        }
    }
    return out;
}

void apply_model(model& m, std::uint64_t step, int ops, int keys) {
    for (auto& [key, value] : ops_of(step, ops, keys)) {
        if (value)
            m[key] = *value;
        else
            m.erase(key);
    }
}

template <class Store>
void apply(Store& s, std::uint64_t step, int ops, int keys) {
    auto w = s.write();
    for (auto& [key, value] : ops_of(step, ops, keys)) {
        if (value)
            index_at.put(w, key, as_bytes(*value), 0x5eed);
        else
            index_at.erase(w, key);
    }
    w.set_word(0, step);
    w.commit();
}

template <class View>
model contents(const View& v) {
    model m;
    index_at.for_each(v, [&](std::string_view k, std::span<const std::byte> val) {
        REQUIRE(m.emplace(std::string(k), as_string(val)).second);
    });
    return m;
}

template <class Store>
void require_matches(Store& s, const model& m) {
    auto r = s.read();
    REQUIRE(index_at.size(r) == m.size());
    REQUIRE(contents(r) == m);
    for (const auto& [k, v] : m) {
        const auto got = index_at.find(r, k);
        REQUIRE(got);
        REQUIRE(as_string(*got) == v);
    }
    REQUIRE_FALSE(index_at.find(r, "no such key"));
    REQUIRE(index_at.verify(r).empty());
    require_clean(s.check([](const auto& view, auto&& mark) { index_at.mark(view, mark); }));
}

pg::page_store_options small() {
    return segments_of(256 * 1024);
}

}  // namespace

TEST_CASE("page index: puts, replacements and erases agree with a map across transactions") {
    pg::page_store<pg::heap_backend> s(pg::create, "heap", small());
    model m;
    require_matches(s, m);
    for (std::uint64_t step = 1; step <= 60; ++step) {
        apply(s, step, 50, 400);
        apply_model(m, step, 50, 400);
        if (step % 15 == 0) require_matches(s, m);
    }
    SECTION("erasing every key merges the buckets back and gives the pages back") {
        {
            auto w = s.write();
            for (const auto& [k, v] : m) REQUIRE(index_at.erase(w, k));
            REQUIRE_FALSE(index_at.erase(w, "key/0"));
            w.commit();
        }
        m.clear();
        require_matches(s, m);
        const auto st = s.stats();
        CHECK(st.pages - st.free_pages < pg::first_data_page + 20);
    }
    SECTION("an entry over the limit is refused and changes nothing") {
        auto w = s.write();
        const std::string big(pg::hash_index::max_entry, 'x');
        REQUIRE_THROWS_MATCHES(index_at.put(w, "k", as_bytes(big)), mmry::error,
                               is_error(errc::invalid_argument, "limit of 1024"));
    }
}

TEST_CASE("page index: the directory grows from one page to two levels, and back to fewer keys") {
    pg::page_store<pg::heap_backend> s(pg::create, "heap", segments_of(16 << 20));
    // Entries of ~700 bytes, five to a bucket: 6000 keys need more than 2^9 buckets, so the
    // directory outgrows its one page. (Three levels, past 2^18 buckets, take a million keys:
    // the benchmarks go there.)
    model m;
    const int n = 6000;
    {
        auto w = s.write();
        for (int i = 0; i < n; ++i) {
            const std::string k = "big/" + std::to_string(i), v(650 + i % 50, 'v');
            index_at.put(w, k, as_bytes(v));
            m[k] = v;
        }
        REQUIRE(w.word(3) >= 10);  // two directory levels
        w.commit();
    }
    require_matches(s, m);
    {
        auto w = s.write();
        for (int i = 0; i < n; i += 2) {
            index_at.erase(w, "big/" + std::to_string(i));
            m.erase("big/" + std::to_string(i));
        }
        w.commit();
    }
    require_matches(s, m);
}

TEST_CASE("page index: a reader's state stays whole while writers change every key (threads)") {
    pg::page_store<pg::heap_backend> s(pg::create, "heap", small());
    std::vector<model> states(1);
    for (std::uint64_t step = 1; step <= 10; ++step) {
        apply(s, step, 40, 150);
        states.push_back(states.back());
        apply_model(states.back(), step, 40, 150);
    }
    std::atomic<bool> stop{false};
    std::atomic<int> wrong{0}, reads{0};
    std::thread reader([&] {
        while (!stop.load()) {
            auto r = s.read();
            const auto step = r.word(0);
            const auto seen = contents(r);
            if (index_at.size(r) != seen.size()) ++wrong;
            (void)step;
            ++reads;
        }
    });
    for (std::uint64_t step = 11; step <= 120; ++step) apply(s, step, 40, 150);
    while (reads.load() < 5) std::this_thread::yield();
    stop = true;
    reader.join();
    CHECK(wrong.load() == 0);
    model m;
    for (std::uint64_t step = 1; step <= 120; ++step) apply_model(m, step, 40, 150);
    require_matches(s, m);
}

TEMPLATE_TEST_CASE("page index: a writer killed at any fault point loses only its transaction", "",
                   pg::shm_backend, pg::file_backend) {
    using store = pg::page_store<TestType>;
    page_place<TestType> where;
    {
        auto o = small();
        o.level = pg::durability::sync;
        store s(pg::create, where.name(), o);
    }
    std::vector<model> states(1);
    auto state = [&](std::uint64_t k) -> const model& {
        while (states.size() <= k) {
            states.push_back(states.back());
            apply_model(states.back(), states.size() - 1, 30, 200);
        }
        return states[k];
    };
    mmry_test::kill_at_every_point<store>(
        where.name(), env_count("MMRY_PAGES_KILL_STEPS", 6),
        [](store& s, std::uint64_t step) { apply(s, step, 30, 200); },
        [&](store& s, std::uint64_t step) { require_matches(s, state(step)); });
}

TEST_CASE("page index: damaged buckets and directories are refused by name, never followed") {
    pg::page_store<pg::heap_backend> s(pg::create, "heap", small());
    model m;
    for (std::uint64_t step = 1; step <= 20; ++step) {
        apply(s, step, 50, 300);
        apply_model(m, step, 50, 300);
    }
    // Damage is done behind the store's back, as a stray write or a bad disk would.
    auto bytes_of = [&](pg::page_id p) {
        auto r = s.read();
        return const_cast<std::byte*>(r.page(p).data());
    };
    const std::string key = m.begin()->first;
    pg::page_id bucket = 0;
    {
        auto r = s.read();
        index_at.mark(r, [&](pg::page_id p, std::uint64_t) {
            const auto b = r.page(p);
            if (bucket == 0 && std::memcmp(b.data(), "MBKT", 4) == 0) {
                const auto found = index_at.find(r, key);
                if (found && found->data() >= b.data() && found->data() < b.data() + pg::page_size)
                    bucket = p;
            }
        });
    }
    REQUIRE(bucket != 0);
    SECTION("a value byte: the entry fails its checksum") {
        auto r = s.read();
        auto* v = const_cast<std::byte*>(index_at.find(r, key)->data());
        *v ^= std::byte{1};
        REQUIRE_THROWS_MATCHES(index_at.find(r, key), mmry::error,
                               is_error(errc::corrupt, "fails its checksum"));
        REQUIRE_FALSE(index_at.verify(r).empty());
    }
    // Where the key's entry starts in its bucket page, and the slot that names it.
    auto entry_at = [&] {
        auto r = s.read();
        const auto* page = r.page(bucket).data();
        return static_cast<std::size_t>(index_at.find(r, key)->data() - page) - key.size() - 16;
    };
    SECTION("a key byte: its lookup fails, never a silent miss") {
        const std::size_t at = entry_at();
        bytes_of(bucket)[at + 16] ^= std::byte{0x20};
        auto r = s.read();
        REQUIRE_THROWS_MATCHES(index_at.find(r, key), mmry::error,
                               is_error(errc::corrupt, "fails its checksum"));
        REQUIRE_FALSE(index_at.verify(r).empty());
    }
    SECTION("a slot's fingerprint or offset: the header's checksum fails") {
        const std::size_t at = entry_at();
        auto* page = bytes_of(bucket);
        std::uint16_t count = 0;
        std::memcpy(&count, page + 16, 2);
        std::size_t slot = 0;
        for (std::size_t k = 0; k < count; ++k) {
            std::uint16_t offset = 0;
            std::memcpy(&offset, page + 32 + 8 * k + 4, 2);
            if (offset == at) slot = 32 + 8 * k;
        }
        REQUIRE(slot != 0);
        const std::size_t byte = GENERATE(0, 4);  // fingerprint, offset
        page[slot + byte] ^= std::byte{1};
        auto r = s.read();
        REQUIRE_THROWS_MATCHES(index_at.find(r, key), mmry::error,
                               is_error(errc::corrupt, "header fails its checks"));
        REQUIRE_FALSE(index_at.verify(r).empty());
    }
    SECTION("the bucket header") {
        bytes_of(bucket)[9] ^= std::byte{4};
        auto r = s.read();
        REQUIRE_THROWS_MATCHES(index_at.find(r, key), mmry::error,
                               is_error(errc::corrupt, "page " + std::to_string(bucket)));
        REQUIRE_FALSE(index_at.verify(r).empty());
    }
    SECTION("a directory slot naming a page past the store") {
        auto r = s.read();
        auto* dir = bytes_of(r.word(2));
        const std::uint64_t far = 1ull << 40;
        for (int i = 0; i < 512; ++i) std::memcpy(dir + i * 8, &far, 8);
        REQUIRE_THROWS_MATCHES(index_at.find(r, key), mmry::error,
                               is_error(errc::corrupt, "are not data pages"));
        REQUIRE_FALSE(index_at.verify(r).empty());
    }
    SECTION("a directory slot naming the wrong bucket: no silent miss") {
        auto r = s.read();
        std::vector<pg::page_id> buckets;
        index_at.mark(r, [&](pg::page_id p, std::uint64_t) {
            if (std::memcmp(r.page(p).data(), "MBKT", 4) == 0 && p != bucket) buckets.push_back(p);
        });
        REQUIRE_FALSE(buckets.empty());
        // Point every slot of the key's bucket at another bucket.
        const int g = static_cast<int>(r.word(3));
        REQUIRE(g <= 9);
        auto* dir = bytes_of(r.word(2));
        for (int i = 0; i < (1 << g); ++i) {
            pg::page_id slot = 0;
            std::memcpy(&slot, dir + i * 8, 8);
            if (slot == bucket) std::memcpy(dir + i * 8, &buckets.front(), 8);
        }
        REQUIRE_THROWS_MATCHES(index_at.find(r, key), mmry::error,
                               is_error(errc::corrupt, "prefix"));
        REQUIRE_FALSE(index_at.verify(r).empty());
    }
}
