// Stores shared between processes (and threads): shared_memory and mapped_file arenas. Readers
// beside a writer, many writers, growth seen from another process, reopening, processes killed
// while they hold a lock (reader and writer, at chosen points of the write path), opening with the
// wrong composition, key or format version, the size limit and its alerts, permissions, key
// material in the segments, the per-process cache across processes, zero-copy views, and the
// not_found / already_exists / open_or_create rules.
//
// Multi-process tests fork: a child opens the store itself, reports through its exit code (and a
// line on stderr) and leaves with _exit, never returning into Catch. Test cases that fork are named
// "processes: ..."; "concurrency: ..." cases are thread-only (CI runs them under ThreadSanitizer).
// Loop counts grow with the environment variable MMRY_SOAK (default 1).

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <latch>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <tuple>
#include <type_traits>
#include <vector>

#include <mmry/arena/mapped_file.hpp>
#include <mmry/arena/shared_memory.hpp>
#include <mmry/inspect.hpp>
#include <mmry/path/versioned.hpp>

#include "shared_support.hpp"
#include "support.hpp"

using namespace std::chrono_literals;
using mmry::errc;
using mmry_test::file;
using mmry_test::is_error;
using mmry_test::numbered;
using mmry_test::place;
using mmry_test::random_bytes;
using mmry_test::raw_traits;
using mmry_test::redundant_bytes;
using mmry_test::sealed_traits;
using mmry_test::shared_traits;
using mmry_test::shm;
using steady = std::chrono::steady_clock;

namespace {

// ---- compositions -------------------------------------------------------------------------------

/// Raw and sealed compositions over both arenas, with both indexes.
using mixed = std::tuple<
    shared_traits<shm, mmry_test::hashed, mmry_test::no_compression, mmry_test::no_cipher>,
    shared_traits<shm, mmry_test::ordered, mmry_test::zstd1, mmry_test::aes>,
    shared_traits<file, mmry_test::ordered, mmry_test::no_compression, mmry_test::no_cipher>,
    shared_traits<file, mmry_test::hashed, mmry_test::zstd3, mmry_test::xchacha>>;

/// The key every encrypted store of these tests is made with (children inherit it by fork).
const mmry::key& test_key() {
    static const mmry::key k = mmry::key::generate();
    return k;
}

/// `o`, with the test key when Traits encrypts.
template <class Traits>
mmry::options options_for(mmry::options o = {}) {
    if constexpr (mmry_test::encrypted<Traits>) {
        if (o.key.empty()) o.key = test_key();
    }
    return o;
}

/// The multiplier of loop counts: MMRY_SOAK, default 1.
int soak() {
    static const int n = [] {
        const char* e = std::getenv("MMRY_SOAK");
        const int v = e ? std::atoi(e) : 1;
        return v < 1 ? 1 : v;
    }();
    return n;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Every byte of every segment, by file.
template <class Arena>
std::map<std::string, std::string> snapshot(const place<Arena>& at) {
    std::map<std::string, std::string> out;
    for (const auto& path : at.segment_paths()) out[path] = read_file(path);
    return out;
}

bool holds(std::string_view haystack, std::string_view needle) {
    return !needle.empty() && haystack.find(needle) != std::string_view::npos;
}

std::string_view chars_of(mmry::byte_view b) {
    return mmry::as_chars(b);
}

/// The path of the mapping of this process that holds address p ("" when none has a path).
std::string mapping_of(const void* p) {
    const auto at = reinterpret_cast<std::uintptr_t>(p);
    std::ifstream maps("/proc/self/maps");
    for (std::string line; std::getline(maps, line);) {
        std::uintptr_t lo = 0, hi = 0;
        if (std::sscanf(line.c_str(), "%lx-%lx", &lo, &hi) != 2) continue;
        if (at < lo || at >= hi) continue;
        const auto slash = line.find('/');
        return slash == std::string::npos ? std::string() : line.substr(slash);
    }
    return {};
}

// ---- processes ----------------------------------------------------------------------------------

/// A pipe between processes: the parent releases children waiting at a gate, children report.
class channel {
  public:
    channel() {
        if (::pipe(fd_) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
    }
    ~channel() {
        ::close(fd_[0]);
        ::close(fd_[1]);
    }
    channel(const channel&) = delete;
    channel& operator=(const channel&) = delete;

    void send(std::string_view s) {
        while (!s.empty()) {
            const auto n = ::write(fd_[1], s.data(), s.size());
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) throw std::system_error(errno, std::generic_category(), "write");
            s.remove_prefix(static_cast<std::size_t>(n));
        }
    }
    /// Up to n bytes, waiting at most `limit` in all: fewer when the time is up.
    std::string receive(std::size_t n, std::chrono::milliseconds limit) {
        std::string out;
        const auto deadline = steady::now() + limit;
        while (out.size() < n) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
            if (left.count() <= 0) break;
            pollfd p{fd_[0], POLLIN, 0};
            const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
            if (ready < 0 && errno == EINTR) continue;
            if (ready <= 0) break;
            char buf[256];
            const auto got = ::read(fd_[0], buf, std::min(sizeof buf, n - out.size()));
            if (got <= 0) break;
            out.append(buf, static_cast<std::size_t>(got));
        }
        return out;
    }
    /// In a child: waits until the parent sends a byte (at most 60 s).
    void wait() {
        if (receive(1, 60s).empty()) throw std::runtime_error("the parent never opened the gate");
    }

  private:
    int fd_[2];
};

/// In a child: a failure, told on stderr; returns the exit code.
int fail(const std::string& why, int code = 1) {
    std::fprintf(stderr, "child %d: %s\n", static_cast<int>(::getpid()), why.c_str());
    return code;
}

/// In a child: 0 when `op` throws an mmry::error with `code` (and whose message holds `text`).
template <class F>
int expect_error(errc code, const std::string& what, F op, std::string_view text = {}) {
    try {
        op();
        return fail(what + ": did not throw");
    } catch (const mmry::error& e) {
        if (e.code() != code) return fail(what + ": threw another error: " + e.what());
        if (!text.empty() && !holds(e.what(), text))
            return fail(what + ": the message lacks '" + std::string(text) + "': " + e.what());
        return 0;
    }
}

/// The processes a test forks; any still running when it ends are killed and reaped.
class family {
  public:
    family() = default;
    family(const family&) = delete;
    family& operator=(const family&) = delete;
    ~family() {
        for (const pid_t pid : pids_) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
    }

    /// Runs `body` in a child, which exits with its return value (99 when it throws). The child
    /// must open any store it uses itself.
    template <class F>
    pid_t spawn(F body) {
        std::fflush(nullptr);
        const pid_t pid = ::fork();
        if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
        if (pid == 0) {
            int code = 98;
            try {
                code = body();
            } catch (const std::exception& e) {
                code = fail(std::string("threw: ") + e.what(), 99);
            } catch (...) {
                code = fail("threw something", 99);
            }
            std::fflush(nullptr);
            ::_exit(code);
        }
        pids_.push_back(pid);
        return pid;
    }

    /// The child's exit code, 128 + the signal that ended it, or -1 when it still ran after
    /// `limit` (it is killed then). Reaps it.
    int wait(pid_t pid, std::chrono::milliseconds limit = 60s) {
        const auto deadline = steady::now() + limit;
        int status = 0;
        for (;;) {
            const pid_t r = ::waitpid(pid, &status, WNOHANG);
            if (r == pid) break;
            if (r < 0 && errno != EINTR) return -2;
            if (steady::now() > deadline) {
                ::kill(pid, SIGKILL);
                ::waitpid(pid, nullptr, 0);
                forget(pid);
                return -1;
            }
            std::this_thread::sleep_for(1ms);
        }
        forget(pid);
        if (WIFEXITED(status)) return WEXITSTATUS(status);
        if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
        return -3;
    }

    /// Waits until the child has died, leaving it unreaped (a zombie, as a busy parent would).
    /// False when it still ran after `limit`.
    bool wait_dead(pid_t pid, std::chrono::milliseconds limit = 60s) {
        const auto deadline = steady::now() + limit;
        while (running(pid)) {
            if (steady::now() > deadline) return false;
            std::this_thread::sleep_for(1ms);
        }
        return true;
    }

