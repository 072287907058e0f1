#pragma once
// The store's tables on pages (docs/DECISIONS.md §11.2), as one transaction sees them: the index
// of stored keys, the heads of logical keys (history), the chunk table (folding) and the
// counters, each read from the pages of a pinned state and, in a write transaction, changed in a
// cache of this process that commit() writes back as copy-on-write pages.
//
// - Values are encoded little-endian; an entry that would pass the page index's limit keeps its
//   value (and a key over short_key bytes keeps its key) in a blob: a run of pages that starts
//   with its own length and checksum, named from the entry.
// - A key over short_key bytes is filed under its first short_key bytes and its SHA-256, so
//   that a key of up to 64 KiB has an entry; its whole key, in a blob, is compared at each
//   lookup. With index::ordered such keys sort by their first short_key bytes, then by hash.
// - Meta words: 0-3 the index, 4-7 the heads, 8-11 the chunk table, 12-13 the counters blob
//   (first page, pages), 14 the current dictionary's id; 15 is the page layer's (the sequence
//   high-water).
//
// Thread-safety: a tables object belongs to the thread that made it (see store_state.hpp).
// Errors: errc::corrupt for any entry or blob that fails its checks, naming it.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <cryptopp/sha.h>

#include <mmry/bytes.hpp>
#include <mmry/detail/history.hpp>
#include <mmry/detail/le.hpp>
#include <mmry/detail/pages/hash_index.hpp>
#include <mmry/detail/pages/page_store.hpp>
#include <mmry/detail/pages/tree_index.hpp>
#include <mmry/error.hpp>
#include <mmry/format/manifest.hpp>
#include <mmry/format/record.hpp>
#include <mmry/handle.hpp>

