// The page store under mmry's coming copy-on-write core (docs/DECISIONS.md §11): transactions
// all-or-nothing, readers that keep their state while writers go on, pages reused once no reader
// can see them, a writer killed at every fault point of the commit costing only its own
// transaction (whitebox), damaged bytes refused or survived, never followed.
//
// The structure under test is a small copy-on-write table: meta word 0 names a directory page
// that lists (key, value, first page, pages) for each key; each value fills its run of pages with
// a pattern derived from it. A step of the model changes a few keys; state k is what steps 1..k
// make of an empty table, and meta word 1 says which state a store holds.
//
// Whitebox kills: MMRY_PAGES_KILL_STEPS (default 6) steps of 3 transactions each are killed at
// every fault point they pass, on a shared-memory and on a mapped-file store.

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <mmry/detail/pages/page_store.hpp>

#include "pages_support.hpp"
#include "support.hpp"

namespace pg = mmry::detail::pages;
using mmry::errc;
using mmry_test::cut_power;
using mmry_test::env_count;
using mmry_test::files;
using mmry_test::forget_boot;
using mmry_test::is_error;
using mmry_test::page_place;
using mmry_test::read_all;
using mmry_test::require_clean;
using mmry_test::segments_of;

namespace {

struct entry {
    std::uint64_t value = 0;
    pg::page_id page = 0;
    std::uint64_t pages = 0;
};
using table = std::map<std::uint32_t, entry>;
constexpr std::size_t per_dir = (pg::page_size - 8) / 32;

std::uint64_t fill_word(std::uint64_t value, std::size_t i) {
    return value * 0x9e3779b97f4a7c15ull ^ (i * 0xbf58476d1ce4e5b9ull);
}

/// The changes of model step `step`: a few keys set to new values of 1 to 3 pages, some erased.
std::vector<std::pair<std::uint32_t, std::uint64_t>> changes_of(std::uint64_t step) {
    std::mt19937_64 rng(step);
    std::vector<std::pair<std::uint32_t, std::uint64_t>> out;
    const int n = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < n; ++i) {
        const auto key = static_cast<std::uint32_t>(rng() % 40);
        out.emplace_back(key, rng() % 5 == 0 ? 0 : step * 100 + static_cast<std::uint64_t>(i) + 1);
    }
    return out;
}
std::uint64_t pages_of(std::uint64_t value) {
    return 1 + value % 3;
}

/// The keys and values of model state `step` (pages not modelled: they are the store's choice).
std::map<std::uint32_t, std::uint64_t> model(std::uint64_t step) {
    std::map<std::uint32_t, std::uint64_t> m;
    for (std::uint64_t s = 1; s <= step; ++s)
        for (const auto& [key, value] : changes_of(s)) {
            if (value == 0)
                m.erase(key);
            else
                m[key] = value;
        }
    return m;
}

template <class View>
table load(const View& v) {
    table t;
    const pg::page_id dir = v.word(0);
    if (dir == 0) return t;
    const auto bytes = v.page(dir);
    std::uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    if (n > per_dir) throw mmry::error(errc::corrupt, "directory count");
    for (std::uint64_t i = 0; i < n; ++i) {
        std::uint64_t f[4];
        std::memcpy(f, bytes.data() + 8 + i * 32, 32);
        t[static_cast<std::uint32_t>(f[0])] = {f[1], f[2], f[3]};
    }
    return t;
}

/// The table's values, each checked against its pattern in every word of its pages.
template <class View>
std::map<std::uint32_t, std::uint64_t> values(const View& v) {
    std::map<std::uint32_t, std::uint64_t> out;
    for (const auto& [key, e] : load(v)) {
        const auto bytes = v.page(e.page, e.pages);
        for (std::size_t i = 0; i < bytes.size() / 8; ++i) {
            std::uint64_t w = 0;
            std::memcpy(&w, bytes.data() + i * 8, 8);
            if (w != fill_word(e.value, i))
                throw mmry::error(errc::corrupt, "value of key " + std::to_string(key) +
                                                     " changed at word " + std::to_string(i));
        }
        out[key] = e.value;
    }
    return out;
}

/// Fills a run's bytes with value's pattern (checked by values()).
void fill_run(std::span<std::byte> bytes, std::uint64_t value) {
    for (std::size_t i = 0; i < bytes.size() / 8; ++i) {
        const std::uint64_t word = fill_word(value, i);
        std::memcpy(bytes.data() + i * 8, &word, 8);
    }
}

/// Writes table t into a new directory page and names it in word 0 (the old one freed).
template <class Txn>
void write_directory(Txn& w, const table& t) {
    if (w.word(0) != 0) w.free(w.word(0));
    const pg::page_id dir = w.allocate();
    auto bytes = w.write(dir);
    const std::uint64_t n = t.size();
    std::memcpy(bytes.data(), &n, 8);
    std::size_t i = 0;
    for (const auto& [key, e] : t) {
        const std::uint64_t f[4] = {key, e.value, e.page, e.pages};
        std::memcpy(bytes.data() + 8 + 32 * i++, f, 32);
    }
    w.set_word(0, dir);
}

