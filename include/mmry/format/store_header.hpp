#pragma once
// The header at the start of segment 0 (docs/FORMAT.md, "Store header"): what a store is made of
// and how to check a key against it. Opening a store reads it first, and refuses, before touching
// anything else, a store written with other policies, another format version, or another key.
//
// Layout (88 bytes, little-endian):
//   0 magic "MMRYSTOR" | 8 u32 format version | 12 six policy ids: arena, index, compressor,
//   cipher, path, fold | 18 u8 scrypt log2 N | 19 u8 flags (bit 0: key from a passphrase) |
//   20 u32 frame size | 24 u32 scrypt r | 28 u32 scrypt p | 32 store id (16) | 48 KDF salt (16) |
//   64 key check value (16) | 80 u32 CRC32C of bytes [0,80) and [84,88) | 84 u32 path layout check
//   (fingerprint::layout)

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include <cryptopp/misc.h>
#include <cryptopp/secblock.h>

#include <mmry/detail/crc32c.hpp>
#include <mmry/detail/describe.hpp>
#include <mmry/detail/key_schedule.hpp>
#include <mmry/detail/le.hpp>
#include <mmry/error.hpp>
#include <mmry/format/policy_names.hpp>
#include <mmry/key.hpp>
#include <mmry/path/input.hpp>
#include <mmry/version.hpp>

