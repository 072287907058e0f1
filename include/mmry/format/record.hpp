#pragma once
// The bytes of one stored record (docs/FORMAT.md is the reference; keep the two in step).
//
//   head      64 bytes, + 24 bytes of crypto block when the record is encrypted
//   key       key_size bytes
//   meta      meta_size bytes: version, hashes, content type, tags, attributes (format/meta.hpp)
//   table     frame_count entries of 12 bytes: u32 stored size, u8 codec, u8 compression level
//             (0: raw or not told), 2 zero bytes, u32 CRC32C of the frame (0 when sealed)
//   payloads  the frames, in order: data (not sealed), or ciphertext then tag (sealed). Raw frames
//             of an unsealed record lie back to back: such a value is one contiguous run of bytes.
//
// A folded record (head flag bit 0) holds, in its frames, the chunk manifest of its value
// (fold/manifest.hpp) instead of the value; its meta section holds the value's size.
// Compressed frames were compressed with the zstd dictionary the head names (0: none).
//
// Every multi-byte field is little-endian. record_view::parse validates every field and the head
// checksum before anything else reads the record, and never reads outside the span it was given.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>

#include <mmry/detail/crc32c.hpp>
#include <mmry/detail/describe.hpp>
#include <mmry/detail/le.hpp>
#include <mmry/error.hpp>
#include <mmry/format/meta.hpp>
#include <mmry/version.hpp>