/// Applies model step `step` in one transaction (copy on write: new pages for every changed
/// value and for the directory; the replaced ones freed).
template <class Store>
void apply(Store& s, std::uint64_t step) {
    auto w = s.write();
    table t = load(w);
    for (const auto& [key, value] : changes_of(step)) {
        if (auto it = t.find(key); it != t.end()) {
            w.free(it->second.page, it->second.pages);
            t.erase(it);
        }
        if (value == 0) continue;
        const std::uint64_t n = pages_of(value);
        const pg::page_id p = w.allocate(n);
        fill_run(w.write(p, n), value);
        t[key] = {value, p, n};
    }
    write_directory(w, t);
    w.set_word(1, step);
    w.commit();
}

/// check() with the table's pages as what the meta words reach.
template <class Store>
pg::page_check check(Store& s) {
    return s.check([](const auto& view, auto&& mark) {
        if (view.word(0) == 0) return;
        mark(view.word(0), 1);
        for (const auto& [key, e] : load(view)) mark(e.page, e.pages);
    });
}

template <class Store>
void require_state(Store& s, std::uint64_t step) {
    auto r = s.read();
    REQUIRE(r.word(1) == step);
    REQUIRE(values(r) == model(step));
    require_clean(check(s));
}

pg::page_store_options small() {
    return segments_of(64 * 1024);
}

/// small(), with durability::sync and a journal of `journal_bytes`.
pg::page_store_options synced(std::uint64_t journal_bytes = 64ull << 20) {
    auto o = small();
    o.level = pg::durability::sync;
    o.journal_bytes = journal_bytes;
    return o;
}

}  // namespace

TEST_CASE("pages: commits are all or nothing, and every page is reachable or free exactly once") {
    pg::page_store<pg::heap_backend> s(pg::create, "heap", small());
    require_state(s, 0);
    for (std::uint64_t step = 1; step <= 150; ++step) {
        apply(s, step);
        if (step % 10 == 0) require_state(s, step);
    }
    SECTION("a transaction dropped without commit changes nothing") {
        {
            auto w = s.write();
            const auto p = w.allocate(3);
            w.write(p, 3)[0] = std::byte{1};
            w.free(w.word(0));
            w.set_word(1, 999);
        }
        require_state(s, 150);
        apply(s, 151);
        require_state(s, 151);
    }
    SECTION("committed pages are never written, and a page is never freed twice") {
        auto w = s.write();
        REQUIRE_THROWS_MATCHES(w.write(w.word(0)), mmry::error,
                               is_error(errc::invalid_argument, "never written"));
        w.free(w.word(0));
        REQUIRE_THROWS_MATCHES(w.free(w.word(0)), mmry::error, is_error(errc::invalid_argument));
        REQUIRE_THROWS_MATCHES(w.free(s.max_pages() + 5), mmry::error,
                               is_error(errc::invalid_argument));
    }
    SECTION("freed pages are reused: a store rewritten 1000 times stays small") {
        const auto before = s.stats().pages;
        for (std::uint64_t step = 151; step <= 1150; ++step) apply(s, step);
        require_state(s, 1150);
        CHECK(s.stats().pages < before + 200);
    }
}

TEST_CASE("pages: a reader keeps its state while writers replace it (threads)") {
    pg::page_store<pg::heap_backend> s(pg::create, "heap", small());
    for (std::uint64_t step = 1; step <= 20; ++step) apply(s, step);
    std::atomic<bool> stop{false};
    std::atomic<int> failures{0}, rounds{0};
    std::vector<std::thread> readers;
    for (int t = 0; t < 2; ++t)
        readers.emplace_back([&] {
            while (!stop.load()) {
                auto r = s.read();
                const auto step = r.word(1);
                for (int again = 0; again < 5; ++again)
                    if (values(r) != model(step)) ++failures;
                ++rounds;
            }
        });
    for (std::uint64_t step = 21; step <= 400; ++step) apply(s, step);
    while (rounds.load() < 10) std::this_thread::yield();
    stop = true;
    for (auto& t : readers) t.join();
    CHECK(failures.load() == 0);
    require_state(s, 400);
}

TEST_CASE("pages: pages a reader can see are not reused until it is gone") {
    pg::page_store<pg::heap_backend> s(pg::create, "heap", small());
    for (std::uint64_t step = 1; step <= 20; ++step) apply(s, step);
    const auto base = s.stats().pages;
    {
        auto r = s.read();
        const auto seen = values(r);
        for (std::uint64_t step = 21; step <= 220; ++step) apply(s, step);
        CHECK(values(r) == seen);             // every page it reaches is as it was
        CHECK(s.stats().pages > base + 200);  // what it pins could not be reused
    }
    // Pinned, 200 steps took more than 200 pages; free again, 400 steps take a few dozen (the
    // table's own growth to its 40 keys).
    const auto pinned = s.stats().pages;
    for (std::uint64_t step = 221; step <= 620; ++step) apply(s, step);
    CHECK(s.stats().pages < pinned + 100);
    require_state(s, 620);
}

