#pragma once
// What the store tells about one entry (metadata) and about itself (store_stats), read from record
// heads and counters: nothing here decompresses or decrypts a value.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <mmry/arena/stats.hpp>
#include <mmry/detail/value_cache.hpp>
#include <mmry/versions.hpp>

namespace mmry {
inline namespace v1 {

/// How a record's content hash was computed.
enum class hash_kind : std::uint8_t {
    none = 0,         ///< not hashed (options.content_hash was false)
    sha256 = 1,       ///< SHA-256 of the value: a store without a cipher
    hmac_sha256 = 2,  ///< HMAC-SHA256 under a key derived from the store's key: encrypted stores
};

struct metadata {
    std::uint64_t logical_size = 0;  ///< bytes of the value
    std::uint64_t stored_size = 0;   ///< bytes of its record: head, key, frame table, frames
    bool compressed = false;         ///< at least one frame is stored compressed
    bool encrypted = false;          ///< frames are sealed by the store's cipher
    std::string_view compressor;     ///< the codec of compressed frames, e.g. "zstd" (static text)
    std::string_view cipher;         ///< the cipher that sealed the frames, e.g. "aes256_gcm"
    std::uint32_t frames = 0;        ///< frames the value is cut into
    std::uint32_t compressed_frames = 0;
    std::uint32_t frame_size = 0;  ///< logical bytes per frame (the last may hold fewer)
    /// The value is folded (fold::cdc): its record holds a manifest of `chunks` shared chunks, and
    /// frames / compressed_frames / stored_size describe the manifest, not the chunks.
    bool folded = false;
    std::uint32_t chunks = 0;      ///< chunks of the value (folded values only)
    std::uint32_t dictionary = 0;  ///< the dictionary its frames were compressed with (0: none)
    std::uint64_t seq = 0;         ///< the store's write sequence number of this record
    std::chrono::system_clock::time_point created;   ///< when the key was first put
    std::chrono::system_clock::time_point modified;  ///< when this value was put
    mmry::version version{};           ///< 1 for the key's first put, then one more per put
    mmry::version previous_version{};  ///< the version this one followed (0: the first)
    mmry::hash_kind hash_kind = mmry::hash_kind::none;
    std::array<std::byte, 32> content_hash{};  ///< of the value (see hash_kind)
    /// hash(previous version's chain hash, content hash, version, previous version, key): equal
    /// chain hashes mean equal histories up to this version.
    std::array<std::byte, 32> chain_hash{};
    std::string content_type;
    std::vector<std::string> tags;
    std::vector<std::pair<std::string, std::string>> attributes;

    bool has_tag(std::string_view tag) const {
        return std::find(tags.begin(), tags.end(), tag) != tags.end();
    }
    /// The value of attribute `name`, or nullopt.
    std::optional<std::string_view> attribute(std::string_view name) const {
        for (const auto& [k, v] : attributes)
            if (k == name) return std::string_view(v);
        return std::nullopt;
    }
};

/// An entry as a listing yields it: the logical key (or, from stored(), the stored key).
struct entry {
    std::string key;
    mmry::metadata meta;
};

/// The records of one size class: blocks of min_bytes..max_bytes.
struct size_class_stats {
    std::uint64_t min_bytes = 0, max_bytes = 0;
    std::uint64_t blocks = 0;  ///< records in this class
    std::uint64_t bytes = 0;   ///< their bytes together
};

/// One trained dictionary of a store (train_dictionary).
struct dictionary_stats {
    std::uint32_t id = 0;
    std::uint64_t bytes = 0;         ///< the dictionary's size
    std::uint64_t stored_bytes = 0;  ///< its record's size (part of store_stats::stored_bytes)
    std::uint64_t records = 0;       ///< records and chunks compressed with it
    bool current = false;            ///< new values are compressed with it
};

/// Frames a compressor that tells its level (compress::adaptive, compress::zstd) compressed at
/// one level; level 0 counts the frames it left raw.
struct level_stats {
    int level = 0;
    std::uint64_t frames = 0;
};

/// Hits and misses of a process's cache of decoded values.
using cache_stats = detail::cache_stats;

/// What basic_store::verify() checked, and every problem it found (empty when the store is sound).
struct verify_report {
    std::uint64_t records = 0;          ///< records of values decoded and checked
    std::uint64_t chunks = 0;           ///< chunks decoded and checked against their ids
    std::uint64_t pieces = 0;           ///< manifest pieces decoded and checked against their ids
    std::uint64_t dictionaries = 0;     ///< dictionaries decoded and loaded
    std::vector<std::string> problems;  ///< each names what is wrong and where

    bool ok() const noexcept { return problems.empty(); }
};

/// Called by basic_store::verify with (checked so far, total): records, then chunks and pieces.
using verify_progress = std::function<void(std::uint64_t done, std::uint64_t total)>;

/// Store-wide counters, kept exactly on every put and erase (not sampled or estimated).
struct store_stats {
    std::uint64_t entries = 0;  ///< keys (logical keys)
    std::uint64_t records = 0;  ///< records kept: one per kept version (however many stored keys)
    std::uint64_t logical_bytes = 0;  ///< bytes of all values (every kept version)
    /// Bytes after folding: of the values that are not folded, plus of each distinct chunk once.
    std::uint64_t folded_bytes = 0;
    /// Bytes of all records: values' records, chunks' records and dictionaries.
    std::uint64_t stored_bytes = 0;
    std::uint64_t folded_values = 0;  ///< records that hold a chunk manifest
    std::uint64_t chunks = 0;         ///< distinct chunks of values kept
    std::uint64_t pieces = 0;         ///< distinct pieces of manifests kept (values of > 64 chunks)
    /// References held in the chunk table: by manifests to their chunks or pieces, and by each
    /// distinct piece to its chunks.
    std::uint64_t chunk_refs = 0;
    std::uint64_t chunk_bytes = 0;         ///< logical bytes of the distinct chunks
    std::uint64_t chunk_stored_bytes = 0;  ///< bytes of the records of chunks and pieces
    /// Bytes of the frames alone (compressed or raw, with their tags), of values and chunks:
    /// stored_bytes less heads, keys, meta sections, frame tables and dictionaries.
    std::uint64_t payload_bytes = 0;
    std::vector<dictionary_stats> dictionaries;
    std::vector<level_stats> levels;  ///< frames by compression level, non-empty levels only
    std::uint64_t frames = 0;
    std::uint64_t compressed_frames = 0;
    std::uint64_t puts = 0;  ///< puts and imports since the store was created
    std::uint64_t erases = 0;
    std::vector<size_class_stats> size_classes;  ///< records by size, non-empty classes only
    arena_stats arena;
    reader_stats readers;  ///< who has the store open and who reads it now
    /// Writers that found the writer lock held by a dead process and took it back (nothing
    /// else is needed: the last commit is whole), and the time that took in all.
    std::uint64_t recoveries = 0;
    std::chrono::nanoseconds recovery_time{0};
    /// Runs of pages that writers which died while copying a large record in (outside the
    /// writer lock) left staged, freed by a later writer.
    std::uint64_t staged_reclaimed = 0;
    /// The last commit known to be on disk (durability above none; 0 otherwise), and the
    /// checkpoints made since the store was created or last rebooted (segments written back and
    /// the durable file updated: a flush, or, with durability::sync, the journal passing its
    /// limit).
    std::uint64_t durable_txn = 0;
    std::uint64_t flushes = 0;
    /// durability::sync: the journal's bytes since the last checkpoint; its syncs (one covers
    /// every commit appended before it, so concurrent writers make fewer syncs than commits);
    /// entries replayed after power cuts, and entries dropped because an entry before them was
    /// damaged or cut short (one for a commit a power cut interrupted; more means synced
    /// commits were lost).
    std::uint64_t journal_bytes = 0;
    std::uint64_t journal_syncs = 0;
    std::uint64_t journal_replayed = 0;
    std::uint64_t journal_dropped = 0;
    cache_stats cache;  ///< this process's cache

    /// logical_bytes / stored_bytes: above 1 when the store saves space (0 when empty).
    double ratio() const noexcept { return quotient(logical_bytes, stored_bytes); }
    /// logical_bytes / folded_bytes: what folding saved (1 without repeats, 0 when empty).
    double dedup_ratio() const noexcept { return quotient(logical_bytes, folded_bytes); }
    /// folded_bytes / stored_bytes: what compression saved after folding, net of record overhead.
    double compression_ratio() const noexcept { return quotient(folded_bytes, stored_bytes); }

  private:
    static double quotient(std::uint64_t a, std::uint64_t b) noexcept {
        return b == 0 ? 0.0 : static_cast<double>(a) / static_cast<double>(b);
    }
};

}  // namespace v1
}  // namespace mmry
