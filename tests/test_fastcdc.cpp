// detail::fastcdc and detail::gear_table: chunks cover the input exactly and keep to their size
// bounds, boundaries depend only on content and table (an edit shifts only the chunks around it),
// different seeds give different boundaries, and bad sizes are refused.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <random>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include <mmry/detail/fastcdc.hpp>
#include <mmry/error.hpp>

using mmry::detail::fastcdc;
using mmry::detail::gear_table;

namespace {

constexpr std::size_t KiB = 1024, MiB = 1024 * KiB;

std::vector<std::byte> random_bytes(std::size_t size, std::uint64_t seed) {
    std::vector<std::byte> out(size);
    std::mt19937_64 rng(seed);
    for (std::size_t i = 0; i < size; i += 8) {
        const std::uint64_t w = rng();
        for (std::size_t j = 0; j < 8 && i + j < size; ++j)
            out[i + j] = static_cast<std::byte>(w >> (8 * j));
    }
    return out;
}

gear_table table_of(std::uint8_t fill) {
    std::array<std::byte, gear_table::seed_size> seed;
    seed.fill(std::byte{fill});
    return gear_table(seed);
}

using chunk_list = std::vector<std::pair<std::size_t, std::size_t>>;  // (offset, length)

chunk_list chunks_of(const fastcdc& c, std::span<const std::byte> data) {
    chunk_list out;
    c.for_each_chunk(
        data, [&](std::size_t offset, std::size_t length) { out.emplace_back(offset, length); });
    return out;
}

/// Checks coverage and size bounds; returns the chunks.
chunk_list checked_chunks(const fastcdc& c, std::span<const std::byte> data) {
    const chunk_list chunks = chunks_of(c, data);
    std::size_t expected_offset = 0;
    for (std::size_t i = 0; i < chunks.size(); ++i) {
        const auto [offset, length] = chunks[i];
        REQUIRE(offset == expected_offset);
        REQUIRE(length > 0);
        REQUIRE(length <= c.max_size());
        if (i + 1 < chunks.size()) REQUIRE(length >= c.min_size());
        expected_offset += length;
    }
    REQUIRE(expected_offset == data.size());
    return chunks;
}

std::vector<std::size_t> ends_of(const chunk_list& chunks) {
    std::vector<std::size_t> ends;
    for (const auto& [offset, length] : chunks) ends.push_back(offset + length);
    return ends;
}

}  // namespace

TEST_CASE("fastcdc chunks cover the input and keep to min and max", "[fold]") {
    const gear_table table;
    const fastcdc c(2 * KiB, 8 * KiB, 64 * KiB, table);
    for (std::size_t size : {std::size_t{1}, 2 * KiB, 2 * KiB + 1, 100 * KiB, 3 * MiB + 17}) {
        const auto data = random_bytes(size, size);
        checked_chunks(c, data);
    }
    // A tight max: many chunks are cut at max exactly.
    const fastcdc tight(64, 4 * KiB, 5 * KiB, table);
    const auto data = random_bytes(2 * MiB, 7);
    const auto chunks = checked_chunks(tight, data);
    CHECK(std::count_if(chunks.begin(), chunks.end(),
                        [](const auto& ch) { return ch.second == 5 * KiB; }) > 0);
}

TEST_CASE("fastcdc is deterministic", "[fold]") {
    const auto data = random_bytes(2 * MiB, 1);
    const fastcdc a(2 * KiB, 8 * KiB, 64 * KiB, table_of(3));
    const fastcdc b(2 * KiB, 8 * KiB, 64 * KiB, table_of(3));
    CHECK(chunks_of(a, data) == chunks_of(a, data));
    CHECK(chunks_of(a, data) == chunks_of(b, data));
    CHECK(table_of(3) == table_of(3));
}

TEST_CASE("fastcdc average chunk size on random data is near avg", "[fold]") {
    const auto data = random_bytes(8 * MiB, 42);
    for (std::size_t avg : {4 * KiB, 8 * KiB, 16 * KiB}) {
        const fastcdc c(avg / 4, avg, avg * 8, gear_table());
        const auto chunks = checked_chunks(c, data);
        const double mean = static_cast<double>(data.size()) / static_cast<double>(chunks.size());
        INFO("avg " << avg << ", mean " << mean);
        CHECK(mean > static_cast<double>(avg) / 2);
        CHECK(mean < static_cast<double>(avg) * 2);
    }
}

