#pragma once
// An adapter from a Crypto++ authenticated cipher (GCM<AES>, XChaCha20Poly1305) to mmry's cipher
// context: rekey once per record, then seal/open frames with a counter nonce.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include <crypto++/cryptlib.h>

#include <mmry/detail/le.hpp>

namespace mmry {
inline namespace v1 {
namespace detail {

template <class Encryption, class Decryption, std::size_t NonceSize, std::size_t TagSize>
class aead_context {
  public:
    static constexpr std::size_t key_size = 32;
    static constexpr std::size_t tag_size = TagSize;

    void rekey(std::span<const std::byte, key_size> key) {
        auto k = reinterpret_cast<const CryptoPP::byte*>(key.data());
        const auto zero = nonce_bytes(0);
        enc_.SetKeyWithIV(k, key_size, zero.data(), zero.size());
        dec_.SetKeyWithIV(k, key_size, zero.data(), zero.size());
    }

    /// Writes ciphertext followed by the tag into `out` (plain.size() + tag_size bytes).
    void seal(std::uint64_t nonce, std::span<const std::byte> aad, std::span<const std::byte> plain,
              std::span<std::byte> out) {
        const auto iv = nonce_bytes(nonce);
        enc_.EncryptAndAuthenticate(ptr(out.data()), ptr(out.data() + plain.size()), tag_size,
                                    iv.data(), iv.size(), cptr(aad.data()), aad.size(),
                                    cptr(plain.data()), plain.size());
    }

    /// Verifies and decrypts `sealed` (ciphertext then tag) into `out`; false when the tag fails.
    bool open(std::uint64_t nonce, std::span<const std::byte> aad,
              std::span<const std::byte> sealed, std::span<std::byte> out) {
        if (sealed.size() < tag_size) return false;
        const std::size_t n = sealed.size() - tag_size;
        const auto iv = nonce_bytes(nonce);
        return dec_.DecryptAndVerify(ptr(out.data()), cptr(sealed.data() + n), tag_size, iv.data(),
                                     iv.size(), cptr(aad.data()), aad.size(), cptr(sealed.data()),
                                     n);
    }

  private:
    static std::array<CryptoPP::byte, NonceSize> nonce_bytes(std::uint64_t n) {
        std::array<CryptoPP::byte, NonceSize> iv{};
        store_le(reinterpret_cast<std::byte*>(iv.data()), n);
        return iv;
    }
    static CryptoPP::byte* ptr(std::byte* p) { return reinterpret_cast<CryptoPP::byte*>(p); }
    static const CryptoPP::byte* cptr(const std::byte* p) {
        return reinterpret_cast<const CryptoPP::byte*>(p);
    }

    Encryption enc_;
    Decryption dec_;
};

}  // namespace detail
}  // namespace v1
}  // namespace mmry
