#pragma once
// path::multi<E, P...>: each put filed under the stored key of every layout P at once, e.g.
// multi<exists::any, latest, versioned, temporal>. The record is stored once; each stored key
// refers to it, and it is freed when the last one goes. A version counts as present by the
// existence strategy E: in any layout, in all of them, or in the first listed. get, contains,
// history and listings see only the versions present that way.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <mmry/concepts.hpp>
#include <mmry/path/input.hpp>

namespace mmry {
inline namespace v1 {
namespace path {

template <exists E, class... P>
requires(sizeof...(P) >= 1 && sizeof...(P) <= 8 && ((P::layouts == 1) && ...)) struct multi {
    static constexpr std::uint8_t id = 4;
    static constexpr std::string_view name = "multi";
    static constexpr bool history = true;
    static constexpr std::size_t layouts = sizeof...(P);
    static constexpr path::exists existence = E;
    static void stored_key(std::size_t layout, const input& in, std::string& out) {
        using fn = void (*)(std::size_t, const input&, std::string&);
        static constexpr std::array<fn, sizeof...(P)> each = {&P::stored_key...};
        each[layout](0, in, out);
    }
};

}  // namespace path
}  // namespace v1
}  // namespace mmry
