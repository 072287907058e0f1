#pragma once
// A store of 4 KiB pages with copy-on-write transactions (docs/DECISIONS.md §11; the layout is in
// page_format.hpp): the layer under mmry's indexes and records.
//
// - read(): a view of the current committed state, pinned in this object's reader slot. It never
//   waits for a writer, and what it reaches never changes while it lives.
// - write(): the one writer (a robust process-shared mutex). It allocates new pages, writes only
//   those, frees pages the new state no longer reaches, sets the meta words (the roots of the
//   structures above), and commit() makes all of it current at once. A write_txn destroyed
//   without commit() changes nothing.
// - A writer killed at any instruction costs only its own transaction: the next writer takes
//   the lock (counted in stats().recoveries) and goes on from the last committed meta. There is
//   nothing to repair, so there is no `needs_recovery` here.
// - commit(sync) on a mapped-file store writes the new pages to disk, then the meta, so that
//   after a power cut the store opens at that commit or a later one.
// - check() proves the page accounting: every page is reachable, free, or part of the store's own
//   control area and free lists, exactly once.
//
// Thread-safety: read() and the views from any number of threads. write() blocks while another
// thread or process writes; a write_txn belongs to the thread that began it (the mutex does).
// Throws mmry::error: errc::not_found / already_exists (open / create), errc::corrupt (anything
// read that fails its checks, naming it), errc::limit_exceeded, errc::io_error.

#include <sys/file.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <mmry/detail/describe.hpp>
#include <mmry/detail/fault.hpp>
#include <mmry/detail/hash64.hpp>
#include <mmry/detail/pages/durable_file.hpp>
#include <mmry/detail/pages/journal_file.hpp>
#include <mmry/detail/pages/meta_slots.hpp>
#include <mmry/detail/pages/page_allocator.hpp>
#include <mmry/detail/pages/page_check.hpp>
#include <mmry/detail/pages/page_format.hpp>
#include <mmry/detail/pages/page_segments.hpp>
#include <mmry/detail/pages/page_store_files.hpp>
#include <mmry/detail/pages/reader_pins.hpp>
#include <mmry/error.hpp>

