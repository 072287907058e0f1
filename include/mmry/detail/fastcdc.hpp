#pragma once
// Content-defined chunking for the fold policies: FastCDC (Xia et al., "FastCDC: a Fast and
// Efficient Content-Defined Chunking Approach for Data Deduplication", USENIX ATC 2016) with
// normalized chunking at level 2, over a Gear table expanded from a 32-byte seed.
//
// A keyed table matters: with a public table the chunk boundaries of a value leak facts about its
// content (Gear cut points are a function of 64-byte windows), so an encrypted store derives the
// seed from its key; two seeds give unrelated tables and unrelated boundaries.

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <cryptopp/hkdf.h>
#include <cryptopp/sha.h>

#include <mmry/detail/le.hpp>
#include <mmry/error.hpp>

namespace mmry {
inline namespace v1 {
namespace detail {

/// The 256 random 64-bit words of a Gear hash, expanded from a 32-byte seed with
/// HKDF-SHA256 (the seed as input key material, a fixed label as info). The same seed gives the
/// same table on every host; different seeds give unrelated tables. The default table is the one
/// of the all-zero seed.
///
/// Thread-safety: immutable after construction.
class gear_table {
  public:
    static constexpr std::size_t seed_size = 32;

    gear_table() : gear_table(std::array<std::byte, seed_size>{}) {}

    explicit gear_table(std::span<const std::byte, seed_size> seed) {
        static constexpr std::string_view info = "mmry fastcdc gear table v1";
        std::array<std::byte, sizeof words_> out;
        CryptoPP::HKDF<CryptoPP::SHA256>().DeriveKey(
            reinterpret_cast<CryptoPP::byte*>(out.data()), out.size(),
            reinterpret_cast<const CryptoPP::byte*>(seed.data()), seed.size(), nullptr, 0,
            reinterpret_cast<const CryptoPP::byte*>(info.data()), info.size());
        for (std::size_t i = 0; i < words_.size(); ++i)
            words_[i] = load_le<std::uint64_t>(out.data() + 8 * i);
    }

    std::uint64_t operator[](std::size_t byte) const noexcept { return words_[byte]; }
    const std::array<std::uint64_t, 256>& words() const noexcept { return words_; }

    friend bool operator==(const gear_table&, const gear_table&) = default;

  private:
    std::array<std::uint64_t, 256> words_{};
};

/// Splits bytes into chunks whose boundaries depend only on the content and the Gear table: a
/// boundary is declared where the Gear hash of the last 64 bytes has its top bits all zero. An
/// insertion or deletion therefore changes only the chunk it falls in and, at most, the next few
/// (until a boundary is found again at the same content position); the chunks before an edit are
/// unchanged, and after it the chunking resynchronises on the old boundaries.
///
/// Sizes: no chunk is longer than `max_size`; every chunk but the last of the input is at least
/// `min_size` long. Normalized chunking (level 2): between `min_size` and `avg_size` a cut needs
/// log2(avg)+2 zero bits, after `avg_size` only log2(avg)-2, which pulls chunk sizes towards
/// `avg_size` (the mean lands near it on random data).
///
/// Complexity: next() reads each byte of the returned chunk past `min_size` once (a shift, an
/// add, a table load and a test); chunking n bytes is O(n) with no allocation.
///
/// Thread-safety: every member function is const; one chunker may be shared by any number of
/// threads. It holds its own copy of the table.
class fastcdc {
  public:
    static constexpr std::size_t min_min_size = 64;
    static constexpr std::size_t max_max_size = std::size_t{64} << 20;

    /// REQUIRES: 64 <= min_size < avg_size < max_size <= 64 MiB, avg_size a power of two.
    /// Throws mmry::error(errc::invalid_argument) naming the three sizes otherwise.
    fastcdc(std::size_t min_size, std::size_t avg_size, std::size_t max_size,
            const gear_table& table)
        : table_(table), min_(min_size), avg_(avg_size), max_(max_size) {
        const char* why = nullptr;
        if (min_size < min_min_size)
            why = "min must be at least 64";
        else if (!(min_size < avg_size && avg_size < max_size))
            why = "they must satisfy min < avg < max";
        else if (max_size > max_max_size)
            why = "max must be at most 64 MiB";
        else if (!std::has_single_bit(avg_size))
            why = "avg must be a power of two";
        if (why)
            throw error(errc::invalid_argument, "fastcdc chunk sizes min " +
                                                    std::to_string(min_size) + ", avg " +
                                                    std::to_string(avg_size) + ", max " +
                                                    std::to_string(max_size) + ": " + why);
        // The top bits of a Gear hash depend on the last 64 bytes, its low bit on the last byte
        // alone; masks on the top bits give every cut the full 64-byte window (the paper's spread
        // masks reach a 48-byte one) with no table of masks.
        const int bits = std::countr_zero(avg_size);
        mask_s_ = ~std::uint64_t{0} << (64 - (bits + 2));
        mask_l_ = ~std::uint64_t{0} << (64 - (bits - 2));
    }

    std::size_t min_size() const noexcept { return min_; }
    std::size_t avg_size() const noexcept { return avg_; }
    std::size_t max_size() const noexcept { return max_; }

    /// The length of the chunk that starts at data[0]: data.size() if that is at most
    /// min_size(), never more than max_size(), 0 only for empty data.
    std::size_t next(std::span<const std::byte> data) const noexcept {
        std::size_t n = data.size();
        if (n <= min_) return n;
        if (n > max_) n = max_;
        const std::size_t normal = n < avg_ ? n : avg_;
        const std::byte* p = data.data();
        const std::uint64_t* g = table_.words().data();
        std::uint64_t fp = 0;
        std::size_t i = min_;
        for (; i < normal; ++i) {
            fp = (fp << 1) + g[std::to_integer<std::uint8_t>(p[i])];
            if ((fp & mask_s_) == 0) return i + 1;
        }
        for (; i < n; ++i) {
            fp = (fp << 1) + g[std::to_integer<std::uint8_t>(p[i])];
            if ((fp & mask_l_) == 0) return i + 1;
        }
        return n;
    }

    /// Calls f(offset, length) for each chunk of data in order; the chunks cover data exactly
    /// (none for empty data). Throws what f throws.
    template <class F>
    void for_each_chunk(std::span<const std::byte> data, F&& f) const {
        for (std::size_t offset = 0; offset < data.size();) {
            const std::size_t length = next(data.subspan(offset));
            f(offset, length);
            offset += length;
        }
    }

  private:
    gear_table table_;
    std::size_t min_, avg_, max_;
    std::uint64_t mask_s_ = 0, mask_l_ = 0;
};

}  // namespace detail
}  // namespace v1
}  // namespace mmry
