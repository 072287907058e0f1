// The record format (docs/FORMAT.md) through format::record_view::parse: handcrafted and mutated
// records are refused with the error that says why and never read out of bounds; records a store
// writes have the documented little-endian layout, checksums, meta section and bindings.

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <cryptopp/crc.h>
#include <cryptopp/hkdf.h>
#include <cryptopp/hmac.h>
#include <cryptopp/sha.h>

#include "support.hpp"

using mmry::errc;
using mmry_test::is_error;
namespace format = mmry::format;
namespace off = mmry::format::off;

namespace {

// ---- an independent reading of the format
// --------------------------------------------------------

std::uint64_t le(const mmry::bytes& b, std::size_t at, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = n; i-- > 0;) v = (v << 8) | std::to_integer<std::uint64_t>(b.at(at + i));
    return v;
}

void put_le(mmry::bytes& b, std::size_t at, std::uint64_t v, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i, v >>= 8) b.at(at + i) = static_cast<std::byte>(v & 0xff);
}

/// CRC32C (Castagnoli, reflected polynomial 0x82f63b78), bit by bit: nothing shared with mmry's.
std::uint32_t crc32c(std::initializer_list<mmry::byte_view> parts) {
    std::uint32_t crc = 0xffffffff;
    for (auto part : parts)
        for (auto b : part) {
            crc ^= std::to_integer<std::uint32_t>(b);
            for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82f63b78 & (0u - (crc & 1)));
        }
    return ~crc;
}

mmry::byte_view range(const mmry::bytes& b, std::size_t from, std::size_t to) {
    return mmry::byte_view(b).subspan(from, to - from);
}

mmry::bytes u64_bytes(std::uint64_t v) {
    mmry::bytes b(8);
    put_le(b, 0, v, 8);
    return b;
}

/// SHA-256 of the concatenated parts (Crypto++ directly, not mmry's content hasher).
mmry::bytes sha256(std::initializer_list<mmry::byte_view> parts) {
    CryptoPP::SHA256 h;
    for (auto p : parts) h.Update(reinterpret_cast<const CryptoPP::byte*>(p.data()), p.size());
    mmry::bytes out(CryptoPP::SHA256::DIGESTSIZE);
    h.Final(reinterpret_cast<CryptoPP::byte*>(out.data()));
    return out;
}

/// HMAC-SHA256 under `key` of the concatenated parts.
mmry::bytes hmac_sha256(mmry::byte_view key, std::initializer_list<mmry::byte_view> parts) {
    CryptoPP::HMAC<CryptoPP::SHA256> h(reinterpret_cast<const CryptoPP::byte*>(key.data()),
                                       key.size());
    for (auto p : parts) h.Update(reinterpret_cast<const CryptoPP::byte*>(p.data()), p.size());
    mmry::bytes out(CryptoPP::SHA256::DIGESTSIZE);
    h.Final(reinterpret_cast<CryptoPP::byte*>(out.data()));
    return out;
}

/// A key of the store's for one purpose: HKDF-SHA256(ikm = master, no salt,
/// info = "mmry/v1/" purpose ‖ store id), 32 bytes.
mmry::bytes purpose_key(mmry::byte_view master, std::string_view purpose, mmry::byte_view sid) {
    mmry::bytes info = mmry_test::to_bytes("mmry/v1/" + std::string(purpose));
    info.insert(info.end(), sid.begin(), sid.end());
    mmry::bytes out(32);
    CryptoPP::HKDF<CryptoPP::SHA256>().DeriveKey(
        reinterpret_cast<CryptoPP::byte*>(out.data()), out.size(),
        reinterpret_cast<const CryptoPP::byte*>(master.data()), master.size(), nullptr, 0,
        reinterpret_cast<const CryptoPP::byte*>(info.data()), info.size());
    return out;
}

// Offsets in the meta section.
constexpr std::size_t meta_fixed = 88, meta_version = 8, meta_previous = 16, meta_content = 24,
                      meta_chain = 56, meta_mac = 16;

/// The variable part of a meta section, field by field (u16 values and length-prefixed strings).
struct fields {
    mmry::bytes b;
    fields& u16(std::uint64_t v) {
        b.push_back(static_cast<std::byte>(v & 0xff));
        b.push_back(static_cast<std::byte>((v >> 8) & 0xff));
        return *this;
    }
    fields& raw(std::string_view s) {
        for (char ch : s) b.push_back(static_cast<std::byte>(ch));
        return *this;
    }
    fields& str(std::string_view s) { return u16(s.size()).raw(s); }
};

/// No content type, no tags, no attributes: the smallest variable part (6 bytes).
const mmry::bytes no_annotations = fields().u16(0).u16(0).u16(0).b;

// ---- handcrafted records
// -------------------------------------------------------------------------

/// A well-formed record with raw frames (payloads are filler: parse does not check frame tags, nor
/// the MAC of a sealed record's meta section, which is filler too).
struct crafted {
    mmry::bytes bytes;
    std::size_t head, meta, table, payload;
    std::size_t overhead;
    /// Recomputes the head checksum over the head, key, meta section and table the (mutated) head
    /// declares, so that a mutation reaches the checks after the checksum.
    void reseal() {
        const std::size_t head = bytes[off::cipher] == std::byte{0} ? 64 : 88;
        const std::size_t end = head + le(bytes, off::key_size, 4) + le(bytes, off::meta_size, 4) +
                                le(bytes, off::frame_count, 4) * format::table_entry_size;
        REQUIRE(end <= bytes.size());
        format::seal_head(bytes, end);
    }
};

