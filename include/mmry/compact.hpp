#pragma once
// What compaction (basic_store::compact) takes and reports. Compaction moves the records and
// table pages that lie at the end of a store into its free pages nearer the start, then gives
// what lies past the last page in use back to the system: segment files and shared memory
// objects past it shrink to nothing, and the rest of the segment it ends in becomes a hole.
// docs/DECISIONS.md §13 says how, and what it costs.

#include <chrono>
#include <cstdint>

namespace mmry {
inline namespace v1 {

/// How to compact.
struct compact_options {
    /// How long compaction waits for readers (in any process) that still read a state from
    /// before it moved the records: the pages they can reach are given back only once they are
    /// done. Past this, compaction returns with what it could give back (a later compact() or
    /// the next writer reuses the rest).
    std::chrono::milliseconds wait{10'000};
};

/// What compact() did. Sizes in bytes; "pages" are the store's 4 KiB pages.
struct compact_report {
    std::uint64_t records_moved = 0;  ///< records (values, chunks, dictionaries) copied
    std::uint64_t live_bytes = 0;     ///< what the state reaches: tables, records, control area
    std::uint64_t size_before = 0;    ///< the store's pages (its high-water mark) before
    std::uint64_t size_after = 0;     ///< and after
    std::uint64_t held_before = 0;    ///< bytes the segment objects held (on disk or in memory)
    std::uint64_t held_after = 0;     ///< and hold now
    std::chrono::nanoseconds time{};
};

}  // namespace v1
}  // namespace mmry
