#pragma once
// A test seam into basic_store: direct access to a record's bytes in the arena, to inject
// corruption. mmry/store.hpp includes this header after the class (and it includes
// mmry/store.hpp, so it also compiles on its own).

#include <cstdint>
#include <shared_mutex>
#include <span>
#include <string_view>
#include <vector>

#include <mmry/store.hpp>

namespace mmry {
inline namespace v1 {
namespace detail {

/// A test seam: direct access to a record's bytes in the arena, to inject corruption.
struct store_access {
    template <class Traits>
    static std::span<std::byte> record_bytes(basic_store<Traits>& s, std::string_view key) {
        std::shared_lock lock(s.s_->lock);
        const auto ref = s.locate(key);
        if (!ref) return {};
        return s.s_->arena->bytes(ref->where, ref->size);
    }
    /// The store header in segment 0.
    template <class Traits>
    static std::span<std::byte> header_bytes(basic_store<Traits>& s) {
        return s.s_->arena->header_bytes();
    }
    /// The record of dictionary `id` (empty when there is none).
    template <class Traits>
    static std::span<std::byte> dictionary_record(basic_store<Traits>& s, std::uint32_t id) {
        std::shared_lock lock(s.s_->lock);
        for (const auto& d : s.s_->root->dictionaries)
            if (d.id == id) return s.s_->arena->bytes(d.ref.where, d.ref.size);
        return {};
    }
    /// The chunk table's slot of the chunk with reference `ref` (nullptr when there is none),
    /// writable: to give a chunk a length its manifest does not name.
    template <class Traits>
    static chunk_slot* chunk_slot_of(basic_store<Traits>& s, const format::chunk_reference& ref) {
        return const_cast<chunk_slot*>(s.s_->root->chunks.find(format::chunk_key(ref)));
    }
    /// The records of the store's chunks (fold::cdc), in the chunk table's order.
    template <class Traits>
    static std::vector<std::span<std::byte>> chunk_records(basic_store<Traits>& s) {
        std::shared_lock lock(s.s_->lock);
        std::vector<std::span<std::byte>> out;
        s.s_->root->chunks.scan("", "", [&](std::string_view, const chunk_slot& c) {
            out.push_back(s.s_->arena->bytes(c.ref.where, c.ref.size));
            return true;
        });
        return out;
    }
};

}  // namespace detail
}  // namespace v1
}  // namespace mmry
