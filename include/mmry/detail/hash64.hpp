#pragma once
// hash64: a fixed 64-bit hash of a byte string for the hashed index. The index lives in a segment
// that outlives the process, and other processes and other builds look keys up in it, so the hash
// must be the same everywhere: std::hash is not (its algorithm belongs to the standard library
// build). Not a cryptographic hash: keys are compared in full after the hash matches.

#include <cstdint>
#include <cstring>
#include <string_view>

namespace mmry {
inline namespace v1 {
namespace detail {

namespace hash64_detail {

__extension__ using u128 = unsigned __int128;

// The 128-bit product folded to 64 bits: every input bit reaches every output bit.
inline std::uint64_t fold_mul(std::uint64_t a, std::uint64_t b) noexcept {
    const u128 r = static_cast<u128>(a) * b;
    return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
}

inline std::uint64_t load64(const char* p) noexcept {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;  // little-endian hosts only (see DESIGN): the same bytes give the same word
}

inline std::uint64_t load32(const char* p) noexcept {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

inline constexpr std::uint64_t k0 = 0xa0761d6478bd642full;
inline constexpr std::uint64_t k1 = 0xe7037ed1a0b428dbull;
inline constexpr std::uint64_t k2 = 0x8ebc6af09c88c6e3ull;

}  // namespace hash64_detail

/// The index hash of s. Stable across processes, builds and versions of this library that share
/// a store format.
inline std::uint64_t hash64(std::string_view s) noexcept;

/// hash64 under a seed (hash64(s, 0) == hash64(s)): a store that picks its seed at random makes
/// keys that collide on purpose as hard to find as the seed is to guess.
inline std::uint64_t hash64(std::string_view s, std::uint64_t seed) noexcept {
    using namespace hash64_detail;
    const char* p = s.data();
    std::size_t n = s.size();
    std::uint64_t h = k0 ^ seed ^ fold_mul(n ^ k1, k2 ^ seed);
    for (; n > 16; n -= 16, p += 16) h = fold_mul(load64(p) ^ k1, load64(p + 8) ^ h);
    std::uint64_t a = 0, b = 0;
    if (n >= 8) {
        // Overlapping loads cover 8..16 bytes without a byte loop.
        a = load64(p);
        b = load64(p + n - 8);
    } else if (n >= 4) {
        a = load32(p);
        b = load32(p + n - 4);
    } else if (n > 0) {
        const auto byte = [&](std::size_t i) {
            return std::uint64_t{static_cast<unsigned char>(p[i])};
        };
        a = (byte(0) << 16) | (byte(n / 2) << 8) | byte(n - 1);
    }
    h = fold_mul(a ^ k1, b ^ h);
    return fold_mul(h ^ k2, s.size() ^ k0);
}

inline std::uint64_t hash64(std::string_view s) noexcept {
    return hash64(s, 0);
}

}  // namespace detail
}  // namespace v1
}  // namespace mmry
