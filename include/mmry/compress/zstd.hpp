#pragma once
// compress::zstd<Level>: Zstandard, one zstd frame per mmry frame.
//
// Thread-safety: compress and decompress may be called from any number of threads at once; each
// thread reuses its own compression and decompression context (reuse saves ~30 % on small frames).
// Throws: decompress throws mmry::error(errc::corrupt) with zstd's diagnosis on malformed input.
//
// Dictionaries (mmry/compress/dictionary.hpp): the overloads that take a `const dictionary&`
// compress with its tables for Level and decompress with its tables. A frame compressed with a
// dictionary names the dictionary's zstd id; decompressing it without that dictionary, or with
// another, throws errc::corrupt ("Dictionary mismatch"). Frames compressed without a dictionary
// decompress with or without one.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <string_view>

#include <zstd.h>
#include <zstd_errors.h>

#include <mmry/compress/dictionary.hpp>
#include <mmry/error.hpp>

#include <mmry/concepts.hpp>

namespace mmry {
inline namespace v1 {
namespace compress {

template <int Level = 3>
struct zstd {
    static_assert(Level >= -7 && Level <= 22, "zstd levels run from -7 (fastest) to 22");

    static constexpr std::uint8_t id = 1;
    static constexpr std::string_view name = "zstd";
    static constexpr int level = Level;
    static constexpr bool dictionaries = true;

    /// The level the calling thread's last compress call used: always Level (the same question
    /// compress::adaptive answers per call).
    static int last_level() noexcept { return Level; }

    /// Compresses `src` into `dst`; returns the compressed size, or 0 when it does not fit in
    /// `dst` (the caller then keeps the frame raw).
    static std::size_t compress(std::span<const std::byte> src, std::span<std::byte> dst) {
        const std::size_t n =
            ZSTD_compressCCtx(cctx(), dst.data(), dst.size(), src.data(), src.size(), Level);
        if (ZSTD_isError(n)) {
            if (ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall) return 0;
            if (ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation) throw std::bad_alloc();
            throw error(errc::invalid_argument,
                        std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
        }
        return n;
    }

    /// Decompresses `src` into `dst`; returns the number of bytes written.
    static std::size_t decompress(std::span<const std::byte> src, std::span<std::byte> dst) {
        const std::size_t n =
            ZSTD_decompressDCtx(dctx(), dst.data(), dst.size(), src.data(), src.size());
        if (ZSTD_isError(n))
            throw error(errc::corrupt, std::string("zstd: ") + ZSTD_getErrorName(n));
        return n;
    }

    /// Compresses `src` into `dst` with dictionary `d` (its tables for Level, built on the first
    /// call at this level); returns the compressed size, or 0 when it does not fit in `dst`.
    static std::size_t compress(std::span<const std::byte> src, std::span<std::byte> dst,
                                const dictionary& d) {
        const std::size_t n = ZSTD_compress_usingCDict(cctx(), dst.data(), dst.size(), src.data(),
                                                       src.size(), d.cdict(Level));
        if (ZSTD_isError(n)) {
            if (ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall) return 0;
            if (ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation) throw std::bad_alloc();
            throw error(errc::invalid_argument, "zstd compression with dictionary " +
                                                    std::to_string(d.id()) +
                                                    " failed: " + ZSTD_getErrorName(n));
        }
        return n;
    }

    /// Decompresses `src`, compressed with dictionary `d`, into `dst`; returns the number of bytes
    /// written. Throws errc::corrupt on malformed input or a frame of another dictionary.
    static std::size_t decompress(std::span<const std::byte> src, std::span<std::byte> dst,
                                  const dictionary& d) {
        const std::size_t n = ZSTD_decompress_usingDDict(dctx(), dst.data(), dst.size(), src.data(),
                                                         src.size(), d.ddict());
        if (ZSTD_isError(n))
            throw error(errc::corrupt, "zstd with dictionary " + std::to_string(d.id()) + ": " +
                                           ZSTD_getErrorName(n));
        return n;
    }

  private:
    struct free_cctx {
        void operator()(ZSTD_CCtx* c) const noexcept { ZSTD_freeCCtx(c); }
    };
    struct free_dctx {
        void operator()(ZSTD_DCtx* c) const noexcept { ZSTD_freeDCtx(c); }
    };
    static ZSTD_CCtx* cctx() {
        thread_local std::unique_ptr<ZSTD_CCtx, free_cctx> c{ZSTD_createCCtx()};
        if (!c) throw std::bad_alloc();
        return c.get();
    }
    static ZSTD_DCtx* dctx() {
        thread_local std::unique_ptr<ZSTD_DCtx, free_dctx> d{ZSTD_createDCtx()};
        if (!d) throw std::bad_alloc();
        return d.get();
    }
};

}  // namespace compress

static_assert(compressor_policy<compress::zstd<>>);
}  // namespace v1
}  // namespace mmry
