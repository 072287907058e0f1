#pragma once
// The names of mmry's built-in policies by role and id, as store headers and records keep them:
// what lets an error, or a tool without the composition's types, name a store's policies.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mmry {
inline namespace v1 {
namespace format {

/// The name of built-in policy `id` in role `role` (0 arena, 1 index, 2 compressor, 3 cipher,
/// 4 path, 5 fold: the order of fingerprint::roles), e.g.
/// "zstd" for (2, 1); ids 128-255 are users' own policies and ids mmry does not define have no
/// name: both give "". What a store header's ids say to someone without the composition's types.
constexpr std::string_view builtin_policy_name(std::size_t role, std::uint8_t id) noexcept {
    constexpr std::array<std::array<std::string_view, 5>, 6> names{{
        {"", "heap", "shared_memory", "mapped_file", ""},
        {"", "hashed", "ordered", "", ""},
        {"none", "zstd", "adaptive", "", ""},
        {"none", "aes256_gcm", "xchacha20_poly1305", "", ""},
        {"latest", "versioned", "temporal", "custom", "multi"},
        {"none", "cdc", "", "", ""},
    }};
    return role < names.size() && id < names[role].size() ? names[role][id] : std::string_view{};
}

/// "'zstd' (id 1)", "a policy of the user's own (id 200)" or "an unknown policy (id 9)".
inline std::string describe_policy(std::size_t role, std::uint8_t id) {
    const auto name = builtin_policy_name(role, id);
    if (!name.empty()) return "'" + std::string(name) + "' (id " + std::to_string(id) + ")";
    return (id >= 128 ? "a policy of the user's own (id " : "an unknown policy (id ") +
           std::to_string(id) + ")";
}

}  // namespace format
}  // namespace v1
}  // namespace mmry
