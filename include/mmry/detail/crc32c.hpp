#pragma once
// CRC32C (Castagnoli) over several spans: the SSE4.2 crc32 instruction where the CPU has it (eight
// bytes per instruction, no call or object set-up, which matters for the short heads every get
// checks), Crypto++'s implementation otherwise. Both give the standard CRC32C value
// (crc32c("123456789") == 0xe3069283).

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <span>

#include <cryptopp/crc.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define MMRY_CRC32C_X86 1
#endif

namespace mmry {
inline namespace v1 {
namespace detail {

#ifdef MMRY_CRC32C_X86
__attribute__((target("sse4.2"))) inline std::uint32_t crc32c_sse42(std::uint32_t crc,
                                                                    const std::byte* p,
                                                                    std::size_t n) noexcept {
    std::uint64_t c = crc;
    for (; n >= 8; p += 8, n -= 8) {
        std::uint64_t word;
        std::memcpy(&word, p, 8);
        c = _mm_crc32_u64(c, word);
    }
    auto c32 = static_cast<std::uint32_t>(c);
    for (; n > 0; ++p, --n) c32 = _mm_crc32_u8(c32, std::to_integer<std::uint8_t>(*p));
    return c32;
}

inline bool has_sse42() noexcept {
    static const bool yes = __builtin_cpu_supports("sse4.2");
    return yes;
}
#endif

inline std::uint32_t crc32c(std::initializer_list<std::span<const std::byte>> parts) {
#ifdef MMRY_CRC32C_X86
    if (has_sse42()) {
        std::uint32_t crc = 0xffffffffu;
        for (auto part : parts) crc = crc32c_sse42(crc, part.data(), part.size());
        return crc ^ 0xffffffffu;
    }
#endif
    CryptoPP::CRC32C crc;
    for (auto part : parts)
        crc.Update(reinterpret_cast<const CryptoPP::byte*>(part.data()), part.size());
    std::uint32_t out = 0;
    crc.Final(reinterpret_cast<CryptoPP::byte*>(&out));
    return out;
}

}  // namespace detail
}  // namespace v1
}  // namespace mmry
