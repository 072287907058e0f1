#pragma once
// The versions a store keeps of one logical key (path policies with history): a head per key in
// segment 0, beside the index of stored keys. Each version names its record and the layouts
// (bits) whose stored key still refers to it; the record is freed when the last bit goes.

#include <algorithm>
#include <cstdint>
#include <memory>

#include <boost/container/vector.hpp>

#include <mmry/handle.hpp>

namespace mmry {
inline namespace v1 {
namespace detail {

struct version_slot {
    std::uint64_t version = 0;
    std::int64_t time_ns = 0;  ///< the write's modified time
    record_ref ref;
    std::uint32_t layouts = 0;  ///< bit i: layout i's stored key refers to this record
};

template <class Alloc>
struct key_head {
    using slot_alloc = typename std::allocator_traits<Alloc>::template rebind_alloc<version_slot>;
    using slots = boost::container::vector<version_slot, slot_alloc>;

    std::uint64_t next_version = 1;  ///< the version the next put gets
    std::int64_t created_ns = 0;     ///< the first kept version's created time
    slots versions;                  ///< ascending by version

    explicit key_head(const Alloc& a) : versions(slot_alloc(a)) {}

    typename slots::iterator at(std::uint64_t version) {
        auto it =
            std::lower_bound(versions.begin(), versions.end(), version,
                             [](const version_slot& s, std::uint64_t v) { return s.version < v; });
        return it != versions.end() && it->version == version ? it : versions.end();
    }
    const version_slot* find(std::uint64_t version) const {
        auto it = const_cast<key_head*>(this)->at(version);
        return it == versions.end() ? nullptr : &*it;
    }
};

}  // namespace detail
}  // namespace v1
}  // namespace mmry
