#pragma once
// What mmry's fuzz targets share (docs/FUZZING.md): a reader of the fuzzer's bytes, the check
// that aborts on a finding, the fixed store ids and keys the record seeds are made under, the
// compositions and contents of the stores the import target and make_seeds build, and the
// re-sealing that lets a mutated record get past its checksums, tags and MAC.
//
// Every target catches mmry::error, the library's one failure channel, and nothing else: any other
// exception, an abort, a sanitizer report or a failed MMRY_FUZZ_CHECK is a finding.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <cryptopp/hmac.h>
#include <cryptopp/secblock.h>
#include <cryptopp/sha.h>

#include <mmry/bytes.hpp>
#include <mmry/cipher/aes256_gcm.hpp>
#include <mmry/detail/crc32c.hpp>
#include <mmry/detail/key_schedule.hpp>
#include <mmry/detail/le.hpp>
#include <mmry/error.hpp>
#include <mmry/format/bundle.hpp>
#include <mmry/format/record.hpp>

/// Aborts (a finding) with `what` when `cond` is false; `what` is evaluated only then.
#define MMRY_FUZZ_CHECK(cond, what)                                                      \
    do {                                                                                 \
        if (!(cond)) ::mmry_fuzz::finding(__FILE__, __LINE__, #cond, std::string(what)); \
    } while (false)

namespace mmry_fuzz {

using mmry::byte_view;
using mmry::bytes;
namespace format = mmry::format;

[[noreturn]] inline void finding(const char* file, int line, const char* cond,
                                 const std::string& what) {
    std::fprintf(stderr, "\n==mmry-fuzz== %s:%d: check failed: %s\n==mmry-fuzz== %s\n", file, line,
                 cond, what.c_str());
    std::abort();
}

/// True when the environment variable MMRY_FUZZ_VERBOSE is set: the targets then tell on stderr
/// what each input did (imported, refused and why), to check that seeds reach what they should.
inline bool verbose() {
    static const bool on = std::getenv("MMRY_FUZZ_VERBOSE") != nullptr;
    return on;
}

/// Reads the fuzzer's bytes front to back; past the end every read gives zeros.
class input {
  public:
    input(const std::uint8_t* data, std::size_t size)
        : bytes_(reinterpret_cast<const std::byte*>(data), size) {}

    bool empty() const noexcept { return at_ >= bytes_.size(); }
    std::size_t left() const noexcept { return bytes_.size() - at_; }
    std::uint8_t u8() noexcept {
        return empty() ? 0 : std::to_integer<std::uint8_t>(bytes_[at_++]);
    }
    std::uint16_t u16() noexcept {
        return static_cast<std::uint16_t>(u8() | (unsigned{u8()} << 8));
    }
    std::uint32_t u32() noexcept { return u16() | (std::uint32_t{u16()} << 16); }
    /// Up to n bytes (fewer at the end).
    byte_view take(std::size_t n) noexcept {
        n = std::min(n, left());
        const auto out = bytes_.subspan(at_, n);
        at_ += n;
        return out;
    }
    byte_view rest() noexcept { return take(left()); }

  private:
    byte_view bytes_;
    std::size_t at_ = 0;
};

inline bytes to_bytes(std::string_view s) {
    const auto v = mmry::as_bytes(s);
    return {v.begin(), v.end()};
}
inline std::string hex_of(byte_view b, std::size_t max = 64) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < b.size() && i < max; ++i) {
        const auto v = std::to_integer<unsigned>(b[i]);
        out += digits[v >> 4];
        out += digits[v & 15];
    }
    if (b.size() > max) out += "...";
    return out;
}

// ---- fixed identities ------------------------------------------------------------------------
// The record target builds its frame codecs under these, and make_seeds its record seeds: a seed
// then decodes under the target's "right" codec. The "wrong" ones differ in one byte, so that a
// CRC32C (which catches every burst of up to 32 bits) can never hold under both.

inline mmry::detail::store_id seed_store_id(bool wrong = false) {
    mmry::detail::store_id id{};
    for (std::size_t i = 0; i < id.size(); ++i) id[i] = std::byte(0x10 + i);
    if (wrong) id[0] ^= std::byte{1};
    return id;
}

/// 32 bytes of key material; the wrong key differs in its last byte.
inline bytes seed_key_material(bool wrong = false) {
    bytes k(32);
    for (std::size_t i = 0; i < k.size(); ++i) k[i] = std::byte(0xa0 + i);
    if (wrong) k[31] ^= std::byte{1};
    return k;
}

