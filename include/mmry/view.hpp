#pragma once
// value_view: zero-copy access to a value stored raw (compress::none, cipher::none), as returned
// by basic_store::view(). The bytes are the record's own bytes in the arena, checked against their
// checksums when the view was made, and pinned by a read lock: no writer can change or free them
// while the view lives. Hold views briefly: writers (in every process) wait for them.
// Thread-safety: a view belongs to the thread that made it (it holds that thread's read lock).

#include <cstddef>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string_view>
#include <utility>

#include <mmry/bytes.hpp>

namespace mmry {
inline namespace v1 {

template <class Lock>
class value_view {
  public:
    value_view(std::shared_lock<Lock> guard, byte_view bytes) noexcept
        : guard_(std::move(guard)), bytes_(bytes) {}

    byte_view bytes() const noexcept { return bytes_; }
    std::string_view chars() const noexcept { return as_chars(bytes_); }
    std::size_t size() const noexcept { return bytes_.size(); }
    const std::byte* data() const noexcept { return bytes_.data(); }
    auto begin() const noexcept { return bytes_.begin(); }
    auto end() const noexcept { return bytes_.end(); }

  private:
    std::shared_lock<Lock> guard_;
    byte_view bytes_;
};

}  // namespace v1
}  // namespace mmry