namespace mmry {
inline namespace v1 {
namespace detail {

inline constexpr std::size_t size_classes = 48;  // records of < 2^k bytes, k = 0..47
inline constexpr std::size_t level_slots = 256;  // frames by the signed level byte of their entry

/// What a chunk holds: bytes of values, or a piece of a manifest (format/manifest.hpp).
enum class chunk_kind : std::uint8_t { data = 0, piece = 1 };

/// A distinct chunk of folded values, filed under its reference (the first 16 bytes of its id):
/// its whole id, its record, what it holds, and how many manifest entries (of records or of
/// pieces) refer to it.
struct chunk_slot {
    record_ref ref;
    std::uint64_t refs = 0;
    format::hash_bytes id{};
    chunk_kind kind = chunk_kind::data;
};

/// A trained dictionary: its record and the records using it.
struct dictionary_slot {
    std::uint32_t id = 0;
    std::uint64_t bytes = 0;
    record_ref ref;
    std::uint64_t records = 0;
};

/// The key a dictionary's record is stored under.
inline std::string dictionary_key(std::uint32_t id) {
    return "mmry.dictionary/" + std::to_string(id);
}

/// A chunk's name in messages: the first 8 bytes of its reference, in hex.
inline std::string chunk_name(const format::chunk_reference& ref) {
    return hex(std::span<const std::byte>(ref).first(8));
}

/// The store's exact counters, and its dictionaries.
struct store_counters {
    std::uint64_t logical_bytes = 0, stored_bytes = 0, frames = 0, compressed_frames = 0;
    std::uint64_t puts = 0, erases = 0;
    std::uint64_t records = 0;  ///< records kept (a record filed under several stored keys: one)
    std::uint64_t folded_values = 0, folded_logical = 0;  ///< records holding a manifest
    std::uint64_t chunk_refs = 0, chunk_logical = 0, chunk_stored = 0, pieces = 0;
    std::uint64_t dictionary_stored = 0;
    std::uint64_t payload_bytes = 0;  ///< frames' stored bytes, of records and chunks
    std::array<std::uint64_t, size_classes> class_blocks{}, class_bytes{};
    std::array<std::uint64_t, level_slots> level_frames{};
    std::vector<dictionary_slot> dictionaries;
};

namespace tables {

namespace pg = pages;

inline constexpr std::size_t index_words = 0, head_words = 4, chunk_words = 8;
inline constexpr std::size_t counters_page = 12, counters_pages = 13, dictionary_word = 14;
inline constexpr std::size_t short_key = 440;
inline constexpr std::size_t blob_head = 16;  // u64 length, u64 checksum

/// Appends and reads little-endian fields.
class writer {
  public:
    void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
    void u32(std::uint32_t v) { raw(&v, 4); }
    void u64(std::uint64_t v) { raw(&v, 8); }
    void raw(const void* p, std::size_t n) {
        out_.append(static_cast<const char*>(p), n);  // little-endian hosts only (le.hpp)
    }
    void ref(const record_ref& r) {
        u64(r.where.raw());
        u64(r.size);
        u64(r.logical_size);
        u32(r.frames);
        u32(r.compressed_frames);
    }
    std::string& str() { return out_; }

  private:
    std::string out_;
};

class reader {
  public:
    reader(std::span<const std::byte> in, const std::string& what) : in_(in), what_(what) {}
    std::uint8_t u8() { return static_cast<std::uint8_t>(take(1)[0]); }
    std::uint32_t u32() { return load_le<std::uint32_t>(take(4).data()); }
    std::uint64_t u64() { return load_le<std::uint64_t>(take(8).data()); }
    std::span<const std::byte> take(std::size_t n) {
        if (n > in_.size())
            throw error(errc::corrupt, what_ + " is " + std::to_string(at_ + in_.size()) +
                                           " bytes long, too short for what it holds");
        auto out = in_.first(n);
        in_ = in_.subspan(n);
        at_ += n;
        return out;
    }
    record_ref ref() {
        record_ref r;
        r.where = handle::from_raw(u64());
        r.size = u64();
        r.logical_size = u64();
        r.frames = u32();
        r.compressed_frames = u32();
        return r;
    }
    std::span<const std::byte> rest() const noexcept { return in_; }
    void done() const {
        if (!in_.empty())
            throw error(errc::corrupt,
                        what_ + " has " + std::to_string(in_.size()) + " bytes more than it holds");
    }

  private:
    std::span<const std::byte> in_;
    std::size_t at_ = 0;
    const std::string& what_;
};

inline std::span<const std::byte> bytes_of(std::string_view s) noexcept {
    return std::as_bytes(std::span(s.data(), s.size()));
}

/// The pages of a blob of n bytes.
inline std::uint64_t blob_pages(std::uint64_t n) noexcept {
    return (n + blob_head + pg::page_size - 1) / pg::page_size;
}

/// A run of pages holding `data`, written in transaction t; returns its first page.
template <class Txn>
pg::page_id write_blob(Txn& t, std::span<const std::byte> data) {
    const std::uint64_t n = blob_pages(data.size());
    const pg::page_id p = t.allocate(n);
    auto out = t.write(p, n);
    store_le<std::uint64_t>(out.data(), data.size());
    store_le<std::uint64_t>(out.data() + 8, pg::checksum(data.data(), data.size()));
    std::memcpy(out.data() + blob_head, data.data(), data.size());
    return p;
}

/// The bytes of the blob at p of n pages, checked.
template <class View>
std::span<const std::byte> read_blob(const View& v, pg::page_id p, std::uint64_t n,
                                     const std::string& what) {
    if (n == 0 || n > (std::uint64_t{1} << 24))
        throw error(errc::corrupt, what + " names a blob of " + std::to_string(n) + " pages");
    const auto run = v.page(p, n);
    const std::uint64_t size = load_le<std::uint64_t>(run.data());
    if (size > run.size() - blob_head || blob_pages(size) != n)
        throw error(errc::corrupt, what + ": its blob at page " + std::to_string(p) + " claims " +
                                       std::to_string(size) + " bytes in " + std::to_string(n) +
                                       " pages");
    const auto data = run.subspan(blob_head, size);
    if (load_le<std::uint64_t>(run.data() + 8) != pg::checksum(data.data(), data.size()))
        throw error(errc::corrupt,
                    what + ": its blob at page " + std::to_string(p) + " fails its checksum");
    return data;
}

/// The key an entry is filed under: the key itself, or for a long key its first short_key
/// bytes and its SHA-256.
inline std::string index_key(std::string_view key) {
    if (key.size() <= short_key) return std::string(key);
    std::string out(key.substr(0, short_key));
    std::array<CryptoPP::byte, CryptoPP::SHA256::DIGESTSIZE> digest{};
    CryptoPP::SHA256().CalculateDigest(
        digest.data(), reinterpret_cast<const CryptoPP::byte*>(key.data()), key.size());
    out.append(reinterpret_cast<const char*>(digest.data()), digest.size());
    return out;
}

// Value codecs: a value type and its bytes.
struct record_codec {
    using value_type = record_ref;
    static void encode(const record_ref& r, writer& w) { w.ref(r); }
    static record_ref decode(reader& r) { return r.ref(); }
};

template <class Head>
struct head_codec {
    using value_type = Head;
    static void encode(const Head& h, writer& w) {
        w.u64(h.next_version);
        w.u64(static_cast<std::uint64_t>(h.created_ns));
        w.u32(static_cast<std::uint32_t>(h.versions.size()));
        for (const auto& s : h.versions) {
            w.u64(s.version);
            w.u64(static_cast<std::uint64_t>(s.time_ns));
            w.ref(s.ref);
            w.u32(s.layouts);
        }
    }
    static Head decode(reader& r) {
        Head h{std::allocator<char>()};
        h.next_version = r.u64();
        h.created_ns = static_cast<std::int64_t>(r.u64());
        const std::uint32_t n = r.u32();
        if (n > r.rest().size() / 52) r.take(r.rest().size() + 1);  // too many: reported short
        h.versions.reserve(n);
        for (std::uint32_t i = 0; i < n; ++i) {
            detail::version_slot s;
            s.version = r.u64();
            s.time_ns = static_cast<std::int64_t>(r.u64());
            s.ref = r.ref();
            s.layouts = r.u32();
            h.versions.push_back(s);
        }
        return h;
    }
};

struct chunk_codec {
    using value_type = chunk_slot;
    static void encode(const chunk_slot& c, writer& w) {
        w.ref(c.ref);
        w.u64(c.refs);
        w.raw(c.id.data(), c.id.size());
        w.u8(static_cast<std::uint8_t>(c.kind));
    }
    static chunk_slot decode(reader& r) {
        chunk_slot c;
        c.ref = r.ref();
        c.refs = r.u64();
        std::memcpy(c.id.data(), r.take(c.id.size()).data(), c.id.size());
        c.kind = static_cast<chunk_kind>(r.u8());
        return c;
    }
};

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

    table(const view<Store>& v, Index index, std::string what)
        : v_(&v), index_(std::move(index)), what_(std::move(what)) {}

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
    template <class F>
    void scan(std::string_view prefix, std::string_view start, F&& f) {
        bool go = true;
        std::set<std::string, std::less<>> seen;  // keys the cache answered for
        auto each = [&](std::string_view ikey, std::span<const std::byte> entry) {
            if (!go) return false;
            std::string key;
            auto value = decode_entry(ikey, entry, &key);
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
        if constexpr (requires { index_.for_each(*v_, start, each); }) {
            const std::string from = index_key(std::max(prefix.substr(0, short_key), start));
            index_.for_each(*v_, from, [&](std::string_view k, std::span<const std::byte> e) {
                if (!k.starts_with(prefix.substr(0, short_key))) return false;
                return each(k, e);
            });
        } else {
            index_.for_each(*v_, each);
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
            if (s.now) Codec::encode(*s.now, now);
            if (s.base ? (s.now && now.str() == *s.base) : !s.now) continue;
            const std::string ikey = index_key(key);
            if (s.base_entry) release(t, ikey, *s.base_entry);
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
        if constexpr (requires { index_.for_each(*v_, "", each); })
            index_.for_each(*v_, "", each);
        else
            index_.for_each(*v_, each);
    }

    /// The problems a full read of the index finds.
    std::vector<std::string> verify() const { return index_.verify(*v_); }

  private:
    static constexpr bool sorted = requires(const Index& i, const view<Store>& v) {
        i.for_each(v, std::string_view(),
                   [](std::string_view, std::span<const std::byte>) { return true; });
    };

    struct slot {
        std::optional<value_type> now;
        std::optional<std::string> base;  // the encoded value in the state read (none: absent)
        std::optional<std::string> base_entry;  // that state's entry bytes (for its blobs)
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
        const std::string ikey = index_key(key);
        if (const auto entry = index_.find(*v_, ikey)) {
            std::string real;
            std::string encoded;
            s.now = decode_entry(ikey, *entry, &real, &encoded);
            if (real != key)
                throw error(errc::corrupt, name(ikey) + " holds key " + quote(real.substr(0, 64)) +
                                               ", not " + quote(key.substr(0, 64)));
            s.base = std::move(encoded);
            s.base_entry = std::string(reinterpret_cast<const char*>(entry->data()), entry->size());
        }
        return &cache_.emplace(std::string(key), std::move(s)).first->second;
    }

    // An entry's value (and key, and encoded value).
    value_type decode_entry(std::string_view ikey, std::span<const std::byte> entry,
                            std::string* key, std::string* encoded = nullptr) const {
        const std::string what = name(ikey);
        reader r(entry, what);
        const auto flags = r.u8();
        if (flags > 3) throw error(errc::corrupt, what + " has unknown flags");
        if (flags & 1) {
            const auto p = r.u64(), n = r.u64();
            const auto k = read_blob(*v_, p, n, what);
            key->assign(reinterpret_cast<const char*>(k.data()), k.size());
            if (index_key(*key) != ikey)
                throw error(errc::corrupt, what + ": the key in its blob is filed elsewhere");
        } else {
            key->assign(ikey);
        }
        std::span<const std::byte> bytes = r.rest();
        if (flags & 2) {
            const auto p = r.u64(), n = r.u64();
            r.done();
            bytes = read_blob(*v_, p, n, what);
        }
        if (encoded) encoded->assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        reader body(bytes, what);
        value_type out = Codec::decode(body);
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
    std::map<std::string, slot, std::less<>> cache_;
    std::int64_t delta_ = 0;
};

/// What one transaction sees of a store: its tables, counters and records. Made by a reader
/// (a pinned state) or by the writer (a write transaction whose commit() writes the changes).
template <class Store, class KeyIndex, class Head>
class context {
  public:
    using read_txn = typename Store::read_txn;
    using write_txn = typename Store::write_txn;

    context(Store& s, const std::string& name) : store_(&s), name_(name) {
        read_.emplace(s.read());
        v_.r = &*read_;
    }
    struct for_write {};
    context(Store& s, const std::string& name, for_write) : store_(&s), name_(name) {
        write_.emplace(s);
        v_.w = &write_->t;
    }
    context(const context&) = delete;
    context& operator=(const context&) = delete;

    bool writing() const noexcept { return v_.w != nullptr; }
    const view<Store>& pages() const noexcept { return v_; }
    write_txn& txn() { return write_->t; }

    table<Store, KeyIndex, record_codec> index{v_, KeyIndex(index_words), "the index"};
    table<Store, KeyIndex, head_codec<Head>> heads{v_, KeyIndex(head_words), "the key heads"};
    table<Store, pg::hash_index, chunk_codec> chunks{v_, pg::hash_index(chunk_words),
                                                     "the chunk table"};

    /// The counters of this state (loaded at the first call).
    store_counters& counters() {
        if (!counters_) load_counters();
        return *counters_;
    }

    /// A record's bytes in this state. A record longer than a segment lies in several runs
    /// (its `where` names the blob that lists them): it is gathered into a buffer that lives as
    /// long as this transaction.
    std::span<const std::byte> bytes(const record_ref& r) const {
        if (!(r.where.raw() & extents_flag))
            return v_.page(r.where.raw(), record_pages(r.size)).first(r.size);
        auto& out = gathered_.emplace_back(r.size);
        std::uint64_t at = 0;
        for_each_run(r, [&](pg::page_id p, std::uint64_t n) {
            const auto run = v_.page(p, n);
            const auto take = std::min<std::uint64_t>(run.size(), r.size - at);
            std::memcpy(out.data() + at, run.data(), take);
            at += take;
        });
        if (at != r.size)
            throw error(errc::corrupt, "store " + quote(name_) + ": the runs of a record of " +
                                           std::to_string(r.size) + " bytes hold " +
                                           std::to_string(at));
        return out;
    }
    /// Writes a record into new pages (write transactions only): one run, or runs of a segment
    /// each when it is longer than a segment.
    record_ref place(std::span<const std::byte> record) {
        record_ref r;
        r.size = record.size();
        const std::uint64_t n = record_pages(record.size());
        if (n <= segment_pages()) {
            r.where = handle::from_raw(write_run(record));
            return r;
        }
        writer list;
        const std::uint64_t run = segment_pages() * pg::page_size;
        for (std::uint64_t at = 0; at < record.size(); at += run) {
            list.u64(write_run(record.subspan(at, std::min(run, record.size() - at))));
            list.u64(record_pages(std::min(run, record.size() - at)));
        }
        r.where = handle::from_raw(write_blob(txn(), bytes_of(list.str())) | extents_flag);
        return r;
    }
    /// Frees a record's pages (readers of older states keep them until they are done).
    void free(const record_ref& r) {
        for_each_page_run(r, [&](pg::page_id p, std::uint64_t n) { txn().free(p, n); });
    }
    /// Calls f(first, n) for every run of pages the record occupies (its run list included).
    template <class F>
    void for_each_page_run(const record_ref& r, F&& f) const {
        if (!(r.where.raw() & extents_flag)) return f(r.where.raw(), record_pages(r.size));
        for_each_run(r, f);
        f(r.where.raw() & ~extents_flag, blob_pages(16 * runs_of(r)));
    }

    /// Writes every change into pages and makes them current; returns the transaction number.
    std::uint64_t commit() {
        auto& t = txn();
        index.write_back(t, seed());
        heads.write_back(t, seed());
        chunks.write_back(t, seed());
        if (counters_) {
            writer w;
            encode(*counters_, w);
            if (w.str() != counters_base_) {
                if (const auto p = t.word(counters_page); p != pg::no_page)
                    t.free(p, t.word(counters_pages));
                t.set_word(counters_page, write_blob(t, bytes_of(w.str())));
                t.set_word(counters_pages, blob_pages(w.str().size()));
            }
        }
        return t.commit();
    }

    /// Calls mark(first, n) for every page the state reaches: tables, blobs, records.
    template <class Mark>
    void mark(Mark&& mark) {
        index.mark(mark);
        heads.mark(mark);
        chunks.mark(mark);
        if (const auto p = v_.word(counters_page); p != pg::no_page)
            mark(p, v_.word(counters_pages));
    }

    static std::uint64_t record_pages(std::uint64_t size) noexcept {
        return std::max<std::uint64_t>(1, (size + pg::page_size - 1) / pg::page_size);
    }

  private:
    static constexpr std::uint64_t extents_flag = std::uint64_t{1} << 63;

    std::uint64_t segment_pages() const noexcept { return store_->segment_pages(); }
    std::uint64_t runs_of(const record_ref& r) const noexcept {
        const std::uint64_t run = segment_pages() * pg::page_size;
        return (r.size + run - 1) / run;
    }
    // The runs of a record in several: checked against its size before any is used.
    template <class F>
    void for_each_run(const record_ref& r, F&& f) const {
        const std::string what = "store " + quote(name_) + ": the run list of a record";
        if (r.size > (std::uint64_t{1} << 48))
            throw error(errc::corrupt, what + " claims " + std::to_string(r.size) + " bytes");
        const std::uint64_t runs = runs_of(r);
        const auto list = read_blob(v_, r.where.raw() & ~extents_flag, blob_pages(16 * runs), what);
        if (list.size() != 16 * runs)
            throw error(errc::corrupt, what + " names " + std::to_string(list.size() / 16) +
                                           " runs, not " + std::to_string(runs));
        reader in(list, what);
        std::uint64_t left = record_pages(r.size);
        for (std::uint64_t i = 0; i < runs; ++i) {
            const auto p = in.u64(), n = in.u64();
            if (n == 0 || n > left || (i + 1 < runs && n != segment_pages()))
                throw error(errc::corrupt, what + ": run " + std::to_string(i) + " has " +
                                               std::to_string(n) + " pages");
            left -= n;
            f(p, n);
        }
    }
    pg::page_id write_run(std::span<const std::byte> bytes) {
        const std::uint64_t n = record_pages(bytes.size());
        const pg::page_id p = txn().allocate(n, false);
        auto out = txn().write(p, n);
        std::memcpy(out.data(), bytes.data(), bytes.size());
        std::memset(out.data() + bytes.size(), 0, out.size() - bytes.size());
        return p;
    }
    struct write_holder {
        explicit write_holder(Store& s) : t(s.write()) {}
        write_txn t;
    };

    static std::uint64_t seed() {
        static const std::uint64_t s = [] {
            std::random_device rd;
            return (std::uint64_t{rd()} << 32) ^ rd();
        }();
        return s;
    }

    static void encode(const store_counters& c, writer& w) {
        for (auto v :
             {c.logical_bytes, c.stored_bytes, c.frames, c.compressed_frames, c.puts, c.erases,
              c.records, c.folded_values, c.folded_logical, c.chunk_refs, c.chunk_logical,
              c.chunk_stored, c.pieces, c.dictionary_stored, c.payload_bytes})
            w.u64(v);
        for (auto v : c.class_blocks) w.u64(v);
        for (auto v : c.class_bytes) w.u64(v);
        for (auto v : c.level_frames) w.u64(v);
        w.u32(static_cast<std::uint32_t>(c.dictionaries.size()));
        for (const auto& d : c.dictionaries) {
            w.u32(d.id);
            w.u64(d.bytes);
            w.ref(d.ref);
            w.u64(d.records);
        }
    }

    void load_counters() {
        counters_.emplace();
        const auto p = v_.word(counters_page);
        if (p == pg::no_page) {
            writer w;
            encode(*counters_, w);
            counters_base_ = w.str();
            return;
        }
        const std::string what = "store " + quote(name_) + ": the counters";
        const auto data = read_blob(v_, p, v_.word(counters_pages), what);
        counters_base_.assign(reinterpret_cast<const char*>(data.data()), data.size());
        reader r(data, what);
        auto& c = *counters_;
        for (auto* f :
             {&c.logical_bytes, &c.stored_bytes, &c.frames, &c.compressed_frames, &c.puts,
              &c.erases, &c.records, &c.folded_values, &c.folded_logical, &c.chunk_refs,
              &c.chunk_logical, &c.chunk_stored, &c.pieces, &c.dictionary_stored, &c.payload_bytes})
            *f = r.u64();
        for (auto& v : c.class_blocks) v = r.u64();
        for (auto& v : c.class_bytes) v = r.u64();
        for (auto& v : c.level_frames) v = r.u64();
        const std::uint32_t n = r.u32();
        if (n > r.rest().size() / 52) r.take(r.rest().size() + 1);
        for (std::uint32_t i = 0; i < n; ++i) {
            dictionary_slot d;
            d.id = r.u32();
            d.bytes = r.u64();
            d.ref = r.ref();
            d.records = r.u64();
            c.dictionaries.push_back(d);
        }
        r.done();
    }

    Store* store_;
    std::string name_;
    std::optional<read_txn> read_;
    std::optional<write_holder> write_;
    view<Store> v_;
    std::optional<store_counters> counters_;
    std::string counters_base_;
    mutable std::deque<std::vector<std::byte>> gathered_;  // records of several runs, read
};

}  // namespace tables
}  // namespace detail
}  // namespace v1
}  // namespace mmry
