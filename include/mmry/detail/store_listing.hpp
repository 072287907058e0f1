#pragma once
// basic_store's listing sources, out of line: the batches behind list(), range(), with_tag(),
// where(), stored() (fetch of a query) and history() (fetch of a history_query); see
// mmry/listing.hpp for the lazy ranges that call them.
// mmry/store.hpp includes this header after the class (and it includes mmry/store.hpp, so it
// also compiles on its own).

#include <algorithm>
#include <cstdint>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include <mmry/store.hpp>

namespace mmry {
inline namespace v1 {

template <class Traits>
bool basic_store<Traits>::fetch(const query& q, const entry* after, std::vector<entry>& out) const {
    auto lock = s_->read();
    std::string start = q.from;
    if (after && std::string_view(after->key) >= std::string_view(start))
        start = after->key + '\0';  // the least key after `after`
    bool more = false;
    auto emit = [&](std::string_view k, auto&& open) {
        if (k < std::string_view(q.from)) return true;
        if (!q.to.empty() && k >= std::string_view(q.to)) return !index_type::sorted;
        entry e{std::string(k), this->describe(open())};
        if (q.filter && !q.filter(e)) return true;
        if (index_type::sorted && out.size() == batch_size) return !(more = true);
        out.push_back(std::move(e));
        return true;
    };
    if (!index_type::sorted && after) return false;  // the first batch took all
    if (q.stored || !keeps_history) {
        s_->root().index.scan(q.prefix, start, [&](std::string_view k, const record_ref& ref) {
            return emit(k, [&] { return q.stored ? open_stored(k, ref) : open_record(k, ref); });
        });
    } else {
        s_->root().heads.scan(q.prefix, start, [&](std::string_view k, const head_type& h) {
            const auto* slot = latest_slot(h);
            return !slot || emit(k, [&] { return open_slot(k, *slot); });
        });
    }
    if constexpr (!index_type::sorted)
        std::sort(out.begin(), out.end(),
                  [](const entry& a, const entry& b) { return a.key < b.key; });
    return more;
}

template <class Traits>
bool basic_store<Traits>::fetch(const history_query& q, const entry* after,
                                std::vector<entry>& out) const {
    auto lock = s_->read();
    const std::string_view key = q.key;
    auto add = [&](const format::record_view& v) {
        auto m = describe(v);
        if (m.modified >= q.from && m.modified <= q.to) out.push_back({q.key, std::move(m)});
    };
    if constexpr (!keeps_history) {
        if (const record_ref* ref = s_->root().index.find(key); ref && !after)
            add(open_record(key, *ref));
        return false;
    } else {
        const auto* head = s_->root().heads.find(key);
        if (!head) return false;
        const std::uint64_t last = after ? after->meta.version.number : 0;
        auto it = std::upper_bound(
            head->versions.begin(), head->versions.end(), last,
            [](std::uint64_t v, const detail::version_slot& slot) { return v < slot.version; });
        for (; it != head->versions.end(); ++it) {
            if (!visible(*it)) continue;
            if (out.size() == batch_size) return true;
            add(open_slot(key, *it));
        }
        return false;
    }
}

}  // namespace v1
}  // namespace mmry
