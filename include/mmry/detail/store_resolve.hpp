#pragma once
// basic_store's key resolution, out of line: from a logical key (and a version or a time) or a
// stored key to the record that holds it, checked to be what the index or head files it as.
// Callers hold the lock.
// mmry/store.hpp includes this header after the class (and it includes mmry/store.hpp, so it
// also compiles on its own).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <mmry/store.hpp>

namespace mmry {
inline namespace v1 {

template <class Traits>
std::size_t detail::store_engine<Traits>::key_count() const {
    if constexpr (!keeps_history) {
        return s_->root().index.size();
    } else if constexpr (layouts == 1 || path_type::existence == path::exists::any) {
        return s_->root().heads.size();
    } else {
        std::size_t n = 0;
        s_->root().heads.scan("", "", [&](std::string_view, const head_type& h) {
            n += latest_slot(h) != nullptr;
            return true;
        });
        return n;
    }
}

template <class Traits>
std::optional<format::record_view> detail::store_engine<Traits>::open_version(
    std::string_view key, std::uint64_t n) const {
    if constexpr (!keeps_history) {
        const record_ref* ref = s_->root().index.find(key);
        if (!ref) return std::nullopt;
        auto v = open_record(key, *ref);
        if (v.meta().version() != n) return std::nullopt;
        return v;
    } else {
        const auto* head = s_->root().heads.find(key);
        const auto* slot = head ? head->find(n) : nullptr;
        if (!slot || !visible(*slot)) return std::nullopt;
        return open_slot(key, *slot);
    }
}

template <class Traits>
std::optional<format::record_view> detail::store_engine<Traits>::open_as_of(
    std::string_view key, std::chrono::system_clock::time_point t) const {
    const std::int64_t ns = to_ns(t);
    if constexpr (!keeps_history) {
        const record_ref* ref = s_->root().index.find(key);
        if (!ref) return std::nullopt;
        auto v = open_record(key, *ref);
        if (v.header().modified_ns > ns) return std::nullopt;
        return v;
    } else {
        const auto* head = s_->root().heads.find(key);
        if (!head) return std::nullopt;
        for (auto it = head->versions.rbegin(); it != head->versions.rend(); ++it)
            if (visible(*it) && it->time_ns <= ns) return open_slot(key, *it);
        return std::nullopt;
    }
}

template <class Traits>
format::record_view detail::store_engine<Traits>::open_slot(
    std::string_view key, const detail::version_slot& slot) const {
    auto v = open_record(key, slot.ref);
    if (v.meta().version() != slot.version)
        throw error(errc::corrupt, "record kept as version " + std::to_string(slot.version) +
                                       " of key " + detail::quote(key) + " holds version " +
                                       std::to_string(v.meta().version()));
    return v;
}

template <class Traits>
format::record_view detail::store_engine<Traits>::open_stored(std::string_view stored_key,
                                                              const record_ref& ref) const {
    const auto bytes = s_->root().bytes(ref);
    const auto probe = format::record_view::parse(bytes, stored_key, cipher_type::tag_size);
    auto v = s_->codec.open(bytes, probe.key());
    check_bound(v, ref);
    for (std::size_t i = 0; i < layouts; ++i)
        if (stored_key_of(i, v) == stored_key) return v;
    throw error(errc::corrupt, "stored key " + detail::quote(stored_key) + " refers to version " +
                                   std::to_string(v.meta().version()) + " of key " +
                                   detail::quote(v.key()) + ", which the path files elsewhere");
}

}  // namespace v1
}  // namespace mmry
