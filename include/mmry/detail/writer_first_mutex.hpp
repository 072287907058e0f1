#pragma once
// A shared mutex that lets a waiting writer in before new readers.
//
// std::shared_mutex is a pthread rwlock, which on glibc prefers readers: while readers keep
// overlapping, a writer waits forever. Here a writer announces itself first; readers that arrive
// after that wait until it has had its turn, so a writer waits at most for the readers already in.
// Meets the SharedMutex requirements (use with std::unique_lock and std::shared_lock).
// Not recursive: a thread holding a shared lock must not take another one.

#include <atomic>
#include <cstdint>
#include <shared_mutex>

namespace mmry {
inline namespace v1 {
namespace detail {

class writer_first_mutex {
  public:
    void lock() {
        writers_.fetch_add(1, std::memory_order_seq_cst);
        mutex_.lock();
        writers_.fetch_sub(1, std::memory_order_seq_cst);
        writers_.notify_all();
    }
    bool try_lock() { return mutex_.try_lock(); }
    void unlock() { mutex_.unlock(); }

    void lock_shared() {
        for (std::uint32_t w = writers_.load(); w != 0; w = writers_.load()) writers_.wait(w);
        mutex_.lock_shared();
    }
    bool try_lock_shared() { return writers_.load() == 0 && mutex_.try_lock_shared(); }
    void unlock_shared() { mutex_.unlock_shared(); }

  private:
    std::shared_mutex mutex_;
    std::atomic<std::uint32_t> writers_{0};  // writers waiting for mutex_
};

}  // namespace detail
}  // namespace v1
}  // namespace mmry
