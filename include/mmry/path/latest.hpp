#pragma once
// path::latest: one current value per key; a put overwrites. The stored key is the logical key.

#include <cstdint>
#include <string_view>

#include <mmry/concepts.hpp>

namespace mmry {
inline namespace v1 {
namespace path {

struct latest {
    static constexpr std::uint8_t id = 0;
    static constexpr std::string_view name = "latest";
};

}  // namespace path

static_assert(path_policy<path::latest>);
}  // namespace v1
}  // namespace mmry
