#pragma once
// value_cache: the per-process cache of decoded values of a store. A store shared between
// processes keeps one cache in each process; nothing of it lives in the arena.
//
// Entries are keyed by the store key and tagged with a stamp, the record's unique write sequence
// number: find(key, stamp) hands out a value only when the entry has exactly that stamp, so a
// value rewritten since (by this process or another) is never served. Least-recently-used entries
// are evicted to keep the charged bytes within the budget.
//
// Charge: each entry costs value size + key size + entry_overhead (64) bytes, an estimate of the
// list node, the index node and the value's control block. stats().bytes is the sum of charges and
// never exceeds the budget. A budget of 0 disables the cache: find() returns nullptr and counts
// nothing, insert() does nothing.
//
// Thread-safety: every member function may be called from any number of threads at once (one
// mutex). Values are handed out as shared_ptr, so a value evicted, erased or replaced stays valid
// for a reader that holds it. Under the mutex the cache only relinks nodes (and, for a new key,
// allocates an index node, rarely rehashing); the caller builds the value, the entry is built
// before locking and dropped values are freed after unlocking.
// Complexity: find, insert and erase are O(1) on average (plus hashing the key); clear is O(n).
// Errors: only insert() throws, std::bad_alloc, and then the cache is unchanged.

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <mmry/bytes.hpp>

namespace mmry {
inline namespace v1 {
namespace detail {

/// Counters of a value_cache. hits and misses count find() calls (a stale stamp is a miss);
/// evictions count entries dropped to stay within the budget (not erase(), clear(), a replacement
/// or a stale entry dropped by find()). entries and bytes describe the cache now.
struct cache_stats {
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
    std::uint64_t evictions = 0;
    std::uint64_t entries = 0;
    std::uint64_t bytes = 0;   ///< sum of the entries' charges, <= budget
    std::uint64_t budget = 0;  ///< as given at construction
};

class value_cache {
  public:
    using value_ptr = std::shared_ptr<const bytes>;

    /// What an entry costs on top of its key and value bytes.
    static constexpr std::size_t entry_overhead = 64;

    /// A cache that holds at most `budget_bytes` of charged bytes; 0 disables it.
    explicit value_cache(std::size_t budget_bytes) noexcept : budget_(budget_bytes) {}

    value_cache(const value_cache&) = delete;
    value_cache& operator=(const value_cache&) = delete;

    /// The value cached for `key` if it has exactly `stamp`, else nullptr. A hit makes the entry
    /// the most recently used; an entry with another stamp is dropped (a miss).
    value_ptr find(std::string_view key, std::uint64_t stamp) noexcept {
        if (budget_ == 0) return nullptr;
        entry_list dropped;  // freed after unlocking
        std::lock_guard lock(mutex_);
        const auto at = index_.find(key);
        if (at == index_.end()) {
            ++misses_;
            return nullptr;
        }
        const auto it = at->second;
        if (it->stamp != stamp) {
            ++misses_;
            unlink(it, dropped);
            return nullptr;
        }
        ++hits_;
        lru_.splice(lru_.begin(), lru_, it);
        return it->value;
    }

    /// Caches `value` as the value of `key` at `stamp`, replacing any entry for `key`, and evicts
    /// least-recently-used entries until the budget holds. A value whose charge exceeds the whole
    /// budget, or a null value, is not cached (and any entry for `key` is dropped).
    /// Throws std::bad_alloc (the cache is then unchanged).
    void insert(std::string_view key, std::uint64_t stamp, value_ptr value) {
        if (budget_ == 0) return;
        if (!value || !fits(key.size(), value->size())) return erase(key);
        const std::size_t charge = key.size() + value->size() + entry_overhead;

        entry_list fresh;  // built before locking; after, holds what is to be freed
        fresh.push_back(entry{std::string(key), stamp, std::move(value), charge});
        std::lock_guard lock(mutex_);
        if (const auto at = index_.find(key); at != index_.end()) {
            entry& old = *at->second;  // reused in place: its key is what the index views
            bytes_ -= old.charge;
            std::swap(old.value, fresh.front().value);
            old.stamp = stamp;
            old.charge = charge;
            lru_.splice(lru_.begin(), lru_, at->second);
        } else {
            index_.emplace(std::string_view(fresh.front().key), fresh.begin());  // may throw
            lru_.splice(lru_.begin(), fresh);
        }
        bytes_ += charge;
        // The new entry is the most recent and fits alone: the loop stops before reaching it.
        while (bytes_ > budget_) {
            unlink(std::prev(lru_.end()), fresh);
            ++evictions_;
        }
    }

    /// Drops the entry for `key`, if any.
    void erase(std::string_view key) noexcept {
        if (budget_ == 0) return;
        entry_list dropped;
        std::lock_guard lock(mutex_);
        if (const auto at = index_.find(key); at != index_.end()) unlink(at->second, dropped);
    }

    /// Drops every entry (the hit, miss and eviction counters go on).
    void clear() noexcept {
        entry_list dropped;
        index_map dropped_index;
        std::lock_guard lock(mutex_);
        dropped.swap(lru_);
        dropped_index.swap(index_);
        bytes_ = 0;
    }

    cache_stats stats() const noexcept {
        std::lock_guard lock(mutex_);
        return {hits_, misses_, evictions_, lru_.size(), bytes_, budget_};
    }

  private:
    struct entry {
        std::string key;
        std::uint64_t stamp;
        value_ptr value;
        std::size_t charge;
    };
    using entry_list = std::list<entry>;
    // Views the keys held by the list's nodes, which never move while linked.
    using index_map = std::unordered_map<std::string_view, entry_list::iterator>;

    bool fits(std::size_t key_size, std::size_t value_size) const noexcept {
        return value_size <= budget_ && key_size <= budget_ - value_size &&
               entry_overhead <= budget_ - value_size - key_size;
    }

    /// Moves `it` out of the cache into `graveyard` (REQUIRES: the mutex is held).
    void unlink(entry_list::iterator it, entry_list& graveyard) noexcept {
        index_.erase(std::string_view(it->key));
        bytes_ -= it->charge;
        graveyard.splice(graveyard.end(), lru_, it);
    }

    const std::size_t budget_;
    mutable std::mutex mutex_;
    entry_list lru_;  // most recently used first
    index_map index_;
    std::size_t bytes_ = 0;
    std::uint64_t hits_ = 0;
    std::uint64_t misses_ = 0;
    std::uint64_t evictions_ = 0;
};

}  // namespace detail
}  // namespace v1
}  // namespace mmry
