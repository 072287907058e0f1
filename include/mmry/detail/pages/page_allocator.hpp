#pragma once
// The page allocator of one write transaction. It starts from the committed state's free lists
// and high-water mark, and hands out pages that no committed state reaches and no reader can see:
//
// - from its pool: pages of usable lists (freed by a transaction no pinned reader predates),
//   taken a list page at a time, and pages this transaction freed after allocating them;
// - else from the high-water mark, making the next segment when it is reached.
//
// Pages the transaction frees that a committed state reaches go to a new list marked with this
// transaction. At commit, finish() writes the free state the new meta names: that list, and one
// list of what the pool has left plus the list pages consumed (read by writers only, so free for
// anyone once the commit lands). Nothing the committed state reaches, its list pages included,
// is written before the commit point: a writer killed anywhere leaves the old state whole.
//
// Everything read from list pages is checked (magic, checksum, counts, page numbers in range, no
// page free twice) and a failure is errc::corrupt naming the page.
//
// Thread-safety: one writer thread, under the store's writer lock.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <mmry/detail/fault.hpp>
#include <mmry/detail/pages/page_format.hpp>
#include <mmry/error.hpp>

namespace mmry {
inline namespace v1 {
namespace detail::pages {

/// Pages: `std::byte* at(page_id)` (the page's bytes; maps its segment) and
/// `void make_segment(std::uint32_t k)` (makes segment k ready for pages).
template <class Pages>
class page_allocator {
  public:
    /// `oldest`: lists freed by transactions up to it are usable (no reader, and with a durable
    /// store no state on disk, reaches their pages). `durable`: the list pages this transaction
    /// consumes stay out of use until a flush passes it (the state on disk still reads them).
    page_allocator(Pages& pages, const meta& committed, std::uint64_t oldest, bool durable,
                   std::uint64_t segment_pages, std::uint64_t max_pages, std::string store)
        : pages_(pages)
        , durable_(durable)
        , committed_high_(committed.high_water)
        , high_water_(committed.high_water)
        , txn_(committed.txn + 1)
        , oldest_(oldest)
        , segment_pages_(segment_pages)
        , max_pages_(max_pages)
        , store_(std::move(store))
        , lists_(committed.list.begin(), committed.list.begin() + committed.lists) {
        // Pages freed by a transaction hold what it replaced or erased; once no reader (and no
        // state on disk) reaches them, they are zeroed, so that erased values do not stay in
        // the segments, and their list marked as scrubbed (freed_by 0). Idempotent: a writer
        // killed midway leaves the list as it was, and the next one zeroes it again.
        for (auto& l : lists_)
            if (l.freed_by != 0 && usable(l)) {
                scrub(l);
                l.freed_by = 0;
            }
    }

    std::uint64_t high_water() const noexcept { return high_water_; }

    /// n contiguous pages in one segment, zeroed unless `zero` is false (a caller that writes
    /// every byte at once). Throws errc::limit_exceeded past the store's
    /// size limit, errc::invalid_argument for a run longer than a segment.
    page_id allocate(std::uint64_t n, bool zero = true) {
        if (n == 0 || n > segment_pages_)
            throw error(errc::invalid_argument, "store " + store_ + ": a run of " +
                                                    std::to_string(n) +
                                                    " pages does not fit in a segment of " +
                                                    std::to_string(segment_pages_) + " pages");
        page_id first = take_run(n);
        if (first == no_page && n == 1) first = take_from_lists();
        for (int refills = 0; first == no_page && n > 1 && refills < 4; ++refills) {
            if (!refill()) break;
            first = take_run(n);
        }
        if (first == no_page) first = from_high_water(n);
        fresh_[first] = n;
        if (zero) std::memset(pages_.at(first), 0, n * page_size);
        return first;
    }

    /// Compaction: every usable list joins the pool (which then holds every page this
    /// transaction may take), and from here on pages come only from the pool below `ceiling`:
    /// an allocation that finds no room there throws errc::limit_exceeded (the caller drops the
    /// transaction, and the store stays as it was). The lists' own pages at commit are exempt.
    void confine(page_id ceiling) {
        absorb_usable();
        ceiling_ = ceiling;
    }
    /// The pages of the pool (after confine: every page this transaction may take), in order.
    const std::set<page_id>& pool() const noexcept { return pool_; }

    /// Brings the high-water mark down past the free pages at the end of the store (those in
    /// usable lists, and the list pages that name them), so that the commit leaves them out of
    /// the store; returns the new mark. Pages a reader may still reach (lists it holds back),
    /// staged runs and every page in use stay below it.
    page_id trim() {
        absorb_usable();
        const std::set<page_id> consumed(released_.begin(), released_.end());
        page_id h = high_water_;
        while (h > first_data_page && (pool_.count(h - 1) || consumed.count(h - 1))) --h;
        pool_.erase(pool_.lower_bound(h), pool_.end());
        std::erase_if(released_, [h](page_id p) { return p >= h; });
        high_water_ = h;
        return h;
    }

    /// Run `first`, allocated by this transaction, is staged: in use from its commit on, but
    /// neither written by this transaction nor writable in it.
    void forget(page_id first) { fresh_.erase(first); }
    /// Run [first, first + n), staged by an earlier transaction, is this one's: writable, and
    /// written by it.
    void adopt(page_id first, std::uint64_t n) { fresh_[first] = n; }

    /// True when [first, first + n) lies in one run this transaction allocated (writable).
    bool fresh(page_id first, std::uint64_t n) const {
        auto it = fresh_.upper_bound(first);
        if (it == fresh_.begin()) return false;
        --it;
        return first + n <= it->first + it->second && first + n > first;
    }

    /// Frees pages: a run this transaction allocated goes back to the pool at once; pages of the
    /// committed state are freed when no reader can reach them any more.
    void free(page_id first, std::uint64_t n) {
        if (n == 0 || first < first_data_page || first + n > high_water_ || first + n < first)
            throw error(errc::invalid_argument, "store " + store_ + ": freeing pages [" +
                                                    std::to_string(first) + ", +" +
                                                    std::to_string(n) + ") outside its pages");
        if (const auto it = fresh_.find(first); it != fresh_.end() && it->second == n) {
            fresh_.erase(it);
            for (page_id p = first; p < first + n; ++p) pool_.insert(p);
            return;
        }
        if (fresh(first, 1) || fresh(first + n - 1, 1))
            throw error(errc::invalid_argument, "store " + store_ +
                                                    ": freeing part of a run of new pages at " +
                                                    std::to_string(first));
        if (first + n > committed_high_)
            throw error(errc::invalid_argument, "store " + store_ + ": freeing pages [" +
                                                    std::to_string(first) + ", +" +
                                                    std::to_string(n) + ") that no state holds");
        for (page_id p = first; p < first + n; ++p)
            if (pool_.count(p) || !freed_.insert(p).second)
                throw error(errc::invalid_argument, "store " + store_ + ": page " +
                                                        std::to_string(p) +
                                                        " freed twice, or free already");
    }

    /// Writes the free state for the commit of this transaction into `next` (lists and
    /// high-water mark); `written` gets every page this transaction wrote.
    void finish(meta& next, std::vector<page_id>& written) {
        ceiling_ = no_ceiling;  // the lists' pages may come from anywhere
        while (lists_.size() + 2 > max_lists) absorb_smallest();
        // Short usable lists (a commit's freed pages, once no reader holds them) join what the
        // pool keeps, so that they do not pile up behind the long list drawn on first.
        while (lists_.size() + 2 > merge_at && absorb_smallest(true, list_page::capacity)) {
        }
        // Past merge_at lists, the two lists this commit writes are linked in front of lists
        // already there instead of taking slots of their own: what the pool keeps in front of
        // the first usable list (their pages are free for anyone now), this transaction's
        // freed pages in front of the newest list a reader holds back (its mark moves to this
        // transaction: reuse waits longer, never less; it is not scrubbed yet, so the merged
        // list's pages are zeroed once, when it becomes usable). A link costs the ids of the
        // target's head page at most (none when its head page is untouched), whatever the
        // target's length: a reader that holds reuse back for long leaves one long list, not 46
        // of equal length of which every commit then copied one (merging only when the slots
        // ran out).
        // Both targets are taken out of lists_ before any page is allocated below, so that
        // nothing draws on them meanwhile. (In a durable store the target's released head page
        // joins this transaction's freed pages, as every consumed list page does.)
        std::optional<list_ref> rest_onto;
        if (lists_.size() + 2 > merge_at && (!pool_.empty() || (!durable_ && !released_.empty())))
            rest_onto = detach_tail(first_usable(), pool_);
        std::optional<list_ref> freed_onto;
        if (lists_.size() + 2 > merge_at && (!freed_.empty() || (durable_ && !released_.empty())))
            freed_onto = detach_tail(newest_held(), freed_);

        // This transaction's freed pages (in a durable store with the list pages it consumed:
        // the state on disk still reads them). Their list's own pages may come from the lists,
        // which can free a consumed list page more: sized again until it holds.
        std::vector<page_id> freed_chain;
        for (;;) {
            if (durable_) {
                freed_.insert(released_.begin(), released_.end());
                released_.clear();
            }
            if (freed_chain.size() >= pages_for(freed_.size())) break;
            page_id p = take_run(1);
            if (p == no_page) p = take_from_lists();
            if (p == no_page) p = from_high_water(1);
            fresh_[p] = 1;
            freed_chain.push_back(p);
        }
        std::vector<page_id> freed(freed_.begin(), freed_.end());
        std::size_t next_freed = 0;
        if (freed_onto && freed.size() < freed_chain.size()) unlink(freed_onto, false);
        const page_id freed_head = write_list(
            freed, freed_chain.size(), [&] { return freed_chain.at(next_freed++); },
            freed_onto ? freed_onto->head : no_page);
        // What the pool keeps (pages and consumed list pages): its list pages come from the
        // pool itself, else the lists, else the high-water mark. Each page taken from the pool
        // shortens the list by one, so the chain may end one page longer than its ids need
        // (write_list spreads the ids over every page; a chain with a page more than ids is
        // not linked, as its empty page may only end a list).
        // (Outside a durable store the lists may give too: a list page they free joins the
        // rest, and the chain is sized again.)
        std::vector<page_id> chain;
        while (chain.size() < pages_for(pool_.size() + released_.size())) {
            page_id p = take_run(1);
            if (p == no_page && !durable_) p = take_from_lists();
            if (p == no_page) p = from_high_water(1);
            fresh_[p] = 1;
            chain.push_back(p);
        }
        std::vector<page_id> rest(pool_.begin(), pool_.end());
        rest.insert(rest.end(), released_.begin(), released_.end());
        if (rest_onto && rest.size() < chain.size()) unlink(rest_onto, true);
        std::size_t next_chain = 0;
        const page_id rest_head = write_list(
            rest, chain.size(), [&] { return chain.at(next_chain++); },
            rest_onto ? rest_onto->head : no_page);
        fault_point("pages.lists_written");

        // A target whose link was not needed after all (nothing left to write) stays as it was.
        if (freed_chain.empty() && freed_onto) unlink(freed_onto, false);
        if (chain.empty() && rest_onto) unlink(rest_onto, true);
        if (!freed_chain.empty())
            lists_.push_back(
                {txn_, freed_head, freed.size() + (freed_onto ? freed_onto->count : 0)});
        if (!chain.empty())
            lists_.insert(lists_.begin(), {rest_onto ? rest_onto->freed_by : 0, rest_head,
                                           rest.size() + (rest_onto ? rest_onto->count : 0)});
        next.lists = lists_.size();
        next.list = {};
        std::copy(lists_.begin(), lists_.end(), next.list.begin());
        next.high_water = high_water_;
        for (const auto& [first, n] : fresh_)
            for (page_id p = first; p < first + n; ++p) written.push_back(p);
    }

  private:
    // Lists (of the meta's max_lists slots) past which a commit links its lists to others.
    static constexpr std::size_t merge_at = 16;

    static constexpr page_id no_ceiling = std::numeric_limits<page_id>::max();

    // Every usable list, wholly into the pool.
    void absorb_usable() {
        for (std::size_t i = 0; i < lists_.size();) {
            if (!usable(lists_[i])) {
                ++i;
                continue;
            }
            // Each page taken shrinks the list, and the last one drops it (as absorb_smallest).
            for (const std::size_t before = lists_.size(); lists_.size() == before;)
                take_list_page(i, pool_);
        }
    }

    // A run of n pages from the pool (below the ceiling), or no_page.
    page_id take_run(std::uint64_t n) {
        if (pool_.empty() || *pool_.begin() + n > ceiling_) return no_page;
        if (n == 1) {
            const page_id p = *pool_.begin();
            pool_.erase(pool_.begin());
            return p;
        }
        page_id start = no_page;
        std::uint64_t len = 0;
        for (const page_id p : pool_) {
            if (p >= ceiling_) break;
            if (len > 0 && p == start + len && p % segment_pages_ != 0) {
                ++len;
            } else {
                start = p;
                len = 1;
            }
            if (len == n) {
                pool_.erase(pool_.find(start), std::next(pool_.find(p)));
                return start;
            }
        }
        return no_page;
    }

    // n pages at the high-water mark, in one segment (pages skipped to reach the next segment
    // join the pool).
    page_id from_high_water(std::uint64_t n) {
        if (ceiling_ != no_ceiling)
            throw error(
                errc::limit_exceeded,
                "store " + store_ + ": compaction found no run of " + std::to_string(n) +
                    " free page(s) below page " + std::to_string(ceiling_),
                limit_details{n * page_size, high_water_ * page_size, ceiling_ * page_size});
        page_id first = high_water_;
        if (first / segment_pages_ != (first + n - 1) / segment_pages_)
            first = (first / segment_pages_ + 1) * segment_pages_;
        // In use: the pages below the high-water mark, freed ones among them (a put or a
        // batch says it again with the store's exact use).
        if (first + n > max_pages_)
            throw error(
                errc::limit_exceeded,
                "store " + store_ + ": " + std::to_string(n) + " more page(s) at page " +
                    std::to_string(first) + " would pass its limit of " +
                    std::to_string(max_pages_) + " pages (" +
                    std::to_string(max_pages_ * page_size) + " bytes)",
                limit_details{n * page_size, high_water_ * page_size, max_pages_ * page_size});
        pages_.make_segment(static_cast<std::uint32_t>(first / segment_pages_));
        for (page_id p = high_water_; p < first; ++p) pool_.insert(p);
        high_water_ = first + n;
        return first;
    }

    bool usable(const list_ref& l) const noexcept { return l.freed_by <= oldest_; }

    // Zeroes every page list l names (its list pages hold page numbers only).
    void scrub(const list_ref& l) {
        page_id at = l.head;
        std::uint64_t from = l.skip;
        for (std::uint64_t steps = 0; at != no_page; ++steps) {
            const std::string where = "store " + store_ + ": free list page " + std::to_string(at);
            if (at < first_data_page || at >= committed_high_ || steps > l.count + 1)
                throw error(errc::corrupt, where + " lies outside its list or the store");
            list_page page;
            std::memcpy(&page, pages_.at(at), page_size);
            if (page.magic != list_magic || page.count > list_page::capacity ||
                page.sum != page.compute_sum() || from > page.count)
                throw error(errc::corrupt, where + " fails its checks (magic, count or checksum)");
            for (std::size_t k = from; k < page.count; ++k)
                if (page.ids[k] >= first_data_page && page.ids[k] < committed_high_)
                    std::memset(pages_.at(page.ids[k]), 0, page_size);
            from = 0;
            at = page.next;
        }
        fault_point("pages.scrubbed");
    }

    // Moves the next list page of a usable list into the pool; false when no list can give.
    bool refill() {
        for (std::size_t i = 0; i < lists_.size(); ++i) {
            if (!usable(lists_[i])) continue;
            take_list_page(i, pool_);
            return true;
        }
        return false;
    }

    // The head page of list i, read and checked once per transaction.
    const list_page& head_of(std::size_t i) {
        const auto& l = lists_[i];
        if (const auto it = heads_.find(l.head); it != heads_.end()) return *it->second;
        const page_id at = l.head;
        const std::string where = "store " + store_ + ": free list page " + std::to_string(at);
        if (at < first_data_page || at >= committed_high_)
            throw error(errc::corrupt, where + " lies outside the store's " +
                                           std::to_string(committed_high_) + " pages");
        auto page = std::make_unique<list_page>();
        std::memcpy(page.get(), pages_.at(at), page_size);
        if (page->magic != list_magic || page->count > list_page::capacity ||
            page->sum != page->compute_sum() || l.skip > page->count)
            throw error(errc::corrupt, where + " fails its checks (magic, count or checksum)");
        const std::uint64_t left = page->count - l.skip;
        if (left > l.count || (page->next == no_page && left != l.count))
            throw error(errc::corrupt, where + " names " + std::to_string(left) +
                                           " pages where its list has " + std::to_string(l.count) +
                                           " left");
        if (page->count == 0 && page->next != no_page)
            throw error(errc::corrupt, where + " names no page, and is not its list's last");
        return *heads_.emplace(at, std::move(page)).first->second;
    }

    // Page id k of list page `at`, checked as it is handed out: in the store, and not free or
    // in use already in this transaction.
    page_id checked_id(const list_page& page, std::size_t k, page_id at) const {
        const page_id p = page.ids[k];
        if (p < first_data_page || p >= committed_high_ || pool_.count(p) || freed_.count(p) ||
            fresh(p, 1))
            throw error(errc::corrupt, "store " + store_ + ": free list page " +
                                           std::to_string(at) + " names page " + std::to_string(p) +
                                           ", which is out of range or free twice");
        return p;
    }

    // Drops the head page of list i, whose ids are all handed out (the page itself is free once
    // the commit lands).
    void advance(std::size_t i) {
        auto& l = lists_[i];
        const page_id next = head_of(i).next;
        heads_.erase(l.head);
        released_.push_back(l.head);
        l.head = next;
        l.skip = 0;
        if (l.head == no_page) lists_.erase(lists_.begin() + static_cast<std::ptrdiff_t>(i));
        fault_point("pages.refill");
    }

    // One page from the head of a usable list, or no_page when none has any.
    page_id take_from_lists() {
        for (std::size_t i = 0; i < lists_.size();) {
            if (!usable(lists_[i])) {
                ++i;
                continue;
            }
            auto& l = lists_[i];
            const list_page& page = head_of(i);
            if (l.skip == page.count) {  // an empty last page: the list goes
                advance(i);
                continue;
            }
            const page_id p = checked_id(page, l.skip++, l.head);
            --l.count;
            if (l.skip == page.count) advance(i);
            return p;
        }
        return no_page;
    }

    // Moves the rest of the head page of list i into `into`, and drops the page from the list.
    template <class Set>
    void take_list_page(std::size_t i, Set& into) {
        auto& l = lists_[i];
        const list_page& page = head_of(i);
        for (std::size_t k = l.skip; k < page.count; ++k) into.insert(checked_id(page, k, l.head));
        l.count -= page.count - l.skip;
        advance(i);
    }

    // The first usable list none of whose ids is handed out (linked to without reading it), else
    // the first usable list; lists_.size() when there is none.
    std::size_t first_usable() const noexcept {
        std::size_t first = lists_.size();
        for (std::size_t i = 0; i < lists_.size(); ++i) {
            if (!usable(lists_[i])) continue;
            if (lists_[i].skip == 0) return i;
            if (first == lists_.size()) first = i;
        }
        return first;
    }

    // The list a reader holds back that was freed last (the highest mark), or lists_.size().
    // (Held lists are the ones not scrubbed yet: a merged list is scrubbed once, when usable.)
    std::size_t newest_held() const noexcept {
        std::size_t i = lists_.size();
        for (std::size_t k = 0; k < lists_.size(); ++k)
            if (!usable(lists_[k]) &&
                (i == lists_.size() || lists_[k].freed_by >= lists_[i].freed_by))
                i = k;
        return i;
    }

    // Puts a detached tail back as a list of its own (in front for usable pages, drawn first).
    void unlink(std::optional<list_ref>& tail, bool front) {
        lists_.insert(front ? lists_.begin() : lists_.end(), *tail);
        tail.reset();
    }

    // Takes list i out of lists_, to be linked behind a new chain: whole when none of its head
    // page's ids is handed out yet (no page read), else what follows its head page, the rest of
    // that page's ids moving into `into`. nullopt when there is no list i, or when its head
    // page was all of it (then wholly in `into`).
    template <class Set>
    std::optional<list_ref> detach_tail(std::size_t i, Set& into) {
        if (i >= lists_.size()) return std::nullopt;
        if (lists_[i].skip == 0) {
            const list_ref whole = lists_[i];
            lists_.erase(lists_.begin() + static_cast<std::ptrdiff_t>(i));
            return whole;
        }
        const bool more = head_of(i).next != no_page;
        take_list_page(i, into);  // drops the list when its head page was its last
        if (!more) return std::nullopt;
        const list_ref tail = lists_[i];
        lists_.erase(lists_.begin() + static_cast<std::ptrdiff_t>(i));
        return tail;
    }

    // Folds the list with the fewest pages (of the usable ones with `usable_only`) into the
    // pool (when usable) or into this transaction's freed pages (later than its own mark: reuse
    // waits longer, never less); false when there is no such list or it passes `most` pages.
    bool absorb_smallest(bool usable_only = false,
                         std::uint64_t most = std::numeric_limits<std::uint64_t>::max()) {
        std::size_t i = lists_.size();
        for (std::size_t k = 0; k < lists_.size(); ++k)
            if ((!usable_only || usable(lists_[k])) &&
                (i == lists_.size() || lists_[k].count < lists_[i].count))
                i = k;
        if (i == lists_.size() || lists_[i].count > most) return false;
        const bool into_pool = usable(lists_[i]);
        // Each page taken shrinks the list by at least one page number, and the last one drops
        // it: the loop ends, whatever the list pages say.
        for (const std::size_t before = lists_.size(); lists_.size() == before;) {
            if (into_pool)
                take_list_page(i, pool_);
            else
                take_list_page(i, freed_);
        }
        return true;
    }

    // Writes ids as a chain of `pages` list pages (at least pages_for(ids) of them, and no
    // more than ids) taken from `next_page`, the ids spread evenly so that no page is empty;
    // its last page leads to `tail`. Returns its head.
    template <class Next>
    page_id write_list(const std::vector<page_id>& ids, std::uint64_t pages, Next&& next_page,
                       page_id tail) {
        std::vector<page_id> chain;
        for (std::uint64_t k = 0; k < pages; ++k) chain.push_back(next_page());
        std::size_t from = 0;
        for (std::uint64_t k = 0; k < pages; ++k) {
            list_page page;
            page.next = k + 1 < pages ? chain[k + 1] : tail;
            page.count = (ids.size() - from) / (pages - k);  // the last pages get the remainder
            if ((ids.size() - from) % (pages - k) != 0) ++page.count;
            std::copy_n(ids.begin() + static_cast<std::ptrdiff_t>(from), page.count,
                        page.ids.begin());
            from += page.count;
            page.sum = page.compute_sum();
            std::memcpy(pages_.at(chain[k]), &page, page_size);
        }
        return pages == 0 ? no_page : chain[0];
    }

    Pages& pages_;
    bool durable_;
    page_id committed_high_;
    page_id high_water_;
    std::uint64_t txn_;
    std::uint64_t oldest_;
    std::uint64_t segment_pages_;
    std::uint64_t max_pages_;
    page_id ceiling_ = no_ceiling;  // compaction: pages come from below it only (confine)
    std::string store_;
    std::vector<list_ref> lists_;
    std::set<page_id> pool_;
    std::set<page_id> freed_;
    std::vector<page_id> released_;
    std::map<page_id, std::uint64_t> fresh_;               // runs allocated by this transaction
    std::map<page_id, std::unique_ptr<list_page>> heads_;  // list pages read, by page
};

}  // namespace detail::pages
}  // namespace v1
}  // namespace mmry