TEST_CASE("fastcdc an insertion changes only the chunks around it", "[fold]") {
    const auto data = random_bytes(4 * MiB, 5);
    const auto insert = random_bytes(100, 6);
    const std::size_t at = 2 * MiB + 12345;
    std::vector<std::byte> edited(data.begin(), data.begin() + at);
    edited.insert(edited.end(), insert.begin(), insert.end());
    edited.insert(edited.end(), data.begin() + at, data.end());

    const fastcdc c(2 * KiB, 8 * KiB, 64 * KiB, gear_table());
    const auto before = ends_of(checked_chunks(c, data));
    const auto after = ends_of(checked_chunks(c, edited));

    // Every chunk that ends before the edit is unchanged.
    std::size_t same_prefix = 0;
    while (same_prefix < before.size() && before[same_prefix] <= at) {
        REQUIRE(same_prefix < after.size());
        CHECK(after[same_prefix] == before[same_prefix]);
        ++same_prefix;
    }
    // After the edit, the boundaries are the old ones shifted by 100: the chunking resynchronises.
    std::size_t same_suffix = 0;
    while (same_suffix < before.size() && same_suffix < after.size() &&
           before[before.size() - 1 - same_suffix] > at &&
           after[after.size() - 1 - same_suffix] == before[before.size() - 1 - same_suffix] + 100)
        ++same_suffix;
    CHECK(same_prefix > 100);
    CHECK(same_suffix > 100);
    CHECK(before.size() - same_prefix - same_suffix <= 3);  // boundaries lost
    CHECK(after.size() - same_prefix - same_suffix <= 3);   // boundaries gained

    // Only the chunks around the edit hold bytes the old version did not have as a chunk.
    // Chunks as strings: GCC 12 at -O3 warns falsely (-Wstringop-overread) on comparing vectors
    // of std::byte inside std::set.
    const auto text = [](const auto& bytes, std::size_t offset, std::size_t length) {
        return std::string(reinterpret_cast<const char*>(bytes.data()) + offset, length);
    };
    std::set<std::string> old_chunks;
    for (const auto& [offset, length] : chunks_of(c, data))
        old_chunks.insert(text(data, offset, length));
    std::size_t new_chunks = 0;
    for (const auto& [offset, length] : chunks_of(c, edited))
        new_chunks += old_chunks.count(text(edited, offset, length)) == 0;
    INFO("chunks " << before.size() << " -> " << after.size() << ", new " << new_chunks);
    CHECK(new_chunks >= 1);
    CHECK(new_chunks <= 4);
}

TEST_CASE("fastcdc different seeds give different boundaries", "[fold]") {
    const auto data = random_bytes(1 * MiB, 9);
    const gear_table a = table_of(1), b = table_of(2);
    CHECK_FALSE(a == b);
    CHECK_FALSE(a == gear_table());
    // Unrelated tables: no word in common.
    for (std::size_t i = 0; i < 256; ++i) CHECK(a[i] != b[i]);
    const auto ends_a = ends_of(chunks_of(fastcdc(2 * KiB, 8 * KiB, 64 * KiB, a), data));
    const auto ends_b = ends_of(chunks_of(fastcdc(2 * KiB, 8 * KiB, 64 * KiB, b), data));
    CHECK(ends_a != ends_b);
    std::vector<std::size_t> common;
    std::set_intersection(ends_a.begin(), ends_a.end(), ends_b.begin(), ends_b.end(),
                          std::back_inserter(common));
    CHECK(common.size() < ends_a.size() / 4);  // only the end of the input and chance meetings
}

TEST_CASE("fastcdc refuses bad sizes with invalid_argument", "[fold]") {
    const gear_table table;
    const auto refused = [&](std::size_t min, std::size_t avg, std::size_t max) {
        try {
            fastcdc(min, avg, max, table);
        } catch (const mmry::error& e) {
            return e.code_value() == mmry::errc::invalid_argument;
        }
        return false;
    };
    CHECK(refused(32, 8 * KiB, 64 * KiB));        // min below 64
    CHECK(refused(8 * KiB, 8 * KiB, 64 * KiB));   // min == avg
    CHECK(refused(2 * KiB, 8 * KiB, 8 * KiB));    // avg == max
    CHECK(refused(2 * KiB, 1 * KiB, 64 * KiB));   // avg < min
    CHECK(refused(2 * KiB, 6 * KiB, 64 * KiB));   // avg not a power of two
    CHECK(refused(1 * MiB, 32 * MiB, 65 * MiB));  // max above 64 MiB
    CHECK(refused(0, 0, 0));
    CHECK_FALSE(refused(64, 128, 129));
    CHECK_FALSE(refused(16 * MiB, 32 * MiB, 64 * MiB));
    try {
        fastcdc(2 * KiB, 6 * KiB, 64 * KiB, table);
        FAIL("no throw");
    } catch (const mmry::error& e) {
        const std::string what = e.what();
        CHECK(what.find("2048") != std::string::npos);
        CHECK(what.find("6144") != std::string::npos);
        CHECK(what.find("65536") != std::string::npos);
        CHECK(what.find("power of two") != std::string::npos);
    }
}

TEST_CASE("fastcdc empty and short inputs", "[fold]") {
    const fastcdc c(2 * KiB, 8 * KiB, 64 * KiB, gear_table());
    CHECK(chunks_of(c, {}).empty());
    CHECK(c.next({}) == 0);
    for (std::size_t size : {std::size_t{1}, std::size_t{100}, 2 * KiB}) {
        const auto data = random_bytes(size, 3);
        CHECK(c.next(data) == size);
        CHECK(chunks_of(c, data) == chunk_list{{0, size}});
    }
}

// After 64 zero bytes the Gear hash stays at -table[0]; for the default table that value has none
// of the mask bits clear, so no cut is found before max (another table could cut at min instead).
TEST_CASE("fastcdc cuts repetitive input at max", "[fold]") {
    const std::vector<std::byte> zeros(1 * MiB + 100);
    const fastcdc c(2 * KiB, 8 * KiB, 64 * KiB, gear_table());
    const auto chunks = checked_chunks(c, zeros);
    REQUIRE(chunks.size() == 17);
    for (std::size_t i = 0; i + 1 < chunks.size(); ++i) CHECK(chunks[i].second == 64 * KiB);
    CHECK(chunks.back().second == 100);
}