    /// True while the child has not ended (does not reap it).
    bool running(pid_t pid) {
        siginfo_t info{};
        if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0)
            return false;
        return info.si_pid == 0;
    }

  private:
    void forget(pid_t pid) {
        pids_.erase(std::remove(pids_.begin(), pids_.end(), pid), pids_.end());
    }
    std::vector<pid_t> pids_;
};

// ---- self-describing values ---------------------------------------------------------------------

/// Version `version` of the value of `key`: the version number, then bytes derived from both,
/// from 8 bytes to a few frames of 1 KiB, random or redundant.
mmry::bytes value_of(const std::string& key, std::uint64_t version) {
    const std::uint64_t seed = std::hash<std::string>{}(key) ^ (version * 0x9e3779b97f4a7c15);
    const std::size_t length = 8 + seed % 3000;
    mmry::bytes v = (seed >> 20) % 2 ? random_bytes(length, seed) : redundant_bytes(length);
    std::memcpy(v.data(), &version, 8);
    return v;
}

/// The version of `got` when it is byte-exact one of the values written under `key`.
std::optional<std::uint64_t> version_of(const std::string& key, const mmry::bytes& got) {
    if (got.size() < 8) return std::nullopt;
    std::uint64_t version = 0;
    std::memcpy(&version, got.data(), 8);
    if (version == 0 || version > (std::uint64_t{1} << 40) || got != value_of(key, version))
        return std::nullopt;
    return version;
}

template <class Store>
std::size_t count_listed(const Store& s) {
    std::size_t n = 0;
    for (const auto& e : s.list()) {
        (void)e;
        ++n;
    }
    return n;
}

/// The store id in a header (bytes 32..48), as hex.
std::string id_of(std::span<const std::byte> header) {
    std::string out;
    char hex[3];
    for (std::size_t i = 32; i < 48; ++i) {
        std::snprintf(hex, sizeof hex, "%02x", static_cast<unsigned>(header[i]));
        out += hex;
    }
    return out;
}

// Set in a child before it arms the fault hook: the write-path point where it dies.
std::string_view die_point;
void die_at_point(std::string_view point) {
    if (point == die_point) ::raise(SIGKILL);
}

}  // namespace

// ---- readers and writers ------------------------------------------------------------------------

TEMPLATE_LIST_TEST_CASE("processes: four readers read byte-exact values while a writer writes",
                        "[shared][processes]", mixed) {
    using S = mmry::basic_store<TestType>;
    place<typename TestType::arena> at;
    const auto opts = options_for<TestType>({.capacity = 4 << 20, .frame_size = 1024});
    auto s = S::create(at.name(), opts);
    const int keys = 24;
    const std::uint64_t versions = 12 * static_cast<std::uint64_t>(soak());
    const auto key_of = [](int i) { return numbered("k/", i); };

    family kids;
    channel gate;
    std::vector<pid_t> readers;
    for (int r = 0; r < 4; ++r)
        readers.push_back(kids.spawn([&, r] {
            gate.wait();
            auto t = S::open(at.name(), opts);
            std::mt19937 pick(static_cast<unsigned>(r));
            std::vector<std::uint64_t> seen(keys, 0);
            std::uint64_t reads = 0, found = 0;
            const auto deadline = steady::now() + 60s;
            for (bool done = false; !done;) {
                // A pass that starts after the writer's last put sees only final values.
                done = t.contains("done");
                for (int n = 0; n < keys; ++n) {
                    const int i = done ? n : static_cast<int>(pick() % keys);
                    const auto key = key_of(i);
                    const auto v = t.get(key);
                    ++reads;
                    if (!v) {
                        if (done) return fail(key + ": absent after the writer finished");
                        continue;
                    }
                    ++found;
                    const auto version = version_of(key, *v);
                    if (!version)
                        return fail(key + ": " + std::to_string(v->size()) +
                                    " bytes that are no value ever written");
                    if (*version < seen[static_cast<std::size_t>(i)])
                        return fail(key + ": version " + std::to_string(*version) + " after " +
                                    std::to_string(seen[static_cast<std::size_t>(i)]));
                    seen[static_cast<std::size_t>(i)] = *version;
                    if (done && *version != versions)
                        return fail(key + ": version " + std::to_string(*version) +
                                    " after the writer finished");
                }
                if (steady::now() > deadline) return fail("the writer never finished", 2);
            }
            return found > 0 && reads >= static_cast<std::uint64_t>(keys) ? 0 : 3;
        }));
    const pid_t writer = kids.spawn([&] {
        gate.wait();
        auto t = S::open(at.name(), opts);
        for (std::uint64_t v = 1; v <= versions; ++v)
            for (int i = 0; i < keys; ++i) {
                // Now and then a key is erased for a while: readers see it absent, never broken.
                if ((v + static_cast<std::uint64_t>(i)) % 5 == 0 && v != versions)
                    t.erase(key_of(i));
                else
                    t.put(key_of(i), value_of(key_of(i), v));
            }
        t.put("done", "yes");
        return 0;
    });
    gate.send(std::string(5, 'g'));
    for (const pid_t r : readers) CHECK(kids.wait(r) == 0);
    CHECK(kids.wait(writer) == 0);

    CHECK(s.size() == keys + 1);
    for (int i = 0; i < keys; ++i) CHECK(s.get(key_of(i)) == value_of(key_of(i), versions));
    mmry_test::check_counters(s);
}

TEMPLATE_TEST_CASE("concurrency: 100 threads read byte-exact values from one shared store",
                   "[shared][concurrency]", sealed_traits<shm>, raw_traits<file>) {
    using S = mmry::basic_store<TestType>;
    place<typename TestType::arena> at;
    auto s = S::create(at.name(), options_for<TestType>({.capacity = 4 << 20, .frame_size = 1024}));
    constexpr int keys = 50, threads_n = 100;
    const int reads_per_thread = 10 * soak();
    const auto key_of = [](int i) { return numbered("k/", i); };
    for (int i = 0; i < keys; ++i) s.put(key_of(i), value_of(key_of(i), 1));

    mmry_test::failures failed;
    std::atomic<int> readers_left{threads_n};
    std::atomic<long> reads{0};
    std::latch start(threads_n + 1);
    std::vector<std::thread> threads;
    // One writer rewrites keys with newer versions while the readers read.
    threads.emplace_back([&] {
        start.arrive_and_wait();
        try {
            for (std::uint64_t n = 0; readers_left > 0 && n < 100000; ++n) {
                const int i = static_cast<int>(n % keys);
                s.put(key_of(i), value_of(key_of(i), 2 + n / keys));
            }
        } catch (const std::exception& e) {
            failed.add(std::string("writer: ") + e.what());
        }
    });
    for (int t = 0; t < threads_n; ++t)
        threads.emplace_back([&, t] {
            std::vector<std::uint64_t> seen(keys, 0);
            start.arrive_and_wait();
            try {
                for (int r = 0; r < reads_per_thread; ++r) {
                    const int i = (t * 7 + r * 13) % keys;
                    const auto key = key_of(i);
                    const auto v = s.get(key);
                    ++reads;
                    if (!v) {
                        failed.add(key + ": missing");
                        continue;
                    }
                    const auto version = version_of(key, *v);
                    if (!version)
                        failed.add(key + ": not byte-exact");
                    else if (*version < seen[static_cast<std::size_t>(i)])
                        failed.add(key + ": went back to an older version");
                    else
                        seen[static_cast<std::size_t>(i)] = *version;
                }
            } catch (const std::exception& e) {
                failed.add(std::string("reader: ") + e.what());
            }
            --readers_left;
        });
    for (auto& t : threads) t.join();
    CHECK(failed.list == std::vector<std::string>{});
    CHECK(reads == threads_n * reads_per_thread);
    CHECK(s.size() == keys);
    for (int i = 0; i < keys; ++i) {
        const auto v = s.get(key_of(i));
        REQUIRE(v);
        CHECK(version_of(key_of(i), *v));
    }
    mmry_test::check_counters(s);
}

