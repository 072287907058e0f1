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
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <cryptopp/misc.h>
#include <cryptopp/osrng.h>
#include <cryptopp/secblock.h>
#include <cryptopp/siphash.h>

#include <mmry/bytes.hpp>
#include <mmry/codec/frame_binding.hpp>
#include <mmry/compress/dictionary.hpp>
#include <mmry/detail/content_hash.hpp>
#include <mmry/detail/crc32c.hpp>
#include <mmry/detail/describe.hpp>
#include <mmry/detail/key_schedule.hpp>
#include <mmry/detail/le.hpp>
#include <mmry/error.hpp>
#include <mmry/format/policy_names.hpp>
#include <mmry/format/record.hpp>
#include <mmry/put_options.hpp>

namespace mmry {
inline namespace v1 {
namespace detail {

/// What an encode is asked to do beyond framing a value.
struct encode_extra {
    /// Compress frames with this dictionary (nullptr: none; ignored by a compressor that takes
    /// no dictionaries).
    const compress::dictionary* dictionary = nullptr;
    /// The frames hold the chunk manifest of this value (a folded record).
    std::optional<format::folded_info> folded;
    /// The content hash of the value, already computed (a folded record's frames are not it).
    std::optional<format::hash_bytes> content_hash;
};

template <class Compressor, class Cipher>
class frame_codec {
    static constexpr bool sealed = Cipher::tag_size > 0;
    static constexpr std::size_t overhead = sealed ? Cipher::tag_size : 0;

  public:
    /// True when the compressor can compress with a trained dictionary.
    static constexpr bool takes_dictionaries = requires { Compressor::dictionaries; };

    /// `master` is the store's key material (empty for cipher::none).
    frame_codec(const store_id& sid, CryptoPP::SecByteBlock master, std::uint32_t frame_size)
        : sid_(sid), master_(std::move(master)), frame_size_(frame_size) {
        // Pieces of manifests are named apart from chunks of values, so that no value's chunk
        // can share an id with a piece: HMAC-SHA256 under a public key without a cipher.
        constexpr std::string_view piece_label = "mmry/v1/piece-id";
        piece_hasher_ = content_hasher(CryptoPP::SecByteBlock(
            reinterpret_cast<const CryptoPP::byte*>(piece_label.data()), piece_label.size()));
        if constexpr (sealed) {
            hasher_ = content_hasher(purpose_key(master_, "content-hash", sid_));
            chunk_hasher_ = content_hasher(purpose_key(master_, "chunk-id", sid_));
            backup_hasher_ = content_hasher(purpose_key(master_, "backup-check", sid_));
            piece_hasher_ = content_hasher(purpose_key(master_, "piece-id", sid_));
            const auto seed = purpose_key(master_, "gear-table", sid_);
            std::memcpy(gear_seed_.data(), seed.data(), std::min(seed.size(), gear_seed_.size()));
            meta_key_ = purpose_key(master_, "meta-mac", sid_);
            binding_key_ = purpose_key(master_, "entry-binding", sid_);
            key_id_ = detail::key_id(master_);
            CryptoPP::AutoSeededRandomPool rng;
            rng.GenerateBlock(reinterpret_cast<CryptoPP::byte*>(session_salt_.data()),
                              session_salt_.size());
        }
    }

    std::uint32_t frame_size() const noexcept { return frame_size_; }

    /// What binds an index entry to the record it names, in an encrypted store: SipHash-2-4
    /// under a key of the store's over the record's key and sequence number (never 0); 0 in a
    /// store without a cipher, where there is no key to bind under.
    std::uint64_t binding(std::string_view key, std::uint64_t seq) const {
        if constexpr (sealed) {
            CryptoPP::SipHash<2, 4, false> mac(binding_key_.data(), 16);
            mac.Update(reinterpret_cast<const CryptoPP::byte*>(&seq), sizeof seq);
            mac.Update(reinterpret_cast<const CryptoPP::byte*>(key.data()), key.size());
            std::uint64_t out = 0;
            mac.Final(reinterpret_cast<CryptoPP::byte*>(&out));
            return out == 0 ? 1 : out;
        } else {
            (void)key;
            (void)seq;
            return 0;
        }
    }
    const std::array<std::byte, format::key_id_size>& key_id() const noexcept { return key_id_; }

    const content_hasher& hasher() const noexcept { return hasher_; }
    /// Names chunks: SHA-256, or HMAC-SHA256 under a key of the store's when it is encrypted.
    const content_hasher& chunk_hasher() const noexcept { return chunk_hasher_; }
    /// Names pieces of manifests: HMAC-SHA256 under a key of the store's, or a public one.
    const content_hasher& piece_hasher() const noexcept { return piece_hasher_; }
    /// Checks a backup's snapshot: SHA-256, or HMAC-SHA256 under a key of the store's when it is
    /// encrypted (so that whoever lacks the key cannot make a snapshot restore accepts).
    const content_hasher& backup_hasher() const noexcept { return backup_hasher_; }
    /// The seed of the chunker's gear table: derived from the store key when the store is
    /// encrypted, zero otherwise.
    const std::array<std::byte, 32>& gear_seed() const noexcept { return gear_seed_; }

    /// Encodes `value` under `key` as a complete record into `out`, with the meta section for
    /// `o` (content hashed when `hash_content`). Version, chain hash and created time are left for
    /// stamp() to fill in at commit.
    void encode(std::string_view key, byte_view value, std::uint64_t seq, std::int64_t now_ns,
                const put_options& o, bool hash_content, bytes& out,
                const encode_extra& extra = {}) const {
        const compress::dictionary* dict = takes_dictionaries ? extra.dictionary : nullptr;
        format::record_header h;
        h.folded = extra.folded.has_value();
        h.dictionary = dict ? dict->id() : 0;
        h.meta_size = static_cast<std::uint32_t>(format::meta_size(o, sealed, h.folded));
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
        format::write_meta(out.data() + h.meta_offset(), o, hash_content ? hasher_.kind() : 0,
                           !hash_content        ? format::hash_bytes{}
                           : extra.content_hash ? *extra.content_hash
                                                : hasher_.hash(value),
                           extra.folded);
        std::fill_n(out.data() + h.table_offset() - (sealed ? format::meta_mac_size : 0),
                    sealed ? format::meta_mac_size : 0, std::byte{0});

        auto& ctx = context(h);
        auto& aad = scratch(aad_slot);
        const std::size_t aad_prefix = frame_aad_prefix(aad, sid_, out, h);
        auto& packed = scratch(frame_slot);
        packed.resize(std::min<std::size_t>(frame_size_, value.size()));

        std::size_t at = h.payload_offset();
        for (std::uint32_t i = 0; i < h.frame_count; ++i) {
            const auto src = value.subspan(std::size_t{i} * frame_size_, h.frame_length(i));
            // Keep the compressed form only when it is strictly smaller than the raw frame.
            const std::size_t packed_size =
                src.size() > 1 ? compress(src, std::span(packed).first(src.size() - 1), dict) : 0;
            const bool compressed = packed_size > 0 && packed_size < src.size();
            const byte_view plain = compressed ? byte_view(packed).first(packed_size) : src;
            const auto stored = static_cast<std::uint32_t>(plain.size() + overhead);
            std::byte* entry =
                out.data() + h.table_offset() + std::size_t{i} * format::table_entry_size;
            store_le<std::uint32_t>(entry, stored);
            entry[4] = std::byte{compressed ? Compressor::id : std::uint8_t{0}};
            entry[5] = std::byte{compressed ? level_byte() : std::uint8_t{0}};
            entry[6] = entry[7] = std::byte{0};
            const byte_view bound = frame_aad(aad, aad_prefix, i, entry);
            std::byte* dst = out.data() + at;
            if constexpr (sealed) {
                store_le<std::uint32_t>(entry + 8, 0);
                ctx.seal(frame_nonce(h.seq, i), bound, plain, std::span(dst, stored));
            } else {
                std::memcpy(dst, plain.data(), plain.size());
                store_le<std::uint32_t>(entry + 8, crc32c({bound, plain}));
            }
            at += stored;
        }
        out.resize(at);
        format::seal_head(out, h.payload_offset());
    }

    /// Fills in what only the commit knows: the version, the version it replaces, the chain hash
    /// that follows `previous_chain`, and the created time; then the meta MAC (sealed records) and
    /// the head checksum. `record` was produced by encode() and parsed into `v`.
    void stamp(std::span<std::byte> record, const format::record_view& v, std::uint64_t version,
               std::uint64_t previous, const format::hash_bytes& previous_chain,
               std::int64_t created_ns) const {
        const auto& h = v.header();
        std::byte* meta = record.data() + h.meta_offset();
        store_le<std::uint64_t>(meta + format::meta_off::version, version);
        store_le<std::uint64_t>(meta + format::meta_off::previous, previous);
        const format::hash_bytes chain =
            v.meta().hash_kind() == 0 ? format::hash_bytes{}
                                      : hasher_.chain(previous_chain, v.meta().content_hash(),
                                                      version, previous, v.key());
        finish(record, v, chain, created_ns);
    }

    /// Stamps a rewritten record (recompress) exactly as the record `like` it replaces: the same
    /// version, previous version, chain hash and created time.
    void stamp_as(std::span<std::byte> record, const format::record_view& v,
                  const format::record_view& like) const {
        std::byte* meta = record.data() + v.header().meta_offset();
        store_le<std::uint64_t>(meta + format::meta_off::version, like.meta().version());
        store_le<std::uint64_t>(meta + format::meta_off::previous, like.meta().previous());
        finish(record, v, like.meta().chain_hash(), like.header().created_ns);
    }

    /// Checks the MAC of a sealed record's meta section (nothing to do for an unsealed one, whose
    /// head checksum covers it). Throws errc::authentication_failed.
    void check_meta(const format::record_view& v) const {
        if constexpr (sealed) {
            const auto& h = v.header();
            const auto mac = meta_mac(meta_key_, sid_, v.bytes(), h);
            const auto stored = v.meta_bytes().last(format::meta_mac_size);
            if (!CryptoPP::VerifyBufsEqual(reinterpret_cast<const CryptoPP::byte*>(mac.data()),
                                           reinterpret_cast<const CryptoPP::byte*>(stored.data()),
                                           mac.size()))
                throw error(errc::authentication_failed,
                            "key " + quote(v.key()) +
                                ": the meta section's MAC does not match: the record's head, key "
                                "or metadata was altered");
        }
    }

    /// Parses `record` and checks that it belongs to this store's composition and key, and holds
    /// `key`. Throws errc::corrupt, version_mismatch, policy_mismatch or wrong_key.
    format::record_view open(std::span<const std::byte> record, std::string_view key) const {
        const auto v = format::record_view::parse(record, key, Cipher::tag_size);
        const auto& h = v.header();
        if (h.cipher_id != Cipher::id || h.compressor_id != Compressor::id)
            throw error(errc::policy_mismatch,
                        "record " + quote(key) + " was written with cipher " +
                            format::describe_policy(3, h.cipher_id) + " and compressor " +
                            format::describe_policy(2, h.compressor_id) +
                            ", the store uses cipher '" + std::string(Cipher::name) + "' (id " +
                            std::to_string(Cipher::id) + ") and compressor '" +
                            std::string(Compressor::name) + "' (id " +
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
    /// `dict` is the dictionary the record's head names (nullptr when it names none); a record
    /// that needs another fails with errc::corrupt.
    void decode(const format::record_view& v, std::uint64_t offset, std::span<std::byte> out,
                const compress::dictionary* dict = nullptr) const {
        if (out.empty()) return;
        const auto& h = v.header();
        check_dictionary(v, dict);
        auto& ctx = context(h);
        auto& aad = scratch(aad_slot);
        const std::size_t aad_prefix = sealed ? frame_aad_prefix(aad, sid_, v.bytes(), h) : 0;
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
            decode_frame(v, ctx, aad, aad_prefix, i, entry, payload, dst, packed, dict);
            if (!direct) std::memcpy(out.data() + written, whole.data() + skip, take);
            written += take;
        }
    }

    /// The value of an opened unsealed record whose frames are all raw, as the contiguous run of
    /// its payloads, after checking every frame's CRC. Throws errc::corrupt on a mismatch and
    /// errc::invalid_argument when a frame is compressed.
    byte_view contiguous(const format::record_view& v) const requires(!sealed) {
        const auto& h = v.header();
        std::size_t at = h.payload_offset();
        for (std::uint32_t i = 0; i < h.frame_count; ++i) {
            const auto entry = v.entry(i);
            if (entry.codec != 0)
                throw error(errc::invalid_argument,
                            where(v, i) + " is compressed: only raw values can be viewed in place");
            const auto data = v.bytes().subspan(at, entry.stored_size);
            check_crc(v, i, entry, data);
            at += entry.stored_size;
        }
        return v.bytes().subspan(h.payload_offset(), static_cast<std::size_t>(h.logical_size));
    }

  private:
    enum slot { aad_slot, frame_slot, packed_slot, slot_count };

    void finish(std::span<std::byte> record, const format::record_view& v,
                const format::hash_bytes& chain, std::int64_t created_ns) const {
        const auto& h = v.header();
        std::byte* meta = record.data() + h.meta_offset();
        std::copy(chain.begin(), chain.end(), meta + format::meta_off::chain_hash);
        store_le<std::int64_t>(record.data() + format::off::created, created_ns);
        if constexpr (sealed) {
            const auto mac = meta_mac(meta_key_, sid_, record, h);
            std::copy(mac.begin(), mac.end(), meta + h.meta_size - format::meta_mac_size);
        }
        format::seal_head(record, h.payload_offset());
    }

    static std::size_t compress(byte_view src, std::span<std::byte> dst,
                                const compress::dictionary* dict) {
        if constexpr (takes_dictionaries)
            if (dict) return Compressor::compress(src, dst, *dict);
        return Compressor::compress(src, dst);
    }
    // The level a compressor that tells it used for the frame it just compressed, as the signed
    // byte the frame table keeps (0 when it does not tell).
    static std::uint8_t level_byte() noexcept {
        if constexpr (requires { Compressor::last_level(); }) {
            const int l = std::clamp(Compressor::last_level(), -128, 127);
            return static_cast<std::uint8_t>(static_cast<std::int8_t>(l));
        } else {
            return 0;
        }
    }
    static void check_dictionary(const format::record_view& v, const compress::dictionary* dict) {
        const std::uint32_t want = v.header().dictionary;
        if (want == 0) return;
        if (!takes_dictionaries || !dict || dict->id() != want)
            throw error(errc::corrupt,
                        "key " + quote(v.key()) + ": the record was compressed with dictionary " +
                            std::to_string(want) + ", which " +
                            (takes_dictionaries ? "the store does not have"
                                                : "compressor '" + std::string(Compressor::name) +
                                                      "' cannot use"));
    }

    void check_crc(const format::record_view& v, std::uint32_t i, format::frame_entry entry,
                   byte_view data) const {
        const std::uint32_t computed = frame_crc(sid_, v, i, data);
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

    template <class Ctx>
    void decode_frame(const format::record_view& v, Ctx& ctx, bytes& aad, std::size_t aad_prefix,
                      std::uint32_t i, format::frame_entry entry, byte_view payload,
                      std::span<std::byte> dst, bytes& packed,
                      const compress::dictionary* dict) const {
        const bool compressed = entry.codec != 0;
        const std::size_t plain_size = payload.size() - overhead;
        std::span<std::byte> plain = dst;
        if (compressed) {
            packed.resize(plain_size);
            plain = packed;
        }
        if constexpr (sealed) {
            const byte_view bound = frame_aad(aad, aad_prefix, i, v.entry_bytes(i).data());
            if (!ctx.open(frame_nonce(v.header().seq, i), bound, payload, plain.first(plain_size)))
                throw error(errc::authentication_failed,
                            where(v, i) +
                                ": authentication tag mismatch: the frame was altered, "
                                "or moved from another record or position");
        } else {
            (void)aad;
            (void)aad_prefix;
            const auto data = payload.first(plain_size);
            check_crc(v, i, entry, data);
            if (!compressed)
                std::memcpy(dst.data(), data.data(), data.size());
            else
                std::memcpy(plain.data(), data.data(), data.size());
        }
        if (compressed) {
            std::size_t n = 0;
            try {
                const byte_view in = byte_view(plain).first(plain_size);
                if constexpr (takes_dictionaries)
                    n = dict ? Compressor::decompress(in, dst, *dict)
                             : Compressor::decompress(in, dst);
                else
                    n = Compressor::decompress(in, dst);
            } catch (const std::exception& e) {
                throw error(errc::corrupt, where(v, i) + ": " + e.what());
            }
            if (n != dst.size())
                throw error(errc::corrupt, where(v, i) + ": decompressed to " + std::to_string(n) +
                                               " bytes, expected " + std::to_string(dst.size()));
        }
    }

    static std::string where(const format::record_view& v, std::uint32_t i) {
        return frame_where(v, i);
    }

    store_id sid_;
    CryptoPP::SecByteBlock master_;
    content_hasher hasher_;
    content_hasher chunk_hasher_;
    content_hasher piece_hasher_;
    content_hasher backup_hasher_;
    std::array<std::byte, 32> gear_seed_{};
    CryptoPP::SecByteBlock meta_key_;
    CryptoPP::SecByteBlock binding_key_;
    std::uint32_t frame_size_;
    std::array<std::byte, format::key_id_size> key_id_{};
    std::array<std::byte, format::salt_size> session_salt_{};
};

}  // namespace detail
}  // namespace v1
}  // namespace mmry
