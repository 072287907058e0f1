#pragma once
// path::latest: one current value per key; a put overwrites. The stored key is the logical key.
// The store keeps no older versions (metadata still counts versions and chains their hashes).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <mmry/concepts.hpp>
#include <mmry/path/input.hpp>

namespace mmry {
inline namespace v1 {
namespace path {

struct latest {
    static constexpr std::uint8_t id = 0;
    static constexpr std::string_view name = "latest";
    static constexpr bool history = false;
    static constexpr std::size_t layouts = 1;
    static constexpr path::exists existence = path::exists::first;
    static void stored_key(std::size_t, const input& in, std::string& out) { out.assign(in.key); }
};

}  // namespace path

static_assert(path_policy<path::latest>);
}  // namespace v1
}  // namespace mmry
