#pragma once
// entry_range: what basic_store::list(), range(), with_tag(), where(), stored() and history()
// return, a lazy input range of mmry::entry.
//
// Entries are fetched in batches (of 256) under the store's read lock and copied out, so the loop
// body may read and write the store freely. No snapshot is taken and no lock is held between
// batches: each batch sees the store as it is when it is fetched, and the range resumes after the
// last entry it yielded. An entry of a batch already fetched is yielded as it was then, even if
// it has been changed or removed since.
// - Listings (list, range, with_tag, where, stored): with index::ordered the range resumes after
//   the last key it yielded: it sees a consistent key order (a key added behind the last one
//   yielded is not seen, one added ahead is). With index::hashed the first batch takes every
//   matching entry (an O(n) scan), sorted by key.
// - history(key): the key's kept versions in ascending order, resumed after the last version
//   yielded (a binary search in the key's versions, whatever the index): a version put while the
//   range is walked is yielded, since it is newer than every version yielded so far; one erased or
//   pruned before its batch is fetched is not. With path::latest, the one current version.
// Works with range-v3 and std::ranges views (e.g. `s.list("user/") | ranges::views::take(10)`): an
// entry_range is a borrowed range, since its iterators own their state and stay valid after the
// range object is gone (the store must still outlive them).
// Thread-safety: a range and its iterators belong to one thread; the store must outlive them.

#include <chrono>
#include <cstddef>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <string_view>
#include <vector>

#include <mmry/metadata.hpp>

#if __has_include(<range/v3/range_fwd.hpp>)
#include <range/v3/range_fwd.hpp>
#endif

namespace mmry {
inline namespace v1 {

/// What a listing asks for: keys starting with prefix, not less than from, less than to (when not
/// empty), whose entry passes the filter (when set); logical keys, or stored keys when `stored`.
struct query {
    std::string prefix;
    std::string from, to;
    std::function<bool(const entry&)> filter;
    bool stored = false;
};

/// What history() asks for: the kept versions of `key` written in [from, to].
struct history_query {
    std::string key;
    std::chrono::system_clock::time_point from = std::chrono::system_clock::time_point::min();
    std::chrono::system_clock::time_point to = std::chrono::system_clock::time_point::max();
};

/// Source: anything with `bool fetch(const Query& q, const entry* after, std::vector<entry>& out)
/// const` that appends the next entries after `after` (the last entry the range yielded; nullptr:
/// from the start) and returns false at the end.
template <class Source, class Query = query>
class entry_range {
    struct cursor {
        const Source* source;
        std::shared_ptr<const Query> q;
        std::vector<entry> batch;
        std::size_t at = 0;
        bool more = true;

        bool advance() {
            if (++at < batch.size()) return true;
            return refill();
        }
        bool refill() {
            std::optional<entry> after;
            if (!batch.empty()) after = std::move(batch.back());
            batch.clear();
            at = 0;
            while (more && batch.empty())
                more = source->fetch(*q, after ? &*after : nullptr, batch);
            return !batch.empty();
        }
    };

  public:
    class iterator {
      public:
        using value_type = entry;
        using difference_type = std::ptrdiff_t;
        using reference = const entry&;
        using pointer = const entry*;
        using iterator_category = std::input_iterator_tag;
        using iterator_concept = std::input_iterator_tag;

        iterator() = default;
        reference operator*() const { return c_->batch[c_->at]; }
        pointer operator->() const { return &c_->batch[c_->at]; }
        iterator& operator++() {
            if (!c_->advance()) c_.reset();
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(const iterator& a, const iterator& b) noexcept {
            return a.c_ == b.c_;
        }

      private:
        friend class entry_range;
        explicit iterator(std::shared_ptr<cursor> c) : c_(std::move(c)) {}
        std::shared_ptr<cursor> c_;  // shared by copies, as an input iterator's state is
    };

    entry_range(const Source* source, Query q)
        : source_(source), q_(std::make_shared<const Query>(std::move(q))) {}

    /// Starts a new pass; each call fetches from the store as it is now.
    iterator begin() const {
        auto c = std::make_shared<cursor>(cursor{source_, q_, {}, 0, true});
        if (!c->refill()) return {};
        return iterator(std::move(c));
    }
    iterator end() const { return {}; }

  private:
    const Source* source_;
    std::shared_ptr<const Query> q_;
};

}  // namespace v1
}  // namespace mmry

namespace std::ranges {
template <class Source, class Query>
inline constexpr bool enable_borrowed_range<mmry::v1::entry_range<Source, Query>> = true;
}  // namespace std::ranges

#if __has_include(<range/v3/range_fwd.hpp>)
namespace ranges {
template <class Source, class Query>
inline constexpr bool enable_borrowed_range<mmry::v1::entry_range<Source, Query>> = true;
}  // namespace ranges
#endif