TEST_CASE("pages: a reader that held reuse back leaves few free lists, and its pages reused") {
    // While a reader pins a state, every commit's freed pages make a list no one may use yet;
    // past a few lists a commit links its own in front of the newest held one instead of taking
    // a slot, so the meta's slots never run out (which made every commit copy a 46th of all
    // free pages, during the reader and for good after it).
    pg::page_store<pg::heap_backend> s(pg::create, "heap", small());
    for (std::uint64_t step = 1; step <= 20; ++step) apply(s, step);
    std::uint64_t most = 0;
    {
        auto r = s.read();
        for (std::uint64_t step = 21; step <= 620; ++step) {
            apply(s, step);
            most = std::max(most, s.stats().lists);
        }
        CHECK(most <= 18);
    }
    const auto pinned = s.stats().pages;
    most = 0;
    for (std::uint64_t step = 621; step <= 1820; ++step) {
        apply(s, step);
        most = std::max(most, s.stats().lists);
    }
    CHECK(most <= 18);
    CHECK(s.stats().pages < pinned + 100);  // the pages it held back are handed out again
    require_state(s, 1820);
}

TEMPLATE_TEST_CASE("pages: a writer killed at any fault point costs only its own transaction", "",
                   pg::shm_backend, pg::file_backend) {
    using store = pg::page_store<TestType>;
    page_place<TestType> where;
    {
        auto o = small();
        o.level = pg::durability::sync;  // on the mapped file: flushes die at their points too
        store s(pg::create, where.name(), o);
    }
    static std::atomic<int> hits{0};
    static int kill_at = 0;
    const int steps = env_count("MMRY_PAGES_KILL_STEPS", 6);
    std::uint64_t step = 0;
    std::uint64_t kills = 0;
    std::uint64_t recoveries = 0;
    for (int round = 0; round < steps; ++round) {
        // One round: children apply the next 3 steps, killed at fault point 0, 1, 2, ... until one
        // passes every point; after each kill the store holds a whole state and takes writes.
        for (kill_at = 0;; ++kill_at) {
            const pid_t child = ::fork();
            if (child == 0) {
                hits = 0;
                mmry::detail::fault_hook = [](std::string_view) {
                    if (hits++ == kill_at) ::kill(::getpid(), SIGKILL);
                };
                try {
                    store s(pg::open, where.name());
                    for (std::uint64_t k = 1; k <= 3; ++k) apply(s, step + k);
                } catch (...) {
                    ::_exit(3);
                }
                ::_exit(0);
            }
            int status = 0;
            REQUIRE(::waitpid(child, &status, 0) == child);
            store s(pg::open, where.name());
            auto r = s.read();
            const auto now = r.word(1);
            INFO("round " << round << ", killed at point " << kill_at << ", state " << now);
            REQUIRE((now >= step && now <= step + 3));
            REQUIRE(values(r) == model(now));
            if (WIFEXITED(status)) {
                REQUIRE(WEXITSTATUS(status) == 0);
                REQUIRE(now == step + 3);
                step = now;
                break;
            }
            REQUIRE(WIFSIGNALED(status));
            ++kills;
            // The writer lock was taken from the dead, unless it died flushing (after letting
            // the lock go).
            const auto now_recovered = s.stats().recoveries;
            CHECK((now_recovered == recoveries || now_recovered == recoveries + 1));
            recoveries = now_recovered;
            require_clean(check(s));
            step = now;
            apply(s, ++step);  // and the next writer goes on
        }
    }
    CHECK(kills > static_cast<std::uint64_t>(steps) * 10);
    CHECK(recoveries > kills / 2);
    store s(pg::open, where.name());
    require_state(s, step);
}

namespace {

/// Forks a child that opens the store at `name`, calls f(store), keeps what f returns (a pin, a
/// staged run) and waits to be killed; returns the child's pid once f has returned.
template <class Store, class F>
pid_t paused_child(const std::string& name, F&& f) {
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    const pid_t child = ::fork();
    if (child == 0) {
        Store mine(pg::open, name);
        [[maybe_unused]] const auto kept = f(mine);
        (void)!::write(ready[1], "x", 1);
        ::pause();
        ::_exit(0);
    }
    char c = 0;
    REQUIRE(::read(ready[0], &c, 1) == 1);
    ::close(ready[0]);
    ::close(ready[1]);
    return child;
}

}  // namespace

TEST_CASE("pages: the pin of a reader that died does not hold reuse up") {
    using store = pg::page_store<pg::shm_backend>;
    page_place<pg::shm_backend> where;
    store s(pg::create, where.name(), small());
    for (std::uint64_t step = 1; step <= 20; ++step) apply(s, step);
    const pid_t child = paused_child<store>(where.name(), [](store& mine) { return mine.read(); });
    CHECK(s.stats().reading == 1);
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    // Were the dead reader's pin kept, 400 steps would take more than 400 pages.
    const auto before = s.stats().pages;
    for (std::uint64_t step = 21; step <= 420; ++step) apply(s, step);
    CHECK(s.stats().pages < before + 150);
    CHECK(s.stats().reading == 0);
    require_state(s, 420);
}

