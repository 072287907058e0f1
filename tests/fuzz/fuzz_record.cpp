// Fuzz target: format::record_view::parse, then what a reader does with a parsed record: its
// fields, meta section, tags, attributes and frame table; then the store's frame codec opens it,
// checks its meta MAC and decodes it (frame by frame, whole, a range, in place), and a folded
// record's frames are parsed as a chunk manifest. Both ciphers (none, aes256_gcm, with zstd<3>),
// each with the right identity (the store id and key the seeds were made under) and a wrong one.
//
// Input: byte 0, bit 0: re-seal the record under the right identity first (head checksum, frame
// CRCs; sealed records come in plain form, see fuzz_support.hpp); then u16 offset and u16 length
// of the range to read; the rest is the record.
//
// Checks: parse and decoding fail only with mmry::error; a parsed record's parts lie inside it
// and add up to it; the value decoded frame by frame, whole, by range and in place agree; no
// record with a frame decodes under both a right and a wrong identity.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include <mmry/cipher/aes256_gcm.hpp>
#include <mmry/cipher/none.hpp>
#include <mmry/codec/frame_codec.hpp>
#include <mmry/compress/zstd.hpp>
#include <mmry/format/manifest.hpp>
#include <mmry/format/record.hpp>

#include "fuzz_support.hpp"

