#pragma once
// What binds a record's frames and meta section to their place (used by detail::frame_codec):
// the nonce and associated data of a sealed frame, the CRC32C of an unsealed one, the MAC of the
// meta section. Each covers the store id, the record's head and key, and for a frame its number
// and table entry, so that a frame altered, moved to another position, or copied from another
// record or store fails its check.
//
// Thread-safety: free functions over their arguments; no shared state.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include <cryptopp/hmac.h>
#include <cryptopp/secblock.h>
#include <cryptopp/sha.h>

#include <mmry/bytes.hpp>
#include <mmry/detail/crc32c.hpp>
#include <mmry/detail/describe.hpp>
#include <mmry/detail/key_schedule.hpp>
#include <mmry/detail/le.hpp>
#include <mmry/format/record.hpp>

namespace mmry {
inline namespace v1 {
namespace detail {

/// The nonce of frame `frame` of the record with sequence number `seq`: unique under one session
/// subkey.
inline std::array<std::byte, 12> frame_nonce(std::uint64_t seq, std::uint32_t frame) {
    std::array<std::byte, 12> n{};
    store_le<std::uint64_t>(n.data(), seq);
    store_le<std::uint32_t>(n.data() + 8, frame);
    return n;
}

/// Writes into `aad` what every frame's associated data starts with: store id, head (all but its
/// checksum and created time), crypto block and key. Not the meta section, which is stamped at
/// commit and has a MAC of its own. Returns the prefix's size; `aad` is sized for frame_aad().
inline std::size_t frame_aad_prefix(bytes& aad, const store_id& sid, std::span<const std::byte> rec,
                                    const format::record_header& h) {
    const std::size_t head = h.head_size();
    aad.clear();
    aad.insert(aad.end(), sid.begin(), sid.end());
    aad.insert(aad.end(), rec.begin(), rec.begin() + format::off::crc);
    aad.insert(aad.end(), rec.begin() + format::off::crc + format::crc_size,
               rec.begin() + format::off::created);
    aad.insert(aad.end(), rec.begin() + format::off::meta_size, rec.begin() + head + h.key_size);
    const std::size_t prefix = aad.size();
    aad.resize(prefix + 4 + format::bound_entry_size);
    return prefix;
}

/// Completes `aad` (made by frame_aad_prefix) for one frame: its number and table entry.
inline byte_view frame_aad(bytes& aad, std::size_t prefix, std::uint32_t frame,
                           const std::byte* entry) {
    store_le<std::uint32_t>(aad.data() + prefix, frame);
    std::memcpy(aad.data() + prefix + 4, entry, format::bound_entry_size);
    return aad;
}

/// The CRC32C of an unsealed frame: over the same bytes as a sealed frame's associated data, then
/// the data, fed piece by piece from the record (no copy into a buffer).
inline std::uint32_t frame_crc(const store_id& sid, const format::record_view& v, std::uint32_t i,
                               byte_view data) {
    const auto rec = v.bytes();
    const auto& h = v.header();
    std::array<std::byte, 4> frame;
    store_le<std::uint32_t>(frame.data(), i);
    return crc32c(
        {sid, rec.first(format::off::crc),
         rec.subspan(format::off::crc + format::crc_size,
                     format::off::created - format::off::crc - format::crc_size),
         rec.subspan(format::off::meta_size, h.head_size() + h.key_size - format::off::meta_size),
         frame, v.entry_bytes(i), data});
}

/// The MAC of a sealed record's meta section: HMAC-SHA256 (truncated) under `key` of store id,
/// head without its checksum, key and meta section without the MAC.
inline std::array<std::byte, format::meta_mac_size> meta_mac(const CryptoPP::SecByteBlock& key,
                                                             const store_id& sid,
                                                             std::span<const std::byte> rec,
                                                             const format::record_header& h) {
    CryptoPP::HMAC<CryptoPP::SHA256> mac(key.data(), key.size());
    auto feed = [&](std::span<const std::byte> b) {
        mac.Update(reinterpret_cast<const CryptoPP::byte*>(b.data()), b.size());
    };
    feed(sid);
    feed(rec.first(format::off::crc));
    feed(rec.subspan(format::off::crc + format::crc_size, h.table_offset() - format::meta_mac_size -
                                                              format::off::crc - format::crc_size));
    CryptoPP::byte digest[CryptoPP::SHA256::DIGESTSIZE];
    mac.Final(digest);
    std::array<std::byte, format::meta_mac_size> out;
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = std::byte{digest[i]};
    return out;
}

/// "key K, frame i of n": where a frame's error happened.
inline std::string frame_where(const format::record_view& v, std::uint32_t i) {
    return "key " + quote(v.key()) + ", frame " + std::to_string(i) + " of " +
           std::to_string(v.header().frame_count);
}

}  // namespace detail
}  // namespace v1
}  // namespace mmry