inline CryptoPP::SecByteBlock master_of(byte_view material) {
    return CryptoPP::SecByteBlock(reinterpret_cast<const CryptoPP::byte*>(material.data()),
                                  material.size());
}

/// The clock of every store the targets and make_seeds build: records are the same bytes on
/// every run.
inline std::chrono::system_clock::time_point fixed_clock() {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
}

// ---- re-sealing --------------------------------------------------------------------------------
// A mutated record fails its head checksum, then its frames' CRCs (unsealed) or tags and meta MAC
// (sealed), before any deeper code runs. These helpers do what a writer holding the store id (and,
// sealed, the key) would do: recompute them over whatever the record now holds. Sealed records
// are handled in "plain form": each sealed frame's payload holds its plaintext followed by 16
// bytes of room for the tag (unseal() turns a sealed record into that form, reseal() back).
// Only aes256_gcm is supported for sealed records (the cipher the targets use).

inline constexpr std::size_t tag_size = mmry::cipher::aes256_gcm::tag_size;

namespace detail {

/// The head, key, meta section and table end the record's head declares, when the record has
/// them; 0 when it is too short.
inline std::size_t declared_table_end(std::span<const std::byte> r) {
    namespace off = format::off;
    if (r.size() < format::fixed_head_size) return 0;
    const bool sealed = r[off::cipher] != std::byte{0};
    const std::uint64_t end =
        (sealed ? format::fixed_head_size + format::crypto_block_size : format::fixed_head_size) +
        std::uint64_t{mmry::detail::load_le<std::uint32_t>(r.data() + off::key_size)} +
        mmry::detail::load_le<std::uint32_t>(r.data() + off::meta_size) +
        std::uint64_t{mmry::detail::load_le<std::uint32_t>(r.data() + off::frame_count)} *
            format::table_entry_size;
    return end <= r.size() ? static_cast<std::size_t>(end) : 0;
}

/// Associated data of sealed frame i, as frame_codec builds it (and the CRC input of an unsealed
/// frame, without its data).
inline bytes frame_binding(const mmry::detail::store_id& sid, const format::record_view& v,
                           std::uint32_t i) {
    namespace off = format::off;
    const auto r = v.bytes();
    const auto& h = v.header();
    bytes out(sid.begin(), sid.end());
    out.insert(out.end(), r.begin(), r.begin() + off::crc);
    out.insert(out.end(), r.begin() + off::crc + format::crc_size, r.begin() + off::created);
    out.insert(out.end(), r.begin() + off::meta_size,
               r.begin() + static_cast<std::ptrdiff_t>(h.head_size() + h.key_size));
    std::array<std::byte, 4> frame{};
    mmry::detail::store_le<std::uint32_t>(frame.data(), i);
    out.insert(out.end(), frame.begin(), frame.end());
    const auto e = v.entry_bytes(i);
    out.insert(out.end(), e.begin(), e.end());
    return out;
}

inline std::array<std::byte, 12> frame_nonce(std::uint64_t seq, std::uint32_t i) {
    std::array<std::byte, 12> n{};
    mmry::detail::store_le<std::uint64_t>(n.data(), seq);
    mmry::detail::store_le<std::uint32_t>(n.data() + 8, i);
    return n;
}

inline mmry::cipher::aes256_gcm::context& keyed_context(const CryptoPP::SecByteBlock& master,
                                                        const mmry::detail::store_id& sid,
                                                        const format::record_header& h) {
    thread_local mmry::cipher::aes256_gcm::context ctx;
    std::array<std::byte, 32> subkey{};
    mmry::detail::session_subkey(master, mmry::cipher::aes256_gcm::id, sid, h.salt, subkey);
    ctx.rekey(subkey);
    return ctx;
}

}  // namespace detail

