#pragma once
// One of the store's tables (key -> value) over a page index, as one transaction sees it: read
// from the pages of a pinned state and, in a write transaction, changed in a cache of this
// process that write_back() writes as copy-on-write pages at commit (only what changed).
// Thread-safety: a table belongs to the transaction, and so to the thread, that made it.

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <mmry/concepts.hpp>
#include <mmry/detail/describe.hpp>
#include <mmry/detail/tables/codecs.hpp>
#include <mmry/detail/tables/encoding.hpp>

namespace mmry {
inline namespace v1 {
namespace detail {
namespace tables {

/// A view of a transaction's pages and meta words, whether it reads or writes.
template <class Store>
struct view {
    const typename Store::read_txn* r = nullptr;
    typename Store::write_txn* w = nullptr;
    std::uint64_t word(std::size_t i) const { return w ? w->word(i) : r->word(i); }
    std::span<const std::byte> page(pg::page_id p, std::uint64_t n = 1) const {
        return w ? w->page(p, n) : r->page(p, n);
    }
};

/// One table (key -> Codec::value_type) over a page index, cached for one transaction.
template <class Store, class Index, class Codec>
class table {
  public:
    using value_type = typename Codec::value_type;

    table(const view<Store>& v, Index index, std::string what, inline_records* in = nullptr)
        : v_(&v), index_(std::move(index)), what_(std::move(what)), inline_(in) {}

    /// The value of key in this transaction, or nullptr. The pointer stays valid (and, in a
    /// write transaction, changes through it are committed) while the transaction lives.
    value_type* find(std::string_view key) {
        slot* s = load(key);
        return s->now ? &*s->now : nullptr;
    }
    /// Sets key's value; returns the value it replaced.
    std::optional<value_type> upsert(std::string_view key, value_type value) {
        slot* s = load(key);
        auto old = std::exchange(s->now, std::move(value));
        if (!old) ++delta_;
        return old;
    }
    /// Key's value, made (default) when key has none.
    template <class... Ignored>
    value_type& emplace(std::string_view key, Ignored&&...) {
        slot* s = load(key);
        if (!s->now) {
            s->now.emplace(make());
            ++delta_;
        }
        return *s->now;
    }
    std::optional<value_type> erase(std::string_view key) {
        slot* s = load(key);
        auto old = std::exchange(s->now, std::nullopt);
        if (old) --delta_;
        return old;
    }
    std::size_t size() const {
        return static_cast<std::size_t>(static_cast<std::int64_t>(index_.size(*v_)) + delta_);
    }

    /// Calls f(key, value) for the keys that start with prefix (and, with an ordered index,
    /// are not below start, in order) while f returns true; with this transaction's changes.
    /// `checked` false passes entries that fail their checksums too (verify(), which reports
    /// them from the index's own full read).
    template <class F>
    void scan(std::string_view prefix, std::string_view start, F&& f, bool checked = true) {
        bool go = true;
        std::set<std::string, std::less<>> seen;  // keys the cache answered for
        auto each = [&](std::string_view ikey, std::span<const std::byte> entry) {
            if (!go) return false;
            std::string key;
            std::optional<value_type> decoded;
            try {
                decoded.emplace(decode_entry(ikey, entry, &key));
            } catch (const error&) {
                if (checked) throw;
                return true;  // unchecked: a damaged entry, reported by the index's own read
            }
            auto& value = *decoded;
            if (!key.starts_with(prefix)) return true;
            if (auto it = cache_.find(key); it != cache_.end()) {
                seen.insert(key);
                if (!it->second.now) return true;
                go = f(std::string_view(key), std::as_const(*it->second.now));
            } else {
                go = f(std::string_view(key), std::as_const(value));
            }
            return go;
        };
        if constexpr (sorted) {
            const std::string from = index_key(std::max(prefix.substr(0, short_key), start));
            index_.for_each(
                *v_, from,
                [&](std::string_view k, std::span<const std::byte> e) {
                    if (!k.starts_with(prefix.substr(0, short_key))) return false;
                    return each(k, e);
                },
                checked);
        } else {
            index_.for_each(*v_, each, checked);
        }
        // Keys this transaction added.
        for (auto& [k, s] : cache_) {
            if (!go) return;
            if (!s.now || s.base || !k.starts_with(prefix) || (sorted && k < start)) continue;
            if (seen.contains(k)) continue;
            go = f(std::string_view(k), std::as_const(*s.now));
        }
    }

    /// Writes what changed into transaction t's pages (at commit).
    void write_back(typename Store::write_txn& t, std::uint64_t seed) {
        for (auto& [key, s] : cache_) {
            writer now;
            if (s.now) Codec::encode(*s.now, now, inline_);
            if (!s.damaged && !s.rewrite && (s.base ? (s.now && now.str() == *s.base) : !s.now))
                continue;
            const std::string ikey = index_key(key);
            // A damaged entry's blobs are not freed: page numbers read from it are not trusted
            // (they leak instead, and verify() reports them).
            if (s.base_entry && !s.damaged) release(t, ikey, *s.base_entry);
            if (!s.now) {
                index_.erase(t, ikey);
                continue;
            }
            writer entry;
            const bool long_key = key.size() > short_key;
            const std::size_t room = Index::max_entry - ikey.size() - 1 - (long_key ? 16 : 0);
            const bool blob = now.str().size() > room;
            entry.u8(static_cast<std::uint8_t>((long_key ? 1 : 0) | (blob ? 2 : 0)));
            if (long_key) {
                entry.u64(write_blob(t, bytes_of(key)));
                entry.u64(blob_pages(key.size()));
            }
            if (blob) {
                entry.u64(write_blob(t, bytes_of(now.str())));
                entry.u64(blob_pages(now.str().size()));
            } else {
                entry.raw(now.str().data(), now.str().size());
            }
            if constexpr (requires { index_.put(t, ikey, bytes_of(entry.str()), seed); })
                index_.put(t, ikey, bytes_of(entry.str()), seed);
            else
                index_.put(t, ikey, bytes_of(entry.str()));
        }
    }

    /// Compaction: passes every value to `move` (bool(value_type&): true when it changed it,
    /// having moved what it names) and has write_back() rewrite each entry it changed, and each
    /// whose blobs lie at or past page `ceiling` (new blobs come from below it in a confined
    /// transaction). Entries are read checked: a damaged one throws errc::corrupt naming it.
    /// For a write transaction that changed nothing before. O(entries).
    template <class Move>
    void relocate(pg::page_id ceiling, Move&& move) {
        std::vector<std::pair<std::string, std::optional<value_type>>> todo;
        // Records in entries are borrowed from the pages while they are looked at, and forgotten
        // after (move() changes only records with pages of their own): no copy of the table.
        struct borrowing {
            inline_records* in;
            bool was = in ? in->borrowing(true) : false;
            ~borrowing() {
                if (in) in->borrowing(was);
            }
        } guard{inline_};
        auto each = [&](std::string_view ikey, std::span<const std::byte> entry) {
            std::string key;
            const std::size_t held = inline_ ? inline_->size() : 0;
            value_type value = decode_entry(ikey, entry, &key);
            const bool changed = move(value);
            if (inline_ && !changed) inline_->forget(held);
            bool high = false;
            reader r(entry, what_);
            const auto flags = r.u8();
            for (int bit : {1, 2})
                if (flags & bit) {
                    const auto p = r.u64(), n = r.u64();
                    high = high || p + n > ceiling;
                }
            if (changed)
                todo.emplace_back(std::move(key), std::move(value));
            else if (high)
                todo.emplace_back(std::move(key), std::nullopt);
            return true;
        };
        if constexpr (sorted)
            index_.for_each(*v_, "", each);
        else
            index_.for_each(*v_, each);
        for (auto& [key, value] : todo) {
            slot* s = load(key);
            if (value) s->now = std::move(*value);
            s->rewrite = true;
        }
    }
    /// Compaction, after write_back(): moves the index's own pages at or past `ceiling` (an
    /// index that cannot move its pages keeps them where they are).
    void relocate_pages(typename Store::write_txn& t, pg::page_id ceiling) {
        if constexpr (requires { index_.relocate(t, ceiling); }) index_.relocate(t, ceiling);
    }

    /// Calls mark(first, n) for every page of the table: the index's and its blobs'.
    template <class Mark>
    void mark(Mark&& mark) {
        index_.mark(*v_, mark);
        auto each = [&](std::string_view ikey, std::span<const std::byte> entry) {
            reader r(entry, what_);
            const auto flags = r.u8();
            for (int bit : {1, 2})
                if (flags & bit) {
                    const auto p = r.u64(), n = r.u64();
                    read_blob(*v_, p, n, name(ikey));
                    mark(p, n);
                }
            return true;
        };
        if constexpr (sorted)
            index_.for_each(*v_, "", each);
        else
            index_.for_each(*v_, each);
    }

    /// Key's entry in this state, unchecked, as its page holds it (a test seam).
    std::optional<std::span<const std::byte>> raw_entry(std::string_view key) const {
        return index_.find_unchecked(*v_, index_key(key));
    }

    /// Repair: the keys of the entries of this state that fail their checks but can still be
    /// found by their key (find() then reads them unchecked, to be replaced or erased), and the
    /// keys as filed of those that cannot (their key is damaged too; an empty one when the walk
    /// stopped at damage): an unchecked scan must pass those by.
    struct damage {
        std::vector<std::string> keys;
        std::set<std::string, std::less<>> lost;
    };
    damage damaged() const {
        damage out;
        auto& keys = out.keys;
        auto lost = [&](std::string_view ikey) { out.lost.emplace(ikey); };
        auto each = [&](std::string_view ikey, std::span<const std::byte> entry) {
            try {
                if (index_.find(*v_, ikey)) return true;  // sound
                lost(ikey);  // not found by its own key: a damaged key or hash
            } catch (const error& e) {
                if (e.code_value() != errc::corrupt) throw;
                if (ikey.size() <= short_key) {
                    keys.emplace_back(ikey);
                    return true;
                }
                try {  // a long key, read from its blob
                    std::string key;
                    (void)decode_entry(ikey, entry, &key);
                    keys.push_back(std::move(key));
                } catch (const error&) {
                    lost(ikey);
                }
            }
            return true;
        };
        try {
            if constexpr (sorted)
                index_.for_each(*v_, "", each, false);
            else
                index_.for_each(*v_, each, false);
        } catch (const error&) {
            lost("");
        }
        return out;
    }

    /// The problems a full read of the index finds.
    std::vector<std::string> verify() const { return index_.verify(*v_); }

  private:
    // (A test with a lambda for the visitor would say yes for any index: a lambda without
    // captures converts to bool, the type of an unsorted for_each's third parameter.)
    static constexpr bool sorted = sorted_page_index<Index>;

    struct slot {
        std::optional<value_type> now;
        std::optional<std::string> base;  // the encoded value in the state read (none: absent)
        std::optional<std::string> base_entry;  // that state's entry bytes (for its blobs)
        bool damaged = false;  // the entry fails its checksum: written back whatever it holds
        bool rewrite = false;  // written back even when unchanged (compaction moves its blobs)
    };

    static value_type make() {
        if constexpr (std::is_constructible_v<value_type, std::allocator<char>>)
            return value_type(std::allocator<char>());
        else
            return value_type{};
    }

    std::string name(std::string_view ikey) const {
        return what_ + " entry " + quote(ikey.substr(0, std::min<std::size_t>(ikey.size(), 64)));
    }

    slot* load(std::string_view key) {
        if (auto it = cache_.find(key); it != cache_.end()) return &it->second;
        slot s;
        std::string buf;
        const std::string_view ikey = index_key(key, buf);
        const bool writing = v_->w != nullptr;
        std::optional<std::span<const std::byte>> entry;
        try {
            entry = index_.find(*v_, ikey);
        } catch (const error& e) {
            if (e.code_value() != errc::corrupt) throw;
            // A reader is told, naming the key. A writer may still erase or replace the key: it
            // reads the entry unchecked, and writes it back whatever it does.
            if (!writing)
                throw error(errc::corrupt, "key " + quote(key.substr(0, 64)) + ": " + e.detail());
            entry = index_.find_unchecked(*v_, ikey);
            s.damaged = true;
        }
        if (entry) {
            try {
                // Only a writer keeps the state's bytes: to tell what changed, and free blobs.
                std::string encoded;
                s.now = decode_entry(ikey, *entry, nullptr, writing ? &encoded : nullptr, &key);
                if (writing) s.base = std::move(encoded);
            } catch (const error&) {
                if (!s.damaged) throw;
                s.now.reset();  // nothing to read in it: absent to the writer, removed below
            }
            if (writing)
                s.base_entry =
                    std::string(reinterpret_cast<const char*>(entry->data()), entry->size());
        }
        return &cache_.emplace(std::string(key), std::move(s)).first->second;
    }

    // An entry's value. Its key goes into *key and its encoded value into *encoded, when asked;
    // the key (a long key is read from its blob) is checked to be filed under ikey, and to be
    // *expect when given. Names are only made for errors: this is every read's path.
    value_type decode_entry(std::string_view ikey, std::span<const std::byte> entry,
                            std::string* key, std::string* encoded = nullptr,
                            const std::string_view* expect = nullptr) const {
        reader r(entry, what_, ikey);
        const auto flags = r.u8();
        if (flags > 3) throw error(errc::corrupt, r.name() + " has unknown flags");
        std::string_view real = ikey;
        if (flags & 1) {
            const auto p = r.u64(), n = r.u64();
            const auto k = read_blob(*v_, p, n, r.name());
            real = {reinterpret_cast<const char*>(k.data()), k.size()};
            if (index_key(real) != ikey)
                throw error(errc::corrupt, r.name() + ": the key in its blob is filed elsewhere");
        }
        if (expect && real != *expect)
            throw error(errc::corrupt, r.name() + " holds key " + quote(real.substr(0, 64)) +
                                           ", not " + quote(expect->substr(0, 64)));
        if (key) key->assign(real);
        std::span<const std::byte> bytes = r.rest();
        if (flags & 2) {
            const auto p = r.u64(), n = r.u64();
            r.done();
            bytes = read_blob(*v_, p, n, r.name());
        }
        if (encoded) encoded->assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        reader body(bytes, what_, ikey);
        value_type out = Codec::decode(body, inline_);
        body.done();
        return out;
    }

    void release(typename Store::write_txn& t, std::string_view ikey, const std::string& entry) {
        reader r(bytes_of(entry), what_);
        const auto flags = r.u8();
        for (int bit : {1, 2})
            if (flags & bit) {
                const auto p = r.u64(), n = r.u64();
                (void)ikey;
                t.free(p, n);
            }
    }

    const view<Store>* v_;
    Index index_;
    std::string what_;
    inline_records* inline_;
    std::map<std::string, slot, std::less<>> cache_;
    std::int64_t delta_ = 0;
};

}  // namespace tables
}  // namespace detail
}  // namespace v1
}  // namespace mmry
