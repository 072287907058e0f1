#pragma once
// basic_store<Traits>: the store facade. Composes an arena, an index, a compressor, a cipher, a
// path and a folding policy (see mmry/traits.hpp) and keeps key -> value records in the arena.
//
// Thread-safety: every member function may be called from any number of threads at once, and, for
// a shared arena (shared_memory, mapped_file), from any number of processes that opened the store.
// Readers (get, read, view, contains, metadata, list, stats, export_record) run in parallel;
// writers (put, erase, import_record) encode and encrypt in parallel, then commit one at a time.
// A process that dies at any instant does not hang the others (docs/LOCKING.md). A store object
// must not be used across fork(): open the store again in the child.
// Atomicity: a put or erase is all or nothing. When it throws, the store is exactly as it was.
// Errors: a missing key is std::nullopt, never an error; everything else throws mmry::error (see
// mmry/error.hpp) naming the key, the frame and the values involved.
// Complexity: get and put cost one index lookup plus encoding of the value; read(key, offset,
// length) decodes only the frames the range touches.

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <cryptopp/osrng.h>
#include <boost/interprocess/exceptions.hpp>

#include <mmry/bytes.hpp>
#include <mmry/codec/frame_codec.hpp>
#include <mmry/codec/value.hpp>
#include <mmry/concepts.hpp>
#include <mmry/detail/describe.hpp>
#include <mmry/detail/fault.hpp>
#include <mmry/detail/store_state.hpp>
#include <mmry/error.hpp>
#include <mmry/format/bundle.hpp>
#include <mmry/format/manifest.hpp>
#include <mmry/format/record.hpp>
#include <mmry/format/store_header.hpp>
#include <mmry/listing.hpp>
#include <mmry/metadata.hpp>
#include <mmry/options.hpp>
#include <mmry/path/input.hpp>
#include <mmry/put_options.hpp>
#include <mmry/traits.hpp>
#include <mmry/versions.hpp>
#include <mmry/view.hpp>

