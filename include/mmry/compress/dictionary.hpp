#pragma once
// compress::dictionary: a loaded zstd dictionary; compress::train_dictionary: makes one.
//
// A dictionary primes zstd with content typical of the frames it will see, so that a small frame
// (a few KiB of JSON, say) compresses nearly as well as if it were part of a large stream. The
// compressors that take one (`zstd<Level>`, `adaptive<Target>`; both have `dictionaries == true`)
// have compress/decompress overloads with a `const dictionary&` last argument.
//
// Thread-safety: a dictionary is immutable once constructed; any number of threads may use one
// const dictionary at once (compress, decompress, cdict, ddict). The per-level compression tables
// are built on first use of a level, under a mutex; later look-ups are one atomic load.
// A dictionary is process-local (it holds pointers): never place one in shared memory.
//
// Which dictionaries load: only zstd-format dictionaries (magic number 0xEC30A437 and a non-zero
// dictionary id), such as those train_dictionary and `zstd --train` make. Raw-content dictionaries
// (any bytes used as a prefix) are refused: frames compressed with them carry no dictionary id, so
// decoding such a frame without its dictionary, or with another, could produce wrong bytes of the
// right length instead of an error. With zstd-format dictionaries every frame names its
// dictionary's id and zstd refuses to decode it under any other (errc::corrupt).
//
// Two ids: `id()` is the caller's name for the dictionary (what a store records to find it again);
// the zstd dictionary id inside the bytes (ZSTD_getDictID_fromDDict(ddict())) is what each frame
// carries and what zstd checks. They need not be equal. Neither is ever 0.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <span>
#include <string>
#include <vector>

#include <zdict.h>
#include <zstd.h>

#include <mmry/bytes.hpp>
#include <mmry/error.hpp>

