#pragma once
// A node page of the ordered index (tree_index.hpp): a leaf of sorted entries, or a branch of
// children and the keys that separate them.
//
//   header (16 bytes): magic u32 ("MLEF" leaf, "MBRN" branch) | count u16 | used u16 |
//                      checksum u64 of the 8 bytes before it (a branch's: and of its first child)
//   leaf entries, packed from byte 16, sorted by key, each a multiple of 8 bytes:
//                      checksum u32 (of the rest) | key length u16 | value length u16 | key | value
//   branch: child u64, then per separator: checksum u32 (of the rest) | key length u16 |
//           2 unused | child u64 | key, padded to 8 (child k + 1 holds the keys from separator
//           k on)
//
// node_view checks the header and the framing of every entry before handing out a byte; a leaf
// entry's checksum is checked when it is returned, a separator's when a search compares a key
// with it or takes its child (child_for), so that a damaged separator is an error, never a key
// looked for in the wrong leaf and silently missing. Throws errc::corrupt naming the page.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/container/small_vector.hpp>

#include <mmry/detail/hash64.hpp>
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

/// A leaf entry's or separator's checksum: of its bytes after the checksum, padding included.
inline std::uint32_t node_entry_sum(const std::byte* e, std::size_t size) noexcept {
    return static_cast<std::uint32_t>(checksum(e + 4, size - 4));
}
/// A node header's checksum: its first 8 bytes, and a branch's first child.
inline std::uint64_t header_sum(const std::byte* page, bool leaf) noexcept {
    const std::uint64_t head = checksum(page, 8);
    if (leaf) return head;
    return hash64({reinterpret_cast<const char*>(page + node_header), 8}, head);
}

class node_view {
  public:
    /// Held in the view up to a node of 128 entries (what a page of index entries holds): a
    /// lookup that visits a node allocates nothing.
    using entry_list = boost::container::small_vector<node_entry, 128>;

    /// `where` names the index in messages (it must outlive the view), `id` the page.
    node_view(std::span<const std::byte> page, std::string_view where, page_id id = no_page)
        : p_(page), where_(where), id_(id) {
        std::uint32_t magic = 0;
        std::uint64_t sum = 0;
        std::memcpy(&magic, p_.data(), 4);
        std::memcpy(&count_, p_.data() + 4, 2);
        std::memcpy(&used_, p_.data() + 6, 2);
        std::memcpy(&sum, p_.data() + 8, 8);
        leaf_ = magic == leaf_magic;
        if ((!leaf_ && magic != branch_magic) || sum != header_sum(p_.data(), leaf_) ||
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
                std::memcpy(&e.sum, p_.data() + at, 4);
                std::memcpy(&klen, p_.data() + at + 4, 2);
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
    const entry_list& entries() const noexcept { return entries_; }

    /// A branch: the index of the child whose keys include `key`. Checks each separator it
    /// compares `key` with, and the one whose child it returns (the first child is the
    /// header's): the search goes where the intact separators lead, or fails.
    std::size_t child_for(std::string_view key) const {
        std::size_t lo = 1, hi = entries_.size();
        while (lo < hi) {
            const std::size_t mid = (lo + hi) / 2;
            check(entries_[mid]);
            if (entries_[mid].key <= key)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo > 1) check(entries_[lo - 1]);
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
    /// Throws errc::corrupt when a leaf entry or a separator fails its checksum (a branch's
    /// first child is checked with the header).
    void check(const node_entry& e) const {
        if (!leaf_ && e.offset == node_header) return;
        if (node_entry_sum(p_.data() + e.offset, e.size) != e.sum)
            fail("the " + std::string(leaf_ ? "entry" : "separator") + " at byte " +
                 std::to_string(e.offset) + " fails its checksum");
    }
    [[noreturn]] void fail(const std::string& what) const {
        throw error(errc::corrupt,
                    std::string(where_) +
                        (id_ != no_page ? ", page " + std::to_string(id_) : std::string()) + ": " +
                        what);
    }

  private:
    std::span<const std::byte> p_;
    std::string_view where_;
    page_id id_;
    std::uint16_t count_ = 0, used_ = 0;
    bool leaf_ = false;
    entry_list entries_;
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
        const auto sum = node_entry_sum(e, bytes_.size() - at);
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
    /// A branch's separator and the child right of it, with a checksum made for them, or
    /// with `sum` (a separator copied as it was, its checksum with it: one that fails its
    /// checksum still fails it here).
    void add(std::string_view key, page_id child, std::optional<std::uint32_t> sum = {}) {
        const std::size_t at = grow(separator_size(key.size()));
        std::byte* e = bytes_.data() + at;
        const auto klen = static_cast<std::uint16_t>(key.size());
        std::memcpy(e + 4, &klen, 2);
        std::memcpy(e + 8, &child, 8);
        if (!key.empty()) std::memcpy(e + 16, key.data(), key.size());
        const std::uint32_t s = sum ? *sum : node_entry_sum(e, bytes_.size() - at);
        std::memcpy(e, &s, 4);
        ++count_;
    }

    /// The checksum add(key, child) gives a separator.
    static std::uint32_t separator_sum(std::string_view key, page_id child) {
        node_builder b(false);
        b.add(key, child);
        std::uint32_t sum = 0;
        std::memcpy(&sum, b.bytes_.data(), 4);
        return sum;
    }

    void write(std::span<std::byte> page) const {
        std::memset(page.data(), 0, page_size);
        const std::uint32_t magic = leaf_ ? leaf_magic : branch_magic;
        const auto used = static_cast<std::uint16_t>(bytes_.size());
        std::memcpy(page.data(), &magic, 4);
        std::memcpy(page.data() + 4, &count_, 2);
        std::memcpy(page.data() + 6, &used, 2);
        if (!bytes_.empty()) std::memcpy(page.data() + node_header, bytes_.data(), bytes_.size());
        const std::uint64_t sum = header_sum(page.data(), leaf_);
        std::memcpy(page.data() + 8, &sum, 8);
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
