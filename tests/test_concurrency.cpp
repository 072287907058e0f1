// Threads sharing one store: readers run beside writers and always see a whole value; concurrent
// puts and erases of the same keys keep the index, the pages and the counters consistent.
// (Catch2 assertions are not thread-safe: threads collect failures, the test checks them after.)

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <latch>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <mmry/path/latest.hpp>
#include <mmry/path/multi.hpp>
#include <mmry/path/temporal.hpp>
#include <mmry/path/versioned.hpp>

#include "support.hpp"

namespace {

using compositions = std::tuple<
    mmry_test::traits<mmry_test::hashed, mmry_test::no_compression, mmry_test::no_cipher>,
    mmry_test::traits<mmry_test::ordered, mmry_test::zstd1, mmry_test::aes>,
    mmry_test::traits<mmry_test::hashed, mmry_test::zstd3, mmry_test::xchacha>>;

/// Version `version` of the value of `key`: the version number, then bytes derived from both, of
/// a length that varies from 0 to several frames.
mmry::bytes value_of(const std::string& key, std::uint64_t version) {
    const std::uint64_t seed = std::hash<std::string>{}(key) ^ (version * 0x9e3779b97f4a7c15);
    const std::size_t length = 8 + seed % 700;
    mmry::bytes v = (seed >> 20) % 2 ? mmry_test::random_bytes(length, seed)
                                     : mmry_test::redundant_bytes(length);
    std::memcpy(v.data(), &version, 8);
    return v;
}

/// "" when `got` is a whole value once written under `key` (no partial or mixed writes).
std::string check_value(const std::string& key, const mmry::bytes& got) {
    if (got.size() < 8) return key + mmry_test::numbered(": a value of ", got.size()) + " bytes";
    std::uint64_t version = 0;
    std::memcpy(&version, got.data(), 8);
    if (got != value_of(key, version))
        return key + mmry_test::numbered(": not byte-exact version ", version);
    return {};
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("concurrency: readers see whole values while writers write",
                        "[concurrency]", compositions) {
    auto s = mmry_test::make_store<TestType>({.frame_size = 128});
    constexpr int writers = 8, readers = 8, keys_per_writer = 16, rounds = 4;
    const auto key_of = [](int w, int k) {
        return mmry_test::numbered("w", w) + mmry_test::numbered("/", k);
    };

    mmry_test::failures failed;
    std::atomic<int> writers_left{writers};
    std::atomic<long> reads{0}, found{0};
    std::latch start(writers + readers);
    std::vector<std::thread> threads;
    for (int w = 0; w < writers; ++w)
        threads.emplace_back([&, w] {
            start.arrive_and_wait();
            try {
                for (int round = 0; round < rounds; ++round)
                    for (int k = 0; k < keys_per_writer; ++k)
                        s.put(key_of(w, k), value_of(key_of(w, k), std::uint64_t(round)));
            } catch (const std::exception& e) {
                failed.add(std::string("writer: ") + e.what());
            }
            --writers_left;
        });
    for (int r = 0; r < readers; ++r)
        threads.emplace_back([&, r] {
            std::mt19937 pick(static_cast<unsigned>(r));
            start.arrive_and_wait();
            try {
                // Read until the writers are done, and at least a few hundred times.
                for (int i = 0; writers_left > 0 || i < 200; ++i) {
                    const auto key = key_of(static_cast<int>(pick() % writers),
                                            static_cast<int>(pick() % keys_per_writer));
                    ++reads;
                    if (const auto v = s.get(key)) {
                        ++found;
                        if (auto f = check_value(key, *v); !f.empty()) failed.add(f);
                    }
                    if (const auto part = s.read(key, 0, 8); part && part->size() != 8)
                        failed.add(key + ": short range read");
                }
            } catch (const std::exception& e) {
                failed.add(std::string("reader: ") + e.what());
            }
        });
    for (auto& t : threads) t.join();

    CHECK(failed.list == std::vector<std::string>{});
    CHECK(reads >= readers * 200);
    CHECK(found > 0);
    CHECK(s.size() == writers * keys_per_writer);
    for (int w = 0; w < writers; ++w)
        for (int k = 0; k < keys_per_writer; ++k)
            CHECK(s.get(key_of(w, k)) == value_of(key_of(w, k), rounds - 1));
    CHECK(s.stats().puts == writers * keys_per_writer * rounds);
    mmry_test::check_counters(s);
}

TEMPLATE_LIST_TEST_CASE("concurrency: 100 threads read exact values at once", "[concurrency]",
                        compositions) {
    auto s = mmry_test::make_store<TestType>({.frame_size = 128});
    for (int k = 0; k < 100; ++k) {
        const auto key = mmry_test::numbered("k", k);
        s.put(key, value_of(key, 1));
    }
    mmry_test::failures failed;
    std::latch start(100);
    std::vector<std::thread> threads;
    for (int t = 0; t < 100; ++t)
        threads.emplace_back([&, t] {
            start.arrive_and_wait();
            try {
                for (int i = 0; i < 10; ++i) {
                    const auto key = mmry_test::numbered("k", (t * 7 + i * 13) % 100);
                    const auto v = s.get(key);
                    if (!v)
                        failed.add(key + ": missing");
                    else if (*v != value_of(key, 1))
                        failed.add(key + ": not byte-exact");
                }
            } catch (const std::exception& e) {
                failed.add(e.what());
            }
        });
    for (auto& t : threads) t.join();
    CHECK(failed.list == std::vector<std::string>{});
}

TEMPLATE_LIST_TEST_CASE("concurrency: puts and erases of the same keys keep the store consistent",
                        "[concurrency]", compositions) {
    auto s = mmry_test::make_store<TestType>({.frame_size = 128});
    constexpr int threads_n = 8, ops = 150, keys = 10;
    mmry_test::failures failed;
    std::atomic<std::uint64_t> next_version{0};
    std::atomic<bool> done{false};
    std::latch start(threads_n + 1);
    std::vector<std::thread> threads;
    for (int t = 0; t < threads_n; ++t)
        threads.emplace_back([&, t] {
            std::mt19937 pick(static_cast<unsigned>(t) + 100);
            start.arrive_and_wait();
            try {
                for (int i = 0; i < ops; ++i) {
                    const auto key = mmry_test::numbered("shared/", pick() % keys);
                    switch (pick() % 4) {
                        case 0:
                            s.erase(key);
                            break;
                        case 1:
                            if (const auto v = s.get(key))
                                if (auto f = check_value(key, *v); !f.empty()) failed.add(f);
                            break;
                        default:
                            s.put(key, value_of(key, ++next_version));
                    }
                }
            } catch (const std::exception& e) {
                failed.add(e.what());
            }
        });
    // A lister and a stats reader beside them.
    threads.emplace_back([&] {
        start.arrive_and_wait();
        try {
            while (!done) {
                std::size_t n = 0;
                for (const auto& e : s.list("shared/")) {
                    if (e.meta.logical_size < 8) failed.add(e.key + ": listed with a bad size");
                    ++n;
                }
                if (n > keys) failed.add(mmry_test::numbered("listed ", n) + " entries");
                if (s.stats().entries > keys) failed.add("stats counted too many entries");
            }
        } catch (const std::exception& e) {
            failed.add(std::string("lister: ") + e.what());
        }
    });
    for (int t = 0; t < threads_n; ++t) threads[static_cast<std::size_t>(t)].join();
    done = true;
    threads.back().join();

    CHECK(failed.list == std::vector<std::string>{});
    CHECK(s.size() <= keys);
    for (const auto& e : s.list()) {
        const auto v = s.get(e.key);
        REQUIRE(v);
        CHECK(check_value(e.key, *v) == "");
    }
    mmry_test::check_counters(s);
    const auto st = s.stats();
    CHECK(st.puts + st.erases <= threads_n * ops);
    // Every erase of a present key and every put are counted once; every page is accounted for.
    CHECK(s.verify().ok());
}

namespace {
template <class Index, class Cipher, class Path>
struct history_traits : mmry_test::traits<Index, mmry_test::zstd1, Cipher> {
    using path = Path;
};
using temporal_minutes = mmry::path::temporal_with<mmry::path::granularity::minute>;
using multi_path = mmry::path::multi<mmry::path::exists::any, mmry::path::latest,
                                     mmry::path::versioned, temporal_minutes>;
using history_compositions =
    std::tuple<history_traits<mmry_test::hashed, mmry_test::no_cipher, mmry::path::versioned>,
               history_traits<mmry_test::ordered, mmry_test::aes, multi_path>>;
}  // namespace

TEMPLATE_LIST_TEST_CASE(
    "concurrency: threads putting one versioned key get every version once, readers see whole "
    "histories",
    "[concurrency][paths]", history_compositions) {
    auto s = mmry_test::make_store<TestType>({.frame_size = 128});
    constexpr int writers = 6, readers = 4, puts = 25;
    mmry_test::failures failed;
    std::atomic<int> writers_left{writers};
    std::latch start(writers + readers);
    std::vector<std::thread> threads;
    std::vector<std::vector<mmry::version>> got(writers);
    for (int w = 0; w < writers; ++w)
        threads.emplace_back([&, w] {
            start.arrive_and_wait();
            for (int i = 0; i < puts; ++i)
                got[w].push_back(s.put("doc", value_of("doc", w * 100 + i)));
            --writers_left;
        });
    for (int r = 0; r < readers; ++r)
        threads.emplace_back([&] {
            start.arrive_and_wait();
            while (writers_left > 0) {
                // The lazy history, walked while writers add versions behind its batches.
                std::optional<mmry::version> first, last;
                for (const auto& e : s.history("doc")) {
                    if (last && e.meta.version <= *last)
                        failed.add(
                            mmry_test::numbered("history out of order at version ",
                                                static_cast<long long>(e.meta.version.number)));
                    if (!first) first = e.meta.version;
                    last = e.meta.version;
                }
                if (const auto v = s.get("doc")) {
                    if (auto why = check_value("doc", *v); !why.empty()) failed.add(why);
                }
                if (first)
                    if (const auto v = s.get("doc", *first))
                        if (auto why = check_value("doc", *v); !why.empty()) failed.add(why);
            }
        });
    for (auto& t : threads) t.join();
    CHECK(failed.list.empty());
    for (const auto& f : failed.list) UNSCOPED_INFO(f);

    // Every put got its own version, 1 .. writers * puts, and the history links them in order.
    std::vector<mmry::version> all;
    for (const auto& g : got) all.insert(all.end(), g.begin(), g.end());
    std::sort(all.begin(), all.end());
    for (std::size_t i = 0; i < all.size(); ++i) CHECK(all[i] == mmry::version{i + 1});
    const auto h = mmry_test::entries_of(s.history("doc"));
    REQUIRE(h.size() == static_cast<std::size_t>(writers * puts));
    for (std::size_t i = 0; i < h.size(); ++i) {
        CHECK(h[i].meta.version == mmry::version{i + 1});
        CHECK(h[i].meta.previous_version == mmry::version{i});
    }
    mmry_test::check_counters(s);
}

namespace {
template <class Cipher>
struct folded_traits : mmry::default_traits {
    using cipher = Cipher;
    using fold = mmry::fold::cdc<256, 1024, 8192>;  // small chunks: many shared between threads
};
using folded_compositions =
    std::tuple<folded_traits<mmry_test::no_cipher>, folded_traits<mmry_test::aes>>;

/// A value of about 24 KiB built from 8 of 16 shared pieces: values of different keys and
/// versions share most of their chunks.
mmry::bytes folded_value(std::uint64_t n) {
    mmry::bytes out(8);
    std::memcpy(out.data(), &n, 8);
    for (std::uint64_t i = 0; i < 8; ++i) {
        const auto piece = mmry_test::random_bytes(3000, 1 + (n + i * 7) % 16);
        out.insert(out.end(), piece.begin(), piece.end());
    }
    return out;
}
}  // namespace

TEMPLATE_LIST_TEST_CASE(
    "concurrency: threads folding values that share chunks keep chunk counts exact",
    "[concurrency][fold]", folded_compositions) {
    auto s = mmry_test::make_store<TestType>();
    constexpr int writers = 4, readers = 2, rounds = 30;
    mmry_test::failures failed;
    std::atomic<int> writers_left{writers};
    std::latch start(writers + readers);
    std::vector<std::thread> threads;
    for (int w = 0; w < writers; ++w)
        threads.emplace_back([&, w] {
            start.arrive_and_wait();
            for (int i = 0; i < rounds; ++i) {
                const std::string key = mmry_test::numbered("k", (w + i) % 6);
                s.put(key, folded_value(static_cast<std::uint64_t>(w * 1000 + i)));
                if (i % 5 == 4) s.erase(mmry_test::numbered("k", i % 6));
            }
            --writers_left;
        });
    for (int r = 0; r < readers; ++r)
        threads.emplace_back([&] {
            start.arrive_and_wait();
            while (writers_left > 0)
                for (int k = 0; k < 6; ++k)
                    if (const auto v = s.get(mmry_test::numbered("k", k))) {
                        std::uint64_t n = 0;
                        if (v->size() >= 8) std::memcpy(&n, v->data(), 8);
                        if (*v != folded_value(n))
                            failed.add(mmry_test::numbered("k", k) + ": torn");
                    }
        });
    for (auto& t : threads) t.join();
    CHECK(failed.list.empty());
    for (const auto& f : failed.list) UNSCOPED_INFO(f);
    // Every chunk reference is a manifest entry of a value that is there.
    std::uint64_t refs = 0, logical = 0;
    for (const auto& e : s.list()) {
        refs += e.meta.chunks;
        logical += e.meta.logical_size;
    }
    const auto st = s.stats();
    CHECK(st.chunk_refs == refs);
    CHECK(st.logical_bytes == logical);
    mmry_test::check_counters(s);
    for (int k = 0; k < 6; ++k) s.erase(mmry_test::numbered("k", k));
    CHECK(s.stats().chunks == 0);
    CHECK(s.stats().stored_bytes == 0);
}