namespace mmry {
inline namespace v1 {
namespace compress {

class dictionary {
  public:
    /// The compression levels cdict() takes: those of compress::zstd.
    static constexpr int min_level = -7;
    static constexpr int max_level = 22;

    /// Loads `content` (copied) as the dictionary named `id`.
    /// REQUIRES: id != 0 (0 means "no dictionary" wherever an id is stored; throws
    /// errc::invalid_argument otherwise).
    /// Throws: mmry::error(errc::corrupt) when `content` is not a loadable zstd-format dictionary
    /// (too short, no magic number, dictionary id 0, or damaged entropy tables);
    /// std::bad_alloc when memory runs out.
    dictionary(std::span<const std::byte> content, std::uint32_t id) : id_(id) {
        if (id == 0)
            throw error(errc::invalid_argument,
                        "dictionary id 0 is reserved: it means \"no dictionary\"; name a "
                        "dictionary 1 or more");
        const unsigned zstd_id = ZSTD_getDictID_fromDict(content.data(), content.size());
        if (zstd_id == 0)
            throw error(errc::corrupt,
                        "dictionary " + std::to_string(id) + " (" + std::to_string(content.size()) +
                            " bytes) is not a zstd-format dictionary: no magic number 0xEC30A437 "
                            "or dictionary id 0 (raw-content dictionaries are not accepted)");
        content_.assign(content.begin(), content.end());
        ddict_.reset(ZSTD_createDDict(content_.data(), content_.size()));
        if (!ddict_)
            throw error(errc::corrupt, "dictionary " + std::to_string(id) + " (zstd id " +
                                           std::to_string(zstd_id) + ", " +
                                           std::to_string(content.size()) +
                                           " bytes) does not load: its entropy tables are damaged");
    }

    dictionary(const dictionary&) = delete;
    dictionary& operator=(const dictionary&) = delete;

    ~dictionary() {
        for (auto& c : cdicts_) ZSTD_freeCDict(c.load(std::memory_order_relaxed));
    }

    /// The caller's name for this dictionary, as given to the constructor.
    std::uint32_t id() const noexcept { return id_; }

    /// A copy of the dictionary's bytes (to persist it; a dictionary is rebuilt from them).
    mmry::bytes bytes() const { return content_; }

    /// The size of the dictionary's bytes.
    std::size_t size() const noexcept { return content_.size(); }

    /// The compression tables for `level`, built on first use (tens of microseconds to a few
    /// milliseconds, depending on level and size) and kept until the dictionary is destroyed.
    /// REQUIRES: min_level <= level <= max_level (throws errc::invalid_argument otherwise).
    /// Throws: std::bad_alloc when the tables cannot be built.
    const ZSTD_CDict* cdict(int level) const {
        if (level < min_level || level > max_level)
            throw error(errc::invalid_argument, "dictionary " + std::to_string(id_) +
                                                    ": compression level " + std::to_string(level) +
                                                    " is outside -7..22");
        auto& slot = cdicts_[static_cast<std::size_t>(level - min_level)];
        if (const ZSTD_CDict* c = slot.load(std::memory_order_acquire)) return c;
        const std::lock_guard lock(build_);
        if (const ZSTD_CDict* c = slot.load(std::memory_order_relaxed)) return c;
        ZSTD_CDict* c = ZSTD_createCDict(content_.data(), content_.size(), level);
        // The content loaded as a DDict, so a failure here is memory, not malformed tables.
        if (!c) throw std::bad_alloc();
        slot.store(c, std::memory_order_release);
        return c;
    }

    /// The decompression tables (built by the constructor).
    const ZSTD_DDict* ddict() const noexcept { return ddict_.get(); }

  private:
    struct free_ddict {
        void operator()(ZSTD_DDict* d) const noexcept { ZSTD_freeDDict(d); }
    };

    std::uint32_t id_;
    mmry::bytes content_;
    std::unique_ptr<ZSTD_DDict, free_ddict> ddict_;
    mutable std::mutex build_;
    mutable std::array<std::atomic<ZSTD_CDict*>, max_level - min_level + 1> cdicts_{};
};

/// Trains a zstd-format dictionary of at most `capacity` bytes on `samples` (typical frames or
/// values), with zstd's default trainer (fastCover). Give it a few thousand samples whose total
/// size is about 100 times `capacity`; the default capacity (110 KiB) is zstd's own.
/// Throws: mmry::error(errc::invalid_argument) when there is nothing to train on or zstd cannot
/// train on what it was given (too few or too small samples, too small a capacity); the message
/// says what was given and what would help.
inline mmry::bytes train_dictionary(std::span<const std::span<const std::byte>> samples,
                                    std::size_t capacity = 112640) {
    std::size_t total = 0;
    for (const auto& s : samples) total += s.size();
    const auto given = [&] {
        return std::to_string(samples.size()) + " samples of " + std::to_string(total) +
               " bytes in all, for a dictionary of at most " + std::to_string(capacity) + " bytes";
    };
    if (samples.size() > std::numeric_limits<unsigned>::max())
        throw error(errc::invalid_argument,
                    "train_dictionary: " + given() + ": zstd takes at most 2^32-1 samples at once");
    if (total == 0)
        throw error(errc::invalid_argument, "train_dictionary: " + given() +
                                                ": nothing to train on; give it a few thousand "
                                                "typical values");

    mmry::bytes flat;
    flat.reserve(total);
    std::vector<std::size_t> sizes;
    sizes.reserve(samples.size());
    for (const auto& s : samples) {
        flat.insert(flat.end(), s.begin(), s.end());
        sizes.push_back(s.size());
    }
    mmry::bytes dict(capacity);
    const std::size_t n = ZDICT_trainFromBuffer(dict.data(), dict.size(), flat.data(), sizes.data(),
                                                static_cast<unsigned>(sizes.size()));
    if (ZDICT_isError(n))
        throw error(errc::invalid_argument,
                    std::string("train_dictionary: zstd could not train (") +
                        ZDICT_getErrorName(n) + ") on " + given() +
                        ": give it more samples (a few thousand; samples of 8 bytes or more; zstd "
                        "wants about 100 times the capacity, here ~" +
                        std::to_string(capacity * 100) +
                        " bytes), or a smaller capacity (256 bytes at the least)");
    dict.resize(n);
    return dict;
}

}  // namespace compress
}  // namespace v1
}  // namespace mmry
