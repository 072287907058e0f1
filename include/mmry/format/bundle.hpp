#pragma once
// A bundle: how export_record hands over a folded value, as its record followed by the records
// of the distinct chunks its manifest names (docs/FORMAT.md, "Bundles").
//
//   0   8    magic "MMRYBNDL"
//   8   u32  record count n (>= 1)
//   12  u32  piece count p (< n)
//   16  n x { u64 length, record bytes }: the folded record first, then the p pieces of its
//            manifest, then its chunks
//
// parse_bundle validates the framing and never reads outside the span it was given; each record
// is then checked like any imported record.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include <mmry/bytes.hpp>
#include <mmry/detail/le.hpp>
#include <mmry/error.hpp>

namespace mmry {
inline namespace v1 {
namespace format {

inline constexpr char bundle_magic[8] = {'M', 'M', 'R', 'Y', 'B', 'N', 'D', 'L'};
inline constexpr std::size_t bundle_head_size = 16;

inline bool is_bundle(std::span<const std::byte> b) noexcept {
    return b.size() >= sizeof bundle_magic && std::memcmp(b.data(), bundle_magic, 8) == 0;
}

/// The records of a bundle: the folded record, then `pieces` pieces, then chunks.
struct bundle {
    std::vector<std::span<const std::byte>> records;
    std::size_t pieces = 0;
};

/// The bytes of bundle `b`.
inline bytes write_bundle(const bundle& b) {
    const auto& records = b.records;
    std::size_t n = bundle_head_size;
    for (const auto& r : records) n += 8 + r.size();
    bytes out(n);
    std::memcpy(out.data(), bundle_magic, 8);
    detail::store_le<std::uint32_t>(out.data() + 8, static_cast<std::uint32_t>(records.size()));
    detail::store_le<std::uint32_t>(out.data() + 12, static_cast<std::uint32_t>(b.pieces));
    std::byte* at = out.data() + bundle_head_size;
    for (const auto& r : records) {
        detail::store_le<std::uint64_t>(at, r.size());
        if (!r.empty()) std::memcpy(at + 8, r.data(), r.size());
        at += 8 + r.size();
    }
    return out;
}

/// The records of a bundle, in order. Throws errc::corrupt when the framing is broken.
inline bundle parse_bundle(std::span<const std::byte> b) {
    auto fail = [](const std::string& why) -> bundle {
        throw error(errc::corrupt, "bundle " + why);
    };
    if (!is_bundle(b) || b.size() < bundle_head_size) return fail("has no bundle head");
    const std::uint32_t n = detail::load_le<std::uint32_t>(b.data() + 8);
    if (n == 0) return fail("holds no record");
    bundle out;
    out.pieces = detail::load_le<std::uint32_t>(b.data() + 12);
    if (out.pieces >= n)
        return fail("names " + std::to_string(out.pieces) + " pieces among " + std::to_string(n) +
                    " records");
    std::size_t at = bundle_head_size;
    for (std::uint32_t i = 0; i < n; ++i) {
        if (b.size() - at < 8)
            return fail("ends before the length of record " + std::to_string(i) + " of " +
                        std::to_string(n));
        const std::uint64_t len = detail::load_le<std::uint64_t>(b.data() + at);
        at += 8;
        if (len > b.size() - at)
            return fail("record " + std::to_string(i) + " of " + std::to_string(len) +
                        " bytes passes the bundle's end");
        out.records.push_back(b.subspan(at, static_cast<std::size_t>(len)));
        at += static_cast<std::size_t>(len);
    }
    if (at != b.size())
        return fail("has " + std::to_string(b.size() - at) + " bytes after its last record");
    return out;
}

}  // namespace format
}  // namespace v1
}  // namespace mmry
