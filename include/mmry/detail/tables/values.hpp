#pragma once
// What the store's tables hold besides records (docs/DECISIONS.md §11.3): chunk slots,
// dictionary slots and the store's exact counters.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <mmry/detail/describe.hpp>
#include <mmry/format/manifest.hpp>
#include <mmry/handle.hpp>

namespace mmry {
inline namespace v1 {
namespace detail {

inline constexpr std::size_t size_classes = 48;  // records of < 2^k bytes, k = 0..47
inline constexpr std::size_t level_slots = 256;  // frames by the signed level byte of their entry

/// What a chunk holds: bytes of values, or a piece of a manifest (format/manifest.hpp).
enum class chunk_kind : std::uint8_t { data = 0, piece = 1 };

/// A distinct chunk of folded values, filed under its reference (the first 16 bytes of its id):
/// its whole id, its record, what it holds, and how many manifest entries (of records or of
/// pieces) refer to it.
struct chunk_slot {
    record_ref ref;
    std::uint64_t refs = 0;
    format::hash_bytes id{};
    chunk_kind kind = chunk_kind::data;
};

/// A trained dictionary: its record and the records using it.
struct dictionary_slot {
    std::uint32_t id = 0;
    std::uint64_t bytes = 0;
    record_ref ref;
    std::uint64_t records = 0;
};

/// A record, chunk or damaged entry that repair took out of the store (mmry/repair.hpp): its
/// record stays in its pages (none for an entry) until the user drops it.
struct quarantine_slot {
    std::uint64_t id = 0;
    std::uint8_t kind = 0;  ///< quarantined::kind
    bool kept = false;      ///< `ref` names the record's bytes
    record_ref ref;
    std::uint64_t when_ns = 0;
    std::string name, reason;
};

/// The key a dictionary's record is stored under.
inline std::string dictionary_key(std::uint32_t id) {
    return "mmry.dictionary/" + std::to_string(id);
}

/// A chunk's name in messages: the first 8 bytes of its reference, in hex.
inline std::string chunk_name(const format::chunk_reference& ref) {
    return hex(std::span<const std::byte>(ref).first(8));
}

/// The store's exact counters, and its dictionaries.
struct store_counters {
    std::uint64_t logical_bytes = 0, stored_bytes = 0, frames = 0, compressed_frames = 0;
    std::uint64_t puts = 0, erases = 0;
    std::uint64_t records = 0;  ///< records kept (a record filed under several stored keys: one)
    std::uint64_t folded_values = 0, folded_logical = 0;  ///< records holding a manifest
    std::uint64_t chunk_refs = 0, chunk_logical = 0, chunk_stored = 0, pieces = 0;
    std::uint64_t dictionary_stored = 0;
    std::uint64_t payload_bytes = 0;  ///< frames' stored bytes, of records and chunks
    std::array<std::uint64_t, size_classes> class_blocks{}, class_bytes{};
    std::array<std::uint64_t, level_slots> level_frames{};
    std::vector<dictionary_slot> dictionaries;
    std::vector<quarantine_slot> quarantine;  ///< written only when not empty
};

}  // namespace detail
}  // namespace v1
}  // namespace mmry