namespace mmry {
inline namespace v1 {
namespace detail::pages {

struct create_t {};
struct open_t {};
inline constexpr create_t create{};
inline constexpr open_t open{};

struct page_stats {
    std::uint64_t txn = 0;
    std::uint64_t pages = 0;       // high-water mark: pages ever handed out, control area included
    std::uint64_t free_pages = 0;  // named by free lists
    std::uint64_t lists = 0;
    std::uint32_t segments = 0;
    std::uint32_t readers = 0;  // open store objects of live processes
    std::uint32_t reading = 0;  // of which reading now
    std::uint64_t recoveries = 0;
    std::uint64_t recovery_ns = 0;
    std::uint64_t staged_runs = 0;       // runs staged by live writers (write_txn::stage)
    std::uint64_t staged_reclaimed = 0;  // staged runs freed after their owner was gone
    std::uint64_t durable_txn = 0;       // the last transaction a power cut cannot lose
    std::uint64_t flushes = 0;           // checkpoints (durable file written)
    std::uint64_t checkpoint_txn = 0;
    std::uint64_t journal_bytes = 0;     // of entries since the last checkpoint
    std::uint64_t journal_syncs = 0;     // fdatasyncs of the journal (group commit: fewer
                                         // than the commits they covered)
    std::uint64_t journal_replayed = 0;  // entries replayed after power cuts
    std::uint64_t journal_dropped = 0;   // entries after a damaged one, not replayed
};

template <class Backend>
class page_store {
  public:
    class read_txn;
    class write_txn;

    page_store(create_t, std::string name, page_store_options o = {})
        : name_(std::move(name)), segments_(name_, check_options(o), o.mode) {
        if constexpr (Backend::named) Backend::prepare(name_, o.mode);
        std::byte* base = segments_.make(0, true);
        control_ = new (base) control_block();
        auto& h = control_->header;
        h.segment_pages = o.segment_bytes / page_size;
        h.max_pages = o.max_bytes == 0 ? max_segments * h.segment_pages : o.max_bytes / page_size;
        h.level = Backend::durable ? o.level : durability::none;
        h.interval_ms = static_cast<std::uint32_t>(std::max<std::int64_t>(1, o.interval.count()));
        h.store_id = random_id();
        h.journal_bytes = std::max<std::uint64_t>(o.journal_bytes, 16 * page_size);
        h.sum = h.compute_sum();
        if (o.header.size() > user_header_size)
            throw error(errc::invalid_argument, "a page store's user header holds at most " +
                                                    std::to_string(user_header_size) + " bytes");
        if (!o.header.empty())  // an empty span's data() may be null: no memcpy of it
            std::memcpy(base + user_header_offset, o.header.data(), o.header.size());
        control_->files_id = segments_.identity(0);
        control_->boot_id_hash = boot_id_hash();
        new_epoch();
        meta first;
        first.txn = 1;
        first.seal();
        metas().publish(first);
        segments_.sync(0, 0, first_data_page * page_size);
        if constexpr (Backend::durable) {
            if (flushing()) {
                durable_ = durable_file(Backend::durable_object(name_), true, o.mode);
                durable_.write(first);
                control_->durable_txn = 1;
                control_->checkpoint_txn = 1;
                if (journaling()) {
                    journal_ =
                        journal_file(Backend::journal_object(name_), true, h.store_id, o.mode);
                    control_->journal_end = journal_start;
                    control_->journal_prev = journal_start;
                    control_->journal_txn = 1;
                }
                Backend::sync_directory(name_);
            }
        }
        control_->ready.store(1, std::memory_order_release);
        pins_.emplace(*control_, slots(), quote(name_));
        start_flusher();
    }

    page_store(open_t, std::string name)
        : name_(std::move(name))
        , segments_(name_, read_header<Backend>(name_).segment_pages, mode_of<Backend>(name_)) {
        control_ = reinterpret_cast<control_block*>(segments_.map(0));
        if (control_->header.sum != control_->header.compute_sum() ||
            control_->header.segment_pages * page_size != segments_.segment_bytes())
            throw error(errc::corrupt, "store " + quote(name_) + ": its creation header changed");
        if constexpr (Backend::durable) {
            if (flushing()) durable_ = durable_file(Backend::durable_object(name_), false);
            if (journaling())
                journal_ =
                    journal_file(Backend::journal_object(name_), false, control_->header.store_id);
        }
        const std::uint64_t boot = boot_id_hash(), files = segments_.identity(0);
        if (control_->boot_id_hash.load() != boot || control_->files_id.load() != files) {
            // Openers of a store just rebooted or copied take turns (a lock on segment 0's
            // object): the first resets the lock words, the others find them reset.
            exclusive_open<Backend> guard(name_);
            if (control_->boot_id_hash.load() != boot)
                reboot();
            else if (const auto was = control_->files_id.load(); was != files && was != 0)
                copied();
            control_->files_id = files;
        }
        meta m;
        if (!metas().current(m))
            throw error(errc::corrupt, "store " + quote(name_) + ": neither meta page is valid");
        pins_.emplace(*control_, slots(), quote(name_));
        if (meta other; metas().txn_word(1 - m.txn % 2) != 0 && !metas().load(1 - m.txn % 2, other))
            write();  // which clears the slot that fails its checks (see write_txn)
        start_flusher();
    }

    page_store(const page_store&) = delete;
    page_store& operator=(const page_store&) = delete;

    const std::string& name() const noexcept { return name_; }
    std::uint64_t segment_pages() const noexcept { return control_->header.segment_pages; }
    std::uint64_t max_pages() const noexcept { return control_->header.max_pages; }

    /// The user header given at creation (user_header_size bytes, zero-padded). Writable only
    /// for tests that damage it.
    std::span<std::byte, user_header_size> header_bytes() const noexcept {
        return std::span<std::byte, user_header_size>(segments_.map(0) + user_header_offset,
                                                      user_header_size);
    }

    /// The next sequence number (never 0, never repeated in this store, also across reboots up
    /// to seq_reboot_gap numbers taken after the last flush). Lock-free.
    std::uint64_t next_seq() noexcept { return control_->seq.fetch_add(1) + 1; }
    /// Makes later numbers follow `seq` (an imported write's).
    void see_seq(std::uint64_t seq) noexcept {
        std::uint64_t seen = control_->seq.load();
        while (seen < seq && !control_->seq.compare_exchange_weak(seen, seq)) {
        }
    }
    std::uint64_t last_seq() const noexcept { return control_->seq.load(); }

    /// Word i of the current state, without pinning it (a value, not a page to read).
    std::uint64_t peek_word(std::size_t i) const {
        meta_head h;
        for (int tries = 0; tries < 1000; ++tries)
            if (metas().current(h)) return h.words.at(i);
        throw error(errc::corrupt,
                    "store " + quote(name_) + ": no valid meta page after 1000 tries");
    }

    read_txn read() { return read_txn(*this); }
    write_txn write() { return write_txn(*this); }

    /// Puts every commit made so far on disk (a mapped-file store with durability above
    /// `none`; elsewhere nothing to do). Concurrent callers share one flush.
    void flush() {
        meta m;
        if (flushing() && metas().current(m)) flush_to(m.txn);
    }

    page_stats stats() {
        auto w = write();
        page_stats st;
        st.txn = w.base_.txn;
        st.pages = w.base_.high_water;
        for (std::uint64_t i = 0; i < w.base_.lists; ++i) st.free_pages += w.base_.list[i].count;
        st.lists = w.base_.lists;
        st.segments =
            static_cast<std::uint32_t>((st.pages + segment_pages() - 1) / segment_pages());
        std::tie(st.readers, st.reading) = pins_->readers();
        st.recoveries = control_->recoveries.load();
        st.recovery_ns = control_->recovery_ns.load();
        st.staged_runs = w.next_.staged_count;
        st.staged_reclaimed = control_->staged_reclaimed.load();
        st.durable_txn = control_->durable_txn.load();
        st.flushes = control_->flushes.load();
        st.checkpoint_txn = control_->checkpoint_txn.load();
        st.journal_bytes = control_->journal_end.load() - journal_start;
        st.journal_syncs = control_->journal_syncs.load();
        st.journal_replayed = control_->journal_replayed.load();
        st.journal_dropped = control_->journal_dropped.load();
        if (!journaling()) st.journal_bytes = 0;
        return st;
    }

    /// The bytes of run [first, first + n) that this process staged (write_txn::stage), to be
    /// filled with no lock held before a later transaction adopts it. The run must lie in one
    /// segment (errc::corrupt otherwise); that it is staged is the caller's word.
    std::span<std::byte> staged_bytes(page_id first, std::uint64_t n) const {
        if (first < first_data_page || n == 0)
            throw error(errc::invalid_argument,
                        "store " + quote(name_) + ": no run at page " + std::to_string(first));
        return {page_bytes(first, n), n * page_size};
    }

    /// Proves the page accounting of the current state. `visit(view, mark)` walks the structures
    /// the meta words root and calls mark(first, n) for every run of pages they reach.
    template <class Visit>
    page_check check(Visit&& visit) {
        auto w = write();
        read_txn view(*this, w.base_);
        return check_pages(
            w.base_, [&](page_id p) { return page_bytes(p, 1); },
            [&](auto&& mark) { visit(view, mark); });
    }

    /// Repair's last step: frees the pages check(visit) finds lost (neither reachable, free nor
    /// the store's own) when that is all it finds wrong, in one commit; returns how many. A
    /// state that reaches pages twice, or free lists that fail their checks, are left alone:
    /// freeing a page that something still names would be worse than losing it.
    template <class Visit>
    std::uint64_t reclaim(Visit&& visit) {
        auto w = write();
        std::vector<page_id> lost;
        {
            read_txn view(*this, w.base_);
            auto c = check_pages(
                w.base_, [&](page_id p) { return page_bytes(p, 1); },
                [&](auto&& mark) { visit(view, mark); });
            if (!c.only_lost) return 0;
            lost = std::move(c.lost);
        }
        if (lost.empty()) return 0;
        for (std::size_t i = 0; i < lost.size();) {  // as runs: fewer free-list entries
            std::size_t n = 1;
            while (i + n < lost.size() && lost[i + n] == lost[i] + n &&
                   (lost[i] + n) % segment_pages() != 0)
                ++n;
            w.free(lost[i], n);
            i += n;
        }
        w.commit();
        return lost.size();
    }

    /// Compaction's last step: hands the bytes past the current state's pages back to the
    /// system (page_segments.hpp, give_back), after a commit brought the high-water mark down
    /// (write_txn::trim). Under the writer lock, so that no writer grows the store meanwhile,
    /// and, in a store with a durability level, once the current state is on disk (the state
    /// a power cut goes back to must not reach those pages either). Returns the bytes given
    /// back. Throws errc::io_error when the flush fails (then nothing is given back).
    std::uint64_t give_back() {
        auto w = write();
        if (flushing()) flush_to(w.base_.txn);
        const page_id h = w.base_.high_water;
        if (h > std::numeric_limits<std::uint32_t>::max()) return 0;
        // First the mark (a writer that grows reserves what lies past it), then the bytes: a
        // process killed in between leaves bytes reserved twice, never used unreserved.
        const auto was = control_->given_back.load();
        if (was == 0 || was > h) control_->given_back.store(static_cast<std::uint32_t>(h));
        fault_point("pages.giving_back");
        return segments_.give_back(h);
    }
    /// The bytes the store's segment objects hold (on disk or in memory).
    std::uint64_t held_bytes() const { return segments_.held_bytes(); }

    static bool exists(const std::string& name) {
        if constexpr (!Backend::named) {
            return false;
        } else {
            const int fd = Backend::open(Backend::object(name, 0), O_RDONLY, 0);
            if (fd < 0) return false;
            ::close(fd);
            return true;
        }
    }
    static bool remove(const std::string& name) { return segment_set<Backend>::remove(name); }

  private:
    friend class read_txn;
    friend class write_txn;

    bool flushing() const noexcept {
        return Backend::durable && control_->header.level != durability::none;
    }
    bool journaling() const noexcept {
        return Backend::durable && control_->header.level == durability::sync;
    }

    // The first open after a reboot: no process of the old boot holds a lock, and with a
    // durability level the store goes back to its last flushed state (commits after it may
    // have reached the disk in part).
    void reboot() {
        reset_locks();
        if (flushing()) {
            const auto d = durable_.latest();
            if (!d)
                throw error(errc::corrupt,
                            "store " + quote(name_) + ": its durable file holds no valid state");
            metas().clear(1 - d->txn % 2);
            metas().publish(*d);
            segments_.sync(0, 0, first_data_page * page_size);
            control_->durable_txn = d->txn;
            control_->checkpoint_txn = d->txn;
            if (journaling()) replay_journal(*d);
        }
        // Page 0 may be older on disk than the meta (a power cut): resume numbering past both.
        meta m;
        const std::uint64_t known =
            std::max(control_->seq.load(), metas().current(m) ? m.words[seq_word] : 0);
        control_->seq = known + seq_reboot_gap;
        control_->boot_id_hash = boot_id_hash();
    }

    void new_epoch() {
        const auto id = random_id();
        std::uint64_t e = 0;
        std::memcpy(&e, id.data(), sizeof e);
        control_->epoch = e;
    }

    // No process holds a lock word or pins a state (only while none can: a reboot, a copy).
    // A new epoch: runs staged before belong to nobody.
    void reset_locks() {
        new_epoch();
        control_->writer.init();
        control_->flusher.init();
        reader_pins::reset(slots());
        control_->slots_high_water = 0;
    }
    // The first open of a copy of the store's files, in the boot the copy was made: its last
    // commit is the one copied (no power cut came between), so only the lock words go, and
    // numbering jumps past what the original will use.
    void copied() {
        reset_locks();
        meta m;
        const std::uint64_t known =
            std::max(control_->seq.load(), metas().current(m) ? m.words[seq_word] : 0);
        std::uint64_t r = 0;
        const auto id = random_id();
        std::memcpy(&r, id.data(), sizeof r);
        control_->seq = known + seq_copy_gap + r % seq_copy_gap;
    }

    // Makes transaction t (and every one before) durable: the data pages of every segment,
    // then the meta of the newest commit into the durable file. A flusher killed midway leaves
    // the durable file at the state before.
    void flush_to(std::uint64_t t) {
        if (!flushing() || control_->checkpoint_txn.load() >= t) return;
        const robust_lock guard(control_->flusher);
        meta m;
        if (control_->checkpoint_txn.load() >= t) return;
        if (!metas().current(m))
            throw error(errc::corrupt, "store " + quote(name_) + ": neither meta page is valid");
        // Only the segments a commit wrote since the last flush (commits record that before
        // they publish their meta, so every commit up to m.txn is seen here).
        const std::uint64_t sp = segment_pages(), since = control_->checkpoint_txn.load();
        for (std::uint64_t k = 0; k * sp < m.high_water; ++k)
            if (std::atomic_ref<std::uint64_t>(segment_txns()[k]).load() > since)
                segments_.sync(static_cast<std::uint32_t>(k), 0, segments_.segment_bytes());
        fault_point("pages.flush_data");
        durable_.write(m);
        control_->checkpoint_txn.store(m.txn);
        if (control_->durable_txn.load() < m.txn) control_->durable_txn.store(m.txn);
        control_->flushes.fetch_add(1);
    }

    // durability::sync: makes the journal entries of commits up to t durable. Concurrent
    // callers (threads and processes) share one fdatasync: whoever gets the flusher lock syncs
    // every entry appended so far; the others wait on `synced` and all go at once when the sync
    // covered them (queued on the lock they would go one at a time, each a context switch,
    // while the next writers' entries wait for a sync). A waiter not woken in time (a flusher
    // that died or hangs) waits for the lock itself, as robust_mutex does.
    void sync_journal(std::uint64_t t) {
        auto& c = *control_;
        for (;;) {
            if (c.durable_txn.load() >= t) return;
            const std::uint32_t seen = c.synced.load();
            {
                const robust_lock guard(c.flusher, std::try_to_lock);
                if (guard.owns()) {
                    if (c.durable_txn.load() < t) sync_journal_locked();
                    continue;
                }
            }
            if (c.durable_txn.load() >= t) return;
            if (!futex_wait(c.synced, seen, std::chrono::milliseconds(100))) {
                const robust_lock guard(c.flusher);
                if (c.durable_txn.load() < t) sync_journal_locked();
                return;
            }
        }
    }

    // One journal sync, under the flusher lock. What it covers: the commit published before it
    // (its entry and every earlier one were appended before it was published), and the last
    // entry appended before it once that one is published too (writers that appended while
    // this one waited for the lock). Not that entry when the journal was rewound or started
    // again meanwhile: the entry of that number may then be a later writer's, written after
    // the sync began.
    void sync_journal_locked() {
        meta_head before, after;
        if (!metas().current(before))
            throw error(errc::corrupt, "store " + quote(name_) + ": neither meta page is valid");
        const std::uint64_t turns = control_->journal_turns.load();  // first: see the rewinds
        const std::uint64_t appended = control_->journal_txn.load();
        fault_point("pages.syncing");
        journal_.sync();
        control_->journal_syncs.fetch_add(1);
        std::uint64_t covered = before.txn;
        if (metas().current(after) && control_->journal_turns.load() == turns)
            covered = std::max(covered, std::min(appended, after.txn));
        if (control_->durable_txn.load() < covered) control_->durable_txn.store(covered);
        control_->synced.fetch_add(1);
        futex_wake_all(control_->synced);
    }

    // After a reboot: the commits of the journal past the durable file's state d, replayed
    // onto it, then a checkpoint of the result (so that the journal can start again).
    void replay_journal(const meta& d) {
        const std::uint64_t sp = segment_pages();
        meta last = d;
        const auto r = journal_.replay(
            d.txn, max_pages(), control_->header.journal_bytes / 4,
            [&](const meta& m, const std::vector<page_id>& ids, std::span<const std::byte> images) {
                for (std::size_t k = 0; k < ids.size(); ++k) {
                    segments_.make(static_cast<std::uint32_t>(ids[k] / sp), false);
                    std::memcpy(page_bytes(ids[k], 1), images.data() + k * page_size, page_size);
                    std::atomic_ref<std::uint64_t>(segment_txns()[ids[k] / sp]).store(m.txn);
                }
                last = m;
            });
        control_->journal_replayed.fetch_add(r.applied);
        control_->journal_dropped.fetch_add(r.dropped);
        if (r.applied > 0) {
            metas().clear(1 - last.txn % 2);
            metas().publish(last);
            flush_to(last.txn);
        }
        control_->journal_end = journal_start;
        control_->journal_prev = journal_start;
        control_->journal_txn = last.txn;
        control_->journal_turns.fetch_add(1);
    }

    // durability::periodic: a thread that flushes every interval while this object lives.
    void start_flusher() {
        if (!flushing() || control_->header.level != durability::periodic) return;
        flusher_ = std::jthread([this](std::stop_token stop) {
            std::mutex m;
            std::condition_variable_any cv;
            const std::chrono::milliseconds every(control_->header.interval_ms);
            std::unique_lock lock(m);
            while (!stop.stop_requested()) {
                cv.wait_for(lock, stop, every, [] { return false; });
                if (stop.stop_requested()) break;
                try {
                    flush();
                } catch (...) {
                    // Tried again at the next interval; a commit never waits for this thread.
                }
            }
        });
    }

    // Pages as the allocator sees them.
    struct page_access {
        page_store* s;
        std::byte* at(page_id p) const { return s->page_bytes(p, 1); }
        void make_segment(std::uint32_t k) const { s->make_segment(k); }
    };

    // Segment k made ready for pages at the high-water mark (the writer's): made when new, and
    // its bytes reserved again where compaction gave them back (give_back).
    void make_segment(std::uint32_t k) {
        segments_.make(k, false);
        const std::uint64_t sp = segment_pages(), back = control_->given_back.load();
        if (back == 0 || (k + 1) * sp <= back) return;
        for (std::uint64_t j = back / sp; j <= k; ++j)
            segments_.reserve_again(static_cast<std::uint32_t>(j), j == back / sp ? back % sp : 0);
        const std::uint64_t next = (std::uint64_t{k} + 1) * sp;
        control_->given_back.store(next > std::numeric_limits<std::uint32_t>::max()
                                       ? 0
                                       : static_cast<std::uint32_t>(next));
    }

    pin_slot* slots() const {
        return reinterpret_cast<pin_slot*>(segments_.map(0) + slot_pages_first * page_size);
    }
    // Per segment, the last transaction that wrote a page of it.
    std::uint64_t* segment_txns() const {
        return reinterpret_cast<std::uint64_t*>(segments_.map(0) + segment_table_first * page_size);
    }
    // The two meta slots, in segment 0.
    meta_slots metas() const noexcept {
        return meta_slots(segments_.map(0), control_->header.max_pages);
    }

    // The bytes of pages [p, p + n), which must lie in one segment.
    std::byte* page_bytes(page_id p, std::uint64_t n) const {
        const std::uint64_t sp = control_->header.segment_pages;
        const auto k = p / sp;
        if (k >= max_segments || (p + n - 1) / sp != k)
            throw error(errc::corrupt, "store " + quote(name_) + ": pages [" + std::to_string(p) +
                                           ", +" + std::to_string(n) +
                                           ") do not lie in one segment");
        return segments_.map(static_cast<std::uint32_t>(k)) + (p % sp) * page_size;
    }

    std::string name_;
    segment_set<Backend> segments_;
    control_block* control_ = nullptr;
    durable_file durable_;
    journal_file journal_;
    std::optional<reader_pins> pins_;
    std::jthread flusher_;  // last: stopped and joined before anything it uses goes
};

}  // namespace detail::pages
}  // namespace v1
}  // namespace mmry

#include <mmry/detail/pages/page_txn.hpp>
