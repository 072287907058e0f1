#pragma once
// cipher::xchacha20_poly1305: XChaCha20-Poly1305 (Crypto++), 192-bit nonces, 128-bit tags.
//
// Same construction as aes256_gcm: a subkey per writer session, (sequence number, frame number)
// as nonce, zero-padded to 192 bits. Faster than
// AES-GCM on CPUs without AES instructions; slower (Poly1305-bound, ~0.6 GB/s) on those with them.
// Thread-safety: a context belongs to one thread; the store keeps one per thread.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <cryptopp/chachapoly.h>

#include <mmry/detail/aead.hpp>

#include <mmry/concepts.hpp>

namespace mmry {
inline namespace v1 {
namespace cipher {

struct xchacha20_poly1305 {
    static constexpr std::uint8_t id = 2;
    static constexpr std::string_view name = "xchacha20_poly1305";
    static constexpr std::size_t tag_size = 16;
    using context = detail::aead_context<CryptoPP::XChaCha20Poly1305::Encryption,
                                         CryptoPP::XChaCha20Poly1305::Decryption, 24, tag_size>;
};

}  // namespace cipher

static_assert(cipher_policy<cipher::xchacha20_poly1305>);
}  // namespace v1
}  // namespace mmry
