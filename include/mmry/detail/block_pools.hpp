#pragma once
// Size-class pools in front of a segment's best-fit allocator: blocks up to 16 KiB come from
// per-class free lists (O(1) allocate and free); larger blocks go to the best-fit tree.
//
// A pool takes a slab (16 KiB, at least 4 blocks) from the tree when its free list is empty,
// cuts it into blocks of its class, and keeps freed blocks on its list for reuse by the same class.
// Slabs are not given back to the tree: a pool's memory follows its class's high-water mark. The
// free lists are threaded through the free blocks themselves (the first 8 bytes of a free block
// hold the next block's handle), and their heads and counters live in a pool_state that the
// arena keeps where every process sees it (segment 0 for shared arenas).
//
// Thread-safety: none; callers hold the store's write lock.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include <mmry/arena/stats.hpp>
#include <mmry/detail/le.hpp>
#include <mmry/error.hpp>
#include <mmry/handle.hpp>

namespace mmry {
inline namespace v1 {
namespace detail {

/// Classes: 32..1024 bytes in steps of 32, then steps of a quarter up to 16 KiB.
struct size_classes_table {
    static constexpr std::size_t max_pooled = 16 * 1024;
    static constexpr std::size_t count = 32 + 4 * 4;  // 32 linear + 4 per doubling 1K..16K

    static constexpr std::size_t size_of(std::size_t c) {
        if (c < 32) return (c + 1) * 32;
        const std::size_t doubling = (c - 32) / 4, quarter = (c - 32) % 4;
        const std::size_t base = std::size_t{1024} << doubling;
        return base + (quarter + 1) * base / 4;
    }
    /// The smallest class that holds n bytes (n <= max_pooled).
    static constexpr std::size_t class_of(std::size_t n) {
        if (n <= 1024) return n == 0 ? 0 : (n - 1) / 32;
        std::size_t c = 32;
        while (size_of(c) < n) ++c;
        return c;
    }
};
static_assert(size_classes_table::size_of(size_classes_table::count - 1) ==
              size_classes_table::max_pooled);

/// The pools' shared state: free-list heads and counters per class.
struct pool_state {
    static constexpr std::size_t classes = size_classes_table::count;
    std::array<std::uint64_t, classes>
        free_head{};                            // raw handle + 1 of the first free block; 0: none
    std::array<std::uint64_t, classes> used{};  // blocks handed out
    std::array<std::uint64_t, classes> free{};  // blocks on the free list
    std::uint64_t large_blocks = 0;             // blocks served by the best-fit tree
    std::uint64_t large_bytes = 0;
};

/// Allocation through the pools. `raw(n)` allocates n bytes from the best-fit tree (throwing when
/// it cannot), `raw_free(h)` frees such a block, `at(h)` gives the address of a block.
class block_pools {
  public:
    using table = size_classes_table;

    template <class Raw, class At>
    static handle allocate(pool_state& s, std::size_t n, Raw&& raw, At&& at) {
        if (n > table::max_pooled) {
            const handle h = raw(n);
            ++s.large_blocks;
            s.large_bytes += n;
            return h;
        }
        const std::size_t c = table::class_of(n);
        if (s.free_head[c] == 0) refill(s, c, raw, at);
        const handle h = handle::from_raw(s.free_head[c] - 1);
        s.free_head[c] = load_le<std::uint64_t>(at(h));
        --s.free[c];
        ++s.used[c];
        return h;
    }

    /// Frees a block of n bytes (the size it was allocated with). Its bytes are zeroed first:
    /// an erased value must not stay readable in a segment file or a shared memory object.
    template <class RawFree, class At>
    static void deallocate(pool_state& s, handle h, std::size_t n, RawFree&& raw_free,
                           At&& at) noexcept {
        std::memset(at(h), 0, n);
        if (n > table::max_pooled) {
            raw_free(h);
            --s.large_blocks;
            s.large_bytes -= n;
            return;
        }
        const std::size_t c = table::class_of(n);
        store_le<std::uint64_t>(at(h), s.free_head[c]);
        s.free_head[c] = h.raw() + 1;
        ++s.free[c];
        --s.used[c];
    }

    /// What allocate(s, n) would take from the best-fit tree: n for a large block, a slab when
    /// n's class has no free block, else nothing.
    static std::size_t tree_bytes(const pool_state& s, std::size_t n) noexcept {
        if (n > table::max_pooled) return n;
        const std::size_t c = table::class_of(n);
        return s.free_head[c] != 0 ? 0 : slab_blocks(c) * table::size_of(c);
    }

    static void describe(const pool_state& s, arena_stats& out) {
        for (std::size_t c = 0; c < pool_state::classes; ++c) {
            if (s.used[c] + s.free[c] == 0) continue;
            out.pools.push_back({table::size_of(c), s.used[c], s.free[c]});
            out.pooled_free_bytes += s.free[c] * table::size_of(c);
            out.free_bytes += s.free[c] * table::size_of(c);
        }
        out.large_blocks = s.large_blocks;
        out.large_bytes = s.large_bytes;
    }

  private:
    static std::size_t slab_blocks(std::size_t c) noexcept {
        return std::max<std::size_t>(4, (16 * 1024) / table::size_of(c));
    }

    template <class Raw, class At>
    static void refill(pool_state& s, std::size_t c, Raw& raw, At& at) {
        const std::size_t size = table::size_of(c);
        // A slab of 16 KiB (at least 4 blocks); near the store's limit, as little as one block.
        std::size_t blocks = slab_blocks(c);
        handle slab;
        for (;;) {
            try {
                slab = raw(blocks * size);
                break;
            } catch (const error& e) {
                if (e.code_value() != errc::limit_exceeded || blocks == 1) throw;
                blocks /= 2;
            }
        }
        // Thread the slab's blocks onto the free list, first block first.
        for (std::size_t i = blocks; i-- > 0;) {
            const handle h(slab.segment(), slab.offset() + i * size);
            store_le<std::uint64_t>(at(h), s.free_head[c]);
            s.free_head[c] = h.raw() + 1;
        }
        s.free[c] += blocks;
    }
};

}  // namespace detail
}  // namespace v1
}  // namespace mmry
