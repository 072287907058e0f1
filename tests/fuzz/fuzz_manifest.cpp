// Fuzz target: format::manifest::parse and format::parse_entries, the chunk list of a folded
// value.
//
// Input: byte 0: bit 0 chooses parse_entries (else manifest::parse), bit 1 takes the value size
// from the manifest's own head (else from the next 8 bytes; so that both the matching and the
// mismatching size are reached); for parse_entries the next 4 bytes are the length limit. The
// rest is the manifest or the entries.
//
// Checks: parsing fails only with mmry::error; what it accepts keeps its limits (depth 0 or 1,
// lengths 1 .. limit, adding up to the value size) and is written again byte for byte by
// format::write_manifest / write_entries.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include <mmry/detail/le.hpp>
#include <mmry/format/manifest.hpp>

#include "fuzz_support.hpp"

using namespace mmry_fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    input in(data, size);
    const std::uint8_t mode = in.u8();
    if (mode & 1) {
        const std::uint64_t limit = in.u32();
        const byte_view b = in.rest();
        try {
            const auto entries = format::parse_entries(b, limit, "fuzz");
            for (const auto& e : entries)
                MMRY_FUZZ_CHECK(e.length != 0 && e.length <= limit, "entry length");
            const bytes again = format::write_entries(entries);
            MMRY_FUZZ_CHECK(
                again.size() == b.size() && std::equal(again.begin(), again.end(), b.begin()),
                "entries written again differ");
        } catch (const mmry::error&) {
        }
        return 0;
    }
    std::uint64_t value_size = in.u32();
    value_size |= std::uint64_t{in.u32()} << 32;
    const byte_view m = in.rest();
    if ((mode & 2) && m.size() >= format::manifest_head_size)
        value_size = mmry::detail::load_le<std::uint64_t>(m.data() + 16);
    try {
        const auto parsed = format::manifest::parse(m, value_size, "fuzz");
        MMRY_FUZZ_CHECK(parsed.depth <= 1, "depth " + std::to_string(parsed.depth));
        std::uint64_t total = 0;
        for (const auto& e : parsed.entries) {
            MMRY_FUZZ_CHECK(e.length != 0, "an empty entry");
            if (parsed.depth == 0)
                MMRY_FUZZ_CHECK(e.length <= format::max_chunk_size, "a chunk over the limit");
            total += e.length;
        }
        MMRY_FUZZ_CHECK(total == value_size, "entries do not add up to the value size");
        const bytes again = format::write_manifest(parsed.entries, parsed.depth);
        MMRY_FUZZ_CHECK(
            again.size() == m.size() && std::equal(again.begin(), again.end(), m.begin()),
            "manifest written again differs: " + hex_of(again) + " vs " + hex_of(m));
        for (const auto& e : parsed.entries) (void)format::ends_piece(e);
    } catch (const mmry::error&) {
    }
    return 0;
}
