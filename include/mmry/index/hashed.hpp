#pragma once
// index::hashed: stored key -> record by extendible hashing over copy-on-write pages
// (detail/pages/hash_index.hpp): a lookup reads one to three directory pages and one bucket, a
// put copies the bucket it changes. Keys are hashed under a random seed of each store.
//
// Listing a prefix reads every entry (O(n)) and yields entries in no particular order; use
// index::ordered when prefix and range listings are frequent.

#include <cstdint>
#include <string_view>

#include <mmry/concepts.hpp>
#include <mmry/detail/pages/hash_index.hpp>

namespace mmry {
inline namespace v1 {
namespace index {

struct hashed {
    static constexpr std::uint8_t id = 1;
    static constexpr std::string_view name = "hashed";
    static constexpr bool sorted = false;
    using table = detail::pages::hash_index;
};

}  // namespace index

static_assert(index_policy<index::hashed>);

}  // namespace v1
}  // namespace mmry