namespace {

using namespace mmry_fuzz;
using plain_codec = mmry::detail::frame_codec<mmry::compress::zstd<3>, mmry::cipher::none>;
using sealed_codec = mmry::detail::frame_codec<mmry::compress::zstd<3>, mmry::cipher::aes256_gcm>;

const plain_codec& plain(bool wrong) {
    static const plain_codec right(seed_store_id(), CryptoPP::SecByteBlock(), 64);
    static const plain_codec other(seed_store_id(true), CryptoPP::SecByteBlock(), 64);
    return wrong ? other : right;
}
const sealed_codec& sealed(bool wrong) {
    static const sealed_codec right(seed_store_id(), master_of(seed_key_material()), 64);
    static const sealed_codec other(seed_store_id(), master_of(seed_key_material(true)), 64);
    return wrong ? other : right;
}

/// Values above this are decoded frame by frame only, and only their first bytes (a valid record
/// of a few KiB may hold gigabytes of zeros in zstd frames: that is slow, not wrong).
constexpr std::uint64_t whole_limit = std::uint64_t{1} << 20;
constexpr std::uint64_t frames_limit = std::uint64_t{16} << 20;

/// Everything record_view hands out, walked; parts must lie inside the record and add up to it.
void walk(const format::record_view& v) {
    const auto& h = v.header();
    const auto b = v.bytes();
    MMRY_FUZZ_CHECK(h.payload_offset() <= b.size(), "the table passes the record's end");
    MMRY_FUZZ_CHECK(v.key().size() == h.key_size && !v.key().empty(), "key size");
    MMRY_FUZZ_CHECK(v.meta_bytes().data() >= b.data() &&
                        v.meta_bytes().data() + v.meta_bytes().size() <= b.data() + b.size(),
                    "the meta section passes the record's end");
    const auto& m = v.meta();
    std::size_t sum = m.content_type().size() + m.version() % 2 + m.previous() % 2 + m.hash_kind() +
                      std::to_integer<std::size_t>(m.content_hash()[0]) +
                      std::to_integer<std::size_t>(m.chain_hash()[31]) + v.value_size() % 3;
    if (h.folded) sum += m.folded_chunks() % 5;
    m.for_each_tag([&](std::string_view t) { sum += t.size(); });
    m.for_each_attribute(
        [&](std::string_view k, std::string_view x) { sum += k.size() + x.size(); });
    (void)m.has_tag("a");
    std::uint64_t payload = 0, logical = 0;
    for (std::uint32_t i = 0; i < h.frame_count; ++i) {
        const auto e = v.entry(i);
        MMRY_FUZZ_CHECK(v.payload_offset(i) == h.payload_offset() + payload, "payload offsets");
        MMRY_FUZZ_CHECK(v.entry_bytes(i).data() == b.data() + h.table_offset() + 12 * i,
                        "entry bytes");
        payload += e.stored_size;
        logical += h.frame_length(i);
    }
    MMRY_FUZZ_CHECK(h.payload_offset() + payload == b.size(),
                    "the frames do not end where the record does");
    MMRY_FUZZ_CHECK(logical == h.logical_size, "frame lengths do not add up to the logical size");
    (void)sum;
}

/// Opens and decodes `rec` as a store with codec `c` would; the value, or nullopt when the codec
/// refuses it with mmry::error.
template <class Codec>
std::optional<bytes> decode(const char* who, const Codec& c, byte_view rec, const std::string& key,
                            std::uint64_t offset, std::uint64_t length) {
    try {
        const auto v = c.open(rec, key);
        c.check_meta(v);
        const auto& h = v.header();
        // Frame by frame, as the store checks a record it imports.
        bytes value, scratch(static_cast<std::size_t>(
                         std::min<std::uint64_t>(h.logical_size, h.frame_size)));
        const std::uint64_t upto = std::min(h.logical_size, frames_limit);
        for (std::uint64_t at = 0; at < upto; at += scratch.size()) {
            const auto n = static_cast<std::size_t>(
                std::min<std::uint64_t>(scratch.size(), h.logical_size - at));
            c.decode(v, at, std::span(scratch).first(n));
            if (h.logical_size <= whole_limit)
                value.insert(value.end(), scratch.begin(), scratch.begin() + n);
        }
        if (h.logical_size > whole_limit) return bytes{};
        // Whole, as get decodes it.
        bytes whole(static_cast<std::size_t>(h.logical_size));
        c.decode(v, 0, whole);
        MMRY_FUZZ_CHECK(whole == value, "whole decode differs from frame-by-frame decode");
        // A range, as read decodes it.
        if (offset <= value.size() && length <= value.size() - offset) {
            bytes part(static_cast<std::size_t>(length));
            c.decode(v, offset, part);
            MMRY_FUZZ_CHECK(std::equal(part.begin(), part.end(),
                                       value.begin() + static_cast<std::ptrdiff_t>(offset)),
                            "range decode differs from the whole value");
        }
        // In place, as view() reads an unsealed raw value.
        if constexpr (requires { c.contiguous(v); }) {
            bool raw = true;
            for (std::uint32_t i = 0; i < h.frame_count; ++i) raw = raw && v.entry(i).codec == 0;
            if (raw) {
                const auto in_place = c.contiguous(v);
                MMRY_FUZZ_CHECK(
                    std::equal(in_place.begin(), in_place.end(), value.begin(), value.end()),
                    "in-place view differs from the decoded value");
            }
        }
        // A folded record holds a chunk manifest.
        if (h.folded) {
            const auto m = format::manifest::parse(value, v.value_size(), key);
            std::uint64_t total = 0;
            for (const auto& e : m.entries) total += e.length;
            MMRY_FUZZ_CHECK(total == v.value_size(), "manifest entries do not add up");
        }
        if (verbose()) std::fprintf(stderr, "  %s: decoded %zu bytes\n", who, value.size());
        return value;
    } catch (const mmry::error& e) {
        if (verbose()) std::fprintf(stderr, "  %s: %s\n", who, e.what());
        return std::nullopt;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    input in(data, size);
    const std::uint8_t mode = in.u8();
    const std::uint64_t offset = in.u16(), length = in.u16();
    const auto given = in.rest();
    bytes rec(given.begin(), given.end());
    if (mode & 1) reseal(rec, seed_store_id(), master_of(seed_key_material()));

    std::optional<format::record_view> parsed;
    try {
        parsed = format::record_view::parse(rec, {}, tag_size);
    } catch (const mmry::error& e) {
        if (verbose()) std::fprintf(stderr, "  parse: %s\n", e.what());
        return 0;
    }
    walk(*parsed);
    const std::string key(parsed->key());
    const bool has_frames = parsed->header().frame_count > 0;

    const auto p = decode("plain", plain(false), rec, key, offset, length);
    const auto pw = decode("plain, other store", plain(true), rec, key, offset, length);
    MMRY_FUZZ_CHECK(!(p && pw && has_frames), "a record decodes under two store ids");
    const auto s = decode("sealed", sealed(false), rec, key, offset, length);
    const auto sw = decode("sealed, other key", sealed(true), rec, key, offset, length);
    MMRY_FUZZ_CHECK(!(s && sw), "a sealed record decodes under two keys");
    MMRY_FUZZ_CHECK(!((p || pw) && (s || sw)), "a record decodes as both plain and sealed");
    return 0;
}
