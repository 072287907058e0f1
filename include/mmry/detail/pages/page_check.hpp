#pragma once
// The proof of a page store's accounting: every page below the high-water mark is exactly one of
// control area, reachable from the state's roots, free (named by a free list), a page of a free
// list, or staged (a run a writer copies a record into), and none is past the mark.
// page_store::check() runs it over its current state.
//
// Reads pages only; damaged list pages are reported, never followed past their checks.
// Thread-safety: the caller keeps the state from changing (page_store::check holds the writer
// lock). O(pages).

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <mmry/detail/pages/page_format.hpp>

namespace mmry {
inline namespace v1 {
namespace detail::pages {

/// What check() found: the pages of each kind, and every problem, named.
struct page_check {
    std::uint64_t pages = 0, reachable = 0, free = 0, list_pages = 0, staged = 0;
    std::vector<std::string> problems;
    /// The pages that are none of these (lost: a damaged entry named them), and whether they
    /// are all that is wrong (then freeing them makes the accounting whole: page_store::reclaim).
    std::vector<page_id> lost;
    bool only_lost = false;
    bool ok() const noexcept { return problems.empty(); }
    void problem(std::string what) {
        if (problems.size() < 64) problems.push_back(std::move(what));
    }
};

/// Checks the accounting of state m: `page_at(p)` gives page p's bytes, and
/// `reachable(mark)` calls mark(first, n) for every run of pages the state's structures reach.
template <class PageAt, class Reachable>
page_check check_pages(const meta& m, PageAt&& page_at, Reachable&& reachable) {
    page_check out;
    const page_id high = m.high_water;
    out.pages = high;
    std::vector<std::uint8_t> owner(high, 0);
    static constexpr const char* kinds[] = {"",     "control",     "reachable",
                                            "free", "a list page", "staged"};
    auto mark = [&](page_id first, std::uint64_t n, std::uint8_t kind) {
        for (page_id p = first; p < first + n; ++p) {
            if (p >= high) {
                out.problem("page " + std::to_string(p) + " (" + kinds[kind] +
                            ") is past the high-water mark " + std::to_string(high));
                return;
            }
            if (owner[p] != 0)
                out.problem("page " + std::to_string(p) + " is both " + kinds[owner[p]] + " and " +
                            kinds[kind]);
            owner[p] = kind;
        }
    };
    mark(0, first_data_page, 1);
    for (std::uint64_t i = 0; i < m.lists; ++i) {
        const auto& l = m.list[i];
        page_id at = l.head;
        std::uint64_t left = l.count;
        // Every page but an empty last one names at least one id: count + 1 pages at most.
        for (std::uint64_t steps = 0; at != no_page; ++steps) {
            if (at >= high || at < first_data_page || steps > l.count + 1) {
                out.problem("free list " + std::to_string(i) + " leads to page " +
                            std::to_string(at) + " after " + std::to_string(steps) + " pages");
                break;
            }
            list_page page;
            std::memcpy(&page, page_at(at), page_size);
            mark(at, 1, 4);
            ++out.list_pages;
            // The head page's first `skip` ids are handed out already.
            const std::uint64_t skip = steps == 0 ? l.skip : 0;
            if (page.magic != list_magic || page.count > list_page::capacity || skip > page.count ||
                page.count - skip > left || page.sum != page.compute_sum()) {
                out.problem("free list page " + std::to_string(at) + " fails its checks");
                break;
            }
            for (std::size_t k = skip; k < page.count; ++k) mark(page.ids[k], 1, 3);
            out.free += page.count - skip;
            left -= page.count - skip;
            at = page.next;
        }
        if (left != 0)
            out.problem("free list " + std::to_string(i) + " names " +
                        std::to_string(l.count - left) + " of its " + std::to_string(l.count) +
                        " pages");
    }
    for (std::uint64_t i = 0; i < m.staged_count; ++i) {
        const auto& r = m.staged[i];
        if (r.first < first_data_page || r.pages == 0 || r.first + r.pages > high ||
            r.first + r.pages < r.first) {
            out.problem("staged run " + std::to_string(i) + " (pages [" + std::to_string(r.first) +
                        ", +" + std::to_string(r.pages) + ")) lies outside the data pages");
            continue;
        }
        out.staged += r.pages;
        mark(r.first, r.pages, 5);
    }
    reachable([&](page_id first, std::uint64_t n) {
        out.reachable += n;
        mark(first, n, 2);
    });
    out.only_lost = out.problems.empty();
    for (page_id p = 0; p < high; ++p)
        if (owner[p] == 0) {
            if (out.lost.size() < 8)
                out.problem("page " + std::to_string(p) + " is neither reachable nor free");
            out.lost.push_back(p);
        }
    if (out.lost.size() > 8)
        out.problem(std::to_string(out.lost.size()) + " pages in all are lost");
    return out;
}

}  // namespace detail::pages
}  // namespace v1
}  // namespace mmry
