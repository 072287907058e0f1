#pragma once
// compress::adaptive<Target>: zstd at a level chosen frame by frame to meet a target.
//
//   adaptive<ratio<300>>  - the cheapest level whose frames reach a 3.0x compression ratio
//   adaptive<speed<200>>  - the strongest level that still compresses at 200 MB/s or more
//
// Every frame is one plain zstd frame, decoded without knowing its level: decompress is zstd's,
// whatever level or target wrote the frame (last_level() tells a caller that wants to record it).
// A store records the compressor id (2) and name ("adaptive"), not the target, so stores written
// with different targets read each other's frames. (Frames are also readable by compress::zstd,
// but a store written by one does not open with the other: their ids differ.)
//
// Per frame, compress returns either a zstd frame smaller than the frame by 3 % or more, or 0 (the
// caller keeps the frame raw): frames that save less are not worth decompressing. It never returns
// a size >= src.size().
//
// ratio<N> (N = target ratio x 100): each thread remembers the level its last frames needed and
// tries it first. A frame that misses the target is compressed again one rung up the ladder
// 1, 3, 6, 9, 15, 19, as long as each rung gives a smaller frame; the smallest frame is returned
// and its level remembered. A frame that saves less than 3 % at the remembered level is returned
// raw at once (incompressible data is not escalated). After a run of frames that beat the target
// by 10 % or more, the next frame tries one rung down (the run it takes doubles after each failed
// try, up to 1024 frames, and halves after a successful one): the level follows the data down as
// well as up. When the target cannot be met, each frame is returned at the rung where the ladder
// stopped improving, usually 19: the smallest frame found, not raw - which makes an unreachable
// ratio target the slowest setting (level 19 takes milliseconds per 4 KiB frame).
//
// speed<MBps> (MB = 10^6 bytes of input per second of compress on the calling thread): each
// thread keeps an exponentially smoothed throughput per level of the ladder -5, -1, 1, 3, 6, 9,
// 15, 19 and starts at 1. After each frame it moves one rung down when the current level's
// throughput is below the target, and one rung up after 8 frames at 1.5x the target or more, unless
// the rung above is already known to be too slow (then it retries after 256 frames). The first
// frame at a level is not counted (cold caches); a sample is clamped to within 2x of the current
// estimate (a preempted frame moves it by 12.5 % at most); frames returned raw are not counted.
//
// Dictionaries: the overloads taking a `const dictionary&` compress with the dictionary's tables
// for the chosen level (built on the first frame at that level, outside the speed timing) and keep
// a per-thread level state of their own, one for all dictionaries (a dictionary shifts the ratio
// every level reaches). Their frames decompress only with the same dictionary.
//
// Thread-safety: any number of threads may compress and decompress at once. The adaptive state
// (level, throughput estimates, last_level) is per thread and per Target type; nothing is shared,
// so a thread's first frames decide alone, and state is never reset.
// Throws: decompress throws mmry::error(errc::corrupt) on malformed input (and on a frame of
// another dictionary); compress throws std::bad_alloc when zstd cannot allocate.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <string_view>

#include <zstd.h>
#include <zstd_errors.h>

#include <mmry/bytes.hpp>
#include <mmry/compress/dictionary.hpp>
#include <mmry/compress/zstd.hpp>
#include <mmry/error.hpp>

#include <mmry/concepts.hpp>

