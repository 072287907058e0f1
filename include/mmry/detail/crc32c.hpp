#pragma once
// CRC32C (Castagnoli) over several spans, using Crypto++'s implementation (SSE4.2 / ARMv8 CRC
// instructions where the CPU has them).

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>

#include <cryptopp/crc.h>

namespace mmry {
inline namespace v1 {
namespace detail {

inline std::uint32_t crc32c(std::initializer_list<std::span<const std::byte>> parts) {
    CryptoPP::CRC32C crc;
    for (auto part : parts)
        crc.Update(reinterpret_cast<const CryptoPP::byte*>(part.data()), part.size());
    std::uint32_t out = 0;
    crc.Final(reinterpret_cast<CryptoPP::byte*>(&out));  // host order; compared only with itself
    return out;
}

}  // namespace detail
}  // namespace v1
}  // namespace mmry
