#pragma once
// options: how a store is created or opened.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>

#include <mmry/bytes.hpp>
#include <mmry/key.hpp>

namespace mmry {
inline namespace v1 {

/// What options.on_usage is told when a store's use of its max_size first reaches 75, 85 or 95 %.
struct usage_alert {
    unsigned percent = 0;           ///< the threshold reached: 75, 85 or 95
    std::uint64_t used_bytes = 0;   ///< bytes of the arena's segments in use
    std::uint64_t limit_bytes = 0;  ///< the store's max_size
};

/// What a commit promises across a power cut (docs/DURABILITY.md). Every level survives the
/// death of any process: a writer killed at any instruction costs at most its own write. Only a
/// mapped-file store has a disk to promise anything on; heap and shared-memory stores keep
/// `none` whatever is asked.
enum class durability : std::uint32_t {
    none = 0,      ///< nothing is flushed: after a power cut the store may be at any older state
    periodic = 1,  ///< a background flush every flush_interval: a power cut loses at most that
    sync = 2,      ///< put, erase and write(batch) return once on disk (one flush for all waiting)
};

struct options {
    /// Bytes of each segment (rounded up to 4 KiB, at least 64 KiB): the store adds segments as it
    /// fills, up to max_size. A larger segment means fewer mappings; the pages of a segment are
    /// committed only when written (heap, shared memory) or reserved on disk (mapped file).
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
    /// Bytes of decoded values each process keeps to answer repeated gets (LRU); 0 disables it.
    /// A cached value is served only while it is the store's current value for its key.
    std::size_t cache_bytes = std::size_t{64} << 20;
    /// Whether puts record a content hash of each value (SHA-256, or HMAC-SHA256 in an encrypted
    /// store; see metadata::hash_kind) and chain it to the previous version's. Costs one pass of
    /// SHA-256 over each value (about 1.3 GB/s with SHA extensions).
    bool content_hash = true;
    /// Permissions of a shared store's segments (a mapped-file store's directory gets x bits too).
    unsigned mode = 0600;
    /// Fixed when the store is created (the opener's are not used).
    mmry::durability durability = mmry::durability::none;
    std::chrono::milliseconds flush_interval{1000};  ///< of durability::periodic
    /// Called, outside any lock, by the process whose put takes the store's use past 75, 85 or
    /// 95 % of max_size (each threshold once, and again after use has fallen below it).
    std::function<void(const usage_alert&)> on_usage{};
};

}  // namespace v1
}  // namespace mmry
