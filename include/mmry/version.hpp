#pragma once
// Library version. The inline namespace `v1` is part of every mangled name, so two builds whose
// shared-memory layouts differ can never be linked together silently.

#define MMRY_VERSION_MAJOR 0
#define MMRY_VERSION_MINOR 1
#define MMRY_VERSION_PATCH 0
#define MMRY_VERSION_STRING "0.1.0"

namespace mmry {
inline namespace v1 {

/// The version of the record format this build writes and reads (see docs/FORMAT.md).
inline constexpr unsigned format_version = 3;

/// The version of the store format: the store header and how the store keeps its tables. 4:
/// index::hashed is an open-addressing table. 5: the root records the block a writer is copying
/// into. 6: every table and record on copy-on-write pages (docs/DECISIONS.md §11); a store of
/// an earlier format is refused, and `mmry dump` of the build that wrote it, `mmry load` into
/// this one, is the way across. 7: small records in their index entries, entries bound to their
/// records. 8: a bucket of the hashed index keeps a slot (fingerprint, offset) per entry. 9: the
/// meta names the runs writers staged for large records they copy in without the writer lock.
inline constexpr unsigned store_format_version = 9;

}  // namespace v1
}  // namespace mmry
