#pragma once
// The chunk manifest a folded record holds in its frames (docs/FORMAT.md, "Folded records"): the
// value as a list of chunk references, in order.
//
//   0   u32  magic "MFLD"
//   4   u32  chunk count n
//   8   u64  value size (the sum of the chunk lengths)
//   16  n x { 16-byte chunk reference, u32 chunk length }
//
// A chunk reference is the first 16 bytes of the chunk's 32-byte id. The store's chunk table is
// keyed by it and keeps the whole id: a put whose chunk has another chunk's reference but not its
// id (a 2^-64 event, or a crafted SHA-256 prefix collision) is stored unfolded, so a reference
// names one content, and a read checks the decoded chunk against the whole id.
// manifest_view::parse validates every field before anything reads the manifest, and never reads
// outside the span it was given.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <mmry/bytes.hpp>
#include <mmry/detail/describe.hpp>
#include <mmry/detail/le.hpp>
#include <mmry/error.hpp>
#include <mmry/format/meta.hpp>

namespace mmry {
inline namespace v1 {
namespace format {

inline constexpr std::uint32_t manifest_magic = 0x444c464d;  // "MFLD"
inline constexpr std::size_t manifest_head_size = 16;
inline constexpr std::size_t chunk_id_size = hash_size;
inline constexpr std::size_t chunk_ref_size = 16;
inline constexpr std::size_t manifest_entry_size = chunk_ref_size + 4;
using chunk_reference = std::array<std::byte, chunk_ref_size>;
/// The largest chunk a manifest may name (the largest maximum fold::cdc accepts).
inline constexpr std::uint32_t max_chunk_size = 64 * 1024 * 1024;

/// One chunk of a value: its reference and length (its offset is the sum of the lengths before
/// it).
struct chunk_ref {
    chunk_reference ref{};
    std::uint32_t length = 0;
};

/// The reference of the chunk with id `id`.
inline chunk_reference reference_of(const hash_bytes& id) noexcept {
    chunk_reference r;
    std::copy_n(id.begin(), r.size(), r.begin());
    return r;
}

/// The bytes of the manifest of `chunks`.
inline bytes write_manifest(std::span<const chunk_ref> chunks) {
    bytes out(manifest_head_size + chunks.size() * manifest_entry_size);
    std::uint64_t size = 0;
    for (const auto& c : chunks) size += c.length;
    detail::store_le<std::uint32_t>(out.data(), manifest_magic);
    detail::store_le<std::uint32_t>(out.data() + 4, static_cast<std::uint32_t>(chunks.size()));
    detail::store_le<std::uint64_t>(out.data() + 8, size);
    std::byte* at = out.data() + manifest_head_size;
    for (const auto& c : chunks) {
        std::copy(c.ref.begin(), c.ref.end(), at);
        detail::store_le<std::uint32_t>(at + chunk_ref_size, c.length);
        at += manifest_entry_size;
    }
    return out;
}

/// A validated view of a manifest. Holds pointers into the given span.
class manifest_view {
  public:
    /// Validates `m` as the manifest of a value of `value_size` bytes; `key` names the record in
    /// errors. Throws errc::corrupt.
    static manifest_view parse(std::span<const std::byte> m, std::uint64_t value_size,
                               std::string_view key) {
        auto fail = [&](const std::string& why) -> manifest_view {
            throw error(errc::corrupt, "key " + detail::quote(key) + ": chunk manifest " + why);
        };
        if (m.size() < manifest_head_size)
            return fail("of " + std::to_string(m.size()) + " bytes is shorter than its head");
        if (detail::load_le<std::uint32_t>(m.data()) != manifest_magic)
            return fail("has a bad magic number");
        manifest_view v;
        v.bytes_ = m;
        const std::uint64_t n = detail::load_le<std::uint32_t>(m.data() + 4);
        if (manifest_head_size + n * manifest_entry_size != m.size())
            return fail("names " + std::to_string(n) + " chunks in " + std::to_string(m.size()) +
                        " bytes");
        if (detail::load_le<std::uint64_t>(m.data() + 8) != value_size)
            return fail("describes " +
                        std::to_string(detail::load_le<std::uint64_t>(m.data() + 8)) +
                        " bytes, the record " + std::to_string(value_size));
        std::uint64_t sum = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const auto len = v.at(i).length;
            if (len == 0 || len > max_chunk_size)
                return fail("chunk " + std::to_string(i) + " has length " + std::to_string(len));
            sum += len;
        }
        if (sum != value_size)
            return fail("chunks add up to " + std::to_string(sum) + " bytes, not " +
                        std::to_string(value_size));
        return v;
    }

    std::size_t size() const noexcept {
        return (bytes_.size() - manifest_head_size) / manifest_entry_size;
    }
    chunk_ref at(std::size_t i) const noexcept {
        const std::byte* e = bytes_.data() + manifest_head_size + i * manifest_entry_size;
        chunk_ref c;
        std::copy_n(e, chunk_ref_size, c.ref.begin());
        c.length = detail::load_le<std::uint32_t>(e + chunk_ref_size);
        return c;
    }
    std::vector<chunk_ref> chunks() const {
        std::vector<chunk_ref> out(size());
        for (std::size_t i = 0; i < out.size(); ++i) out[i] = at(i);
        return out;
    }

  private:
    std::span<const std::byte> bytes_;
};

/// A chunk id as the key its record is filed under, or a reference as its chunk table key.
template <std::size_t N>
inline std::string_view chunk_key(const std::array<std::byte, N>& id) noexcept {
    return {reinterpret_cast<const char*>(id.data()), id.size()};
}

}  // namespace format
}  // namespace v1
}  // namespace mmry
