#pragma once
// The meta section of a record (docs/FORMAT.md, "Meta section"): what the store knows of a value
// without decoding it. It lies between the key and the frame table and is covered by the head
// checksum; in a sealed record its last 16 bytes are a MAC over the head, key and meta section.
//
//   0   u8   content hash kind (0 none, 1 SHA-256, 2 HMAC-SHA256 under a key of the store's)
//   1   7    zero
//   8   u64  version of the logical key this record holds (1, 2, ...)
//   16  u64  version it replaced as the key's latest (0: none)
//   24  32   content hash of the value (zero when kind is 0)
//   56  32   chain hash: hash(previous chain hash, content hash, version, previous version, key)
//   88  16   folded records only (head flag `folded`): u64 value size, u32 number of chunks,
//            u32 zero; the variable part then starts at 104 instead of 88
//   88  u16 length + bytes: content type
//       u16 count, then per tag: u16 length + bytes
//       u16 count, then per attribute: u16 length + name bytes, u16 length + value bytes
//       16   MAC (sealed records only)
//
// Version, previous version, chain hash and (in the head) created time are stamped when the
// record is committed, under the write lock; everything else when it is encoded.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <mmry/detail/describe.hpp>
#include <mmry/detail/le.hpp>
#include <mmry/error.hpp>
#include <mmry/put_options.hpp>