namespace {
/// Runs body(store, i) in n child processes at once (i = 0..n-1), each on its own opening of the
/// store `name`, released together by a gate once all have opened it; checks each exits with 0.
template <class S, class Body>
void in_processes_at_once(const std::string& name, const mmry::options& opts, int n, Body body) {
    family kids;
    channel gate;
    std::vector<pid_t> pids;
    for (int i = 0; i < n; ++i)
        pids.push_back(kids.spawn([&, i] {
            auto t = S::open(name, opts);
            gate.wait();
            return body(t, i);
        }));
    gate.send(std::string(static_cast<std::size_t>(n), 'g'));
    for (const pid_t pid : pids) CHECK(kids.wait(pid) == 0);
}
}  // namespace

TEMPLATE_TEST_CASE("processes: 50 writers at once, afterwards every key is there and exact",
                   "[shared][processes]", sealed_traits<shm>, raw_traits<file>) {
    using S = mmry::basic_store<TestType>;
    place<typename TestType::arena> at;
    const auto opts = options_for<TestType>({.capacity = 4 << 20, .frame_size = 1024});
    auto s = S::create(at.name(), opts);
    constexpr int writers = 50;
    const int keys = 4 * soak();
    const auto key_of = [](int w, int k) { return numbered("w", w) + numbered("/", k); };

    in_processes_at_once<S>(at.name(), opts, writers, [&](S& t, int w) {
        // Each key is written twice: the second put replaces the first.
        for (std::uint64_t version = 1; version <= 2; ++version)
            for (int k = 0; k < keys; ++k) t.put(key_of(w, k), value_of(key_of(w, k), version));
        for (int k = 0; k < keys; ++k)
            if (t.get(key_of(w, k)) != value_of(key_of(w, k), 2))
                return fail(key_of(w, k) + ": not read back");
        return 0;
    });

    CHECK(s.size() == static_cast<std::size_t>(writers * keys));
    CHECK(count_listed(s) == static_cast<std::size_t>(writers * keys));
    std::uint64_t logical = 0;
    for (int w = 0; w < writers; ++w)
        for (int k = 0; k < keys; ++k) {
            const auto v = s.get(key_of(w, k));
            REQUIRE(v);
            CHECK(*v == value_of(key_of(w, k), 2));
            logical += v->size();
        }
    const auto st = s.stats();
    CHECK(st.entries == static_cast<std::uint64_t>(writers * keys));
    CHECK(st.puts == static_cast<std::uint64_t>(2 * writers * keys));
    CHECK(st.logical_bytes == logical);
    mmry_test::check_counters(s);
}

// ---- growth and reopening -----------------------------------------------------------------------

TEMPLATE_TEST_CASE("processes: a store grows past its capacity and other processes see it all",
                   "[shared][processes][growth]", shm, file) {
    using S = mmry::basic_store<raw_traits<TestType>>;
    place<TestType> at;
    constexpr std::size_t capacity = 1 << 20;
    auto s = S::create(at.name(), {.capacity = capacity});
    s.put("before", "small");
    REQUIRE(s.stats().arena.segments == 1);

    family kids;
    SECTION("a few values of 1 MiB of random bytes") {
        constexpr int values = 6;
        const auto value = [](int i) {
            return random_bytes(capacity, static_cast<std::uint64_t>(i) + 7);
        };
        const pid_t grower = kids.spawn([&] {
            auto t = S::open(at.name());
            for (int i = 0; i < values; ++i) t.put(numbered("big/", i), value(i));
            return t.stats().arena.segments > 1 ? 0 : fail("no segment was added");
        });
        REQUIRE(kids.wait(grower) == 0);

        // This process opened the store before it grew: it maps the new segments as it meets them.
        for (int i = 0; i < values; ++i) CHECK(s.get(numbered("big/", i)) == value(i));
        CHECK(s.read("big/5", capacity / 2, 1000) ==
              mmry_test::slice(value(5), capacity / 2, 1000));
        CHECK(s.template get<std::string>("before") == "small");
        const auto st = s.stats();
        CHECK(st.arena.segments > 1);
        CHECK(st.arena.reserved_bytes >= values * capacity);
        CHECK(at.segment_paths().size() == st.arena.segments);
        CHECK(st.entries == values + 1);
        // It writes into the new segments too.
        s.put("after", value(100));
        CHECK(s.get("after") == value(100));

        // A process that opens the grown store sees the same.
        const pid_t reader = kids.spawn([&] {
            auto t = S::open(at.name());
            for (int i = 0; i < values; ++i)
                if (t.get(numbered("big/", i)) != value(i))
                    return fail(numbered("big/", i) + " differs");
            if (t.get("after") != value(100)) return fail("'after' differs");
            return t.stats().arena.segments == s.stats().arena.segments ? 0 : 2;
        });
        CHECK(kids.wait(reader) == 0);
    }
    SECTION("many small values") {
        const int values = 1500;
        const auto value = [](int i) {
            return random_bytes(600 + static_cast<std::size_t>(i % 800),
                                static_cast<std::uint64_t>(i));
        };
        const pid_t grower = kids.spawn([&] {
            auto t = S::open(at.name());
            for (int i = 0; i < values; ++i) t.put(numbered("small/", i), value(i));
            return 0;
        });
        REQUIRE(kids.wait(grower) == 0);
        CHECK(s.size() == values + 1);
        for (int i = 0; i < values; ++i) CHECK(s.get(numbered("small/", i)) == value(i));
        CHECK(s.stats().arena.segments > 1);
        mmry_test::check_counters(s);
    }
}

TEMPLATE_TEST_CASE(
    "processes: capacity does not bound the number of keys: the index grows through new "
    "segments",
    "[shared][processes][growth]", raw_traits<shm>,
    (shared_traits<file, mmry_test::ordered, mmry_test::no_compression, mmry_test::no_cipher>)) {
    using S = mmry::basic_store<TestType>;
    place<typename TestType::arena> at;
    auto s = S::create(at.name(), {.capacity = 64 << 10});
    // Long keys, many more than a segment of 64 KiB could index.
    const auto key_of = [](int i) { return std::string(100, 'k') + numbered("/", i); };
    const int keys = 3000;
    for (int i = 0; i < keys; ++i) s.put(key_of(i), std::to_string(i));
    CHECK(s.size() == static_cast<std::size_t>(keys));
    CHECK(s.stats().arena.segments > 16);  // far more than one segment of 64 KiB holds
    family kids;
    const pid_t child = kids.spawn([&] {
        auto t = S::open(at.name());
        if (t.size() != static_cast<std::size_t>(keys)) return fail("another size");
        for (int i = 0; i < keys; ++i)
            if (t.template get<std::string>(key_of(i)) != std::to_string(i))
                return fail(key_of(i) + " differs");
        for (int i = 0; i < keys; i += 2) t.erase(key_of(i));
        return 0;
    });
    CHECK(kids.wait(child) == 0);
    CHECK(s.size() == static_cast<std::size_t>(keys / 2));
    for (int i = 1; i < keys; i += 2)
        CHECK(s.template get<std::string>(key_of(i)) == std::to_string(i));
    CHECK(s.verify().ok());
    mmry_test::check_counters(s);
}

