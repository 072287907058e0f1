// The codec path: 64 KiB values of the corpus through mmry (heap arena, hashed index) with zstd
// level 3 + AES-256-GCM, against the raw pipeline (the same ZSTD_compressCCtx / Crypto++ GCM<AES>
// calls on the same blocks, no store); and with compress::none + cipher::none against memcpy.
// Then the range read: 4 KiB from the middle of one value holding the whole corpus, against a full
// get of it. The per-process value cache is off (cache_bytes = 0) everywhere here: a get decodes.

#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <cryptopp/aes.h>
#include <cryptopp/gcm.h>
#include <cryptopp/osrng.h>
#include <zstd.h>

#include <mmry/cipher/aes256_gcm.hpp>
#include <mmry/cipher/none.hpp>
#include <mmry/compress/none.hpp>
#include <mmry/compress/zstd.hpp>
#include <mmry/index/hashed.hpp>
#include <mmry/key.hpp>
#include <mmry/store.hpp>

#include "bench.hpp"

namespace mmry_bench {
namespace {

constexpr std::size_t block = 64 * 1024;

template <class Compressor, class Cipher>
struct codec_traits : mmry::default_traits {
    using arena = mmry::arena::heap;
    using index = mmry::index::hashed;
    using compressor = Compressor;
    using cipher = Cipher;
};
using sealed_store =
    mmry::basic_store<codec_traits<mmry::compress::zstd<3>, mmry::cipher::aes256_gcm>>;
using plain_store = mmry::basic_store<codec_traits<mmry::compress::none, mmry::cipher::none>>;

const std::string sealed_system = "mmry/heap/hashed/zstd3+aes256_gcm";
const std::string plain_system = "mmry/heap/hashed/none+none";

std::string block_key(std::size_t i) {
    char k[32];
    std::snprintf(k, sizeof k, "block/%06zu", i);
    return k;
}

/// put MB/s, get MB/s and logical/stored ratio of one composition over the corpus's blocks.
template <class Store>
void codec_store(const config& cfg, const corpus& c, const std::string& system, results& res,
                 mmry::key key, bool content_hash = true) {
    const std::size_t blocks = c.data.size() / block;
    const std::size_t bytes = blocks * block;
    std::vector<std::string> keys;
    for (std::size_t i = 0; i < blocks; ++i) keys.push_back(block_key(i));

    mmry::options opts;
    opts.capacity = c.data.size() + (std::size_t{32} << 20);
    opts.cache_bytes = 0;
    opts.content_hash = content_hash;
    std::optional<Store> s;
    const sample put_s = median_of(cfg.reps, [&](int) {
        s.reset();
        mmry::options o = opts;
        o.key = key;
        s.emplace(Store::create("codec", std::move(o)));
        return time_once([&] {
            for (std::size_t i = 0; i < blocks; ++i)
                s->put(keys[i], std::span(c.data).subspan(i * block, block));
        });
    });
    res.add_rate("codec_put", system, put_s, double(bytes) / 1e6, "MB/s");
    const auto st = s->stats();
    res.add("codec_ratio", system, double(st.logical_bytes) / double(st.stored_bytes), "x");
    std::uint64_t acc = 0;
    const sample get_s = median_of(cfg.reps, [&](int) {
        return time_once([&] {
            for (std::size_t i = 0; i < blocks; ++i) {
                const auto v = s->get(keys[i]);
                acc += v->size() + std::to_integer<unsigned>((*v)[v->size() / 2]);
            }
        });
    });
    res.add_rate("codec_get", system, get_s, double(bytes) / 1e6, "MB/s");
    keep(acc);
}

void raw_pipeline(const config& cfg, const corpus& c, results& res) {
    const std::size_t blocks = c.data.size() / block;
    const std::size_t bytes = blocks * block;
    const std::size_t bound = ZSTD_compressBound(block);
    ZSTD_CCtx* cctx = ZSTD_createCCtx();
    ZSTD_DCtx* dctx = ZSTD_createDCtx();
    if (!cctx || !dctx) throw std::bad_alloc();

    CryptoPP::SecByteBlock key(32);
    CryptoPP::AutoSeededRandomPool().GenerateBlock(key, key.size());
    CryptoPP::byte iv[12] = {};
    CryptoPP::GCM<CryptoPP::AES>::Encryption enc;
    CryptoPP::GCM<CryptoPP::AES>::Decryption dec;
    enc.SetKeyWithIV(key, key.size(), iv, sizeof iv);
    dec.SetKeyWithIV(key, key.size(), iv, sizeof iv);
    auto nonce = [&](std::size_t i) {
        for (int b = 0; b < 8; ++b) iv[b] = static_cast<CryptoPP::byte>(i >> (8 * b));
        return iv;
    };

    // Stored form of each block: ciphertext then 16-byte tag; raw when zstd does not shrink it.
    std::vector<std::vector<CryptoPP::byte>> stored(blocks,
                                                    std::vector<CryptoPP::byte>(bound + 16));
    std::vector<std::size_t> stored_size(blocks);
    std::vector<char> compressed(blocks);
    std::vector<CryptoPP::byte> packed(bound), plain(bound), out(block);
    const auto* src = reinterpret_cast<const CryptoPP::byte*>(c.data.data());

    const sample put_s = median_of(cfg.reps, [&](int) {
        return time_once([&] {
            for (std::size_t i = 0; i < blocks; ++i) {
                const CryptoPP::byte* in = src + i * block;
                const std::size_t n =
                    ZSTD_compressCCtx(cctx, packed.data(), packed.size(), in, block, 3);
                if (ZSTD_isError(n)) throw std::runtime_error(ZSTD_getErrorName(n));
                compressed[i] = n < block;
                const CryptoPP::byte* p = compressed[i] ? packed.data() : in;
                const std::size_t len = compressed[i] ? n : block;
                enc.EncryptAndAuthenticate(stored[i].data(), stored[i].data() + len, 16, nonce(i),
                                           sizeof iv, nullptr, 0, p, len);
                stored_size[i] = len + 16;
            }
        });
    });
    res.add_rate("raw_put", "raw_pipeline", put_s, double(bytes) / 1e6, "MB/s");
    std::size_t total = 0;
    for (auto s : stored_size) total += s;
    res.add("codec_ratio", "raw_pipeline", double(bytes) / double(total), "x");

    std::uint64_t acc = 0;
    const sample get_s = median_of(cfg.reps, [&](int) {
        return time_once([&] {
            for (std::size_t i = 0; i < blocks; ++i) {
                const std::size_t len = stored_size[i] - 16;
                CryptoPP::byte* dst = compressed[i] ? plain.data() : out.data();
                if (!dec.DecryptAndVerify(dst, stored[i].data() + len, 16, nonce(i), sizeof iv,
                                          nullptr, 0, stored[i].data(), len))
                    throw std::runtime_error("raw pipeline: authentication failed");
                if (compressed[i]) {
                    const std::size_t n =
                        ZSTD_decompressDCtx(dctx, out.data(), out.size(), dst, len);
                    if (n != block) throw std::runtime_error("raw pipeline: bad decompression");
                }
                acc += out[block / 2];
            }
        });
    });
    res.add_rate("raw_get", "raw_pipeline", get_s, double(bytes) / 1e6, "MB/s");
    keep(acc);
    ZSTD_freeCCtx(cctx);
    ZSTD_freeDCtx(dctx);
}

void raw_memcpy(const config& cfg, const corpus& c, results& res) {
    const std::size_t blocks = c.data.size() / block;
    const std::size_t bytes = blocks * block;
    std::vector<std::byte> dst(bytes, std::byte{1}), out(block, std::byte{1});
    const sample put_s = median_of(cfg.reps, [&](int) {
        return time_once([&] {
            for (std::size_t i = 0; i < blocks; ++i)
                std::memcpy(dst.data() + i * block, c.data.data() + i * block, block);
        });
    });
    res.add_rate("raw_put", "memcpy", put_s, double(bytes) / 1e6, "MB/s");
    std::uint64_t acc = 0;
    const sample get_s = median_of(cfg.reps, [&](int) {
        return time_once([&] {
            for (std::size_t i = 0; i < blocks; ++i) {
                std::memcpy(out.data(), dst.data() + i * block, block);
                acc += std::to_integer<unsigned>(out[block / 2]);
            }
        });
    });
    res.add_rate("raw_get", "memcpy", get_s, double(bytes) / 1e6, "MB/s");
    keep(acc);
}

}  // namespace

void run_codec(const config& cfg, const corpus& c, results& res, notes& nt) {
    std::fprintf(stderr, "[codec] %zu blocks of 64 KiB\n", c.data.size() / block);
    codec_store<sealed_store>(cfg, c, sealed_system, res, mmry::key::generate());
    // The same without the per-value content hash (options.content_hash, on by default): what
    // that extra pass over each value costs.
    codec_store<sealed_store>(cfg, c, sealed_system + "/no_content_hash", res,
                              mmry::key::generate(), false);
    raw_pipeline(cfg, c, res);
    codec_store<plain_store>(cfg, c, plain_system, res, mmry::key());
    raw_memcpy(cfg, c, res);
    nt.add("codec: " + std::to_string(c.data.size() / block) +
           " values of 64 KiB (the corpus cut in order), one put/get per value; MB/s = 10^6 "
           "logical bytes per second; codec_ratio = logical / stored bytes (mmry: store stats, "
           "record heads included; raw pipeline: zstd output (or the raw block when zstd does "
           "not shrink it) + 16-byte tag per block). Raw pipeline: one reused ZSTD_CCtx/DCtx, "
           "level 3, Crypto++ GCM<AES> with a 12-byte counter nonce, no associated data, output "
           "into preallocated buffers. mmry stores use the default options (content_hash on: "
           "HMAC-SHA256 of each value when encrypted) except cache_bytes = 0; the "
           "/no_content_hash row sets content_hash = false");
}

void run_range(const config& cfg, const corpus& c, results& res, notes& nt) {
    std::fprintf(stderr, "[range] one value of %zu MiB\n", c.data.size() >> 20);
    mmry::options opts;
    opts.capacity = c.data.size() + (std::size_t{32} << 20);
    opts.cache_bytes = 0;
    opts.key = mmry::key::generate();
    auto s = sealed_store::create("range", std::move(opts));
    s.put("big", std::span(c.data));
    const std::uint64_t offset = c.data.size() / 2;
    const std::size_t length = 4096;
    constexpr int reads = 200;
    std::uint64_t acc = 0;
    const sample range_s = median_of(std::max(cfg.reps, 5), [&](int) {
        return time_once([&] {
                   for (int k = 0; k < reads; ++k) {
                       const auto v = s.read("big", offset, length);
                       acc += std::to_integer<unsigned>((*v)[k]);
                   }
               }) /
               reads;
    });
    res.add_per_op("range_read", sealed_system, range_s, 1, 1e6, "us/op");
    const sample full_s = median_of(cfg.reps, [&](int) {
        return time_once([&] {
            const auto v = s.get("big");
            acc += v->size() + std::to_integer<unsigned>((*v)[offset]);
        });
    });
    res.add_per_op("full_get", sealed_system, full_s, 1, 1e6, "us/op");
    keep(acc);
    nt.add("range: the whole " + std::to_string(c.data.size() >> 20) +
           " MiB corpus as one value (zstd 3 + AES-256-GCM, 64 KiB frames, heap arena); "
           "range_read = read(key, size / 2, 4096), which decodes the one frame it touches, "
           "averaged over 200 reads per repetition; full_get = get(key) of the whole value");
}

}  // namespace mmry_bench
