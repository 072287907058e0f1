#pragma once
// basic_store's erase, out of line: removing a key, one version or one stored key, and the
// bookkeeping of versions that removal needs (whose record it is, which layout files it, clearing
// a layout's bit, dropping a version with its stored keys and record).
// mmry/store.hpp includes this header after the class (and it includes mmry/store.hpp, so it
// also compiles on its own).

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <mmry/store.hpp>

namespace mmry {
inline namespace v1 {

template <class Traits>
std::optional<mmry::metadata> detail::store_engine<Traits>::erase_key(std::string_view key,
                                                                      std::uint64_t want) {
    std::optional<mmry::metadata> removed;
    {
        auto lock = s_->write();
        if (!erase_in_txn(key, want, removed)) return std::nullopt;
        lock.commit();
    }
    s_->cache.erase(key);
    return removed;
}

template <class Traits>
bool detail::store_engine<Traits>::erase_in_txn(std::string_view key, std::uint64_t want,
                                                std::optional<mmry::metadata>& removed) {
    auto& root = s_->root();
    if constexpr (!keeps_history) {
        const record_ref* ref = root.index.find(key);
        if (!ref) return false;
        const record_ref old = *ref;
        removed = describe_or_size(key, old);
        if (want != 0 && removed->version.number != want) {
            removed.reset();
            return false;
        }
        root.index.erase(key);
        free_record(old);
    } else {
        auto* head = root.heads.find(key);
        if (!head) return false;
        if (want != 0) {
            auto it = head->at(want);
            if (it == head->versions.end() || !visible(*it)) return false;
            removed = describe_or_size(key, it->ref);
            remove_slot(key, *head, it);
        } else {
            // What it removes: the current version, or the newest kept one when no version is
            // present under the existence strategy (then still removed).
            const auto* slot = latest_slot(*head);
            if (!slot && !head->versions.empty()) slot = &head->versions.back();
            if (slot) removed = describe_or_size(key, slot->ref);
            while (!head->versions.empty()) remove_slot(key, *head, head->versions.end() - 1);
        }
        if (head->versions.empty()) root.heads.erase(key);
    }
    ++root.counters().erases;
    return true;
}

template <class Traits>
std::optional<mmry::metadata> basic_store<Traits>::erase_stored(std::string_view stored_key) {
    std::optional<mmry::metadata> removed;
    std::string owner;
    {
        auto lock = s_->write();
        const record_ref* found = s_->root().index.find(stored_key);
        if (!found) return std::nullopt;
        const record_ref ref = *found;
        owner = owner_of(ref).value_or(std::string(stored_key));
        removed = describe_or_size(owner, ref);
        s_->root().index.erase(stored_key);
        if constexpr (!keeps_history) {
            free_record(ref);
        } else {
            release(ref, layout_of(stored_key, owner, ref));
        }
        ++s_->root().counters().erases;
        lock.commit();
    }
    s_->cache.erase(owner);
    return removed;
}

template <class Traits>
std::optional<std::string> detail::store_engine<Traits>::owner_of(const record_ref& ref) const {
    try {
        return std::string(
            format::record_view::parse(s_->root().bytes(ref), "", cipher_type::tag_size).key());
    } catch (const error&) {
        return std::nullopt;
    }
}

template <class Traits>
std::size_t detail::store_engine<Traits>::layout_of(std::string_view stored_key,
                                                    std::string_view owner,
                                                    const record_ref& ref) const {
    try {
        const auto v = open_record(owner, ref);
        for (std::size_t i = 0; i < layouts; ++i)
            if (stored_key_of(i, v) == stored_key) return i;
    } catch (const error&) {
    }
    return 0;
}

template <class Traits>
void detail::store_engine<Traits>::release(const record_ref& ref, std::size_t layout) {
    auto& heads = s_->root().heads;
    auto drop_from = [&](std::string_view owner, head_type& h) {
        for (auto it = h.versions.begin(); it != h.versions.end(); ++it)
            if (it->ref.where == ref.where) {
                it->layouts &= ~(std::uint32_t{1} << layout);
                if (it->layouts == 0) forget_slot(h, it);
                if (h.versions.empty()) heads.erase(owner);
                return true;
            }
        return false;
    };
    if (const auto owner = owner_of(ref))
        if (auto* h = heads.find(*owner); h && drop_from(*owner, *h)) return;
    // A damaged record: find its owner the slow way.
    std::optional<std::string> owner;
    heads.scan("", "", [&](std::string_view k, const head_type& h) {
        for (const auto& s : h.versions)
            if (s.ref.where == ref.where) return !(owner = std::string(k));
        return true;
    });
    if (owner) drop_from(*owner, *heads.find(*owner));
}

template <class Traits>
void detail::store_engine<Traits>::remove_slot(std::string_view key, head_type& head,
                                               slot_iterator it) {
    auto& index = s_->root().index;
    const record_ref ref = it->ref;
    std::vector<std::string> keys;
    try {
        const auto v = open_slot(key, *it);
        for (std::size_t i = 0; i < layouts; ++i)
            if (it->layouts & (std::uint32_t{1} << i)) keys.push_back(stored_key_of(i, v));
    } catch (const error&) {
        // A damaged record: find the stored keys that refer to it the slow way.
        index.scan("", "", [&](std::string_view k, const record_ref& r) {
            if (r.where == ref.where) keys.emplace_back(k);
            return true;
        });
    }
    for (const auto& k : keys)
        if (const record_ref* r = index.find(k); r && r->where == ref.where) index.erase(k);
    forget_slot(head, it);
}

template <class Traits>
void detail::store_engine<Traits>::forget_slot(head_type& head, slot_iterator it) {
    free_record(it->ref);
    head.versions.erase(it);
}

}  // namespace v1
}  // namespace mmry