/// `annotations`: the meta section's variable part (content type, tags, attributes).
crafted craft(std::string_view key, std::uint64_t logical_size, std::uint32_t frame_size,
              bool encrypted = false, const mmry::bytes& annotations = no_annotations) {
    format::record_header h;
    h.cipher_id = encrypted ? 1 : 0;
    h.key_size = static_cast<std::uint32_t>(key.size());
    h.meta_size =
        static_cast<std::uint32_t>(meta_fixed + annotations.size() + (encrypted ? meta_mac : 0));
    h.frame_size = frame_size;
    h.frame_count = static_cast<std::uint32_t>(mmry_test::frames_of(logical_size, frame_size));
    h.logical_size = logical_size;
    h.seq = 7;
    h.modified_ns = h.created_ns = 1'700'000'000'000'000'000;
    crafted c;
    c.head = h.head_size();
    c.meta = c.head + key.size();
    c.table = c.meta + h.meta_size;
    c.payload = c.table + h.frame_count * format::table_entry_size;
    REQUIRE(c.meta == h.meta_offset());
    REQUIRE(c.table == h.table_offset());
    REQUIRE(c.payload == h.payload_offset());
    c.overhead = encrypted ? 16 : 0;  // unsealed frames keep their CRC in the table
    c.bytes.assign(c.payload + logical_size + h.frame_count * c.overhead, std::byte{0xab});
    format::write_head(c.bytes.data(), h);
    std::memcpy(c.bytes.data() + c.head, key.data(), key.size());
    // Meta section: hash kind 0, 7 zero bytes, version 1, previous version 0, zero content and
    // chain hashes, then the annotations (and, sealed, 16 bytes of filler MAC).
    std::fill_n(c.bytes.begin() + static_cast<std::ptrdiff_t>(c.meta), meta_fixed, std::byte{0});
    put_le(c.bytes, c.meta + meta_version, 1, 8);
    std::copy(annotations.begin(), annotations.end(),
              c.bytes.begin() + static_cast<std::ptrdiff_t>(c.meta + meta_fixed));
    for (std::uint32_t i = 0; i < h.frame_count; ++i) {
        const std::size_t e = c.table + i * format::table_entry_size;
        put_le(c.bytes, e, h.frame_length(i) + c.overhead, 4);
        put_le(c.bytes, e + 4, 0, 4);  // codec raw, padding
        put_le(c.bytes, e + 8, 0, 4);  // frame CRC (not checked by parse; 0 when sealed)
    }
    c.reseal();
    return c;
}

format::record_view parse(const mmry::bytes& b, std::size_t tag_size = 16) {
    return format::record_view::parse(b, "user/1", tag_size);
}

}  // namespace

TEST_CASE("format: a well-formed record parses into its fields", "[format]") {
    for (bool encrypted : {false, true}) {
        INFO((encrypted ? "encrypted" : "plain"));
        const auto c = craft("user/1", 300, 128, encrypted);
        const auto v = parse(c.bytes);
        CHECK(v.header().key_size == 6);
        CHECK(v.key() == "user/1");
        CHECK(v.header().frame_size == 128);
        CHECK(v.header().frame_count == 3);
        CHECK(v.header().logical_size == 300);
        CHECK(v.header().seq == 7);
        CHECK(v.header().encrypted() == encrypted);
        CHECK(v.header().head_size() == (encrypted ? 88u : 64u));
        CHECK(v.header().meta_size == (encrypted ? 110u : 94u));
        CHECK(v.header().meta_offset() == c.meta);
        CHECK(v.meta_bytes().size() == v.header().meta_size);
        CHECK(v.meta_bytes().data() == v.bytes().data() + c.meta);
        CHECK(v.meta().version() == 1);
        CHECK(v.meta().previous() == 0);
        CHECK(v.meta().hash_kind() == 0);
        CHECK(v.meta().content_hash() == format::hash_bytes{});
        CHECK(v.meta().content_type().empty());
        CHECK(v.bytes().size() == c.bytes.size());
        CHECK(v.entry(2).stored_size == 44 + c.overhead);
        CHECK(v.entry(2).codec == 0);
        CHECK(v.payload_offset(0) == c.payload);
        CHECK(v.payload_offset(2) == c.payload + 2 * (128 + c.overhead));
    }
    // The empty value: no frames, no table; head, key and the smallest meta section.
    const auto empty = craft("k", 0, 64);
    CHECK(parse(empty.bytes).header().frame_count == 0);
    CHECK(empty.bytes.size() == 64 + 1 + 94);
    const auto empty_sealed = craft("k", 0, 64, true);
    CHECK(parse(empty_sealed.bytes).header().frame_count == 0);
    CHECK(empty_sealed.bytes.size() == 88 + 1 + 94 + 16);
}

TEST_CASE("format: a record too short for what it declares is corrupt", "[format]") {
    for (bool encrypted : {false, true}) {
        const auto c = craft("user/1", 300, 128, encrypted);
        for (std::size_t n = 0; n < c.bytes.size(); ++n) {
            INFO((encrypted ? "encrypted" : "plain") << " record cut to " << n << " bytes");
            // An exact-size copy: ASan reports any read past its end.
            const mmry::bytes cut(c.bytes.data(), c.bytes.data() + n);
            CHECK_THROWS_MATCHES(parse(cut), mmry::error, is_error(errc::corrupt, "'user/1'"));
        }
    }
    CHECK_THROWS_MATCHES(parse(mmry::bytes{}), mmry::error,
                         is_error(errc::corrupt, "shorter than the 64-byte head"));
    CHECK_THROWS_MATCHES(parse(mmry::bytes(63)), mmry::error,
                         is_error(errc::corrupt, "is 63 bytes, shorter than the 64-byte head"));
}

