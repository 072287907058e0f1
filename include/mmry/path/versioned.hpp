#pragma once
// path::versioned: every put is a new version, filed under Prefix + version + Suffix + key
// ("v1/doc", "v2/doc", ...). get(key) is the latest version, get(key, version{n}) version n,
// history(key) all of them. KeepLast > 0 keeps only the newest KeepLast versions of a key (older
// ones are erased by the put that passes the count).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <mmry/concepts.hpp>
#include <mmry/path/input.hpp>

namespace mmry {
inline namespace v1 {
namespace path {

template <fixed_string Prefix = "v", fixed_string Suffix = "/", std::size_t KeepLast = 0>
struct versioned_with {
    static constexpr std::uint8_t id = 1;
    static constexpr std::string_view name = "versioned";
    static constexpr bool history = true;
    static constexpr std::size_t layouts = 1;
    static constexpr path::exists existence = path::exists::first;
    static constexpr std::size_t keep_last = KeepLast;
    static void stored_key(std::size_t, const input& in, std::string& out) {
        out.assign(Prefix.view());
        out += std::to_string(in.version);
        out += Suffix.view();
        out += in.key;
    }
};

/// Every version kept, stored as "v<n>/<key>".
using versioned = versioned_with<>;

}  // namespace path

static_assert(path_policy<path::versioned>);
}  // namespace v1
}  // namespace mmry
