#pragma once
// The arena shared by processes: named segments (shared memory objects or files), each managed by
// Boost.Interprocess's best-fit allocator without its internal mutex (Boost 1.74's would deadlock
// every process if one died inside an allocation; the store's own robust lock serializes writers).
//
// Segment 0 holds the store header, the segment table and the store's root objects (index,
// counters, lock). Records go to any segment; segment 0 keeps a quarter of its size free for the
// index. When no segment has room, the writer creates segment n and then publishes n + 1 in the
// segment table; other processes map a segment when they first meet a handle into it.
//
// Thread-safety: allocate/deallocate need the store's write lock; bytes() and stats() may run in
// any number of threads at once (segments are mapped under a process-local mutex).
// Backend: a struct with `managed` (a Boost.Interprocess managed memory type), `segment_name(name,
// k)`, `create(name, size, mode)`, `open(name, patience)` (patience: how long to wait for a
// creator still at work), `remove(name)` and `exists(name)`.

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <thread>

#include <boost/interprocess/allocators/allocator.hpp>
#include <boost/interprocess/creation_tags.hpp>

#include <mmry/arena/stats.hpp>
#include <mmry/detail/arena_params.hpp>
#include <mmry/detail/block_pools.hpp>
#include <mmry/detail/describe.hpp>
#include <mmry/detail/hash64.hpp>
#include <mmry/detail/process_lock.hpp>
#include <mmry/error.hpp>
#include <mmry/format/store_header.hpp>
#include <mmry/handle.hpp>

