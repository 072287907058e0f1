#pragma once
// Copying one store into another (mmry::copy, basic_store::copy_from): what to copy and how, and
// what was copied. The copy itself is defined with the store (detail/store_copy.hpp).
//
// A copy moves every key of a store of any composition (arena, index, codec, cipher, key, path,
// folding) into an empty store of any other, keeping what a user sees of each version: its
// number and the one it followed, its created and modified times, content type, tags and
// attributes. Values are decoded from the source and encoded again by the target (its
// compressor, cipher, key and dictionary): every record is bound to the store it was written in
// (its id is part of every frame's checksum or tag), so no record moves between two stores as it
// is. Sequence numbers, content and chain hashes are the target's own.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <mmry/versions.hpp>

namespace mmry {
inline namespace v1 {

/// What a copy did (also what copy_options::progress is shown after each batch).
struct copy_report {
    /// A version the copy left out: the source could not decode it (copy_options::skip_damaged).
    struct skipped_version {
        std::string key;
        mmry::version version;
        std::string error;  ///< the source's error, as its what() said it
    };
    std::uint64_t keys = 0;           ///< keys with at least one version copied
    std::uint64_t versions = 0;       ///< versions copied (each re-encoded by the target)
    std::uint64_t logical_bytes = 0;  ///< bytes of the values copied
    std::uint64_t batches = 0;        ///< write transactions of the target
    /// Older versions the source keeps and the target does not (a target whose path keeps no
    /// history takes each key's current version only).
    std::uint64_t versions_left = 0;
    std::vector<skipped_version> skipped;
};

/// How to copy.
struct copy_options {
    /// Values to collect before the target commits them in one write transaction (all or
    /// nothing, like a batch): larger batches commit less often, smaller ones hold less memory.
    /// A value larger than this is a batch of its own.
    std::uint64_t batch_bytes = 8u << 20;
    /// Keys that start with this (empty: every key).
    std::string prefix{};
    /// Versions the source cannot decode (a damaged record, a wrong key) are left out and listed
    /// in copy_report::skipped; by default the first one stops the copy with its error.
    bool skip_damaged = false;
    /// Called after each batch the target committed, with what was copied so far.
    std::function<void(const copy_report&)> progress{};
};

}  // namespace v1
}  // namespace mmry
