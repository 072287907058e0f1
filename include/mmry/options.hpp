#pragma once
// options: how a store is created or opened.

#include <chrono>
#include <cstddef>
#include <functional>

#include <mmry/bytes.hpp>
#include <mmry/key.hpp>

namespace mmry {
inline namespace v1 {

struct options {
    /// Bytes of the first segment. Not a ceiling: the store adds segments as it fills.
    std::size_t capacity = std::size_t{64} << 20;
    /// The ceiling on all segments together; 0 for none. A put that would pass it fails with
    /// errc::limit_exceeded and changes nothing.
    std::size_t max_size = 0;
    /// The key to encrypt under: required when the cipher is not cipher::none, refused otherwise.
    mmry::key key{};
    /// Logical bytes per frame (64 B to 64 MiB). read() decodes whole frames, so smaller frames
    /// make small range reads cheaper and compress a little worse.
    std::size_t frame_size = std::size_t{64} << 10;
    /// The clock that stamps created/modified times; the system clock when empty (tests inject
    /// one).
    std::function<std::chrono::system_clock::time_point()> clock{};
};

}  // namespace v1
}  // namespace mmry
