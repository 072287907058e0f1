#pragma once
// The files of a backup repository (docs/FORMAT.md, "Backups"), as bytes: the repository header,
// a pack's entries and index, and a snapshot. Parsing checks every length and count against the
// bytes it was given and throws errc::corrupt naming the file; it never reads outside them.
//
//   MMRYBACKUP              "MMRYBKUP" | u32 format 1 | u32 0 | store header (88) | u32 CRC32C
//   packs/<16 hex>.pack     "MMRYPACK", then entries: id (32) | u64 n | n bytes | u32 CRC32C of
//                           id, n and the bytes; then the pack's index: "MMRYPIDX" | u32 count |
//                           count x { id (32) | u64 offset | u64 n } | u32 CRC32C of the index;
//                           then u64 offset of the index | "MMRYPEND"
//   snapshots/<8 digits>    "MMRYSNAP" | u32 format 1 | the backup_info fields | u32 current
//                           dictionary | u64 parent (0: none) | u32 removed count | removed ids
//                           (32 each) | u32 item count | items | u32 CRC32C of all before |
//                           32-byte check: HMAC-SHA256 (encrypted store) or SHA-256 of all before
//                           (a snapshot with a parent lists what changed since the parent: the
//                           items gone, by id, and the items new; a pruned snapshot that a kept
//                           one still builds on is renamed <8 digits>.pruned)
//   an item                 u8 kind (1 dictionary, 2 record) | u32 dictionary id or piece count |
//                           u64 sequence | id (32) | u32 chunk count | chunk ids (the pieces of a
//                           folded record first, then its chunks)
//
// An id is the SHA-256 of a piece's stored bytes.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include <mmry/backup_options.hpp>
#include <mmry/bytes.hpp>
#include <mmry/detail/crc32c.hpp>
#include <mmry/detail/tables/encoding.hpp>
#include <mmry/error.hpp>
#include <mmry/format/meta.hpp>
#include <mmry/format/store_header.hpp>

