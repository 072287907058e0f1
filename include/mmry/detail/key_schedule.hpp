#pragma once
// What a store derives from its master key: a public key id (which key sealed a record), a key
// check value (is the key given at open the store's key?), and one subkey per writer session.
//
// All derivations are HMAC-SHA256 / HKDF-SHA256 (RFC 5869) with distinct labels, so no derived
// value reveals another or the master key.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <cryptopp/hkdf.h>
#include <cryptopp/hmac.h>
#include <cryptopp/secblock.h>
#include <cryptopp/sha.h>

#include <mmry/format/record.hpp>

namespace mmry {
inline namespace v1 {
namespace detail {

inline constexpr std::size_t store_id_size = 16;
using store_id = std::array<std::byte, store_id_size>;

inline void hmac_sha256(const CryptoPP::SecByteBlock& master, std::string_view label,
                        std::span<const std::byte> data, std::span<std::byte> out) {
    CryptoPP::HMAC<CryptoPP::SHA256> mac(master.data(), master.size());
    mac.Update(reinterpret_cast<const CryptoPP::byte*>(label.data()), label.size());
    mac.Update(reinterpret_cast<const CryptoPP::byte*>(data.data()), data.size());
    CryptoPP::byte digest[CryptoPP::SHA256::DIGESTSIZE];
    mac.Final(digest);
    for (std::size_t i = 0; i < out.size() && i < sizeof digest; ++i) out[i] = std::byte{digest[i]};
}

/// Names a key without revealing it: the same key gives the same id in every store.
inline std::array<std::byte, format::key_id_size> key_id(const CryptoPP::SecByteBlock& master) {
    std::array<std::byte, format::key_id_size> id{};
    hmac_sha256(master, "mmry/v1/key-id", {}, id);
    return id;
}

/// Proves, at open, that a key is the store's key (bound to the store id).
inline std::array<std::byte, 16> key_check(const CryptoPP::SecByteBlock& master,
                                           const store_id& sid) {
    std::array<std::byte, 16> check{};
    hmac_sha256(master, "mmry/v1/key-check", sid, check);
    return check;
}

/// The subkey of one writer session: HKDF-SHA256 of the master key with the session's random salt,
/// bound to the cipher and the store. Frames sealed under it use (sequence number, frame number)
/// as nonce, unique because sequence numbers never repeat within a store.
inline void session_subkey(const CryptoPP::SecByteBlock& master, std::uint8_t cipher_id,
                           const store_id& sid, std::span<const std::byte, format::salt_size> salt,
                           std::span<std::byte, 32> out) {
    constexpr std::string_view label = "mmry/v1/session-key";
    std::array<std::byte, label.size() + 1 + store_id_size> info{};
    std::size_t at = 0;
    for (char c : label) info[at++] = std::byte(c);
    info[at++] = std::byte{cipher_id};
    for (auto b : sid) info[at++] = b;
    CryptoPP::HKDF<CryptoPP::SHA256>().DeriveKey(
        reinterpret_cast<CryptoPP::byte*>(out.data()), out.size(), master.data(), master.size(),
        reinterpret_cast<const CryptoPP::byte*>(salt.data()), salt.size(),
        reinterpret_cast<const CryptoPP::byte*>(info.data()), info.size());
}

/// A key of the store's for one purpose ("content-hash", "meta-mac"), bound to the store: HKDF
/// of the master key. Content hashes under it cannot be confirmed by someone without the key.
inline CryptoPP::SecByteBlock purpose_key(const CryptoPP::SecByteBlock& master,
                                          std::string_view purpose, const store_id& sid) {
    std::string info = "mmry/v1/";
    info += purpose;
    info.append(reinterpret_cast<const char*>(sid.data()), sid.size());
    CryptoPP::SecByteBlock out(32);
    CryptoPP::HKDF<CryptoPP::SHA256>().DeriveKey(
        out.data(), out.size(), master.data(), master.size(), nullptr, 0,
        reinterpret_cast<const CryptoPP::byte*>(info.data()), info.size());
    return out;
}

}  // namespace detail
}  // namespace v1
}  // namespace mmry
