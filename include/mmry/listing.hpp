#pragma once
// entry_range: what basic_store::list(), range(), with_tag(), where() and stored() return, a lazy
// input range of mmry::entry.
//
// Entries are fetched in batches under the store's read lock and copied out, so the loop body may
// read and write the store freely. With index::ordered the range resumes after the last key it
// yielded: it sees a consistent key order and never holds the lock between batches. With
// index::hashed the first batch takes every matching entry (an O(n) scan), sorted by key.
// Works with range-v3 and std::ranges views (e.g. `s.list("user/") | ranges::views::take(10)`): an
// entry_range is a borrowed range, since its iterators own their state and stay valid after the
// range object is gone (the store must still outlive them).
// Thread-safety: a range and its iterators belong to one thread; the store must outlive them.

#include <cstddef>
#include <functional>
#include <iterator>
#include <memory>
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

/// Source: anything with `bool fetch(const query& q, std::string_view after,
/// std::vector<entry>& out) const` that appends the next entries after `after` (empty: from the
/// start) and returns false at the end.
template <class Source>
class entry_range {
    struct cursor {
        const Source* source;
        std::shared_ptr<const query> q;
        std::vector<entry> batch;
        std::size_t at = 0;
        bool more = true;

        bool advance() {
            if (++at < batch.size()) return true;
            return refill();
        }
        bool refill() {
            std::string after = batch.empty() ? std::string() : batch.back().key;
            batch.clear();
            at = 0;
            while (more && batch.empty()) more = source->fetch(*q, after, batch);
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

    entry_range(const Source* source, query q)
        : source_(source), q_(std::make_shared<const query>(std::move(q))) {}

    /// Starts a new pass; each call fetches from the store as it is now.
    iterator begin() const {
        auto c = std::make_shared<cursor>(cursor{source_, q_, {}, 0, true});
        if (!c->refill()) return {};
        return iterator(std::move(c));
    }
    iterator end() const { return {}; }

  private:
    const Source* source_;
    std::shared_ptr<const query> q_;
};

}  // namespace v1
}  // namespace mmry

namespace std::ranges {
template <class Source>
inline constexpr bool enable_borrowed_range<mmry::v1::entry_range<Source>> = true;
}  // namespace std::ranges

#if __has_include(<range/v3/range_fwd.hpp>)
namespace ranges {
template <class Source>
inline constexpr bool enable_borrowed_range<mmry::v1::entry_range<Source>> = true;
}  // namespace ranges
#endif
