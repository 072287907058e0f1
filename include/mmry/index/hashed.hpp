#pragma once
// index::hashed: stored key -> record, exact lookups in O(1) on average: one probe of an
// open-addressing table in the common case (keys of at most 20 bytes are kept in the slot).
//
// Listing a prefix scans every entry (O(n)) and yields entries in no particular order; use
// index::ordered when prefix and range listings are frequent.
// Thread-safety: none of its own; the store serializes writers against readers.

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include <mmry/detail/open_table.hpp>
#include <mmry/handle.hpp>

#include <mmry/concepts.hpp>

namespace mmry {
inline namespace v1 {
namespace index {

struct hashed {
    static constexpr std::uint8_t id = 1;
    static constexpr std::string_view name = "hashed";
    static constexpr bool sorted = false;

    /// Maps stored keys to record_refs (or, for the store's key heads, to another Value): an
    /// open-addressing table (detail/open_table.hpp) whose slots hold short keys and the value
    /// inline. Inserting a new key may move every value; replacing or erasing moves none.
    template <class Alloc = std::allocator<char>, class Value = record_ref>
    class map {
      public:
        explicit map(const Alloc& alloc = Alloc()) : table_(alloc) {}

        const Value* find(std::string_view key) const { return table_.find(key); }
        Value* find(std::string_view key) { return table_.find(key); }

        /// Maps key to ref; returns the ref it replaced, if any. Strong guarantee.
        std::optional<Value> upsert(std::string_view key, Value ref) {
            if (Value* v = table_.find(key)) return std::exchange(*v, std::move(ref));
            table_.insert_new(key, std::move(ref));
            return std::nullopt;
        }

        /// The value of key, constructed from args when key is new. Strong guarantee.
        template <class... Args>
        Value& emplace(std::string_view key, Args&&... args) {
            if (Value* v = table_.find(key)) return *v;
            return table_.insert_new(key, std::forward<Args>(args)...);
        }

        std::optional<Value> erase(std::string_view key) { return table_.erase(key); }

        std::size_t size() const noexcept { return table_.size(); }
        /// Bytes its next growth allocates: the store keeps them free in segment 0.
        std::size_t growth_bytes() const noexcept { return table_.growth_bytes(); }

        /// Calls f(key, value) for every entry whose key starts with prefix, in no order, while f
        /// returns true. `start` is ignored: a hashed index has no order to resume from.
        template <class F>
        void scan(std::string_view prefix, std::string_view /*start*/, F&& f) const {
            table_.scan([&](std::string_view k, const Value& v) {
                return !k.starts_with(prefix) || f(k, v);
            });
        }

      private:
        mmry::detail::open_table<Alloc, Value> table_;
    };
};

}  // namespace index

static_assert(index_policy<index::hashed>);
}  // namespace v1
}  // namespace mmry
