#pragma once
// Helpers shared by mmry's tests: the policy matrix, deterministic test data, and a Catch2 matcher
// for mmry::error (its code and the text its message must hold).

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include <mmry/mmry.hpp>

namespace mmry_test {

// ---- compositions -------------------------------------------------------------------------------

template <class Index, class Compressor, class Cipher>
struct traits : mmry::default_traits {
    using index = Index;
    using compressor = Compressor;
    using cipher = Cipher;
};

using hashed = mmry::index::hashed;
using ordered = mmry::index::ordered;
using no_compression = mmry::compress::none;
using zstd1 = mmry::compress::zstd<1>;
using zstd3 = mmry::compress::zstd<3>;
using no_cipher = mmry::cipher::none;
using aes = mmry::cipher::aes256_gcm;
using xchacha = mmry::cipher::xchacha20_poly1305;

/// index {hashed, ordered} x compressor {none, zstd<1>, zstd<3>} x cipher {none, aes, xchacha}.
using matrix = std::tuple<  //
    traits<hashed, no_compression, no_cipher>, traits<hashed, no_compression, aes>,
    traits<hashed, no_compression, xchacha>, traits<hashed, zstd1, no_cipher>,
    traits<hashed, zstd1, aes>, traits<hashed, zstd1, xchacha>, traits<hashed, zstd3, no_cipher>,
    traits<hashed, zstd3, aes>, traits<hashed, zstd3, xchacha>,
    traits<ordered, no_compression, no_cipher>, traits<ordered, no_compression, aes>,
    traits<ordered, no_compression, xchacha>, traits<ordered, zstd1, no_cipher>,
    traits<ordered, zstd1, aes>, traits<ordered, zstd1, xchacha>, traits<ordered, zstd3, no_cipher>,
    traits<ordered, zstd3, aes>, traits<ordered, zstd3, xchacha>>;

/// Both indexes, with the default compressor and no cipher.
using indexes = std::tuple<traits<hashed, zstd3, no_cipher>, traits<ordered, zstd3, no_cipher>>;

/// Every cipher, with and without compression.
using sealing =
    std::tuple<traits<hashed, no_compression, no_cipher>, traits<hashed, no_compression, aes>,
               traits<hashed, no_compression, xchacha>, traits<hashed, zstd3, no_cipher>,
               traits<hashed, zstd3, aes>, traits<hashed, zstd3, xchacha>>;

template <class Traits>
inline constexpr bool encrypted = Traits::cipher::tag_size > 0;

template <class Traits>
inline constexpr bool compressing = Traits::compressor::id != mmry::compress::none::id;

/// A store of composition Traits; an encrypted one gets a fresh random key unless opts has one.
template <class Traits>
mmry::basic_store<Traits> make_store(mmry::options opts = {}) {
    if constexpr (encrypted<Traits>) {
        if (opts.key.empty()) opts.key = mmry::key::generate();
    }
    return mmry::basic_store<Traits>(std::move(opts));
}

// ---- data ---------------------------------------------------------------------------------------

/// n bytes that no compressor can shrink (deterministic for a seed).
inline mmry::bytes random_bytes(std::size_t n, std::uint64_t seed = 1) {
    std::mt19937_64 gen(seed);
    mmry::bytes out(n);
    for (auto& b : out) b = static_cast<std::byte>(gen() >> 56);
    return out;
}

/// n bytes of a short repeated phrase: compresses very well.
inline mmry::bytes redundant_bytes(std::size_t n) {
    constexpr std::string_view phrase = "the same few words, again and again. ";
    mmry::bytes out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::byte>(phrase[i % phrase.size()]);
    return out;
}

inline mmry::bytes to_bytes(std::string_view s) {
    const auto v = mmry::as_bytes(s);
    return {v.begin(), v.end()};
}

inline mmry::bytes slice(const mmry::bytes& b, std::size_t offset, std::size_t length) {
    return {b.begin() + static_cast<std::ptrdiff_t>(offset),
            b.begin() + static_cast<std::ptrdiff_t>(offset + length)};
}

/// Number of frames a value of `size` bytes is cut into.
inline std::uint64_t frames_of(std::uint64_t size, std::uint64_t frame_size) {
    return (size + frame_size - 1) / frame_size;
}

// ---- errors -------------------------------------------------------------------------------------

/// Matches an mmry::error whose code is one of `codes` and whose what() contains `text`.
class error_matcher : public Catch::MatcherBase<mmry::error> {
  public:
    error_matcher(std::vector<mmry::errc> codes, std::string text)
        : codes_(std::move(codes)), text_(std::move(text)) {}

    bool match(const mmry::error& e) const override {
        bool code_ok = false;
        for (auto c : codes_) code_ok = code_ok || e.code() == c;
        return code_ok && std::string_view(e.what()).find(text_) != std::string_view::npos;
    }
    std::string describe() const override {
        std::string s = "is an mmry::error with code";
        for (auto c : codes_) s += " '" + mmry::make_error_code(c).message() + "'";
        return s + " whose message contains \"" + text_ + "\"";
    }

