// basic_store::compact(): a store emptied of most of its values shrinks to what it holds, every
// value, version and time reads back as before, the bytes go back to the system (segment files
// and shared memory objects shrink), the store grows again afterwards, readers in other threads
// and processes go on meanwhile, and a process killed at any step of it leaves the store whole.

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <mmry/compact.hpp>

#include "history_support.hpp"
#include "pages_support.hpp"
#include "shared_support.hpp"
#include "support.hpp"

using namespace mmry_test;
using mmry::errc;

namespace {

constexpr std::size_t segment = 1 << 20;

/// Value i of a test: 2 to 60 KiB (several pages, runs of one page, and records that share
/// pages with nothing), its bytes a function of i and the round.
mmry::bytes value_of(int i, int round = 0) {
    return random_bytes(2048 + static_cast<std::size_t>(i * 7919 % 59) * 1024,
                        static_cast<std::uint64_t>(i) * 31 + static_cast<std::uint64_t>(round));
}

std::string key_of(int i) {
    return numbered("k/", i);
}

/// Bytes the files of a place's segments hold (blocks on disk or in memory).
template <class Arena>
std::uint64_t held(const place<Arena>& at) {
    std::uint64_t n = 0;
    for (const auto& f : at.segment_paths()) {
        struct stat st {};
        if (::stat(f.c_str(), &st) == 0) n += static_cast<std::uint64_t>(st.st_blocks) * 512;
    }
    return n;
}

/// Fills a store with `n` values, then erases all but every tenth from the first 90 %: what is
/// left lies mostly at the end of the store. Returns the keys kept, with their values.
template <class Store>
std::map<std::string, mmry::bytes> fill_and_thin(Store& s, int n) {
    std::map<std::string, mmry::bytes> kept;
    for (int i = 0; i < n; ++i) s.put(key_of(i), value_of(i));
    for (int i = 0; i < n; ++i) {
        if (i % 10 == 0 || i >= n * 9 / 10)
            kept.emplace(key_of(i), value_of(i));
        else
            s.erase(key_of(i));
    }
    return kept;
}

/// A shared store of composition Traits, filled with n values and thinned (fill_and_thin).
template <class Traits>
struct thinned {
    place<typename Traits::arena> at;
    mmry::options opts = options_for<Traits>(segment);
    mmry::basic_store<Traits> s = mmry::basic_store<Traits>::create(at.name(), opts);
    int n;
    std::map<std::string, mmry::bytes> kept;
    explicit thinned(int count) : n(count), kept(fill_and_thin(s, count)) {}
};

template <class Store>
void require_holds(Store& s, const std::map<std::string, mmry::bytes>& kept, int n) {
    for (int i = 0; i < n; ++i) {
        const auto it = kept.find(key_of(i));
        const auto got = s.get(key_of(i));
        if (it == kept.end()) {
            REQUIRE_FALSE(got);
        } else {
            REQUIRE(got);
            REQUIRE(*got == it->second);
        }
    }
    const auto report = s.verify();
    for (const auto& p : report.problems) FAIL_CHECK(p);
    REQUIRE(report.ok());
}

using shared_compositions =
    std::tuple<raw_traits<file>, sealed_ordered_traits<file>, folded_history_traits<file>,
               raw_traits<shm>, sealed_ordered_traits<shm>, folded_history_traits<shm>>;
using shm_only = std::tuple<raw_traits<shm>>;
using raw_both = std::tuple<raw_traits<file>, raw_traits<shm>>;
using raw_and_sealed = std::tuple<raw_traits<file>, sealed_traits<shm>>;

}  // namespace

TEMPLATE_LIST_TEST_CASE("compact: a store thinned to a fifth shrinks to what it holds", "[compact]",
                        shared_compositions) {
    using S = mmry::basic_store<TestType>;
    thinned<TestType> t(400);
    auto& [at, opts, s, n, kept] = t;
    const auto before = s.stats();
    const auto versions = seen(s, key_of(n - 1));
    const auto held_before = held(at);

    const auto r = s.compact();
    INFO("moved " << r.records_moved << ", " << r.size_before << " -> " << r.size_after
                  << " bytes, live " << r.live_bytes << ", held " << r.held_before << " -> "
                  << r.held_after);
    CHECK(r.records_moved > 0);
    CHECK(r.size_after < r.size_before / 2);
    // Whole segments at most past what it holds (the last one a hole past the end).
    CHECK(r.size_after <= r.live_bytes + r.live_bytes / 4 + 64 * 4096);
    CHECK(r.held_after < r.held_before);
    CHECK(held(at) < held_before / 2);
    CHECK(held(at) <= r.size_after + segment);

    // Every value, version and count as it was.
    require_holds(s, kept, n);
    const auto after = s.stats();
    CHECK(after.entries == before.entries);
    CHECK(after.logical_bytes == before.logical_bytes);
    CHECK(after.stored_bytes == before.stored_bytes);
    CHECK(seen(s, key_of(n - 1)) == versions);
    CHECK(after.arena.reserved_bytes < before.arena.reserved_bytes);

    // A second compaction finds little left to move (the first left room for the tables).
    const auto again = s.compact();
    CHECK(again.records_moved <= r.records_moved / 8);
    CHECK(again.size_after <= r.size_after);

    // The store grows again past where it ended: the bytes given back are reserved again.
    std::map<std::string, mmry::bytes> more = kept;
    for (int i = n; i < n + 300; ++i) {
        s.put(key_of(i), value_of(i, 1));
        more[key_of(i)] = value_of(i, 1);
    }
    require_holds(s, more, n + 300);
    CHECK(held(at) > r.held_after);

    // Another opener sees the same.
    auto other = S::open(at.name(), opts);
    require_holds(other, more, n + 300);
}

