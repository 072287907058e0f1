#pragma once
// index::ordered: stored key -> record in key order, in a copy-on-write B+tree of pages
// (detail/pages/tree_index.hpp): lookups in O(log n), prefix and range listings in key order
// that read only the leaves they yield.

#include <cstdint>
#include <string_view>

#include <mmry/concepts.hpp>
#include <mmry/detail/pages/tree_index.hpp>

namespace mmry {
inline namespace v1 {
namespace index {

struct ordered {
    static constexpr std::uint8_t id = 2;
    static constexpr std::string_view name = "ordered";
    static constexpr bool sorted = true;
    using table = detail::pages::tree_index;
};

}  // namespace index

static_assert(index_policy<index::ordered>);

}  // namespace v1
}  // namespace mmry