TEMPLATE_TEST_CASE("processes: a store outlives its creator, and a clean close and reopen keeps it",
                   "[shared][processes][reopen]", shm, file) {
    using T = sealed_traits<TestType>;
    using S = mmry::basic_store<T>;
    place<TestType> at;
    const auto opts = options_for<T>({.capacity = 1 << 20, .frame_size = 1024});
    const int keys = 40;
    const auto key_of = [](int i) { return numbered("doc/", i); };

    family kids;
    const pid_t creator = kids.spawn([&] {
        auto t = S::create(at.name(), opts);
        for (int i = 0; i < keys; ++i) t.put(key_of(i), value_of(key_of(i), 1));
        t.put("big", random_bytes(3 << 20, 5));  // past the first segment
        return 0;                                // the store object closes cleanly here
    });
    REQUIRE(kids.wait(creator) == 0);
    REQUIRE(S::exists(at.name()));

    std::uint64_t logical = 0, stored = 0, segments = 0;
    {
        auto s = S::open(at.name(), opts);
        CHECK(s.size() == keys + 1);
        for (int i = 0; i < keys; ++i) CHECK(s.get(key_of(i)) == value_of(key_of(i), 1));
        CHECK(s.get("big") == random_bytes(3 << 20, 5));
        mmry_test::check_counters(s);
        s.put(key_of(0), value_of(key_of(0), 2));
        s.erase(key_of(1));
        s.put("new", "written after the reopen");
        const auto st = s.stats();
        logical = st.logical_bytes;
        stored = st.stored_bytes;
        segments = st.arena.segments;
        CHECK(segments > 1);
    }  // closed cleanly

    {
        auto s = S::open(at.name(), opts);
        CHECK(s.size() == keys + 1);
        CHECK(s.get(key_of(0)) == value_of(key_of(0), 2));
        CHECK_FALSE(s.get(key_of(1)));
        for (int i = 2; i < keys; ++i) CHECK(s.get(key_of(i)) == value_of(key_of(i), 1));
        CHECK(s.template get<std::string>("new") == "written after the reopen");
        CHECK(s.get("big") == random_bytes(3 << 20, 5));
        const auto st = s.stats();
        CHECK(st.logical_bytes == logical);
        CHECK(st.stored_bytes == stored);
        CHECK(st.arena.segments == segments);
        mmry_test::check_counters(s);
    }

    // A process killed -9 outside any lock loses nothing it had written.
    const pid_t killed = kids.spawn([&] {
        auto t = S::open(at.name(), opts);
        t.put("last words", "kept");
        ::raise(SIGKILL);
        return 1;
    });
    CHECK(kids.wait(killed) == 128 + SIGKILL);
    auto s = S::open(at.name(), opts);
    CHECK(s.template get<std::string>("last words") == "kept");
    s.put("after the kill", "fine");
    CHECK(s.size() == keys + 3);
}

// ---- processes that die holding a lock ----------------------------------------------------------

TEMPLATE_TEST_CASE(
    "processes: a reader holding a view never blocks writers, and one killed -9 is forgotten",
    "[shared][processes][kill]", shm, file) {
    using S = mmry::basic_store<raw_traits<TestType>>;
    place<TestType> at;
    auto s = S::create(at.name(), {.capacity = 1 << 20});
    s.put("k", "old value");

    family kids;
    channel ready, die;
    const pid_t reader = kids.spawn([&] {
        auto t = S::open(at.name());
        const auto v = t.view("k");  // pins the state it read
        if (!v || v->chars() != "old value") return fail("view of 'k' is wrong");
        ready.send("r");
        die.wait();
        // The view still shows the value it was made on, whatever writers did since.
        if (v->chars() != "old value") return fail("the view changed under its reader");
        ::raise(SIGKILL);
        return 1;
    });
    REQUIRE(ready.receive(1, 30s) == "r");
    const auto t0 = steady::now();
    const pid_t writer = kids.spawn([&] {
        auto t = S::open(at.name());
        for (int i = 0; i < 50; ++i) t.put("k", "new value " + std::to_string(i));
        return t.template get<std::string>("k") == "new value 49" ? 0
                                                                  : fail("the put did not hold");
    });
    // The writer finishes while the reader still holds its view.
    CHECK(kids.wait(writer, 30s) == 0);
    CHECK(steady::now() - t0 < 5s);
    CHECK(kids.running(reader));
    CHECK(s.stats().readers.reading >= 1);

    die.send("x");
    REQUIRE(kids.wait_dead(reader, 30s));
    CHECK(kids.wait(reader) == 128 + SIGKILL);
    // The dead reader's pin is taken back: pages it kept are reused, and it reads nothing.
    s.put("k2", "parent");
    CHECK(s.stats().readers.reading == 0);
    CHECK(s.template get<std::string>("k") == "new value 49");
    CHECK(s.size() == 2);
    CHECK(s.verify().ok());
}

TEMPLATE_TEST_CASE("processes: a writer killed -9 at any step of a put costs only that put",
                   "[shared][processes][kill]", shm, file) {
    using S = mmry::basic_store<raw_traits<TestType>>;
    place<TestType> at;
    auto s = S::create(at.name(), {.capacity = 1 << 20});
    const int keys = 10;
    const auto key_of = [](int i) { return numbered("k/", i); };
    for (int i = 0; i < keys; ++i) s.put(key_of(i), value_of(key_of(i), 1));
    const auto before = s.stats();

    // Holding the lock before anything changed; after copying the record; after indexing it;
    // with the free lists written; halfway through the meta page (the commit point); after it.
    const std::string point =
        GENERATE(as<std::string>{}, "commit.locked", "commit.placed", "commit.indexed",
                 "pages.lists_done", "pages.meta_half", "pages.committed");
    INFO("the writer dies at " << point);
    const bool committed = point == "pages.committed";
    family kids;
    const pid_t writer = kids.spawn([&] {
        auto t = S::open(at.name());
        die_point = point;
        mmry::detail::fault_hook = &die_at_point;
        t.put(key_of(3), value_of(key_of(3), 2));
        return fail("did not die at " + point);
    });
    REQUIRE(kids.wait_dead(writer, 30s));
    const auto died = steady::now();

    // Another process goes on at once (the dead writer is not even reaped yet): it sees the
    // store as of the last commit, the dead writer's put wholly there or wholly absent.
    const pid_t other = kids.spawn([&] {
        auto t = S::open(at.name());
        for (int i = 0; i < keys; ++i) {
            const int want = i == 3 && committed ? 2 : 1;
            if (t.get(key_of(i)) != value_of(key_of(i), want)) return fail(key_of(i) + " differs");
        }
        t.put(key_of(keys), value_of(key_of(keys), 1));
        return 0;
    });
    CHECK(kids.wait(other, 30s) == 0);
    CHECK(steady::now() - died < 5s);
    CHECK(kids.wait(writer) == 128 + SIGKILL);

    // The store is as it was (plus the put, if it committed), plus the other process's put.
    const auto t0 = steady::now();
    for (int i = 0; i < keys; ++i)
        CHECK(s.get(key_of(i)) == value_of(key_of(i), i == 3 && committed ? 2 : 1));
    CHECK(s.get(key_of(keys)) == value_of(key_of(keys), 1));
    s.put(key_of(3), value_of(key_of(3), 3));
    CHECK(s.get(key_of(3)) == value_of(key_of(3), 3));
    CHECK(steady::now() - t0 < 5s);
    CHECK(s.size() == keys + 1);
    CHECK(s.stats().puts == before.puts + 2 + (committed ? 1 : 0));
    // The next writer found the dead one's lock, and said so; no page is lost.
    CHECK(s.stats().recoveries >= 1);
    CHECK(s.verify().ok());
    mmry_test::check_counters(s);
}

TEMPLATE_TEST_CASE(
    "processes: a writer killed -9 while copying a large value in costs only that "
    "put, and its staged pages come back",
    "[shared][processes][kill]", shm, file) {
    using S = mmry::basic_store<raw_traits<TestType>>;
    place<TestType> at;
    // The value in one run, or (segments of 256 KiB) in five.
    const std::size_t segment = GENERATE(std::size_t{4} << 20, std::size_t{256} << 10);
    const std::uint64_t runs = segment == (std::size_t{4} << 20) ? 1 : 5;
    auto s = S::create(at.name(), {.capacity = segment});
    const auto large = [](std::uint64_t v) {
        auto b = random_bytes(1 << 20, v);
        std::memcpy(b.data(), &v, 8);
        return b;
    };
    s.put("large", large(1));
    s.put("small", value_of("small", 1));

    // With its run staged (committed, nobody indexing it), its bytes copied in, holding the lock
    // for the commit that adopts them, or with them adopted.
    const std::string point = GENERATE(as<std::string>{}, "commit.staged", "commit.copied",
                                       "commit.locked", "commit.placed", "pages.meta_half");
    INFO("the writer dies at " << point << ", segments of " << segment << " bytes");
    family kids;
    const pid_t writer = kids.spawn([&] {
        auto t = S::open(at.name());
        die_point = point;
        mmry::detail::fault_hook = &die_at_point;
        t.put("large", large(2));
        return fail("did not die at " + point);
    });
    REQUIRE(kids.wait_dead(writer, 30s));
    CHECK(kids.wait(writer) == 128 + SIGKILL);

    // The dead writer's run is staged still: in use, and verify() says nothing is lost.
    CHECK(s.verify().ok());
    CHECK(s.get("large") == large(1));
    // The next writer frees it (none at pages.meta_half, the first of which is the staging
    // transaction's: nothing was staged).
    s.put("small", value_of("small", 2));
    CHECK(s.stats().staged_reclaimed == (point == "pages.meta_half" ? 0u : runs));
    CHECK(s.get("large") == large(1));
    s.put("large", large(3));
    CHECK(s.get("large") == large(3));
    const auto report = s.verify();
    for (const auto& p : report.problems) UNSCOPED_INFO(p);
    CHECK(report.ok());
    mmry_test::check_counters(s);
}

