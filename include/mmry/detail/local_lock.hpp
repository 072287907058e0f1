#pragma once
// The lock of a store that lives in one process: a writer-first shared mutex, with the same
// surface as process_lock (update brackets and the recovery check are no-ops: a thread cannot die
// alone in the middle of an update without taking its process with it).

#include <string>

#include <mmry/arena/stats.hpp>
#include <mmry/detail/writer_first_mutex.hpp>

namespace mmry {
inline namespace v1 {
namespace detail {

/// What a heap arena offers in place of a shared lock block.
struct no_lock_block {};

class local_lock {
  public:
    local_lock(no_lock_block&, const std::string&) {}

    void lock() { m_.lock(); }
    void unlock() { m_.unlock(); }
    void lock_shared() { m_.lock_shared(); }
    void unlock_shared() { m_.unlock_shared(); }
    void begin_update() noexcept {}
    void end_update() noexcept {}
    void check_recovery() const noexcept {}
    /// This store object only: the table of a shared store is what other processes add.
    reader_stats readers() const noexcept { return {1, 0, false}; }

  private:
    writer_first_mutex m_;
};

}  // namespace detail
}  // namespace v1
}  // namespace mmry
