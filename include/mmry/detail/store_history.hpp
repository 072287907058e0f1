#pragma once
// basic_store's history and retention, out of line (path policies that keep history):
// set_version, rollback, and prune by a retention rule, for one key or every key.
// mmry/store.hpp includes this header after the class (and it includes mmry/store.hpp, so it
// also compiles on its own).

#include <cstdint>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include <mmry/store.hpp>

namespace mmry {
inline namespace v1 {

template <class Traits>
void basic_store<Traits>::set_version(std::string_view key, version n) requires keeps_history {
    auto lock = s_->write();
    auto* head = s_->root().heads.find(key);
    if (!head || head->versions.empty())
        throw error(errc::invalid_argument,
                    "set_version: key " + detail::quote(key) + " has no version yet");
    if (n.number <= head->versions.back().version)
        throw error(errc::invalid_argument, "set_version: version " + std::to_string(n.number) +
                                                " of key " + detail::quote(key) +
                                                " is not above its latest version " +
                                                std::to_string(head->versions.back().version));
    head->next_version = n.number;
    lock.commit();
}

template <class Traits>
std::optional<version> basic_store<Traits>::rollback(std::string_view key,
                                                     version v) requires keeps_history {
    auto value = get(key, v);
    auto meta = metadata(key, v);
    if (!value || !meta) return std::nullopt;
    return put(key, byte_view(*value),
               put_options{meta->content_type, meta->tags, meta->attributes});
}

template <class Traits>
std::size_t basic_store<Traits>::prune(std::string_view key,
                                       const retention& r) requires keeps_history {
    std::size_t erased = 0;
    {
        auto lock = s_->write();
        auto* head = s_->root().heads.find(key);
        if (!head) return 0;
        erased = prune_head(key, *head, r);
        s_->root().counters().erases += erased;
        lock.commit();
    }
    if (erased) s_->cache.erase(key);
    return erased;
}

template <class Traits>
std::size_t basic_store<Traits>::prune(const retention& r) requires keeps_history {
    std::vector<std::string> keys;
    {
        auto lock = s_->read();
        s_->root().heads.scan("", "", [&](std::string_view k, const head_type&) {
            keys.emplace_back(k);
            return true;
        });
    }
    std::size_t erased = 0;
    for (const auto& k : keys) erased += prune(k, r);
    return erased;
}

template <class Traits>
std::size_t detail::store_engine<Traits>::prune_head(std::string_view key, head_type& head,
                                                     const retention& r) {
    if (head.versions.empty()) return 0;
    const std::int64_t newer = r.newer_than ? to_ns(*r.newer_than) : 0;
    const std::uint64_t newest = head.versions.back().version;
    std::vector<std::uint64_t> doomed;
    std::size_t rank = 0;  // 0 for the newest version
    for (auto it = head.versions.rbegin(); it != head.versions.rend(); ++it, ++rank) {
        const bool by_count = r.keep_last > 0 && rank < r.keep_last;
        const bool by_time = r.newer_than && it->time_ns > newer;
        const bool no_rule = r.keep_last == 0 && !r.newer_than;
        if (it->version != newest && !by_count && !by_time && !no_rule)
            doomed.push_back(it->version);
    }
    for (auto v : doomed) remove_slot(key, head, head.at(v));
    return doomed.size();
}

}  // namespace v1
}  // namespace mmry