// ---- opening with the wrong composition, key or format version --------------------------------

TEMPLATE_TEST_CASE(
    "processes: opening with other policies, another key or another format version "
    "is refused and changes nothing",
    "[shared][processes][header]", shm, file) {
    using T = sealed_traits<TestType>;
    using S = mmry::basic_store<T>;
    place<TestType> at;
    const auto opts = options_for<T>({.capacity = 1 << 20});
    {
        auto s = S::create(at.name(), opts);
        for (int i = 0; i < 20; ++i) s.put(numbered("k/", i), value_of(numbered("k/", i), 1));
    }
    const auto before = snapshot(at);
    REQUIRE(before.size() == 1);

    // What the store is made of can be read without its types or key, and changes nothing.
    const auto header = mmry::inspect<typename T::arena>(at.name());
    CHECK(header.policies.ids == mmry::format::fingerprint::of<T>().ids);
    CHECK(header.policies.names[1] == "hashed");
    CHECK(header.policies.names[2] == "zstd");
    CHECK(header.policies.names[3] == "aes256_gcm");
    CHECK(header.policies.layout == mmry::format::fingerprint::of<T>().layout);
    CHECK(snapshot(at) == before);
    CHECK_THROWS_MATCHES(mmry::inspect<typename T::arena>(at.name() + "-none"), mmry::error,
                         is_error(errc::not_found));

    using other_index =
        shared_traits<TestType, mmry_test::ordered, mmry_test::zstd3, mmry_test::aes>;
    using other_compressor =
        shared_traits<TestType, mmry_test::hashed, mmry_test::no_compression, mmry_test::aes>;
    using other_cipher =
        shared_traits<TestType, mmry_test::hashed, mmry_test::zstd3, mmry_test::xchacha>;
    using no_cipher =
        shared_traits<TestType, mmry_test::hashed, mmry_test::zstd3, mmry_test::no_cipher>;
    const mmry::options with_key{.key = test_key()};

    CHECK_THROWS_MATCHES(mmry::basic_store<other_index>::open(at.name(), with_key), mmry::error,
                         is_error(errc::policy_mismatch,
                                  "was created with index 'hashed' (id 1), but is opened with "
                                  "index 'ordered'"));
    CHECK(snapshot(at) == before);
    CHECK_THROWS_MATCHES(mmry::basic_store<other_compressor>::open(at.name(), with_key),
                         mmry::error,
                         is_error(errc::policy_mismatch,
                                  "compressor 'zstd' (id 1), but is opened with compressor "
                                  "'none'"));
    CHECK(snapshot(at) == before);
    CHECK_THROWS_MATCHES(mmry::basic_store<other_cipher>::open(at.name(), with_key), mmry::error,
                         is_error(errc::policy_mismatch, "cipher 'xchacha20_poly1305'"));
    CHECK(snapshot(at) == before);
    CHECK_THROWS_MATCHES(mmry::basic_store<no_cipher>::open(at.name()), mmry::error,
                         is_error(errc::policy_mismatch, "cipher 'none'"));
    CHECK(snapshot(at) == before);
    CHECK_THROWS_MATCHES(mmry::basic_store<other_index>::open_or_create(at.name(), with_key),
                         mmry::error, is_error(errc::policy_mismatch, "index"));
    CHECK(snapshot(at) == before);
    CHECK_THROWS_MATCHES(S::open(at.name(), {.key = mmry::key::generate()}), mmry::error,
                         is_error(errc::wrong_key, "key check"));
    CHECK(snapshot(at) == before);
    CHECK_THROWS_MATCHES(S::open(at.name()), mmry::error,
                         is_error(errc::invalid_argument, "options.key is needed"));
    CHECK(snapshot(at) == before);

    // The same from another process.
    family kids;
    const pid_t child = kids.spawn([&] {
        return expect_error(
                   errc::policy_mismatch, "open with another index",
                   [&] { mmry::basic_store<other_index>::open(at.name(), with_key); }, "index") +
               expect_error(errc::wrong_key, "open with another key",
                            [&] { S::open(at.name(), {.key = mmry::key::generate()}); });
    });
    CHECK(kids.wait(child) == 0);
    CHECK(snapshot(at) == before);

    // Another format version: patch the version field, with a valid header checksum.
    std::array<std::byte, mmry::format::store_header_size> original{};
    {
        auto s = S::open(at.name(), opts);
        const auto header = mmry::detail::store_access::header_bytes(s);
        std::copy(header.begin(), header.end(), original.begin());
        mmry::detail::store_le<std::uint32_t>(header.data() + 8, mmry::store_format_version + 1);
        mmry::detail::store_le<std::uint32_t>(
            header.data() + 80, mmry::detail::crc32c({header.first(80), header.subspan(84, 4)}));
    }
    const auto patched = snapshot(at);
    const std::string newer = "format version " + std::to_string(mmry::store_format_version + 1);
    CHECK_THROWS_MATCHES(S::open(at.name(), opts), mmry::error,
                         is_error(errc::version_mismatch, newer));
    CHECK_THROWS_MATCHES(S::open(at.name(), opts), mmry::error,
                         is_error(errc::version_mismatch,
                                  "reads version " + std::to_string(mmry::store_format_version)));
    // The version is checked first, whatever the opener's policies.
    CHECK_THROWS_MATCHES(mmry::basic_store<other_index>::open(at.name(), with_key), mmry::error,
                         is_error(errc::version_mismatch, newer));
    CHECK_THROWS_MATCHES(S::open_or_create(at.name(), opts), mmry::error,
                         is_error(errc::version_mismatch, newer));
    CHECK(snapshot(at) == patched);

    // A damaged header (the checksum no longer matches) is corrupt, not another version.
    const auto seg0 = at.segment_path(0);
    const std::string original_bytes(reinterpret_cast<const char*>(original.data()),
                                     original.size());
    const auto offset = before.at(seg0).find(original_bytes);
    REQUIRE(offset != std::string::npos);
    const auto patch_file = [&](std::size_t at_offset, std::string_view bytes) {
        const int fd = ::open(seg0.c_str(), O_WRONLY);
        REQUIRE(fd >= 0);
        CHECK(::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(at_offset)) ==
              static_cast<ssize_t>(bytes.size()));
        ::close(fd);
    };
    patch_file(offset + 80, "\x01\x02\x03\x04");
    const auto damaged = snapshot(at);
    CHECK_THROWS_MATCHES(S::open(at.name(), opts), mmry::error,
                         is_error(errc::corrupt, "checksum"));
    CHECK(snapshot(at) == damaged);

    // With the original header back, the store opens with everything in it.
    patch_file(offset, original_bytes);
    CHECK(snapshot(at) == before);
    auto s = S::open(at.name(), opts);
    CHECK(s.size() == 20);
    for (int i = 0; i < 20; ++i) CHECK(s.get(numbered("k/", i)) == value_of(numbered("k/", i), 1));
}

// ---- the size limit -----------------------------------------------------------------------------

