#pragma once
// arena::heap: the store's bytes live in this process's memory.
//
// The heap arena is made of segments like every other arena: anonymous private mappings (pages are
// committed only when written), each managed by Boost.Interprocess's best-fit allocator
// (rbtree_best_fit, without its internal mutex: the store serializes writers). Records are named by
// {segment, offset} handles. The first segment has the configured capacity; when no segment can
// hold a block, one more is added, up to max_size.
//
// Thread-safety: none of its own. allocate/deallocate need exclusive access; bytes() and stats()
// may run concurrently with each other but not with allocate/deallocate. The store provides this
// with its lock_type (a writer-first shared mutex).
// Throws: allocate throws errc::limit_exceeded beyond max_size and std::bad_alloc when the system
// refuses memory; bytes() throws errc::corrupt for a handle outside every segment.

#include <sys/mman.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/interprocess/creation_tags.hpp>
#include <boost/interprocess/indexes/iset_index.hpp>
#include <boost/interprocess/managed_external_buffer.hpp>
#include <boost/interprocess/mem_algo/rbtree_best_fit.hpp>
#include <boost/interprocess/sync/mutex_family.hpp>

#include <mmry/arena/stats.hpp>
#include <mmry/detail/arena_params.hpp>
#include <mmry/detail/block_pools.hpp>
#include <mmry/detail/local_lock.hpp>
#include <mmry/error.hpp>
#include <mmry/format/store_header.hpp>
#include <mmry/handle.hpp>

#include <mmry/concepts.hpp>

