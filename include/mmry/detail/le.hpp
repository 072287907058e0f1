#pragma once
// Little-endian loads and stores at any alignment: the record format is little-endian on every
// host.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace mmry {
inline namespace v1 {
namespace detail {

template <class T>
constexpr T byteswap(T v) noexcept {
    using U = std::make_unsigned_t<T>;
    U u = static_cast<U>(v), r = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i, u >>= 8) r = static_cast<U>((r << 8) | (u & 0xff));
    return static_cast<T>(r);
}

template <class T>
requires std::is_integral_v<T> T load_le(const std::byte* p)
noexcept {
    T v;
    std::memcpy(&v, p, sizeof v);
    if constexpr (std::endian::native == std::endian::big) v = byteswap(v);
    return v;
}

template <class T>
requires std::is_integral_v<T>
void store_le(std::byte* p, T v) noexcept {
    if constexpr (std::endian::native == std::endian::big) v = byteswap(v);
    std::memcpy(p, &v, sizeof v);
}

}  // namespace detail
}  // namespace v1
}  // namespace mmry
