#pragma once
// The lock of a store shared between processes: readers in parallel, one writer at a time, and no
// process that dies at any instant, holding anything, can hang the others.
//
// - Writers take a robust process-shared mutex (robust_mutex), raise `writer_active`, then wait
//   until every reader slot is idle.
// - Each process (each open store object) owns one reader slot. A reader increments its slot's
//   count, then checks `writer_active`; if a writer is active it backs out and waits on the
//   writer mutex. The seq_cst increment/check on both sides (Dekker's pattern) means a reader and
//   a writer never both go in.
// - A writer that dies holding the mutex: the next locker (reader or writer) gets owner_died. If
//   the writer died between begin_update() and end_update(), the store's structures may be half
//   changed: `needs_recovery` is set for good and every operation fails with
//   errc::needs_recovery. Otherwise the lock is made consistent and work goes on.
// - A reader that dies inside a read leaves its slot count raised: a waiting writer checks the
//   slot's process (pid and start time, so a reused pid does not count) and clears it when dead.
// docs/LOCKING.md has the argument in full.

#include <pthread.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <mmry/arena/stats.hpp>
#include <mmry/detail/robust_mutex.hpp>
#include <mmry/error.hpp>

namespace mmry {
inline namespace v1 {
namespace detail {

/// A process, named so that a reused pid is not mistaken for it: pid and start time (clock ticks
/// since boot, from /proc/<pid>/stat).
struct process_id {
    std::uint32_t pid = 0;
    std::uint64_t start = 0;

    static std::uint64_t start_time(std::uint32_t pid) {
        std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
        std::string line;
        if (!std::getline(in, line)) return 0;
        // Field 2 (comm) may hold spaces and parentheses: skip past its last ')'.
        const auto close = line.rfind(')');
        if (close == std::string::npos) return 0;
        std::istringstream rest(line.substr(close + 2));
        std::string field;
        for (int i = 3; i < 22 && rest >> field; ++i) {
        }
        std::uint64_t ticks = 0;
        rest >> ticks;
        return ticks;
    }
    // getpid() is a system call (glibc no longer caches it) and every write asks: keep the
    // answer, and look again in a forked child (pthread_atfork marks it stale there).
    static process_id self() {
        static std::atomic<bool> stale{true};
        static std::atomic<std::uint32_t> pid{0};
        static std::atomic<std::uint64_t> start{0};
        static const int registered = ::pthread_atfork(
            nullptr, nullptr, [] { stale.store(true, std::memory_order_relaxed); });
        (void)registered;
        if (stale.load(std::memory_order_acquire)) {
            // Threads that race here compute the same values.
            const auto p = static_cast<std::uint32_t>(::getpid());
            const auto t = start_time(p);
            pid.store(p, std::memory_order_relaxed);
            start.store(t, std::memory_order_relaxed);
            stale.store(false, std::memory_order_release);
            return {p, t};
        }
        return {pid.load(std::memory_order_relaxed), start.load(std::memory_order_relaxed)};
    }
    /// True when the process has ended and only waits for its parent to reap it (a zombie runs
    /// no code and holds nothing, but kill(pid, 0) still succeeds). A process whose main thread
    /// exited while other threads run shows state Z too, with more than one thread: it is alive.
    static bool zombie(std::uint32_t pid) {
        std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
        std::string line;
        if (!std::getline(in, line)) return false;
        const auto close = line.rfind(')');
        if (close == std::string::npos) return false;
        std::istringstream rest(line.substr(close + 2));
        std::string state, field;
        rest >> state;  // field 3
        for (int i = 4; i < 20 && rest >> field; ++i) {
        }
        long threads = 0;  // field 20
        rest >> threads;
        return (state == "Z" || state == "X") && threads <= 1;
    }
    /// False only when the process is certainly gone.
    bool alive() const {
        if (pid == 0) return false;
        if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return false;
        if (zombie(pid)) return false;
        const std::uint64_t now = start_time(pid);
        return now == 0 || start == 0 || now == start;
    }
};

/// 64 bytes, so that two processes' counters seldom share a cache line. Padded rather than
/// alignas(64): Boost.Interprocess places named objects at 16-byte alignment only, and an
/// over-aligned type constructed there would be misaligned (undefined behaviour).
struct reader_slot {
    std::atomic<std::uint32_t> pid{0};
    std::atomic<std::uint64_t> start{0};
    std::atomic<std::uint32_t> active{0};
    std::byte padding[40]{};
};
static_assert(sizeof(reader_slot) == 64);

/// Lives in segment 0 of a shared store.
struct lock_block {
    static constexpr std::uint32_t max_readers = 256;

    robust_mutex writer;
    std::atomic<std::uint32_t> writer_active{0};
    std::atomic<std::uint32_t> writer_pid{0};
    std::atomic<std::uint32_t> in_update{0};
    std::atomic<std::uint32_t> needs_recovery{0};
    std::atomic<std::uint32_t> dead_writer_pid{0};
    /// One more than the highest slot index ever claimed: writers wait on slots below it only.
    std::atomic<std::uint32_t> high_water{0};
    reader_slot slots[max_readers];

    /// Resets every lock after a reboot (no process of an earlier boot can be alive). A writer
    /// that was inside an update when the machine went down left the store half changed: that
    /// is kept as needs_recovery, never cleared with the locks.
    void reset() {
        if (in_update.load() != 0 && needs_recovery.load() == 0) {
            dead_writer_pid = writer_pid.load();
            needs_recovery.store(1, std::memory_order_release);
        }
        writer.init();
        writer_active = 0;
        writer_pid = 0;
        high_water = 0;
        for (auto& s : slots) {
            s.pid = 0;
            s.start = 0;
            s.active = 0;
        }
    }
};

/// One process's use of a lock_block: its reader slot, and the read and write protocols.
class process_lock {
  public:
    process_lock(lock_block& b, std::string store_name) : b_(&b), name_(std::move(store_name)) {
        const auto me = process_id::self();
        for (std::uint32_t i = 0;; ++i) {
            if (i == lock_block::max_readers) {
                reclaim_dead_slots();
                i = 0;
                if (++rounds_ > 3)
                    throw error(errc::limit_exceeded, "store " + name_ + " has all " +
                                                          std::to_string(lock_block::max_readers) +
                                                          " reader slots taken by live processes");
            }
            std::uint32_t expected = 0;
            if (b.slots[i].pid.compare_exchange_strong(expected, me.pid)) {
                b.slots[i].start = me.start;
                slot_ = &b.slots[i];
                // Raised before this slot is ever active (seq_cst, like the handshake), so a
                // writer that reads it after setting writer_active scans this slot.
                std::uint32_t seen = b.high_water.load();
                while (seen < i + 1 && !b.high_water.compare_exchange_weak(seen, i + 1)) {
                }
                break;
            }
        }
    }
    ~process_lock() {
        if (slot_) {
            slot_->active = 0;
            slot_->start = 0;
            slot_->pid = 0;
        }
    }
    process_lock(const process_lock&) = delete;
    process_lock& operator=(const process_lock&) = delete;

    void lock_shared() {
        check_recovery();
        for (;;) {
            slot_->active.fetch_add(1, std::memory_order_seq_cst);
            if (b_->writer_active.load(std::memory_order_seq_cst) == 0) return;
            slot_->active.fetch_sub(1, std::memory_order_seq_cst);
            // Wait for the writer by taking its mutex: returns when it is done, or has died.
            acquire_writer();
            release_writer();
            check_recovery();
        }
    }
    void unlock_shared() { slot_->active.fetch_sub(1, std::memory_order_release); }

    /// The reader table now: claimed slots of live processes (a dead process's slot stays
    /// claimed until a writer or an opener reclaims it, and is not counted), and how many of the
    /// others are inside a read. O(slots ever claimed), with a /proc read per claimed slot.
    reader_stats readers() const {
        reader_stats out;
        const auto n = std::min(b_->high_water.load(), lock_block::max_readers);
        for (std::uint32_t i = 0; i < n; ++i) {
            const auto& s = b_->slots[i];
            const process_id owner{s.pid.load(), s.start.load()};
            if (owner.pid == 0 || (&s != slot_ && !owner.alive())) continue;
            ++out.readers;
            if (&s != slot_ && s.active.load() != 0) ++out.reading;
        }
        out.writing = b_->writer_active.load() != 0;
        return out;
    }

    void lock() {
        check_recovery();
        acquire_writer();
        b_->writer_pid = process_id::self().pid;
        b_->writer_active.store(1, std::memory_order_seq_cst);
        wait_for_readers();
        if (b_->needs_recovery.load()) {
            unlock();
            check_recovery();
        }
    }
    void unlock() {
        b_->writer_active.store(0, std::memory_order_seq_cst);
        b_->writer_pid = 0;
        release_writer();
    }

    /// Brackets a mutation of shared structures: a writer that dies in between leaves the store
    /// marked as needing recovery.
    void begin_update() { b_->in_update.store(1, std::memory_order_seq_cst); }
    void end_update() { b_->in_update.store(0, std::memory_order_release); }

    void check_recovery() const {
        if (b_->needs_recovery.load(std::memory_order_acquire))
            throw error(
                errc::needs_recovery,
                "store " + name_ + ": a writer (pid " + std::to_string(b_->dead_writer_pid.load()) +
                    ") died while changing it, so its index or allocator may be inconsistent; "
                    "no value is served from it. Remove the store and restore it from a "
                    "backup or from its source");
    }

  private:
    void acquire_writer() {
        if (b_->writer.lock() == robust_mutex::acquired::owner_died) {
            // The last writer died holding the mutex. Its half-done update, if any, cannot be
            // trusted.
            if (b_->in_update.load()) {
                b_->dead_writer_pid = b_->writer_pid.load();
                b_->needs_recovery.store(1, std::memory_order_release);
            }
            b_->writer_active.store(0, std::memory_order_seq_cst);
            b_->writer.consistent();
        }
    }
    void release_writer() { b_->writer.unlock(); }

    void wait_for_readers() {
        using clock = std::chrono::steady_clock;
        auto next_check = clock::now() + std::chrono::milliseconds(20);
        for (int spins = 0;; ++spins) {
            bool idle = true;
            const std::uint32_t used =
                std::min(b_->high_water.load(std::memory_order_seq_cst), lock_block::max_readers);
            for (std::uint32_t i = 0; i < used; ++i)
                if (b_->slots[i].active.load(std::memory_order_seq_cst) != 0) idle = false;
            if (idle) return;
            if (spins < 64) continue;
            std::this_thread::yield();
            if (clock::now() >= next_check) {
                reclaim_dead_slots();
                next_check = clock::now() + std::chrono::milliseconds(20);
            }
        }
    }

    void reclaim_dead_slots() {
        for (auto& s : b_->slots) {
            const process_id owner{s.pid.load(), s.start.load()};
            // A slot is claimed (pid, then start) before it is ever active: an active slot
            // without a start time is damaged, whatever process its pid names.
            const bool damaged = owner.start == 0 && s.active.load() != 0;
            if (owner.pid != 0 && (damaged || !owner.alive())) {
                s.active = 0;
                s.start = 0;
                std::uint32_t pid = owner.pid;
                s.pid.compare_exchange_strong(pid, 0);
            }
        }
    }

    lock_block* b_;
    std::string name_;
    reader_slot* slot_ = nullptr;
    int rounds_ = 0;
};

}  // namespace detail
}  // namespace v1
}  // namespace mmry