TEMPLATE_TEST_CASE("processes: at max_size a put fails with limit_exceeded and changes nothing",
                   "[shared][processes][limit]", shm, file) {
    using S = mmry::basic_store<raw_traits<TestType>>;
    place<TestType> at;
    // Segment 0 keeps a quarter of itself for the index, and each segment ends in a gap smaller
    // than a block: a small first segment and values far smaller than a segment let the store
    // come close enough to its limit to pass 95 %.
    constexpr std::size_t capacity = 1 << 20, limit = 16 << 20, value_size = 20 << 10;
    std::vector<mmry::usage_alert> alerts;
    auto s = S::create(at.name(),
                       {.capacity = capacity,
                        .max_size = limit,
                        .on_usage = [&](const mmry::usage_alert& a) { alerts.push_back(a); }});
    const auto value = [](int i) {
        return random_bytes(value_size, static_cast<std::uint64_t>(i) + 1);
    };
    const auto key_of = [](int i) { return numbered("v/", i); };

    int stored = 0;
    std::optional<mmry::error> refusal;
    mmry::store_stats full;
    for (; stored < 5000; ++stored) {
        full = s.stats();
        try {
            s.put(key_of(stored), value(stored));
        } catch (const mmry::error& e) {
            refusal = e;
            break;
        }
    }
    REQUIRE(refusal);
    REQUIRE(stored > 64);
    CHECK(refusal->code() == errc::limit_exceeded);
    const std::string message = refusal->what();
    INFO(message);
    // current size, limit and requested size
    CHECK(holds(message, "limit of " + std::to_string(limit)));
    CHECK(holds(message, std::to_string(full.arena.reserved_bytes) + " bytes"));
    CHECK(holds(message,
                std::to_string(full.arena.reserved_bytes - full.arena.free_bytes) + " in use"));
    const auto block = message.find("block of ");
    REQUIRE(block != std::string::npos);
    CHECK(std::stoull(message.substr(block + 9)) > value_size);  // the record: value and head
    CHECK(holds(message, "'" + at.name() + "'"));
    // The same numbers as fields.
    REQUIRE(refusal->limit());
    CHECK(refusal->limit()->limit == limit);
    CHECK(refusal->limit()->in_use == full.arena.reserved_bytes - full.arena.free_bytes);
    CHECK(refusal->limit()->requested == std::stoull(message.substr(block + 9)));
    CHECK_FALSE(mmry::error(errc::corrupt, "not a limit").limit());

    // The alerts came at 75, 85 and 95 %, once each, in that order.
    REQUIRE(alerts.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
        const unsigned percent = std::array{75u, 85u, 95u}[i];
        CHECK(alerts[i].percent == percent);
        CHECK(alerts[i].limit_bytes == limit);
        CHECK(alerts[i].used_bytes * 100 >= limit * percent);
        CHECK(alerts[i].used_bytes <= limit);
    }

    // The store is unchanged: counters, arena, values.
    const auto same_as_full = [&](const mmry::store_stats& st) {
        CHECK(st.entries == full.entries);
        CHECK(st.logical_bytes == full.logical_bytes);
        CHECK(st.stored_bytes == full.stored_bytes);
        CHECK(st.puts == full.puts);
        CHECK(st.erases == full.erases);
        CHECK(st.arena.segments == full.arena.segments);
        CHECK(st.arena.reserved_bytes == full.arena.reserved_bytes);
        CHECK(st.arena.free_bytes == full.arena.free_bytes);
    };
    same_as_full(s.stats());
    CHECK(s.size() == static_cast<std::size_t>(stored));
    CHECK_FALSE(s.contains(key_of(stored)));
    for (int i = 0; i < stored; ++i) CHECK(s.get(key_of(i)) == value(i));
    // Replacing a value with one too big for what is left fails too, and keeps the old value.
    CHECK_THROWS_MATCHES(s.put(key_of(0), random_bytes(2 << 20)), mmry::error,
                         is_error(errc::limit_exceeded, "limit of " + std::to_string(limit)));
    CHECK(s.get(key_of(0)) == value(0));
    same_as_full(s.stats());

    // Another process sees the same store, and is refused the same way.
    family kids;
    const pid_t child = kids.spawn([&] {
        auto t = S::open(at.name());
        if (t.size() != static_cast<std::size_t>(stored)) return fail("another size");
        if (t.get(key_of(stored - 1)) != value(stored - 1)) return fail("another value");
        return expect_error(
            errc::limit_exceeded, "a put past the limit",
            [&] { t.put("child", random_bytes(1 << 20)); }, "limit of " + std::to_string(limit));
    });
    CHECK(kids.wait(child) == 0);
    same_as_full(s.stats());

    // Still usable: a small put fits, and room freed by erase is used again (values put last:
    // segment 0 keeps its freed room for the index).
    s.put("small", "fits");
    CHECK(s.template get<std::string>("small") == "fits");
    REQUIRE(s.erase(key_of(stored - 1)));
    REQUIRE(s.erase(key_of(stored / 2)));
    s.put(key_of(stored), value(stored));
    CHECK(s.get(key_of(stored)) == value(stored));
    CHECK(s.size() == static_cast<std::size_t>(stored));
    CHECK(alerts.size() == 3);
    mmry_test::check_counters(s);
}

// ---- permissions --------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("processes: segments are created 0600, or with the mode asked for",
                   "[shared][processes][security]", shm, file) {
    using S = mmry::basic_store<raw_traits<TestType>>;
    const unsigned mode = GENERATE(0600u, 0640u);
    const mode_t mask = GENERATE(mode_t{0}, mode_t{077});
    INFO("mode 0" << std::oct << mode << ", umask 0" << mask);
    struct umask_guard {
        mode_t old;
        explicit umask_guard(mode_t m) : old(::umask(m)) {}
        ~umask_guard() { ::umask(old); }
    } guard(mask);

    place<TestType> at;
    mmry::options opts{.capacity = 64 << 10};
    if (mode != 0600) opts.mode = mode;
    auto s = S::create(at.name(), opts);
    s.put("big", random_bytes(200 << 10));  // a second segment
    // An opener's mode does not apply: new segments keep the store's.
    family kids;
    const pid_t child = kids.spawn([&] {
        auto t = S::open(at.name(), {.mode = 0666});
        t.put("bigger", random_bytes(300 << 10));
        return 0;
    });
    REQUIRE(kids.wait(child) == 0);
    CHECK(s.stats().arena.segments >= 3);

    const auto paths = at.segment_paths();
    REQUIRE(paths.size() >= 3);
    for (const auto& path : paths) {
        INFO(path);
        struct stat st {};
        REQUIRE(::stat(path.c_str(), &st) == 0);
        CHECK((st.st_mode & 07777) == mode);
        CHECK(st.st_uid == ::geteuid());
    }
    if constexpr (std::is_same_v<TestType, file>) {
        struct stat st {};
        REQUIRE(::stat(at.name().c_str(), &st) == 0);
        CHECK(S_ISDIR(st.st_mode));
        CHECK((st.st_mode & 07777) == (mode == 0600 ? 0700u : 0750u));
    }
}

