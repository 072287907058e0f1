// The blackbox crash harness: a writer process puts, erases and writes batches (of three puts and
// erases) in a loop, and compacts the store now and then, telling its parent before each mutation
// what it is about to do and after it what was acknowledged; the parent kills it with SIGKILL at a
// random moment, opens the store, and checks it against a model of the acknowledged mutations:
//
// - every acknowledged put is there with its exact bytes, every acknowledged erase stays erased;
// - the mutation in flight when the writer died is all or nothing (a batch: all of its keys, or
//   none);
// - verify() finds nothing wrong, and the store takes new writes;
// - no open, read or write hangs (each check runs in a child under alarm());
// - no error at all: a writer's death never leaves a store that refuses anyone
//   (docs/DURABILITY.md).
//
// Cycles: MMRY_CRASH_CYCLES (default 12 per composition, a few seconds); a long run is e.g.
// MMRY_CRASH_CYCLES=1000.

#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <mmry/arena/mapped_file.hpp>
#include <mmry/arena/shared_memory.hpp>
#include <mmry/batch.hpp>
#include <mmry/compact.hpp>
#include <mmry/fold/cdc.hpp>
#include <mmry/path/versioned.hpp>

#include "shared_support.hpp"
#include "support.hpp"

using mmry_test::env_count;
using mmry_test::file;
using mmry_test::in_child;
using mmry_test::numbered;
using mmry_test::place;
using mmry_test::random_bytes;
using mmry_test::shared_traits;
using mmry_test::shm;

namespace {

constexpr int keys = 24;

/// What the writer tells its parent: before a mutation (acked = 0) and after it returned (1). A
/// mutation is one put or erase, or a batch of three on distinct keys; operation j puts the value
/// numbered seq * 4 + j, or erases (bit j of erase_mask).
struct note {
    std::uint64_t seq;  // the mutation's number, from 1
    std::uint32_t keys[3];
    std::uint8_t count;
    std::uint8_t erase_mask;
    std::uint8_t acked;
};

/// The model: what each key holds (the number of its value; nullopt: absent).
using model_type = std::map<std::uint32_t, std::optional<std::uint64_t>>;

void apply_note(model_type& m, const note& n) {
    for (std::uint8_t j = 0; j < n.count; ++j)
        m[n.keys[j]] = (n.erase_mask >> j) & 1 ? std::nullopt : std::optional(n.seq * 4 + j);
}

/// The value put by mutation `seq`: its size varies from 50 bytes to 200 KB, so small records
/// (in their index entries), records of their own pages, one frame and several, and records
/// copied in outside the writer lock (staged) are all written and freed. Cut from one random
/// buffer and stamped with seq, so that making it costs the writer next to nothing: its time goes
/// to the store, where the kills should land.
mmry::bytes value_of(std::uint64_t seq) {
    static const mmry::bytes base = random_bytes(200000 + 97, 7);
    const std::size_t sizes[] = {50, 700, 3000, 20000, 80000, 200000};
    mmry::bytes v(base.begin(),
                  base.begin() + static_cast<std::ptrdiff_t>(sizes[seq % 6] + seq % 97));
    std::memcpy(v.data(), &seq, sizeof seq);
    return v;
}

/// The writer: mutations numbered from `first`, until it is killed. Never returns.
template <class Store>
[[noreturn]] void writer(const std::string& name, const mmry::options& opts, int fd,
                         std::uint64_t first, std::uint64_t seed) {
    int code = 0;
    try {
        auto s = Store::open(name, opts);
        std::mt19937_64 rng(seed);
        for (std::uint64_t seq = first;; ++seq) {
            // Now and then a compaction, which changes no key: a death inside it costs nothing.
            if (rng() % 25 == 0) s.compact({.wait = std::chrono::milliseconds(100)});
            note n{seq, {}, 1, 0, 0};
            if (rng() % 5 == 0) {
                n.count = 3;
                n.keys[0] = static_cast<std::uint32_t>(rng() % keys);
                n.keys[1] = (n.keys[0] + 1 + static_cast<std::uint32_t>(rng() % (keys - 1))) % keys;
                do {
                    n.keys[2] = static_cast<std::uint32_t>(rng() % keys);
                } while (n.keys[2] == n.keys[0] || n.keys[2] == n.keys[1]);
            } else {
                n.keys[0] = static_cast<std::uint32_t>(rng() % keys);
            }
            for (std::uint8_t j = 0; j < n.count; ++j)
                if (rng() % 4 == 0) n.erase_mask |= static_cast<std::uint8_t>(1u << j);
            if (::write(fd, &n, sizeof n) != sizeof n) ::_exit(3);
            const auto key_of = [&](std::uint8_t j) { return numbered("k/", n.keys[j]); };
            if (n.count == 1) {
                if (n.erase_mask)
                    s.erase(key_of(0));
                else
                    s.put(key_of(0), value_of(seq * 4));
            } else {
                mmry::batch b;
                for (std::uint8_t j = 0; j < n.count; ++j)
                    if ((n.erase_mask >> j) & 1)
                        b.erase(key_of(j));
                    else
                        b.put(key_of(j), value_of(seq * 4 + j));
                s.write(b);
            }
            n.acked = 1;
            if (::write(fd, &n, sizeof n) != sizeof n) ::_exit(3);
        }
    } catch (const mmry::error& e) {
        std::fprintf(stderr, "writer: %s\n", e.what());
        code = 2;
    }
    ::_exit(code);
}

/// Reads every note the dead writer left in the pipe.
std::vector<note> drain(int fd) {
    std::vector<note> out;
    note n{};
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 0) <= 0) break;
        const auto got = ::read(fd, &n, sizeof n);
        if (got != static_cast<ssize_t>(sizeof n)) break;
        out.push_back(n);
    }
    return out;
}

