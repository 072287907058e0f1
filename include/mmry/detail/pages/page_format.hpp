#pragma once
// The bytes of a page store (docs/DECISIONS.md §11): fixed-size segments of 4 KiB pages, numbered
// across segments (page p lives in segment p / segment_pages). Segment 0 begins with the control
// area:
//
//   page 0      control block: the creation header (checksummed, never changed) and lock words
//   pages 1-4   reader slots: which state (transaction number) each open store object reads
//   pages 5, 6  segment table: per segment, the last transaction that wrote a page of it (a
//               flush writes back only the segments written since the last one)
//   pages 7, 8  the two meta pages; the valid one with the higher transaction number is current
//   pages 9..   data pages, handed out by the page allocator
//
// A mapped-file store with durability above `none` also has a durable file (durable.mmry): two
// 4 KiB slots, each a copy of the meta of a transaction whose pages were on disk before the copy
// was written. After a reboot the store opens at the newer valid slot; pages such a state reaches
// are not handed out again until a later flush (see page_allocator.hpp).
//
// A commit never writes a page that a committed state reaches: it writes new pages, then the meta
// page that is not current, its transaction number last. That store is the commit point, so a
// writer killed anywhere leaves the previous meta current and every page it reaches intact.
//
// Free pages are kept in free lists: chains of list pages, each naming up to 508 page numbers.
// A list carries the transaction that freed its pages; readers of older states may still reach
// them, so they are handed out only once no reader pins a state older than that. List pages are
// read by writers only.
//
// Everything here is read from shared memory or a file, and is checked before it is trusted.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <mmry/detail/hash64.hpp>
#include <mmry/detail/process_id.hpp>
#include <mmry/detail/robust_mutex.hpp>
#include <mmry/error.hpp>