  private:
    std::vector<mmry::errc> codes_;
    std::string text_;
};

inline error_matcher is_error(mmry::errc code, std::string text = {}) {
    return {{code}, std::move(text)};
}

/// The errors a failed integrity check may raise.
inline error_matcher is_integrity_error(std::string text = {}) {
    using mmry::errc;
    return {{errc::corrupt, errc::authentication_failed, errc::wrong_key}, std::move(text)};
}

/// The store's counters (stats) against what its listings say, recounted record by record: keys
/// from list(), records from stored() (a record filed under several stored keys counted once,
/// by its write sequence number).
template <class Store>
void check_counters(const Store& s) {
    std::uint64_t entries = 0, logical = 0, stored = 0, frames = 0;
    for (const auto& e : s.list()) {
        (void)e;
        ++entries;
    }
    std::set<std::uint64_t> seen;
    for (const auto& e : s.stored()) {
        if (!seen.insert(e.meta.seq).second) continue;
        logical += e.meta.logical_size;
        stored += e.meta.stored_size;
        frames += e.meta.frames;
    }
    const auto st = s.stats();
    CHECK(st.entries == s.size());
    CHECK(st.entries == entries);
    CHECK(st.records == seen.size());
    CHECK(st.logical_bytes == logical);
    // Chunks and dictionaries are stored beside the records (test_fold recounts chunks).
    std::uint64_t dictionaries = 0;
    for (const auto& d : st.dictionaries) dictionaries += d.stored_bytes;
    CHECK(st.stored_bytes - st.chunk_stored_bytes - dictionaries == stored);
    // And the store's own check, which decodes every record and recounts from the inside.
    const auto report = s.verify();
    for (const auto& p : report.problems) UNSCOPED_INFO(p);
    CHECK(report.ok());
    CHECK(report.records == seen.size());
    CHECK(st.frames == frames);
}

/// The keys of a listing, in the order it yields them.
template <class Range>
std::vector<std::string> keys_of(Range&& r) {
    std::vector<std::string> out;
    for (const auto& e : r) out.push_back(e.key);
    return out;
}

/// The entries of a listing or a history, in the order it yields them.
template <class Range>
std::vector<mmry::entry> entries_of(Range&& r) {
    std::vector<mmry::entry> out;
    for (const auto& e : r) out.push_back(e);
    return out;
}

/// A count from the environment variable `name` (long soak and crash runs), or `fallback` when
/// it is unset or not a positive number.
inline int env_count(const char* name, int fallback) {
    const char* e = std::getenv(name);
    const int v = e ? std::atoi(e) : fallback;
    return v < 1 ? fallback : v;
}

/// prefix followed by i in 4 digits, so that key order is number order: padded("user/", 7) is
/// "user/0007".
inline std::string padded(std::string_view prefix, int i) {
    char digits[16];
    std::snprintf(digits, sizeof digits, "%04d", i);
    return std::string(prefix) + digits;
}

/// `prefix` followed by the decimal digits of n: numbered("k/", 7) is "k/7". (Rather than
/// "k/" + std::to_string(7), on which GCC 12 at -O3 warns falsely: -Wrestrict, GCC bug 105329.)
inline std::string numbered(std::string_view prefix, long long n) {
    std::string out(prefix);
    out += std::to_string(n);
    return out;
}

/// Runs f in a forked child process and returns its exit code: f's result, 100 when it threw
/// (a child must not run the parent's Catch2 assertions or destructors: it leaves with _exit).
inline int in_child(const std::function<int()>& f) {
    const pid_t child = ::fork();
    if (child == 0) {
        int code = 100;
        try {
            code = f();
        } catch (...) {
        }
        ::_exit(code);
    }
    int status = 0;
    if (child < 0 || ::waitpid(child, &status, 0) != child || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

/// zstd level 3, counting decompressions.
struct counting_zstd {
    static constexpr std::uint8_t id = 201;
    static constexpr std::string_view name = "counting_zstd";
    static inline std::atomic<std::uint64_t> decompressions{0};

    static std::size_t compress(std::span<const std::byte> in, std::span<std::byte> out) {
        return mmry::compress::zstd<3>::compress(in, out);
    }
    static std::size_t decompress(std::span<const std::byte> in, std::span<std::byte> out) {
        decompressions.fetch_add(1);
        return mmry::compress::zstd<3>::decompress(in, out);
    }
};
static_assert(mmry::compressor_policy<counting_zstd>);

/// Failures reported by threads, checked by the test thread once they are joined.
struct failures {
    std::mutex mutex;
    std::vector<std::string> list;
    void add(std::string what) {
        std::lock_guard lock(mutex);
        if (list.size() < 20) list.push_back(std::move(what));
    }
};

/// Default policies with another path and folding policy: the compositions whose write paths
/// differ (one record per key or a history; whole values or chunks).
template <class Path, class Fold = mmry::fold::none>
struct path_traits : mmry::default_traits {
    using path = Path;
    using fold = Fold;
};
using write_compositions =
    std::tuple<path_traits<mmry::path::latest>, path_traits<mmry::path::versioned>,
               path_traits<mmry::path::latest, mmry::fold::cdc<>>,
               path_traits<mmry::path::versioned, mmry::fold::cdc<>>>;

}  // namespace mmry_test