namespace mmry {
inline namespace v1 {
namespace format {

inline constexpr std::size_t hash_size = 32;
inline constexpr std::size_t meta_fixed_size = 88;
inline constexpr std::size_t meta_mac_size = 16;
inline constexpr std::size_t max_meta_size = 64 * 1024;
using hash_bytes = std::array<std::byte, hash_size>;

namespace meta_off {
inline constexpr std::size_t hash_kind = 0, version = 8, previous = 16, content_hash = 24,
                             chain_hash = 56, variable = 88, folded_size = 88;
}  // namespace meta_off

/// Bytes a folded record's meta section adds: value size and chunk count.
inline constexpr std::size_t folded_size_bytes = 16;

/// What a folded record's meta section says of its value.
struct folded_info {
    std::uint64_t size = 0;    ///< bytes of the value
    std::uint32_t chunks = 0;  ///< chunks it is cut into
};

/// The bytes the meta section of a record with these annotations takes (MAC included).
inline std::size_t meta_size(const put_options& o, bool sealed, bool folded = false) {
    std::size_t n =
        meta_fixed_size + (folded ? folded_size_bytes : 0) + 2 + o.content_type.size() + 2 + 2;
    for (const auto& t : o.tags) n += 2 + t.size();
    for (const auto& [k, v] : o.attributes) n += 4 + k.size() + v.size();
    return n + (sealed ? meta_mac_size : 0);
}

/// Checks what a put was given for its meta section; throws errc::invalid_argument naming it.
inline void check_put_options(const put_options& o, std::string_view key, bool sealed) {
    auto fail = [&](const std::string& why) {
        throw error(errc::invalid_argument, "put of key " + detail::quote(key) + ": " + why);
    };
    constexpr std::size_t max_field = 0xffff;
    if (o.if_absent && o.if_version)
        fail("if_absent and if_version cannot both hold: give one condition");
    if (o.if_version && o.if_version->number == 0)
        fail("if_version 0 names no version (versions start at 1): use if_absent");
    if (o.content_type.size() > max_field) fail("the content type is over 65535 bytes");
    if (o.tags.size() > max_field) fail("more than 65535 tags");
    if (o.attributes.size() > max_field) fail("more than 65535 attributes");
    for (const auto& t : o.tags)
        if (t.empty() || t.size() > max_field)
            fail("tag " + detail::quote(t) + " is empty or over 65535 bytes");
    for (const auto& [k, v] : o.attributes)
        if (k.empty() || k.size() > max_field || v.size() > max_field)
            fail("attribute " + detail::quote(k) +
                 " has an empty name, or a name or value over 65535 bytes");
    if (meta_size(o, sealed) > max_meta_size)
        fail("content type, tags and attributes take " + std::to_string(meta_size(o, sealed)) +
             " bytes, over the limit of " + std::to_string(max_meta_size));
}

/// Writes the meta section for `o` at `p` (meta_size(o, sealed, folded) bytes): version 1, and
/// zero chain hash and MAC, until the record is stamped at commit. `folded` describes the value of
/// a folded record (nullopt for any other).
inline void write_meta(std::byte* p, const put_options& o, std::uint8_t hash_kind,
                       const hash_bytes& content_hash,
                       std::optional<folded_info> folded = std::nullopt) {
    std::fill_n(p, meta_fixed_size, std::byte{0});
    p[meta_off::hash_kind] = std::byte{hash_kind};
    detail::store_le<std::uint64_t>(p + meta_off::version, 1);  // until stamped
    std::copy(content_hash.begin(), content_hash.end(), p + meta_off::content_hash);
    std::byte* at = p + meta_off::variable;
    if (folded) {
        detail::store_le<std::uint64_t>(at, folded->size);
        detail::store_le<std::uint32_t>(at + 8, folded->chunks);
        detail::store_le<std::uint32_t>(at + 12, 0);
        at += folded_size_bytes;
    }
    auto put16 = [&](std::size_t v) {
        detail::store_le<std::uint16_t>(at, static_cast<std::uint16_t>(v));
        at += 2;
    };
    auto put_string = [&](std::string_view s) {
        put16(s.size());
        std::memcpy(at, s.data(), s.size());
        at += s.size();
    };
    put_string(o.content_type);
    put16(o.tags.size());
    for (const auto& t : o.tags) put_string(t);
    put16(o.attributes.size());
    for (const auto& [k, v] : o.attributes) {
        put_string(k);
        put_string(v);
    }
}

/// A validated view of a meta section (without its MAC).
class meta_view {
  public:
    meta_view() = default;

    /// Validates `meta` (the section without its MAC); `key` names the record in errors; `folded`
    /// is the head's flag (the section then holds the value size).
    static meta_view parse(std::span<const std::byte> meta, std::string_view key,
                           bool folded = false) {
        meta_view v;
        v.bytes_ = meta;
        v.variable_ = meta_off::variable + (folded ? folded_size_bytes : 0);
        auto fail = [&](const std::string& why) {
            throw error(errc::corrupt, "record " + detail::quote(key) + ": meta section " + why);
        };
        if (meta.size() < v.variable_ + 6)
            fail("of " + std::to_string(meta.size()) + " bytes is shorter than its fixed part");
        const auto kind = std::to_integer<unsigned>(meta[meta_off::hash_kind]);
        if (kind > 2) fail("has unknown content hash kind " + std::to_string(kind));
        if (folded && detail::load_le<std::uint32_t>(meta.data() + meta_off::folded_size + 12) != 0)
            fail("has nonzero reserved bytes after the chunk count");
        for (std::size_t i = 1; i < meta_off::version; ++i)
            if (meta[i] != std::byte{0}) fail("has nonzero reserved bytes");
        if (v.version() == 0 || v.previous() >= v.version())
            fail("has version " + std::to_string(v.version()) + " after previous version " +
                 std::to_string(v.previous()));
        std::size_t at = v.variable_;
        auto take16 = [&]() -> std::size_t {
            if (meta.size() - at < 2) fail("ends inside a length field");
            const auto n = detail::load_le<std::uint16_t>(meta.data() + at);
            at += 2;
            return n;
        };
        auto skip = [&](std::size_t n, bool nonempty) {
            if (meta.size() - at < n) fail("has a field that passes its end");
            if (nonempty && n == 0) fail("has an empty tag or attribute name");
            at += n;
        };
        skip(take16(), false);
        v.tags_at_ = at;
        for (std::size_t n = take16(); n > 0; --n) skip(take16(), true);
        v.attributes_at_ = at;
        for (std::size_t n = take16(); n > 0; --n) {
            skip(take16(), true);
            skip(take16(), false);
        }
        if (at != meta.size())
            fail("has " + std::to_string(meta.size() - at) + " bytes after its last field");
        return v;
    }

    std::uint8_t hash_kind() const noexcept {
        return std::to_integer<std::uint8_t>(bytes_[meta_off::hash_kind]);
    }
    std::uint64_t version() const noexcept {
        return detail::load_le<std::uint64_t>(bytes_.data() + meta_off::version);
    }
    std::uint64_t previous() const noexcept {
        return detail::load_le<std::uint64_t>(bytes_.data() + meta_off::previous);
    }
    hash_bytes content_hash() const noexcept { return hash_at(meta_off::content_hash); }
    hash_bytes chain_hash() const noexcept { return hash_at(meta_off::chain_hash); }
    std::string_view content_type() const noexcept { return string_at(variable_); }
    /// The value size a folded record holds (meaningless for other records).
    std::uint64_t folded_size() const noexcept {
        return detail::load_le<std::uint64_t>(bytes_.data() + meta_off::folded_size);
    }
    /// The number of chunks a folded record's value is cut into (meaningless for others).
    std::uint32_t folded_chunks() const noexcept {
        return detail::load_le<std::uint32_t>(bytes_.data() + meta_off::folded_size + 8);
    }

    /// Calls f(tag) for every tag, in the order they were given.
    template <class F>
    void for_each_tag(F&& f) const {
        std::size_t at = tags_at_;
        std::size_t n = u16(at);
        for (at += 2; n > 0; --n) {
            const auto s = string_at(at);
            f(s);
            at += 2 + s.size();
        }
    }
    /// Calls f(name, value) for every attribute, in the order they were given.
    template <class F>
    void for_each_attribute(F&& f) const {
        std::size_t at = attributes_at_;
        std::size_t n = u16(at);
        for (at += 2; n > 0; --n) {
            const auto k = string_at(at);
            at += 2 + k.size();
            const auto v = string_at(at);
            at += 2 + v.size();
            f(k, v);
        }
    }
    bool has_tag(std::string_view tag) const {
        bool found = false;
        for_each_tag([&](std::string_view t) { found = found || t == tag; });
        return found;
    }

  private:
    std::size_t u16(std::size_t at) const noexcept {
        return detail::load_le<std::uint16_t>(bytes_.data() + at);
    }
    std::string_view string_at(std::size_t at) const noexcept {
        return {reinterpret_cast<const char*>(bytes_.data() + at + 2), u16(at)};
    }
    hash_bytes hash_at(std::size_t at) const noexcept {
        hash_bytes h;
        std::copy_n(bytes_.data() + at, hash_size, h.begin());
        return h;
    }

    std::span<const std::byte> bytes_;
    std::size_t variable_ = meta_off::variable, tags_at_ = 0, attributes_at_ = 0;
};

}  // namespace format
}  // namespace v1
}  // namespace mmry
