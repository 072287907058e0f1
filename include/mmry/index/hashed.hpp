#pragma once
// index::hashed: stored key -> record, exact lookups in O(1) on average.
//
// Listing a prefix scans every entry (O(n)) and yields entries in no particular order; use
// index::ordered when prefix and range listings are frequent.
// Thread-safety: none of its own; the store serializes writers against readers.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include <boost/unordered_map.hpp>

#include <mmry/handle.hpp>
#include <mmry/index/detail.hpp>

#include <mmry/concepts.hpp>

namespace mmry {
inline namespace v1 {
namespace index {

struct hashed {
    static constexpr std::uint8_t id = 1;
    static constexpr std::string_view name = "hashed";
    static constexpr bool sorted = false;

    /// Maps stored keys to record_refs (or, for the store's key heads, to another Value).
    template <class Alloc = std::allocator<char>, class Value = record_ref>
    class map {
        using string = detail::key_string<Alloc>;
        using value_alloc = typename std::allocator_traits<Alloc>::template rebind_alloc<
            std::pair<const string, Value>>;
        using table =
            boost::unordered_map<string, Value, detail::key_hash, detail::key_equal, value_alloc>;

      public:
        explicit map(const Alloc& alloc = Alloc())
            : alloc_(alloc)
            , table_(0, detail::key_hash(), detail::key_equal(), value_alloc(alloc)) {}

        const Value* find(std::string_view key) const {
            auto it = table_.find(key, detail::key_hash(), detail::key_equal());
            return it == table_.end() ? nullptr : &it->second;
        }

        /// Maps key to ref; returns the ref it replaced, if any. Strong guarantee.
        std::optional<Value> upsert(std::string_view key, Value ref) {
            auto it = table_.find(key, detail::key_hash(), detail::key_equal());
            if (it != table_.end()) return std::exchange(it->second, ref);
            table_.emplace(string(key.data(), key.size(), alloc_), ref);
            return std::nullopt;
        }

        Value* find(std::string_view key) {
            return const_cast<Value*>(std::as_const(*this).find(key));
        }

        /// The value of key, constructed from args when key is new. Strong guarantee.
        template <class... Args>
        Value& emplace(std::string_view key, Args&&... args) {
            if (Value* v = find(key)) return *v;
            return table_
                .emplace(string(key.data(), key.size(), alloc_), Value(std::forward<Args>(args)...))
                .first->second;
        }

        std::optional<Value> erase(std::string_view key) {
            auto it = table_.find(key, detail::key_hash(), detail::key_equal());
            if (it == table_.end()) return std::nullopt;
            Value old = std::move(it->second);
            table_.erase(it);
            return old;
        }

        std::size_t size() const noexcept { return table_.size(); }

        /// Calls f(key, value) for every entry whose key starts with prefix, in no order, while f
        /// returns true. `start` is ignored: a hashed index has no order to resume from.
        template <class F>
        void scan(std::string_view prefix, std::string_view /*start*/, F&& f) const {
            for (const auto& [k, ref] : table_)
                if (detail::view(k).starts_with(prefix) && !f(detail::view(k), ref)) return;
        }

      private:
        typename std::allocator_traits<Alloc>::template rebind_alloc<char> alloc_;
        table table_;
    };
};

}  // namespace index

static_assert(index_policy<index::hashed>);
}  // namespace v1
}  // namespace mmry
