#pragma once
// handle: names a block of an arena as {segment, offset}, never as a pointer, so that a store can
// grow by adding segments and every process may map a segment at its own address.

#include <cstdint>

#include <mmry/version.hpp>

namespace mmry {
inline namespace v1 {

/// A block of an arena: segment number (16 bits) and byte offset in that segment (48 bits),
/// packed in one 64-bit word so that it can be stored and swapped atomically.
class handle {
  public:
    static constexpr unsigned offset_bits = 48;
    static constexpr std::uint64_t max_segments = std::uint64_t{1} << 16;
    static constexpr std::uint64_t max_offset = (std::uint64_t{1} << offset_bits) - 1;

    constexpr handle() = default;
    constexpr handle(std::uint32_t segment, std::uint64_t offset) noexcept
        : raw_((std::uint64_t{segment} << offset_bits) | (offset & max_offset)) {}

    static constexpr handle from_raw(std::uint64_t raw) noexcept {
        handle h;
        h.raw_ = raw;
        return h;
    }
    constexpr std::uint64_t raw() const noexcept { return raw_; }
    constexpr std::uint32_t segment() const noexcept {
        return static_cast<std::uint32_t>(raw_ >> offset_bits);
    }
    constexpr std::uint64_t offset() const noexcept { return raw_ & max_offset; }
    friend constexpr bool operator==(handle, handle) = default;

  private:
    std::uint64_t raw_ = 0;
};

/// Where a record lives and how many bytes it has: what an index maps a stored key to. Also what
/// the record adds to the store's counters, so that they stay exact when a record damaged since it
/// was written is erased or replaced.
struct record_ref {
    handle where;
    std::uint64_t size = 0;
    std::uint64_t logical_size = 0;
    std::uint32_t frames = 0;
    std::uint32_t compressed_frames = 0;
    /// The sequence number of the record it names (the record's header holds it too): a record
    /// put back from an older state, or a reference left stale by damage, names another. 0 for
    /// a record kept in its index entry (which holds the record itself).
    std::uint64_t seq = 0;
    /// In an encrypted store, a MAC under a key of the store over the record's key and sequence
    /// number (0 otherwise): who lacks the key cannot make an entry name an older record.
    std::uint64_t binding = 0;
    friend constexpr bool operator==(const record_ref&, const record_ref&) = default;
};

}  // namespace v1
}  // namespace mmry
