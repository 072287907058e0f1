#pragma once
// cipher::none: values are not encrypted. Every frame then carries a CRC32C that also covers the
// frame's position (store, record, frame number), so corruption and misplaced frames are caught.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <mmry/concepts.hpp>

namespace mmry {
inline namespace v1 {
namespace cipher {

struct none {
    static constexpr std::uint8_t id = 0;
    static constexpr std::string_view name = "none";
    static constexpr std::size_t tag_size = 0;
};

}  // namespace cipher

static_assert(cipher_policy<cipher::none>);
}  // namespace v1
}  // namespace mmry
