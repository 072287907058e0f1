#pragma once
// basic_store::compact(), out of line (mmry/compact.hpp; docs/DECISIONS.md §13). Three steps,
// each safe to be killed in:
// 1. One write transaction reads what the state reaches and what is free, picks the lowest
//    ceiling below which the free pages can take everything that lies past it, and moves it
//    there (records, blobs, counters, then the index pages: store_tables.hpp, relocate). It
//    commits all of it or nothing; a ceiling that fragmentation defeats is raised and tried
//    again.
// 2. Once no reader holds a state from before (and, with a durability level, the move is on
//    disk), a commit brings the high-water mark down past the free pages at the end
//    (write_txn::trim).
// 3. The bytes past the mark go back to the system (page_store::give_back).
// mmry/store.hpp includes this header after the class (and it includes mmry/store.hpp, so it
// also compiles on its own).

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include <mmry/compact.hpp>
#include <mmry/store.hpp>

namespace mmry {
inline namespace v1 {
namespace detail {

/// Whether the free pages of `pool` below page `ceiling` can take the runs of `runs` (first
/// page, pages) that have a page at or past it, placed as compaction places them: largest first,
/// each at the lowest free run that holds it (in one segment of `segment` pages), then `spare`
/// single pages (table pages rewritten below the ceiling).
inline bool compaction_fits(const std::vector<std::pair<std::uint64_t, std::uint64_t>>& runs,
                            const std::set<std::uint64_t>& pool, std::uint64_t ceiling,
                            std::uint64_t segment, std::uint64_t spare) {
    std::map<std::uint64_t, std::uint64_t> free;  // first page -> pages, by address
    std::uint64_t start = 0, len = 0;
    for (const auto p : pool) {
        if (p >= ceiling) break;
        if (len > 0 && p == start + len && p % segment != 0) {
            ++len;
            continue;
        }
        if (len > 0) free.emplace(start, len);
        start = p;
        len = 1;
    }
    if (len > 0) free.emplace(start, len);
    std::vector<std::uint64_t> need;
    for (const auto& [p, n] : runs)
        if (p + n > ceiling) need.push_back(n);
    std::sort(need.begin(), need.end(), std::greater<>());
    need.insert(need.end(), spare, 1);
    for (const auto n : need) {
        auto it = free.begin();
        while (it != free.end() && it->second < n) ++it;
        if (it == free.end()) return false;
        const auto [first, have] = *it;
        free.erase(it);
        if (have > n) free.emplace(first + n, have - n);
    }
    return true;
}

/// The lowest ceiling at which compaction_fits, between `low` and `high` (high: none lower).
inline std::uint64_t compaction_ceiling(
    const std::vector<std::pair<std::uint64_t, std::uint64_t>>& runs,
    const std::set<std::uint64_t>& pool, std::uint64_t low, std::uint64_t high,
    std::uint64_t segment, std::uint64_t spare) {
    // More room below and fewer runs past a higher ceiling: the answer is found by halving.
    while (low < high) {
        const std::uint64_t mid = low + (high - low) / 2;
        if (compaction_fits(runs, pool, mid, segment, spare))
            high = mid;
        else
            low = mid + 1;
    }
    return high;
}

}  // namespace detail

template <class Traits>
compact_report basic_store<Traits>::compact(const compact_options& o) {
    namespace pg = detail::pages;
    const auto start = std::chrono::steady_clock::now();
    auto& pages = *s_->pages;
    compact_report out;
    out.held_before = pages.held_bytes();

    // 1. Move what lies past the ceiling below it. (In a store with a durability level, pages
    // freed since the last flush are not free yet: the state on disk reaches them. A flush
    // first makes them so.)
    pages.flush();
    std::uint64_t ceiling = 0, high = 0;
    std::uint64_t target = 0;  // the high-water mark the move allows (none moved: where it was)
    for (int attempt = 0; attempt < 4; ++attempt) {
        auto lock = s_->write();
        auto& c = s_->root();
        auto& t = c.txn();
        high = t.high_water();
        if (attempt == 0) out.size_before = high * pg::page_size;
        std::vector<bool> reach(high, false);
        std::vector<std::pair<std::uint64_t, std::uint64_t>> runs;  // of records and table blobs
        std::uint64_t reached = 0, table_pages = 0;
        auto mark = [&](pg::page_id p, std::uint64_t n) {
            for (pg::page_id q = p; q < p + n && q < high; ++q) {
                reached += !reach[q];
                reach[q] = true;
            }
        };
        c.mark([&](pg::page_id p, std::uint64_t n) {
            table_pages += n;
            if (n > 1) runs.emplace_back(p, n);
            mark(p, n);
        });
        c.mark_records([&](pg::page_id p, std::uint64_t n) {
            runs.emplace_back(p, n);
            mark(p, n);
        });
        out.live_bytes = (reached + pg::first_data_page) * pg::page_size;
        t.confine(high);  // every free page into the pool, to be counted
        // Every table page may be rewritten below the ceiling (an entry changed in it), and the
        // free lists take a page per 500 free pages.
        const std::uint64_t spare = table_pages + t.free_pool().size() / 500 + 16;
        const std::uint64_t planned = detail::compaction_ceiling(
            runs, t.free_pool(), pg::first_data_page + reached, high, pages.segment_pages(), spare);
        // A ceiling that proved too low after all: a quarter of the way to the end, and so on.
        ceiling = attempt == 0 ? planned : ceiling + (high - ceiling + 3) / 4;
        target = high;
        if (ceiling >= high) break;
        try {
            t.confine(ceiling);
            out.records_moved = c.relocate(ceiling);
            lock.commit();
            target = ceiling;
            break;
        } catch (const error& e) {
            if (e.code_value() != errc::limit_exceeded) throw;
            out.records_moved = 0;  // dropped with the transaction: try a higher ceiling
        }
    }

    // 2. The free pages at the end leave the store, once no reader (and no state on disk)
    // reaches them.
    pages.flush();
    const auto deadline = start + o.wait;
    for (;;) {
        std::uint64_t before = 0, after = 0;
        {
            auto lock = s_->write();
            auto& t = s_->root().txn();
            before = t.high_water();
            after = t.trim();
            if (after < before) lock.commit();
        }
        high = after;
        if (after <= target || std::chrono::steady_clock::now() >= deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        pages.flush();
    }
    out.size_after = high * pg::page_size;

    // 3. Their bytes go back to the system.
    pages.give_back();
    out.held_after = pages.held_bytes();
    out.time = std::chrono::steady_clock::now() - start;
    return out;
}

}  // namespace v1
}  // namespace mmry
