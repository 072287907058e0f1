#pragma once
// mmry::codec<T>: how a value of type T becomes bytes and back.
//
// Built in: mmry::bytes, std::string, and every trivially copyable type (stored as its object
// representation, so only between hosts of the same layout). Contiguous runs of bytes or chars
// (std::string, std::vector<std::byte>, std::span, ...) are stored as they are without a codec.
// A user type gets a codec by specializing:
//
//   template <> struct mmry::codec<point> {
//       static mmry::bytes encode(const point& p);
//       static point decode(mmry::byte_view b);   // throws on malformed input
//   };

#include <concepts>
#include <cstring>
#include <ranges>
#include <string>
#include <type_traits>

#include <mmry/bytes.hpp>
#include <mmry/error.hpp>

namespace mmry {
inline namespace v1 {

template <class T>
struct codec;

template <>
struct codec<bytes> {
    static bytes encode(const bytes& b) { return b; }
    static bytes decode(byte_view b) { return bytes(b.begin(), b.end()); }
};

template <>
struct codec<std::string> {
    static bytes encode(const std::string& s) {
        auto b = as_bytes(s);
        return bytes(b.begin(), b.end());
    }
    static std::string decode(byte_view b) { return std::string(as_chars(b)); }
};

template <class T>
requires(std::is_trivially_copyable_v<T> && !std::ranges::range<T> &&
         !std::is_pointer_v<T>) struct codec<T> {
    static bytes encode(const T& v) {
        bytes b(sizeof(T));
        std::memcpy(b.data(), &v, sizeof(T));
        return b;
    }
    static T decode(byte_view b) {
        if (b.size() != sizeof(T))
            throw error(errc::invalid_argument, "a value of " + std::to_string(b.size()) +
                                                    " bytes cannot decode as a type of " +
                                                    std::to_string(sizeof(T)) + " bytes");
        T v;
        std::memcpy(&v, b.data(), sizeof(T));
        return v;
    }
};

/// A type whose values the store can encode and decode through mmry::codec<T>.
template <class T>
concept value_codec = requires(const T& v, byte_view b) {
    { codec<T>::encode(v) } -> std::convertible_to<bytes>;
    { codec<T>::decode(b) } -> std::same_as<T>;
};

/// A contiguous run of byte-sized, trivially copyable elements: stored as it is. Arrays of char
/// (string literals) are excluded so that "text" is stored without its terminating NUL.
template <class R>
concept byte_range = std::ranges::contiguous_range<R> && std::ranges::sized_range<R> &&
                         sizeof(std::ranges::range_value_t<R>) == 1 &&
                     std::is_trivially_copyable_v<std::ranges::range_value_t<R>> &&
                     !std::is_array_v<std::remove_cvref_t<R>>;

template <byte_range R>
byte_view as_byte_view(const R& r) noexcept {
    return {reinterpret_cast<const std::byte*>(std::ranges::data(r)), std::ranges::size(r)};
}

}  // namespace v1
}  // namespace mmry
