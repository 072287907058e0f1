#pragma once
// What an arena reports about its segments.

#include <cstddef>
#include <cstdint>

#include <mmry/version.hpp>

namespace mmry {
inline namespace v1 {

struct arena_stats {
    std::size_t segments = 0;          ///< segments mapped
    std::uint64_t reserved_bytes = 0;  ///< bytes of all segments together
    std::uint64_t free_bytes = 0;      ///< of those, bytes the block allocator can still hand out
    std::uint64_t blocks = 0;          ///< blocks currently allocated
    std::uint64_t limit_bytes = 0;     ///< the ceiling on reserved_bytes (0: none)
};

}  // namespace v1
}  // namespace mmry
