#pragma once
// mmry::key: the secret a store encrypts under.
//
// Thread-safety: a key is an immutable value after construction; copies share nothing mutable.
// Key material lives in CryptoPP::SecByteBlock (zeroed on destruction) and never enters a segment:
// stores keep only a salt, the KDF parameters and a key check value.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <cryptopp/osrng.h>
#include <cryptopp/scrypt.h>
#include <cryptopp/secblock.h>

#include <mmry/bytes.hpp>
#include <mmry/error.hpp>

namespace mmry {
inline namespace v1 {

/// Parameters of the passphrase KDF (Crypto++ Scrypt). Stored beside the salt in a store's
/// header, so a store opened later derives the same key. The defaults (N = 2^15, r = 8, p = 1)
/// cost about 0.16 s and 32 MiB per derivation; lower log2_n only in tests.
struct kdf_params {
    std::uint8_t log2_n = 15;
    std::uint32_t r = 8;
    std::uint32_t p = 1;

    /// The most a derivation may ask: Scrypt needs 128 * r * N bytes (1 GiB at most here) and
    /// time in proportion to N * r * p (at most 128 times the defaults', about 20 s). A store's
    /// header is read from a file anyone with write access could have changed: without a bound,
    /// N = 2^30 would make every open try to allocate a terabyte.
    static constexpr std::uint64_t max_memory = std::uint64_t{1} << 30;
    static constexpr std::uint64_t max_work = std::uint64_t{1} << 25;

    /// True when the parameters are valid for Scrypt and within the bounds above.
    constexpr bool bounded() const noexcept {
        if (log2_n < 1 || log2_n > 30 || r == 0 || p == 0) return false;
        const std::uint64_t n = std::uint64_t{1} << log2_n;
        const std::uint64_t nr = n * r;  // < 2^62: no overflow
        return nr <= max_memory / 128 && nr * p <= max_work;
    }
    std::string describe() const {
        return "log2_n=" + std::to_string(log2_n) + " r=" + std::to_string(r) +
               " p=" + std::to_string(p);
    }
};

class key {
  public:
    static constexpr std::size_t size = 32;  ///< bytes of master key material (256 bits)
    static constexpr std::size_t salt_size = 16;

    /// No key: the only valid key for a store whose cipher is cipher::none.
    key() = default;

    /// A key given as exactly 32 raw bytes. Throws errc::invalid_argument on another length.
    static key from_bytes(byte_view material) {
        if (material.size() != size)
            throw error(errc::invalid_argument, "key::from_bytes needs " + std::to_string(size) +
                                                    " bytes of key material, got " +
                                                    std::to_string(material.size()));
        key k;
        k.master_.Assign(reinterpret_cast<const CryptoPP::byte*>(material.data()), size);
        return k;
    }

    /// A fresh random key from the operating system's generator.
    static key generate() {
        key k;
        k.master_.New(size);
        CryptoPP::AutoSeededRandomPool rng;
        rng.GenerateBlock(k.master_.data(), size);
        return k;
    }

    /// A key derived from a passphrase with Scrypt. Without a salt, the store supplies one: a new
    /// random salt when it is created, the stored salt when it is opened.
    static key from_passphrase(std::string_view passphrase, kdf_params params = {}) {
        check_passphrase(passphrase, params);
        key k;
        k.passphrase_.Assign(reinterpret_cast<const CryptoPP::byte*>(passphrase.data()),
                             passphrase.size());
        k.params_ = params;
        return k;
    }

    /// A key derived from a passphrase and an explicit salt (at least 8 bytes).
    static key from_passphrase(std::string_view passphrase, byte_view salt,
                               kdf_params params = {}) {
        if (salt.size() < 8)
            throw error(errc::invalid_argument,
                        "key::from_passphrase needs a salt of at least 8 bytes, got " +
                            std::to_string(salt.size()));
        key k = from_passphrase(passphrase, params);
        k.salt_.Assign(reinterpret_cast<const CryptoPP::byte*>(salt.data()), salt.size());
        return k;
    }

    /// True when no key material and no passphrase was given.
    bool empty() const noexcept { return master_.empty() && passphrase_.empty(); }
    /// True when the key comes from a passphrase (and needs a salt to become material).
    bool is_passphrase() const noexcept { return !passphrase_.empty(); }
    /// The explicit salt given with the passphrase, if any.
    std::optional<byte_view> salt() const {
        if (salt_.empty()) return std::nullopt;
        return byte_view{reinterpret_cast<const std::byte*>(salt_.data()), salt_.size()};
    }
    kdf_params params() const noexcept { return params_; }

    /// The 32 bytes of master key material. For a passphrase key, runs Scrypt with `salt` (the
    /// explicit salt, when one was given, wins) and `params` (a store's recorded parameters;
    /// those given to from_passphrase when absent). Throws errc::invalid_argument on an empty key.
    CryptoPP::SecByteBlock material(byte_view store_salt = {},
                                    std::optional<kdf_params> params = std::nullopt) const {
        if (!master_.empty()) return master_;
        if (passphrase_.empty()) throw error(errc::invalid_argument, "the key is empty");
        byte_view s = salt_.empty() ? store_salt : *salt();
        if (s.empty())
            throw error(errc::invalid_argument, "a passphrase key needs a salt to derive from");
        const kdf_params p = params.value_or(params_);
        check_passphrase(std::string_view("x"), p);
        CryptoPP::SecByteBlock out(size);
        CryptoPP::Scrypt().DeriveKey(out.data(), out.size(), passphrase_.data(), passphrase_.size(),
                                     reinterpret_cast<const CryptoPP::byte*>(s.data()), s.size(),
                                     CryptoPP::word64{1} << p.log2_n, p.r, p.p);
        return out;
    }

  private:
    static void check_passphrase(std::string_view passphrase, kdf_params params) {
        if (passphrase.empty())
            throw error(errc::invalid_argument, "key::from_passphrase got an empty passphrase");
        if (!params.bounded())
            throw error(errc::invalid_argument,
                        "scrypt parameters out of range: " + params.describe() +
                            " (Scrypt needs N >= 2, r, p >= 1; mmry allows at most 1 GiB of "
                            "memory, 128 * r * N, and N * r * p <= 2^25)");
    }

    CryptoPP::SecByteBlock master_;
    CryptoPP::SecByteBlock passphrase_;
    CryptoPP::SecByteBlock salt_;
    kdf_params params_{};
};

}  // namespace v1
}  // namespace mmry