namespace mmry {
inline namespace v1 {
namespace compress {

/// Target of adaptive: a compression ratio of N / 100 (ratio<300> = 3.0x).
template <int N>
struct ratio {
    static_assert(N > 100, "ratio<N>: N is the target ratio x 100 (ratio<300> is 3.0x), above 100");
    static constexpr int percent = N;
};

/// Target of adaptive: compression of at least MBps x 10^6 bytes per second per thread.
template <int MBps>
struct speed {
    static_assert(MBps > 0, "speed<MBps>: MBps is a throughput in MB/s, above 0");
    static constexpr int megabytes_per_second = MBps;
};

namespace detail {

template <class T>
inline constexpr bool is_ratio = false;
template <int N>
inline constexpr bool is_ratio<ratio<N>> = true;
template <class T>
inline constexpr bool is_speed = false;
template <int M>
inline constexpr bool is_speed<speed<M>> = true;

/// One zstd compression at a run-time level, with or without dictionary tables, on the calling
/// thread's context; 0 when the result does not fit in `dst`.
inline std::size_t zstd_at(int level, std::span<const std::byte> src, std::span<std::byte> dst,
                           const ZSTD_CDict* cdict) {
    struct free_cctx {
        void operator()(ZSTD_CCtx* c) const noexcept { ZSTD_freeCCtx(c); }
    };
    thread_local std::unique_ptr<ZSTD_CCtx, free_cctx> cctx{ZSTD_createCCtx()};
    if (!cctx) throw std::bad_alloc();
    const std::size_t n = cdict ? ZSTD_compress_usingCDict(cctx.get(), dst.data(), dst.size(),
                                                           src.data(), src.size(), cdict)
                                : ZSTD_compressCCtx(cctx.get(), dst.data(), dst.size(), src.data(),
                                                    src.size(), level);
    if (ZSTD_isError(n)) {
        if (ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall) return 0;
        if (ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation) throw std::bad_alloc();
        throw error(errc::invalid_argument, "zstd compression at level " + std::to_string(level) +
                                                " failed: " + ZSTD_getErrorName(n));
    }
    return n;
}

/// A frame is worth keeping compressed when it saves at least 1/32 (~3 %).
constexpr bool worth(std::size_t packed, std::size_t size) noexcept {
    return packed != 0 && packed < size - size / 32;
}

}  // namespace detail

template <class Target>
struct adaptive {
    static_assert(detail::is_ratio<Target> || detail::is_speed<Target>,
                  "adaptive<Target>: Target is compress::ratio<N> or compress::speed<MBps>");

    static constexpr std::uint8_t id = 2;
    static constexpr std::string_view name = "adaptive";
    static constexpr bool dictionaries = true;

    /// Compresses `src` into `dst` at the level the target calls for; returns the compressed size
    /// (< src.size() - src.size() / 32), or 0 when the frame is to stay raw (it saves less than
    /// ~3 %, or does not fit in `dst`).
    static std::size_t compress(std::span<const std::byte> src, std::span<std::byte> dst) {
        return choose(src, dst, nullptr);
    }

    /// As above, with dictionary `d` (its tables for each level are built on first use).
    static std::size_t compress(std::span<const std::byte> src, std::span<std::byte> dst,
                                const dictionary& d) {
        return choose(src, dst, &d);
    }

    /// Decompresses `src` into `dst`; returns the number of bytes written.
    /// Throws errc::corrupt on malformed input.
    static std::size_t decompress(std::span<const std::byte> src, std::span<std::byte> dst) {
        return zstd<>::decompress(src, dst);
    }

    /// Decompresses `src`, compressed with dictionary `d`, into `dst`.
    /// Throws errc::corrupt on malformed input or a frame of another dictionary.
    static std::size_t decompress(std::span<const std::byte> src, std::span<std::byte> dst,
                                  const dictionary& d) {
        return zstd<>::decompress(src, dst, d);
    }

    /// The zstd level of the calling thread's last compress call (of this Target), 0 when that
    /// call returned 0 (raw), or when the thread has not compressed yet.
    static int last_level() noexcept { return last(); }

  private:
    static constexpr std::array<int, 6> ratio_ladder{1, 3, 6, 9, 15, 19};
    static constexpr std::array<int, 8> speed_ladder{-5, -1, 1, 3, 6, 9, 15, 19};

    struct ratio_state {
        std::size_t rung = 0;       // the remembered level: ratio_ladder[rung]
        unsigned surplus_run = 0;   // frames in a row that beat the target by 10 %
        unsigned patience = 16;     // the run it takes to try one rung down
        bool trying_lower = false;  // the remembered rung is a try one rung down
    };
    struct speed_state {
        std::size_t rung = 2;                                 // level 1
        std::array<double, speed_ladder.size()> mbps{};       // 0: no estimate yet
        std::array<unsigned, speed_ladder.size()> samples{};  // frames seen at a level, up to 2
        unsigned comfortable_run = 0;
    };

    static int& last() noexcept {
        thread_local int level = 0;
        return level;
    }

    static std::size_t choose(std::span<const std::byte> src, std::span<std::byte> dst,
                              const dictionary* d) {
        const std::size_t n = [&] {
            if constexpr (detail::is_ratio<Target>)
                return for_ratio(src, dst, d);
            else
                return for_speed(src, dst, d);
        }();
        if (n == 0) last() = 0;
        return n;
    }

    static std::size_t at(int level, std::span<const std::byte> src, std::span<std::byte> dst,
                          const dictionary* d) {
        return detail::zstd_at(level, src, dst, d ? d->cdict(level) : nullptr);
    }

    // ---- ratio<N> ----------------------------------------------------------------------------

    static bool meets(std::size_t packed, std::size_t size, std::uint64_t margin_percent = 100) {
        // size / packed >= N / 100 * margin / 100, in integers.
        return std::uint64_t{packed} * Target::percent * margin_percent <=
               std::uint64_t{size} * 100 * 100;
    }

    static std::size_t for_ratio(std::span<const std::byte> src, std::span<std::byte> dst,
                                 const dictionary* d) {
        thread_local std::array<ratio_state, 2> states{};
        thread_local mmry::bytes scratch;
        ratio_state& s = states[d ? 1 : 0];

        std::size_t rung = s.rung;
        std::size_t best = at(ratio_ladder[rung], src, dst, d);
        if (!detail::worth(best, src.size())) return 0;  // incompressible: no escalation

        if (s.trying_lower) {
            s.patience = meets(best, src.size()) ? std::max(16u, s.patience / 2)
                                                 : std::min(1024u, s.patience * 2);
            s.trying_lower = false;
        }
        if (!meets(best, src.size())) {
            s.surplus_run = 0;
            // Up the ladder while each rung gives a smaller frame; a rung's attempt gets a buffer
            // one byte smaller than the best so far, so zstd gives up as soon as it cannot beat it.
            while (rung + 1 < ratio_ladder.size() && !meets(best, src.size())) {
                if (scratch.size() < best) scratch.resize(best);
                const std::size_t n =
                    at(ratio_ladder[rung + 1], src, std::span(scratch).first(best - 1), d);
                if (n == 0) break;
                std::memcpy(dst.data(), scratch.data(), n);
                best = n;
                ++rung;
            }
            s.rung = rung;
        } else if (rung > 0 && meets(best, src.size(), 110)) {
            if (++s.surplus_run >= s.patience) {
                s.rung = rung - 1;
                s.surplus_run = 0;
                s.trying_lower = true;
            }
        } else {
            s.surplus_run = 0;
        }
        last() = ratio_ladder[rung];
        return best;
    }

    // ---- speed<MBps> -------------------------------------------------------------------------

    static std::size_t for_speed(std::span<const std::byte> src, std::span<std::byte> dst,
                                 const dictionary* d) {
        thread_local std::array<speed_state, 2> states{};
        speed_state& s = states[d ? 1 : 0];

        const std::size_t rung = s.rung;
        const int level = speed_ladder[rung];
        const ZSTD_CDict* cdict = d ? d->cdict(level) : nullptr;  // built outside the timing
        const auto start = std::chrono::steady_clock::now();
        const std::size_t n = detail::zstd_at(level, src, dst, cdict);
        const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
        if (!detail::worth(n, src.size())) return 0;
        last() = level;

        const double sample = static_cast<double>(src.size()) / 1e6 / std::max(took.count(), 1e-9);
        unsigned& seen = s.samples[rung];
        if (seen < 2) ++seen;
        if (seen == 1) return n;  // the first frame at a level warms it up
        double& mbps = s.mbps[rung];
        mbps = mbps == 0 ? sample : mbps + 0.25 * (std::clamp(sample, mbps / 2, mbps * 2) - mbps);

        constexpr double target = Target::megabytes_per_second;
        if (mbps < target) {
            if (rung > 0) s.rung = rung - 1;
            s.comfortable_run = 0;
        } else if (mbps >= 1.5 * target && rung + 1 < speed_ladder.size()) {
            const double above = s.mbps[rung + 1];
            ++s.comfortable_run;
            if ((s.comfortable_run >= 8 && (above == 0 || above >= target)) ||
                s.comfortable_run >= 256) {
                s.rung = rung + 1;
                s.comfortable_run = 0;
            }
        } else {
            s.comfortable_run = 0;
        }
        return n;
    }
};

}  // namespace compress

static_assert(compressor_policy<compress::adaptive<compress::ratio<300>>>);
static_assert(compressor_policy<compress::adaptive<compress::speed<200>>>);
}  // namespace v1
}  // namespace mmry
