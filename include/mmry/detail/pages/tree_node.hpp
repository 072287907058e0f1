#pragma once
// A node page of the ordered index (tree_index.hpp): a leaf of sorted entries, or a branch of
// children and the keys that separate them.
//
//   header (16 bytes): magic u32 ("MLEF" leaf, "MBRN" branch) | count u16 | used u16 |
//                      checksum u64 of the 8 bytes before it
//   leaf entries, packed from byte 16, sorted by key, each a multiple of 8 bytes:
//                      checksum u32 (of the rest) | key length u16 | value length u16 | key | value
//   branch: child u64, then per separator: key length u16 | 6 unused | child u64 | key, padded
//           to 8 (child k + 1 holds the keys from separator k on)
//
// node_view checks the header and the framing of every entry before handing out a byte; a leaf
// entry's checksum is checked when it is returned. Throws errc::corrupt naming the page.
//
// A branch's separators carry no checksum (the header's covers its first 8 bytes only): what
// guards them is the framing, the key order, and the bounds tree_index::verify checks.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <mmry/detail/pages/page_format.hpp>
#include <mmry/error.hpp>

namespace mmry {
inline namespace v1 {
namespace detail::pages {

inline constexpr std::uint32_t leaf_magic = 0x46454c4d;    // "MLEF"
inline constexpr std::uint32_t branch_magic = 0x4e52424d;  // "MBRN"
inline constexpr std::size_t node_header = 16;
inline constexpr std::size_t node_capacity = page_size - node_header;

inline std::size_t separator_size(std::size_t key) noexcept {
    return (16 + key + 7) / 8 * 8;
}
inline std::size_t leaf_entry_size(std::size_t key, std::size_t value) noexcept {
    return (8 + key + value + 7) / 8 * 8;
}

/// One entry of a node: a leaf's key and value, or a branch's separator and the child right of
/// it (the first child of a branch has an empty key and no separator).
struct node_entry {
    std::string_view key;
    std::span<const std::byte> value;
    page_id child = no_page;
    std::size_t offset = 0, size = 0;
    std::uint32_t sum = 0;
};

class node_view {
  public:
    node_view(std::span<const std::byte> page, std::string where)
        : p_(page), where_(std::move(where)) {
        std::uint32_t magic = 0;
        std::uint64_t sum = 0;
        std::memcpy(&magic, p_.data(), 4);
        std::memcpy(&count_, p_.data() + 4, 2);
        std::memcpy(&used_, p_.data() + 6, 2);
        std::memcpy(&sum, p_.data() + 8, 8);
        leaf_ = magic == leaf_magic;
        if ((!leaf_ && magic != branch_magic) || sum != checksum(p_.data(), 8) ||
            used_ > node_capacity || (!leaf_ && used_ < 8))
            fail("its header fails its checks");
        std::size_t at = node_header;
        const std::size_t end = node_header + used_;
        entries_.reserve(count_ + 1u);
        if (!leaf_) {
            node_entry first;
            std::memcpy(&first.child, p_.data() + at, 8);
            first.offset = at;
            first.size = 8;
            entries_.push_back(first);
            at += 8;
        }
        for (std::uint16_t k = 0; k < count_; ++k) {
            node_entry e;
            e.offset = at;
            std::uint16_t klen = 0, vlen = 0;
            if (leaf_) {
                if (at + 8 > end) fail("entry " + std::to_string(k) + " is cut off");
                std::memcpy(&e.sum, p_.data() + at, 4);
                std::memcpy(&klen, p_.data() + at + 4, 2);
                std::memcpy(&vlen, p_.data() + at + 6, 2);
                e.size = leaf_entry_size(klen, vlen);
                if (at + e.size > end) fail("entry " + std::to_string(k) + " runs past its node");
                e.key = {reinterpret_cast<const char*>(p_.data() + at + 8), klen};
                e.value = p_.subspan(at + 8 + klen, vlen);
            } else {
                if (at + 16 > end) fail("separator " + std::to_string(k) + " is cut off");
                std::memcpy(&klen, p_.data() + at, 2);
                std::memcpy(&e.child, p_.data() + at + 8, 8);
                e.size = separator_size(klen);
                if (at + e.size > end)
                    fail("separator " + std::to_string(k) + " runs past its node");
                e.key = {reinterpret_cast<const char*>(p_.data() + at + 16), klen};
            }
            if (k > 0 && !(entries_.back().key < e.key))
                fail("its keys are out of order at entry " + std::to_string(k));
            entries_.push_back(e);
            at += e.size;
        }
        if (at != end) fail("its entries do not fill its " + std::to_string(used_) + " bytes");
    }

    bool leaf() const noexcept { return leaf_; }
    std::size_t used() const noexcept { return used_; }
    /// A leaf's entries; a branch's children (entry 0 the first child, with no key).
    const std::vector<node_entry>& entries() const noexcept { return entries_; }

    /// A branch: the index of the child whose keys include `key`.
    std::size_t child_for(std::string_view key) const {
        std::size_t lo = 1, hi = entries_.size();
        while (lo < hi) {
            const std::size_t mid = (lo + hi) / 2;
            if (entries_[mid].key <= key)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo - 1;
    }
    /// A leaf: the index of the first entry whose key is not below `key`.
    std::size_t lower_bound(std::string_view key) const {
        std::size_t lo = 0, hi = entries_.size();
        while (lo < hi) {
            const std::size_t mid = (lo + hi) / 2;
            if (entries_[mid].key < key)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo;
    }
    void check(const node_entry& e) const {
        if (static_cast<std::uint32_t>(checksum(p_.data() + e.offset + 4, e.size - 4)) != e.sum)
            fail("the entry at byte " + std::to_string(e.offset) + " fails its checksum");
    }
    [[noreturn]] void fail(const std::string& what) const {
        throw error(errc::corrupt, where_ + ": " + what);
    }

  private:
    std::span<const std::byte> p_;
    std::string where_;
    std::uint16_t count_ = 0, used_ = 0;
    bool leaf_ = false;
    std::vector<node_entry> entries_;
};

/// Builds a node page in memory.
class node_builder {
  public:
    explicit node_builder(bool leaf) : leaf_(leaf) {}

    bool leaf() const noexcept { return leaf_; }
    std::size_t used() const noexcept { return bytes_.size(); }
    std::size_t count() const noexcept { return count_; }

    /// A leaf entry; its checksum covers the padding too (zeroes).
    void add(std::string_view key, std::span<const std::byte> value) {
        const std::size_t at = grow(leaf_entry_size(key.size(), value.size()));
        std::byte* e = bytes_.data() + at;
        const auto klen = static_cast<std::uint16_t>(key.size());
        const auto vlen = static_cast<std::uint16_t>(value.size());
        std::memcpy(e + 4, &klen, 2);
        std::memcpy(e + 6, &vlen, 2);
        if (!key.empty()) std::memcpy(e + 8, key.data(), key.size());
        if (!value.empty()) std::memcpy(e + 8 + key.size(), value.data(), value.size());
        const auto sum = static_cast<std::uint32_t>(checksum(e + 4, bytes_.size() - at - 4));
        std::memcpy(e, &sum, 4);
        ++count_;
    }
    /// A leaf entry of another node, copied byte for byte with its checksum: an entry that fails
    /// its checksum still fails it here (a rewrite never makes a damaged entry pass).
    void add(const node_entry& e) {
        const auto* from = reinterpret_cast<const std::byte*>(e.key.data()) - 8;
        bytes_.insert(bytes_.end(), from, from + e.size);
        ++count_;
    }
    /// A branch's first child.
    void first_child(page_id child) {
        const std::size_t at = grow(8);
        std::memcpy(bytes_.data() + at, &child, 8);
    }
    /// A branch's separator and the child right of it.
    void add(std::string_view key, page_id child) {
        const std::size_t at = grow(separator_size(key.size()));
        const auto klen = static_cast<std::uint16_t>(key.size());
        std::memcpy(bytes_.data() + at, &klen, 2);
        std::memcpy(bytes_.data() + at + 8, &child, 8);
        if (!key.empty()) std::memcpy(bytes_.data() + at + 16, key.data(), key.size());
        ++count_;
    }

    void write(std::span<std::byte> page) const {
        std::memset(page.data(), 0, page_size);
        const std::uint32_t magic = leaf_ ? leaf_magic : branch_magic;
        const auto used = static_cast<std::uint16_t>(bytes_.size());
        std::memcpy(page.data(), &magic, 4);
        std::memcpy(page.data() + 4, &count_, 2);
        std::memcpy(page.data() + 6, &used, 2);
        const std::uint64_t sum = checksum(page.data(), 8);
        std::memcpy(page.data() + 8, &sum, 8);
        if (!bytes_.empty()) std::memcpy(page.data() + node_header, bytes_.data(), bytes_.size());
    }

  private:
    std::size_t grow(std::size_t n) {
        const std::size_t at = bytes_.size();
        bytes_.resize(at + n);
        return at;
    }
    bool leaf_;
    std::uint16_t count_ = 0;
    std::vector<std::byte> bytes_;
};

}  // namespace detail::pages
}  // namespace v1
}  // namespace mmry
