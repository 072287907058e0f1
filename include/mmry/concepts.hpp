#pragma once
// The concepts every policy satisfies. A user-written policy that misses a member gets an error
// naming the concept and the missing requirement. Every built-in policy is checked against its
// concept where it is defined (see mmry/traits.hpp).
//
// Ids are stored in records and store headers: 0 is the null policy, 1-127 are mmry's, 128-255
// are for users' own policies.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <mmry/handle.hpp>
#include <mmry/path/input.hpp>

namespace mmry {
inline namespace v1 {

/// Something a store records the identity of.
template <class P>
concept identified_policy = requires {
    { P::id } -> std::convertible_to<std::uint8_t>;
    { P::name } -> std::convertible_to<std::string_view>;
};

/// Compresses a frame into a buffer no larger than the frame (returning 0 when it does not fit),
/// and decompresses it back (returning the bytes written; throwing on malformed input).
/// Both are called from many threads at once.
template <class C>
concept compressor_policy = identified_policy<C> &&
    requires(std::span<const std::byte> in, std::span<std::byte> out) {
    { C::compress(in, out) } -> std::same_as<std::size_t>;
    { C::decompress(in, out) } -> std::same_as<std::size_t>;
};

/// An authenticated cipher: tag_size 0 means no cipher (frames then carry a CRC32C); otherwise a
/// per-thread `context` is rekeyed with a 32-byte subkey and seals/opens frames with a
/// 96-bit nonce that the store never repeats under one subkey (sequence number, frame number).
template <class C>
concept cipher_policy = identified_policy<C> && requires {
    { C::tag_size } -> std::convertible_to<std::size_t>;
} &&(C::tag_size == 0 || requires(typename C::context & ctx, std::span<const std::byte, 32> key,
                                  std::span<const std::byte, 12> nonce,
                                  std::span<const std::byte> in, std::span<std::byte> out) {
    ctx.rekey(key);
    ctx.seal(nonce, in, in, out);
    { ctx.open(nonce, in, in, out) } -> std::same_as<bool>;
});

/// How stored keys are indexed: index::hashed or index::ordered (the page index `table`).
template <class I>
concept index_policy = identified_policy<I> && requires {
    { I::sorted } -> std::convertible_to<bool>;
    typename I::table;
};

/// Where a store's pages live: in this process (shared false) or in named objects that other
/// processes open (shared true); `backend` is the page store's segment backend.
template <class A>
concept arena_policy = identified_policy<A> && requires(std::string_view name) {
    { A::shared } -> std::convertible_to<bool>;
    typename A::backend;
    A::check_name(name);
};

/// Maps a write (path::input) to the stored key of each of its `layouts`; `history` is false only
/// when every put replaces the key's one record (path::latest).
template <class P>
concept path_policy = identified_policy<P> &&
    requires(std::size_t layout, const path::input& in, std::string& out) {
    { P::history } -> std::convertible_to<bool>;
    { P::layouts } -> std::convertible_to<std::size_t>;
    { P::existence } -> std::convertible_to<path::exists>;
    P::stored_key(layout, in, out);
} &&(P::layouts >= 1 && P::layouts <= 8);

/// fold::none (id 0), or a chunker's sizes: values of at least min_size bytes are cut into chunks
/// of min_size..max_size bytes, avg_size (a power of two) on average.
template <class F>
concept fold_policy = identified_policy<F> &&(F::id == 0 || requires {
    { F::min_size } -> std::convertible_to<std::uint32_t>;
    { F::avg_size } -> std::convertible_to<std::uint32_t>;
    { F::max_size } -> std::convertible_to<std::uint32_t>;
});

/// A complete composition of policies, as basic_store takes it.
template <class T>
concept store_traits = arena_policy<typename T::arena> && index_policy<typename T::index> &&
    compressor_policy<typename T::compressor> && cipher_policy<typename T::cipher> &&
    path_policy<typename T::path> && fold_policy<typename T::fold>;

}  // namespace v1
}  // namespace mmry