namespace mmry {
inline namespace v1 {

namespace detail {
struct store_access;
}

template <class Traits = default_traits>
class basic_store {
    static_assert(store_traits<Traits>,
                  "Traits must name an arena, index, compressor, cipher, path "
                  "and fold policy that satisfy mmry's concepts");

  public:
    using traits_type = Traits;
    using arena_type = typename Traits::arena;
    using index_type = typename Traits::index;
    using compressor_type = typename Traits::compressor;
    using cipher_type = typename Traits::cipher;
    using path_type = typename Traits::path;
    using fold_type = typename Traits::fold;
    using range_type = entry_range<basic_store>;
    /// What history() returns: the same lazy range, over one key's versions.
    using history_range = entry_range<basic_store, history_query>;
    /// The lock readers and writers take: a view holds it shared.
    using lock_type = typename detail::store_state<Traits>::lock_type;

    /// True when the store lives in named segments that other processes can open.
    static constexpr bool shared = arena_type::shared;

  private:
    // Declared before the members whose requires-clauses name them: a requires-clause is not a
    // complete-class context, so clang (rightly) does not look ahead for them.
    static constexpr bool sealed = cipher_type::tag_size > 0;
    static constexpr bool keeps_history = path_type::history;
    static constexpr std::size_t layouts = path_type::layouts;
    static constexpr std::uint32_t all_layouts = (std::uint32_t{1} << layouts) - 1;
    static constexpr bool folding = fold_type::id != 0;

  public:
    /// An unnamed store in this process's memory (in-process arenas only).
    /// Throws errc::invalid_argument for a bad option (naming it), e.g. a cipher without a key.
    explicit basic_store(options opts = {}) requires(!shared)
        : s_(state::create("", std::move(opts))) {}

    /// Creates the store `name`: for shared_memory a name of [A-Za-z0-9._-], for mapped_file a
    /// directory path; for heap a label for messages. Throws errc::already_exists when a shared
    /// store of that name exists, errc::invalid_argument for a bad option.
    static basic_store create(std::string_view name, options opts = {}) {
        return basic_store(state::create(name, std::move(opts)));
    }

    /// Opens the existing shared store `name`. Checks, before it changes anything, that the store
    /// has this build's format version (else errc::version_mismatch), this composition of policies
    /// (else errc::policy_mismatch, naming the policy) and, if encrypted, that options.key is its
    /// key (else errc::wrong_key). Capacity, max_size, mode and frame_size are the store's, fixed
    /// when it was created; the opener's are not used. Throws errc::not_found when there is no such
    /// store.
    static basic_store open(std::string_view name, options opts = {}) requires shared {
        return basic_store(state::open(name, std::move(opts)));
    }

    /// Opens `name` if it exists, else creates it (heap: always creates). Safe against another
    /// process creating it at the same time.
    static basic_store open_or_create(std::string_view name, options opts = {}) {
        if constexpr (shared) {
            for (int attempt = 0;; ++attempt) {
                try {
                    return open(name, opts);
                } catch (const error& e) {
                    if (e.code_value() != errc::not_found || attempt == 3) throw;
                }
                try {
                    return create(name, opts);
                } catch (const error& e) {
                    if (e.code_value() != errc::already_exists) throw;
                }
            }
        } else {
            return create(name, std::move(opts));
        }
    }

    /// Removes the shared store `name` (every segment); false when there was none. Processes that
    /// have it open keep working on their mappings until they close it.
    static bool remove(std::string_view name) requires shared { return arena_type::remove(name); }

    /// True when a shared store `name` exists.
    static bool exists(std::string_view name) requires shared { return arena_type::exists(name); }

    basic_store(basic_store&&) noexcept = default;
    basic_store& operator=(basic_store&&) noexcept = default;

    // ---- writing ----------------------------------------------------------------------------

    /// Stores `value` under `key` as the key's next version, with the content type, tags and
    /// attributes of `o`; returns the version it got (mmry::version{1} for a new key). With
    /// path::latest it replaces the value the key had (keeping its created time); with a path
    /// policy that keeps history the earlier versions stay (see mmry/path/). Throws
    /// errc::invalid_argument for an empty key or one over 64 KiB, or bad put_options;
    /// errc::limit_exceeded when the store's max_size would be passed. Strong guarantee.
    version put(std::string_view key, byte_view value, const put_options& o = {}) {
        check_key(key);
        if (value.size() > format::max_logical_size)
            throw error(errc::invalid_argument, "value of " + std::to_string(value.size()) +
                                                    " bytes for key " + detail::quote(key) +
                                                    " exceeds the limit of 2^48 bytes");
        if (value.size() / s_->header.frame_size >= (std::uint64_t{1} << 32) - 1)
            throw error(errc::invalid_argument,
                        "value of " + std::to_string(value.size()) + " bytes for key " +
                            detail::quote(key) + " would need more than 2^32 frames of " +
                            std::to_string(s_->header.frame_size) + " bytes");
        format::check_put_options(o, key, sealed);
        if constexpr (folding)
            if (value.size() >= fold_type::min_size) return version{put_folded(key, value, o)};
        return version{put_whole(key, value, o)};
    }
    /// Stores text as its bytes (no terminating NUL).
    version put(std::string_view key, std::string_view value, const put_options& o = {}) {
        return put(key, as_bytes(value), o);
    }
    /// Stores any contiguous run of bytes or chars as it is.
    template <byte_range R>
    version put(std::string_view key, const R& value, const put_options& o = {}) {
        return put(key, as_byte_view(value), o);
    }
    /// Stores a value through its mmry::codec<T>.
    template <value_codec T>
    requires(!byte_range<T> && !std::is_convertible_v<const T&, std::string_view>) version
        put(std::string_view key, const T& value, const put_options& o = {}) {
        const bytes encoded = codec<T>::encode(value);
        return put(key, byte_view(encoded), o);
    }

    /// Removes `key` with every version it has; returns the metadata of the version that was
    /// current, or nullopt when the key was not there (not an error).
    std::optional<mmry::metadata> erase(std::string_view key) { return erase_key(key, 0); }

    /// Removes version `v` of `key` (the others stay); returns its metadata, or nullopt when the
    /// store does not keep that version. With path::latest only the current version is kept.
    std::optional<mmry::metadata> erase(std::string_view key, version v) {
        if (v.number == 0) return std::nullopt;
        return erase_key(key, v.number);
    }

    /// Removes one stored key (one layout's entry for one version), as a file is removed from one
    /// directory of several; the record goes when no stored key refers to it any more. Returns the
    /// metadata of the record it referred to, or nullopt when there was no such stored key.
    std::optional<mmry::metadata> erase_stored(std::string_view stored_key) {
        std::optional<mmry::metadata> removed;
        std::string owner;
        {
            std::unique_lock lock(s_->lock);
            const record_ref* found = s_->root->index.find(stored_key);
            if (!found) return std::nullopt;
            const record_ref ref = *found;
            owner = owner_of(ref).value_or(std::string(stored_key));
            removed = describe_or_size(owner, ref);
            update_scope update(s_->lock);
            s_->root->index.erase(stored_key);
            if constexpr (!keeps_history) {
                free_record(ref);
            } else {
                release(ref, layout_of(stored_key, owner, ref));
            }
            ++s_->root->erases;
        }
        s_->cache.erase(owner);
        return removed;
    }

    /// Makes the next put of `key` version n, so that version numbers can follow an outside
    /// numbering. Throws errc::invalid_argument when `key` has no version yet or n is not above
    /// its latest version.
    void set_version(std::string_view key, version n) requires keeps_history {
        std::unique_lock lock(s_->lock);
        auto* head = s_->root->heads.find(key);
        if (!head || head->versions.empty())
            throw error(errc::invalid_argument,
                        "set_version: key " + detail::quote(key) + " has no version yet");
        if (n.number <= head->versions.back().version)
            throw error(errc::invalid_argument, "set_version: version " + std::to_string(n.number) +
                                                    " of key " + detail::quote(key) +
                                                    " is not above its latest version " +
                                                    std::to_string(head->versions.back().version));
        update_scope update(s_->lock);
        head->next_version = n.number;
    }

    /// Writes the content, content type, tags and attributes of version `v` of `key` as a new
    /// version; returns the new version, or nullopt when version v is not kept.
    std::optional<version> rollback(std::string_view key, version v) requires keeps_history {
        auto value = get(key, v);
        auto meta = metadata(key, v);
        if (!value || !meta) return std::nullopt;
        return put(key, byte_view(*value),
                   put_options{meta->content_type, meta->tags, meta->attributes});
    }

    /// Erases the versions of `key` that `r` does not keep (the latest version is always kept);
    /// returns how many it erased.
    std::size_t prune(std::string_view key, const retention& r) requires keeps_history {
        std::size_t erased = 0;
        {
            std::unique_lock lock(s_->lock);
            auto* head = s_->root->heads.find(key);
            if (!head) return 0;
            update_scope update(s_->lock);
            erased = prune_head(key, *head, r);
            s_->root->erases += erased;
        }
        if (erased) s_->cache.erase(key);
        return erased;
    }
    /// prune(key, r) for every key; returns how many versions it erased. O(keys + versions).
    std::size_t prune(const retention& r) requires keeps_history {
        std::vector<std::string> keys;
        {
            std::shared_lock lock(s_->lock);
            s_->root->heads.scan("", "", [&](std::string_view k, const head_type&) {
                keys.emplace_back(k);
                return true;
            });
        }
        std::size_t erased = 0;
        for (const auto& k : keys) erased += prune(k, r);
        return erased;
    }

    // ---- reading ----------------------------------------------------------------------------

    /// The current value of `key` as T (bytes, std::string, or any type with an mmry::codec), or
    /// nullopt. Throws errc::corrupt / authentication_failed / wrong_key when the record fails
    /// its checks.
    template <class T = bytes>
    std::optional<T> get(std::string_view key) const {
        std::shared_lock lock(s_->lock);
        const auto at = locate(key);
        if (!at) return std::nullopt;
        return decode_as<T>(lock, key, open_record(key, *at), /*cache=*/true);
    }
    /// Version `v` of `key`, or nullopt when the store does not keep it.
    template <class T = bytes>
    std::optional<T> get(std::string_view key, version v) const {
        std::shared_lock lock(s_->lock);
        const auto rec = open_version(key, v.number);
        if (!rec) return std::nullopt;
        return decode_as<T>(lock, key, *rec, /*cache=*/false);
    }
    /// The value `key` had at time t: the newest kept version written at or before t, or nullopt.
    /// O(versions newer than t).
    template <class T = bytes>
    std::optional<T> get_as_of(std::string_view key,
                               std::chrono::system_clock::time_point t) const {
        std::shared_lock lock(s_->lock);
        const auto rec = open_as_of(key, t);
        if (!rec) return std::nullopt;
        return decode_as<T>(lock, key, *rec, /*cache=*/false);
    }

    /// The value of `key` in place, without a copy, or nullopt: for stores whose values are kept
    /// raw (compress::none, cipher::none). The view holds a read lock (see mmry/view.hpp); every
    /// frame's checksum is verified before it is returned (errc::corrupt otherwise).
    std::optional<value_view<lock_type>> view(std::string_view key) const
        requires(compressor_type::id == 0 && cipher_type::tag_size == 0 && fold_type::id == 0) {
        std::shared_lock lock(s_->lock);
        const auto at = locate(key);
        if (!at) return std::nullopt;
        const auto bytes = s_->codec.contiguous(open_record(key, *at));
        return value_view<lock_type>(std::move(lock), bytes);
    }

    /// Bytes [offset, offset + length) of the current value of `key`, or nullopt when the key is
    /// absent. Decodes only the frames the range touches. Throws errc::out_of_range when the range
    /// passes the end of the value.
    std::optional<bytes> read(std::string_view key, std::uint64_t offset,
                              std::uint64_t length) const {
        std::shared_lock lock(s_->lock);
        const auto at = locate(key);
        if (!at) return std::nullopt;
        return read_range(key, open_record(key, *at), offset, length);
    }
    /// The same, of version `v`.
    std::optional<bytes> read(std::string_view key, std::uint64_t offset, std::uint64_t length,
                              version v) const {
        std::shared_lock lock(s_->lock);
        const auto rec = open_version(key, v.number);
        if (!rec) return std::nullopt;
        return read_range(key, *rec, offset, length);
    }

    /// True when `key` has a value (for path::multi: by its existence strategy).
    bool contains(std::string_view key) const {
        std::shared_lock lock(s_->lock);
        return locate(key).has_value();
    }

    /// Number of keys (logical keys that have a version; O(1), except O(n) for path::multi with
    /// exists::all or exists::first).
    std::size_t size() const {
        std::shared_lock lock(s_->lock);
        return key_count();
    }

    /// What the store knows of `key`'s current value, without decoding it, or nullopt.
    std::optional<mmry::metadata> metadata(std::string_view key) const {
        std::shared_lock lock(s_->lock);
        const auto at = locate(key);
        if (!at) return std::nullopt;
        return describe(open_record(key, *at));
    }
    /// What the store knows of version `v` of `key`, or nullopt.
    std::optional<mmry::metadata> metadata(std::string_view key, version v) const {
        std::shared_lock lock(s_->lock);
        const auto rec = open_version(key, v.number);
        if (!rec) return std::nullopt;
        return describe(*rec);
    }

    /// The kept versions of `key`, oldest first, each with its metadata (no value is decoded):
    /// a lazy range like list()'s, fetched in batches that resume after the last version yielded
    /// (see mmry/listing.hpp). With path::latest, the one current version.
    history_range history(std::string_view key) const {
        return history_range(this, history_query{std::string(key)});
    }
    /// The kept versions of `key` written in [from, to], oldest first.
    history_range history(std::string_view key, std::chrono::system_clock::time_point from,
                          std::chrono::system_clock::time_point to) const {
        return history_range(this, history_query{std::string(key), from, to});
    }

    /// The keys that start with `prefix`, each with its current metadata (see mmry/listing.hpp
    /// for order and cost).
    range_type list(std::string_view prefix = {}) const {
        return range_type(this, query{std::string(prefix), {}, {}, {}, false});
    }
    /// The keys in [from, to) (to empty: no upper bound), in key order. O(log n + k) with
    /// index::ordered; a scan of every key with index::hashed.
    range_type range(std::string_view from, std::string_view to) const {
        return range_type(this, query{{}, std::string(from), std::string(to), {}, false});
    }
    /// The keys under `prefix` whose current version carries `tag` (read from metadata, no value
    /// decoded; every key under the prefix is looked at).
    range_type with_tag(std::string_view tag, std::string_view prefix = {}) const {
        return where([t = std::string(tag)](const entry& e) { return e.meta.has_tag(t); }, prefix);
    }
    /// The keys under `prefix` whose entry passes `keep` (called under the store's read lock: it
    /// must not call the store).
    range_type where(std::function<bool(const entry&)> keep, std::string_view prefix = {}) const {
        return range_type(this, query{std::string(prefix), {}, {}, std::move(keep), false});
    }
    /// The stored keys that start with `prefix` (the layout the path policy made, e.g. "v3/" or
    /// "2026/11/21/"), each with the metadata of the record it refers to.
    range_type stored(std::string_view prefix = {}) const {
        return range_type(this, query{std::string(prefix), {}, {}, {}, true});
    }
    typename range_type::iterator begin() const { return list().begin(); }
    typename range_type::iterator end() const { return {}; }

    /// Exact counters (entries, logical and stored bytes, frames, records by size class), the
    /// arena's segments, and this process's cache.
    store_stats stats() const {
        std::shared_lock lock(s_->lock);
        const auto& r = *s_->root;
        store_stats st;
        st.entries = key_count();
        st.records = r.records;
        st.logical_bytes = r.logical_bytes;
        st.stored_bytes = r.stored_bytes + r.chunk_stored + r.dictionary_stored;
        st.folded_bytes = r.logical_bytes - r.folded_logical + r.chunk_logical;
        st.folded_values = r.folded_values;
        st.chunks = r.chunks.size() - r.pieces;
        st.pieces = r.pieces;
        st.chunk_refs = r.chunk_refs;
        st.chunk_bytes = r.chunk_logical;
        st.chunk_stored_bytes = r.chunk_stored;
        st.payload_bytes = r.payload_bytes;
        for (const auto& d : r.dictionaries)
            st.dictionaries.push_back(
                {d.id, d.bytes, d.ref.size, d.records, d.id == r.current_dictionary.load()});
        for (std::size_t i = 0; i < detail::level_slots; ++i)
            if (r.level_frames[i] != 0)
                st.levels.push_back(
                    {static_cast<std::int8_t>(static_cast<std::uint8_t>(i)), r.level_frames[i]});
        std::sort(st.levels.begin(), st.levels.end(),
                  [](const level_stats& a, const level_stats& b) { return a.level < b.level; });
        st.frames = r.frames;
        st.compressed_frames = r.compressed_frames;
        st.puts = r.puts;
        st.erases = r.erases;
        for (std::size_t k = 0; k < detail::size_classes; ++k)
            if (r.class_blocks[k] != 0)
                st.size_classes.push_back({k == 0 ? 0 : std::uint64_t{1} << (k - 1),
                                           (std::uint64_t{1} << k) - 1, r.class_blocks[k],
                                           r.class_bytes[k]});
        st.arena = s_->arena->stats();
        if constexpr (requires { s_->lock.readers(); }) st.readers = s_->lock.readers();
        st.cache = s_->cache.stats();
        return st;
    }

    /// Checks the whole store: decodes every record of every stored key and version, every
    /// chunk and manifest piece (against its id) and every dictionary; recounts every chunk's
    /// references from the manifests and pieces that name it, and the store's counters from the
    /// records. Returns what it checked and each problem found (a damaged record, a chunk that a
    /// manifest names but the store lacks, a reference count that is off, a counter that
    /// disagrees); it never throws for a damaged store and never changes it. Holds the read lock
    /// throughout: writers wait. O(stored bytes).
    /// `progress`, when given, is called (on this thread, under the read lock: keep it short)
    /// after each record, chunk and piece with the number checked so far and the total.
    verify_report verify(const verify_progress& progress = {}) const;

    /// The stored form of `key`'s current record (still compressed and encrypted), or nullopt:
    /// what a backup copies and import_record takes back. A folded value exports as a bundle of
    /// its record and the records of its distinct chunks (docs/FORMAT.md, "Bundles").
    std::optional<bytes> export_record(std::string_view key) const {
        std::shared_lock lock(s_->lock);
        const auto at = locate(key);
        if (!at) return std::nullopt;
        const auto span = s_->arena->bytes(at->where, at->size);
        if constexpr (folding) {
            const auto v = open_record(key, *at);
            if (v.header().folded) return bundle_of(v);
        }
        return bytes(span.begin(), span.end());
    }
    /// The same, of version `v` of `key` (nullopt when the store does not keep it).
    std::optional<bytes> export_record(std::string_view key, version v) const {
        std::shared_lock lock(s_->lock);
        const auto rec = open_version(key, v.number);
        if (!rec) return std::nullopt;
        if constexpr (folding)
            if (rec->header().folded) return bundle_of(*rec);
        return bytes(rec->bytes().begin(), rec->bytes().end());
    }

    /// Puts back a record exported from this store, after checking every field and decoding every
    /// frame. A record from another store, under another key, or altered in any byte is refused
    /// with the error that says why, and the store is unchanged. The record keeps its version;
    /// a kept version with that number is replaced.
    void import_record(byte_view record) {
        if constexpr (folding)
            if (format::is_bundle(record)) return import_bundle(record);
        const auto probe = format::record_view::parse(record, {}, cipher_type::tag_size);
        const std::string key(probe.key());
        const auto v = s_->codec.open(record, key);
        s_->codec.check_meta(v);
        if (v.header().folded)
            throw error(errc::invalid_argument,
                        "record of key " + detail::quote(key) +
                            " is folded: import the bundle export_record made of it");
        {
            std::shared_lock lock(s_->lock);
            check_frames(v);
        }
        see_seq(v.header().seq);
        bytes copy(record.begin(), record.end());
        commit(key, copy, origin::import);
        // The record keeps its own sequence number, which this process may have cached for
        // the value it replaces (a get would then be served the old value).
        s_->cache.erase(key);
    }

    // ---- dictionaries -----------------------------------------------------------------------

    /// Trains a zstd dictionary on the current values of `keys` (absent keys are skipped), stores
    /// it (encrypted when the store is), and makes it the one new records are compressed with;
    /// returns its id. Records written before keep decoding with the dictionary they name.
    /// `capacity` is the dictionary's size limit; zstd wants about 100 times as many sample bytes.
    /// Throws errc::invalid_argument when the samples are too few for zstd to train on.
    std::uint32_t train_dictionary(std::span<const std::string> keys,
                                   std::size_t capacity = default_dictionary_capacity) requires
        detail::store_state<Traits>::codec_type::takes_dictionaries {
        std::vector<bytes> samples;
        std::size_t total = 0;
        for (const auto& k : keys) {
            if (total >= max_sample_bytes(capacity)) break;
            if (auto v = get(k)) {
                total += v->size();
                samples.push_back(std::move(*v));
            }
        }
        return store_dictionary(samples, capacity);
    }
    /// The same, on the current values of the keys whose metadata `pred` accepts.
    std::uint32_t train_dictionary(const std::function<bool(const entry&)>& pred,
                                   std::size_t capacity = default_dictionary_capacity) requires
        detail::store_state<Traits>::codec_type::takes_dictionaries {
        std::vector<std::string> keys;
        std::size_t total = 0;
        for (const auto& e : list())
            if (total < max_sample_bytes(capacity) && pred(e)) {
                total += e.meta.logical_size;
                keys.push_back(e.key);
            }
        return train_dictionary(keys, capacity);
    }

    /// Rewrites every record and chunk that is not compressed with the current dictionary, so
    /// that it is; values, versions, hashes and times stay as they were. Returns how many records
    /// and chunks it rewrote. Each is rewritten under the write lock on its own: readers and
    /// writers go on meanwhile.
    std::size_t recompress();

    /// The listing source behind list(), range(), with_tag(), where() and stored(): appends the
    /// next batch of entries after `after` (nullptr: the first batch).
    bool fetch(const query& q, const entry* after, std::vector<entry>& out) const {
        std::shared_lock lock(s_->lock);
        std::string start = q.from;
        if (after && std::string_view(after->key) >= std::string_view(start))
            start = after->key + '\0';  // the least key after `after`
        bool more = false;
        auto emit = [&](std::string_view k, auto&& open) {
            if (k < std::string_view(q.from)) return true;
            if (!q.to.empty() && k >= std::string_view(q.to)) return !index_type::sorted;
            entry e{std::string(k), describe(open())};
            if (q.filter && !q.filter(e)) return true;
            if (index_type::sorted && out.size() == batch_size) return !(more = true);
            out.push_back(std::move(e));
            return true;
        };
        if (!index_type::sorted && after) return false;  // the first batch took all
        if (q.stored || !keeps_history) {
            s_->root->index.scan(q.prefix, start, [&](std::string_view k, const record_ref& ref) {
                return emit(k,
                            [&] { return q.stored ? open_stored(k, ref) : open_record(k, ref); });
            });
        } else {
            s_->root->heads.scan(q.prefix, start, [&](std::string_view k, const head_type& h) {
                const auto* slot = latest_slot(h);
                return !slot || emit(k, [&] { return open_slot(k, *slot); });
            });
        }
        if constexpr (!index_type::sorted)
            std::sort(out.begin(), out.end(),
                      [](const entry& a, const entry& b) { return a.key < b.key; });
        return more;
    }
    /// The source behind history(): appends the next batch of the key's versions after the
    /// version of `after` (nullptr: the first batch).
    bool fetch(const history_query& q, const entry* after, std::vector<entry>& out) const {
        std::shared_lock lock(s_->lock);
        const std::string_view key = q.key;
        auto add = [&](const format::record_view& v) {
            auto m = describe(v);
            if (m.modified >= q.from && m.modified <= q.to) out.push_back({q.key, std::move(m)});
        };
        if constexpr (!keeps_history) {
            if (const record_ref* ref = s_->root->index.find(key); ref && !after)
                add(open_record(key, *ref));
            return false;
        } else {
            const auto* head = s_->root->heads.find(key);
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

  private:
    friend struct detail::store_access;
    static constexpr std::size_t batch_size = 256;
    static constexpr std::size_t default_dictionary_capacity = 112640;
    static constexpr std::uint64_t max_seq = std::uint64_t{1} << 62;
    using state = detail::store_state<Traits>;
    using codec_type = typename state::codec_type;
    using dictionary_ptr = std::shared_ptr<const compress::dictionary>;

    // A folded put's chunks: what its manifest names, and the records of the chunks the store
    // lacked when it looked (encoded before the write lock is taken).
    struct encoded_chunk {
        format::hash_bytes id{};
        bytes record;
        detail::chunk_kind kind = detail::chunk_kind::data;
    };
    // A piece of a manifest of depth 1: the chunks [begin, end) of the plan, and its entries.
    struct fold_piece {
        std::size_t begin = 0, end = 0;
        bytes content;  // empty: an imported piece the bundle did not carry
        format::hash_bytes id{};
    };
    struct fold_plan {
        unsigned depth = 0;
        std::vector<format::chunk_ref> top;     // the manifest's entries
        std::vector<fold_piece> pieces;         // per entry of `top`, when depth is 1
        std::vector<format::chunk_ref> chunks;  // the value's chunks (those known)
        std::vector<format::hash_bytes> ids;    // of each chunk (put only)
        std::vector<std::uint64_t> offsets;     // of each chunk in the value (put only)
        byte_view value;                        // the value (put only)
        std::map<format::chunk_reference, encoded_chunk> encoded;  // records made or bundled
        std::vector<format::chunk_reference> counted;  // references counted so far, in order
    };
    using head_type = typename state::head_type;
    using slot_iterator = typename head_type::slots::iterator;
    enum class origin { put, import };

    // Brackets a change of shared structures: a writer that dies inside leaves the store marked
    // as needing recovery; one that throws has undone its change and leaves it clean.
    struct update_scope {
        lock_type& lock;
        explicit update_scope(lock_type& l) : lock(l) { lock.begin_update(); }
        ~update_scope() { lock.end_update(); }
    };

    // What a conditional put requires of the key's current version (put_options::if_version,
    // if_absent); checked under the write lock before anything changes.
    struct condition {
        std::optional<std::uint64_t> version;
        bool absent = false;
        static condition of(const put_options& o) {
            return {o.if_version ? std::optional(o.if_version->number) : std::nullopt, o.if_absent};
        }
    };

    // What a put continues from: the version it follows, that version's chain hash, and the
    // key's created time.
    struct predecessor {
        std::uint64_t version = 0;
        format::hash_bytes chain{};
        std::int64_t created_ns = 0;
        bool found = false;
    };

    explicit basic_store(std::unique_ptr<state> s) : s_(std::move(s)) {}

    // ---- resolving keys (callers hold the lock) -------------------------------------------

    // Whether a version counts as present under the path's existence strategy.
    static bool visible(const detail::version_slot& s) noexcept {
        switch (path_type::existence) {
            case path::exists::all:
                return (s.layouts & all_layouts) == all_layouts;
            case path::exists::first:
                return (s.layouts & 1u) != 0;
            default:
                return s.layouts != 0;
        }
    }
    static const detail::version_slot* latest_slot(const head_type& h) noexcept {
        for (auto it = h.versions.rbegin(); it != h.versions.rend(); ++it)
            if (visible(*it)) return &*it;
        return nullptr;
    }

    // Keys with a present version. Every kept version is present under exists::any (and with one
    // layout); under all/first a version may be kept for another layout only, so count (O(n)).
    std::size_t key_count() const {
        if constexpr (!keeps_history) {
            return s_->root->index.size();
        } else if constexpr (layouts == 1 || path_type::existence == path::exists::any) {
            return s_->root->heads.size();
        } else {
            std::size_t n = 0;
            s_->root->heads.scan("", "", [&](std::string_view, const head_type& h) {
                n += latest_slot(h) != nullptr;
                return true;
            });
            return n;
        }
    }

    // The record of key's current version.
    std::optional<record_ref> locate(std::string_view key) const {
        if constexpr (!keeps_history) {
            const record_ref* ref = s_->root->index.find(key);
            return ref ? std::optional(*ref) : std::nullopt;
        } else {
            const auto* head = s_->root->heads.find(key);
            const auto* slot = head ? latest_slot(*head) : nullptr;
            return slot ? std::optional(slot->ref) : std::nullopt;
        }
    }

    std::optional<format::record_view> open_version(std::string_view key, std::uint64_t n) const {
        if constexpr (!keeps_history) {
            const record_ref* ref = s_->root->index.find(key);
            if (!ref) return std::nullopt;
            auto v = open_record(key, *ref);
            if (v.meta().version() != n) return std::nullopt;
            return v;
        } else {
            const auto* head = s_->root->heads.find(key);
            const auto* slot = head ? head->find(n) : nullptr;
            if (!slot || !visible(*slot)) return std::nullopt;
            return open_slot(key, *slot);
        }
    }

    std::optional<format::record_view> open_as_of(std::string_view key,
                                                  std::chrono::system_clock::time_point t) const {
        const std::int64_t ns = to_ns(t);
        if constexpr (!keeps_history) {
            const record_ref* ref = s_->root->index.find(key);
            if (!ref) return std::nullopt;
            auto v = open_record(key, *ref);
            if (v.header().modified_ns > ns) return std::nullopt;
            return v;
        } else {
            const auto* head = s_->root->heads.find(key);
            if (!head) return std::nullopt;
            for (auto it = head->versions.rbegin(); it != head->versions.rend(); ++it)
                if (visible(*it) && it->time_ns <= ns) return open_slot(key, *it);
            return std::nullopt;
        }
    }

    format::record_view open_record(std::string_view key, const record_ref& ref) const {
        const auto bytes = s_->arena->bytes(ref.where, ref.size);
        // A small record's head, key, meta section, table and value span a few cache lines that
        // parsing reads one after the other: asking for all of them at once overlaps the misses.
        for (std::size_t at = 0; at < std::min<std::size_t>(bytes.size(), 512); at += 64)
            __builtin_prefetch(bytes.data() + at);
        return s_->codec.open(bytes, key);
    }

    // A kept version's record, checked to be the version the head files it as.
    format::record_view open_slot(std::string_view key, const detail::version_slot& slot) const {
        auto v = open_record(key, slot.ref);
        if (v.meta().version() != slot.version)
            throw error(errc::corrupt, "record kept as version " + std::to_string(slot.version) +
                                           " of key " + detail::quote(key) + " holds version " +
                                           std::to_string(v.meta().version()));
        return v;
    }

    // The record under a stored key, checked to be a write that the path policy files there.
    format::record_view open_stored(std::string_view stored_key, const record_ref& ref) const {
        const auto bytes = s_->arena->bytes(ref.where, ref.size);
        const auto probe = format::record_view::parse(bytes, stored_key, cipher_type::tag_size);
        auto v = s_->codec.open(bytes, probe.key());
        for (std::size_t i = 0; i < layouts; ++i)
            if (stored_key_of(i, v) == stored_key) return v;
        throw error(errc::corrupt, "stored key " + detail::quote(stored_key) +
                                       " refers to version " + std::to_string(v.meta().version()) +
                                       " of key " + detail::quote(v.key()) +
                                       ", which the path files elsewhere");
    }

    // The stored key layout `layout` files the write held by record v under.
    static std::string stored_key_of(std::size_t layout, const format::record_view& v) {
        std::string out;
        path_type::stored_key(
            layout, {v.key(), v.meta().version(), v.header().modified_ns, v.meta().content_hash()},
            out);
        return out;
    }

    // ---- reading values -------------------------------------------------------------------

    template <class T>
    std::optional<T> decode_as(std::shared_lock<lock_type>& lock, std::string_view key,
                               const format::record_view& v, bool use_cache) const {
        const auto n = static_cast<std::size_t>(v.value_size());
        // The write sequence number names the record's content: a cached copy with the same one is
        // the current value, whichever process wrote it.
        const std::uint64_t stamp = v.header().seq;
        // A raw, unsealed value decodes as a checked copy, cheaper than a cache lookup and insert.
        use_cache = use_cache && s_->opts.cache_bytes != 0 && worth_caching(v);
        auto cached = use_cache ? s_->cache.find(key, stamp) : nullptr;
        if constexpr (std::is_same_v<T, bytes> || std::is_same_v<T, std::string>) {
            T out(n, typename T::value_type{});
            auto dst = std::as_writable_bytes(std::span(out));
            if (cached) {
                std::copy_n(cached->data(), n, dst.data());
            } else {
                decode_value(v, 0, dst);
                if (use_cache) remember(key, stamp, dst);
            }
            return out;
        } else {
            static_assert(value_codec<T>, "get<T> needs an mmry::codec<T> specialization");
            if (!cached) {
                auto raw = std::make_shared<bytes>(n);
                decode_value(v, 0, *raw);
                if (use_cache) s_->cache.insert(key, stamp, raw);
                cached = std::move(raw);
            }
            lock.unlock();
            try {
                return codec<T>::decode(*cached);
            } catch (const error& e) {
                // Keep the codec's words, without the "mmry: " prefix and the category message
                // that e.what() carries and the new error adds again.
                std::string_view why = e.what();
                const std::string tail = ": " + e.code().message();
                if (why.starts_with("mmry: ")) why.remove_prefix(6);
                if (why.ends_with(tail)) why.remove_suffix(tail.size());
                throw error(e.code_value(), "key " + detail::quote(key) + ": " + std::string(why));
            } catch (const std::exception& e) {
                throw error(errc::invalid_argument, "key " + detail::quote(key) +
                                                        ": its mmry::codec failed to decode the "
                                                        "value: " +
                                                        e.what());
            }
        }
    }

    static bool worth_caching(const format::record_view& v) noexcept {
        if (v.header().encrypted() || v.header().folded) return true;
        for (std::uint32_t i = 0; i < v.header().frame_count; ++i)
            if (v.entry(i).codec != 0) return true;
        return false;
    }

    bytes read_range(std::string_view key, const format::record_view& v, std::uint64_t offset,
                     std::uint64_t length) const {
        const std::uint64_t size = v.value_size();
        if (offset > size || length > size - offset)
            throw error(errc::out_of_range,
                        "read of " + std::to_string(length) + " bytes at offset " +
                            std::to_string(offset) + " of key " + detail::quote(key) +
                            " passes the end of its " + std::to_string(size) + "-byte value");
        bytes out(static_cast<std::size_t>(length));
        decode_value(v, offset, out);
        return out;
    }

    void remember(std::string_view key, std::uint64_t stamp, byte_view value) const {
        if (value.size() + key.size() + detail::value_cache::entry_overhead > s_->opts.cache_bytes)
            return;
        s_->cache.insert(key, stamp, std::make_shared<const bytes>(value.begin(), value.end()));
    }

    static void check_key(std::string_view key) {
        if (key.empty()) throw error(errc::invalid_argument, "the key is empty");
        if (key.size() > format::max_key_size)
            throw error(errc::invalid_argument,
                        "key " + detail::quote(key) + " has " + std::to_string(key.size()) +
                            " bytes, over the limit of " + std::to_string(format::max_key_size));
    }

    static std::int64_t to_ns(std::chrono::system_clock::time_point t) {
        using namespace std::chrono;
        if (t <=
            system_clock::time_point(duration_cast<system_clock::duration>(nanoseconds::min() / 2)))
            return std::numeric_limits<std::int64_t>::min();
        if (t >=
            system_clock::time_point(duration_cast<system_clock::duration>(nanoseconds::max() / 2)))
            return std::numeric_limits<std::int64_t>::max();
        return duration_cast<nanoseconds>(t.time_since_epoch()).count();
    }
    std::int64_t now_ns() const {
        return to_ns(s_->opts.clock ? s_->opts.clock() : std::chrono::system_clock::now());
    }

    // Metadata from the head and meta section; the meta section's MAC is checked first.
    mmry::metadata describe(const format::record_view& v) const {
        s_->codec.check_meta(v);
        const auto& h = v.header();
        mmry::metadata m;
        m.logical_size = v.value_size();
        m.stored_size = v.bytes().size();
        m.folded = h.folded;
        if (h.folded) m.chunks = v.meta().folded_chunks();
        m.dictionary = h.dictionary;
        m.encrypted = h.encrypted();
        m.compressor = compressor_type::name;  // open() checked the record's ids are the store's
        m.cipher = cipher_type::name;
        m.frames = h.frame_count;
        for (std::uint32_t i = 0; i < h.frame_count; ++i)
            if (v.entry(i).codec != 0) ++m.compressed_frames;
        m.compressed = m.compressed_frames > 0;
        m.frame_size = h.frame_size;
        m.seq = h.seq;
        using std::chrono::system_clock;
        m.created = system_clock::time_point(std::chrono::duration_cast<system_clock::duration>(
            std::chrono::nanoseconds(h.created_ns)));
        m.modified = system_clock::time_point(std::chrono::duration_cast<system_clock::duration>(
            std::chrono::nanoseconds(h.modified_ns)));
        const auto& meta = v.meta();
        m.version = version{meta.version()};
        m.previous_version = version{meta.previous()};
        m.hash_kind = static_cast<mmry::hash_kind>(meta.hash_kind());
        m.content_hash = meta.content_hash();
        m.chain_hash = meta.chain_hash();
        m.content_type = meta.content_type();
        meta.for_each_tag([&](std::string_view t) { m.tags.emplace_back(t); });
        meta.for_each_attribute([&](std::string_view k, std::string_view val) {
            m.attributes.emplace_back(std::string(k), std::string(val));
        });
        return m;
    }
    // For erase: a damaged record can still be erased; it is then reported by its size alone.
    std::optional<mmry::metadata> describe_or_size(std::string_view key,
                                                   const record_ref& ref) const {
        try {
            return describe(open_record(key, ref));
        } catch (const error&) {
            mmry::metadata m;
            m.stored_size = ref.size;
            m.logical_size = ref.logical_size;
            return m;
        }
    }

    // ---- writing (callers hold the write lock) -------------------------------------------

    // Adds (sign +1) or removes (-1) a record from the counters, by what its ref recorded when it
    // was committed: the record itself may have been damaged since.
    void account(const record_ref& ref, int sign);
    static void adjust(std::uint64_t& field, std::uint64_t n, int sign) noexcept {
        if (sign > 0)
            field += n;
        else
            field -= n;
    }

    // Frees a record (and, unless release is false, its manifest's chunk references).
    void free_record(const record_ref& ref, bool release = true);

    // The version, chain hash and created time of the record at ref, for the put that follows
    // it; a damaged record (or one whose meta MAC fails) starts a new chain.
    predecessor predecessor_of(const record_ref& ref) const;

    [[noreturn]] void index_full(std::string_view key) const;
    // Tells the arena how much of segment 0 the index maps' next growth needs, so that records
    // leave it free (an arena whose index is not in a segment has nothing to keep).
    void reserve_index() noexcept {
        if constexpr (requires(arena_type & a) { a.reserve_root(std::uint64_t{}); }) {
            std::uint64_t bytes = 0;
            const auto add = [&](const auto& map) {
                if constexpr (requires { map.growth_bytes(); }) bytes += map.growth_bytes();
            };
            add(s_->root->index);
            add(s_->root->heads);
            add(s_->root->chunks);
            // A sixteenth more, for the allocator's headers and free pieces smaller than a page.
            s_->arena->reserve_root(bytes + bytes / 16);
        }
    }

    // Copies an encoded record into a new block of the arena (inside an update).
    record_ref place(const bytes& record, const format::record_view& parsed);
    // The same for a commit that holds the write lock but is not inside an update: allocates in
    // an update of its own and copies outside it, so that a writer killed while copying costs
    // a leaked block, not the store.
    record_ref place_unlinked(const bytes& record, const format::record_view& parsed);
    // Frees the block of a writer that died while copying into it (under the write lock).
    void free_pending();
    static record_ref ref_of(handle where, const bytes& record, const format::record_view& parsed);

    // The one write path: every mutation that adds a record goes through here, with the record
    // fully encoded beforehand (only version, chain hash and created time are stamped under the
    // lock), so it could be journaled as it is. Returns the version the record holds.
    std::uint64_t commit(std::string_view key, bytes& record, origin from,
                         fold_plan* plan = nullptr, const condition& when = {});

    // The key's current version (0 when its record cannot be read), or nullopt when it has none.
    std::optional<std::uint64_t> current_version(std::string_view key) const;
    // Throws errc::conflict, naming the key and both versions, when `when` does not hold.
    void check_condition(std::string_view key, const condition& when) const;

    void commit_latest(std::string_view key, bytes& record, const format::record_view& parsed,
                       origin from);

    void commit_history(std::string_view key, bytes& record, const format::record_view& parsed,
                        origin from);

    // A stored key must be a key too; a path that makes an empty or oversized one is refused.
    static void check_stored_key(std::string_view key, std::string_view stored_key);

    // The logical key a record belongs to (nullopt when the record is damaged).
    std::optional<std::string> owner_of(const record_ref& ref) const;

    // Which layout files the record at ref under stored_key (0 when it cannot be told).
    std::size_t layout_of(std::string_view stored_key, std::string_view owner,
                          const record_ref& ref) const;

    // A stored key (layout i) no longer refers to the record at ref: clear its bit in the
    // version that owns the record, and drop the version when no layout holds it.
    void release(const record_ref& ref, std::size_t layout);

    // Removes a version: its stored keys (those that still refer to its record) and the record.
    void remove_slot(std::string_view key, head_type& head, slot_iterator it);

    // Drops a version from its head and frees its record.
    void forget_slot(head_type& head, slot_iterator it);

    std::size_t prune_head(std::string_view key, head_type& head, const retention& r);

    std::optional<mmry::metadata> erase_key(std::string_view key, std::uint64_t want);

    // ---- folding and dictionaries (mmry/detail/store_fold.hpp) ------------------------------

    std::uint64_t next_seq() { return s_->root->seq.fetch_add(1, std::memory_order_relaxed) + 1; }
    // Sequence numbers stay unique: later puts number after an imported record.
    // An imported sequence number is untrusted input: one near 2^64 would make the counter wrap,
    // and sequence numbers (nonces of sealed frames) repeat.
    void see_seq(std::uint64_t seq) {
        if (seq > max_seq)
            throw error(errc::corrupt, "an imported record's sequence number " +
                                           std::to_string(seq) + " is above the limit of 2^62");
        std::uint64_t seen = s_->root->seq.load();
        while (seen < seq && !s_->root->seq.compare_exchange_weak(seen, seq)) {
        }
    }

    // A put of a value as one record (not folded).
    std::uint64_t put_whole(std::string_view key, byte_view value, const put_options& o) {
        thread_local bytes record;
        const auto dict = current_dictionary();
        s_->codec.encode(key, value, next_seq(), now_ns(), o, s_->opts.content_hash, record,
                         {dict.get(), {}, {}});
        return commit(key, record, origin::put, nullptr, condition::of(o));
    }
    std::uint64_t put_folded(std::string_view key, byte_view value, const put_options& o);
    // Encodes a chunk as a record filed under its id (stamped: it is complete).
    void encode_chunk(const format::hash_bytes& id, byte_view data,
                      const compress::dictionary* dict, bytes& out);
    // Under the write lock: counts the plan's chunk references, placing the chunks and pieces
    // the store lacks; all or nothing.
    void acquire_chunks(fold_plan& plan);
    void acquire_data(fold_plan& plan, std::size_t i);
    // Counts one more reference to the chunk the store has under `ref` (checking its id and kind
    // when known); false when the store has none.
    bool count_existing(fold_plan& plan, const format::chunk_reference& ref,
                        const format::hash_bytes* id, detail::chunk_kind kind);
    void acquire_piece(fold_plan& plan, std::size_t t);
    // Places a chunk record the plan made or carried (or, for a put, makes it now).
    void place_chunk(fold_plan& plan, const format::chunk_reference& ref,
                     const format::hash_bytes& id, detail::chunk_kind kind, byte_view content);
    // Undoes acquire_chunks (never allocates).
    void undo_chunks(fold_plan& plan) noexcept;
    // Drops one reference per entry; frees a chunk when its last reference goes (a piece's
    // entries are then released in turn).
    void release_chunks(const std::vector<format::chunk_ref>& entries);
    void free_chunk(const format::chunk_reference& ref, const detail::chunk_slot& slot);

    // Decodes value bytes [offset, offset + out.size()) of an opened record, folded or not.
    void decode_value(const format::record_view& v, std::uint64_t offset,
                      std::span<std::byte> out) const;
    // Checks every frame of an opened record by decoding it.
    void check_frames(const format::record_view& v) const;
    // The manifest of a folded record.
    format::manifest manifest_of(const format::record_view& v) const;
    /// All of a record's content, decoded frame by frame (see the definition for why).
    bytes decode_whole(const format::record_view& v, const compress::dictionary* dict) const;
    // The entries of the piece in `slot`, checked against its id.
    std::vector<format::chunk_ref> piece_entries(const detail::chunk_slot& slot,
                                                 std::string_view key) const;
    // Calls f(chunk, offset of the chunk in the value) for each chunk of a folded record that
    // overlaps [offset, offset + length), in order; decodes only the pieces the range covers.
    template <class F>
    void visit_chunks(const format::record_view& v, std::uint64_t offset, std::uint64_t length,
                      F&& f) const;
    // Decodes chunk `c` into out (c.length bytes) and checks that its content has its id.
    void decode_chunk(std::string_view key, const format::chunk_ref& c,
                      std::span<std::byte> out) const;
    bytes bundle_of(const format::record_view& v) const;
    void import_bundle(byte_view bundle);

    // The dictionary a record names (nullptr for none); loaded once per process.
    const compress::dictionary* dictionary_for(const format::record_view& v) const;
    dictionary_ptr load_dictionary(std::uint32_t id) const;
    // The dictionary new records are compressed with (nullptr when none).
    dictionary_ptr current_dictionary() const;
    std::uint32_t store_dictionary(const std::vector<bytes>& samples, std::size_t capacity);
    static std::size_t max_sample_bytes(std::size_t capacity) { return capacity * 100; }
    // Counts (sign +1) or discounts (-1) what a record adds beyond its ref: folding, the use of
    // a dictionary, frames by level.
    void tally(const format::record_view& v, int sign);
    bool recompress_record(std::string_view key, const record_ref& ref);
    bool recompress_chunk(const format::chunk_reference& ref);

    // The threshold (75, 85, 95 % of max_size) this put took the store past, once per crossing.
    std::optional<usage_alert> usage_crossing() {
        if (!s_->opts.on_usage) return std::nullopt;
        const auto a = s_->arena->stats();
        const std::uint64_t limit = a.limit_bytes;  // the store's own, for shared stores too
        if (limit == 0) return std::nullopt;
        const std::uint64_t used = a.reserved_bytes - a.free_bytes;
        unsigned level = 0;
        for (unsigned t : {75u, 85u, 95u})
            if (used * 100 >= limit * t) level = t;
        const unsigned before = std::exchange(s_->alerted, level);
        if (level <= before) return std::nullopt;
        return usage_alert{level, used, limit};
    }

    std::unique_ptr<state> s_;
};

}  // namespace v1
}  // namespace mmry

#include <mmry/detail/store_fold.hpp>
#include <mmry/detail/store_verify.hpp>
#include <mmry/detail/store_write.hpp>

namespace mmry {
inline namespace v1 {

/// The store with every default policy: heap arena, hashed index, zstd level 3, no cipher.
using store = basic_store<>;

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
