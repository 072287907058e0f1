#pragma once
// Renders keys and values for error messages: printable, quoted, and bounded in length, so that a
// binary or huge key never garbles or floods a message.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>

namespace mmry {
inline namespace v1 {
namespace detail {

inline std::string quote(std::string_view key, std::size_t max_shown = 64) {
    std::string out = "'";
    std::size_t shown = 0;
    for (unsigned char c : key) {
        if (shown++ == max_shown) {
            out += "...";
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
            out += static_cast<char>(c);
        } else {
            char buf[5];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        }
    }
    out += "'";
    return out;
}

inline std::string hex(std::uint32_t v) {
    char buf[11];
    std::snprintf(buf, sizeof buf, "0x%08x", v);
    return buf;
}

inline std::string hex(std::span<const std::byte> bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s;
    for (auto b : bytes) {
        s += digits[std::to_integer<unsigned>(b) >> 4];
        s += digits[std::to_integer<unsigned>(b) & 0xf];
    }
    return s;
}

}  // namespace detail
}  // namespace v1
}  // namespace mmry
