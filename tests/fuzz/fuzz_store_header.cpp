// Fuzz target: format::store_header::parse, the header of segment 0, and the checks an open makes
// with it (policies, key).
//
// Input: the header bytes (88 expected; more are ignored by parse).
//
// Checks: parsing and the checks fail only with mmry::error; a header parse accepts is written
// again byte for byte by store_header::write.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include <mmry/format/store_header.hpp>
#include <mmry/traits.hpp>

#include "fuzz_support.hpp"

using namespace mmry_fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const byte_view in(reinterpret_cast<const std::byte*>(data), size);
    format::store_header h;
    try {
        h = format::store_header::parse(in, "fuzz");
    } catch (const mmry::error&) {
        return 0;
    }
    std::array<std::byte, format::store_header_size> again{};
    h.write(again);
    MMRY_FUZZ_CHECK(std::equal(again.begin(), again.end(), in.begin()),
                    "header written again differs: " + hex_of(again, 88) + " vs " + hex_of(in, 88));
    try {
        h.check_policies(format::fingerprint::of<mmry::default_traits>(), "fuzz");
    } catch (const mmry::error&) {
    }
    try {
        h.check_key(master_of(seed_key_material()), "fuzz");
    } catch (const mmry::error&) {
    }
    return 0;
}