struct tally {
    int cycles = 0, in_flight_done = 0, in_flight_undone = 0;
    std::uint64_t acked = 0, batches = 0;
};

template <class Traits>
void crash_loop(const char* label) {
    using S = mmry::basic_store<Traits>;
    const int cycles = env_count("MMRY_CRASH_CYCLES", 12);
    const mmry::options opts = mmry_test::options_for<Traits>(256 * 1024);
    place<typename Traits::arena> at;
    S::create(at.name(), opts);

    // The model: what each key holds after every acknowledged mutation.
    model_type model;
    std::mt19937_64 rng(0xc0ffee);
    std::uint64_t next = 1;
    tally t;
    for (int cycle = 0; cycle < cycles; ++cycle) {
        int pipe_fds[2];
        REQUIRE(::pipe(pipe_fds) == 0);
        const pid_t child = ::fork();
        if (child == 0) {
            ::close(pipe_fds[0]);
            writer<S>(at.name(), opts, pipe_fds[1], next, rng());
        }
        ::close(pipe_fds[1]);
        // Let it run from a fraction of a millisecond to tens of milliseconds, then kill it.
        std::this_thread::sleep_for(std::chrono::microseconds(200 + rng() % 30000));
        ::kill(child, SIGKILL);
        int status = 0;
        ::waitpid(child, &status, 0);
        const auto notes = drain(pipe_fds[0]);
        ::close(pipe_fds[0]);
        INFO(label << ", cycle " << cycle);
        REQUIRE((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));

        // Acknowledged mutations join the model; the last one announced without an ack was in
        // flight.
        std::optional<note> in_flight;
        for (const auto& n : notes) {
            if (n.acked) {
                apply_note(model, n);
                ++t.acked;
                t.batches += n.count > 1;
                in_flight.reset();
            } else {
                in_flight = n;
            }
            next = n.seq + 1;
        }

        // Check in a child: a crash or hang here is a failure of this cycle, reported by code.
        // Codes: 0 ok; 1 the in-flight mutation happened; others: failures.
        const int code = in_child([&] {
            ::alarm(30);
            try {
                auto s = S::open(at.name(), opts);
                // The store as the acknowledged mutations left it, or with the one in flight
                // wholly applied: nothing in between.
                model_type with = model;
                if (in_flight) apply_note(with, *in_flight);
                bool as_acked = true, as_applied = in_flight.has_value();
                for (std::uint32_t k = 0; k < keys; ++k) {
                    const auto key = numbered("k/", k);
                    const auto got = s.get(key);
                    auto holds = [&](const std::optional<std::uint64_t>& want) {
                        return want ? got == value_of(*want) : !got;
                    };
                    as_acked = as_acked && holds(model[k]);
                    as_applied = as_applied && holds(with[k]);
                    if (!holds(model[k]) && !holds(with[k])) {
                        std::fprintf(stderr, "key %s: %s\n", key.c_str(),
                                     got ? "a value no acknowledged put wrote" : "lost");
                        return 10;
                    }
                }
                if (!as_acked && !as_applied) {
                    std::fprintf(stderr, "the mutation in flight is there in part\n");
                    return 14;
                }
                const bool applied = !as_acked;
                const auto report = s.verify();
                if (!report.ok()) {
                    std::fprintf(stderr, "verify: %s\n", report.problems.front().c_str());
                    return 11;
                }
                s.put("after-crash", "v");
                if (s.template get<std::string>("after-crash") != "v") return 12;
                s.erase("after-crash");
                return applied ? 1 : 0;
            } catch (const mmry::error& e) {
                std::fprintf(stderr, "check: %s\n", e.what());
                return 13;
            }
        });
        ++t.cycles;
        REQUIRE((code == 0 || code == 1));
        if (code == 1) {
            ++t.in_flight_done;
            apply_note(model, *in_flight);
        } else if (in_flight) {
            ++t.in_flight_undone;
        }
    }
    WARN(label << ": " << t.cycles << " kills, " << t.acked << " acknowledged mutations ("
               << t.batches << " of them batches), 0 lost; in flight: " << t.in_flight_done
               << " done, " << t.in_flight_undone << " not done");
}

}  // namespace

TEST_CASE(
    "crash: a writer killed at random costs at most its unfinished mutation (shared "
    "memory)",
    "[crash][processes]") {
    crash_loop<mmry_test::raw_traits<shm>>("shared_memory, raw");
    crash_loop<mmry_test::sealed_ordered_traits<shm>>("shared_memory, zstd-3 + AES-GCM, ordered");
    crash_loop<mmry_test::folded_history_traits<shm>>(
        "shared_memory, versioned + fold::cdc, zstd-3 + AES-GCM");
}

TEST_CASE(
    "crash: a writer killed at random costs at most its unfinished mutation (mapped "
    "file)",
    "[crash][processes]") {
    crash_loop<mmry_test::raw_traits<file>>("mapped_file, raw");
    crash_loop<mmry_test::sealed_ordered_traits<file>>("mapped_file, zstd-3 + AES-GCM, ordered");
    crash_loop<mmry_test::folded_history_traits<file>>(
        "mapped_file, versioned + fold::cdc, zstd-3 + AES-GCM");
}