namespace mmry {
inline namespace v1 {
namespace detail {

template <class Backend>
class segment_arena {
  public:
    using managed = typename Backend::managed;
    using segment_manager = typename managed::segment_manager;
    template <class T>
    using allocator = boost::interprocess::allocator<T, segment_manager>;
    using lock_type = process_lock;

    static constexpr std::uint32_t max_segments = 1024;
    /// Blocks the arena allocates for itself from its pools (none: its header and tables are
    /// named objects of segment 0).
    static constexpr std::uint64_t own_blocks = 0;

    /// In segment 0: published when creation is complete, so an opener never reads a store that
    /// is half made.
    struct header_block {
        std::atomic<std::uint32_t> ready{0};
        std::array<std::byte, format::store_header_size> bytes{};
    };
    struct segment_table {
        std::atomic<std::uint32_t> count{1};
        std::atomic<std::uint64_t> reserved{0};  // bytes of all segments
        arena_params params;                     // the store's, fixed at creation
        pool_state pools;                        // size-class free lists of every segment
        std::uint64_t boot_id_hash = 0;          // the boot the locks were made in
        lock_block locks;
        // Bytes of segment 0 records leave free, when more than its last quarter: what the
        // index's next growth allocates (set by the store under its write lock).
        std::atomic<std::uint64_t> root_reserve{0};
    };

    /// Creates segment 0 of a new store; throws errc::already_exists.
    segment_arena(boost::interprocess::create_only_t, std::string name, arena_params p)
        : name_(std::move(name)), params_(p) {
        check_params();
        auto seg = std::make_unique<segment>(
            Backend::create(Backend::segment_name(name_, 0), round_up(p.capacity), p.mode));
        header_ = seg->m.template construct<header_block>("mmry.header")();
        table_ = seg->m.template construct<segment_table>("mmry.segments")();
        table_->reserved = seg->m.get_size();
        table_->params = params_;
        table_->boot_id_hash = boot_id_hash();
        segments_[0].store(seg.release());
    }

    /// Opens segment 0 of an existing store, read-only in effect until the caller has checked the
    /// header and called attach(). The store's capacity, max_size and mode, fixed when it was
    /// created, apply; the opener's are not used. Throws errc::not_found.
    segment_arena(boost::interprocess::open_only_t, std::string name, arena_params)
        : name_(std::move(name)) {
        auto seg = std::make_unique<segment>(Backend::open(Backend::segment_name(name_, 0)));
        using namespace std::chrono_literals;
        const auto deadline = std::chrono::steady_clock::now() + 2s;
        // A creator constructs the header and the segment table just after segment 0 itself: an
        // opener that comes in between waits for them rather than calling the store corrupt.
        for (;;) {
            header_ = seg->m.template find<header_block>("mmry.header").first;
            table_ = seg->m.template find<segment_table>("mmry.segments").first;
            if (header_ && table_) break;
            if (std::chrono::steady_clock::now() > deadline)
                throw error(errc::corrupt,
                            "store " + quote(name_) + ": segment 0 holds no mmry store header");
            std::this_thread::sleep_for(1ms);
        }
        while (header_->ready.load() == 0) {
            if (std::chrono::steady_clock::now() > deadline)
                throw error(errc::needs_recovery,
                            "store " + quote(name_) +
                                " was never completely created (did its creator "
                                "die?): remove it and create it again");
            std::this_thread::sleep_for(1ms);
        }
        params_ = table_->params;
        segments_[0].store(seg.release());
    }

    ~segment_arena() {
        for (auto& s : segments_) delete s.load();
    }
    segment_arena(const segment_arena&) = delete;
    segment_arena& operator=(const segment_arena&) = delete;

    std::span<std::byte, format::store_header_size> header_bytes() { return header_->bytes; }
    /// Makes the store visible to openers: call once the header and root objects are written.
    void publish() { header_->ready.store(1, std::memory_order_release); }

    /// Readies this process's use of a checked store. The first opener after a reboot resets the
    /// locks: no process of an earlier boot can hold them, but their state says otherwise.
    void attach() {
        if (table_->boot_id_hash != boot_id_hash()) {
            table_->locks.reset();
            table_->boot_id_hash = boot_id_hash();
        }
    }

    lock_block& locks() { return table_->locks; }
    const std::string& store_name() const noexcept { return name_; }

    allocator<char> root_allocator() { return allocator<char>(seg0().get_segment_manager()); }
    /// Keeps at least `bytes` of segment 0 (and never less than a quarter of it) free of records,
    /// so that the root objects can grow there by that much.
    void reserve_root(std::uint64_t bytes) noexcept {
        table_->root_reserve.store(bytes, std::memory_order_relaxed);
    }
    template <class T, class... Args>
    T* construct_root(const char* id, Args&&... args) {
        return seg0().template construct<T>(id)(std::forward<Args>(args)...);
    }
    template <class T>
    T* find_root(const char* id) {
        return seg0().template find<T>(id).first;
    }

    /// A block of at least n bytes: from a size-class pool up to 16 KiB, else best fit. Throws
    /// errc::limit_exceeded past max_size.
    handle allocate(std::size_t n) {
        return block_pools::allocate(
            table_->pools, n, [this](std::size_t m) { return raw_allocate(m); },
            [this](handle h) { return bytes(h, 8).data(); });
    }

    /// Returns a block of n bytes got from allocate(n). A handle outside every segment (a
    /// damaged index) is ignored rather than followed.
    void deallocate(handle h, std::size_t n) noexcept {
        const std::uint32_t k = h.segment();
        segment* seg = k < max_segments ? segments_[k].load() : nullptr;
        if (!seg || h.offset() > seg->m.get_size() || n > seg->m.get_size() - h.offset()) return;
        block_pools::deallocate(
            table_->pools, h, n,
            [this](handle b) {
                segments_[b.segment()].load()->m.deallocate(base(b.segment()) + b.offset());
            },
            [this](handle b) { return base(b.segment()) + b.offset(); });
    }

    // A block from the segments' best-fit allocators, adding a segment when none has room.
    handle raw_allocate(std::size_t n) {
        map_all();
        const std::uint32_t count = segment_count();
        for (std::uint32_t k = count; k-- > 0;) {
            if (k == 0 && segment_free(0) < n + root_keep()) continue;
            if (void* p = segments_[k].load()->m.allocate(n, std::nothrow)) return to_handle(k, p);
        }
        const std::uint32_t k = add_segment(count, n);
        void* p = segments_[k].load()->m.allocate(n, std::nothrow);
        if (!p) throw std::bad_alloc();
        return to_handle(k, p);
    }

    /// Makes room for a block of n bytes before the writer's update begins: when no segment can
    /// hold what allocate(n) will take from the best-fit allocators, creates and publishes the
    /// next segment now. A writer killed here leaves at most an unpublished file (which the next
    /// creator replaces) or an empty published segment, never a half-changed structure, and
    /// making a segment (a file, its reservation, Boost's construction) is the longest step of a
    /// put that needs one. Throws errc::io_error when the segment cannot be made.
    void make_room(std::size_t n) {
        const std::size_t need = block_pools::tree_bytes(table_->pools, n);
        if (need == 0) return;
        map_all();
        const std::uint32_t count = segment_count();
        for (std::uint32_t k = count; k-- > 0;)
            if (segment_free(k) >= need + (k == 0 ? root_keep() : 0) + overhead) return;
        try {
            add_segment(count, need);
        } catch (const error& e) {
            // Near max_size, allocate() itself settles for less (a smaller slab) or refuses,
            // changing nothing either way.
            if (e.code_value() != errc::limit_exceeded) throw;
        }
    }

    /// The n bytes at h, checked to lie inside one segment; maps the segment on first use.
    std::span<std::byte> bytes(handle h, std::uint64_t n) const {
        const std::uint32_t k = h.segment();
        segment* s = k < max_segments ? segments_[k].load(std::memory_order_acquire) : nullptr;
        if (!s && k < max_segments && k < segment_count()) s = map(k);
        if (!s || h.offset() > s->m.get_size() || n > s->m.get_size() - h.offset())
            throw error(errc::corrupt, "store " + quote(name_) + ": handle {segment " +
                                           std::to_string(k) + ", offset " +
                                           std::to_string(h.offset()) + "} with " +
                                           std::to_string(n) + " bytes lies outside its " +
                                           std::to_string(table_->count.load()) + " segment(s)");
        return {static_cast<std::byte*>(s->m.get_address()) + h.offset(),
                static_cast<std::size_t>(n)};
    }

    arena_stats stats() const {
        map_all();
        arena_stats st;
        st.segments = segment_count();
        st.limit_bytes = params_.max_size;
        for (std::uint32_t k = 0; k < st.segments; ++k) {
            auto& m = segments_[k].load()->m;
            st.reserved_bytes += m.get_size();
            st.free_bytes += m.get_free_memory();
        }
        block_pools::describe(table_->pools, st);
        for (const auto& p : st.pools) st.blocks += p.used;
        st.blocks += st.large_blocks;
        return st;
    }

    static bool exists(std::string_view name) {
        return Backend::exists(Backend::segment_name(std::string(name), 0));
    }

    /// Removes every segment of the store. Processes that have it open keep their mappings.
    static bool remove(std::string_view name) {
        const std::string n(name);
        bool any = false;
        for (std::uint32_t k = 0; k < max_segments; ++k) {
            if (Backend::remove(Backend::segment_name(n, k)))
                any = true;
            else if (k > 0)
                break;
        }
        Backend::remove_store(n);
        return any;
    }

  private:
    struct segment {
        managed m;
        explicit segment(managed&& mm) : m(std::move(mm)) {}
    };

    static constexpr std::size_t page = 4096;
    static constexpr std::size_t overhead = 4096;
    static std::size_t round_up(std::size_t n) { return (n + page - 1) / page * page; }

    // hash64, not std::hash: processes built with another standard library share the store.
    static std::uint64_t boot_id_hash() {
        std::ifstream in("/proc/sys/kernel/random/boot_id");
        std::string id;
        std::getline(in, id);
        return hash64(id);
    }

    void check_params() const {
        if (params_.capacity < 64 * 1024)
            throw error(errc::invalid_argument, "capacity " + std::to_string(params_.capacity) +
                                                    " is below the minimum of 65536 bytes");
        if (params_.max_size != 0 && params_.max_size < round_up(params_.capacity))
            throw error(errc::invalid_argument, "max_size " + std::to_string(params_.max_size) +
                                                    " is below the capacity " +
                                                    std::to_string(params_.capacity));
    }

    // Free bytes of mapped segment k.
    std::size_t segment_free(std::uint32_t k) const {
        return segments_[k].load()->m.get_free_memory();
    }
    // What records leave free in segment 0: a quarter of it, or what the index's next growth
    // needs if more, for the index and root objects.
    std::size_t root_keep() const {
        return std::max<std::size_t>(segments_[0].load()->m.get_size() / 4,
                                     table_->root_reserve.load(std::memory_order_relaxed));
    }

    // Creates segment `count` with room for a block of n bytes and publishes it; returns count.
    std::uint32_t add_segment(std::uint32_t count, std::size_t n) {
        const std::uint64_t reserved = table_->reserved.load();
        const std::size_t want = round_up(std::max(params_.capacity, n + overhead));
        const std::size_t need = round_up(n + overhead);
        const std::size_t size =
            params_.max_size == 0 || reserved + want <= params_.max_size ? want : need;
        if (params_.max_size != 0 && reserved + size > params_.max_size)
            throw error(errc::limit_exceeded,
                        "store " + quote(name_) + ": storing a block of " + std::to_string(n) +
                            " bytes needs a new segment of " + std::to_string(size) +
                            " bytes; the store has " + std::to_string(reserved) + " bytes (" +
                            std::to_string(used_bytes()) + " in use) and a limit of " +
                            std::to_string(params_.max_size));
        if (count == max_segments)
            throw error(errc::limit_exceeded, "store " + quote(name_) + " has the maximum of " +
                                                  std::to_string(max_segments) + " segments");
        // A segment left by a writer that died before publishing it is replaced.
        Backend::remove(Backend::segment_name(name_, count));
        auto seg = std::make_unique<segment>(
            Backend::create(Backend::segment_name(name_, count), size, params_.mode));
        {
            std::lock_guard lock(map_mutex_);
            segments_[count].store(seg.release());
        }
        // Reserved before the count: a writer killed in between overstates the size, never
        // understates it against max_size.
        table_->reserved.fetch_add(size);
        table_->count.store(count + 1, std::memory_order_release);
        return count;
    }

    managed& seg0() { return segments_[0].load()->m; }
    std::byte* base(std::uint32_t k) const {
        return static_cast<std::byte*>(segments_[k].load()->m.get_address());
    }
    handle to_handle(std::uint32_t k, void* p) const {
        return {k, static_cast<std::uint64_t>(static_cast<std::byte*>(p) - base(k))};
    }

    // The segment count from segment 0, which is untrusted input like every byte of a segment.
    std::uint32_t segment_count() const {
        const std::uint32_t count = table_->count.load(std::memory_order_acquire);
        if (count == 0 || count > max_segments)
            throw error(errc::corrupt, "store " + quote(name_) +
                                           ": the segment table of segment 0 " + "names " +
                                           std::to_string(count) + " segments (1 to " +
                                           std::to_string(max_segments) + " possible)");
        return count;
    }

    // Maps segment k alone, so that a damaged segment fails only the handles into it. A published
    // segment was complete before it was published: no grace period for a creator at work.
    segment* map(std::uint32_t k) const {
        std::lock_guard lock(map_mutex_);
        if (!segments_[k].load())
            segments_[k].store(new segment(Backend::open(Backend::segment_name(name_, k),
                                                         std::chrono::milliseconds(0))),
                               std::memory_order_release);
        return segments_[k].load();
    }
    void map_all() const {
        const std::uint32_t count = segment_count();
        for (std::uint32_t k = 0; k < count; ++k)
            if (!segments_[k].load(std::memory_order_acquire)) map(k);
    }
    std::uint64_t used_bytes() const {
        const auto st = stats();
        return st.reserved_bytes - st.free_bytes;
    }

    std::string name_;
    arena_params params_;
    header_block* header_ = nullptr;
    segment_table* table_ = nullptr;
    mutable std::mutex map_mutex_;
    mutable std::array<std::atomic<segment*>, max_segments> segments_{};
};

}  // namespace detail
}  // namespace v1
}  // namespace mmry
