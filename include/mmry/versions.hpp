#pragma once
// Naming versions and choosing which to keep: mmry::version{n} picks version n of a key in get,
// read, metadata, erase and rollback; mmry::retention says which versions prune() keeps.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace mmry {
inline namespace v1 {

/// Version n of a key: 1 for its first put, then one more per put (or as set_version sets it).
struct version {
    std::uint64_t number = 0;
};

/// Which versions prune() keeps: the newest keep_last ones (0: no count rule) and those written
/// after newer_than (when set). A version either rule keeps stays; the latest version always
/// stays; with no rule at all, everything stays.
struct retention {
    std::size_t keep_last = 0;
    std::optional<std::chrono::system_clock::time_point> newer_than{};
};

}  // namespace v1
}  // namespace mmry
