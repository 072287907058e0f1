#pragma once
// value_view: zero-copy access to a value stored raw (compress::none, cipher::none), as returned
// by basic_store::view(). The bytes are the record's own bytes in the store's pages, checked
// against their checksums when the view was made, and pinned: no writer reuses those pages while
// the view lives. Writers never wait for a view, but a view held for long keeps every page freed
// since it was made from reuse, so the store grows meanwhile.
// Thread-safety: a view may be read and dropped on any thread.

#include <cstddef>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string_view>
#include <utility>

#include <mmry/bytes.hpp>

namespace mmry {
inline namespace v1 {

template <class Guard>
class value_view {
  public:
    value_view(Guard guard, byte_view bytes) noexcept : guard_(std::move(guard)), bytes_(bytes) {}

    byte_view bytes() const noexcept { return bytes_; }
    std::string_view chars() const noexcept { return as_chars(bytes_); }
    std::size_t size() const noexcept { return bytes_.size(); }
    const std::byte* data() const noexcept { return bytes_.data(); }
    auto begin() const noexcept { return bytes_.begin(); }
    auto end() const noexcept { return bytes_.end(); }

  private:
    Guard guard_;
    byte_view bytes_;
};

}  // namespace v1
}  // namespace mmry