TEST_CASE("pages: trim leaves the free pages at the end out once no reader holds them") {
    pg::page_store<pg::heap_backend> s(pg::create, "heap", small());
    for (std::uint64_t step = 1; step <= 20; ++step) apply(s, step);
    const auto before = s.stats().pages;
    std::vector<pg::page_id> end;
    {
        auto w = s.write();
        while (w.high_water() < before + 100) end.push_back(w.allocate());
        w.commit();
    }
    const auto grown = s.stats().pages;
    REQUIRE(grown >= before + 100);
    {
        auto r = s.read();  // a state in which the 100 pages are in use
        {
            auto w = s.write();
            for (const auto p : end) w.free(p);
            w.commit();
        }
        auto w = s.write();
        CHECK(w.trim() > *std::max_element(end.begin(), end.end()));
    }
    {
        auto w = s.write();
        const auto h = w.trim();
        CHECK(h + 90 < grown);
        w.commit();
    }
    CHECK(s.stats().pages + 90 < grown);
    require_state(s, 20);
    for (std::uint64_t step = 21; step <= 60; ++step) apply(s, step);
    require_state(s, 60);
}

TEST_CASE("pages: a confined transaction takes free pages below its ceiling only") {
    pg::page_store<pg::heap_backend> s(pg::create, "heap", small());
    for (std::uint64_t step = 1; step <= 60; ++step) apply(s, step);
    {
        auto w = s.write();
        const pg::page_id ceiling = w.high_water() / 2;
        w.confine(ceiling);
        std::size_t below = 0;
        for (const auto p : w.free_pool()) below += p < ceiling;
        for (std::size_t i = 0; i < below; ++i) CHECK(w.allocate() < ceiling);
        CHECK_THROWS_MATCHES(w.allocate(), mmry::error,
                             is_error(errc::limit_exceeded, "compaction found no run"));
    }
    require_state(s, 60);
    apply(s, 61);
    require_state(s, 61);
}

TEST_CASE("pages: a full store refuses a transaction and stays as it was") {
    auto o = small();
    o.max_bytes = 8 * o.segment_bytes;
    pg::page_store<pg::heap_backend> s(pg::create, "heap", o);
    for (std::uint64_t step = 1; step <= 10; ++step) apply(s, step);
    {
        auto w = s.write();
        REQUIRE_THROWS_MATCHES(
            [&] {
                for (;;) w.allocate(3);
            }(),
            mmry::error, is_error(errc::limit_exceeded, "limit of 128 pages"));
    }
    require_state(s, 10);
    apply(s, 11);
    require_state(s, 11);
}

TEST_CASE("pages: damaged bytes are refused with errc::corrupt or survived, never followed") {
    using store = pg::page_store<pg::file_backend>;
    page_place<pg::file_backend> where;
    const std::string seg0 = where.name() + "/pages-0000.mmry";
    {
        store s(pg::create, where.name(), small());
        for (std::uint64_t step = 1; step <= 30; ++step) apply(s, step);
    }
    auto poke = [](const std::string& file, std::uint64_t offset, unsigned char x) {
        std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
        f.seekg(static_cast<std::streamoff>(offset));
        char c = 0;
        f.read(&c, 1);
        c = static_cast<char>(c ^ x);
        f.seekp(static_cast<std::streamoff>(offset));
        f.write(&c, 1);
    };
    // State k is transaction k + 1 (the empty store is transaction 1).
    const std::uint64_t meta30 = pg::meta_page[31 % 2] * pg::page_size;
    const std::uint64_t meta29 = pg::meta_page[30 % 2] * pg::page_size;

    SECTION("a torn current meta: the store opens at the commit before, which is whole") {
        poke(seg0, meta30 + 200, 0x40);
        store s(pg::open, where.name());
        require_state(s, 29);
        apply(s, 30);
        require_state(s, 30);
    }
    SECTION("both metas damaged") {
        poke(seg0, meta30 + 16, 1);
        poke(seg0, meta29 + 16, 1);
        REQUIRE_THROWS_MATCHES(store(pg::open, where.name()), mmry::error,
                               is_error(errc::corrupt, "neither meta page is valid"));
    }
    SECTION("the creation header") {
        poke(seg0, 16, 1);
        REQUIRE_THROWS_MATCHES(store(pg::open, where.name()), mmry::error,
                               is_error(errc::corrupt, "page store header"));
    }
    SECTION("a truncated segment file") {
        std::filesystem::resize_file(seg0, 8192);
        REQUIRE_THROWS_MATCHES(store(pg::open, where.name()), mmry::error,
                               is_error(errc::corrupt, "segment 0"));
    }
    SECTION("a directory entry naming pages past the store") {
        pg::page_id dir = 0;
        {
            store s(pg::open, where.name());
            dir = s.read().word(0);
        }
        // The first entry's page number (offset 8 + 16 in the directory page).
        const std::uint64_t sp = small().segment_bytes / pg::page_size;
        const std::string file =
            pg::file_backend::object(where.name(), static_cast<std::uint32_t>(dir / sp));
        poke(file, (dir % sp) * pg::page_size + 8 + 16 + 3, 0x7f);
        store s(pg::open, where.name());
        auto r = s.read();
        REQUIRE_THROWS_MATCHES(values(r), mmry::error,
                               is_error(errc::corrupt, "are not data pages of state 31"));
        REQUIRE_FALSE(check(s).ok());
    }
}