namespace mmry {
inline namespace v1 {
namespace detail {
namespace backup {

using piece_id = format::hash_bytes;
using tables::reader;
using tables::writer;

inline constexpr char repository_magic[8] = {'M', 'M', 'R', 'Y', 'B', 'K', 'U', 'P'};
inline constexpr char pack_magic[8] = {'M', 'M', 'R', 'Y', 'P', 'A', 'C', 'K'};
inline constexpr char index_magic[8] = {'M', 'M', 'R', 'Y', 'P', 'I', 'D', 'X'};
inline constexpr char pack_end_magic[8] = {'M', 'M', 'R', 'Y', 'P', 'E', 'N', 'D'};
inline constexpr std::size_t pack_trailer = 16;
inline constexpr char snapshot_magic[8] = {'M', 'M', 'R', 'Y', 'S', 'N', 'A', 'P'};
inline constexpr std::uint32_t repository_format = 1;
inline constexpr std::size_t repository_header_size = 16 + format::store_header_size + 4;
inline constexpr std::size_t entry_head = 32 + 8, entry_tail = 4;
inline constexpr std::size_t check_size = 32;

inline std::uint32_t crc_of(std::span<const std::byte> b) {
    return crc32c({b});
}
using tables::bytes_of;

inline void expect_magic(reader& r, const char (&magic)[8], const std::string& what) {
    if (std::memcmp(r.take(8).data(), magic, 8) != 0)
        throw error(errc::corrupt, what + " does not start with " + std::string(magic, 8));
}

/// The repository header: the store header of the store the repository backs up.
inline std::string write_repository_header(std::span<const std::byte> store_header) {
    writer w;
    w.raw(repository_magic, 8);
    w.u32(repository_format);
    w.u32(0);
    w.raw(store_header.data(), store_header.size());
    w.u32(crc_of(bytes_of(w.str())));
    return std::move(w.str());
}
inline std::array<std::byte, format::store_header_size> parse_repository_header(
    std::span<const std::byte> in, const std::string& what) {
    if (in.size() != repository_header_size)
        throw error(errc::corrupt, what + " is " + std::to_string(in.size()) + " bytes, not " +
                                       std::to_string(repository_header_size));
    reader r(in, what);
    expect_magic(r, repository_magic, what);
    const auto version = r.u32();
    if (version != repository_format)
        throw error(errc::version_mismatch, what + " is of backup format " +
                                                std::to_string(version) + ", this build reads " +
                                                std::to_string(repository_format));
    r.u32();
    std::array<std::byte, format::store_header_size> out;
    std::memcpy(out.data(), r.take(out.size()).data(), out.size());
    if (crc_of(in.first(in.size() - 4)) != r.u32())
        throw error(errc::corrupt, what + " fails its checksum");
    return out;
}

/// Where a piece lies in a pack.
struct location {
    std::uint64_t pack = 0;  ///< the pack's name, a random 64-bit number
    std::uint64_t offset = 0, size = 0;
};

struct index_entry {
    piece_id id{};
    std::uint64_t offset = 0, size = 0;
};

inline std::string write_index(const std::vector<index_entry>& entries) {
    writer w;
    w.raw(index_magic, 8);
    w.u32(static_cast<std::uint32_t>(entries.size()));
    for (const auto& e : entries) {
        w.raw(e.id.data(), e.id.size());
        w.u64(e.offset);
        w.u64(e.size);
    }
    w.u32(crc_of(bytes_of(w.str())));
    return std::move(w.str());
}
/// The index of a pack whose entries end at `pack_size` (where the index starts).
inline std::vector<index_entry> parse_index(std::span<const std::byte> in, const std::string& what,
                                            std::uint64_t pack_size) {
    if (in.size() < 16) throw error(errc::corrupt, what + " is too short for a pack index");
    if (crc_of(in.first(in.size() - 4)) != load_le<std::uint32_t>(in.data() + in.size() - 4))
        throw error(errc::corrupt, what + " fails its checksum");
    reader r(in.first(in.size() - 4), what);
    expect_magic(r, index_magic, what);
    const std::uint32_t n = r.u32();
    if (r.rest().size() != std::uint64_t{n} * 48)
        throw error(errc::corrupt, what + " counts " + std::to_string(n) + " entries in " +
                                       std::to_string(r.rest().size()) + " bytes");
    std::vector<index_entry> out(n);
    for (auto& e : out) {
        std::memcpy(e.id.data(), r.take(32).data(), 32);
        e.offset = r.u64();
        e.size = r.u64();
        if (e.offset < 8 || e.size > pack_size || pack_size - e.size < entry_head + entry_tail ||
            e.offset > pack_size - e.size - entry_head - entry_tail)
            throw error(errc::corrupt, what + ": an entry at " + std::to_string(e.offset) + " of " +
                                           std::to_string(e.size) +
                                           " bytes lies outside its pack of " +
                                           std::to_string(pack_size));
    }
    return out;
}

/// One piece a snapshot lists.
struct item {
    static constexpr std::uint8_t dictionary = 1, record = 2;
    std::uint8_t kind = record;
    std::uint32_t arg = 0;  ///< the dictionary's id, or a folded record's piece count
    std::uint64_t seq = 0;  ///< the record's sequence number (0 for a dictionary)
    piece_id id{};
    std::vector<piece_id> chunks;  ///< a folded record's pieces, then its chunks
};

struct snapshot {
    backup_info info;
    std::uint32_t current_dictionary = 0;
    std::uint64_t parent = 0;       ///< the snapshot this one lists changes from (0: none)
    std::vector<piece_id> removed;  ///< ids of the parent's items gone since
    std::vector<item> items;        ///< all items (no parent), or the items new since the parent
};

/// A snapshot's bytes up to its check, and the CRC after them.
inline std::string write_snapshot_body(const snapshot& s) {
    writer w;
    w.raw(snapshot_magic, 8);
    w.u32(repository_format);
    const auto& i = s.info;
    for (std::uint64_t v : {i.number, i.sequence, static_cast<std::uint64_t>(i.time_ns), i.keys,
                            i.records, i.stored_bytes, i.written_bytes})
        w.u64(v);
    w.u32(s.current_dictionary);
    w.u64(s.parent);
    w.u32(static_cast<std::uint32_t>(s.removed.size()));
    for (const auto& id : s.removed) w.raw(id.data(), id.size());
    w.u32(static_cast<std::uint32_t>(s.items.size()));
    for (const auto& it : s.items) {
        w.u8(it.kind);
        w.u32(it.arg);
        w.u64(it.seq);
        w.raw(it.id.data(), it.id.size());
        w.u32(static_cast<std::uint32_t>(it.chunks.size()));
        for (const auto& c : it.chunks) w.raw(c.data(), c.size());
    }
    w.u32(crc_of(bytes_of(w.str())));
    return std::move(w.str());
}

/// Parses a snapshot; `check` receives the bytes its 32-byte check covers, that check and
/// `what`, and throws when they disagree.
template <class Check>
snapshot parse_snapshot(std::span<const std::byte> in, const std::string& what, Check&& check) {
    if (in.size() < 8 + 4 + 7 * 8 + 4 + 8 + 4 + 4 + 4 + check_size)
        throw error(errc::corrupt,
                    what + " is " + std::to_string(in.size()) + " bytes, too short for a snapshot");
    const auto body = in.first(in.size() - check_size - 4);
    if (crc_of(body) != load_le<std::uint32_t>(body.data() + body.size()))
        throw error(errc::corrupt, what + " fails its checksum");
    check(in.first(in.size() - check_size), in.last(check_size), what);
    reader r(body, what);
    expect_magic(r, snapshot_magic, what);
    const auto version = r.u32();
    if (version != repository_format)
        throw error(errc::version_mismatch,
                    what + " is of backup format " + std::to_string(version));
    snapshot s;
    auto& i = s.info;
    i.number = r.u64();
    i.sequence = r.u64();
    i.time_ns = static_cast<std::int64_t>(r.u64());
    i.keys = r.u64();
    i.records = r.u64();
    i.stored_bytes = r.u64();
    i.written_bytes = r.u64();
    s.current_dictionary = r.u32();
    s.parent = r.u64();
    if (s.parent >= i.number)
        throw error(errc::corrupt, what + " builds on backup " + std::to_string(s.parent) +
                                       ", not an earlier one");
    const std::uint32_t gone = r.u32();
    if (std::uint64_t{gone} * 32 > r.rest().size())
        throw error(errc::corrupt, what + " counts " + std::to_string(gone) +
                                       " removed items that its bytes do not hold");
    s.removed.resize(gone);
    for (auto& id : s.removed) std::memcpy(id.data(), r.take(32).data(), 32);
    const std::uint32_t n = r.u32();
    // Each item takes at least 49 bytes: a count no body can hold is refused before reserving.
    if (std::uint64_t{n} * 49 > r.rest().size())
        throw error(errc::corrupt, what + " counts " + std::to_string(n) + " items in " +
                                       std::to_string(r.rest().size()) + " bytes");
    s.items.resize(n);
    for (auto& it : s.items) {
        it.kind = r.u8();
        if (it.kind != item::dictionary && it.kind != item::record)
            throw error(errc::corrupt,
                        what + " lists an item of unknown kind " + std::to_string(it.kind));
        it.arg = r.u32();
        it.seq = r.u64();
        std::memcpy(it.id.data(), r.take(32).data(), 32);
        const std::uint32_t c = r.u32();
        if (std::uint64_t{c} * 32 > r.rest().size() || (it.kind == item::record && it.arg > c))
            throw error(errc::corrupt, what + " lists an item of " + std::to_string(c) +
                                           " chunks that its bytes do not hold");
        it.chunks.resize(c);
        for (auto& id : it.chunks) std::memcpy(id.data(), r.take(32).data(), 32);
    }
    r.done();
    return s;
}

}  // namespace backup
}  // namespace detail
}  // namespace v1
}  // namespace mmry
