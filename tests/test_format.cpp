// The record format (docs/FORMAT.md) through format::record_view::parse: handcrafted and mutated
// records are refused with the error that says why and never read out of bounds; records a store
// writes have the documented little-endian layout, checksums and bindings.

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

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

// ---- handcrafted records
// -------------------------------------------------------------------------

/// A well-formed record with raw frames (payloads are filler: parse does not check frame tags).
struct crafted {
    mmry::bytes bytes;
    std::size_t head, table, payload;
    std::size_t overhead;
    /// Recomputes the head checksum over the head, key and table the (mutated) head declares, so
    /// that a mutation reaches the checks after the checksum.
    void reseal() {
        const std::size_t head = bytes[off::cipher] == std::byte{0} ? 56 : 80;
        const std::size_t end = head + le(bytes, off::key_size, 4) +
                                le(bytes, off::frame_count, 4) * format::table_entry_size;
        REQUIRE(end <= bytes.size());
        format::seal_head(bytes, end);
    }
};

crafted craft(std::string_view key, std::uint64_t logical_size, std::uint32_t frame_size,
              bool encrypted = false) {
    format::record_header h;
    h.cipher_id = encrypted ? 1 : 0;
    h.key_size = static_cast<std::uint32_t>(key.size());
    h.frame_size = frame_size;
    h.frame_count = static_cast<std::uint32_t>(mmry_test::frames_of(logical_size, frame_size));
    h.logical_size = logical_size;
    h.seq = 7;
    h.modified_ns = h.created_ns = 1'700'000'000'000'000'000;
    crafted c;
    c.head = h.head_size();
    c.table = h.table_offset();
    c.payload = h.payload_offset();
    c.overhead = encrypted ? 16 : 0;  // unsealed frames keep their CRC in the table
    c.bytes.assign(c.payload + logical_size + h.frame_count * c.overhead, std::byte{0xab});
    format::write_head(c.bytes.data(), h);
    std::memcpy(c.bytes.data() + c.head, key.data(), key.size());
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
        CHECK(v.header().head_size() == (encrypted ? 80u : 56u));
        CHECK(v.bytes().size() == c.bytes.size());
        CHECK(v.entry(2).stored_size == 44 + c.overhead);
        CHECK(v.entry(2).codec == 0);
        CHECK(v.payload_offset(0) == c.payload);
        CHECK(v.payload_offset(2) == c.payload + 2 * (128 + c.overhead));
    }
    // The empty value: no frames, no table.
    const auto empty = craft("k", 0, 64);
    CHECK(parse(empty.bytes).header().frame_count == 0);
    CHECK(empty.bytes.size() == 57);
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
                         is_error(errc::corrupt, "shorter than the 56-byte head"));
}

