// Durability levels through the store (docs/DURABILITY.md): a mapped-file store survives a
// simulated power cut whole at its last flush (periodic) or with every put that returned (sync);
// stores of the other arenas keep `none` whatever is asked. The page layer's own tests
// (tests/test_pages.cpp) cut power at random states; these check what a user of the store sees.

#include <catch2/catch.hpp>

#include <fstream>
#include <random>
#include <string>

#include <mmry/arena/mapped_file.hpp>

#include "pages_support.hpp"
#include "shared_support.hpp"
#include "support.hpp"

using mmry_test::numbered;
using mmry_test::random_bytes;

namespace {

using store = mmry::basic_store<mmry_test::sealed_traits<mmry_test::file>>;

mmry::options opts_of(mmry::durability level) {
    static const mmry::key k = mmry::key::generate();
    mmry::options o{.capacity = 256 << 10, .key = k};
    o.durability = level;
    o.flush_interval = std::chrono::hours(1);  // periodic: flushed by hand below
    return o;
}

}  // namespace

TEST_CASE("durability: after a power cut a periodic store opens whole at its last flush",
          "[durability]") {
    const int trials = mmry_test::env_count("MMRY_POWER_CUTS", 6);
    for (int trial = 0; trial < trials; ++trial) {
        INFO("trial " << trial);
        mmry_test::place<mmry_test::file> at;
        std::mt19937_64 rng(static_cast<std::uint64_t>(trial) + 1);
        const int flushed_keys = 10 + static_cast<int>(rng() % 20);
        mmry_test::files flushed;
        {
            auto s = store::create(at.name(), opts_of(mmry::durability::periodic));
            for (int i = 0; i < flushed_keys; ++i)
                s.put(numbered("k/", i), random_bytes(100 + 900 * (i % 7), i));
            s.erase(numbered("k/", 0));
            s.flush();
            flushed = mmry_test::read_all(at.name());
            // After the flush: new keys, replaced and erased ones; none of it promised.
            for (int i = 0; i < 40; ++i) s.put(numbered("late/", i), random_bytes(3000, i + 100));
            for (int i = 1; i < flushed_keys; i += 2) s.put(numbered("k/", i), "replaced late");
            s.erase(numbered("k/", 2));
        }
        mmry_test::cut_power(at.name(), flushed, rng);
        mmry_test::forget_boot(at.name());
        auto s = store::open(at.name(), opts_of(mmry::durability::periodic));
        CHECK(s.size() == static_cast<std::size_t>(flushed_keys - 1));
        CHECK_FALSE(s.contains(numbered("k/", 0)));
        for (int i = 1; i < flushed_keys; ++i)
            CHECK(s.get(numbered("k/", i)) == random_bytes(100 + 900 * (i % 7), i));
        CHECK_FALSE(s.contains(numbered("late/", 0)));
        CHECK(s.verify().ok());
        s.put("after", "the cut");
        CHECK(s.template get<std::string>("after") == "the cut");
    }
}

TEST_CASE("durability: a sync store has every put that returned, replayed from its journal",
          "[durability]") {
    // Each put returned once its journal entry was synced; the segments were last written back
    // at creation. The cut finds each page written since as it was then or as it is now, the
    // journal and the durable file as they are.
    mmry_test::place<mmry_test::file> at;
    mmry_test::files checkpointed;
    {
        auto s = store::create(at.name(), opts_of(mmry::durability::sync));
        checkpointed = mmry_test::read_all(at.name());
        for (int i = 0; i < 20; ++i) s.put(numbered("k/", i), random_bytes(500, i));
        s.erase(numbered("k/", 3));
        s.put(numbered("k/", 5), "replaced");
        const auto st = s.stats();
        CHECK(st.durable_txn > 20);
        CHECK(st.flushes == 0);  // no checkpoint yet: every commit is in the journal
        CHECK(st.journal_bytes > 0);
    }
    const auto now = mmry_test::read_all(at.name());
    std::mt19937_64 rng(3);
    mmry_test::cut_power(at.name(), checkpointed, rng);
    for (const char* name : {"durable.mmry", "journal.mmry"})
        std::ofstream(at.name() + "/" + name, std::ios::binary | std::ios::trunc) << now.at(name);
    mmry_test::forget_boot(at.name());
    auto s = store::open(at.name(), opts_of(mmry::durability::sync));
    CHECK(s.size() == 19);
    CHECK_FALSE(s.contains(numbered("k/", 3)));
    CHECK(s.template get<std::string>(numbered("k/", 5)) == "replaced");
    for (int i = 0; i < 20; ++i)
        if (i != 3 && i != 5) CHECK(s.get(numbered("k/", i)) == random_bytes(500, i));
    CHECK(s.verify().ok());
    const auto st = s.stats();
    CHECK(st.journal_replayed >= 22);  // the 22 writes, and what creation committed
    CHECK(st.journal_dropped == 0);
}

TEST_CASE("durability: heap and shared-memory stores keep none whatever is asked", "[durability]") {
    mmry::store h({.durability = mmry::durability::sync});
    h.put("k", "v");
    CHECK(h.stats().flushes == 0);
    using shm_store = mmry::basic_store<mmry_test::raw_traits<mmry_test::shm>>;
    mmry_test::place<mmry_test::shm> at;
    auto s = shm_store::create(at.name(), {.durability = mmry::durability::sync});
    s.put("k", "v");
    s.flush();  // nothing to do
    CHECK(s.stats().flushes == 0);
}
