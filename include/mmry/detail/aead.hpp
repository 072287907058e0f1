#pragma once
// An adapter from a Crypto++ authenticated cipher (GCM<AES>, XChaCha20Poly1305) to mmry's cipher
// context: rekey once per subkey, then seal/open frames with a 96-bit nonce (zero-padded to the
// cipher's nonce size).

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include <cryptopp/cryptlib.h>
#include <cryptopp/secblock.h>

namespace mmry {
inline namespace v1 {
namespace detail {

template <class Encryption, class Decryption, std::size_t NonceSize, std::size_t TagSize>
class aead_context {
  public:
    static constexpr std::size_t key_size = 32;
    static constexpr std::size_t tag_size = TagSize;

    /// Sets the subkey for the frames that follow. The key schedule runs on first use, for the
    /// direction used only (a get never pays for the encryptor's tables, nor a put for the
    /// decryptor's).
    void rekey(std::span<const std::byte, key_size> key) {
        std::memcpy(key_.data(), key.data(), key_size);
        enc_keyed_ = dec_keyed_ = false;
    }

    /// Writes ciphertext followed by the tag into `out` (plain.size() + tag_size bytes).
    void seal(std::span<const std::byte, 12> nonce, std::span<const std::byte> aad,
              std::span<const std::byte> plain, std::span<std::byte> out) {
        const auto iv = nonce_bytes(nonce);
        if (!enc_keyed_)
            enc_keyed_ = (enc_.SetKeyWithIV(key_.data(), key_size, iv.data(), iv.size()), true);
        enc_.EncryptAndAuthenticate(ptr(out.data()), ptr(out.data() + plain.size()), tag_size,
                                    iv.data(), iv.size(), cptr(aad.data()), aad.size(),
                                    cptr(plain.data()), plain.size());
    }

    /// Verifies and decrypts `sealed` (ciphertext then tag) into `out`; false when the tag fails.
    bool open(std::span<const std::byte, 12> nonce, std::span<const std::byte> aad,
              std::span<const std::byte> sealed, std::span<std::byte> out) {
        if (sealed.size() < tag_size) return false;
        const std::size_t n = sealed.size() - tag_size;
        const auto iv = nonce_bytes(nonce);
        if (!dec_keyed_)
            dec_keyed_ = (dec_.SetKeyWithIV(key_.data(), key_size, iv.data(), iv.size()), true);
        return dec_.DecryptAndVerify(ptr(out.data()), cptr(sealed.data() + n), tag_size, iv.data(),
                                     iv.size(), cptr(aad.data()), aad.size(), cptr(sealed.data()),
                                     n);
    }

  private:
    static std::array<CryptoPP::byte, NonceSize> nonce_bytes(std::span<const std::byte, 12> n) {
        static_assert(NonceSize >= 12);
        std::array<CryptoPP::byte, NonceSize> iv{};
        std::memcpy(iv.data(), n.data(), n.size());
        return iv;
    }
    static CryptoPP::byte* ptr(std::byte* p) { return reinterpret_cast<CryptoPP::byte*>(p); }
    static const CryptoPP::byte* cptr(const std::byte* p) {
        return reinterpret_cast<const CryptoPP::byte*>(p);
    }

    CryptoPP::FixedSizeSecBlock<CryptoPP::byte, key_size> key_;
    bool enc_keyed_ = false;
    bool dec_keyed_ = false;
    Encryption enc_;
    Decryption dec_;
};

}  // namespace detail
}  // namespace v1
}  // namespace mmry
