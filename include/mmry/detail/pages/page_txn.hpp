#pragma once
// The transactions of a page store (included by page_store.hpp): read_txn, a pinned view of one
// committed state, and write_txn, the writer's copy-on-write transaction.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace mmry {
inline namespace v1 {
namespace detail::pages {

/// A committed state, as of the moment read() began. Pages it reaches do not change while it
/// lives (no writer hands them out again before it is gone). Cheap to make: a copy of the meta
/// and a pin. Not copyable; movable.
template <class Backend>
class page_store<Backend>::read_txn {
  public:
    read_txn(read_txn&& o) noexcept : s_(std::exchange(o.s_, nullptr)), m_(o.m_) {}
    read_txn& operator=(read_txn&&) = delete;
    ~read_txn() {
        if (s_) s_->pins_->unpin(m_.txn);
    }

    std::uint64_t txn() const noexcept { return m_.txn; }
    std::uint64_t word(std::size_t i) const { return m_.words.at(i); }
    page_id high_water() const noexcept { return m_.high_water; }

    /// The bytes of pages [p, p + n) of this state. Throws errc::corrupt when they are not data
    /// pages of it (a damaged page number), so no damaged reference is ever followed.
    std::span<const std::byte> page(page_id p, std::uint64_t n = 1) const {
        if (p < first_data_page || n == 0 || p + n > m_.high_water || p + n < p)
            throw error(errc::corrupt,
                        "store " + quote(s_->name_) + ": pages [" + std::to_string(p) + ", +" +
                            std::to_string(n) + ") are not data pages of state " +
                            std::to_string(m_.txn) + " (pages " + std::to_string(first_data_page) +
                            " to " + std::to_string(m_.high_water - 1) + ")");
        return {s_->page_bytes(p, n), n * page_size};
    }

  private:
    friend class page_store;

    // Pins the current state (the handshake of reader_pins.hpp).
    explicit read_txn(page_store& s) : s_(&s) {
        for (int tries = 0;; ++tries) {
            if (s.metas().current(m_)) {
                s.pins_->pin(m_.txn);
                const std::size_t slot = m_.txn % 2;
                if (s.metas().txn_word(slot) == m_.txn &&
                    s.metas().txn_word(1 - slot) != m_.txn + 1)
                    return;
                s.pins_->unpin(m_.txn);
            }
            if (tries == 1000)
                throw error(errc::corrupt,
                            "store " + quote(s.name_) + ": no valid meta page after 1000 tries");
            std::this_thread::yield();
        }
    }
    // Pins `m`, which the caller (holding the writer lock) knows to be current.
    read_txn(page_store& s, const meta& m) : s_(&s) {
        std::memcpy(static_cast<void*>(&m_), &m, sizeof m_);
        s.pins_->pin(m_.txn);
    }

    page_store* s_;
    meta_head m_;
};

/// The writer's transaction. Holds the writer lock from construction to destruction; commit()
/// makes its changes current at once, and destruction without commit() drops them.
template <class Backend>
class page_store<Backend>::write_txn {
  public:
    write_txn(const write_txn&) = delete;
    write_txn& operator=(const write_txn&) = delete;
    ~write_txn() {
        if (!unlocked_) s_->control_->writer.unlock();
    }

    /// The state this transaction started from, and the number its commit will have.
    std::uint64_t base() const noexcept { return base_.txn; }
    std::uint64_t txn() const noexcept { return base_.txn + 1; }

    std::uint64_t word(std::size_t i) const { return next_.words.at(i); }
    void set_word(std::size_t i, std::uint64_t v) { next_.words.at(i) = v; }

    /// n new contiguous pages (in one segment), zeroed (unless the caller writes every byte)
    /// and writable until commit.
    page_id allocate(std::uint64_t n = 1, bool zero = true) {
        check_open();
        return alloc_->allocate(n, zero);
    }
    /// The bytes of pages this transaction allocated. A committed page is never written: throws
    /// errc::invalid_argument.
    std::span<std::byte> write(page_id p, std::uint64_t n = 1) {
        check_open();
        if (!alloc_->fresh(p, n))
            throw error(errc::invalid_argument,
                        "store " + quote(s_->name_) + ": pages [" + std::to_string(p) + ", +" +
                            std::to_string(n) +
                            ") were not allocated by this transaction; committed pages are "
                            "never written");
        return {s_->page_bytes(p, n), n * page_size};
    }
    /// The bytes of pages of the base state or of this transaction.
    std::span<const std::byte> page(page_id p, std::uint64_t n = 1) const {
        if (p < first_data_page || n == 0 || p + n > alloc_->high_water() || p + n < p)
            throw error(errc::corrupt, "store " + quote(s_->name_) + ": pages [" +
                                           std::to_string(p) + ", +" + std::to_string(n) +
                                           ") are not data pages of the store");
        return {s_->page_bytes(p, n), n * page_size};
    }
    /// True when this transaction allocated pages [p, p + n) (so it may write them).
    bool fresh(page_id p, std::uint64_t n = 1) const { return alloc_->fresh(p, n); }
    /// Page p made writable: p itself when this transaction allocated it, else a new copy of it
    /// (and p freed). The copy-on-write step of every structure on pages.
    page_id cow(page_id p) {
        if (fresh(p)) return p;
        const auto from = page(p);
        check_open();
        const page_id copy = alloc_->allocate(1, false);  // every byte is copied over
        std::memcpy(s_->page_bytes(copy, 1), from.data(), page_size);
        alloc_->free(p, 1);
        return copy;
    }
    /// Frees pages the new state no longer reaches (or that this transaction allocated).
    void free(page_id p, std::uint64_t n = 1) {
        check_open();
        alloc_->free(p, n);
    }

    /// Compaction (page_allocator::confine): from here on this transaction takes pages only
    /// below `ceiling`, from every page free for it; an allocation that finds no room there
    /// throws errc::limit_exceeded.
    void confine(page_id ceiling) {
        check_open();
        alloc_->confine(ceiling);
    }
    /// The pages this transaction may take, in order (every free one once confine() ran).
    const std::set<page_id>& free_pool() const { return alloc_->pool(); }
    /// The high-water mark this transaction's commit will have.
    page_id high_water() const { return alloc_->high_water(); }
    /// Leaves the free pages at the end of the store out of it (page_allocator::trim); returns
    /// the high-water mark the commit will have.
    page_id trim() {
        check_open();
        return alloc_->trim();
    }

    /// A run of n pages (in one segment) that the caller fills after this transaction commits,
    /// with no lock held: committed as in use, reached by nothing but the staged entry this adds
    /// to the meta (owned by this process). It is not written by this transaction (nor journaled
    /// or flushed with it). A later transaction of this process adopts it (the run becomes its
    /// own: writable, written) or releases it; a writer frees it once this process is gone.
    /// Returns no_page when the meta's table of staged runs is full. Throws as allocate().
    page_id stage(std::uint64_t n) {
        check_open();
        if (next_.staged_count == max_staged) return no_page;
        const page_id first = alloc_->allocate(n, false);
        alloc_->forget(first);
        const auto me = process_id::self();
        const auto& c = *s_->control_;
        next_.staged[next_.staged_count++] = {me.pid, 0, me.start, c.epoch.load(), first, n};
        return first;
    }
    /// Makes run `first`, staged by this process in an earlier transaction, part of this one: its
    /// entry goes, and its pages are this transaction's (writable, journaled and flushed with its
    /// commit); returns its length in pages. Throws errc::invalid_argument when this process has
    /// no such run staged.
    std::uint64_t adopt(page_id first) {
        check_open();
        const std::uint64_t n = unstage(first);
        if (n == 0)
            throw error(errc::invalid_argument, "store " + quote(s_->name_) + ": no run at page " +
                                                    std::to_string(first) +
                                                    " is staged by this process");
        alloc_->adopt(first, n);
        return n;
    }
    /// Frees run `first` staged by this process (nothing when there is none: adopted by a
    /// transaction that committed, or never staged).
    void release(page_id first) {
        check_open();
        if (const std::uint64_t n = unstage(first)) alloc_->free(first, n);
    }

    /// Makes everything this transaction did current, and returns its number. In a store
    /// with durability::sync it returns once the commit is on disk: its journal entry is
    /// appended before the commit is published, and the writer lock is let go before the
    /// journal's fdatasync, so that other writers commit meanwhile and one sync covers them all
    /// (a commit that passes the journal's limit takes a checkpoint instead, under the lock).
    /// Throws (and changes nothing) when the free lists or the journal entry cannot be written;
    /// errc::io_error when the sync fails (the commit is then current, but not known to be on
    /// disk).
    /// With `wait` false, a store with durability::sync returns without waiting for the sync
    /// (the commit is on disk with the next one that waits: a staging transaction).
    std::uint64_t commit(bool wait = true) {
        check_open();
        std::vector<page_id> written;
        alloc_->finish(next_, written);
        for (const page_id p : written)
            std::atomic_ref<std::uint64_t>(s_->segment_txns()[p / s_->segment_pages()])
                .store(base_.txn + 1, std::memory_order_relaxed);
        fault_point("pages.lists_done");
        next_.txn = base_.txn + 1;
        next_.magic = meta_magic;
        next_.words[seq_word] = std::max(next_.words[seq_word], s_->control_->seq.load());
        next_.seal();
        auto& c = *s_->control_;
        const bool journaled = s_->journaling() && journal_fits(written.size());
        if (journaled) {
            // The entry goes where the last one ends; that end moves only after the entry is
            // written, and its commit number first (a writer that dies in between leaves an
            // entry the next one finds unpublished, and writes over: see the constructor).
            const std::uint64_t at = c.journal_end.load();
            const std::uint64_t end = s_->journal_.append(
                at, next_, written, [&](page_id p) { return s_->page_bytes(p, 1); });
            c.journal_prev.store(at);
            c.journal_txn.store(next_.txn);
            c.journal_end.store(end);
            fault_point("pages.journaled");
        }
        s_->metas().publish(next_);
        committed_ = true;
        if (reclaimed_ != 0) c.staged_reclaimed.fetch_add(reclaimed_);
        fault_point("pages.committed");
        if (s_->journaling()) {
            if (journaled && c.journal_end.load() - journal_start <= c.header.journal_bytes) {
                unlocked_ = true;
                c.writer.unlock();
                if (wait) s_->sync_journal(next_.txn);
            } else {
                // A checkpoint: the segments and the meta on disk, then the journal starts
                // again (under the writer lock: no entry is appended meanwhile).
                s_->flush_to(next_.txn);
                c.journal_turns.fetch_add(1);
                c.journal_prev.store(journal_start);
                c.journal_end.store(journal_start);
            }
        } else if (s_->flushing() && c.header.level == durability::sync) {
            unlocked_ = true;
            c.writer.unlock();
            if (wait) s_->flush_to(next_.txn);
        }
        return next_.txn;
    }

  private:
    friend class page_store;

    explicit write_txn(page_store& s) : s_(&s), access_{&s} {
        const auto start = std::chrono::steady_clock::now();
        const bool died = s.control_->writer.lock() == robust_mutex::acquired::owner_died;
        try {
            // A writer that died left its pages unreachable and the last commit whole: there is
            // nothing to undo, only the mutex to take back.
            if (died) s.control_->writer.consistent();
            if (!s.metas().current(base_))
                throw error(errc::corrupt,
                            "store " + quote(s.name_) + ": neither meta page is valid");
            // The other slot holds the commit before, or bytes that fail their checks (a meta
            // torn by a power cut or a killed writer, or damaged): those must not claim a later
            // commit to readers. One that claims a later commit (or this one) failed its checks
            // just now, or current() would have taken it; one that claims an earlier commit
            // claims nothing, and the next commit writes over it. So no second meta is read.
            const std::size_t other = 1 - base_.txn % 2;
            if (s.metas().txn_word(other) >= base_.txn) s.metas().clear(other);
            next_ = base_;
            // A journal entry whose writer died before publishing it is not a commit: the next
            // entry is written over it.
            if (s.journaling() && s.control_->journal_txn.load() > base_.txn) {
                s.control_->journal_turns.fetch_add(1);
                s.control_->journal_end.store(s.control_->journal_prev.load());
                s.control_->journal_txn.store(base_.txn);
            }
            // Pages freed after the last flush stay out of use: the state on disk reaches them.
            std::uint64_t oldest = s.pins_->oldest(base_.txn);
            if (s.flushing()) oldest = std::min(oldest, s.control_->durable_txn.load());
            alloc_.emplace(access_, base_, oldest, s.flushing(), s.segment_pages(), s.max_pages(),
                           quote(s.name_));
            reclaim_staged();
        } catch (...) {
            s.control_->writer.unlock();
            throw;
        }
        if (died) {
            s.control_->recoveries.fetch_add(1);
            s.control_->recovery_ns.fetch_add(
                static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                               std::chrono::steady_clock::now() - start)
                                               .count()));
        }
    }

    // Removes this process's staged entry of run `first` from the next state; returns the run's
    // length (0: none).
    std::uint64_t unstage(page_id first) {
        const auto me = process_id::self();
        for (std::uint64_t i = 0; i < next_.staged_count; ++i) {
            const auto& r = next_.staged[i];
            if (r.first != first || r.pid != me.pid || r.start != me.start) continue;
            const std::uint64_t n = r.pages;
            drop_staged(i);
            return n;
        }
        return 0;
    }
    void drop_staged(std::uint64_t i) {
        std::copy(next_.staged.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                  next_.staged.begin() + static_cast<std::ptrdiff_t>(next_.staged_count),
                  next_.staged.begin() + static_cast<std::ptrdiff_t>(i));
        next_.staged[--next_.staged_count] = {};
    }
    // Frees the staged runs whose owner is gone: a process that died, or one of an earlier epoch
    // (before a reboot, or of the files this store was copied from: its pid may name a live
    // process here). Runs of this process are known to be live without asking /proc. A run that
    // lies outside the store's pages is a damaged meta: errc::corrupt.
    void reclaim_staged() {
        if (next_.staged_count == 0) return;
        const auto& c = *s_->control_;
        const auto me = process_id::self();
        for (std::uint64_t i = 0; i < next_.staged_count;) {
            const auto& r = next_.staged[i];
            const bool mine = r.pid == me.pid && r.start == me.start;
            if (r.epoch == c.epoch.load() && (mine || process_id{r.pid, r.start}.alive())) {
                ++i;
                continue;
            }
            if (r.first < first_data_page || r.pages == 0 || r.pages > s_->segment_pages() ||
                r.first + r.pages > base_.high_water)
                throw error(errc::corrupt, "store " + quote(s_->name_) + ": staged run " +
                                               std::to_string(i) + " names pages [" +
                                               std::to_string(r.first) + ", +" +
                                               std::to_string(r.pages) + "), outside its pages");
            alloc_->free(r.first, r.pages);
            drop_staged(i);
            ++reclaimed_;
        }
    }

    // True when an entry of n pages belongs in the journal: one larger than a quarter of its
    // limit is written back by a checkpoint instead.
    bool journal_fits(std::uint64_t n) const {
        return journal_file::raw_bytes(n) <= s_->control_->header.journal_bytes / 4;
    }

    void check_open() const {
        if (committed_)
            throw error(errc::invalid_argument,
                        "store " + quote(s_->name_) + ": the transaction is committed already");
    }

    page_store* s_;
    page_access access_;
    meta base_;
    meta next_;
    std::optional<page_allocator<page_access>> alloc_;
    bool committed_ = false;
    bool unlocked_ = false;
    std::uint64_t reclaimed_ = 0;  // staged runs of gone owners this transaction frees
};

}  // namespace detail::pages
}  // namespace v1
}  // namespace mmry
