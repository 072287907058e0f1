#pragma once
// What an arena reports about its segments.

#include <cstddef>
#include <cstdint>
#include <vector>

#include <mmry/version.hpp>

namespace mmry {
inline namespace v1 {

/// Who uses a store now, from its reader table (docs/LOCKING.md): what `mdb_stat -r` tells of an
/// LMDB environment. A heap store has one user, its process.
struct reader_stats {
    std::uint32_t readers = 0;  ///< open store objects, in live processes, this one included
    std::uint32_t reading = 0;  ///< of the others, those inside a read right now
    bool writing = false;       ///< a writer holds the store (or is waiting for readers to leave)
};

/// One size-class pool: blocks of block_size bytes handed out (used) or waiting for reuse (free).
struct pool_stats {
    std::uint64_t block_size = 0;
    std::uint64_t used = 0;
    std::uint64_t free = 0;
    /// used / (used + free): how much of the pool's memory holds records.
    double utilization() const noexcept {
        return used + free == 0 ? 0.0
                                : static_cast<double>(used) / static_cast<double>(used + free);
    }
};

struct arena_stats {
    std::size_t segments = 0;          ///< segments mapped
    std::uint64_t reserved_bytes = 0;  ///< bytes of all segments together
    std::uint64_t free_bytes = 0;   ///< of those, bytes free for new blocks (pooled ones included)
    std::uint64_t blocks = 0;       ///< blocks currently allocated
    std::uint64_t limit_bytes = 0;  ///< the ceiling on reserved_bytes (0: none)
    std::vector<pool_stats> pools;  ///< size-class pools in use (blocks up to 16 KiB)
    std::uint64_t pooled_free_bytes = 0;  ///< bytes of free pool blocks (reusable by their class)
    std::uint64_t large_blocks = 0;       ///< blocks over 16 KiB, from the best-fit allocator
    std::uint64_t large_bytes = 0;
};

}  // namespace v1
}  // namespace mmry
