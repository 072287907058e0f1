#pragma once
// A process, named so that a reused pid is not mistaken for it: what reader pins and the robust
// writer mutex record of their owners, and how to tell that one is gone.

#include <pthread.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

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

}  // namespace detail
}  // namespace v1
}  // namespace mmry
