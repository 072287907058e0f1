// Fuzz target: format::parse_bundle, the framing of a folded value's export, and
// format::record_view::parse of each record it frames.
//
// Input: the bundle.
//
// Checks: parsing fails only with mmry::error; what it accepts frames records that lie inside the
// bundle, in order, with fewer pieces than records, and is written again byte for byte by
// format::write_bundle.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include <mmry/format/bundle.hpp>
#include <mmry/format/record.hpp>

#include "fuzz_support.hpp"

using namespace mmry_fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const byte_view b(reinterpret_cast<const std::byte*>(data), size);
    format::bundle parsed;
    try {
        parsed = format::parse_bundle(b);
    } catch (const mmry::error&) {
        return 0;
    }
    MMRY_FUZZ_CHECK(!parsed.records.empty() && parsed.pieces < parsed.records.size(),
                    "record and piece counts");
    const std::byte* at = b.data() + format::bundle_head_size;
    for (const auto& r : parsed.records) {
        MMRY_FUZZ_CHECK(r.data() == at + 8 && r.data() + r.size() <= b.data() + b.size(),
                        "a record outside the bundle, or out of order");
        at = r.data() + r.size();
        try {
            (void)format::record_view::parse(r, {}, tag_size);
        } catch (const mmry::error&) {
        }
    }
    const bytes again = format::write_bundle(parsed);
    MMRY_FUZZ_CHECK(again.size() == b.size() && std::equal(again.begin(), again.end(), b.begin()),
                    "bundle written again differs");
    return 0;
}
