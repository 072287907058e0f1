#pragma once
// What a path policy computes a stored key from, and the pieces path policies share.
//
// A path policy maps one write of a logical key (its version, its time, its content hash) to the
// stored keys the record is filed under: one per layout (several for path::multi). The store
// keeps the versions of each logical key, and checks on every read that a record filed under a
// stored key is the write that stored key was computed from.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mmry {
inline namespace v1 {
namespace path {

/// One write, as a path policy sees it.
struct input {
    std::string_view key;                      ///< the logical key
    std::uint64_t version = 0;                 ///< 1, 2, ... per key
    std::int64_t time_ns = 0;                  ///< the write's time, ns since the Unix epoch
    std::array<std::byte, 32> content_hash{};  ///< see metadata::hash_kind (zero: none)
};

/// Which layouts of a path::multi must hold a version for the key to have it.
enum class exists {
    any,    ///< at least one layout
    all,    ///< every layout
    first,  ///< the first layout listed
};

/// A string usable as a template argument: path::versioned_with<"ver-", ":">.
template <std::size_t N>
struct fixed_string {
    char chars[N]{};
    constexpr fixed_string(const char (&s)[N]) { std::copy_n(s, N, chars); }
    constexpr std::string_view view() const { return {chars, N - 1}; }
};

}  // namespace path
}  // namespace v1
}  // namespace mmry
