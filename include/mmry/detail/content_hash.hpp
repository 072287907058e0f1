#pragma once
// Content and chain hashes of a store's values: SHA-256 in a store without a cipher (anyone can
// check a value against `sha256sum`), HMAC-SHA256 under a key derived from the store's key in an
// encrypted store, so that a hash stored in the clear cannot confirm a guess of the content.
//
// Thread-safety: const member functions may be called from any number of threads at once.

#include <cstdint>
#include <string_view>

#include <cryptopp/hmac.h>
#include <cryptopp/secblock.h>
#include <cryptopp/sha.h>

#include <mmry/bytes.hpp>
#include <mmry/detail/le.hpp>
#include <mmry/format/meta.hpp>

namespace mmry {
inline namespace v1 {
namespace detail {

class content_hasher {
  public:
    static constexpr std::uint8_t sha256 = 1, hmac_sha256 = 2;

    /// An empty key hashes with SHA-256, any other with HMAC-SHA256 under it.
    content_hasher() = default;
    explicit content_hasher(CryptoPP::SecByteBlock key) : key_(std::move(key)) {}

    std::uint8_t kind() const noexcept { return key_.empty() ? sha256 : hmac_sha256; }

    format::hash_bytes hash(byte_view data) const {
        return digest([&](auto& h) { update(h, data); });
    }

    /// Links a version to the one before it: a change to any earlier version, its content or
    /// its order changes every later chain hash.
    format::hash_bytes chain(const format::hash_bytes& previous_chain,
                             const format::hash_bytes& content, std::uint64_t version,
                             std::uint64_t previous, std::string_view key) const {
        std::array<std::byte, 16> numbers;
        store_le<std::uint64_t>(numbers.data(), version);
        store_le<std::uint64_t>(numbers.data() + 8, previous);
        return digest([&](auto& h) {
            update(h, previous_chain);
            update(h, content);
            update(h, numbers);
            update(h, as_bytes(key));
        });
    }

  private:
    template <class H>
    static void update(H& h, byte_view data) {
        h.Update(reinterpret_cast<const CryptoPP::byte*>(data.data()), data.size());
    }
    template <class F>
    format::hash_bytes digest(F&& feed) const {
        format::hash_bytes out;
        auto* o = reinterpret_cast<CryptoPP::byte*>(out.data());
        if (key_.empty()) {
            CryptoPP::SHA256 h;
            feed(h);
            h.Final(o);
        } else {
            CryptoPP::HMAC<CryptoPP::SHA256> h(key_.data(), key_.size());
            feed(h);
            h.Final(o);
        }
        return out;
    }

    CryptoPP::SecByteBlock key_;
};

}  // namespace detail
}  // namespace v1
}  // namespace mmry
