#pragma once
// A process-shared, robust pthread mutex that can live in a shared segment or a mapped file.
//
// When its owner dies (any process, any instant), the next locker gets `owner_died` instead of
// blocking forever, decides whether the protected state is still consistent, and calls
// consistent(). Boost 1.74's interprocess mutexes are not robust, hence this.
// A mutex found in a mapped file after a reboot may name an owner of the previous boot that the
// kernel will never mark dead: the store re-initializes it when the boot id changes.

#include <pthread.h>

#include <cerrno>
#include <cstring>
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

    acquired lock() {
        const int rc = pthread_mutex_lock(&m_);
        if (rc == 0) return acquired::clean;
        if (rc == EOWNERDEAD) return acquired::owner_died;
        throw error(rc == ENOTRECOVERABLE ? errc::needs_recovery : errc::io_error,
                    std::string("locking the store's writer mutex: ") + std::strerror(rc));
    }

    /// Marks the state consistent again after `owner_died`; the mutex stays usable.
    void consistent() { pthread_mutex_consistent(&m_); }
    void unlock() { pthread_mutex_unlock(&m_); }

  private:
    pthread_mutex_t m_;
};

}  // namespace detail
}  // namespace v1
}  // namespace mmry
