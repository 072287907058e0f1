#pragma once
// path::sharded: a hash-sharded layout built on path::custom, "a7/3f/<key>", where a7 and 3f are
// the first two bytes of SHA-256 of the key (shard_by_key: one place per key, every put replaces)
// or of the value's content hash (shard_by_content: each distinct content of a key is kept, as a
// content-addressed history). Spreads keys evenly over 65536 directories, as object stores do.

#include <array>
#include <cstddef>
#include <string>

#include <cryptopp/sha.h>

#include <mmry/path/custom.hpp>

namespace mmry {
inline namespace v1 {
namespace path {

namespace detail {
inline std::string shard_prefix(const std::byte* digest) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 2; ++i) {
        const auto b = std::to_integer<unsigned>(digest[i]);
        out += hex[b >> 4];
        out += hex[b & 15];
        out += '/';
    }
    return out;
}
}  // namespace detail

struct shard_by_key {
    std::string operator()(const input& in) const {
        std::array<std::byte, CryptoPP::SHA256::DIGESTSIZE> d;
        CryptoPP::SHA256().CalculateDigest(reinterpret_cast<CryptoPP::byte*>(d.data()),
                                           reinterpret_cast<const CryptoPP::byte*>(in.key.data()),
                                           in.key.size());
        return detail::shard_prefix(d.data()) + std::string(in.key);
    }
};

struct shard_by_content {
    std::string operator()(const input& in) const {
        return detail::shard_prefix(in.content_hash.data()) + std::string(in.key);
    }
};

using sharded = custom<shard_by_key>;

}  // namespace path

static_assert(path_policy<path::sharded>);
static_assert(path_policy<path::custom<path::shard_by_content>>);
}  // namespace v1
}  // namespace mmry
