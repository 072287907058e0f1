#pragma once
// A bucket page of the hashed index: the entries whose key hashes begin with the bucket's
// prefix (its top `depth` bits).
//
//   header (32 bytes): magic u32 "MBKT" | depth u8 | 3 unused | prefix u64 | count u16 |
//                      used u16 (slot and entry bytes) | 4 unused |
//                      checksum u64 of the 24 bytes before it and of the slots
//   slots, from byte 32, one per entry (8 bytes): fingerprint u32 (the low 32 bits of the
//                      key hash) | offset u16 (of the entry in the page) | 2 unused
//   entries, packed after the slots in slot order, each a multiple of 8 bytes:
//                      checksum u32 (of the rest of the entry) | key length u16 |
//                      value length u16 | key hash u64 | key | value | zero padding
//
// A lookup reads the header and the slots (a cache line or two, checked together), and goes
// only to the entries whose fingerprint is the key's: so it touches one entry, not every entry
// before it. An entry it goes to and finds another key in is checked too, so damage to an entry
// is an error, never a key that silently goes missing; damage to a slot fails the header's
// checksum. bucket_view checks the header and the framing of every entry before it hands out a
// byte, so a damaged bucket is errc::corrupt naming the page, never a read out of bounds.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <mmry/detail/hash64.hpp>
#include <mmry/detail/pages/page_format.hpp>
#include <mmry/error.hpp>