/// Recomputes the record's checksums (and, sealed, its tags and meta MAC from the plain form)
/// under store id `sid` and key `master` (empty for unsealed records). False, with the record
/// left in any state, when the record does not parse once its head checksum is right, or is
/// sealed with another cipher than aes256_gcm, or sealed and no key is given.
inline bool reseal(std::span<std::byte> r, const mmry::detail::store_id& sid,
                   const CryptoPP::SecByteBlock& master) {
    const std::size_t end = detail::declared_table_end(r);
    if (end == 0) return false;
    format::seal_head(r, end);
    std::optional<format::record_view> parsed;
    try {
        parsed = format::record_view::parse(r, {}, tag_size);
    } catch (const mmry::error&) {
        return false;
    }
    const auto& v = *parsed;
    const auto& h = v.header();
    if (!h.encrypted()) {
        for (std::uint32_t i = 0; i < h.frame_count; ++i) {
            const bytes binding = detail::frame_binding(sid, v, i);
            const auto data = r.subspan(v.payload_offset(i), v.entry(i).stored_size);
            const std::uint32_t crc = mmry::detail::crc32c({binding, data});
            mmry::detail::store_le<std::uint32_t>(
                r.data() + h.table_offset() + std::size_t{i} * format::table_entry_size + 8, crc);
        }
    } else {
        if (h.cipher_id != mmry::cipher::aes256_gcm::id || master.empty()) return false;
        // Meta MAC: HMAC-SHA256 under the store's "meta-mac" key of store id, head without its
        // checksum, key and meta section without the MAC; its first 16 bytes.
        const auto mac_key = mmry::detail::purpose_key(master, "meta-mac", sid);
        CryptoPP::HMAC<CryptoPP::SHA256> mac(mac_key.data(), mac_key.size());
        auto feed = [&](std::span<const std::byte> b) {
            mac.Update(reinterpret_cast<const CryptoPP::byte*>(b.data()), b.size());
        };
        const std::size_t mac_at = h.table_offset() - format::meta_mac_size;
        feed(sid);
        feed(r.first(format::off::crc));
        feed(r.subspan(format::off::crc + format::crc_size,
                       mac_at - format::off::crc - format::crc_size));
        CryptoPP::byte digest[CryptoPP::SHA256::DIGESTSIZE];
        mac.Final(digest);
        std::memcpy(r.data() + mac_at, digest, format::meta_mac_size);
        auto& ctx = detail::keyed_context(master, sid, h);
        bytes plain;
        for (std::uint32_t i = 0; i < h.frame_count; ++i) {
            const auto payload = r.subspan(v.payload_offset(i), v.entry(i).stored_size);
            const auto text = payload.first(payload.size() - tag_size);
            plain.assign(text.begin(), text.end());
            const bytes binding = detail::frame_binding(sid, v, i);
            ctx.seal(detail::frame_nonce(h.seq, i), binding, plain, payload);
        }
    }
    format::seal_head(r, h.payload_offset());
    return true;
}

/// Turns a valid sealed record (aes256_gcm, store `sid`, key `master`) into plain form; false when
/// a frame does not open. An unsealed record is left as it is (true).
inline bool unseal(std::span<std::byte> r, const mmry::detail::store_id& sid,
                   const CryptoPP::SecByteBlock& master) {
    const auto v = format::record_view::parse(r, {}, tag_size);
    const auto& h = v.header();
    if (!h.encrypted()) return true;
    auto& ctx = detail::keyed_context(master, sid, h);
    bytes plain;
    for (std::uint32_t i = 0; i < h.frame_count; ++i) {
        const auto payload = r.subspan(v.payload_offset(i), v.entry(i).stored_size);
        plain.resize(payload.size() - tag_size);
        if (!ctx.open(detail::frame_nonce(h.seq, i), detail::frame_binding(sid, v, i), payload,
                      plain))
            return false;
        std::copy(plain.begin(), plain.end(), payload.begin());
    }
    return true;
}

/// reseal() of an export: a record, or each record of a bundle. False when the framing of a
/// bundle is broken or a record cannot be resealed (the export is then left in any state).
inline bool reseal_export(bytes& e, const mmry::detail::store_id& sid,
                          const CryptoPP::SecByteBlock& master) {
    if (!format::is_bundle(e)) return reseal(e, sid, master);
    std::vector<std::span<const std::byte>> records;
    try {
        records = format::parse_bundle(e).records;
    } catch (const mmry::error&) {
        return false;
    }
    bool all = true;
    for (const auto& rec : records) {
        const auto at = static_cast<std::size_t>(rec.data() - e.data());
        all = reseal(std::span(e).subspan(at, rec.size()), sid, master) && all;
    }
    return all;
}

/// unseal() of an export: a record, or each record of a bundle.
inline bool unseal_export(bytes& e, const mmry::detail::store_id& sid,
                          const CryptoPP::SecByteBlock& master) {
    if (!format::is_bundle(e)) return unseal(e, sid, master);
    bool all = true;
    for (const auto& rec : format::parse_bundle(e).records) {
        const auto at = static_cast<std::size_t>(rec.data() - e.data());
        all = unseal(std::span(e).subspan(at, rec.size()), sid, master) && all;
    }
    return all;
}

}  // namespace mmry_fuzz
