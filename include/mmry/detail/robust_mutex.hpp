#pragma once
// A process-shared, robust pthread mutex that can live in a shared segment or a mapped file.
//
// When its owner dies (any process, any instant), the next locker gets `owner_died` instead of
// blocking forever, decides whether the protected state is still consistent, and calls
// consistent(). Boost 1.74's interprocess mutexes are not robust, hence this.
// A mutex found in a mapped file after a reboot may name an owner of the previous boot that the
// kernel will never mark dead: the store re-initializes it when the boot id changes.
// Also a futex wait and wake-all on a 32-bit word of such memory, for waiters that must all go
// at once when an event happens (a mutex hands itself to one waiter at a time).

#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>

#include <mmry/error.hpp>

namespace mmry {
inline namespace v1 {
namespace detail {

class robust_mutex {
  public:
    enum class acquired { clean, owner_died };

    robust_mutex() { init(); }
    robust_mutex(const robust_mutex&) = delete;
    robust_mutex& operator=(const robust_mutex&) = delete;

    /// (Re-)initializes in place; only when no process can hold or wait on it.
    void init() {
        pthread_mutexattr_t attr;
        pthread_mutexattr_init(&attr);
        pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
        pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
        const int rc = pthread_mutex_init(&m_, &attr);
        pthread_mutexattr_destroy(&attr);
        if (rc != 0)
            throw error(errc::io_error, std::string("pthread_mutex_init: ") + std::strerror(rc));
    }

    /// Waits for the mutex as long as its owner lives. Every `poll` it checks that the owner the
    /// mutex names exists: a word that names no thread (damaged bytes, or an owner the kernel
    /// could not mark dead) is handed back as if its owner had died, so the wait is bounded.
    acquired lock(std::chrono::milliseconds poll = std::chrono::milliseconds(100)) {
        for (;;) {
            timespec until{};
            ::clock_gettime(CLOCK_REALTIME, &until);
            const auto ns = until.tv_nsec + static_cast<long>(poll.count()) * 1000000L;
            until.tv_sec += ns / 1000000000L;
            until.tv_nsec = ns % 1000000000L;
            const int rc = pthread_mutex_timedlock(&m_, &until);
            if (rc == 0) return acquired::clean;
            if (rc == EOWNERDEAD) return acquired::owner_died;
            if (rc == ETIMEDOUT) {
                release_if_owner_gone();
                continue;
            }
            throw error(rc == ENOTRECOVERABLE ? errc::needs_recovery : errc::io_error,
                        std::string("locking the store's writer mutex: ") + std::strerror(rc));
        }
    }

    /// Takes the mutex if no live owner holds it; nullopt, without waiting, if one does.
    std::optional<acquired> try_lock() {
        const int rc = pthread_mutex_trylock(&m_);
        if (rc == 0) return acquired::clean;
        if (rc == EOWNERDEAD) return acquired::owner_died;
        if (rc == EBUSY) return std::nullopt;
        throw error(rc == ENOTRECOVERABLE ? errc::needs_recovery : errc::io_error,
                    std::string("locking the store's mutex: ") + std::strerror(rc));
    }

    /// Marks the state consistent again after `owner_died`; the mutex stays usable.
    void consistent() { pthread_mutex_consistent(&m_); }
    void unlock() { pthread_mutex_unlock(&m_); }

  private:
    // What the kernel does when a robust mutex's owner dies (FUTEX_OWNER_DIED in the futex word,
    // then a wake-up), done by a waiter for an owner that does not exist. The compare-and-swap
    // replaces only the very word it saw, so a mutex taken in the meantime is left alone. The
    // word's layout is glibc's (the owner's thread id in the low 30 bits), as is the robust
    // futex protocol it follows; elsewhere a wait lasts as long as the owner the kernel knows.
    void release_if_owner_gone() noexcept {
#if defined(__GLIBC__) && defined(__linux__)
        auto* word = reinterpret_cast<std::atomic<int>*>(&m_.__data.__lock);
        static_assert(sizeof(std::atomic<int>) == sizeof(m_.__data.__lock));
        int seen = word->load();
        const int tid = seen & FUTEX_TID_MASK;
        if (tid == 0 || (seen & FUTEX_OWNER_DIED) != 0 || thread_exists(tid)) return;
        if (word->compare_exchange_strong(seen, FUTEX_OWNER_DIED | (seen & FUTEX_WAITERS)))
            ::syscall(SYS_futex, word, FUTEX_WAKE, 1, nullptr, nullptr, 0);
#endif
    }
    static bool thread_exists(int tid) {
        // /proc/<tid> exists for every thread of every process of this pid namespace.
        const std::string path = "/proc/" + std::to_string(tid);
        return ::access(path.c_str(), F_OK) == 0 || errno != ENOENT;
    }

    pthread_mutex_t m_;
};

/// A robust mutex held while it lives. An owner that died left nothing half done (the users
/// of this lock make every step idempotent), so the mutex is just made consistent again.
class robust_lock {
  public:
    explicit robust_lock(robust_mutex& m) : m_(m) {
        if (m_.lock() == robust_mutex::acquired::owner_died) m_.consistent();
    }
    /// Takes the mutex only if that needs no wait; owns() says whether it did.
    robust_lock(robust_mutex& m, std::try_to_lock_t) : m_(m) {
        const auto got = m_.try_lock();
        owns_ = got.has_value();
        if (got == robust_mutex::acquired::owner_died) m_.consistent();
    }
    ~robust_lock() {
        if (owns_) m_.unlock();
    }
    robust_lock(const robust_lock&) = delete;
    robust_lock& operator=(const robust_lock&) = delete;
    bool owns() const noexcept { return owns_; }

  private:
    robust_mutex& m_;
    bool owns_ = true;
};

/// Waits while `word` holds `seen`, at most `limit`, for a futex_wake_all on it from any
/// process (the word may live in a shared segment or a mapped file). False when the limit
/// passed; true when woken, when the word had changed already, or on a signal.
inline bool futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t seen,
                       std::chrono::milliseconds limit) noexcept {
    static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(limit).count();
    timespec rel{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    const long rc = ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT, seen,
                              &rel, nullptr, 0);
    return rc == 0 || errno != ETIMEDOUT;
}

/// Wakes every thread of every process in futex_wait on `word`.
inline void futex_wake_all(std::atomic<std::uint32_t>& word) noexcept {
    ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, INT32_MAX, nullptr,
              nullptr, 0);
}

}  // namespace detail
}  // namespace v1
}  // namespace mmry