TEST_CASE("pages: durability sync puts each commit on disk before it returns (threads)") {
    using store = pg::page_store<pg::file_backend>;
    page_place<pg::file_backend> where;
    const auto o = synced();
    store s(pg::create, where.name(), o);
    for (std::uint64_t step = 1; step <= 20; ++step) {
        apply(s, step);
        CHECK(s.stats().durable_txn == step + 1);
    }
    SECTION("threads committing at once share flushes (threads)") {
        std::vector<std::thread> writers;
        std::atomic<int> late{0};
        for (int t = 0; t < 4; ++t)
            writers.emplace_back([&] {
                for (int k = 0; k < 20; ++k) {
                    auto w = s.write();
                    w.set_word(2, w.word(2) + 1);
                    const auto txn = w.commit();
                    if (s.stats().durable_txn < txn) ++late;
                }
            });
        for (auto& t : writers) t.join();
        CHECK(late.load() == 0);
        CHECK(s.stats().durable_txn == 21 + 80);
        CHECK(s.stats().flushes <= 21 + 80);
        require_state(s, 20);
    }
    SECTION("a shared-memory store has no disk: every level is none") {
        page_place<pg::shm_backend> mem;
        pg::page_store<pg::shm_backend> m(pg::create, mem.name(), o);
        apply(m, 1);
        CHECK(m.stats().flushes == 0);
    }
}

namespace {
int syncing_fd = -1;
}

// Not in the ThreadSanitizer set (no "threads" in its name): ThreadSanitizer does not model a
// robust mutex handed back by its dead owner (EOWNERDEAD), and reports the unlock that follows.
// The threads' wake-up path runs there in the test above.
TEST_CASE("pages: commits waiting on a flusher that died share the next sync") {
    using store = pg::page_store<pg::file_backend>;
    page_place<pg::file_backend> where;
    store s(pg::create, where.name(), synced());
    apply(s, 1);
    // A child commits and stops inside its sync, holding the flusher lock.
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    const pid_t child = ::fork();
    if (child == 0) {
        syncing_fd = ready[1];
        mmry::detail::fault_hook = [](std::string_view point) {
            if (point != "pages.syncing") return;
            (void)!::write(syncing_fd, "x", 1);
            ::pause();
        };
        store mine(pg::open, where.name());
        apply(mine, 2);
        ::_exit(0);
    }
    char c = 0;
    REQUIRE(::read(ready[0], &c, 1) == 1);
    ::close(ready[0]);
    ::close(ready[1]);
    const auto syncs = s.stats().journal_syncs;
    const auto txn = s.stats().durable_txn;
    // Four writers commit and wait for a sync: on `synced` first, then (nobody woke them) for
    // the lock, which the child's death hands to one of them.
    std::vector<std::thread> writers;
    std::atomic<int> late{0};
    for (int t = 0; t < 4; ++t)
        writers.emplace_back([&] {
            auto w = s.write();
            w.set_word(2, w.word(2) + 1);
            const auto t = w.commit();
            if (s.stats().durable_txn < t) ++late;
        });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(s.stats().durable_txn == txn);
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    for (auto& t : writers) t.join();
    CHECK(s.stats().durable_txn == txn + 5);  // the child's commit and the four
    CHECK(s.stats().journal_syncs > syncs);
    CHECK(s.stats().journal_syncs <= syncs + 4);
    CHECK(late.load() == 0);
    CHECK(s.read().word(2) == 4);
    require_state(s, 2);
}