namespace mmry {
inline namespace v1 {
namespace detail::pages {

inline constexpr std::uint32_t bucket_magic = 0x544b424d;  // "MBKT"
inline constexpr std::size_t bucket_header = 32;
inline constexpr std::size_t bucket_capacity = page_size - bucket_header;
inline constexpr std::size_t entry_header = 16;
inline constexpr std::size_t slot_size = 8;

inline std::size_t entry_size(std::size_t key, std::size_t value) noexcept {
    return (entry_header + key + value + 7) / 8 * 8;
}
/// The bytes an entry takes in its bucket: itself and its slot.
inline std::size_t entry_cost(std::size_t key, std::size_t value) noexcept {
    return entry_size(key, value) + slot_size;
}

/// One entry of a bucket, pointing into the page.
struct bucket_entry {
    std::uint64_t hash = 0;
    std::string_view key;
    std::span<const std::byte> value;
    std::size_t offset = 0;  // in the page
    std::size_t size = 0;    // bytes, padding included
    std::uint32_t sum = 0;
    std::uint32_t fingerprint = 0;  // its slot's
    std::size_t cost() const noexcept { return size + slot_size; }
};

inline std::uint32_t entry_sum(const std::byte* entry, std::size_t key, std::size_t value) {
    return static_cast<std::uint32_t>(checksum(entry + 4, entry_header - 4 + key + value));
}
inline std::uint32_t fingerprint_of(std::uint64_t hash) noexcept {
    return static_cast<std::uint32_t>(hash);
}

namespace bucket_detail {

struct header {
    std::uint32_t magic = 0;
    std::uint8_t depth = 0;
    std::uint64_t prefix = 0, sum = 0;
    std::uint16_t count = 0, used = 0;
};

// The header's checksum: its first 24 bytes, then its `count` slots.
inline std::uint64_t header_sum(const std::byte* p, std::size_t count) noexcept {
    return hash64({reinterpret_cast<const char*>(p + bucket_header), count * slot_size},
                  checksum(p, 24));
}

// Reads and checks a page's header and slots; false when they fail their checks.
inline bool read_header(const std::byte* p, header& h) noexcept {
    std::memcpy(&h.magic, p, 4);
    h.depth = static_cast<std::uint8_t>(p[4]);
    std::memcpy(&h.prefix, p + 8, 8);
    std::memcpy(&h.count, p + 16, 2);
    std::memcpy(&h.used, p + 18, 2);
    std::memcpy(&h.sum, p + 24, 8);
    return h.magic == bucket_magic && h.depth <= 64 &&
           (h.depth == 64 || h.prefix >> h.depth == 0) && h.used <= bucket_capacity &&
           std::size_t{h.count} * slot_size <= h.used && h.sum == header_sum(p, h.count);
}

/// True when `hash` belongs in a bucket of local depth `depth` and prefix `prefix`.
inline bool holds(std::uint64_t depth, std::uint64_t prefix, std::uint64_t hash) noexcept {
    return depth == 0 || (depth == 64 ? hash == prefix : hash >> (64 - depth) == prefix);
}
inline bool holds(const header& h, std::uint64_t hash) noexcept {
    return holds(h.depth, h.prefix, hash);
}

// Slot k: its fingerprint and the offset of its entry.
inline void read_slot(const std::byte* p, std::size_t k, std::uint32_t& fp, std::uint16_t& at) {
    const std::byte* s = p + bucket_header + k * slot_size;
    std::memcpy(&fp, s, 4);
    std::memcpy(&at, s + 4, 2);
}

// The entry at byte `at`, framed within the bucket's bytes [first, end); false when it is not.
inline bool read_entry(std::span<const std::byte> page, std::size_t at, std::size_t first,
                       std::size_t end, bucket_entry& e) noexcept {
    if (at < first || at % 8 != 0 || at + entry_header > end) return false;
    const std::byte* p = page.data() + at;
    std::uint16_t klen = 0, vlen = 0;
    std::memcpy(&e.sum, p, 4);
    std::memcpy(&klen, p + 4, 2);
    std::memcpy(&vlen, p + 6, 2);
    std::memcpy(&e.hash, p + 8, 8);
    e.size = entry_size(klen, vlen);
    if (at + e.size > end) return false;
    e.offset = at;
    e.key = {reinterpret_cast<const char*>(p + entry_header), klen};
    e.value = page.subspan(at + entry_header + klen, vlen);
    return true;
}

inline bool sound(std::span<const std::byte> page, const bucket_entry& e) noexcept {
    return entry_sum(page.data() + e.offset, e.key.size(), e.value.size()) == e.sum;
}

}  // namespace bucket_detail

/// The value of `key` (hash `hash`) in a bucket page, read straight from the page: the path of
/// every lookup, which builds no entry list and names the page only when it fails (`where()`
/// gives the name). Checks the header and slots, that the bucket holds the hash's prefix, and
/// the framing and checksum of every entry whose fingerprint is the key's. Throws
/// errc::corrupt.
template <class Where>
std::optional<std::span<const std::byte>> bucket_lookup(std::span<const std::byte> page,
                                                        std::uint64_t hash, std::string_view key,
                                                        const Where& where) {
    namespace d = bucket_detail;
    const std::byte* p = page.data();
    auto fail = [&](const std::string& what) -> void {
        throw error(errc::corrupt, where() + ": " + what);
    };
    d::header h;
    if (!d::read_header(p, h)) fail("its header fails its checks");
    if (!d::holds(h, hash))
        fail("the directory leads a key to it whose hash lacks the bucket's prefix");
    const std::size_t first = bucket_header + std::size_t{h.count} * slot_size;
    const std::size_t end = bucket_header + h.used;
    const std::uint32_t want = fingerprint_of(hash);
    for (std::size_t k = 0; k < h.count; ++k) {
        std::uint32_t fp = 0;
        std::uint16_t at = 0;
        d::read_slot(p, k, fp, at);
        if (fp != want) continue;
        bucket_entry e;
        if (!d::read_entry(page, at, first, end, e))
            fail("slot " + std::to_string(k) + " names no entry within the bucket");
        // Another key of the same fingerprint is rare: its entry is checked too, because a
        // damaged entry of this key is one too.
        if (!d::sound(page, e))
            fail("the entry at byte " + std::to_string(at) + " fails its checksum");
        if (e.hash == hash && e.key == key) return e.value;
    }
    return std::nullopt;
}

/// The checked entries of a bucket page.
class bucket_view {
  public:
    /// Checks the page's header and slots, and that the entries the slots name lie one after
    /// the other, in slot order, filling the bucket's bytes; `where` names the page in errors.
    bucket_view(std::span<const std::byte> page, std::string where)
        : p_(page), where_(std::move(where)) {
        namespace d = bucket_detail;
        d::header h;
        if (!d::read_header(p_.data(), h)) fail("its header fails its checks");
        depth_ = h.depth;
        prefix_ = h.prefix;
        used_ = h.used;
        const std::size_t first = bucket_header + std::size_t{h.count} * slot_size;
        const std::size_t end = bucket_header + h.used;
        std::size_t at = first;
        entries_.reserve(h.count);
        for (std::size_t k = 0; k < h.count; ++k) {
            bucket_entry e;
            std::uint16_t from = 0;
            d::read_slot(p_.data(), k, e.fingerprint, from);
            if (from != at || !d::read_entry(p_, at, first, end, e))
                fail("entry " + std::to_string(k) + " is not where its slot says, or runs past " +
                     "the bucket's " + std::to_string(used_) + " bytes");
            entries_.push_back(e);
            at += e.size;
        }
        if (at != end) fail("its entries do not fill its " + std::to_string(used_) + " bytes");
    }

    std::uint8_t depth() const noexcept { return depth_; }
    std::uint64_t prefix() const noexcept { return prefix_; }
    std::size_t used() const noexcept { return used_; }
    const std::vector<bucket_entry>& entries() const noexcept { return entries_; }

    /// True when `hash` belongs in this bucket.
    bool holds(std::uint64_t hash) const noexcept {
        return bucket_detail::holds(depth_, prefix_, hash);
    }

    /// The entry of `key` (hash `hash`), or none: what bucket_lookup finds, and with `checked`
    /// the same errors. Unchecked (a writer replacing or removing the entry it names by key),
    /// an entry that fails its checksum is passed over, or returned when its key and hash
    /// match. Throws errc::corrupt when the bucket is not the one for `hash`.
    const bucket_entry* find(std::uint64_t hash, std::string_view key, bool checked = true) const {
        if (!holds(hash))
            fail("the directory leads a key of hash " + hex(hash) + " to it, but it holds prefix " +
                 hex(prefix_) + "/" + std::to_string(depth_));
        const std::uint32_t want = fingerprint_of(hash);
        for (const auto& e : entries_) {
            if (e.fingerprint != want) continue;
            if (checked) check(e);
            if (e.hash == hash && e.key == key) return &e;
        }
        return nullptr;
    }

    /// Throws errc::corrupt when e's bytes fail their checksum.
    void check(const bucket_entry& e) const {
        if (!bucket_detail::sound(p_, e))
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
    std::uint16_t used_ = 0;
    std::vector<bucket_entry> entries_;
};

/// Builds a bucket page in memory.
class bucket_builder {
  public:
    bucket_builder(std::uint8_t depth, std::uint64_t prefix) : depth_(depth), prefix_(prefix) {}

    /// Slot and entry bytes so far.
    std::size_t used() const noexcept { return bytes_.size() + fps_.size() * slot_size; }
    bool fits(std::size_t key, std::size_t value) const noexcept {
        return used() + entry_cost(key, value) <= bucket_capacity;
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
        fps_.push_back(fingerprint_of(hash));
    }
    /// Copies an entry of another bucket byte for byte, its checksum and fingerprint with it.
    void add(const bucket_entry& e) {
        const auto* from = reinterpret_cast<const std::byte*>(e.key.data()) - entry_header;
        bytes_.insert(bytes_.end(), from, from + e.size);
        fps_.push_back(e.fingerprint);
    }

    void write(std::span<std::byte> page) const {
        std::memset(page.data(), 0, page_size);
        std::memcpy(page.data(), &bucket_magic, 4);
        page[4] = static_cast<std::byte>(depth_);
        std::memcpy(page.data() + 8, &prefix_, 8);
        const auto count = static_cast<std::uint16_t>(fps_.size());
        const auto used = static_cast<std::uint16_t>(this->used());
        std::memcpy(page.data() + 16, &count, 2);
        std::memcpy(page.data() + 18, &used, 2);
        // Slots, then the entries in their order; each entry's length is in its own header.
        std::size_t at = bucket_header + fps_.size() * slot_size;
        std::size_t k = 0;
        for (std::size_t from = 0; from < bytes_.size(); ++k) {
            std::byte* slot = page.data() + bucket_header + k * slot_size;
            const auto offset = static_cast<std::uint16_t>(at + from);
            std::memcpy(slot, &fps_[k], 4);
            std::memcpy(slot + 4, &offset, 2);
            std::uint16_t klen = 0, vlen = 0;
            std::memcpy(&klen, bytes_.data() + from + 4, 2);
            std::memcpy(&vlen, bytes_.data() + from + 6, 2);
            from += entry_size(klen, vlen);
        }
        if (!bytes_.empty()) std::memcpy(page.data() + at, bytes_.data(), bytes_.size());
        const std::uint64_t sum = bucket_detail::header_sum(page.data(), fps_.size());
        std::memcpy(page.data() + 24, &sum, 8);
    }

  private:
    std::uint8_t depth_;
    std::uint64_t prefix_;
    std::vector<std::uint32_t> fps_;  // the slots' fingerprints, in entry order
    std::vector<std::byte> bytes_;
};

}  // namespace detail::pages
}  // namespace v1
}  // namespace mmry