TEST_CASE("format: bad magic, checksum, flags, dictionary field and version are refused",
          "[format]") {
    auto c = craft("user/1", 300, 128);
    SECTION("magic") {
        c.bytes[off::magic + 3] = std::byte{'X'};
        c.reseal();
        CHECK_THROWS_MATCHES(parse(c.bytes), mmry::error, is_error(errc::corrupt, "magic"));
    }
    SECTION("head checksum") {
        c.bytes[off::crc] ^= std::byte{1};
        CHECK_THROWS_MATCHES(parse(c.bytes), mmry::error, is_error(errc::corrupt, "checksum"));
    }
    SECTION("a field changed without its checksum") {
        c.bytes[off::seq] ^= std::byte{1};
        CHECK_THROWS_MATCHES(parse(c.bytes), mmry::error, is_error(errc::corrupt, "checksum"));
    }
    SECTION("the meta section changed without the head checksum") {
        for (std::size_t at : {std::size_t{0}, meta_version, meta_chain + 31, meta_fixed + 5}) {
            INFO("meta byte " << at);
            auto m = c;
            m.bytes[c.meta + at] ^= std::byte{1};
            CHECK_THROWS_MATCHES(parse(m.bytes), mmry::error, is_error(errc::corrupt, "checksum"));
        }
        // The MAC of a sealed record's meta section is under the head checksum too.
        auto sealed = craft("user/1", 300, 128, true);
        sealed.bytes[sealed.table - 1] ^= std::byte{1};
        CHECK_THROWS_MATCHES(parse(sealed.bytes), mmry::error, is_error(errc::corrupt, "checksum"));
    }
    SECTION("another format version") {
        c.bytes[off::version] = std::byte{4};
        c.reseal();
        CHECK_THROWS_MATCHES(parse(c.bytes), mmry::error,
                             is_error(errc::version_mismatch, "format version 4"));
        // Version 2: before folding and dictionaries.
        c.bytes[off::version] = std::byte{2};
        c.reseal();
        CHECK_THROWS_MATCHES(parse(c.bytes), mmry::error,
                             is_error(errc::version_mismatch, "format version 2"));
        // Version 1: the 56-byte head without a meta section.
        c.bytes[off::version] = std::byte{1};
        c.reseal();
        CHECK_THROWS_MATCHES(parse(c.bytes), mmry::error,
                             is_error(errc::version_mismatch, "format version 1"));
        c.bytes[off::version] = std::byte{0};
        c.reseal();
        CHECK_THROWS_MATCHES(parse(c.bytes), mmry::error, is_error(errc::version_mismatch));
    }
    SECTION("flags") {
        c.bytes[off::flags] = std::byte{0x80};
        c.reseal();
        CHECK_THROWS_MATCHES(parse(c.bytes), mmry::error, is_error(errc::corrupt, "flags"));
    }
    SECTION("a dictionary named by a record without a compressor") {
        for (bool encrypted : {false, true}) {
            INFO((encrypted ? "encrypted" : "plain"));
            auto m = craft("user/1", 300, 128, encrypted);
            put_le(m.bytes, off::dictionary, 1, 4);
            CHECK_THROWS_MATCHES(parse(m.bytes), mmry::error, is_error(errc::corrupt, "checksum"));
            m.reseal();
            CHECK_THROWS_MATCHES(parse(m.bytes), mmry::error,
                                 is_error(errc::corrupt, "names dictionary 1"));
        }
    }
}