// ---- key material -------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("processes: no key material in any segment, and readers need the key",
                   "[shared][processes][security]", shm, file) {
    using T = shared_traits<TestType, mmry_test::hashed, mmry_test::zstd3, mmry_test::aes>;
    using S = mmry::basic_store<T>;
    place<TestType> at;
    const bool from_passphrase = GENERATE(false, true);
    const std::string passphrase = "mmry key scan: correct horse battery staple 7f3a9c";
    const auto material = random_bytes(mmry::key::size, 0x5ca1ab1e);
    const mmry::key key = from_passphrase ? mmry::key::from_passphrase(passphrase, {.log2_n = 10})
                                          : mmry::key::from_bytes(material);
    const mmry::key other = from_passphrase
                                ? mmry::key::from_passphrase(passphrase + "!", {.log2_n = 10})
                                : mmry::key::generate();

    auto s = S::create(at.name(), {.capacity = 256 << 10, .key = key, .frame_size = 4096});
    for (int i = 0; i < 40; ++i) {
        const auto k = numbered("k/", i);
        s.put(k, i % 2 ? redundant_bytes(10000) : random_bytes(12000, static_cast<unsigned>(i)));
    }
    s.put("k/0", "replaced");
    s.erase("k/1");
    REQUIRE(s.stats().arena.segments > 1);

    // What to look for: the key's bytes (for a passphrase key, the passphrase and the key Scrypt
    // derives from it with the store's salt).
    std::vector<std::string> secrets;
    const auto add = [&](const CryptoPP::SecByteBlock& b) {
        secrets.emplace_back(reinterpret_cast<const char*>(b.data()), b.size());
    };
    if (from_passphrase) {
        secrets.push_back(passphrase);
        const auto h = mmry::format::store_header::parse(
            mmry::detail::store_access::header_bytes(s), at.name());
        add(key.material(h.salt, h.kdf));
    } else {
        add(key.material());
        REQUIRE(secrets.back() == std::string(chars_of(material)));
    }
    for (auto const& secret : secrets) REQUIRE(secret.size() >= 32);
    std::uint64_t scanned = 0;
    for (const auto& [path, bytes] : snapshot(at)) {
        INFO(path);
        scanned += bytes.size();
        for (const auto& secret : secrets) {
            CHECK_FALSE(holds(bytes, secret));
            CHECK_FALSE(holds(bytes, secret.substr(0, 16)));
            CHECK_FALSE(holds(bytes, secret.substr(16, 16)));
        }
    }
    CHECK(scanned >= s.stats().arena.reserved_bytes);

    family kids;
    const pid_t wrong = kids.spawn([&] {
        return expect_error(errc::wrong_key, "open with another key",
                            [&] { S::open(at.name(), {.key = other}); });
    });
    const pid_t keyless = kids.spawn([&] {
        return expect_error(
            errc::invalid_argument, "open without a key", [&] { S::open(at.name()); },
            "options.key");
    });
    const pid_t right = kids.spawn([&] {
        auto t = S::open(at.name(), {.key = key});
        if (t.template get<std::string>("k/0") != "replaced") return fail("k/0 differs");
        if (t.get("k/1")) return fail("k/1 is back");
        for (int i = 2; i < 40; ++i)
            if (t.get(numbered("k/", i)) !=
                (i % 2 ? redundant_bytes(10000) : random_bytes(12000, static_cast<unsigned>(i))))
                return fail(numbered("k/", i) + " differs");
        return 0;
    });
    CHECK(kids.wait(wrong) == 0);
    CHECK(kids.wait(keyless) == 0);
    CHECK(kids.wait(right) == 0);
}

// ---- the cache of decoded values ----------------------------------------------------------------

TEMPLATE_TEST_CASE("processes: a cached value is never served after another process changed it",
                   "[shared][processes][cache]", shm, file) {
    using T = sealed_traits<TestType>;
    using S = mmry::basic_store<T>;
    place<TestType> at;
    const auto opts = options_for<T>({.capacity = 1 << 20});
    auto s = S::create(at.name(), opts);
    family kids;
    const auto in_child = [&](auto body) {
        return kids.wait(kids.spawn([&] {
            auto t = S::open(at.name(), opts);
            body(t);
            return 0;
        }));
    };
    const auto long_value = [](int version) {
        auto v = redundant_bytes(5000);
        v[0] = static_cast<std::byte>(version);
        return v;
    };

    s.put("k", long_value(1));
    const auto c0 = s.stats().cache;
    CHECK(s.get("k") == long_value(1));  // miss: decoded and cached
    CHECK(s.get("k") == long_value(1));  // hit
    auto c = s.stats().cache;
    CHECK(c.misses == c0.misses + 1);
    CHECK(c.hits == c0.hits + 1);
    CHECK(c.entries == 1);

    REQUIRE(in_child([&](S& t) { t.put("k", long_value(2)); }) == 0);
    CHECK(s.get("k") == long_value(2));  // the cached copy is stale: a miss
    CHECK(s.get("k") == long_value(2));  // hit
    c = s.stats().cache;
    CHECK(c.misses == c0.misses + 2);
    CHECK(c.hits == c0.hits + 2);

    REQUIRE(in_child([&](S& t) { t.erase("k"); }) == 0);
    CHECK_FALSE(s.get("k"));
    REQUIRE(in_child([&](S& t) { t.put("k", long_value(3)); }) == 0);
    CHECK(s.get("k") == long_value(3));
    CHECK(s.template get<std::string>("k") == std::string(chars_of(long_value(3))));
    c = s.stats().cache;
    CHECK(c.misses == c0.misses + 3);
    CHECK(c.hits == c0.hits + 3);

    // A child with its own cache sees the parent's writes too.
    s.put("k", long_value(4));
    REQUIRE(in_child([&](S& t) {
                if (t.get("k") != long_value(4)) throw std::runtime_error("k is not version 4");
                if (t.get("k") != long_value(4)) throw std::runtime_error("k is not version 4");
                if (t.stats().cache.hits != 1) throw std::runtime_error("no hit in the child");
                t.put("k", long_value(5));
            }) == 0);
    CHECK(s.get("k") == long_value(5));

    // cache_bytes = 0: no cache, nothing counted.
    auto u = S::open(at.name(), options_for<T>({.cache_bytes = 0}));
    for (int i = 0; i < 5; ++i) CHECK(u.get("k") == long_value(5));
    const auto off = u.stats().cache;
    CHECK(off.hits == 0);
    CHECK(off.misses == 0);
    CHECK(off.entries == 0);
    CHECK(off.budget == 0);
}

// ---- zero-copy views ----------------------------------------------------------------------------

TEMPLATE_TEST_CASE("processes: stats() counts the store's readers, live ones only",
                   "[shared][processes]", shm, file) {
    using S = mmry::basic_store<raw_traits<TestType>>;
    place<TestType> at;
    auto s = S::create(at.name());
    s.put("k", "value");
    CHECK(s.stats().readers.readers == 1);
    CHECK(s.stats().readers.reading == 0);
    CHECK_FALSE(s.stats().readers.writing);
    {
        auto t = S::open(at.name());
        CHECK(s.stats().readers.readers == 2);
        const auto v = t.view("k");  // a read held open by the other store object
        REQUIRE(v);
        CHECK(s.stats().readers.reading == 1);
    }
    CHECK(s.stats().readers.readers == 1);
    CHECK(s.stats().readers.reading == 0);

    // A child that reads and stays, then one killed inside a read: counted while alive only.
    family kids;
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    const pid_t child = kids.spawn([&] {
        auto t = S::open(at.name());
        const auto v = t.view("k");
        const char c = 'r';
        if (::write(ready[1], &c, 1) != 1) return 1;
        ::pause();
        return 0;
    });
    char c = 0;
    REQUIRE(::read(ready[0], &c, 1) == 1);
    CHECK(s.stats().readers.readers == 2);
    CHECK(s.stats().readers.reading == 1);
    ::kill(child, SIGKILL);
    CHECK(kids.wait(child) == 128 + SIGKILL);
    CHECK(s.stats().readers.readers == 1);
    CHECK(s.stats().readers.reading == 0);
    ::close(ready[0]);
    ::close(ready[1]);
}

