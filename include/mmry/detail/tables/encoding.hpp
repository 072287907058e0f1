#pragma once
// How the store's tables lay out their bytes (docs/FORMAT.md, "Version 6"): the meta words they
// use, little-endian fields, blobs (a run of pages that starts with its length and checksum),
// and the key an entry is filed under (a key over short_key bytes: its first short_key bytes
// and its SHA-256). Errors: errc::corrupt for a field or blob that fails its checks, naming it.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include <cryptopp/sha.h>

#include <mmry/detail/describe.hpp>
#include <mmry/detail/le.hpp>
#include <mmry/detail/pages/page_format.hpp>
#include <mmry/error.hpp>
#include <mmry/handle.hpp>

namespace mmry {
inline namespace v1 {
namespace detail {
namespace tables {

namespace pg = pages;

inline constexpr std::size_t index_words = 0, head_words = 4, chunk_words = 8;
inline constexpr std::size_t counters_page = 12, counters_pages = 13, dictionary_word = 14;
inline constexpr std::size_t short_key = 440;
inline constexpr std::size_t blob_head = 16;  // u64 length, u64 checksum

/// Appends and reads little-endian fields.
class writer {
  public:
    void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
    void u32(std::uint32_t v) { raw(&v, 4); }
    void u64(std::uint64_t v) { raw(&v, 8); }
    void raw(const void* p, std::size_t n) {
        out_.append(static_cast<const char*>(p), n);  // little-endian hosts only (le.hpp)
    }
    void ref(const record_ref& r) {
        u64(r.where.raw());
        u64(r.size);
        u64(r.logical_size);
        u32(r.frames);
        u32(r.compressed_frames);
        u64(r.seq);
    }
    std::string& str() { return out_; }

  private:
    std::string out_;
};

class reader {
  public:
    /// `what` (and `entry`, a key quoted after it) name the bytes in errors; both must outlive
    /// the reader. The name is only made when an error needs it.
    reader(std::span<const std::byte> in, std::string_view what, std::string_view entry = {})
        : in_(in), what_(what), entry_(entry) {}
    std::uint8_t u8() { return static_cast<std::uint8_t>(take(1)[0]); }
    std::uint32_t u32() { return load_le<std::uint32_t>(take(4).data()); }
    std::uint64_t u64() { return load_le<std::uint64_t>(take(8).data()); }
    std::span<const std::byte> take(std::size_t n) {
        if (n > in_.size())
            throw error(errc::corrupt, name() + " is " + std::to_string(at_ + in_.size()) +
                                           " bytes long, too short for what it holds");
        auto out = in_.first(n);
        in_ = in_.subspan(n);
        at_ += n;
        return out;
    }
    record_ref ref() {
        record_ref r;
        r.where = handle::from_raw(u64());
        r.size = u64();
        r.logical_size = u64();
        r.frames = u32();
        r.compressed_frames = u32();
        r.seq = u64();
        return r;
    }
    std::span<const std::byte> rest() const noexcept { return in_; }
    void done() const {
        if (!in_.empty())
            throw error(errc::corrupt, name() + " has " + std::to_string(in_.size()) +
                                           " bytes more than it holds");
    }
    /// What the bytes are, as errors name them.
    std::string name() const {
        std::string out(what_);
        if (!entry_.empty()) out += " entry " + quote(entry_.substr(0, 64));
        return out;
    }

  private:
    std::span<const std::byte> in_;
    std::size_t at_ = 0;
    std::string_view what_;
    std::string_view entry_;
};

inline std::span<const std::byte> bytes_of(std::string_view s) noexcept {
    return std::as_bytes(std::span(s.data(), s.size()));
}

/// The pages of a blob of n bytes.
inline std::uint64_t blob_pages(std::uint64_t n) noexcept {
    return (n + blob_head + pg::page_size - 1) / pg::page_size;
}

/// A run of pages holding `data`, written in transaction t; returns its first page.
template <class Txn>
pg::page_id write_blob(Txn& t, std::span<const std::byte> data) {
    const std::uint64_t n = blob_pages(data.size());
    const pg::page_id p = t.allocate(n);
    auto out = t.write(p, n);
    store_le<std::uint64_t>(out.data(), data.size());
    store_le<std::uint64_t>(out.data() + 8, pg::checksum(data.data(), data.size()));
    if (!data.empty()) std::memcpy(out.data() + blob_head, data.data(), data.size());
    return p;
}

/// The bytes of the blob at p of n pages, checked.
template <class View>
std::span<const std::byte> read_blob(const View& v, pg::page_id p, std::uint64_t n,
                                     const std::string& what) {
    if (n == 0 || n > (std::uint64_t{1} << 24))
        throw error(errc::corrupt, what + " names a blob of " + std::to_string(n) + " pages");
    const auto run = v.page(p, n);
    const std::uint64_t size = load_le<std::uint64_t>(run.data());
    if (size > run.size() - blob_head || blob_pages(size) != n)
        throw error(errc::corrupt, what + ": its blob at page " + std::to_string(p) + " claims " +
                                       std::to_string(size) + " bytes in " + std::to_string(n) +
                                       " pages");
    const auto data = run.subspan(blob_head, size);
    if (load_le<std::uint64_t>(run.data() + 8) != pg::checksum(data.data(), data.size()))
        throw error(errc::corrupt,
                    what + ": its blob at page " + std::to_string(p) + " fails its checksum");
    return data;
}

/// The key an entry is filed under: the key itself, or for a long key its first short_key
/// bytes and its SHA-256.
inline std::string index_key(std::string_view key) {
    if (key.size() <= short_key) return std::string(key);
    std::string out(key.substr(0, short_key));
    std::array<CryptoPP::byte, CryptoPP::SHA256::DIGESTSIZE> digest{};
    CryptoPP::SHA256().CalculateDigest(
        digest.data(), reinterpret_cast<const CryptoPP::byte*>(key.data()), key.size());
    out.append(reinterpret_cast<const char*>(digest.data()), digest.size());
    return out;
}
/// The same without a copy of a short key: the key itself, or a long key's made in `buf`.
inline std::string_view index_key(std::string_view key, std::string& buf) {
    if (key.size() <= short_key) return key;
    buf = index_key(key);
    return buf;
}

}  // namespace tables
}  // namespace detail
}  // namespace v1
}  // namespace mmry
