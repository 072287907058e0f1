#pragma once
// cipher::aes256_gcm: AES-256 in Galois/Counter Mode (Crypto++), 96-bit nonces, 128-bit tags.
//
// Nonces are never reused by construction: each writer session seals under its own subkey
// (HKDF-SHA256 of the store key with a random session salt), and the nonce of a frame is the
// record's sequence number and the frame number. The 2^32-messages limit of random GCM nonces does
// not apply. Thread-safety: a context belongs to one thread; the store keeps one per thread.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <cryptopp/aes.h>
#include <cryptopp/gcm.h>

#include <mmry/detail/aead.hpp>

#include <mmry/concepts.hpp>

namespace mmry {
inline namespace v1 {
namespace cipher {

struct aes256_gcm {
    static constexpr std::uint8_t id = 1;
    static constexpr std::string_view name = "aes256_gcm";
    static constexpr std::size_t tag_size = 16;
    using context = detail::aead_context<CryptoPP::GCM<CryptoPP::AES>::Encryption,
                                         CryptoPP::GCM<CryptoPP::AES>::Decryption, 12, tag_size>;
};

}  // namespace cipher

static_assert(cipher_policy<cipher::aes256_gcm>);
}  // namespace v1
}  // namespace mmry