TEST_CASE("compact: a heap store gives its pages back and goes on", "[compact]") {
    using S = mmry::basic_store<traits<hashed, zstd3, aes>>;
    mmry::options o{.capacity = segment};
    o.key = mmry::key::generate();
    auto s = S::create("heap", o);
    const int n = 300;
    const auto kept = fill_and_thin(s, n);
    const auto r = s.compact();
    CHECK(r.records_moved > 0);
    CHECK(r.size_after < r.size_before / 2);
    require_holds(s, kept, n);
    for (int i = 0; i < 50; ++i) s.put(key_of(i), value_of(i, 2));
    CHECK(s.get(key_of(7)) == value_of(7, 2));
    CHECK(s.verify().ok());
}

TEST_CASE("compact: an empty store and a full one have nothing to move", "[compact]") {
    using S = mmry::basic_store<raw_traits<file>>;
    place<file> at;
    auto s = S::create(at.name(), {.capacity = segment});
    auto r = s.compact();
    CHECK(r.records_moved == 0);
    CHECK(r.size_after == r.size_before);
    for (int i = 0; i < 50; ++i) s.put(key_of(i), value_of(i));
    r = s.compact();
    CHECK(r.records_moved == 0);
    CHECK(r.size_after <= r.size_before);
    std::map<std::string, mmry::bytes> all;
    for (int i = 0; i < 50; ++i) all[key_of(i)] = value_of(i);
    require_holds(s, all, 50);
}

TEST_CASE("compact: a key with history keeps every version and its times", "[compact]") {
    using S = mmry::basic_store<folded_history_traits<file>>;
    place<file> at;
    auto s = S::create(at.name(), options_for<folded_history_traits<file>>(segment));
    for (int round = 0; round < 3; ++round)
        for (int i = 0; i < 60; ++i) s.put(key_of(i), value_of(i, round));
    for (int i = 0; i < 200; ++i) s.put(numbered("filler/", i), value_of(i + 1000));
    for (int i = 0; i < 200; ++i) s.erase(numbered("filler/", i));
    std::map<std::string, std::vector<seen_version>> history;
    for (int i = 0; i < 60; ++i) history[key_of(i)] = seen(s, key_of(i));
    const auto r = s.compact();
    CHECK(r.size_after < r.size_before);
    for (int i = 0; i < 60; ++i) {
        CHECK(seen(s, key_of(i)) == history[key_of(i)]);
        for (int round = 0; round < 3; ++round)
            CHECK(s.get(key_of(i), mmry::version{static_cast<std::uint64_t>(round + 1)}) ==
                  value_of(i, round));
    }
    CHECK(s.verify().ok());
}

TEMPLATE_LIST_TEST_CASE("compact: readers in other threads read every value meanwhile (threads)",
                        "[compact][threads]", shm_only) {
    thinned<TestType> t(200);
    auto& [at, opts, s, n, kept] = t;
    std::atomic<bool> stop{false};
    std::atomic<int> wrong{0};
    std::vector<std::thread> readers;
    for (int k = 0; k < 2; ++k)
        readers.emplace_back([&] {
            while (!stop.load())
                for (const auto& [key, value] : kept)
                    if (s.get(key) != value) ++wrong;
        });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const auto r = s.compact();
    stop = true;
    for (auto& r : readers) r.join();
    CHECK(wrong.load() == 0);
    CHECK(r.records_moved > 0);
    // The readers pinned states from before the move: their pages went once they let go.
    CHECK(r.size_after < r.size_before / 2);
    require_holds(s, kept, n);
}

