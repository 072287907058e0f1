#pragma once
// What every arena is made with: its first segment's size, its ceiling and its access mode.

#include <cstddef>

namespace mmry {
inline namespace v1 {
namespace detail {

struct arena_params {
    std::size_t capacity = std::size_t{64} << 20;  ///< bytes of segment 0
    std::size_t max_size = 0;                      ///< ceiling on all segments (0: none)
    unsigned mode = 0600;                          ///< permissions of segments (shared arenas)
};

}  // namespace detail
}  // namespace v1
}  // namespace mmry
