// Fuzz target: detail::fastcdc, content-defined chunking.
//
// Input: byte 0: the Gear table's seed (all 32 seed bytes); bytes 1-2: min size; byte 3: avg
// size as a power of two; bytes 4-5: max size (sizes are drawn so that most, not all, satisfy the
// constructor's REQUIRES); the rest is the data to chunk.
//
// Checks: the constructor refuses exactly the sizes it documents, with mmry::error; the chunks
// cover the data exactly, in order; none is empty or longer than max; all but the last are at
// least min long; next() of data no longer than min takes it all; chunking is deterministic, and
// chunking the data from any chunk boundary on gives the same later chunks (boundaries depend
// only on content and table).

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <mmry/detail/fastcdc.hpp>

#include "fuzz_support.hpp"

namespace {

using namespace mmry_fuzz;
using mmry::detail::fastcdc;
using mmry::detail::gear_table;
using chunk_list = std::vector<std::pair<std::size_t, std::size_t>>;

chunk_list chunks_of(const fastcdc& c, byte_view data) {
    chunk_list out;
    c.for_each_chunk(
        data, [&](std::size_t offset, std::size_t length) { out.emplace_back(offset, length); });
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    input in(data, size);
    std::array<std::byte, gear_table::seed_size> seed;
    seed.fill(std::byte{in.u8()});
    const std::size_t min = 48 + in.u16() % 1024;
    const std::size_t avg = std::size_t{1} << (6 + in.u8() % 8);  // 64 .. 8192
    const std::size_t max = in.u16() % 16384 + 1;
    const byte_view bytes_in = in.rest();

    const bool valid = min >= fastcdc::min_min_size && min < avg && avg < max &&
                       max <= fastcdc::max_max_size && std::has_single_bit(avg);
    std::optional<fastcdc> chunker;
    try {
        chunker.emplace(min, avg, max, gear_table(seed));
    } catch (const mmry::error& e) {
        MMRY_FUZZ_CHECK(!valid && e.code() == mmry::errc::invalid_argument,
                        std::string("refused valid sizes: ") + e.what());
        return 0;
    }
    MMRY_FUZZ_CHECK(valid, "accepted min " + std::to_string(min) + ", avg " + std::to_string(avg) +
                               ", max " + std::to_string(max));
    const auto& c = *chunker;

    const chunk_list chunks = chunks_of(c, bytes_in);
    std::size_t at = 0;
    for (std::size_t i = 0; i < chunks.size(); ++i) {
        const auto [offset, length] = chunks[i];
        const std::string which = "chunk " + std::to_string(i) + " at " + std::to_string(offset) +
                                  " of " + std::to_string(length) + " bytes";
        MMRY_FUZZ_CHECK(offset == at, which + ": a gap or an overlap");
        MMRY_FUZZ_CHECK(length > 0 && length <= max, which + ": empty or over max");
        MMRY_FUZZ_CHECK(length >= min || i + 1 == chunks.size(), which + ": under min");
        at += length;
    }
    MMRY_FUZZ_CHECK(at == bytes_in.size(), "the chunks do not cover the data");
    MMRY_FUZZ_CHECK(chunks_of(c, bytes_in) == chunks, "chunking is not deterministic");
    MMRY_FUZZ_CHECK(
        c.next(bytes_in.first(std::min(bytes_in.size(), min))) == std::min(bytes_in.size(), min),
        "next() of data no longer than min does not take it all");
    // From the first boundary (and from the middle one), the rest chunks the same.
    for (std::size_t i : {std::size_t{1}, chunks.size() / 2}) {
        if (i == 0 || i >= chunks.size()) continue;
        const std::size_t from = chunks[i].first;
        chunk_list rest = chunks_of(c, bytes_in.subspan(from));
        for (auto& r : rest) r.first += from;
        MMRY_FUZZ_CHECK(
            rest == chunk_list(chunks.begin() + static_cast<std::ptrdiff_t>(i), chunks.end()),
            "chunking from boundary " + std::to_string(from) + " differs");
    }
    return 0;
}