TEMPLATE_LIST_TEST_CASE("compact: another process reads and writes while the store compacts",
                        "[compact][processes]", raw_both) {
    using S = mmry::basic_store<TestType>;
    thinned<TestType> t(200);
    auto& [at, opts, s, n, kept] = t;
    const pid_t child = ::fork();
    if (child == 0) {
        int code = 0;
        try {
            auto other = S::open(at.name(), opts);
            const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(600);
            for (int round = 0; std::chrono::steady_clock::now() < until; ++round) {
                for (const auto& [key, value] : kept)
                    if (other.get(key) != value) code = 1;
                other.put("child", value_of(round));
                if (other.get("child") != value_of(round)) code = 2;
            }
        } catch (...) {
            code = 3;
        }
        ::_exit(code);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const auto r = s.compact();
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(r.records_moved > 0);
    CHECK(s.get("child"));
    require_holds(s, kept, n);
    // What the writer left past the end (if it grew the store meanwhile) goes with the next.
    s.compact();
    require_holds(s, kept, n);
}

TEMPLATE_LIST_TEST_CASE("compact: a process killed at any step leaves the store whole",
                        "[compact][processes]", raw_and_sealed) {
    using S = mmry::basic_store<TestType>;
    const std::string point = GENERATE(as<std::string>{}, "pages.lists_written", "pages.lists_done",
                                       "pages.committed", "pages.giving_back");
    INFO("the compacting process dies at " << point << " (the first time it passes it)");
    thinned<TestType> t(200);
    auto& [at, opts, s, n, kept] = t;
    const pid_t child = ::fork();
    if (child == 0) {
        static std::string where;
        where = point;
        try {
            auto other = S::open(at.name(), opts);
            mmry::detail::fault_hook = [](std::string_view p) {
                if (p == where) ::raise(SIGKILL);
            };
            other.compact();
        } catch (...) {
        }
        ::_exit(0);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFSIGNALED(status));
    // Whatever step it died at: every value there, and the accounting of every page right.
    require_holds(s, kept, n);
    const auto r = s.compact();
    CHECK((r.size_after < r.size_before || r.records_moved == 0));
    require_holds(s, kept, n);
    for (int i = 0; i < 40; ++i) s.put(numbered("after/", i), value_of(i, 3));
    for (int i = 0; i < 40; ++i) CHECK(s.get(numbered("after/", i)) == value_of(i, 3));
    CHECK(s.verify().ok());
}

TEST_CASE("compact: a damaged index entry stops it, and nothing changes", "[compact]") {
    using S = mmry::basic_store<raw_traits<file>>;
    place<file> at;
    auto s = S::create(at.name(), {.capacity = segment});
    const int n = 200;
    const auto kept = fill_and_thin(s, n);
    // An entry whose record reference names pages past the store's end: read as corrupt.
    REQUIRE(
        mmry::detail::store_access::change_index_entry(s, key_of(n - 1), [](mmry::record_ref& r) {
            r.where = mmry::handle::from_raw(r.where.raw() + (std::uint64_t{1} << 40));
        }));
    const auto size_before = s.stats().arena.reserved_bytes;
    CHECK_THROWS_MATCHES(s.compact(), mmry::error, is_error(errc::corrupt));
    CHECK(s.stats().arena.reserved_bytes == size_before);
    for (int i = 0; i < n - 1; ++i)
        if (kept.count(key_of(i))) CHECK(s.get(key_of(i)) == kept.at(key_of(i)));
}

TEST_CASE("compact: a durable store opens whole after a power cut that follows it",
          "[compact][durability]") {
    using T = sealed_traits<file>;
    const int trials = env_count("MMRY_POWER_CUTS", 4);
    for (int trial = 0; trial < trials; ++trial) {
        INFO("trial " << trial);
        place<file> at;
        auto o = options_for<T>(segment);
        o.durability = mmry::durability::periodic;
        o.flush_interval = std::chrono::hours(1);  // flushed by compact() only
        const int n = 200;
        std::map<std::string, mmry::bytes> kept;
        files flushed;
        {
            auto s = mmry::basic_store<T>::create(at.name(), o);
            kept = fill_and_thin(s, n);
            const auto r = s.compact();
            INFO("moved " << r.records_moved << ", " << r.size_before << " -> " << r.size_after
                          << " bytes, live " << r.live_bytes);
            CHECK(r.size_after < r.size_before / 2);
            flushed = read_all(at.name());  // compact() returns with its state on disk
            // After it: none of this is promised, and the store grows into what it gave back.
            for (int i = 0; i < 30; ++i) s.put(numbered("late/", i), value_of(i, 5));
        }
        std::mt19937_64 rng(static_cast<std::uint64_t>(trial) + 11);
        cut_power(at.name(), flushed, rng);
        forget_boot(at.name());
        auto s = mmry::basic_store<T>::open(at.name(), o);
        for (int i = 0; i < n; ++i) {
            const auto it = kept.find(key_of(i));
            CHECK(s.get(key_of(i)) ==
                  (it == kept.end() ? std::nullopt : std::optional(it->second)));
        }
        CHECK(s.verify().ok());
        for (int i = 0; i < 30; ++i) s.put(numbered("after/", i), value_of(i, 6));
        CHECK(s.get(numbered("after/", 29)) == value_of(29, 6));
        CHECK(s.verify().ok());
    }
}
