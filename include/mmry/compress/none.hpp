#pragma once
// compress::none: frames are stored as they are.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include <mmry/error.hpp>

#include <mmry/concepts.hpp>

namespace mmry {
inline namespace v1 {
namespace compress {

struct none {
    static constexpr std::uint8_t id = 0;
    static constexpr std::string_view name = "none";

    /// Never smaller: every frame is kept raw.
    static std::size_t compress(std::span<const std::byte>, std::span<std::byte>) noexcept {
        return 0;
    }

    /// Never called for a well-formed record (no frame is marked compressed).
    static std::size_t decompress(std::span<const std::byte>, std::span<std::byte>) {
        throw error(errc::corrupt, "frame is marked compressed, but the store has no compressor");
    }
};

}  // namespace compress

static_assert(compressor_policy<compress::none>);
}  // namespace v1
}  // namespace mmry
