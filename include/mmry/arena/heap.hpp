#pragma once
// arena::heap: the store's pages live in this process's anonymous memory (committed only when
// written), in segments of options.capacity bytes added as the store grows, up to max_size.
// Nothing outlives the store object.
//
// An arena policy says where a store's pages live (docs/DECISIONS.md §11): the store keeps
// every record and table on copy-on-write pages of its page store, whatever the arena.
// Thread-safety: that of the store.

#include <cstdint>
#include <string>
#include <string_view>

#include <mmry/concepts.hpp>
#include <mmry/detail/pages/page_segments.hpp>

namespace mmry {
inline namespace v1 {
namespace arena {

struct heap {
    static constexpr std::uint8_t id = 1;
    static constexpr std::string_view name = "heap";
    static constexpr bool shared = false;
    using backend = detail::pages::heap_backend;
    static void check_name(std::string_view) {}
};

}  // namespace arena

static_assert(arena_policy<arena::heap>);

}  // namespace v1
}  // namespace mmry