namespace mmry {
inline namespace v1 {
namespace detail::pages {

inline constexpr std::size_t page_size = 4096;
/// A page number across segments. 0 (the control page) never names a data page, so it means
/// "none" wherever a page number is stored.
using page_id = std::uint64_t;
inline constexpr page_id no_page = 0;

inline constexpr page_id slot_pages_first = 1;
inline constexpr std::uint32_t slot_count = 256;
inline constexpr page_id segment_table_first = 5;
inline constexpr std::array<page_id, 2> meta_page = {7, 8};
inline constexpr page_id first_data_page = 9;
inline constexpr std::uint32_t max_segments = 1024;
inline constexpr std::uint32_t format_version = 3;
inline constexpr std::uint64_t control_magic = 0x45474150'59524d4dull;  // "MMRYPAGE"
inline constexpr std::uint64_t meta_magic = 0x4154454d'59524d4dull;     // "MMRYMETA"
inline constexpr std::uint64_t list_magic = 0x45455246'59524d4dull;     // "MMRYFREE"

inline std::uint64_t checksum(const void* p, std::size_t n) noexcept {
    return hash64(std::string_view(static_cast<const char*>(p), n));
}

/// What a commit promises across a power cut (every level survives the death of any process).
/// Only a mapped-file store has a disk to promise anything on; on the others every level is
/// `none`.
enum class durability : std::uint32_t {
    none = 0,      // nothing is flushed; after a power cut the store may be lost
    periodic = 1,  // flushed every interval: a power cut loses at most the last interval
    sync = 2,      // a commit returns once it is on disk (group commit: one flush for all waiting)
};

/// Fixed at creation; every opener checks it before using any other byte of the store.
struct creation_header {
    std::uint64_t magic = control_magic;
    std::uint32_t format = format_version;
    std::uint32_t page_bytes = page_size;
    std::uint64_t segment_pages = 0;
    std::uint64_t max_pages = 0;  // pages the store may grow to (its limit)
    durability level = durability::none;
    std::uint32_t interval_ms = 0;  // of a periodic flush
    std::array<std::uint8_t, 16> store_id{};
    std::uint64_t journal_bytes = 0;  // of durability::sync: a checkpoint past this many
    std::uint64_t sum = 0;            // checksum of the bytes above

    std::uint64_t compute_sum() const noexcept {
        return checksum(this, offsetof(creation_header, sum));
    }
};

/// Page 0. Only `header` is persistent state; the rest are lock words, reset after a reboot and
/// in a copy of the store's files.
struct control_block {
    creation_header header;
    std::atomic<std::uint32_t> ready{0};  // 1 once creation is complete
    std::atomic<std::uint32_t> slots_high_water{0};
    std::atomic<std::uint64_t> boot_id_hash{0};
    /// Writers that took the lock from a dead writer (and so recovered the store), and the
    /// nanoseconds that took in all.
    std::atomic<std::uint64_t> recoveries{0};
    std::atomic<std::uint64_t> recovery_ns{0};
    /// Staged runs freed because their owner was gone (write_txn::stage).
    std::atomic<std::uint64_t> staged_reclaimed{0};
    /// The last transaction a power cut cannot lose (durability above none: in the durable file,
    /// or in the journal and synced), and the flushes made so far.
    std::atomic<std::uint64_t> durable_txn{0};
    std::atomic<std::uint64_t> flushes{0};
    /// The last transaction in the durable file (a checkpoint: its segments are on disk).
    std::atomic<std::uint64_t> checkpoint_txn{0};
    /// The journal (durability::sync): the byte past its last entry, the byte where that entry
    /// begins, and its commit (which may not be published yet: a writer died in between; the
    /// next one writes over it). Written by the writer only.
    std::atomic<std::uint64_t> journal_end{0};
    std::atomic<std::uint64_t> journal_prev{0};
    std::atomic<std::uint64_t> journal_txn{0};
    /// Journal entries replayed after power cuts, and those dropped (past a damaged one).
    std::atomic<std::uint64_t> journal_replayed{0};
    std::atomic<std::uint64_t> journal_dropped{0};
    /// Times the journal was rewound (over an unpublished entry) or started again.
    std::atomic<std::uint64_t> journal_turns{0};
    robust_mutex writer;
    robust_mutex flusher;  // one flush at a time; the others wait and find theirs done
    /// The last sequence number handed out (the user's: a store numbers its writes with it).
    /// Taken without the writer lock; every commit copies it into meta word seq_word, so that
    /// after a reboot numbering resumes past every number the store can have used.
    std::atomic<std::uint64_t> seq{0};
    /// Which copy of the store's files set the lock words (segment 0's device and inode; 0 in a
    /// store made before it was kept). In a copy (cp of a live store, a restored snapshot) the
    /// lock words and reader pins name processes that work on the original and never release
    /// the copy's.
    std::atomic<std::uint64_t> files_id{0};
    /// Drawn at random when the store is made, at the first open after a reboot and in a copy
    /// of its files: no process of an earlier epoch works on these lock words (staged runs).
    std::atomic<std::uint64_t> epoch{0};
    /// Bumped after every journal sync (durability::sync), which then wakes every process
    /// waiting on it (futex_wake_all): the commits it covered return at once. Its value means
    /// nothing (0 in a store made before it was kept).
    std::atomic<std::uint32_t> synced{0};
    /// The first page whose bytes compaction gave back to the system (page_store::give_back; 0:
    /// none): a writer that grows the store past it reserves them again before any is used.
    /// (0 in every store made before it was kept: the field was unused.)
    std::atomic<std::uint32_t> given_back{0};
    /// Journal syncs made so far (each covers every commit appended before it).
    std::atomic<std::uint64_t> journal_syncs{0};
};
/// Page 0 from this offset holds the user's header (the store's composition), written before
/// the store is ready and never changed.
inline constexpr std::size_t user_header_offset = 3072;
inline constexpr std::size_t user_header_size = page_size - user_header_offset;
static_assert(sizeof(control_block) <= user_header_offset);
/// The meta word that keeps the sequence high-water (see control_block::seq).
inline constexpr std::size_t seq_word = 15;
/// How far numbering jumps after a reboot: past numbers that writers took (for records that
/// never became durable) after the last flush that recorded the high-water.
inline constexpr std::uint64_t seq_reboot_gap = std::uint64_t{1} << 32;
/// How far numbering jumps in a copy of a store's files, at least (and at random up to twice
/// that): the original goes on numbering from where the copy was taken, and the two must not
/// seal frames under the same numbers with the same key.
inline constexpr std::uint64_t seq_copy_gap = std::uint64_t{1} << 44;

/// One open store object's entry in the reader table: the oldest state any of its threads reads
/// (0: none). 64 bytes, so that two processes' words seldom share a cache line.
struct pin_slot {
    std::atomic<std::uint32_t> pid{0};
    std::atomic<std::uint32_t> unused{0};
    std::atomic<std::uint64_t> start{0};
    std::atomic<std::uint64_t> pin{0};
    std::byte padding[40]{};
};
static_assert(sizeof(pin_slot) == 64);
static_assert(slot_count * sizeof(pin_slot) ==
              (segment_table_first - slot_pages_first) * page_size);

/// A free list as the meta page names it: a chain of list pages starting at `head`, naming
/// `count` free pages that the transaction `freed_by` freed (0: free for every reader). Pages
/// are handed out from the head page one at a time (`skip` of its ids are gone), so a commit
/// that takes a few pages rewrites no list page.
struct list_ref {
    std::uint64_t freed_by = 0;
    page_id head = no_page;
    std::uint64_t count = 0;  // free pages the list still names
    std::uint64_t skip = 0;   // ids of the head page handed out already
};

inline constexpr std::size_t user_words = 16;
inline constexpr std::size_t max_lists = 48;

/// A run of pages a writer took for a record it copies in without the writer lock
/// (write_txn::stage): committed as in use, reached by nothing but this entry, until a later
/// transaction of its owner adopts it into the state or releases it. An entry whose owner is gone
/// (a process that died, or one of an earlier epoch: before a reboot, or of the files this store
/// was copied from) is freed by the next writer.
struct staged_run {
    std::uint32_t pid = 0;
    std::uint32_t unused = 0;
    std::uint64_t start = 0;  // the owner's start time (process_id)
    std::uint64_t epoch = 0;  // control_block::epoch when it was staged
    page_id first = no_page;
    std::uint64_t pages = 0;
};
inline constexpr std::size_t max_staged = 16;

/// A meta page's contents. Written word by word with atomic stores and read the same way, so
/// that a reader copying it while a writer rewrites it gets a copy it can check (the transaction
/// number before and after, and the checksum), never a data race.
struct meta {
    // The head: all a reader needs, with its own checksum so that a reader copies no more.
    std::uint64_t txn = 0;  // 0 while being written; stored last
    std::uint64_t magic = meta_magic;
    page_id high_water = first_data_page;  // the first page never handed out
    std::array<std::uint64_t, user_words> words{};
    std::uint64_t head_sum = 0;
    // The free lists, for writers.
    std::uint64_t lists = 0;
    std::array<list_ref, max_lists> list{};
    // The runs staged for records being copied in.
    std::uint64_t staged_count = 0;
    std::array<staged_run, max_staged> staged{};
    std::uint64_t sum = 0;

    /// The counts are within their arrays (checked, with the checksums, before any use).
    bool bounded() const noexcept { return lists <= max_lists && staged_count <= max_staged; }

    std::uint64_t compute_head_sum() const noexcept {
        return checksum(this, offsetof(meta, head_sum));
    }
    std::uint64_t compute_sum() const noexcept { return checksum(this, offsetof(meta, sum)); }
    void seal() noexcept {
        head_sum = compute_head_sum();
        sum = compute_sum();
    }
};
static_assert(sizeof(meta) <= page_size && sizeof(meta) % 8 == 0);
inline constexpr std::size_t meta_words = sizeof(meta) / 8;
inline constexpr std::size_t meta_head_words = offsetof(meta, head_sum) / 8 + 1;

/// The head of a meta as a reader keeps it (the first meta_head_words words of a meta).
struct meta_head {
    std::uint64_t txn = 0;
    std::uint64_t magic = 0;
    page_id high_water = 0;
    std::array<std::uint64_t, user_words> words{};
    std::uint64_t head_sum = 0;
};
static_assert(sizeof(meta_head) == meta_head_words * 8);

/// A list page: up to 508 page numbers, and the next page of its list.
struct list_page {
    static constexpr std::size_t capacity = (page_size - 32) / 8;
    std::uint64_t magic = list_magic;
    page_id next = no_page;
    std::uint64_t count = 0;
    std::uint64_t sum = 0;  // over magic, next, count and the `count` ids
    std::array<page_id, capacity> ids{};

    std::uint64_t compute_sum() const noexcept {
        std::uint64_t h = checksum(this, offsetof(list_page, sum));
        const std::size_t n = count <= capacity ? count : capacity;
        return h ^ checksum(ids.data(), n * sizeof(page_id));
    }
};
static_assert(sizeof(list_page) == page_size);

/// Throws errc::invalid_argument when an index entry of key and value passes `limit` bytes.
inline void check_entry(const std::string& where, std::size_t key, std::size_t value,
                        std::size_t limit) {
    if (key + value > limit)
        throw error(errc::invalid_argument,
                    where + ": an entry of " + std::to_string(key) + " + " + std::to_string(value) +
                        " bytes passes the index's limit of " + std::to_string(limit));
}

inline std::uint64_t pages_for(std::uint64_t ids) noexcept {
    return (ids + list_page::capacity - 1) / list_page::capacity;
}

}  // namespace detail::pages
}  // namespace v1
}  // namespace mmry