TEST_CASE("pages: durability periodic flushes in the background") {
    using store = pg::page_store<pg::file_backend>;
    page_place<pg::file_backend> where;
    auto o = small();
    o.level = pg::durability::periodic;
    o.interval = std::chrono::milliseconds(20);
    store s(pg::create, where.name(), o);
    for (std::uint64_t step = 1; step <= 5; ++step) apply(s, step);
    for (int i = 0; i < 500 && s.stats().durable_txn < 6; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK(s.stats().durable_txn == 6);
}

TEST_CASE("pages: after a power cut the store opens at its last flush, whole") {
    // The cut is simulated: every page written since the last flush is found on disk either as
    // it was at the flush or as it is now, each at random (the kernel writes dirty pages back
    // when it likes); files made since may be missing. Then the store is opened as after a
    // reboot.
    using store = pg::page_store<pg::file_backend>;
    const int trials = env_count("MMRY_POWER_CUTS", 12);
    for (int trial = 0; trial < trials; ++trial) {
        page_place<pg::file_backend> where;
        const std::string dir = where.name();
        std::mt19937_64 rng(static_cast<std::uint64_t>(trial));
        files flushed;
        std::uint64_t flushed_step = 0, step = 0;
        {
            auto o = small();
            o.level = pg::durability::periodic;
            o.interval = std::chrono::hours(1);  // flushed by hand below
            store s(pg::create, dir, o);
            const auto total = 20 + rng() % 40;
            for (step = 1; step <= total; ++step) {
                apply(s, step);
                if (rng() % 8 == 0) {
                    s.flush();
                    flushed_step = step;
                    flushed = read_all(dir);
                }
            }
            --step;
            if (flushed.empty()) flushed = read_all(dir);  // the flush at creation
        }
        INFO("trial " << trial << ": flushed at state " << flushed_step << " of " << step);
        cut_power(dir, flushed, rng);
        forget_boot(dir);
        store s(pg::open, dir);
        require_state(s, flushed_step);
        apply(s, flushed_step + 1);
        require_state(s, flushed_step + 1);
    }
}

namespace {

// The entries of a journal file as journal_file writes them: where each begins, its commit and
// its bytes (a 56-byte head, then `stored` bytes); up to the first that does not follow on.
struct journal_entry {
    std::uint64_t at, txn, bytes;
};
std::vector<journal_entry> journal_entries(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    const std::string b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<journal_entry> out;
    for (std::uint64_t at = pg::journal_start; at + 56 <= b.size();) {
        std::uint64_t h[7];
        std::memcpy(h, b.data() + at, sizeof h);
        if (h[0] != pg::entry_magic || (!out.empty() && h[1] != out.back().txn + 1)) break;
        out.push_back({at, h[1], 56 + h[3]});
        at += 56 + h[3];
    }
    return out;
}

void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// A writer of the sync store at `dir`, in a child, that sets word 2 to 777 and is killed after
// appending its journal entry, before publishing its commit.
void die_after_journaling(const std::string& dir) {
    const pid_t child = ::fork();
    if (child == 0) {
        mmry::detail::fault_hook = [](std::string_view point) {
            if (point == "pages.journaled") ::kill(::getpid(), SIGKILL);
        };
        try {
            pg::page_store<pg::file_backend> s(pg::open, dir);
            auto w = s.write();
            w.set_word(2, 777);
            w.commit();
        } catch (...) {
        }
        ::_exit(0);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFSIGNALED(status));
}

// Makes a sync store at `dir` whose journal holds `steps` commits of apply() (no checkpoint
// came between), closes it, and returns the journal's entries.
std::vector<journal_entry> journaled_store(const std::string& dir, std::uint64_t steps) {
    {
        pg::page_store<pg::file_backend> s(pg::create, dir, synced());
        for (std::uint64_t step = 1; step <= steps; ++step) apply(s, step);
        CHECK(s.stats().flushes == 0);
    }
    auto entries = journal_entries(dir + "/journal.mmry");
    REQUIRE(entries.size() == steps);
    return entries;
}

}  // namespace

TEST_CASE("pages: after a power cut a sync store opens at its last commit, from its journal") {
    // Every commit returned once its journal entry was synced; segments reach the disk only at
    // checkpoints. The cut keeps the journal and the durable file as they are (synced), and
    // finds every segment page written since the last checkpoint as it was then or as it is
    // now, at random (segment files made since may be missing).
    using store = pg::page_store<pg::file_backend>;
    const int trials = env_count("MMRY_POWER_CUTS", 12);
    for (int trial = 0; trial < trials; ++trial) {
        page_place<pg::file_backend> where;
        const std::string dir = where.name();
        std::mt19937_64 rng(static_cast<std::uint64_t>(1000 + trial));
        files checkpointed;
        std::uint64_t step = 0, checkpoints = 0;
        {
            store s(pg::create, dir, synced(64 * 1024 * (1 + rng() % 4)));
            checkpointed = read_all(dir);
            const auto total = 20 + rng() % 60;
            for (step = 1; step <= total; ++step) {
                apply(s, step);
                if (s.stats().flushes != checkpoints) {
                    checkpoints = s.stats().flushes;
                    checkpointed = read_all(dir);
                }
            }
            --step;
            REQUIRE(s.stats().durable_txn == step + 1);
        }
        const files now = read_all(dir);
        // A commit in flight at the cut: a writer appends its entry and dies before publishing
        // it (nor was it synced), and a random prefix of the entry reached the disk.
        die_after_journaling(dir);
        std::string journal = now.at("journal.mmry");
        const std::string grown = read_all(dir).at("journal.mmry");
        REQUIRE(grown.size() == journal.size());
        std::size_t from = 0, to = journal.size();
        while (from < to && journal[from] == grown[from]) ++from;
        while (to > from && journal[to - 1] == grown[to - 1]) --to;
        REQUIRE(to > from);  // the entry
        const std::size_t kept = rng() % 4 == 0 ? to - from : rng() % (to - from + 1);
        journal.replace(from, kept, grown, from, kept);
        cut_power(dir, checkpointed, rng);
        write_file(dir + "/durable.mmry", now.at("durable.mmry"));
        write_file(dir + "/journal.mmry", journal);
        forget_boot(dir);
        INFO("trial " << trial << ": " << step << " commits, " << checkpoints
                      << " checkpoints; of the entry in flight " << kept << " of " << to - from
                      << " bytes kept");
        store s(pg::open, dir);
        require_state(s, step);
        // The commit in flight is wholly there (its whole entry reached the disk) or absent.
        CHECK((s.read().word(2) == 777) == (kept == to - from));
        CHECK(s.stats().journal_dropped <= 1);
        CHECK(s.stats().journal_bytes == 0);  // replayed, checkpointed, started again
        if (s.read().word(2) == 777) {        // the next step starts from the state the model knows
            auto w = s.write();
            w.set_word(2, 0);
            w.commit();
        }
        apply(s, step + 1);
        require_state(s, step + 1);
    }
}

TEST_CASE("pages: a journal cut or garbled at its tail replays up to its last whole entry") {
    // The entry of a commit in flight at a power cut may be on disk in part: the store opens at
    // the commit before it, and says it dropped one entry.
    using store = pg::page_store<pg::file_backend>;
    page_place<pg::file_backend> where;
    const std::string dir = where.name(), journal = dir + "/journal.mmry";
    const auto entries = journaled_store(dir, 10);
    REQUIRE(entries.back().txn == 11);
    const auto& last = entries.back();
    std::uint64_t expect_dropped = 1;
    SECTION("cut in the middle of the last entry") {
        std::filesystem::resize_file(journal, last.at + last.bytes / 2);
    }
    SECTION("cut in the last entry's head") {
        std::filesystem::resize_file(journal, last.at + 20);
        expect_dropped = 0;  // no whole head: nothing there to count
    }
    SECTION("a byte of the last entry's payload changed") {
        std::fstream f(journal, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(static_cast<std::streamoff>(last.at + last.bytes - 3));
        f.put('\x5a');
    }
    SECTION("a byte of the last entry's head changed") {
        std::fstream f(journal, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(static_cast<std::streamoff>(last.at + 8));
        f.put('\x7f');
    }
    forget_boot(dir);
    store s(pg::open, dir);
    require_state(s, 9);
    CHECK(s.stats().journal_replayed == 9);
    CHECK(s.stats().journal_dropped == expect_dropped);
    apply(s, 10);
    require_state(s, 10);
}

TEST_CASE("pages: an entry whose writer died before publishing it is written over") {
    // A writer killed between appending its entry and publishing its commit: the next writer's
    // entry takes its place, so a replay after a power cut never brings the dead one's back.
    using store = pg::page_store<pg::file_backend>;
    page_place<pg::file_backend> where;
    const std::string dir = where.name();
    { store s(pg::create, dir, synced()); }
    for (std::uint64_t step = 1; step <= 4; ++step) {
        die_after_journaling(dir);
        store s(pg::open, dir);
        apply(s, step);
    }
    forget_boot(dir);
    store s(pg::open, dir);
    require_state(s, 4);
    CHECK(s.read().word(2) != 777);
    CHECK(s.stats().journal_replayed == 4);
    CHECK(s.stats().journal_dropped == 0);
}

TEST_CASE("pages: a journal entry claiming more than a commit journals is dropped, not allocated") {
    // Its head's checksum holds (whoever can write the file can compute it), but it names a
    // billion pages: more than any commit journals (a larger one takes a checkpoint instead).
    using store = pg::page_store<pg::file_backend>;
    page_place<pg::file_backend> where;
    const std::string dir = where.name(), journal = dir + "/journal.mmry";
    const auto entries = journaled_store(dir, 3);
    const std::string payload(16, 'x');
    const std::uint64_t pages = std::uint64_t{1} << 30;
    std::uint64_t h[7] = {pg::entry_magic,
                          entries.back().txn + 1,
                          pages,
                          payload.size(),
                          pg::journal_file::raw_bytes(pages),
                          pg::checksum(payload.data(), payload.size()),
                          0};
    h[6] = pg::checksum(h, 48);
    {
        std::fstream f(journal, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(static_cast<std::streamoff>(entries.back().at + entries.back().bytes));
        f.write(reinterpret_cast<const char*>(h), sizeof h);
        f.write(payload.data(), static_cast<std::streamsize>(payload.size()));
    }
    forget_boot(dir);
    store s(pg::open, dir);
    require_state(s, 3);
    CHECK(s.stats().journal_dropped == 1);
}

TEST_CASE("pages: the durable file and the journal take the store's permissions") {
    using store = pg::page_store<pg::file_backend>;
    page_place<pg::file_backend> where;
    auto o = synced();
    o.mode = 0640;
    const auto old = ::umask(077);  // the store's mode, whatever the creator's umask
    { store s(pg::create, where.name(), o); }
    ::umask(old);
    for (const char* name : {"durable.mmry", "journal.mmry"}) {
        INFO(name);
        const auto perms = std::filesystem::status(where.name() + "/" + name).permissions();
        CHECK(static_cast<unsigned>(perms) == 0640u);
    }
}

TEST_CASE("pages: a sync store refuses a journal that is missing or another store's, by name") {
    using store = pg::page_store<pg::file_backend>;
    page_place<pg::file_backend> a, b;
    {
        store s(pg::create, a.name(), synced());
        store t(pg::create, b.name(), synced());
        apply(s, 1);
        apply(t, 1);
    }
    const std::string journal = a.name() + "/journal.mmry";
    SECTION("missing") {
        std::filesystem::remove(journal);
        REQUIRE_THROWS_MATCHES(store(pg::open, a.name()), mmry::error,
                               is_error(errc::not_found, "journal.mmry"));
    }
    SECTION("another store's") {
        std::filesystem::copy_file(b.name() + "/journal.mmry", journal,
                                   std::filesystem::copy_options::overwrite_existing);
        REQUIRE_THROWS_MATCHES(store(pg::open, a.name()), mmry::error,
                               is_error(errc::corrupt, "the journal of another store"));
    }
    SECTION("its header damaged") {
        std::filesystem::resize_file(journal, 10);
        REQUIRE_THROWS_MATCHES(store(pg::open, a.name()), mmry::error,
                               is_error(errc::corrupt, "not a journal of an mmry store"));
    }
}

TEST_CASE("pages: a durable store whose durable file is missing or damaged is refused by name") {
    using store = pg::page_store<pg::file_backend>;
    page_place<pg::file_backend> where;
    const std::string durable = where.name() + "/durable.mmry";
    {
        auto o = small();
        o.level = pg::durability::sync;
        store s(pg::create, where.name(), o);
        for (std::uint64_t step = 1; step <= 5; ++step) apply(s, step);
    }
    SECTION("missing") {
        std::filesystem::remove(durable);
        REQUIRE_THROWS_MATCHES(store(pg::open, where.name()), mmry::error,
                               is_error(errc::not_found, "durable.mmry"));
    }
    SECTION("both slots damaged, found at the first open after a reboot") {
        std::filesystem::resize_file(durable, 0);
        std::filesystem::resize_file(durable, 2 * pg::page_size);
        forget_boot(where.name());
        REQUIRE_THROWS_MATCHES(store(pg::open, where.name()), mmry::error,
                               is_error(errc::corrupt, "durable file holds no valid state"));
    }
    SECTION("unchanged, the same store opens at its last commit") {
        store s(pg::open, where.name());
        require_state(s, 5);
    }
}

TEST_CASE("pages: a staged run is in use until its owner adopts or releases it") {
    using store = pg::page_store<pg::shm_backend>;
    page_place<pg::shm_backend> where;
    store s(pg::create, where.name(), small());
    for (std::uint64_t step = 1; step <= 5; ++step) apply(s, step);

    // Staged: in use from the commit on, reached by nothing else, not writable in the
    // transaction that staged it; the state is otherwise unchanged.
    pg::page_id p = pg::no_page;
    {
        auto w = s.write();
        p = w.stage(3);
        REQUIRE(p != pg::no_page);
        CHECK_FALSE(w.fresh(p, 3));
        CHECK_THROWS_MATCHES(w.write(p, 3), mmry::error,
                             is_error(errc::invalid_argument, "were not allocated"));
        w.commit();
    }
    auto c = check(s);
    require_clean(c);
    CHECK(c.staged == 3);
    CHECK(s.stats().staged_runs == 1);
    require_state(s, 5);

    // Filled with no lock held, then adopted: the adopting transaction's own pages, which it
    // files under a key like any value.
    fill_run(s.staged_bytes(p, 3), 4242);
    {
        auto w = s.write();
        CHECK(w.adopt(p) == 3);
        CHECK(w.fresh(p, 3));
        CHECK_THROWS_MATCHES(w.adopt(p), mmry::error,
                             is_error(errc::invalid_argument, "is staged by this process"));
        table t = load(w);
        CHECK(t.count(99) == 0);
        t[99] = {4242, p, 3};
        write_directory(w, t);
        w.commit();
    }
    c = check(s);
    require_clean(c);
    CHECK(c.staged == 0);
    CHECK(values(s.read()).at(99) == 4242);

    // Released: freed; releasing again (or a run never staged) does nothing.
    {
        auto w = s.write();
        p = w.stage(2);
        w.commit();
    }
    {
        auto w = s.write();
        w.release(p);
        w.release(p);
        w.release(pg::first_data_page);
        w.commit();
    }
    c = check(s);
    require_clean(c);
    CHECK(c.staged == 0);
    CHECK(s.stats().staged_runs == 0);

    // The meta holds max_staged runs; past them stage() says no, and the caller copies under
    // the lock instead.
    std::vector<pg::page_id> runs;
    {
        auto w = s.write();
        for (std::size_t i = 0; i < pg::max_staged; ++i) runs.push_back(w.stage(1));
        CHECK(std::count(runs.begin(), runs.end(), pg::no_page) == 0);
        CHECK(w.stage(1) == pg::no_page);
        w.commit();
    }
    {
        auto w = s.write();
        for (const auto r : runs) w.release(r);
        w.commit();
    }
    require_clean(check(s));
    CHECK(s.stats().staged_reclaimed == 0);
}

TEST_CASE("pages: a staged run whose owner died, or of another boot, is freed by the next writer") {
    SECTION("the owner is killed") {
        using store = pg::page_store<pg::shm_backend>;
        page_place<pg::shm_backend> where;
        store s(pg::create, where.name(), small());
        for (std::uint64_t step = 1; step <= 5; ++step) apply(s, step);
        const pid_t child = paused_child<store>(where.name(), [](store& mine) {
            auto w = mine.write();
            const pg::page_id run = w.stage(4);
            w.commit();
            return run;
        });
        apply(s, 6);  // the owner lives: its run stays
        CHECK(check(s).staged == 4);
        CHECK(s.stats().staged_runs == 1);
        ::kill(child, SIGKILL);
        ::waitpid(child, nullptr, 0);
        CHECK(s.stats().staged_reclaimed == 0);  // a look that commits nothing frees nothing
        apply(s, 7);
        CHECK(s.stats().staged_reclaimed == 1);
        CHECK(s.stats().staged_runs == 0);
        require_state(s, 7);
    }
    SECTION("a reboot came between (mapped file, durability sync)") {
        using store = pg::page_store<pg::file_backend>;
        page_place<pg::file_backend> where;
        const std::string dir = where.name();
        {
            store s(pg::create, dir, synced());
            for (std::uint64_t step = 1; step <= 5; ++step) apply(s, step);
            auto w = s.write();
            (void)w.stage(2);
            w.commit();
        }
        forget_boot(dir);
        store s(pg::open, dir);
        CHECK(check(s).staged == 2);  // replayed from the journal with the rest
        apply(s, 6);
        CHECK(s.stats().staged_reclaimed == 1);
        require_state(s, 6);
    }
}
