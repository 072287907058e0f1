#pragma once
// What a store reports about its segments and who uses it.

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

/// What a store's pages hold (4 KiB pages in segments of options.capacity bytes).
struct arena_stats {
    std::size_t segments = 0;          ///< segments made
    std::uint64_t reserved_bytes = 0;  ///< bytes of all segments together
    std::uint64_t free_bytes = 0;      ///< of those, bytes of pages that hold nothing
    std::uint64_t blocks = 0;          ///< pages in use: control area, tables and records
    std::uint64_t limit_bytes = 0;     ///< the ceiling on reserved_bytes (0: none)
};

}  // namespace v1
}  // namespace mmry
