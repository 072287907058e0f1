#pragma once
// Byte buffers and size literals.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include <mmry/version.hpp>

namespace mmry {
inline namespace v1 {

/// An owned run of bytes: what get() returns.
using bytes = std::vector<std::byte>;

/// A read-only view of bytes: what put() takes.
using byte_view = std::span<const std::byte>;

/// Views any string as bytes (no copy).
inline byte_view as_bytes(std::string_view s) noexcept {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

/// Views bytes as characters (no copy), e.g. to print a value that holds text.
inline std::string_view as_chars(byte_view b) noexcept {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

namespace literals {
constexpr std::size_t operator""_KiB(unsigned long long n) {
    return static_cast<std::size_t>(n) << 10;
}
constexpr std::size_t operator""_MiB(unsigned long long n) {
    return static_cast<std::size_t>(n) << 20;
}
constexpr std::size_t operator""_GiB(unsigned long long n) {
    return static_cast<std::size_t>(n) << 30;
}
}  // namespace literals

}  // namespace v1
}  // namespace mmry