TEST_CASE("format: head fields out of range are refused", "[format]") {
    auto c = craft("user/1", 300, 128);
    const auto with = [&](std::size_t at, std::uint64_t value, std::size_t n) {
        auto m = c;
        put_le(m.bytes, at, value, n);
        m.reseal();
        return m.bytes;
    };
    CHECK_THROWS_MATCHES(parse(with(off::key_size, 0, 4)), mmry::error,
                         is_error(errc::corrupt, "key size 0"));
    CHECK_THROWS_MATCHES(parse(with(off::frame_size, 63, 4)), mmry::error,
                         is_error(errc::corrupt, "frame size 63"));
    // Frame size 0 must not divide by zero (UBSan checks).
    CHECK_THROWS_MATCHES(parse(with(off::frame_size, 0, 4)), mmry::error,
                         is_error(errc::corrupt, "frame size 0"));
    CHECK_THROWS_MATCHES(parse(with(off::frame_size, (64u << 20) + 1, 4)), mmry::error,
                         is_error(errc::corrupt, "frame size"));
    CHECK_THROWS_MATCHES(parse(with(off::logical_size, (std::uint64_t{1} << 48) + 1, 8)),
                         mmry::error, is_error(errc::corrupt, "logical size"));
    CHECK_THROWS_MATCHES(parse(with(off::logical_size, ~std::uint64_t{0}, 8)), mmry::error,
                         is_error(errc::corrupt));
    // Frame count inconsistent with logical size and frame size.
    CHECK_THROWS_MATCHES(parse(with(off::logical_size, 256, 8)), mmry::error,
                         is_error(errc::corrupt, "frame count 3 does not match"));
    CHECK_THROWS_MATCHES(parse(with(off::frame_size, 64, 4)), mmry::error,
                         is_error(errc::corrupt, "frame count"));
    CHECK_THROWS_MATCHES(parse(with(off::frame_count, 2, 4)), mmry::error,
                         is_error(errc::corrupt, "frame count 2 does not match"));
    // Meta section sizes below the smallest section (88 fixed bytes and three empty u16 fields).
    CHECK_THROWS_MATCHES(parse(with(off::meta_size, 0, 4)), mmry::error,
                         is_error(errc::corrupt, "meta section size 0 out of range"));
    CHECK_THROWS_MATCHES(parse(with(off::meta_size, 93, 4)), mmry::error,
                         is_error(errc::corrupt, "meta section size 93 out of range"));
    // A sealed record's section holds a 16-byte MAC too.
    auto sealed = craft("user/1", 300, 128, true);
    put_le(sealed.bytes, off::meta_size, 109, 4);
    sealed.reseal();
    CHECK_THROWS_MATCHES(parse(sealed.bytes), mmry::error,
                         is_error(errc::corrupt, "meta section size 109 out of range"));
    // At most 64 KiB; 64 KiB itself passes the size check (then fails the section's own: the
    // table and payload it now spans are not fields).
    auto big = craft("user/1", 70'000, 64 * 1024);
    const auto with_meta_size = [&](std::uint64_t size) {
        auto m = big;
        put_le(m.bytes, off::meta_size, size, 4);
        m.reseal();
        return m.bytes;
    };
    CHECK_THROWS_MATCHES(parse(with_meta_size(65537)), mmry::error,
                         is_error(errc::corrupt, "meta section size 65537 out of range"));
    CHECK_THROWS_MATCHES(parse(with_meta_size(65536)), mmry::error,
                         is_error(errc::corrupt, "after its last field"));
}

TEST_CASE("format: sizes declared beyond the record are refused without reading past it",
          "[format]") {
    for (bool encrypted : {false, true}) {
        INFO((encrypted ? "encrypted" : "plain"));
        const auto c = craft("user/1", 300, 128, encrypted);
        const auto with = [&](std::size_t at, std::uint64_t value, std::size_t n) {
            auto m = c.bytes;
            put_le(m, at, value, n);
            return m;
        };
        for (std::uint64_t key_size : {std::uint64_t{7}, std::uint64_t{1000}, std::uint64_t{65536},
                                       std::uint64_t{0xffffffff}}) {
            INFO("key size " << key_size);
            CHECK_THROWS_MATCHES(parse(with(off::key_size, key_size, 4)), mmry::error,
                                 is_error(errc::corrupt));
        }
        for (std::uint64_t meta_size : {std::uint64_t{95}, std::uint64_t{1000},
                                        std::uint64_t{65536}, std::uint64_t{0xffffffff}}) {
            INFO("meta size " << meta_size);
            CHECK_THROWS_MATCHES(parse(with(off::meta_size, meta_size, 4)), mmry::error,
                                 is_error(errc::corrupt));
        }
        for (std::uint64_t count :
             {std::uint64_t{4}, std::uint64_t{1} << 20, std::uint64_t{0xffffffff}}) {
            INFO("frame count " << count);
            CHECK_THROWS_MATCHES(parse(with(off::frame_count, count, 4)), mmry::error,
                                 is_error(errc::corrupt));
        }
        // Stored sizes in the table (re-sealed, so that only the size check can catch them).
        for (std::uint64_t stored : {std::uint64_t{0}, std::uint64_t{127}, std::uint64_t{129 + 16},
                                     std::uint64_t{0xffffffff}}) {
            INFO("stored size of frame 1: " << stored);
            auto m = c;
            put_le(m.bytes, c.table + format::table_entry_size, stored, 4);
            m.reseal();
            CHECK_THROWS_MATCHES(parse(m.bytes), mmry::error, is_error(errc::corrupt, "frame 1"));
        }
        // Payload bytes beyond those the table declares.
        auto longer = c.bytes;
        longer.push_back(std::byte{0});
        CHECK_THROWS_MATCHES(parse(longer), mmry::error, is_error(errc::corrupt, "frames hold"));
    }
    // A head that says "encrypted" (88 bytes) in a 162-byte record: head, key and meta section
    // (88 + 4 + 94) would pass its end.
    auto c = craft("abcd", 0, 64);
    REQUIRE(c.bytes.size() == 162);
    c.bytes[off::cipher] = std::byte{1};
    CHECK_THROWS_MATCHES(parse(c.bytes), mmry::error, is_error(errc::corrupt, "head declares"));
    // A meta section that would end past the record (the table is empty).
    auto d = craft("abcd", 0, 64);
    put_le(d.bytes, off::meta_size, 95, 4);
    CHECK_THROWS_MATCHES(parse(d.bytes), mmry::error, is_error(errc::corrupt, "head declares"));
}

TEST_CASE("format: frame table entries are checked", "[format]") {
    auto c = craft("user/1", 300, 128);
    const std::size_t e1 = c.table + format::table_entry_size;
    SECTION("nonzero padding") {
        for (std::size_t pad = 5; pad < 8; ++pad) {
            auto m = c;
            m.bytes[e1 + pad] = std::byte{1};
            m.reseal();
            CHECK_THROWS_MATCHES(
                parse(m.bytes), mmry::error,
                is_error(errc::corrupt, "frame 1 table entry has nonzero padding"));
        }
    }
    SECTION("a checksum in a sealed record's table") {
        auto sealed = craft("user/1", 300, 128, true);
        put_le(sealed.bytes, sealed.table + format::table_entry_size + 8, 1, 4);
        sealed.reseal();
        CHECK_THROWS_MATCHES(parse(sealed.bytes), mmry::error,
                             is_error(errc::corrupt, "frame 1 of a sealed record has a checksum"));
    }
    SECTION("a compressed frame in a record without a compressor") {
        c.bytes[e1 + 4] = std::byte{1};
        put_le(c.bytes, e1, 50, 4);
        c.reseal();
        CHECK_THROWS_MATCHES(parse(c.bytes), mmry::error, is_error(errc::corrupt, "codec 1"));
    }
    SECTION("a frame codec that is not the record's compressor") {
        c.bytes[off::compressor] = std::byte{1};
        c.bytes[e1 + 4] = std::byte{2};
        c.reseal();
        CHECK_THROWS_MATCHES(parse(c.bytes), mmry::error, is_error(errc::corrupt, "codec 2"));
    }
    SECTION("a compressed frame no smaller than the raw frame") {
        c.bytes[off::compressor] = std::byte{1};
        c.bytes[e1 + 4] = std::byte{1};
        c.reseal();  // stored size is still 128: the raw size
        CHECK_THROWS_MATCHES(parse(c.bytes), mmry::error, is_error(errc::corrupt, "frame 1"));
    }
    SECTION("a compressed frame smaller than the raw frame is well-formed") {
        c.bytes[off::compressor] = std::byte{1};
        c.bytes[e1 + 4] = std::byte{1};
        put_le(c.bytes, e1, 60, 4);
        c.bytes.resize(c.bytes.size() - (128 - 60));
        c.reseal();
        const auto v = parse(c.bytes);
        CHECK(v.entry(1).codec == 1);
        CHECK(v.entry(1).stored_size == 60);
        CHECK(v.payload_offset(2) == c.payload + 128 + 60);
    }
}

TEST_CASE("format: messages name the record", "[format]") {
    const auto c = craft("user/1", 300, 128);
    const mmry::bytes cut(c.bytes.begin(), c.bytes.begin() + 10);
    CHECK_THROWS_MATCHES(format::record_view::parse(cut, "user/9"), mmry::error,
                         is_error(errc::corrupt, "record 'user/9'"));
    CHECK_THROWS_MATCHES(format::record_view::parse(cut, ""), mmry::error,
                         is_error(errc::corrupt, "(unnamed)"));
    // A binary key is shown escaped and bounded.
    const std::string binary("\x01'\xff", 3);
    CHECK_THROWS_MATCHES(format::record_view::parse(cut, binary), mmry::error,
                         is_error(errc::corrupt, "'\\x01\\x27\\xff'"));
    CHECK_THROWS_MATCHES(format::record_view::parse(cut, std::string(1000, 'k')), mmry::error,
                         is_error(errc::corrupt, std::string(64, 'k') + "...'"));
}

TEST_CASE("format: the meta section is validated", "[format][meta]") {
    for (bool encrypted : {false, true}) {
        INFO((encrypted ? "encrypted" : "plain"));
        const auto c = craft("user/1", 300, 128, encrypted);
        const auto rejected = [&](const mmry::bytes& record, const std::string& why) {
            CHECK_THROWS_MATCHES(parse(record), mmry::error,
                                 is_error(errc::corrupt, "record 'user/1': meta section " + why));
        };
        // Fixed fields changed, then the head re-sealed so that only the meta check can object.
        const auto with = [&](std::size_t at, std::uint64_t value, std::size_t n) {
            auto m = c;
            put_le(m.bytes, c.meta + at, value, n);
            m.reseal();
            return m.bytes;
        };
        const auto with_versions = [&](std::uint64_t version, std::uint64_t previous) {
            auto m = c;
            put_le(m.bytes, c.meta + meta_version, version, 8);
            put_le(m.bytes, c.meta + meta_previous, previous, 8);
            m.reseal();
            return m.bytes;
        };

        {  // version and previous version
            rejected(with(meta_version, 0, 8), "has version 0 after previous version 0");
            rejected(with_versions(1, 1), "has version 1 after previous version 1");
            rejected(with_versions(3, 7), "has version 3 after previous version 7");
            rejected(with_versions(0, 5), "has version 0 after previous version 5");
            rejected(with_versions(~std::uint64_t{0}, ~std::uint64_t{0}), "has version");
            // Parse asks only that a version come after its previous one.
            const auto next = with_versions(5, 4);
            CHECK(parse(next).meta().version() == 5);
            CHECK(parse(next).meta().previous() == 4);
            CHECK(parse(with_versions(9, 0)).meta().version() == 9);
            CHECK(parse(with_versions(~std::uint64_t{0}, 1)).meta().previous() == 1);
        }
        {  // content hash kind
            rejected(with(0, 3, 1), "has unknown content hash kind 3");
            rejected(with(0, 255, 1), "has unknown content hash kind 255");
            for (std::uint64_t kind : {0, 1, 2}) {
                INFO("kind " << kind);
                CHECK(parse(with(0, kind, 1)).meta().hash_kind() == kind);
            }
        }
        {  // reserved bytes
            for (std::size_t at = 1; at < meta_version; ++at) {
                INFO("meta byte " << at);
                rejected(with(at, 1, 1), "has nonzero reserved bytes");
                rejected(with(at, 0x80, 1), "has nonzero reserved bytes");
            }
        }
        {  // the variable fields
            const auto crafted_with = [&](const fields& f) {
                return craft("user/1", 300, 128, encrypted, f.b).bytes;
            };
            // Content type, a tag or an attribute whose length passes the section's end.
            rejected(crafted_with(fields().u16(7).u16(0).u16(0)),
                     "has a field that passes its end");
            rejected(crafted_with(fields().u16(0).u16(1).u16(200).raw("a").u16(0)),
                     "has a field that passes its end");
            rejected(crafted_with(fields().u16(0).u16(1).u16(3).raw("ab")),
                     "has a field that passes its end");
            rejected(crafted_with(fields().u16(0).u16(0).u16(1).str("k").u16(50)),
                     "has a field that passes its end");
            // A length or count field the section ends before.
            rejected(crafted_with(fields().str("ab").u16(0)), "ends inside a length field");
            rejected(crafted_with(fields().u16(0).u16(2).str("ab")), "ends inside a length field");
            rejected(crafted_with(fields().u16(0).u16(0).u16(1)), "ends inside a length field");
            // Bytes after the last field (in a sealed record: before the MAC).
            rejected(crafted_with(fields().u16(0).u16(0).u16(0).raw("x")),
                     "has 1 bytes after its last field");
            rejected(crafted_with(fields().u16(0).u16(0).u16(1).str("k").str("v").raw("xyz")),
                     "has 3 bytes after its last field");
            // An empty tag, or an attribute with an empty name.
            rejected(crafted_with(fields().u16(0).u16(1).u16(0).u16(0)),
                     "has an empty tag or attribute name");
            rejected(crafted_with(fields().u16(0).u16(2).str("a").u16(0).u16(0)),
                     "has an empty tag or attribute name");
            rejected(crafted_with(fields().u16(0).u16(0).u16(1).u16(0).str("v")),
                     "has an empty tag or attribute name");

            // Well-formed: a content type, a tag, an attribute with an empty value.
            const auto ok =
                crafted_with(fields().str("text/plain").u16(1).str("a").u16(1).str("k").u16(0));
            const auto v = parse(ok);
            CHECK(v.meta().content_type() == "text/plain");
            std::vector<std::string> tags;
            v.meta().for_each_tag([&](std::string_view t) { tags.emplace_back(t); });
            CHECK(tags == std::vector<std::string>{"a"});
            CHECK(v.meta().has_tag("a"));
            CHECK_FALSE(v.meta().has_tag("b"));
            std::vector<std::pair<std::string, std::string>> attributes;
            v.meta().for_each_attribute(
                [&](std::string_view k, std::string_view val) { attributes.emplace_back(k, val); });
            CHECK(attributes == std::vector<std::pair<std::string, std::string>>{{"k", ""}});
        }
    }
    // A record parsed without a name is named by its own key in meta section errors.
    auto c = craft("user/1", 300, 128);
    put_le(c.bytes, c.meta + meta_version, 0, 8);
    c.reseal();
    CHECK_THROWS_MATCHES(format::record_view::parse(c.bytes, ""), mmry::error,
                         is_error(errc::corrupt, "record 'user/1': meta section has version 0"));
}

// ---- what a store writes ---------------------------------------------------------------------

TEST_CASE("format: a plain record has the documented little-endian layout", "[format][layout]") {
    using traits =
        mmry_test::traits<mmry_test::hashed, mmry_test::no_compression, mmry_test::no_cipher>;
    const auto t = std::chrono::system_clock::time_point(std::chrono::nanoseconds(1'234'567'891));
    mmry::basic_store<traits> s({.frame_size = 4096, .clock = [t] { return t; }});
    const auto value = mmry_test::random_bytes(5000);
    const mmry::put_options annotated{
        .content_type = "text/plain", .tags = {"a", "bc"}, .attributes = {{"k", "v"}}};
    CHECK(s.put("abc", value, annotated) == mmry::version{1});
    const auto r = *s.export_record("abc");
    const auto described = s.metadata("abc");
    REQUIRE(described);
    CHECK(described->tags == std::vector<std::string>{"a", "bc"});
    CHECK(described->attributes == annotated.attributes);
    CHECK(described->content_type == "text/plain");

    CHECK(std::string(reinterpret_cast<const char*>(r.data()), 4) == "MREC");
    CHECK(le(r, off::magic, 4) == format::record_magic);
    CHECK(le(r, off::version, 1) == mmry::format_version);
    CHECK(le(r, off::version, 1) == 3);
    CHECK(le(r, off::cipher, 1) == 0);
    CHECK(le(r, off::compressor, 1) == 0);
    CHECK(le(r, off::flags, 1) == 0);
    CHECK(le(r, off::key_size, 4) == 3);
    CHECK(le(r, off::frame_size, 4) == 4096);
    CHECK(le(r, off::frame_count, 4) == 2);
    CHECK(le(r, off::logical_size, 8) == 5000);
    CHECK(le(r, off::modified, 8) == 1'234'567'891);
    CHECK(le(r, off::created, 8) == 1'234'567'891);
    // Meta section: 88 fixed bytes, content type (2 + 10), tags (2 + 3 + 4), attributes
    // (2 + 3 + 3).
    CHECK(le(r, off::meta_size, 4) == 117);
    CHECK(le(r, off::dictionary, 4) == 0);
    CHECK(std::string(reinterpret_cast<const char*>(r.data()) + 64, 3) == "abc");

    const std::size_t meta = 64 + 3, table = meta + 117, payload = table + 2 * 12;
    CHECK(le(r, meta, 1) == 1);      // content hash kind: SHA-256
    CHECK(le(r, meta + 1, 7) == 0);  // reserved
    CHECK(le(r, meta + meta_version, 8) == 1);
    CHECK(le(r, meta + meta_previous, 8) == 0);
    // The content hash is SHA-256 of the value: `sha256sum` can check it.
    const auto content = sha256({value});
    CHECK(mmry_test::slice(r, meta + meta_content, 32) == content);
    // Chain hash: SHA-256(previous version's chain hash (zero for the first) ‖ content hash ‖
    // u64 version ‖ u64 previous version ‖ key).
    CHECK(mmry_test::slice(r, meta + meta_chain, 32) ==
          sha256({mmry::bytes(32), content, u64_bytes(1), u64_bytes(0), mmry::as_bytes("abc")}));
    // Content type, tags and attributes: u16 lengths and counts, in the order given.
    const auto annotations =
        fields().str("text/plain").u16(2).str("a").str("bc").u16(1).str("k").str("v").b;
    REQUIRE(annotations.size() == 29);
    CHECK(mmry_test::slice(r, meta + meta_fixed, 29) == annotations);
    // What the store reads back from it (one tag and one attribute: see the report on
    // meta_view::for_each_tag).
    CHECK(format::record_view::parse(r, "abc").meta().content_type() == "text/plain");

    CHECK(le(r, table, 4) == 4096);
    CHECK(le(r, table + 4, 4) == 0);  // raw, no padding
    CHECK(le(r, table + 12, 4) == 904);
    CHECK(le(r, table + 16, 4) == 0);
    // Raw frames of an unsealed record lie back to back: the value is one contiguous run.
    CHECK(r.size() == payload + 5000);
    CHECK(mmry_test::slice(r, payload, 5000) == value);

    // Head checksum: CRC32C of [0,20) and [24, end of the table): head, key and meta section.
    CHECK(le(r, off::crc, 4) == crc32c({range(r, 0, 20), range(r, 24, payload)}));

    // Frame checksum, in bytes [8,12) of table entry i: CRC32C of binding(i) = store id |
    // head [0,20) | head [24,48) | head [56,64) (meta size, reserved) | key | u32 i |
    // bytes [0,8) of table entry i, then the data. Neither the created time [48,56) nor the
    // meta section is bound: both are stamped at commit, after the frames were encoded.
    const auto header =
        format::store_header::parse(mmry::detail::store_access::header_bytes(s), "s");
    for (std::uint32_t i = 0; i < 2; ++i) {
        INFO("frame " << i);
        mmry::bytes index(4);
        put_le(index, 0, i, 4);
        const std::size_t begin = payload + i * 4096, length = i == 0 ? 4096 : 904;
        const std::size_t entry = table + i * 12;
        const auto expected = crc32c({header.id, range(r, 0, 20), range(r, 24, 48),
                                      range(r, 56, 64), range(r, 64, 67), index,
                                      range(r, entry, entry + 8), range(r, begin, begin + length)});
        CHECK(le(r, entry + 8, 4) == expected);
    }

    // The smallest meta section: no content type, tags or attributes (94 bytes). The sequence
    // number in the head is the one metadata() reports.
    const auto small = mmry_test::to_bytes("hello");
    s.put("xyz", small);
    const auto x = *s.export_record("xyz");
    const auto m = *s.metadata("xyz");
    CHECK(le(x, off::seq, 8) == m.seq);
    CHECK(le(r, off::seq, 8) < m.seq);
    CHECK(le(x, off::meta_size, 4) == 94);
    CHECK(le(x, 67, 1) == 1);
    CHECK(le(x, 67 + meta_version, 8) == 1);
    CHECK(mmry_test::slice(x, 67 + meta_content, 32) == sha256({small}));
    CHECK(mmry_test::slice(x, 67 + meta_fixed, 6) == no_annotations);
    CHECK(x.size() == 67 + 94 + 12 + 5);
    CHECK(le(x, 67 + 94, 4) == 5);
    CHECK(mmry_test::slice(x, 67 + 94 + 12, 5) == small);
    CHECK(le(x, off::crc, 4) == crc32c({range(x, 0, 20), range(x, 24, 67 + 94 + 12)}));
    CHECK(m.content_hash == format::record_view::parse(x, "xyz").meta().content_hash());
    CHECK(mmry::bytes(m.content_hash.begin(), m.content_hash.end()) == sha256({small}));
}

TEST_CASE("format: version, previous version, chain hash and created time are stamped at commit",
          "[format][layout]") {
    using traits =
        mmry_test::traits<mmry_test::hashed, mmry_test::no_compression, mmry_test::no_cipher>;
    auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1));
    const auto first = mmry_test::to_bytes("first"), second = mmry_test::to_bytes("second value");
    const std::size_t meta = 64 + 3;
    const mmry::bytes zero(32);

    SECTION("with content hashes") {
        mmry::basic_store<traits> s({.clock = [&now] { return now; }});
        CHECK(s.put("key", first) == mmry::version{1});
        const auto r1 = *s.export_record("key");
        now += std::chrono::seconds(5);
        CHECK(s.put("key", second) == mmry::version{2});
        const auto r2 = *s.export_record("key");

        const auto chain1 = mmry_test::slice(r1, meta + meta_chain, 32);
        CHECK(chain1 ==
              sha256({zero, sha256({first}), u64_bytes(1), u64_bytes(0), mmry::as_bytes("key")}));
        CHECK(le(r2, meta, 1) == 1);
        CHECK(le(r2, meta + meta_version, 8) == 2);
        CHECK(le(r2, meta + meta_previous, 8) == 1);
        CHECK(mmry_test::slice(r2, meta + meta_content, 32) == sha256({second}));
        // The chain hash links to the previous version's.
        CHECK(
            mmry_test::slice(r2, meta + meta_chain, 32) ==
            sha256({chain1, sha256({second}), u64_bytes(2), u64_bytes(1), mmry::as_bytes("key")}));
        // The created time is the key's first put; modified is this put.
        CHECK(le(r2, off::created, 8) == 1'000'000'000);
        CHECK(le(r2, off::modified, 8) == 6'000'000'000);
        CHECK(le(r2, off::crc, 4) ==
              crc32c({range(r2, 0, 20), range(r2, 24, meta + 94 + format::table_entry_size)}));

        const auto m = *s.metadata("key");
        CHECK(m.version == mmry::version{2});
        CHECK(m.previous_version == mmry::version{1});
        CHECK(m.hash_kind == mmry::hash_kind::sha256);
        CHECK(mmry::bytes(m.content_hash.begin(), m.content_hash.end()) == sha256({second}));
        CHECK(mmry::bytes(m.chain_hash.begin(), m.chain_hash.end()) ==
              mmry_test::slice(r2, meta + meta_chain, 32));
        CHECK(s.get("key") == second);
    }
    SECTION("without content hashes") {
        mmry::basic_store<traits> s({.clock = [&now] { return now; }, .content_hash = false});
        s.put("key", first);
        CHECK(s.put("key", second) == mmry::version{2});
        const auto r = *s.export_record("key");
        CHECK(le(r, meta, 1) == 0);  // no hash: content and chain hashes are zero
        CHECK(le(r, meta + meta_version, 8) == 2);
        CHECK(le(r, meta + meta_previous, 8) == 1);
        CHECK(mmry_test::slice(r, meta + meta_content, 32) == zero);
        CHECK(mmry_test::slice(r, meta + meta_chain, 32) == zero);
        CHECK(s.metadata("key")->hash_kind == mmry::hash_kind::none);
    }
}

TEST_CASE("format: a sealed record has the documented crypto block and meta MAC",
          "[format][layout]") {
    using traits = mmry_test::traits<mmry_test::ordered, mmry_test::zstd3, mmry_test::aes>;
    const auto material = mmry_test::random_bytes(32, 5);
    mmry::basic_store<traits> s({.key = mmry::key::from_bytes(material), .frame_size = 4096});
    const auto value = mmry_test::redundant_bytes(5000);
    s.put("abc", value);
    s.put("abd", mmry_test::random_bytes(10));
    const auto r = *s.export_record("abc");

    CHECK(le(r, off::cipher, 1) == mmry::cipher::aes256_gcm::id);
    CHECK(le(r, off::compressor, 1) == mmry::compress::zstd<3>::id);
    CHECK(le(r, off::meta_size, 4) == 94 + 16);
    CHECK(le(r, off::dictionary, 4) == 0);
    CHECK(std::string(reinterpret_cast<const char*>(r.data()) + 88, 3) == "abc");

    // Key id: the first 8 bytes of HMAC-SHA256(master, "mmry/v1/key-id").
    CryptoPP::HMAC<CryptoPP::SHA256> mac(reinterpret_cast<const CryptoPP::byte*>(material.data()),
                                         material.size());
    constexpr std::string_view label = "mmry/v1/key-id";
    std::array<CryptoPP::byte, 32> digest{};
    mac.CalculateDigest(digest.data(), reinterpret_cast<const CryptoPP::byte*>(label.data()),
                        label.size());
    CHECK(std::memcmp(r.data() + off::key_id, digest.data(), 8) == 0);
    CHECK(std::memcmp(s.export_record("abd")->data() + off::key_id, digest.data(), 8) == 0);

    // Meta section: content and chain hashes are HMAC-SHA256 under the store's "content-hash"
    // key, so that a hash in the clear cannot confirm a guess of the value.
    const std::size_t meta = 88 + 3, table = meta + 110;
    const auto header =
        format::store_header::parse(mmry::detail::store_access::header_bytes(s), "s");
    const auto content_key = purpose_key(material, "content-hash", header.id);
    CHECK(le(r, meta, 1) == 2);  // HMAC-SHA256
    CHECK(le(r, meta + 1, 7) == 0);
    CHECK(le(r, meta + meta_version, 8) == 1);
    CHECK(le(r, meta + meta_previous, 8) == 0);
    const auto content = hmac_sha256(content_key, {value});
    CHECK(mmry_test::slice(r, meta + meta_content, 32) == content);
    CHECK(mmry_test::slice(r, meta + meta_content, 32) != sha256({value}));
    CHECK(mmry_test::slice(r, meta + meta_chain, 32) ==
          hmac_sha256(content_key, {mmry::bytes(32), content, u64_bytes(1), u64_bytes(0),
                                    mmry::as_bytes("abc")}));
    CHECK(mmry_test::slice(r, meta + meta_fixed, 6) == no_annotations);
    // MAC, the section's last 16 bytes: HMAC-SHA256 under the store's "meta-mac" key of store id
    // ‖ head [0,20) ‖ [24, start of the MAC) (head with crypto block, key, meta section), first 16
    // bytes.
    const auto meta_mac_key = purpose_key(material, "meta-mac", header.id);
    const auto expected_mac =
        hmac_sha256(meta_mac_key, {header.id, range(r, 0, 20), range(r, 24, table - meta_mac)});
    CHECK(mmry_test::slice(r, table - meta_mac, meta_mac) ==
          mmry_test::slice(expected_mac, 0, meta_mac));

    // The first frame is compressed (codec = the compressor id), the second (904 bytes of the
    // same phrase) too; each carries a 16-byte tag.
    CHECK(le(r, table + 4, 1) == mmry::compress::zstd<3>::id);
    const auto first = le(r, table, 4), second = le(r, table + 12, 4);
    CHECK(first > 16);
    CHECK(first < 4096 + 16);
    CHECK(le(r, table + 8, 4) == 0);  // sealed frames carry a tag, not a CRC
    CHECK(r.size() == table + 24 + first + second);
    CHECK(le(r, off::crc, 4) == crc32c({range(r, 0, 20), range(r, 24, table + 24)}));
    CHECK(s.get("abc") == value);
}

TEST_CASE("format: CRC32C gives the standard value, split or whole, with or without SSE4.2",
          "[format][crc]") {
    const std::string_view check = "123456789";
    CHECK(mmry::detail::crc32c({std::as_bytes(std::span(check))}) == 0xe3069283u);
    CHECK(mmry::detail::crc32c({}) == 0u);
    // Every length from 0 to 300 (every tail length of the 8-byte loop) and every split point
    // agree with Crypto++'s portable implementation.
    const auto data = mmry_test::random_bytes(300, 7);
    for (std::size_t n = 0; n <= data.size(); ++n) {
        CryptoPP::CRC32C reference;
        reference.Update(reinterpret_cast<const CryptoPP::byte*>(data.data()), n);
        std::uint32_t expected = 0;
        reference.Final(reinterpret_cast<CryptoPP::byte*>(&expected));
        const auto whole = std::span<const std::byte>(data).first(n);
        CHECK(mmry::detail::crc32c({whole}) == expected);
        CHECK(mmry::detail::crc32c({whole.first(n / 3), whole.subspan(n / 3)}) == expected);
    }
}
