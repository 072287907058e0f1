#pragma once
// The frame codec: turns a value into a record (cut into frames; each frame compressed when that
// pays, then sealed by the cipher or checksummed) and back, frame by frame.
//
// Every frame is bound to its place: the associated data of a sealed frame (and the input of an
// unsealed frame's CRC32C) holds the store id, the record's head and key, the frame number and the
// frame's table entry. A frame altered, moved to another position, or copied from another record
// or store fails to authenticate.
//
// Thread-safety: const member functions may be called from any number of threads at once; each
// thread uses its own cipher context and scratch buffers.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <cryptopp/osrng.h>
#include <cryptopp/secblock.h>

#include <mmry/bytes.hpp>
#include <mmry/detail/crc32c.hpp>
#include <mmry/detail/describe.hpp>
#include <mmry/detail/key_schedule.hpp>
#include <mmry/detail/le.hpp>
#include <mmry/error.hpp>
#include <mmry/format/record.hpp>

namespace mmry {
inline namespace v1 {
namespace detail {

template <class Compressor, class Cipher>
class frame_codec {
    static constexpr bool sealed = Cipher::tag_size > 0;
    static constexpr std::size_t overhead = sealed ? Cipher::tag_size : 0;

  public:
    /// `master` is the store's key material (empty for cipher::none).
    frame_codec(const store_id& sid, CryptoPP::SecByteBlock master, std::uint32_t frame_size)
        : sid_(sid), master_(std::move(master)), frame_size_(frame_size) {
        if constexpr (sealed) {
            key_id_ = detail::key_id(master_);
            CryptoPP::AutoSeededRandomPool rng;
            rng.GenerateBlock(reinterpret_cast<CryptoPP::byte*>(session_salt_.data()),
                              session_salt_.size());
        }
    }

    std::uint32_t frame_size() const noexcept { return frame_size_; }
    const std::array<std::byte, format::key_id_size>& key_id() const noexcept { return key_id_; }

    /// Encodes `value` under `key` as a complete record into `out`.
    void encode(std::string_view key, byte_view value, std::uint64_t seq, std::int64_t now_ns,
                bytes& out) const {
        format::record_header h;
        h.cipher_id = Cipher::id;
        h.compressor_id = Compressor::id;
        h.key_size = static_cast<std::uint32_t>(key.size());
        h.frame_size = frame_size_;
        h.frame_count = static_cast<std::uint32_t>((value.size() + frame_size_ - 1) / frame_size_);
        h.logical_size = value.size();
        h.seq = seq;
        h.modified_ns = h.created_ns = now_ns;
        if constexpr (sealed) {
            h.salt = session_salt_;
            h.key_id = key_id_;
        }
        out.resize(h.payload_offset() + value.size() + std::size_t{h.frame_count} * overhead);
        format::write_head(out.data(), h);
        std::memcpy(out.data() + h.head_size(), key.data(), key.size());

        auto& ctx = context(h);
        auto& aad = scratch(aad_slot);
        const std::size_t aad_prefix = build_aad_prefix(aad, out, h);
        auto& packed = scratch(frame_slot);
        packed.resize(std::min<std::size_t>(frame_size_, value.size()));

        std::size_t at = h.payload_offset();
        for (std::uint32_t i = 0; i < h.frame_count; ++i) {
            const auto src = value.subspan(std::size_t{i} * frame_size_, h.frame_length(i));
            // Keep the compressed form only when it is strictly smaller than the raw frame.
            std::size_t packed_size =
                src.size() > 1 ? Compressor::compress(src, std::span(packed).first(src.size() - 1))
                               : 0;
            const bool compressed = packed_size > 0 && packed_size < src.size();
            const byte_view plain = compressed ? byte_view(packed).first(packed_size) : src;
            const auto stored = static_cast<std::uint32_t>(plain.size() + overhead);
            std::byte* entry =
                out.data() + h.table_offset() + std::size_t{i} * format::table_entry_size;
            store_le<std::uint32_t>(entry, stored);
            entry[4] = std::byte{compressed ? Compressor::id : std::uint8_t{0}};
            entry[5] = entry[6] = entry[7] = std::byte{0};
            const byte_view frame_aad = finish_aad(aad, aad_prefix, i, entry);
            std::byte* dst = out.data() + at;
            if constexpr (sealed) {
                store_le<std::uint32_t>(entry + 8, 0);
                ctx.seal(nonce(h.seq, i), frame_aad, plain, std::span(dst, stored));
            } else {
                std::memcpy(dst, plain.data(), plain.size());
                store_le<std::uint32_t>(entry + 8, crc32c({frame_aad, plain}));
            }
            at += stored;
        }
        out.resize(at);
        format::seal_head(out, h.payload_offset());
    }

    /// Parses `record` and checks that it belongs to this store's composition and key, and holds
    /// `key`. Throws errc::corrupt, version_mismatch, policy_mismatch or wrong_key.
    format::record_view open(std::span<const std::byte> record, std::string_view key) const {
        const auto v = format::record_view::parse(record, key, Cipher::tag_size);
        const auto& h = v.header();
        if (h.cipher_id != Cipher::id || h.compressor_id != Compressor::id)
            throw error(errc::policy_mismatch,
                        "record " + quote(key) + " was written with cipher id " +
                            std::to_string(h.cipher_id) + " and compressor id " +
                            std::to_string(h.compressor_id) + ", the store uses cipher '" +
                            std::string(Cipher::name) + "' (id " + std::to_string(Cipher::id) +
                            ") and compressor '" + std::string(Compressor::name) + "' (id " +
                            std::to_string(Compressor::id) + ")");
        if (v.key() != key)
            throw error(errc::corrupt,
                        "record found under key " + quote(key) + " holds key " + quote(v.key()));
        if constexpr (sealed) {
            if (h.key_id != key_id_)
                throw error(errc::wrong_key,
                            "authentication failed for key " + quote(key) +
                                ": the record was sealed under another key (key id " +
                                hex(std::span<const std::byte>(h.key_id)) +
                                ", this store's key id " +
                                hex(std::span<const std::byte>(key_id_)) + ")");
        }
        return v;
    }

    /// Decodes value bytes [offset, offset + out.size()) of an opened record into `out`, touching
    /// only the frames that range covers. The range must lie inside the value.
    void decode(const format::record_view& v, std::uint64_t offset,
                std::span<std::byte> out) const {
        if (out.empty()) return;
        const auto& h = v.header();
        auto& ctx = context(h);
        auto& aad = scratch(aad_slot);
        const std::size_t aad_prefix = build_aad_prefix(aad, v.bytes(), h);
        auto& whole = scratch(frame_slot);
        auto& packed = scratch(packed_slot);

        const auto first = static_cast<std::uint32_t>(offset / h.frame_size);
        const auto last = static_cast<std::uint32_t>((offset + out.size() - 1) / h.frame_size);
        std::size_t at = v.payload_offset(first);
        std::size_t written = 0;
        for (std::uint32_t i = first; i <= last; ++i) {
            const auto entry = v.entry(i);
            const auto payload = v.bytes().subspan(at, entry.stored_size);
            at += entry.stored_size;
            const std::size_t length = h.frame_length(i);
            const std::uint64_t frame_begin = std::uint64_t{i} * h.frame_size;
            const std::size_t skip =
                offset > frame_begin ? static_cast<std::size_t>(offset - frame_begin) : 0;
            const std::size_t take = std::min(length - skip, out.size() - written);
            // Decode straight into the caller's buffer when the whole frame is wanted.
            const bool direct = skip == 0 && take == length;
            std::span<std::byte> dst =
                direct ? out.subspan(written, length) : (whole.resize(length), std::span(whole));
            decode_frame(v, ctx, aad, aad_prefix, i, entry, payload, dst, packed);
            if (!direct) std::memcpy(out.data() + written, whole.data() + skip, take);
            written += take;
        }
    }

    /// The value of an opened unsealed record whose frames are all raw, as the contiguous run of
    /// its payloads, after checking every frame's CRC. Throws errc::corrupt on a mismatch and
    /// errc::invalid_argument when a frame is compressed.
    byte_view contiguous(const format::record_view& v) const requires(!sealed) {
        const auto& h = v.header();
        auto& aad = scratch(aad_slot);
        const std::size_t aad_prefix = build_aad_prefix(aad, v.bytes(), h);
        std::size_t at = h.payload_offset();
        for (std::uint32_t i = 0; i < h.frame_count; ++i) {
            const auto entry = v.entry(i);
            if (entry.codec != 0)
                throw error(errc::invalid_argument,
                            where(v, i) + " is compressed: only raw values can be viewed in place");
            const auto data = v.bytes().subspan(at, entry.stored_size);
            const byte_view frame_aad = finish_aad(aad, aad_prefix, i, v.entry_bytes(i).data());
            check_crc(v, i, entry, frame_aad, data);
            at += entry.stored_size;
        }
        return v.bytes().subspan(h.payload_offset(), static_cast<std::size_t>(h.logical_size));
    }

  private:
    enum slot { aad_slot, frame_slot, packed_slot, slot_count };

    static void check_crc(const format::record_view& v, std::uint32_t i, format::frame_entry entry,
                          byte_view frame_aad, byte_view data) {
        const std::uint32_t computed = crc32c({frame_aad, data});
        if (entry.crc != computed)
            throw error(errc::corrupt, where(v, i) + ": checksum mismatch (stored " +
                                           hex(entry.crc) + ", computed " + hex(computed) +
                                           "): the frame was altered, or moved");
    }

    static bytes& scratch(slot s) {
        thread_local std::array<bytes, slot_count> buffers;
        return buffers[s];
    }
    // The calling thread's cipher context, keyed with the subkey of the record's session. The key
    // schedule (HKDF, cipher setup) runs only when the session, store or key differs from the
    // thread's last record, so consecutive records of one session cost no rekeying.
    auto& context(const format::record_header& h) const {
        if constexpr (sealed) {
            struct keyed_context {
                typename Cipher::context ctx;
                std::array<std::byte, format::key_id_size + store_id_size + format::salt_size>
                    keyed_for{};
                bool keyed = false;
            };
            thread_local keyed_context t;
            std::array<std::byte, format::key_id_size + store_id_size + format::salt_size> want;
            std::memcpy(want.data(), key_id_.data(), key_id_.size());
            std::memcpy(want.data() + key_id_.size(), sid_.data(), sid_.size());
            std::memcpy(want.data() + key_id_.size() + sid_.size(), h.salt.data(), h.salt.size());
            if (!t.keyed || t.keyed_for != want) {
                CryptoPP::SecByteBlock subkey(32);
                auto out =
                    std::span<std::byte, 32>(reinterpret_cast<std::byte*>(subkey.data()), 32);
                session_subkey(master_, Cipher::id, sid_, h.salt, out);
                t.keyed = false;
                t.ctx.rekey(out);
                t.keyed_for = want;
                t.keyed = true;
            }
            return t.ctx;
        } else {
            static constexpr int no_context = 0;
            return no_context;
        }
    }

    // Frame i of the record with sequence number seq: unique under one session subkey.
    static std::array<std::byte, 12> nonce(std::uint64_t seq, std::uint32_t frame) {
        std::array<std::byte, 12> n{};
        store_le<std::uint64_t>(n.data(), seq);
        store_le<std::uint32_t>(n.data() + 8, frame);
        return n;
    }

    // Associated data: store id, head (all but checksum and created time), crypto block, key;
    // then per frame: frame number and table entry.
    std::size_t build_aad_prefix(bytes& aad, std::span<const std::byte> rec,
                                 const format::record_header& h) const {
        const std::size_t head = h.head_size();
        aad.clear();
        aad.insert(aad.end(), sid_.begin(), sid_.end());
        aad.insert(aad.end(), rec.begin(), rec.begin() + format::off::crc);
        aad.insert(aad.end(), rec.begin() + format::off::crc + format::crc_size,
                   rec.begin() + format::off::created);
        aad.insert(aad.end(), rec.begin() + format::fixed_head_size,
                   rec.begin() + head + h.key_size);
        const std::size_t prefix = aad.size();
        aad.resize(prefix + 4 + format::bound_entry_size);
        return prefix;
    }
    static byte_view finish_aad(bytes& aad, std::size_t prefix, std::uint32_t frame,
                                const std::byte* entry) {
        store_le<std::uint32_t>(aad.data() + prefix, frame);
        std::memcpy(aad.data() + prefix + 4, entry, format::bound_entry_size);
        return aad;
    }

    template <class Ctx>
    void decode_frame(const format::record_view& v, Ctx& ctx, bytes& aad, std::size_t aad_prefix,
                      std::uint32_t i, format::frame_entry entry, byte_view payload,
                      std::span<std::byte> dst, bytes& packed) const {
        const byte_view frame_aad = finish_aad(aad, aad_prefix, i, v.entry_bytes(i).data());
        const bool compressed = entry.codec != 0;
        const std::size_t plain_size = payload.size() - overhead;
        std::span<std::byte> plain = dst;
        if (compressed) {
            packed.resize(plain_size);
            plain = packed;
        }
        if constexpr (sealed) {
            if (!ctx.open(nonce(v.header().seq, i), frame_aad, payload, plain.first(plain_size)))
                throw error(errc::authentication_failed,
                            where(v, i) +
                                ": authentication tag mismatch: the frame was altered, "
                                "or moved from another record or position");
        } else {
            const auto data = payload.first(plain_size);
            check_crc(v, i, entry, frame_aad, data);
            if (!compressed)
                std::memcpy(dst.data(), data.data(), data.size());
            else
                std::memcpy(plain.data(), data.data(), data.size());
        }
        if (compressed) {
            std::size_t n = 0;
            try {
                n = Compressor::decompress(byte_view(plain).first(plain_size), dst);
            } catch (const std::exception& e) {
                throw error(errc::corrupt, where(v, i) + ": " + e.what());
            }
            if (n != dst.size())
                throw error(errc::corrupt, where(v, i) + ": decompressed to " + std::to_string(n) +
                                               " bytes, expected " + std::to_string(dst.size()));
        }
    }

    static std::string where(const format::record_view& v, std::uint32_t i) {
        return "key " + quote(v.key()) + ", frame " + std::to_string(i) + " of " +
               std::to_string(v.header().frame_count);
    }
    store_id sid_;
    CryptoPP::SecByteBlock master_;
    std::uint32_t frame_size_;
    std::array<std::byte, format::key_id_size> key_id_{};
    std::array<std::byte, format::salt_size> session_salt_{};
};

}  // namespace detail
}  // namespace v1
}  // namespace mmry