TEMPLATE_TEST_CASE("processes: a view is the record's bytes in the segment, and writers go on",
                   "[shared][processes][view]", shm, file) {
    using S = mmry::basic_store<raw_traits<TestType>>;
    place<TestType> at;
    auto s = S::create(at.name(), {.capacity = 1 << 20, .frame_size = 4096});
    const auto value = random_bytes(10000, 3);
    const auto big = random_bytes(1000 << 10, 4);   // in segment 1: no room left in 0
    const auto huge = random_bytes(1536 << 10, 5);  // longer than a segment: in two runs
    s.put("k", value);
    s.put("big", big);
    s.put("huge", huge);
    CHECK_FALSE(s.view("absent"));

    {
        auto v1 = s.view("k");
        auto v2 = s.view("k");
        REQUIRE(v1);
        REQUIRE(v2);
        CHECK(std::equal(v1->begin(), v1->end(), value.begin(), value.end()));
        CHECK(v1->size() == value.size());
        CHECK(v1->data() == v2->data());  // not a copy
        const auto record = mmry::detail::store_access::record_bytes(s, "k");
        CHECK(v1->data() >= record.data());
        CHECK(v1->data() + v1->size() <= record.data() + record.size());
        CHECK(mapping_of(v1->data()) == at.segment_path(0));
    }
    {
        auto v = s.view("big");
        REQUIRE(v);
        CHECK(std::equal(v->begin(), v->end(), big.begin(), big.end()));
        CHECK(mapping_of(v->data()) == at.segment_path(1));
    }
    {
        // A record longer than a segment is gathered from its runs: a copy, but a whole one.
        auto v = s.view("huge");
        REQUIRE(v);
        CHECK(std::equal(v->begin(), v->end(), huge.begin(), huge.end()));
    }

    // A writer thread goes on while a view lives; the view keeps the bytes it was made on.
    {
        auto v = s.view("k");
        std::thread writer([&] {
            s.put("other", "written");
            s.put("k", "replaced in a thread");
            s.erase("big");
        });
        writer.join();
        CHECK(std::equal(v->begin(), v->end(), value.begin(), value.end()));
    }
    CHECK(s.template get<std::string>("other") == "written");
    CHECK(s.template get<std::string>("k") == "replaced in a thread");

    // So does a writer process, and a view may be dropped on another thread.
    family kids;
    s.put("k", value);
    std::optional<mmry::value_view<typename S::view_guard>> v = s.view("k");
    const pid_t writer = kids.spawn([&] {
        auto t = S::open(at.name());
        for (int i = 0; i < 20; ++i) t.put("k", "replaced " + std::to_string(i));
        return 0;
    });
    CHECK(kids.wait(writer, 30s) == 0);
    CHECK(std::equal(v->begin(), v->end(), value.begin(), value.end()));
    std::thread([&] { v.reset(); }).join();
    CHECK(s.template get<std::string>("k") == "replaced 19");
    CHECK(s.verify().ok());
}

// ---- not_found, already_exists, open_or_create --------------------------------------------------

TEMPLATE_TEST_CASE("processes: open needs a store, create needs none, open_or_create races safely",
                   "[shared][processes][lifecycle]", shm, file) {
    using S = mmry::basic_store<raw_traits<TestType>>;
    family kids;
    {
        place<TestType> at;
        CHECK_FALSE(S::exists(at.name()));
        CHECK_THROWS_MATCHES(S::open(at.name()), mmry::error, is_error(errc::not_found));
        CHECK_FALSE(S::remove(at.name()));

        auto s = S::create(at.name(), {.capacity = 1 << 20});
        s.put("k", "v");
        CHECK(S::exists(at.name()));
        CHECK_THROWS_MATCHES(S::create(at.name(), {.capacity = 1 << 20}), mmry::error,
                             is_error(errc::already_exists));
        const pid_t child = kids.spawn([&] {
            return expect_error(errc::already_exists, "create in a child",
                                [&] { S::create(at.name(), {.capacity = 1 << 20}); });
        });
        CHECK(kids.wait(child) == 0);
        CHECK(s.template get<std::string>("k") == "v");  // the failed creates left it alone

        CHECK(S::remove(at.name()));
        CHECK_FALSE(S::exists(at.name()));
        CHECK(at.segment_paths().empty());
        CHECK_THROWS_MATCHES(S::open(at.name()), mmry::error, is_error(errc::not_found));
        CHECK_FALSE(S::remove(at.name()));
        // This process keeps its mapping until it closes the store.
        CHECK(s.template get<std::string>("k") == "v");
    }

    const int rounds = 3 * soak();
    constexpr int racers = 8;
    for (int round = 0; round < rounds; ++round) {
        place<TestType> at;
        channel gate, ids;
        std::vector<pid_t> pids;
        for (int r = 0; r < racers; ++r)
            pids.push_back(kids.spawn([&, r] {
                gate.wait();
                auto t = S::open_or_create(at.name(), {.capacity = 1 << 20});
                t.put(numbered("racer/", r), std::to_string(r));
                ids.send(id_of(mmry::detail::store_access::header_bytes(t)) + "\n");
                return 0;
            }));
        gate.send(std::string(racers, 'g'));
        for (const pid_t pid : pids) CHECK(kids.wait(pid) == 0);
        const std::string lines = ids.receive(racers * 33, 5s);

        auto s = S::open(at.name());
        const std::string id = id_of(mmry::detail::store_access::header_bytes(s));
        CHECK(lines == [&] {
            std::string all;
            for (int r = 0; r < racers; ++r) all += id + "\n";
            return all;
        }());
        CHECK(s.size() == racers);
        for (int r = 0; r < racers; ++r)
            CHECK(s.template get<std::string>(numbered("racer/", r)) == std::to_string(r));
        CHECK(at.segment_paths().size() == 1);
    }
}

// ---- versions across processes ------------------------------------------------------------------

template <class Arena, class Index, class Cipher>
struct versioned_traits : shared_traits<Arena, Index, mmry_test::zstd1, Cipher> {
    using path = mmry::path::versioned;
};

TEMPLATE_TEST_CASE("processes: versions put by four processes form one chained history",
                   "[shared][processes][paths]",
                   (versioned_traits<shm, mmry_test::ordered, mmry_test::no_cipher>),
                   (versioned_traits<file, mmry_test::hashed, mmry_test::aes>)) {
    using S = mmry::basic_store<TestType>;
    place<typename TestType::arena> at;
    const auto opts = options_for<TestType>({.capacity = 4 << 20});
    auto s = S::create(at.name(), opts);
    constexpr int writers = 4;
    const int puts = 10 * soak();
    const auto content = [](int w, int i) { return numbered("w", w) + numbered("/", i); };

    in_processes_at_once<S>(at.name(), opts, writers, [&](S& t, int w) {
        for (int i = 0; i < puts; ++i) {
            t.put("doc", content(w, i), {.tags = {numbered("w", w)}});
            t.put(numbered("own/", w), content(w, i));
        }
        return 0;
    });

    // One history of writers * puts versions, numbered without gap, each linked to the one before
    // (previous version and chain hash) and readable, whichever process wrote it.
    const auto h = mmry_test::entries_of(s.history("doc"));
    REQUIRE(h.size() == static_cast<std::size_t>(writers * puts));
    std::map<int, int> next_of;  // writer -> its next put, in the order it put them
    for (std::size_t i = 0; i < h.size(); ++i) {
        const auto& m = h[i].meta;
        CHECK(m.version == mmry::version{i + 1});
        CHECK(m.previous_version == mmry::version{i});
        REQUIRE(m.tags.size() == 1);
        const int w = std::stoi(m.tags[0].substr(1));
        const auto v = s.template get<std::string>("doc", m.version);
        REQUIRE(v);
        CHECK(*v == content(w, next_of[w]++));
        if (i > 0) {
            // Recomputed by a hasher like the store's own: the chain links version i to i - 1.
            CHECK(m.chain_hash != h[i - 1].meta.chain_hash);
            CHECK(m.created == h[0].meta.created);
        }
    }
    for (int w = 0; w < writers; ++w) {
        CHECK(mmry_test::entries_of(s.history(numbered("own/", w))).size() ==
              static_cast<std::size_t>(puts));
        CHECK(s.template get<std::string>(numbered("own/", w)) == content(w, puts - 1));
    }
    CHECK(s.size() == writers + 1);
    CHECK(s.stats().records == static_cast<std::uint64_t>(2 * writers * puts));
    mmry_test::check_counters(s);

    // Another process prunes; this one sees it, and the history survives reopening.
    family kids;
    const pid_t pruner = kids.spawn([&] {
        auto t = S::open(at.name(), opts);
        return t.prune({.keep_last = 3}) ==
                       static_cast<std::size_t>(writers * puts - 3 + writers * (puts - 3))
                   ? 0
                   : fail("prune erased another count");
    });
    CHECK(kids.wait(pruner) == 0);
    CHECK(mmry_test::entries_of(s.history("doc")).size() == 3);
    CHECK(s.stats().records == static_cast<std::uint64_t>(3 * (writers + 1)));
    const auto latest = s.metadata("doc");
    s = S::open(at.name(), opts);
    REQUIRE(s.metadata("doc"));
    CHECK(s.metadata("doc")->chain_hash == latest->chain_hash);
    CHECK(s.history("doc").begin()->meta.version == mmry::version(writers * puts - 2));
    mmry_test::check_counters(s);
}