namespace mmry {
inline namespace v1 {
namespace arena {

class heap {
  public:
    static constexpr std::uint8_t id = 1;
    static constexpr std::string_view name = "heap";
    static constexpr bool shared = false;
    /// Blocks the arena allocates for itself (the store header's): stats().blocks counts them.
    static constexpr std::uint64_t own_blocks = 1;

    using lock_type = detail::local_lock;
    template <class T>
    using allocator = std::allocator<T>;

    /// A heap arena whose first segment has `p.capacity` bytes and whose segments together never
    /// exceed `p.max_size` bytes (0: no ceiling). Heap stores have no name to be found by.
    heap(boost::interprocess::create_only_t, const std::string& /*name*/, detail::arena_params p)
        : capacity_(round_up(p.capacity)), limit_(p.max_size) {
        if (p.capacity < min_segment)
            throw error(errc::invalid_argument, "capacity " + std::to_string(p.capacity) +
                                                    " is below the minimum of " +
                                                    std::to_string(min_segment) + " bytes");
        if (limit_ != 0 && limit_ < capacity_)
            throw error(errc::invalid_argument, "max_size " + std::to_string(p.max_size) +
                                                    " is below the capacity " +
                                                    std::to_string(capacity_));
        add_segment(capacity_);
        header_at_ = allocate(format::store_header_size);
    }

    /// The store header, in the first block of segment 0 as in every arena.
    std::span<std::byte, format::store_header_size> header_bytes() {
        return bytes(header_at_, format::store_header_size).first<format::store_header_size>();
    }
    void publish() noexcept {}
    void attach() noexcept {}
    detail::no_lock_block& locks() noexcept { return locks_; }
    allocator<char> root_allocator() const noexcept { return {}; }
    template <class T, class... Args>
    T* construct_root(const char*, Args&&... args) {
        auto owned = std::make_shared<T>(std::forward<Args>(args)...);
        T* p = owned.get();
        roots_.push_back(std::move(owned));
        return p;
    }

    heap(const heap&) = delete;
    heap& operator=(const heap&) = delete;

    /// A block of at least n bytes: from a size-class pool up to 16 KiB, else best fit.
    handle allocate(std::size_t n) {
        return detail::block_pools::allocate(
            pools_, n, [this](std::size_t m) { return raw_allocate(m); },
            [this](handle h) { return bytes(h, 8).data(); });
    }

    /// Returns a block of n bytes got from allocate(n). A handle outside every segment (a
    /// damaged index) is ignored rather than followed.
    void deallocate(handle h, std::size_t n) noexcept {
        if (!contains(h, n)) return;
        detail::block_pools::deallocate(
            pools_, h, n, [this](handle b) { raw_deallocate(b); },
            [this](handle b) { return segments_[b.segment()]->base + b.offset(); });
    }

    /// The n bytes at h, checked to lie inside one segment.
    std::span<std::byte> bytes(handle h, std::uint64_t n) const {
        if (h.segment() >= segments_.size() || h.offset() > segments_[h.segment()]->size ||
            n > segments_[h.segment()]->size - h.offset())
            throw error(errc::corrupt, "handle {segment " + std::to_string(h.segment()) +
                                           ", offset " + std::to_string(h.offset()) + "} with " +
                                           std::to_string(n) + " bytes lies outside the " +
                                           std::to_string(segments_.size()) + " segment(s)");
        return {segments_[h.segment()]->base + h.offset(), static_cast<std::size_t>(n)};
    }

    arena_stats stats() const {
        arena_stats s;
        s.segments = segments_.size();
        s.reserved_bytes = reserved_;
        for (auto& seg : segments_) s.free_bytes += seg->buffer.get_free_memory();
        detail::block_pools::describe(pools_, s);
        for (const auto& p : s.pools) s.blocks += p.used;
        s.blocks += s.large_blocks;
        s.limit_bytes = limit_;
        return s;
    }

  private:
    // A block of at least n bytes from the best-fit allocators.
    handle raw_allocate(std::size_t n) {
        for (std::size_t k = segments_.size(); k-- > 0;) {
            if (void* p = segments_[k]->buffer.allocate(n, std::nothrow)) {
                return {
                    static_cast<std::uint32_t>(k),
                    static_cast<std::uint64_t>(static_cast<std::byte*>(p) - segments_[k]->base)};
            }
        }
        const std::size_t want = round_up(std::max(capacity_, n + segment_overhead));
        const std::size_t need = round_up(n + segment_overhead);
        const std::size_t size = limit_ == 0 || reserved_ + want <= limit_ ? want : need;
        if (limit_ != 0 && reserved_ + size > limit_)
            throw error(errc::limit_exceeded,
                        "storing a block of " + std::to_string(n) +
                            " bytes needs a new segment of " + std::to_string(size) +
                            " bytes; the store has " + std::to_string(reserved_) + " bytes (" +
                            std::to_string(used_bytes()) + " in use) and a limit of " +
                            std::to_string(limit_));
        if (segments_.size() == handle::max_segments)
            throw error(errc::limit_exceeded, "the store has the maximum of " +
                                                  std::to_string(handle::max_segments) +
                                                  " segments");
        auto& seg = add_segment(size);
        void* p = seg.buffer.allocate(n, std::nothrow);
        if (!p) throw std::bad_alloc();
        return {static_cast<std::uint32_t>(segments_.size() - 1),
                static_cast<std::uint64_t>(static_cast<std::byte*>(p) - seg.base)};
    }

    void raw_deallocate(handle h) noexcept {
        segments_[h.segment()]->buffer.deallocate(segments_[h.segment()]->base + h.offset());
    }

    bool contains(handle h, std::uint64_t n) const noexcept {
        return h.segment() < segments_.size() && h.offset() <= segments_[h.segment()]->size &&
               n <= segments_[h.segment()]->size - h.offset();
    }

    static constexpr std::size_t page = 4096;
    static constexpr std::size_t min_segment = 64 * 1024;
    // The segment manager's own header and a block header; a new segment always fits its block.
    static constexpr std::size_t segment_overhead = 4096;

    using buffer_type = boost::interprocess::basic_managed_external_buffer<
        char,
        boost::interprocess::rbtree_best_fit<boost::interprocess::null_mutex_family,
                                             boost::interprocess::offset_ptr<void>>,
        boost::interprocess::iset_index>;

    static constexpr std::size_t huge_page_threshold = std::size_t{16} << 20;

    struct segment {
        std::byte* base;
        std::size_t size;
        buffer_type buffer;

        explicit segment(std::size_t n) : base(map(n)), size(n) {
            try {
                buffer = buffer_type(boost::interprocess::create_only, base, size);
            } catch (...) {
                ::munmap(base, size);
                throw;
            }
        }
        ~segment() { ::munmap(base, size); }
        segment(const segment&) = delete;
        segment& operator=(const segment&) = delete;

        static std::byte* map(std::size_t n) {
            void* p = ::mmap(nullptr, n, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (p == MAP_FAILED) throw std::bad_alloc();
            // Transparent huge pages where the system allows them (advisory; "madvise" is
            // Debian's default): a large store then takes one page fault per 2 MiB written instead
            // of one per 4 KiB, and its random reads miss the TLB far less often.
            if (n >= huge_page_threshold) ::madvise(p, n, MADV_HUGEPAGE);
            return static_cast<std::byte*>(p);
        }
    };

    static std::size_t round_up(std::size_t n) { return (n + page - 1) / page * page; }

    segment& add_segment(std::size_t size) {
        segments_.reserve(segments_.size() + 1);
        segments_.push_back(std::make_unique<segment>(size));
        reserved_ += size;
        return *segments_.back();
    }

    std::uint64_t used_bytes() const {
        std::uint64_t free = 0;
        for (auto& seg : segments_) free += seg->buffer.get_free_memory();
        return reserved_ - free;
    }

    std::size_t capacity_;
    std::size_t limit_;
    handle header_at_;
    detail::no_lock_block locks_;
    std::vector<std::shared_ptr<void>> roots_;  // the store's root objects, freed with the arena
    std::uint64_t reserved_ = 0;
    detail::pool_state pools_;
    std::vector<std::unique_ptr<segment>> segments_;
};

}  // namespace arena

static_assert(arena_policy<arena::heap>);
}  // namespace v1
}  // namespace mmry