namespace mmry {
inline namespace v1 {
namespace format {

inline constexpr std::size_t store_header_size = 88;
inline constexpr std::array<char, 8> store_magic = {'M', 'M', 'R', 'Y', 'S', 'T', 'O', 'R'};

/// The ids of a store's six policies, in the order the header keeps them.
struct fingerprint {
    static constexpr std::array<const char*, 6> roles = {"arena",  "index", "compressor",
                                                         "cipher", "path",  "fold"};
    std::array<std::uint8_t, 6> ids{};
    std::array<std::string_view, 6> names{};  ///< known for the composition at hand only
    /// CRC32C of the stored keys the path policy makes for a probe write: two path policies with
    /// one id but another layout (a prefix, a granularity) differ here.
    std::uint32_t layout = 0;

    template <class Path>
    static std::uint32_t layout_of() {
        const path::input probe{"mmry-probe", 7, 1'700'000'000'123'456'789, {}};
        std::string all, one;
        for (std::size_t i = 0; i < Path::layouts; ++i) {
            Path::stored_key(i, probe, one);
            all += one;
            all += '\0';
        }
        return detail::crc32c({std::as_bytes(std::span(all))});
    }

    template <class Traits>
    static fingerprint of() {
        return {{Traits::arena::id, Traits::index::id, Traits::compressor::id, Traits::cipher::id,
                 Traits::path::id, Traits::fold::id},
                {Traits::arena::name, Traits::index::name, Traits::compressor::name,
                 Traits::cipher::name, Traits::path::name, Traits::fold::name},
                layout_of<typename Traits::path>()};
    }
};

struct store_header {
    fingerprint policies;
    std::uint32_t version = store_format_version;
    std::uint32_t frame_size = 0;
    kdf_params kdf{};
    bool passphrase = false;
    detail::store_id id{};
    std::array<std::byte, key::salt_size> salt{};
    std::array<std::byte, 16> key_check{};

    void write(std::span<std::byte, store_header_size> out) const {
        using detail::store_le;
        std::byte* p = out.data();
        std::memset(p, 0, store_header_size);
        std::memcpy(p, store_magic.data(), store_magic.size());
        store_le<std::uint32_t>(p + 8, version);
        for (std::size_t i = 0; i < 6; ++i) p[12 + i] = std::byte{policies.ids[i]};
        p[18] = std::byte{kdf.log2_n};
        p[19] = std::byte{static_cast<std::uint8_t>(passphrase ? 1 : 0)};
        store_le<std::uint32_t>(p + 20, frame_size);
        store_le<std::uint32_t>(p + 24, kdf.r);
        store_le<std::uint32_t>(p + 28, kdf.p);
        std::memcpy(p + 32, id.data(), id.size());
        std::memcpy(p + 48, salt.data(), salt.size());
        std::memcpy(p + 64, key_check.data(), key_check.size());
        store_le<std::uint32_t>(p + 84, policies.layout);
        store_le<std::uint32_t>(p + 80, detail::crc32c({out.first(80), out.subspan(84, 4)}));
    }

    /// Reads a header; `store` names the store in errors. Throws errc::corrupt (not an mmry
    /// store, or damaged) or errc::version_mismatch.
    static store_header parse(std::span<const std::byte> in, std::string_view store) {
        using detail::load_le;
        const std::string who = "store " + detail::quote(store);
        if (in.size() < store_header_size || std::memcmp(in.data(), store_magic.data(), 8) != 0)
            throw error(errc::corrupt, who + ": no mmry store header (bad magic or too short)");
        const std::byte* p = in.data();
        const std::uint32_t crc = detail::crc32c({in.first(80), in.subspan(84, 4)});
        if (load_le<std::uint32_t>(p + 80) != crc)
            throw error(errc::corrupt, who + ": store header checksum mismatch (stored " +
                                           detail::hex(load_le<std::uint32_t>(p + 80)) +
                                           ", computed " + detail::hex(crc) + ")");
        store_header h;
        h.version = load_le<std::uint32_t>(p + 8);
        if (h.version != store_format_version)
            throw error(errc::version_mismatch,
                        who + " has format version " + std::to_string(h.version) +
                            ", this build reads version " + std::to_string(store_format_version));
        for (std::size_t i = 0; i < 6; ++i)
            h.policies.ids[i] = static_cast<std::uint8_t>(p[12 + i]);
        h.kdf.log2_n = static_cast<std::uint8_t>(p[18]);
        if (static_cast<std::uint8_t>(p[19]) > 1)
            throw error(errc::corrupt, who + ": unknown store header flags");
        h.passphrase = p[19] == std::byte{1};
        h.frame_size = load_le<std::uint32_t>(p + 20);
        h.kdf.r = load_le<std::uint32_t>(p + 24);
        h.kdf.p = load_le<std::uint32_t>(p + 28);
        // Checked before anything derives a key with them (see kdf_params::bounded).
        if (h.passphrase && !h.kdf.bounded())
            throw error(errc::corrupt, who + ": the store header's scrypt parameters (" +
                                           h.kdf.describe() + ") are outside what mmry allows");
        std::memcpy(h.id.data(), p + 32, h.id.size());
        std::memcpy(h.salt.data(), p + 48, h.salt.size());
        std::memcpy(h.key_check.data(), p + 64, h.key_check.size());
        h.policies.layout = load_le<std::uint32_t>(p + 84);
        return h;
    }

    /// Throws errc::policy_mismatch naming the first policy that differs from `expected`, from
    /// role `first` on (2: a store that may live in another arena, with another index).
    void check_policies(const fingerprint& expected, std::string_view store,
                        std::size_t first = 0) const {
        for (std::size_t i = first; i < 6; ++i)
            if (policies.ids[i] != expected.ids[i])
                throw error(errc::policy_mismatch,
                            "store " + detail::quote(store) + " was created with " +
                                fingerprint::roles[i] + " " + describe_policy(i, policies.ids[i]) +
                                ", but is opened with " + fingerprint::roles[i] + " '" +
                                std::string(expected.names[i]) + "' (id " +
                                std::to_string(expected.ids[i]) + ")");
        if (policies.layout != expected.layout)
            throw error(errc::policy_mismatch,
                        "store " + detail::quote(store) +
                            " was created with another layout of "
                            "path '" +
                            std::string(expected.names[4]) +
                            "' (another prefix, suffix, granularity or function: layout check " +
                            detail::hex(policies.layout) + ", opened with " +
                            detail::hex(expected.layout) + ")");
    }

    /// Throws errc::wrong_key unless `master` is the key this header was made with.
    void check_key(const CryptoPP::SecByteBlock& master, std::string_view store) const {
        const auto expected = detail::key_check(master, id);
        if (!CryptoPP::VerifyBufsEqual(reinterpret_cast<const CryptoPP::byte*>(expected.data()),
                                       reinterpret_cast<const CryptoPP::byte*>(key_check.data()),
                                       expected.size()))
            throw error(errc::wrong_key, "the key given for store " + detail::quote(store) +
                                             " is not the key it was created with (key check "
                                             "value mismatch)");
    }
};

}  // namespace format
}  // namespace v1
}  // namespace mmry
