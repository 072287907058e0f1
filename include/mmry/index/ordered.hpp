#pragma once
// index::ordered: stored key -> record in key order (a red-black tree); lookups in O(log n),
// prefix and range listings in key order that touch only the entries they yield.
//
// Thread-safety: none of its own; the store serializes writers against readers.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include <boost/container/map.hpp>

#include <mmry/handle.hpp>
#include <mmry/index/detail.hpp>

#include <mmry/concepts.hpp>

namespace mmry {
inline namespace v1 {
namespace index {

struct ordered {
    static constexpr std::uint8_t id = 2;
    static constexpr std::string_view name = "ordered";
    static constexpr bool sorted = true;

    /// Maps stored keys to record_refs (or, for the store's key heads, to another Value).
    template <class Alloc = std::allocator<char>, class Value = record_ref>
    class map {
        using string = detail::key_string<Alloc>;
        using value_alloc = typename std::allocator_traits<Alloc>::template rebind_alloc<
            std::pair<const string, Value>>;
        using tree = boost::container::map<string, Value, detail::key_less, value_alloc>;

      public:
        explicit map(const Alloc& alloc = Alloc()) : alloc_(alloc), tree_(value_alloc(alloc)) {}

        const Value* find(std::string_view key) const {
            auto it = tree_.find(key);
            return it == tree_.end() ? nullptr : &it->second;
        }

        /// Maps key to ref; returns the ref it replaced, if any. Strong guarantee.
        std::optional<Value> upsert(std::string_view key, Value ref) {
            auto it = tree_.lower_bound(key);
            if (it != tree_.end() && detail::view(it->first) == key)
                return std::exchange(it->second, ref);
            tree_.emplace_hint(it, string(key.data(), key.size(), alloc_), ref);
            return std::nullopt;
        }

        Value* find(std::string_view key) {
            return const_cast<Value*>(std::as_const(*this).find(key));
        }

        /// The value of key, constructed from args when key is new. Strong guarantee.
        template <class... Args>
        Value& emplace(std::string_view key, Args&&... args) {
            if (Value* v = find(key)) return *v;
            return tree_
                .emplace(string(key.data(), key.size(), alloc_), Value(std::forward<Args>(args)...))
                .first->second;
        }

        std::optional<Value> erase(std::string_view key) {
            auto it = tree_.find(key);
            if (it == tree_.end()) return std::nullopt;
            Value old = std::move(it->second);
            tree_.erase(it);
            return old;
        }

        std::size_t size() const noexcept { return tree_.size(); }

        /// Calls f(key, value) for the entries whose key starts with prefix and is not less than
        /// `start`, in key order, while f returns true. O(log n) to the first.
        template <class F>
        void scan(std::string_view prefix, std::string_view start, F&& f) const {
            auto it = tree_.lower_bound(std::max(prefix, start));
            for (; it != tree_.end() && detail::view(it->first).starts_with(prefix); ++it)
                if (!f(detail::view(it->first), it->second)) return;
        }

      private:
        typename std::allocator_traits<Alloc>::template rebind_alloc<char> alloc_;
        tree tree_;
    };
};

}  // namespace index

static_assert(index_policy<index::ordered>);
}  // namespace v1
}  // namespace mmry
