#pragma once
// Naming versions and choosing which to keep: mmry::version{n} picks version n of a key in get,
// read, metadata, erase and rollback, and is what put, rollback and metadata give back;
// mmry::retention says which versions prune() keeps.

#include <chrono>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>

namespace mmry {
inline namespace v1 {

/// Version n of a key: 1 for its first put, then one more per put (or as set_version sets it);
/// 0 names no version (metadata::previous_version of a first version).
///
/// One type for version numbers in and out of the store: made from an integer only explicitly
/// (`mmry::version{3}`), compared only with another version (`v == mmry::version{3}`, not
/// `v == 3`), and read back with `.number`. Streams as its number; hashable.
struct version {
    std::uint64_t number = 0;

    constexpr version() noexcept = default;
    constexpr explicit version(std::uint64_t n) noexcept : number(n) {}

    friend constexpr bool operator==(version, version) noexcept = default;
    friend constexpr std::strong_ordering operator<=>(version, version) noexcept = default;

    /// Writes the number alone, e.g. `3`.
    template <class Char, class CharTraits>
    friend std::basic_ostream<Char, CharTraits>& operator<<(
        std::basic_ostream<Char, CharTraits>& os, version v) {
        return os << v.number;
    }
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

template <>
struct std::hash<mmry::v1::version> {
    std::size_t operator()(mmry::v1::version v) const noexcept {
        return std::hash<std::uint64_t>{}(v.number);
    }
};
