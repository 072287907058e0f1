#pragma once
// path::custom<F>: a function of the user's computes the stored key of each write. F is a
// default-constructible callable `std::string(const path::input&)`; it must give different
// logical keys different stored keys (append the key, as path::sharded does), and may use the
// version, the time and the content hash. Writes that get the same stored key replace each other,
// as in path::latest; writes that get different ones are kept as versions, as in path::versioned.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <mmry/concepts.hpp>
#include <mmry/path/input.hpp>

namespace mmry {
inline namespace v1 {
namespace path {

template <class F>
requires std::default_initializable<F> && std::invocable<const F&, const input&>
struct custom {
    static constexpr std::uint8_t id = 3;
    static constexpr std::string_view name = "custom";
    static constexpr bool history = true;
    static constexpr std::size_t layouts = 1;
    static constexpr path::exists existence = path::exists::first;
    static void stored_key(std::size_t, const input& in, std::string& out) {
        out = std::string(F{}(in));
    }
};

}  // namespace path
}  // namespace v1
}  // namespace mmry
