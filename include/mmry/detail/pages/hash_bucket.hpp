#pragma once
// A bucket page of the hashed index: the entries whose key hashes begin with the bucket's
// prefix (its top `depth` bits).
//
//   header (32 bytes): magic u32 "MBKT" | depth u8 | 3 unused | prefix u64 | count u16 |
//                      used u16 (entry bytes) | 4 unused | checksum u64 of the 24 bytes before it
//   entries, packed from byte 32, each a multiple of 8 bytes:
//                      checksum u32 (of the rest of the entry) | key length u16 |
//                      value length u16 | key hash u64 | key | value | zero padding
//
// bucket_view checks the header and the framing of every entry before it hands out a byte, and a
// lookup checks the checksum of the entry it returns and the prefix of every hash it passes, so a
// damaged bucket is errc::corrupt naming the page, never a read out of bounds or a key that
// silently goes missing.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <mmry/detail/pages/page_format.hpp>
#include <mmry/error.hpp>

namespace mmry {
inline namespace v1 {
namespace detail::pages {

inline constexpr std::uint32_t bucket_magic = 0x544b424d;  // "MBKT"
inline constexpr std::size_t bucket_header = 32;
inline constexpr std::size_t bucket_capacity = page_size - bucket_header;
inline constexpr std::size_t entry_header = 16;

inline std::size_t entry_size(std::size_t key, std::size_t value) noexcept {
    return (entry_header + key + value + 7) / 8 * 8;
}

/// One entry of a bucket, pointing into the page.
struct bucket_entry {
    std::uint64_t hash = 0;
    std::string_view key;
    std::span<const std::byte> value;
    std::size_t offset = 0;  // in the page
    std::size_t size = 0;    // bytes, padding included
    std::uint32_t sum = 0;
};

inline std::uint32_t entry_sum(const std::byte* entry, std::size_t key, std::size_t value) {
    return static_cast<std::uint32_t>(checksum(entry + 4, entry_header - 4 + key + value));
}

/// The value of `key` (hash `hash`) in a bucket page, read straight from the page: the path of
/// every lookup, which builds no entry list and names the page only when it fails (`where()`
/// gives the name). Checks the header, that the bucket holds the hash's prefix, the framing and
/// prefix of every entry it passes, and the checksum of the one it returns. Throws
/// errc::corrupt.
template <class Where>
std::optional<std::span<const std::byte>> bucket_lookup(std::span<const std::byte> page,
                                                        std::uint64_t hash, std::string_view key,
                                                        const Where& where) {
    const std::byte* p = page.data();
    auto fail = [&](const std::string& what) -> void {
        throw error(errc::corrupt, where() + ": " + what);
    };
    std::uint32_t magic = 0;
    std::uint64_t prefix = 0, sum = 0;
    std::uint16_t count = 0, used = 0;
    std::memcpy(&magic, p, 4);
    const auto depth = static_cast<std::uint8_t>(p[4]);
    std::memcpy(&prefix, p + 8, 8);
    std::memcpy(&count, p + 16, 2);
    std::memcpy(&used, p + 18, 2);
    std::memcpy(&sum, p + 24, 8);
    if (magic != bucket_magic || sum != checksum(p, 24) || depth > 64 ||
        (depth < 64 && prefix >> depth != 0) || used > bucket_capacity)
        fail("its header fails its checks");
    auto holds = [&](std::uint64_t h) {
        return depth == 0 || (depth == 64 ? h == prefix : h >> (64 - depth) == prefix);
    };
    if (!holds(hash)) fail("the directory leads a key to it whose hash lacks the bucket's prefix");
    const std::size_t end = bucket_header + used;
    std::size_t at = bucket_header;
    for (std::uint16_t k = 0; k < count; ++k) {
        std::uint16_t klen = 0, vlen = 0;
        std::uint64_t h = 0;
        if (at + entry_header > end) fail("entry " + std::to_string(k) + " is cut off");
        std::memcpy(&klen, p + at + 4, 2);
        std::memcpy(&vlen, p + at + 6, 2);
        std::memcpy(&h, p + at + 8, 8);
        const std::size_t size = entry_size(klen, vlen);
        if (at + size > end) fail("entry " + std::to_string(k) + " runs past the bucket");
        if (!holds(h)) fail("an entry's hash does not begin with the bucket's prefix");
        if (h == hash && klen == key.size() &&
            std::memcmp(p + at + entry_header, key.data(), key.size()) == 0) {
            std::uint32_t s = 0;
            std::memcpy(&s, p + at, 4);
            if (entry_sum(p + at, klen, vlen) != s)
                fail("the entry at byte " + std::to_string(at) + " fails its checksum");
            return page.subspan(at + entry_header + klen, vlen);
        }
        at += size;
    }
    if (at != end) fail("its entries do not fill its " + std::to_string(used) + " bytes");
    return std::nullopt;
}

/// The checked entries of a bucket page.
class bucket_view {
  public:
    /// Checks the page's header and the framing of its entries; `where` names the page in
    /// errors.
    bucket_view(std::span<const std::byte> page, std::string where)
        : p_(page), where_(std::move(where)) {
        std::uint32_t magic = 0;
        std::memcpy(&magic, p_.data(), 4);
        depth_ = static_cast<std::uint8_t>(p_[4]);
        std::memcpy(&prefix_, p_.data() + 8, 8);
        std::memcpy(&count_, p_.data() + 16, 2);
        std::memcpy(&used_, p_.data() + 18, 2);
        std::uint64_t sum = 0;
        std::memcpy(&sum, p_.data() + 24, 8);
        if (magic != bucket_magic || sum != checksum(p_.data(), 24) || depth_ > 64 ||
            (depth_ < 64 && prefix_ >> depth_ != 0) || used_ > bucket_capacity)
            fail("its header fails its checks");
        std::size_t at = bucket_header;
        entries_.reserve(count_);
        for (std::uint16_t k = 0; k < count_; ++k) {
            if (at + entry_header > bucket_header + used_)
                fail("entry " + std::to_string(k) + " is cut off");
            bucket_entry e;
            std::uint16_t klen = 0, vlen = 0;
            std::memcpy(&e.sum, p_.data() + at, 4);
            std::memcpy(&klen, p_.data() + at + 4, 2);
            std::memcpy(&vlen, p_.data() + at + 6, 2);
            std::memcpy(&e.hash, p_.data() + at + 8, 8);
            e.size = entry_size(klen, vlen);
            if (at + e.size > bucket_header + used_)
                fail("entry " + std::to_string(k) + " runs past the bucket's " +
                     std::to_string(used_) + " bytes");
            e.offset = at;
            e.key = {reinterpret_cast<const char*>(p_.data() + at + entry_header), klen};
            e.value = p_.subspan(at + entry_header + klen, vlen);
            entries_.push_back(e);
            at += e.size;
        }
        if (at != bucket_header + used_)
            fail("its entries do not fill its " + std::to_string(used_) + " bytes");
    }

    std::uint8_t depth() const noexcept { return depth_; }
    std::uint64_t prefix() const noexcept { return prefix_; }
    std::size_t used() const noexcept { return used_; }
    const std::vector<bucket_entry>& entries() const noexcept { return entries_; }

    /// True when `hash` belongs in this bucket.
    bool holds(std::uint64_t hash) const noexcept {
        return depth_ == 0 || (depth_ == 64 ? hash == prefix_ : hash >> (64 - depth_) == prefix_);
    }

    /// The entry of `key` (hash `hash`), its checksum checked (unless `checked` is false: a
    /// writer replacing or removing the entry it names by key), or none. Throws errc::corrupt
    /// when the bucket is not the one for `hash`, or an entry on the way is not in it.
    const bucket_entry* find(std::uint64_t hash, std::string_view key, bool checked = true) const {
        if (!holds(hash))
            fail("the directory leads a key of hash " + hex(hash) + " to it, but it holds prefix " +
                 hex(prefix_) + "/" + std::to_string(depth_));
        for (const auto& e : entries_) {
            if (!holds(e.hash))
                fail("an entry's hash " + hex(e.hash) + " does not begin with the bucket's prefix");
            if (e.hash != hash || e.key != key) continue;
            if (checked) check(e);
            return &e;
        }
        return nullptr;
    }

    /// Throws errc::corrupt when e's bytes fail their checksum.
    void check(const bucket_entry& e) const {
        if (entry_sum(p_.data() + e.offset, e.key.size(), e.value.size()) != e.sum)
            fail("the entry at byte " + std::to_string(e.offset) + " fails its checksum");
    }

    [[noreturn]] void fail(const std::string& what) const {
        throw error(errc::corrupt, where_ + ": " + what);
    }

    static std::string hex(std::uint64_t v) {
        char buf[20];
        std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
        return buf;
    }

  private:
    std::span<const std::byte> p_;
    std::string where_;
    std::uint8_t depth_ = 0;
    std::uint64_t prefix_ = 0;
    std::uint16_t count_ = 0, used_ = 0;
    std::vector<bucket_entry> entries_;
};

/// Builds a bucket page in memory.
class bucket_builder {
  public:
    bucket_builder(std::uint8_t depth, std::uint64_t prefix) : depth_(depth), prefix_(prefix) {}

    std::size_t used() const noexcept { return bytes_.size(); }
    bool fits(std::size_t key, std::size_t value) const noexcept {
        return bytes_.size() + entry_size(key, value) <= bucket_capacity;
    }
    void add(std::uint64_t hash, std::string_view key, std::span<const std::byte> value) {
        const std::size_t at = bytes_.size();
        bytes_.resize(at + entry_size(key.size(), value.size()));
        std::byte* e = bytes_.data() + at;
        const auto klen = static_cast<std::uint16_t>(key.size());
        const auto vlen = static_cast<std::uint16_t>(value.size());
        std::memcpy(e + 4, &klen, 2);
        std::memcpy(e + 6, &vlen, 2);
        std::memcpy(e + 8, &hash, 8);
        if (!key.empty()) std::memcpy(e + entry_header, key.data(), key.size());
        if (!value.empty()) std::memcpy(e + entry_header + key.size(), value.data(), value.size());
        const std::uint32_t sum = entry_sum(e, key.size(), value.size());
        std::memcpy(e, &sum, 4);
        ++count_;
    }
    /// Copies an entry of another bucket byte for byte, its checksum with it.
    void add(const bucket_entry& e) {
        const auto* from = reinterpret_cast<const std::byte*>(e.key.data()) - entry_header;
        bytes_.insert(bytes_.end(), from, from + e.size);
        ++count_;
    }

    void write(std::span<std::byte> page) const {
        std::memset(page.data(), 0, page_size);
        std::memcpy(page.data(), &bucket_magic, 4);
        page[4] = static_cast<std::byte>(depth_);
        std::memcpy(page.data() + 8, &prefix_, 8);
        const auto used = static_cast<std::uint16_t>(bytes_.size());
        std::memcpy(page.data() + 16, &count_, 2);
        std::memcpy(page.data() + 18, &used, 2);
        const std::uint64_t sum = checksum(page.data(), 24);
        std::memcpy(page.data() + 24, &sum, 8);
        if (!bytes_.empty()) std::memcpy(page.data() + bucket_header, bytes_.data(), bytes_.size());
    }

  private:
    std::uint8_t depth_;
    std::uint64_t prefix_;
    std::uint16_t count_ = 0;
    std::vector<std::byte> bytes_;
};

}  // namespace detail::pages
}  // namespace v1
}  // namespace mmry
