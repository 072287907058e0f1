#pragma once
// mmry::codec<T>: how a value of type T becomes bytes and back.
//
// Built in: mmry::bytes, std::string, and every trivially copyable type whose bytes are its value
// (stored as its object representation, so only between hosts of the same layout). Contiguous
// runs of bytes or chars (std::string, std::vector<std::byte>, std::span, ...) are stored as they
// are without a codec.
//
// "Bytes are its value" (mmry::stored_bitwise<T>): integers, enums, floating-point numbers, and
// types without padding whose members are such (std::has_unique_object_representations). A type
// with padding would store whatever the padding holds (uninitialised memory), so two equal
// values would differ in the store and in their content hashes; a type with floating-point
// members is not recognized automatically. For such a type, write a codec, or, when it has no
// padding, vouch for it:
//
//   template <> inline constexpr bool mmry::stored_bitwise<vec3> = true;
//
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

/// True when a T's object representation is its value, so that the built-in codec may store it
/// as it is. Specialize it as true for a trivially copyable type without padding bytes that is
/// not recognized (a struct of doubles); never for one with padding.
template <class T>
inline constexpr bool stored_bitwise =
    std::has_unique_object_representations_v<T> || std::is_floating_point_v<T>;

template <class T>
requires(std::is_trivially_copyable_v<T> && !std::ranges::range<T> &&
         !std::is_pointer_v<T>) struct codec<T> {
    static_assert(stored_bitwise<T>,
                  "mmry: the built-in codec stores a trivially copyable type as its bytes, and "
                  "this type may have padding bytes (or floating-point members, which mmry "
                  "cannot check): write a mmry::codec<T>, or, if it has no padding, declare "
                  "`template <> inline constexpr bool mmry::stored_bitwise<T> = true;`");

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