namespace mmry {
inline namespace v1 {
namespace format {

inline constexpr std::uint32_t record_magic = 0x4345524d;  // "MREC"
inline constexpr std::size_t fixed_head_size = 64;
inline constexpr std::size_t salt_size = 16;
inline constexpr std::size_t key_id_size = 8;
inline constexpr std::size_t crypto_block_size = salt_size + key_id_size;
inline constexpr std::size_t table_entry_size = 12;
/// The part of a table entry bound into its frame's checksum or associated data (all but the CRC).
inline constexpr std::size_t bound_entry_size = 8;
inline constexpr std::size_t crc_size = 4;
inline constexpr std::size_t max_key_size = 64 * 1024;
inline constexpr std::size_t min_frame_size = 64;
inline constexpr std::size_t max_frame_size = 64 * 1024 * 1024;
inline constexpr std::uint64_t max_logical_size = std::uint64_t{1} << 48;

// Field offsets in the head.
namespace off {
inline constexpr std::size_t magic = 0, version = 4, cipher = 5, compressor = 6, flags = 7,
                             key_size = 8, frame_size = 12, frame_count = 16, crc = 20,
                             logical_size = 24, seq = 32, modified = 40, created = 48,
                             meta_size = 56, dictionary = 60, salt = 64, key_id = 80;
}  // namespace off

/// Head flag bits.
namespace flag {
inline constexpr std::uint8_t folded = 1;  ///< the frames hold a chunk manifest
inline constexpr std::uint8_t known = folded;
}  // namespace flag

/// Frame codec byte: stored raw, or compressed by the record's compressor.
enum class frame_codec_id : std::uint8_t { raw = 0 };

/// The decoded head of a record.
struct record_header {
    std::uint8_t version = format_version;
    std::uint8_t cipher_id = 0;
    std::uint8_t compressor_id = 0;
    std::uint32_t key_size = 0;
    std::uint32_t frame_size = 0;
    std::uint32_t frame_count = 0;
    std::uint32_t meta_size = 0;
    std::uint32_t dictionary = 0;    ///< id of the dictionary compressed frames need (0: none)
    bool folded = false;             ///< the frames hold a chunk manifest, not the value
    std::uint64_t logical_size = 0;  ///< bytes in the frames
    std::uint64_t seq = 0;
    std::int64_t modified_ns = 0;
    std::int64_t created_ns = 0;
    std::array<std::byte, salt_size> salt{};
    std::array<std::byte, key_id_size> key_id{};

    bool encrypted() const noexcept { return cipher_id != 0; }
    std::size_t head_size() const noexcept {
        return fixed_head_size + (encrypted() ? crypto_block_size : 0);
    }
    std::size_t meta_offset() const noexcept { return head_size() + key_size; }
    std::size_t table_offset() const noexcept { return meta_offset() + meta_size; }
    std::size_t payload_offset() const noexcept {
        return table_offset() + std::size_t{frame_count} * table_entry_size;
    }
    /// Logical bytes held by frame i.
    std::size_t frame_length(std::uint32_t i) const noexcept {
        const std::uint64_t begin = std::uint64_t{i} * frame_size;
        const std::uint64_t rest = logical_size - begin;
        return static_cast<std::size_t>(rest < frame_size ? rest : frame_size);
    }
};

/// Writes the head fields (not the checksum) of `h` at `p` (head_size() bytes).
inline void write_head(std::byte* p, const record_header& h) noexcept {
    using detail::store_le;
    store_le<std::uint32_t>(p + off::magic, record_magic);
    p[off::version] = std::byte{h.version};
    p[off::cipher] = std::byte{h.cipher_id};
    p[off::compressor] = std::byte{h.compressor_id};
    p[off::flags] = std::byte{h.folded ? flag::folded : std::uint8_t{0}};
    store_le<std::uint32_t>(p + off::key_size, h.key_size);
    store_le<std::uint32_t>(p + off::frame_size, h.frame_size);
    store_le<std::uint32_t>(p + off::frame_count, h.frame_count);
    store_le<std::uint32_t>(p + off::crc, 0);
    store_le<std::uint64_t>(p + off::logical_size, h.logical_size);
    store_le<std::uint64_t>(p + off::seq, h.seq);
    store_le<std::int64_t>(p + off::modified, h.modified_ns);
    store_le<std::int64_t>(p + off::created, h.created_ns);
    store_le<std::uint32_t>(p + off::meta_size, h.meta_size);
    store_le<std::uint32_t>(p + off::dictionary, h.dictionary);
    if (h.encrypted()) {
        for (std::size_t i = 0; i < salt_size; ++i) p[off::salt + i] = h.salt[i];
        for (std::size_t i = 0; i < key_id_size; ++i) p[off::key_id + i] = h.key_id[i];
    }
}

/// The checksum of a record's head, key and frame table (all but the checksum field itself).
inline std::uint32_t head_checksum(std::span<const std::byte> record, std::size_t payload_offset) {
    return detail::crc32c(
        {record.first(off::crc),
         record.subspan(off::crc + crc_size, payload_offset - off::crc - crc_size)});
}

/// Recomputes and stores the head checksum; call after every change to head, key or table.
inline void seal_head(std::span<std::byte> record, std::size_t payload_offset) {
    detail::store_le<std::uint32_t>(record.data() + off::crc,
                                    head_checksum(record, payload_offset));
}

/// One entry of the frame table.
struct frame_entry {
    std::uint32_t stored_size = 0;
    std::uint8_t codec = 0;
    std::uint8_t level = 0;  ///< the compression level the compressor reported (0: raw, unknown)
    std::uint32_t crc = 0;   ///< CRC32C of an unsealed frame's binding and data; 0 when sealed
};

/// A validated, read-only view of one record. Holds only pointers into the given span.
class record_view {
  public:
    /// Parses and validates `record` (exactly the record's bytes). `key` names the record in
    /// errors (empty: a record not yet in the store); `tag_size` is the cipher's tag length, used
    /// when the record is encrypted. Throws errc::corrupt or errc::version_mismatch.
    static record_view parse(std::span<const std::byte> record, std::string_view key,
                             std::size_t tag_size = 16) {
        using detail::load_le;
        record_view v;
        v.bytes_ = record;
        // Messages are built only on failure: parse is on every read's path.
        auto what = [&] { return key.empty() ? std::string("(unnamed)") : detail::quote(key); };
        auto fail = [&](const std::string& why) -> record_view {
            throw error(errc::corrupt, "record " + what() + ": " + why);
        };
        if (record.size() < fixed_head_size)
            return fail("is " + std::to_string(record.size()) + " bytes, shorter than the " +
                        std::to_string(fixed_head_size) + "-byte head");
        const std::byte* p = record.data();
        if (load_le<std::uint32_t>(p + off::magic) != record_magic) return fail("bad magic number");
        auto& h = v.header_;
        h.version = static_cast<std::uint8_t>(p[off::version]);
        h.cipher_id = static_cast<std::uint8_t>(p[off::cipher]);
        h.compressor_id = static_cast<std::uint8_t>(p[off::compressor]);
        h.key_size = load_le<std::uint32_t>(p + off::key_size);
        h.frame_size = load_le<std::uint32_t>(p + off::frame_size);
        h.frame_count = load_le<std::uint32_t>(p + off::frame_count);
        h.logical_size = load_le<std::uint64_t>(p + off::logical_size);
        h.seq = load_le<std::uint64_t>(p + off::seq);
        h.modified_ns = load_le<std::int64_t>(p + off::modified);
        h.created_ns = load_le<std::int64_t>(p + off::created);
        h.meta_size = load_le<std::uint32_t>(p + off::meta_size);
        // Bounds first (in 64-bit arithmetic that cannot overflow), so the checksum below reads
        // only inside the record.
        const std::uint64_t table_end = std::uint64_t{h.head_size()} + h.key_size + h.meta_size +
                                        std::uint64_t{h.frame_count} * table_entry_size;
        if (table_end > record.size())
            return fail("head declares " + std::to_string(table_end) +
                        " bytes of head, key, meta section and frame table, but the record has " +
                        std::to_string(record.size()));
        const std::uint32_t stored_crc = load_le<std::uint32_t>(p + off::crc);
        const std::uint32_t crc = head_checksum(record, static_cast<std::size_t>(table_end));
        if (stored_crc != crc)
            return fail("head checksum mismatch (stored " + hex(stored_crc) + ", computed " +
                        hex(crc) + ")");
        if (h.version != format_version)
            throw error(errc::version_mismatch,
                        "record " + what() + " has format version " + std::to_string(h.version) +
                            ", this build reads version " + std::to_string(format_version));
        const auto flags = std::to_integer<std::uint8_t>(p[off::flags]);
        if ((flags & ~flag::known) != 0)
            return fail("unknown flags " + std::to_string(static_cast<int>(flags)));
        h.folded = (flags & flag::folded) != 0;
        h.dictionary = load_le<std::uint32_t>(p + off::dictionary);
        if (h.key_size == 0 || h.key_size > max_key_size)
            return fail("key size " + std::to_string(h.key_size) + " out of range");
        const std::size_t mac = h.encrypted() ? meta_mac_size : 0;
        if (h.meta_size < meta_fixed_size + 6 + mac || h.meta_size > max_meta_size)
            return fail("meta section size " + std::to_string(h.meta_size) + " out of range");
        v.meta_ = meta_view::parse(record.subspan(h.meta_offset(), h.meta_size - mac),
                                   key.empty() ? v.key() : key, h.folded);
        if (h.folded && v.meta_.folded_size() > max_logical_size)
            return fail("folded value size " + std::to_string(v.meta_.folded_size()) +
                        " out of range");
        if (h.frame_size < min_frame_size || h.frame_size > max_frame_size)
            return fail("frame size " + std::to_string(h.frame_size) + " out of range");
        if (h.logical_size > max_logical_size)
            return fail("logical size " + std::to_string(h.logical_size) + " out of range");
        const std::uint64_t frames = (h.logical_size + h.frame_size - 1) / h.frame_size;
        if (frames != h.frame_count)
            return fail("frame count " + std::to_string(h.frame_count) + " does not match " +
                        std::to_string(h.logical_size) + " bytes in frames of " +
                        std::to_string(h.frame_size));
        if (h.encrypted()) {
            for (std::size_t i = 0; i < salt_size; ++i) h.salt[i] = p[off::salt + i];
            for (std::size_t i = 0; i < key_id_size; ++i) h.key_id[i] = p[off::key_id + i];
        }
        const std::size_t overhead = h.encrypted() ? tag_size : 0;
        std::uint64_t payload = 0;
        for (std::uint32_t i = 0; i < h.frame_count; ++i) {
            const std::byte* e = p + h.table_offset() + std::size_t{i} * table_entry_size;
            const frame_entry fe = v.entry(i);
            if (e[6] != std::byte{0} || e[7] != std::byte{0} || (fe.codec == 0 && fe.level != 0))
                return fail("frame " + std::to_string(i) + " table entry has nonzero padding");
            if (h.encrypted() && fe.crc != 0)
                return fail("frame " + std::to_string(i) + " of a sealed record has a checksum");
            const std::uint64_t raw = std::uint64_t{h.frame_length(i)} + overhead;
            if (fe.codec == 0 ? fe.stored_size != raw
                              : (fe.codec != h.compressor_id || h.compressor_id == 0 ||
                                 fe.stored_size <= overhead || fe.stored_size >= raw))
                return fail("frame " + std::to_string(i) + " has codec " +
                            std::to_string(fe.codec) + " and stored size " +
                            std::to_string(fe.stored_size) + ", inconsistent with its " +
                            std::to_string(h.frame_length(i)) + " logical bytes");
            payload += fe.stored_size;
        }
        if (h.dictionary != 0 && h.compressor_id == 0)
            return fail("names dictionary " + std::to_string(h.dictionary) +
                        " but has no compressor");
        if (table_end + payload != record.size())
            return fail("frames hold " + std::to_string(payload) + " bytes, but the record has " +
                        std::to_string(record.size() - table_end) + " bytes after its table");
        return v;
    }

    const record_header& header() const noexcept { return header_; }
    std::span<const std::byte> bytes() const noexcept { return bytes_; }
    std::string_view key() const noexcept {
        return {reinterpret_cast<const char*>(bytes_.data() + header_.head_size()),
                header_.key_size};
    }
    /// The record's meta section, validated (without the MAC of a sealed record).
    const meta_view& meta() const noexcept { return meta_; }
    /// Bytes of the value the record holds: for a folded record the meta section's value size,
    /// for any other the bytes in its frames.
    std::uint64_t value_size() const noexcept {
        return header_.folded ? meta_.folded_size() : header_.logical_size;
    }
    /// The meta section's bytes, MAC included.
    std::span<const std::byte> meta_bytes() const noexcept {
        return bytes_.subspan(header_.meta_offset(), header_.meta_size);
    }
    frame_entry entry(std::uint32_t i) const noexcept {
        const std::byte* e =
            bytes_.data() + header_.table_offset() + std::size_t{i} * table_entry_size;
        return {detail::load_le<std::uint32_t>(e), static_cast<std::uint8_t>(e[4]),
                static_cast<std::uint8_t>(e[5]), detail::load_le<std::uint32_t>(e + 8)};
    }
    /// The bound part of frame i's table entry (all but its CRC).
    std::span<const std::byte, bound_entry_size> entry_bytes(std::uint32_t i) const noexcept {
        return std::span<const std::byte, bound_entry_size>(
            bytes_.data() + header_.table_offset() + std::size_t{i} * table_entry_size,
            bound_entry_size);
    }
    /// Byte offset (in the record) of frame i's payload. O(i): a prefix sum over the table.
    std::size_t payload_offset(std::uint32_t i) const noexcept {
        std::size_t at = header_.payload_offset();
        for (std::uint32_t j = 0; j < i; ++j) at += entry(j).stored_size;
        return at;
    }

  private:
    static std::string hex(std::uint32_t v) { return detail::hex(v); }

    std::span<const std::byte> bytes_;
    record_header header_;
    meta_view meta_;
};

}  // namespace format
}  // namespace v1
}  // namespace mmry
