#pragma once
// The chunk manifest a folded record holds in its frames (docs/FORMAT.md, "Folded records"): the
// value as a list of chunk references, in order.
//
//   0   u32  magic "MFLD"
//   4   u16  depth: 0, the entries name the value's chunks; 1, they name pieces
//   6   u16  zero
//   8   u32  entry count n
//   12  u32  zero
//   16  u64  value size (the sum of the entry lengths)
//   24  n x { 16-byte chunk reference, u32 length }
//
// A chunk reference is the first 16 bytes of the chunk's 32-byte id. The store's chunk table is
// keyed by it and keeps the whole id: a put whose chunk has another chunk's reference but not its
// id (a 2^-64 event, or a crafted SHA-256 prefix collision) is stored unfolded, so a reference
// names one content, and a read checks the decoded chunk against the whole id.
//
// A value of more than max_flat_entries chunks gets a manifest of depth 1: its chunk list is cut
// into pieces (content-defined, after an entry whose reference ends a piece, at most
// max_piece_entries entries), each piece stored as a chunk whose content is its depth-0 entries
// (no head) and whose length in the manifest is the value bytes it covers. Consecutive versions
// share every piece but the ones around an edit, so a version costs a few entries, not a list
// of all its chunks.
//
// manifest::parse validates every field before anything reads the manifest, and never reads
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
inline constexpr std::size_t manifest_head_size = 24;
inline constexpr std::size_t chunk_id_size = hash_size;
inline constexpr std::size_t chunk_ref_size = 16;
inline constexpr std::size_t manifest_entry_size = chunk_ref_size + 4;
using chunk_reference = std::array<std::byte, chunk_ref_size>;
/// The largest chunk a manifest may name (the largest maximum fold::cdc accepts).
inline constexpr std::uint32_t max_chunk_size = 64 * 1024 * 1024;
/// A value of at most this many chunks has a manifest of depth 0.
inline constexpr std::size_t max_flat_entries = 64;
/// Pieces hold 1 to this many entries, 16 on average.
inline constexpr std::size_t max_piece_entries = 64;

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

/// The entries of `chunks`, as a manifest lists them and a piece holds them.
inline bytes write_entries(std::span<const chunk_ref> chunks) {
    bytes out(chunks.size() * manifest_entry_size);
    std::byte* at = out.data();
    for (const auto& c : chunks) {
        std::copy(c.ref.begin(), c.ref.end(), at);
        detail::store_le<std::uint32_t>(at + chunk_ref_size, c.length);
        at += manifest_entry_size;
    }
    return out;
}

/// The bytes of a manifest of depth `depth` with entries `entries`.
inline bytes write_manifest(std::span<const chunk_ref> entries, unsigned depth) {
    bytes out(manifest_head_size);
    std::uint64_t size = 0;
    for (const auto& c : entries) size += c.length;
    detail::store_le<std::uint32_t>(out.data(), manifest_magic);
    detail::store_le<std::uint16_t>(out.data() + 4, static_cast<std::uint16_t>(depth));
    detail::store_le<std::uint32_t>(out.data() + 8, static_cast<std::uint32_t>(entries.size()));
    detail::store_le<std::uint64_t>(out.data() + 16, size);
    const bytes e = write_entries(entries);
    out.insert(out.end(), e.begin(), e.end());
    return out;
}

/// Whether a piece ends after entry `c` (content-defined: about one entry in 16).
inline bool ends_piece(const chunk_ref& c) noexcept {
    return (std::to_integer<unsigned>(c.ref[chunk_ref_size - 1]) & 15) == 15;
}

/// Parses the entries of a piece (or of a manifest after its head): n x 20 bytes, each length
/// 1 .. limit. Throws errc::corrupt naming `what`.
inline std::vector<chunk_ref> parse_entries(std::span<const std::byte> b, std::uint64_t limit,
                                            const std::string& what) {
    if (b.size() % manifest_entry_size != 0)
        throw error(errc::corrupt, what + " of " + std::to_string(b.size()) +
                                       " bytes is not a whole number of entries");
    std::vector<chunk_ref> out(b.size() / manifest_entry_size);
    for (std::size_t i = 0; i < out.size(); ++i) {
        const std::byte* e = b.data() + i * manifest_entry_size;
        std::copy_n(e, chunk_ref_size, out[i].ref.begin());
        out[i].length = detail::load_le<std::uint32_t>(e + chunk_ref_size);
        if (out[i].length == 0 || out[i].length > limit)
            throw error(errc::corrupt, what + ": entry " + std::to_string(i) + " has length " +
                                           std::to_string(out[i].length));
    }
    return out;
}

/// A validated manifest: its depth and entries.
struct manifest {
    unsigned depth = 0;
    std::vector<chunk_ref> entries;

    /// Validates `m` as the manifest of a value of `value_size` bytes; `key` names the record in
    /// errors. Throws errc::corrupt.
    static manifest parse(std::span<const std::byte> m, std::uint64_t value_size,
                          std::string_view key) {
        const std::string what = "key " + detail::quote(key) + ": chunk manifest";
        auto fail = [&](const std::string& why) -> manifest {
            throw error(errc::corrupt, what + " " + why);
        };
        if (m.size() < manifest_head_size)
            return fail("of " + std::to_string(m.size()) + " bytes is shorter than its head");
        if (detail::load_le<std::uint32_t>(m.data()) != manifest_magic)
            return fail("has a bad magic number");
        manifest out;
        out.depth = detail::load_le<std::uint16_t>(m.data() + 4);
        if (out.depth > 1) return fail("has depth " + std::to_string(out.depth));
        if (detail::load_le<std::uint16_t>(m.data() + 6) != 0 ||
            detail::load_le<std::uint32_t>(m.data() + 12) != 0)
            return fail("has nonzero reserved bytes");
        const std::uint64_t n = detail::load_le<std::uint32_t>(m.data() + 8);
        if (manifest_head_size + n * manifest_entry_size != m.size())
            return fail("names " + std::to_string(n) + " entries in " + std::to_string(m.size()) +
                        " bytes");
        if (detail::load_le<std::uint64_t>(m.data() + 16) != value_size)
            return fail("describes " +
                        std::to_string(detail::load_le<std::uint64_t>(m.data() + 16)) +
                        " bytes, the record " + std::to_string(value_size));
        out.entries = parse_entries(m.subspan(manifest_head_size),
                                    out.depth == 0 ? max_chunk_size : 0xffffffffu, what);
        std::uint64_t sum = 0;
        for (const auto& c : out.entries) sum += c.length;
        if (sum != value_size)
            return fail("entries add up to " + std::to_string(sum) + " bytes, not " +
                        std::to_string(value_size));
        return out;
    }
};

/// A chunk id as the key its record is filed under, or a reference as its chunk table key.
template <std::size_t N>
inline std::string_view chunk_key(const std::array<std::byte, N>& id) noexcept {
    return {reinterpret_cast<const char*>(id.data()), id.size()};
}

}  // namespace format
}  // namespace v1
}  // namespace mmry
