#pragma once
// The heap stores of the import target (fuzz_import.cpp) and of make_seeds: their compositions,
// options and contents, so that the exports make_seeds writes are exports of a store like the one
// the target imports them into.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include <mmry/cipher/aes256_gcm.hpp>
#include <mmry/compress/zstd.hpp>
#include <mmry/fold/cdc.hpp>
#include <mmry/format/store_header.hpp>
#include <mmry/index/hashed.hpp>
#include <mmry/store.hpp>

#include "fuzz_support.hpp"

namespace mmry_fuzz {

/// Small chunks, so that values of a few hundred bytes fold.
using small_cdc = mmry::fold::cdc<64, 256, 1024>;

struct sealed_traits : mmry::default_traits {
    using cipher = mmry::cipher::aes256_gcm;
};
struct folding_traits : mmry::default_traits {
    using fold = small_cdc;
};

/// The import target's compositions, by the low two bits of its first input byte.
enum class import_case : std::uint8_t { plain = 0, sealed = 1, folding = 2 };
inline const char* name_of(import_case c) {
    return c == import_case::plain ? "plain" : c == import_case::sealed ? "sealed" : "folding";
}

template <class Traits>
inline constexpr bool is_sealed = Traits::cipher::tag_size > 0;

/// Frames of 64 bytes (records of a few frames stay small), a 1 MiB first segment and cache, the
/// fixed clock; a sealed store gets the seed key.
template <class Traits>
mmry::options import_options() {
    mmry::options o;
    o.capacity = std::size_t{1} << 20;
    o.frame_size = 64;
    o.clock = fixed_clock;
    o.cache_bytes = std::size_t{1} << 20;
    if constexpr (is_sealed<Traits>) o.key = mmry::key::from_bytes(seed_key_material());
    return o;
}

/// What fill() puts: text that compresses, bytes that do not, a value with annotations, an empty
/// value, and (for a folding store) values above the chunking minimum that share chunks.
inline std::map<std::string, bytes> import_contents() {
    std::map<std::string, bytes> out;
    std::string text;
    for (int i = 0; text.size() < 300; ++i)
        text += "line " + std::to_string(i % 7) + " of the same few words; ";
    out["user/1"] = to_bytes(text);
    bytes noise(150);
    std::uint32_t x = 2463534242u;
    for (auto& b : noise) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b = static_cast<std::byte>(x);
    }
    out["user/2"] = noise;
    out["user/3"] = to_bytes("short");
    out["empty"] = {};
    bytes shared = out["user/1"];
    shared.insert(shared.end(), noise.begin(), noise.end());
    out["fold/1"] = shared;  // shares chunks with user/1 when folded
    return out;
}

template <class Store>
std::map<std::string, bytes> fill(Store& s) {
    auto contents = import_contents();
    mmry::put_options annotated;
    annotated.content_type = "text/plain";
    annotated.tags = {"a", "bb"};
    annotated.attributes = {{"name", "value"}, {"n", ""}};
    for (const auto& [k, v] : contents)
        s.put(k, v, k == "user/3" ? annotated : mmry::put_options{});
    return contents;
}

/// The store id of a store (from its header).
template <class Store>
mmry::detail::store_id id_of(Store& s) {
    return format::store_header::parse(mmry::detail::store_access::header_bytes(s), "fuzz").id;
}

/// The key material of a store of Traits (empty when unsealed).
template <class Traits>
CryptoPP::SecByteBlock master_for() {
    if constexpr (is_sealed<Traits>)
        return master_of(seed_key_material());
    else
        return CryptoPP::SecByteBlock();
}

}  // namespace mmry_fuzz
