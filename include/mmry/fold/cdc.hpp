#pragma once
// fold::cdc<Min, Avg, Max>: deduplication by content-defined chunking (FastCDC: a gear hash with
// normalized chunking). A value of at least Min bytes is cut into chunks of Min..Max bytes
// (Avg on average), at places that depend only on the content around them; each distinct chunk
// is stored once in the store's chunk table, compressed and encrypted like a frame, and counted
// by the values that refer to it. The value itself becomes a folded record: its chunk manifest.
// Values below Min are stored as they would be without folding.
//
// Chunk ids: SHA-256 of the chunk in a store without a cipher; HMAC-SHA256 under a key derived
// from the store key in an encrypted store, whose gear table is also derived from the key, so that
// equal content in another store, or a guessed content, cannot be confirmed by its id. Chunk
// sizes still show through (keyed CDC does not hide them; see docs/DECISIONS.md).
//
// Range reads decode only the chunks the range covers. Erasing a value releases its chunks; a
// chunk is freed when no value refers to it any more.

#include <cstdint>
#include <string_view>

#include <mmry/concepts.hpp>

namespace mmry {
inline namespace v1 {
namespace fold {

template <std::uint32_t Min = 1024, std::uint32_t Avg = 4 * 1024, std::uint32_t Max = 64 * 1024>
struct cdc {
    static_assert(Min >= 64 && Min < Avg && Avg < Max && Max <= 64u * 1024 * 1024,
                  "fold::cdc needs 64 <= Min < Avg < Max <= 64 MiB");
    static_assert((Avg & (Avg - 1)) == 0, "fold::cdc needs Avg to be a power of two");

    static constexpr std::uint8_t id = 1;
    static constexpr std::string_view name = "cdc";
    static constexpr std::uint32_t min_size = Min, avg_size = Avg, max_size = Max;
};

}  // namespace fold

static_assert(fold_policy<fold::cdc<>>);
}  // namespace v1
}  // namespace mmry
