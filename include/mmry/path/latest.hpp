#pragma once
// path::latest: one current value per key; a put overwrites. The stored key is the logical key.

#include <cstdint>
#include <string_view>

namespace mmry {
inline namespace v1 {
namespace path {

struct latest {
    static constexpr std::uint8_t id = 0;
    static constexpr std::string_view name = "latest";
};

}  // namespace path
}  // namespace v1
}  // namespace mmry
