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
#include <type_traits>
#include <vector>

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

namespace detail::archetype {

/// A state of the page store as an index reads it: the meta words of the state (an index owns
/// `words` of them from the word its constructor names) and its pages, p to p + n - 1.
struct page_view {
    std::uint64_t word(std::size_t i) const;
    std::span<const std::byte> page(std::uint64_t p, std::uint64_t n = 1) const;
};
/// A write transaction as an index changes it: copy on write, so an index writes only pages it
/// allocated in this transaction and frees the ones the new state no longer reaches.
struct page_txn : page_view {
    void set_word(std::size_t i, std::uint64_t value);
    std::uint64_t allocate(std::uint64_t n = 1, bool zero = true);
    std::span<std::byte> write(std::uint64_t p, std::uint64_t n = 1);
    void free(std::uint64_t p, std::uint64_t n = 1);
};
/// What an index calls for each entry (key, entry bytes) while it lists; false stops the listing.
struct entry_visitor {
    bool operator()(std::string_view key, std::span<const std::byte> entry) const;
};
/// What an index calls for each run of pages it reaches (first page, pages).
struct page_marker {
    void operator()(std::uint64_t first, std::uint64_t n) const;
};

/// What a named backend has, standing in for a backend that is not named (or not durable) in
/// page_backend's requirements.
struct named_backend {
    static std::string object(const std::string& store, std::uint32_t k);
    static int open(const std::string& obj, int flags, unsigned mode);
    static bool unlink(const std::string& obj) noexcept;
    static void prepare(const std::string& store, unsigned mode);
    static void sync_directory(const std::string& store);
    static std::string durable_object(const std::string& store);
    static std::string journal_object(const std::string& store);
};
template <class B>
using named_ops = std::conditional_t<B::named, B, named_backend>;
template <class B>
using durable_ops = std::conditional_t<B::durable, B, named_backend>;

}  // namespace detail::archetype

/// An index that lists entries in key order from a given key (index::ordered's); others list
/// them in any order, all at once.
template <class T>
concept sorted_page_index = requires(const T& ix, const detail::archetype::page_view& v,
                                     std::string_view from, detail::archetype::entry_visitor f) {
    ix.for_each(v, from, f, true);
};

/// The table of an index policy: key -> entry bytes (at most max_entry together) over the page
/// store's copy-on-write pages. Members take the state they read (any page_view) or the write
/// transaction they change (any page_txn) as template parameters; their return types are
/// declared, not deduced (the requirements below are checked with the archetypes above, which
/// must not reach a member's body).
/// - `T(first_word)`: the index's root lives in meta words first_word .. first_word + words - 1
///   (at most 4), all 0 in an empty store (page 0 is never a data page); copyable.
/// - `size(v)`: entries; `find(v, key)`: key's entry, checked (errc::corrupt when damaged);
///   `find_unchecked(v, key)`: as the pages hold it (what verify() and tests look at). Entry
///   bytes that find and for_each hand out lie in the state's pages: the store keeps them (small
///   records live in their entries) as long as it pins the state.
/// - `put(t, key, entry)` (or `put(t, key, entry, seed)`, given a random seed per store);
///   `erase(t, key)`, false when key had no entry.
/// - `for_each(v, f, checked)` (or, sorted, `for_each(v, from, f, checked)`): f(key, entry) for
///   every entry until f returns false; `checked` false passes damaged entries over.
/// - `mark(v, f)`: f(first, n) for every run of pages the index itself takes (page check and
///   verify() prove each page is reached once); `verify(v)`: the problems a full read finds.
/// Nothing needs to be nothrow: a write transaction that throws is dropped whole (copy on
/// write), so no undo path calls the index.
template <class T>
concept page_index = std::constructible_from<T, std::size_t> && std::copy_constructible<T> &&
    requires(const T& ix, const detail::archetype::page_view& v, detail::archetype::page_txn& t,
             std::string_view key, std::span<const std::byte> entry,
             detail::archetype::entry_visitor f, detail::archetype::page_marker m) {
    { T::max_entry } -> std::convertible_to<std::size_t>;
    { T::words } -> std::convertible_to<std::size_t>;
    { ix.size(v) } -> std::same_as<std::uint64_t>;
    { ix.find(v, key) } -> std::same_as<std::optional<std::span<const std::byte>>>;
    { ix.find_unchecked(v, key) } -> std::same_as<std::optional<std::span<const std::byte>>>;
    { ix.erase(t, key) } -> std::same_as<bool>;
    ix.mark(v, m);
    { ix.verify(v) } -> std::same_as<std::vector<std::string>>;
} &&(
    requires(const T& ix, detail::archetype::page_txn& t, std::string_view key,
             std::span<const std::byte> entry) { ix.put(t, key, entry); } ||
    requires(const T& ix, detail::archetype::page_txn& t, std::string_view key,
             std::span<const std::byte> entry,
             std::uint64_t seed) { ix.put(t, key, entry, seed); }) &&
    (sorted_page_index<T> ||
     requires(const T& ix, const detail::archetype::page_view& v,
              detail::archetype::entry_visitor f) { ix.for_each(v, f, true); }) &&
    (T::words >= 1 && T::words <= 4 && T::max_entry >= 256);

/// How stored keys are indexed: index::hashed, index::ordered or a user's: `table` is the page
/// index, and `sorted` says whether it lists keys in order (it must agree with the table).
template <class I>
concept index_policy = identified_policy<I> && requires {
    { I::sorted } -> std::convertible_to<bool>;
    typename I::table;
} && page_index<typename I::table> &&(I::sorted == sorted_page_index<typename I::table>);

/// Where an arena's segments live, for the page store. Not `named`: anonymous memory of this
/// process (nothing more is asked). `named`: segment k of store s is the object object(s, k),
/// which open(obj, flags, mode) opens as open(2) does (a descriptor to map, or -1 with errno
/// set) and unlink(obj) removes (false when there was none; nothrow: it cleans up after a
/// failed creation); prepare(s, mode) readies the store's place before its first segment (a
/// directory), and sync_directory(s) makes a created object's name durable. `durable` (a
/// mapped file, named): also the paths of the durable file and of the journal.
template <class B>
concept page_backend = requires {
    { B::named } -> std::convertible_to<bool>;
    { B::durable } -> std::convertible_to<bool>;
}
&&requires(const std::string& s, std::uint32_t k, int flags, unsigned mode) {
    // Asked of named backends only (of the others, the archetype's members are checked), and
    // written without a disjunction so that a compiler's message names the member missing.
    { detail::archetype::named_ops<B>::object(s, k) } -> std::convertible_to<std::string>;
    { detail::archetype::named_ops<B>::open(s, flags, mode) } -> std::same_as<int>;
    { detail::archetype::named_ops<B>::unlink(s) }
    noexcept->std::same_as<bool>;
    detail::archetype::named_ops<B>::prepare(s, mode);
    detail::archetype::named_ops<B>::sync_directory(s);
    { detail::archetype::durable_ops<B>::durable_object(s) } -> std::convertible_to<std::string>;
    { detail::archetype::durable_ops<B>::journal_object(s) } -> std::convertible_to<std::string>;
}
&&(!B::durable || B::named);

/// Where a store's pages live: in this process (shared false) or in named objects that other
/// processes open (shared true, and a named backend); `check_name` throws mmry::error
/// (errc::invalid_argument) for a name the arena cannot use.
template <class A>
concept arena_policy = identified_policy<A> && requires(std::string_view name) {
    { A::shared } -> std::convertible_to<bool>;
    typename A::backend;
    A::check_name(name);
} && page_backend<typename A::backend> &&(!A::shared || A::backend::named);

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
