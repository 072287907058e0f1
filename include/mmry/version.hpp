#pragma once
// Library version. The inline namespace `v1` is part of every mangled name, so two builds whose
// shared-memory layouts differ can never be linked together silently.

#define MMRY_VERSION_MAJOR 0
#define MMRY_VERSION_MINOR 1
#define MMRY_VERSION_PATCH 0
#define MMRY_VERSION_STRING "0.1.0"

namespace mmry {
inline namespace v1 {

/// The version of the record and store formats this build writes (see docs/FORMAT.md).
inline constexpr unsigned format_version = 3;

}  // namespace v1
}  // namespace mmry
