#pragma once
// open_table: the hash table behind index::hashed. Open addressing with linear probing over an
// array of slots; each slot holds the key's 64-bit hash, the key itself when it has at most 20
// bytes (else a pointer to it), and the value. A lookup of a short key therefore touches one slot,
// usually one or two cache lines, where a chained table follows a bucket to a node to a string.
//
// The array is allocated with Alloc, so the table can live in a shared segment (Alloc's pointer
// is then an offset_ptr and the table works at any mapping address), in pages of at most 16384
// slots (1 MiB) found through a small directory: a large table needs no large contiguous block,
// which a segment shared with records may no longer have even when it has the bytes, and the
// holes an old array leaves can take the pages of the next one. The hash is detail::hash64,
// the same in every process and build.
//
// Thread-safety: none; the store serializes writers against readers.
// Invalidation: inserting a new key may move every value (pointers from find() and emplace() are
// invalidated); replacing a value or erasing a key moves nothing.
// Exceptions: insertion gives the strong guarantee (the array and a long key are allocated before
// anything changes); erase and replacing never throw.
// Complexity: O(1) expected per operation at the load factor kept (at most 4/5 of the slots in
// use, erased ones included); scan is O(capacity).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

#include <mmry/detail/hash64.hpp>

namespace mmry {
inline namespace v1 {
namespace detail {

template <class Alloc, class Value>
class open_table {
    static_assert(std::is_nothrow_move_constructible_v<Value>,
                  "open_table moves values when it grows and must not fail half way");
    static_assert(alignof(Value) <= 8);

    using char_alloc = typename std::allocator_traits<Alloc>::template rebind_alloc<char>;
    using char_pointer = typename std::allocator_traits<char_alloc>::pointer;
    static_assert(sizeof(char_pointer) <= 16 && alignof(char_pointer) <= 8);

    static constexpr std::uint64_t empty = 0, erased = 1;
    static constexpr std::size_t inline_max = 20;

    struct slot {
        std::uint64_t hash;             // empty, erased, or the key's hash (never below 2)
        std::uint32_t size;             // of the key
        unsigned char key[inline_max];  // the key, or (long keys) a char_pointer at key + 4
        alignas(Value) unsigned char value[sizeof(Value)];
    };
    static_assert(offsetof(slot, key) % 8 == 4, "a long key's pointer sits 8-aligned at key + 4");

    using slot_alloc = typename std::allocator_traits<Alloc>::template rebind_alloc<slot>;
    using slot_pointer = typename std::allocator_traits<slot_alloc>::pointer;
    using page_alloc = typename std::allocator_traits<Alloc>::template rebind_alloc<slot_pointer>;
    using page_pointer = typename std::allocator_traits<page_alloc>::pointer;

    static constexpr unsigned page_shift = 14;
    static constexpr std::size_t page_slots = std::size_t{1} << page_shift;

    // A slot array of a given capacity: its directory and how many slots each page has.
    struct pages {
        page_pointer dir{};
        std::size_t count = 0, per = 0;
        slot& at(std::size_t i) const noexcept {
            return std::to_address(std::to_address(dir)[i >> page_shift])[i & (page_slots - 1)];
        }
    };

  public:
    explicit open_table(const Alloc& alloc) : alloc_(alloc) {}
    open_table(const open_table&) = delete;
    open_table& operator=(const open_table&) = delete;
    ~open_table() {
        for (std::size_t i = 0; i < capacity_; ++i)
            if (live(at(i))) release(at(i));
        free_pages(slots_, slots_.count);
    }

    std::size_t size() const noexcept { return size_; }
    /// Bytes the next growth of the slot array allocates (in pages of at most 1 MiB), while the
    /// current array is still there.
    std::size_t growth_bytes() const noexcept {
        const std::size_t cap = std::max<std::size_t>(capacity_ * 2, 16);
        return cap * sizeof(slot) + (cap / page_slots + 1) * sizeof(slot_pointer);
    }

    const Value* find(std::string_view key) const noexcept {
        const std::size_t i = slot_of(key);
        return i == capacity_ ? nullptr : value_of(at(i));
    }
    Value* find(std::string_view key) noexcept {
        return const_cast<Value*>(std::as_const(*this).find(key));
    }

    /// The value of a new key, constructed from args. The key must not be in the table.
    template <class... Args>
    Value& insert_new(std::string_view key, Args&&... args) {
        if ((size_ + erased_ + 1) * 5 > capacity_ * 4) rehash();
        const std::uint64_t h = hash_of(key);
        std::size_t i = h & (capacity_ - 1);
        while (at(i).hash > erased) i = (i + 1) & (capacity_ - 1);
        slot& s = at(i);
        char_pointer far{};
        if (key.size() > inline_max) {
            far = char_alloc(alloc_).allocate(key.size());
            std::memcpy(std::to_address(far), key.data(), key.size());
        }
        try {
            ::new (static_cast<void*>(s.value)) Value(std::forward<Args>(args)...);
        } catch (...) {
            if (far) char_alloc(alloc_).deallocate(far, key.size());
            throw;
        }
        if (s.hash == erased) --erased_;
        s.size = static_cast<std::uint32_t>(key.size());
        if (far)
            ::new (static_cast<void*>(s.key + 4)) char_pointer(far);
        else
            std::memcpy(s.key, key.data(), key.size());
        s.hash = h;
        ++size_;
        return *value_of(s);
    }

    /// Removes key; returns its value, or nullopt when it was absent. Never throws.
    std::optional<Value> erase(std::string_view key) noexcept {
        const std::size_t i = slot_of(key);
        if (i == capacity_) return std::nullopt;
        slot& s = at(i);
        std::optional<Value> old(std::move(*value_of(s)));
        release(s);  // key may have pointed into s: not read from here on
        // A slot followed by an empty one ends no probe sequence: it can be empty again.
        s.hash = at((i + 1) & (capacity_ - 1)).hash == empty ? empty : erased;
        if (s.hash == erased) ++erased_;
        --size_;
        return old;
    }

    /// Calls f(key, value) for every entry, in no order, while f returns true.
    template <class F>
    void scan(F&& f) const {
        for (std::size_t i = 0; i < capacity_; ++i)
            if (live(at(i)) && !f(key_of(at(i)), *value_of(at(i)))) return;
    }

  private:
    static std::uint64_t hash_of(std::string_view key) noexcept {
        const std::uint64_t h = hash64(key);
        return h > erased ? h : h + 2;
    }
    static bool live(const slot& s) noexcept { return s.hash > erased; }
    slot& at(std::size_t i) const noexcept { return slots_.at(i); }
    // The slot holding key, or capacity_ when it is absent.
    std::size_t slot_of(std::string_view key) const noexcept {
        if (capacity_ == 0) return 0;
        const std::uint64_t h = hash_of(key);
        for (std::size_t i = h & (capacity_ - 1);; i = (i + 1) & (capacity_ - 1)) {
            const slot& s = at(i);
            if (s.hash == empty) return capacity_;
            if (s.hash == h && s.size == key.size() && key_of(s) == key) return i;
        }
    }

    // A slot array of cap slots, every slot empty; nothing allocated when it throws.
    pages allocate_pages(std::size_t cap) {
        pages p;
        p.count = std::max<std::size_t>(1, cap >> page_shift);
        p.per = std::min(cap, page_slots);
        p.dir = page_alloc(alloc_).allocate(p.count);
        slot_pointer* d = std::to_address(p.dir);
        std::size_t made = 0;
        try {
            for (; made < p.count; ++made) {
                slot_pointer page = slot_alloc(alloc_).allocate(p.per);
                ::new (static_cast<void*>(d + made)) slot_pointer(page);
                slot* first = std::to_address(d[made]);
                for (std::size_t i = 0; i < p.per; ++i) first[i].hash = empty;
            }
        } catch (...) {
            free_pages(p, made);
            throw;
        }
        return p;
    }
    // Frees the first `made` pages of p and its directory.
    void free_pages(pages& p, std::size_t made) noexcept {
        if (!p.dir) return;
        slot_pointer* d = std::to_address(p.dir);
        for (std::size_t k = 0; k < made; ++k) {
            slot_alloc(alloc_).deallocate(d[k], p.per);
            d[k].~slot_pointer();
        }
        page_alloc(alloc_).deallocate(p.dir, p.count);
        p.dir = nullptr;
    }
    static const char_pointer& far_of(const slot& s) noexcept {
        return *std::launder(reinterpret_cast<const char_pointer*>(s.key + 4));
    }
    static std::string_view key_of(const slot& s) noexcept {
        if (s.size <= inline_max) return {reinterpret_cast<const char*>(s.key), s.size};
        return {std::to_address(far_of(s)), s.size};
    }
    static Value* value_of(const slot& s) noexcept {
        return std::launder(reinterpret_cast<Value*>(const_cast<unsigned char*>(s.value)));
    }

    // Destroys the value and frees a long key; the slot's hash is the caller's to set.
    void release(slot& s) noexcept {
        value_of(s)->~Value();
        if (s.size > inline_max) {
            auto& far = const_cast<char_pointer&>(far_of(s));
            char_alloc(alloc_).deallocate(far, s.size);
            far.~char_pointer();
        }
    }

    // A new array for the live entries at most half full: twice the size when they are what
    // filled it (4/5 to 2/5), the same size when erased slots are. Allocates before it moves
    // anything: a failed allocation changes nothing.
    void rehash() {
        std::size_t cap = std::max<std::size_t>(capacity_, 16);
        while ((size_ + 1) * 2 > cap) cap *= 2;
        pages fresh = allocate_pages(cap);
        for (std::size_t i = 0; i < capacity_; ++i) {
            slot& s = at(i);
            if (!live(s)) continue;
            std::size_t j = s.hash & (cap - 1);
            while (fresh.at(j).hash != empty) j = (j + 1) & (cap - 1);
            slot& d = fresh.at(j);
            d.hash = s.hash;
            d.size = s.size;
            if (s.size > inline_max) {
                auto& far = const_cast<char_pointer&>(far_of(s));
                ::new (static_cast<void*>(d.key + 4)) char_pointer(far);
                far.~char_pointer();
            } else {
                std::memcpy(d.key, s.key, s.size);
            }
            ::new (static_cast<void*>(d.value)) Value(std::move(*value_of(s)));
            value_of(s)->~Value();
        }
        free_pages(slots_, slots_.count);
        slots_ = fresh;
        capacity_ = cap;
        erased_ = 0;
    }

    char_alloc alloc_;
    pages slots_;
    std::size_t capacity_ = 0;  // 0 or a power of two
    std::size_t size_ = 0;
    std::size_t erased_ = 0;
};

}  // namespace detail
}  // namespace v1
}  // namespace mmry
