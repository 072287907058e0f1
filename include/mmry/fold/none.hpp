#pragma once
// fold::none: no deduplication; every value is framed, compressed and encrypted on its own.

#include <cstdint>
#include <string_view>

#include <mmry/concepts.hpp>

namespace mmry {
inline namespace v1 {
namespace fold {

struct none {
    static constexpr std::uint8_t id = 0;
    static constexpr std::string_view name = "none";
};

}  // namespace fold

static_assert(fold_policy<fold::none>);
}  // namespace v1
}  // namespace mmry