TEST_CASE("format: bad magic, checksum, flags and version are refused", "[format]") {
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
    SECTION("another format version") {
        c.bytes[off::version] = std::byte{2};
        c.reseal();
        CHECK_THROWS_MATCHES(parse(c.bytes), mmry::error,
                             is_error(errc::version_mismatch, "format version 2"));
        c.bytes[off::version] = std::byte{0};
        c.reseal();
        CHECK_THROWS_MATCHES(parse(c.bytes), mmry::error, is_error(errc::version_mismatch));
    }
    SECTION("flags") {
        c.bytes[off::flags] = std::byte{0x80};
        c.reseal();
        CHECK_THROWS_MATCHES(parse(c.bytes), mmry::error, is_error(errc::corrupt, "flags"));
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
    // A head that says "encrypted" (80 bytes) in a 60-byte record.
    auto c = craft("abcd", 0, 64);
    REQUIRE(c.bytes.size() == 60);
    c.bytes[off::cipher] = std::byte{1};
    CHECK_THROWS_MATCHES(parse(c.bytes), mmry::error, is_error(errc::corrupt, "head declares"));
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

// ---- what a store writes ---------------------------------------------------------------------

TEST_CASE("format: a plain record has the documented little-endian layout", "[format][layout]") {
    using traits =
        mmry_test::traits<mmry_test::hashed, mmry_test::no_compression, mmry_test::no_cipher>;
    const auto t = std::chrono::system_clock::time_point(std::chrono::nanoseconds(1'234'567'891));
    mmry::basic_store<traits> s({.frame_size = 4096, .clock = [t] { return t; }});
    const auto value = mmry_test::random_bytes(5000);
    s.put("abc", value);
    const auto r = *s.export_record("abc");
    const auto m = *s.metadata("abc");

    CHECK(std::string(reinterpret_cast<const char*>(r.data()), 4) == "MREC");
    CHECK(le(r, off::magic, 4) == format::record_magic);
    CHECK(le(r, off::version, 1) == mmry::format_version);
    CHECK(le(r, off::cipher, 1) == 0);
    CHECK(le(r, off::compressor, 1) == 0);
    CHECK(le(r, off::flags, 1) == 0);
    CHECK(le(r, off::key_size, 4) == 3);
    CHECK(le(r, off::frame_size, 4) == 4096);
    CHECK(le(r, off::frame_count, 4) == 2);
    CHECK(le(r, off::logical_size, 8) == 5000);
    CHECK(le(r, off::seq, 8) == m.seq);
    CHECK(le(r, off::modified, 8) == 1'234'567'891);
    CHECK(le(r, off::created, 8) == 1'234'567'891);
    CHECK(std::string(reinterpret_cast<const char*>(r.data()) + 56, 3) == "abc");

    const std::size_t table = 56 + 3, payload = table + 2 * 12;
    CHECK(le(r, table, 4) == 4096);
    CHECK(le(r, table + 4, 4) == 0);  // raw, no padding
    CHECK(le(r, table + 12, 4) == 904);
    CHECK(le(r, table + 16, 4) == 0);
    // Raw frames of an unsealed record lie back to back: the value is one contiguous run.
    CHECK(r.size() == payload + 5000);
    CHECK(mmry_test::slice(r, payload, 5000) == value);

    // Head checksum: CRC32C of [0,20) and [24, end of the table).
    CHECK(le(r, off::crc, 4) == crc32c({range(r, 0, 20), range(r, 24, payload)}));

    // Frame checksum, in bytes [8,12) of table entry i: CRC32C of binding(i) = store id |
    // head [0,20) | head [24,48) | key | u32 i | bytes [0,8) of table entry i, then the data.
    const auto header =
        format::store_header::parse(mmry::detail::store_access::header_bytes(s), "s");
    for (std::uint32_t i = 0; i < 2; ++i) {
        INFO("frame " << i);
        mmry::bytes index(4);
        put_le(index, 0, i, 4);
        const std::size_t begin = payload + i * 4096, length = i == 0 ? 4096 : 904;
        const std::size_t entry = table + i * 12;
        const auto expected =
            crc32c({header.id, range(r, 0, 20), range(r, 24, 48), range(r, 56, 59), index,
                    range(r, entry, entry + 8), range(r, begin, begin + length)});
        CHECK(le(r, entry + 8, 4) == expected);
    }
}

TEST_CASE("format: a sealed record has the documented crypto block", "[format][layout]") {
    using traits = mmry_test::traits<mmry_test::ordered, mmry_test::zstd3, mmry_test::aes>;
    const auto material = mmry_test::random_bytes(32, 5);
    mmry::basic_store<traits> s({.key = mmry::key::from_bytes(material), .frame_size = 4096});
    s.put("abc", mmry_test::redundant_bytes(5000));
    s.put("abd", mmry_test::random_bytes(10));
    const auto r = *s.export_record("abc");

    CHECK(le(r, off::cipher, 1) == mmry::cipher::aes256_gcm::id);
    CHECK(le(r, off::compressor, 1) == mmry::compress::zstd<3>::id);
    CHECK(std::string(reinterpret_cast<const char*>(r.data()) + 80, 3) == "abc");

    // Key id: the first 8 bytes of HMAC-SHA256(master, "mmry/v1/key-id").
    CryptoPP::HMAC<CryptoPP::SHA256> mac(reinterpret_cast<const CryptoPP::byte*>(material.data()),
                                         material.size());
    constexpr std::string_view label = "mmry/v1/key-id";
    std::array<CryptoPP::byte, 32> digest{};
    mac.CalculateDigest(digest.data(), reinterpret_cast<const CryptoPP::byte*>(label.data()),
                        label.size());
    CHECK(std::memcmp(r.data() + off::key_id, digest.data(), 8) == 0);
    CHECK(std::memcmp(s.export_record("abd")->data() + off::key_id, digest.data(), 8) == 0);

    // The first frame is compressed (codec = the compressor id), the second (904 bytes of the
    // same phrase) too; each carries a 16-byte tag.
    const std::size_t table = 80 + 3;
    CHECK(le(r, table + 4, 1) == mmry::compress::zstd<3>::id);
    const auto first = le(r, table, 4), second = le(r, table + 12, 4);
    CHECK(first > 16);
    CHECK(first < 4096 + 16);
    CHECK(le(r, table + 8, 4) == 0);  // sealed frames carry a tag, not a CRC
    CHECK(r.size() == table + 24 + first + second);
    CHECK(le(r, off::crc, 4) == crc32c({range(r, 0, 20), range(r, 24, table + 24)}));
}
