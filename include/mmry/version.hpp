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

/// The version of the store format: the store header and the layout of segment 0 (the index and
/// counters a process maps in place). 4: index::hashed is an open-addressing table. 5: the root
/// records the block a writer is copying into, so that the next writer frees it if it died.
inline constexpr unsigned store_format_version = 5;

}  // namespace v1
}  // namespace mmry
