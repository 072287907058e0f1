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
//
// This header is the contract: the class with its public API, and the one-line members. What
// the parts share (the state, resolving, decoding, the commit path, counters, folding) is
// detail::store_engine (detail/store_engine.hpp), which basic_store derives from privately. The
// longer members are defined in the parts it includes at the end, one header per concern:
//   detail/store_resolve.hpp       keys and versions to records (callers hold the lock)
//   detail/store_read.hpp          get, read, view, metadata, stats; decoding values
//   detail/store_listing.hpp       the sources behind list(), range(), stored() and history()
//   detail/store_write.hpp         put and the one commit path; counters
//   detail/store_batch.hpp         write(batch): several mutations in one transaction
//   detail/store_erase.hpp         erase; unlinking a version's stored keys and record
//   detail/store_history.hpp       set_version, rollback, prune (retention)
//   detail/store_fold_write.hpp    folding a value into chunks; counting chunk references
//   detail/store_fold_read.hpp     reading a folded value through its manifest and pieces
//   detail/store_transfer.hpp      export_record, import_record, bundles
//   detail/store_copy.hpp          copy_from and mmry::copy: a store into another composition
//   detail/store_backup.hpp        backup and restore (mmry/backup.hpp)
//   detail/store_compact.hpp       compact() (mmry/compact.hpp)
//   detail/store_dictionaries.hpp  training, storing and loading dictionaries; recompress
//   detail/store_verify.hpp        verify()
//   detail/store_repair.hpp        repair() and the quarantine (mmry/repair.hpp)
//   detail/store_access.hpp        a test seam to a record's bytes

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <mmry/backup.hpp>
#include <mmry/batch.hpp>
#include <mmry/bytes.hpp>
#include <mmry/codec/frame_codec.hpp>
#include <mmry/codec/value.hpp>
#include <mmry/compact.hpp>
#include <mmry/concepts.hpp>
#include <mmry/copy.hpp>
#include <mmry/detail/describe.hpp>
#include <mmry/detail/fault.hpp>
#include <mmry/detail/store_engine.hpp>
#include <mmry/detail/store_state.hpp>
#include <mmry/error.hpp>
#include <mmry/format/manifest.hpp>
#include <mmry/format/record.hpp>
#include <mmry/format/store_header.hpp>
#include <mmry/listing.hpp>
#include <mmry/metadata.hpp>
#include <mmry/options.hpp>
#include <mmry/path/input.hpp>
#include <mmry/put_options.hpp>
#include <mmry/repair.hpp>
#include <mmry/traits.hpp>
#include <mmry/versions.hpp>
#include <mmry/view.hpp>

namespace mmry {
inline namespace v1 {

namespace detail {
struct store_access;
}

template <class Traits = default_traits>
class basic_store : private detail::store_engine<Traits> {
    using engine = detail::store_engine<Traits>;

  public:
    using traits_type = Traits;
    /// Traits' policies: arena, index, compressor, cipher, path, fold.
    using typename engine::arena_type, typename engine::index_type,
        typename engine::compressor_type, typename engine::cipher_type, typename engine::path_type,
        typename engine::fold_type;
    using range_type = entry_range<basic_store>;
    /// What history() returns: the same lazy range, over one key's versions.
    using history_range = entry_range<basic_store, history_query>;
    /// What a value_view holds: a pinned state of the store, whose pages no writer reuses while
    /// the view lives (writers do not wait for it).
    using view_guard = typename detail::store_state<Traits>::reading;

    /// True when the store lives in named segments that other processes can open.
    static constexpr bool shared = arena_type::shared;

  private:
    // Declared before the members whose requires-clauses name them: a requires-clause is not a
    // complete-class context, so clang (rightly) does not look ahead for them.
    using engine::sealed, engine::keeps_history, engine::layouts, engine::all_layouts,
        engine::folding;

  public:
    /// An unnamed store in this process's memory (in-process arenas only).
    /// Throws errc::invalid_argument for a bad option (naming it), e.g. a cipher without a key.
    explicit basic_store(options opts = {}) requires(!shared)
        : detail::store_engine<Traits>(state::create("", std::move(opts))) {}

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
    static bool remove(std::string_view name) requires shared { return state::remove(name); }

    /// True when a shared store `name` exists.
    static bool exists(std::string_view name) requires shared { return state::exists(name); }

    basic_store(basic_store&&) noexcept = default;
    basic_store& operator=(basic_store&&) noexcept = default;

    // ---- writing (detail/store_write.hpp, store_erase.hpp, store_history.hpp) ---------------

    /// Stores `value` under `key` as the key's next version, with the content type, tags and
    /// attributes of `o`; returns the version it got (mmry::version{1} for a new key). With
    /// path::latest it replaces the value the key had (keeping its created time); with a path
    /// policy that keeps history the earlier versions stay (see mmry/path/). Throws
    /// errc::invalid_argument for an empty key or one over 64 KiB, or bad put_options;
    /// errc::limit_exceeded when the store's max_size would be passed. Strong guarantee.
    version put(std::string_view key, byte_view value, const put_options& o = {});
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

    /// Commits every put and erase of `b` in one transaction, all or nothing (see mmry/batch.hpp):
    /// returns per operation, in order, the version a put got, or the version an erase removed
    /// (mmry::version{0} when the key was absent). The values are encoded before the writer lock,
    /// on several threads when there is much to encode. Throws, and changes nothing, when any
    /// operation fails: errc::conflict for a condition that does not hold, errc::invalid_argument
    /// for a bad key or options (naming the operation), errc::limit_exceeded past max_size.
    std::vector<version> write(const batch& b);

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
    std::optional<mmry::metadata> erase_stored(std::string_view stored_key);

    /// Makes the next put of `key` version n, so that version numbers can follow an outside
    /// numbering. Throws errc::invalid_argument when `key` has no version yet or n is not above
    /// its latest version.
    void set_version(std::string_view key, version n) requires keeps_history;

    /// Writes the content, content type, tags and attributes of version `v` of `key` as a new
    /// version; returns the new version, or nullopt when version v is not kept.
    std::optional<version> rollback(std::string_view key, version v) requires keeps_history;

    /// Erases the versions of `key` that `r` does not keep (the latest version is always kept);
    /// returns how many it erased.
    std::size_t prune(std::string_view key, const retention& r) requires keeps_history;
    /// prune(key, r) for every key; returns how many versions it erased. O(keys + versions).
    std::size_t prune(const retention& r) requires keeps_history;

    // ---- reading (detail/store_read.hpp, store_listing.hpp) ----------------------------------

    /// The current value of `key` as T (bytes, std::string, or any type with an mmry::codec), or
    /// nullopt. Throws errc::corrupt / authentication_failed / wrong_key when the record fails
    /// its checks.
    template <class T = bytes>
    std::optional<T> get(std::string_view key) const;
    /// Version `v` of `key`, or nullopt when the store does not keep it.
    template <class T = bytes>
    std::optional<T> get(std::string_view key, version v) const;
    /// The value `key` had at time t: the newest kept version written at or before t, or nullopt.
    /// O(versions newer than t).
    template <class T = bytes>
    std::optional<T> get_as_of(std::string_view key, std::chrono::system_clock::time_point t) const;

    /// The value of `key` in place, without a copy, or nullopt: for stores whose values are kept
    /// raw (compress::none, cipher::none). The view holds a read lock (see mmry/view.hpp); every
    /// frame's checksum is verified before it is returned (errc::corrupt otherwise).
    std::optional<value_view<view_guard>> view(std::string_view key) const
        requires(compressor_type::id == 0 && cipher_type::tag_size == 0 && fold_type::id == 0);

    /// Bytes [offset, offset + length) of the current value of `key`, or nullopt when the key is
    /// absent. Decodes only the frames the range touches. Throws errc::out_of_range when the range
    /// passes the end of the value.
    std::optional<bytes> read(std::string_view key, std::uint64_t offset,
                              std::uint64_t length) const;
    /// The same, of version `v`.
    std::optional<bytes> read(std::string_view key, std::uint64_t offset, std::uint64_t length,
                              version v) const;

    /// True when `key` has a value (for path::multi: by its existence strategy).
    bool contains(std::string_view key) const {
        auto lock = s_->read();
        return locate(key).has_value();
    }

    /// Number of keys (logical keys that have a version; O(1), except O(n) for path::multi with
    /// exists::all or exists::first).
    std::size_t size() const {
        auto lock = s_->read();
        return key_count();
    }

    /// What the store knows of `key`'s current value, without decoding it, or nullopt.
    std::optional<mmry::metadata> metadata(std::string_view key) const;
    /// What the store knows of version `v` of `key`, or nullopt.
    std::optional<mmry::metadata> metadata(std::string_view key, version v) const;

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

    /// Puts every commit made so far on disk and returns once it is there (a mapped-file store
    /// with a durability level: what a periodic flush does, now; elsewhere nothing to do).
    /// Concurrent callers, in any process, share one flush. Throws errc::io_error when the
    /// system refuses.
    void flush() { s_->pages->flush(); }

    /// Exact counters (entries, logical and stored bytes, frames, records by size class), the
    /// arena's segments, and this process's cache.
    store_stats stats() const;

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

    // ---- repair (detail/store_repair.hpp, mmry/repair.hpp) -----------------------------------

    /// Acts on what verify() finds, in one write transaction (all or nothing), then frees the
    /// pages nothing reaches: a damaged index entry whose record still passes every check is
    /// written again; a record that fails its checks (or names a chunk that is damaged, missing
    /// or of another length), with every stored key and kept version naming it, leaves the
    /// store for the quarantine, as do damaged chunks and pieces and entries too damaged to
    /// name a record; chunks and pieces that nothing names are freed; reference counts, the
    /// dictionaries' use and the counters are set to what the store holds. Nothing is dropped
    /// silently: every change is a line of the report, and what verify() still finds after is
    /// in report.remaining. A sound store is left as it was. Writers wait; readers go on.
    /// Throws what the commit throws (then nothing has changed). O(stored bytes).
    repair_report repair();
    /// What repair() moved out of the store, oldest first.
    std::vector<quarantined> quarantine() const;
    /// The bytes of quarantined item `id` as they were stored (still compressed and
    /// encrypted; what export_record gives of a sound record), or nullopt for an entry (nothing
    /// was kept) or an id the quarantine lacks. Throws errc::corrupt when its pages cannot be
    /// read back.
    std::optional<bytes> export_quarantined(std::uint64_t id) const;
    /// Frees quarantined item `id` (its pages return to the store); false when there is none.
    bool drop_quarantined(std::uint64_t id);

    // ---- moving records out and in (detail/store_transfer.hpp) -------------------------------

    /// The stored form of `key`'s current record (still compressed and encrypted), or nullopt:
    /// what a backup copies and import_record takes back. A folded value exports as a bundle of
    /// its record and the records of its distinct chunks (docs/FORMAT.md, "Bundles").
    std::optional<bytes> export_record(std::string_view key) const;
    /// The same, of version `v` of `key` (nullopt when the store does not keep it).
    std::optional<bytes> export_record(std::string_view key, version v) const;

    /// Puts back a record exported from this store, after checking every field and decoding every
    /// frame. A record from another store, under another key, or altered in any byte is refused
    /// with the error that says why, and the store is unchanged. The record keeps its version;
    /// a kept version with that number is replaced.
    void import_record(byte_view record);

    /// Copies every key of `from` (a store of any composition: mmry/copy.hpp) into this store,
    /// which must hold no key (errc::invalid_argument otherwise): each kept version with its
    /// number, previous version, created and modified times, content type, tags and attributes,
    /// re-encoded by this store (its codec, cipher, key, dictionary, path and folding). A target
    /// whose path keeps no history takes each key's current version. Keys are copied in the
    /// order `from` lists them, oldest version first, in write transactions of about
    /// `o.batch_bytes` of values each; every transaction commits all or nothing, so a copy that
    /// throws (a version `from` cannot decode, unless o.skip_damaged; this store's limit) leaves
    /// the batches before it committed and nothing of the one that failed, and says which key
    /// and version it stopped at.
    /// Not a snapshot: `from` is read key by key (each read under its read lock for that read
    /// alone), so writers to `from` go on, and a key they change during the copy is copied as
    /// the copy found it. O(stored bytes of `from`); memory O(o.batch_bytes + the largest value).
    template <class FromTraits>
    copy_report copy_from(const basic_store<FromTraits>& from, const copy_options& o = {});

    // ---- backups (detail/store_backup.hpp, mmry/backup.hpp) ----------------------------------

    /// Backs the store up into repository `dir` (made when missing; errc::invalid_argument when
    /// it holds another store's backups): every record, chunk and dictionary as stored (still
    /// compressed and encrypted), except those the repository holds already, then the snapshot
    /// that lists them. Consistent as of one commit, whose highest sequence number the report
    /// gives: the backup reads one pinned state, and writers in every process go on meanwhile
    /// (they never wait for it; the pages it pins are not reused until it ends). Repository
    /// writers (another backup, a prune) wait for each other. Throws errc::io_error (naming the
    /// file) when the file system fails; the earlier backups stay whole. The snapshot lists the
    /// changes since the latest backup (docs/FORMAT.md, "Backups"). O(stored bytes) reads (and
    /// SHA-256, on up to 4 threads), O(bytes the repository lacks) writes; memory O(pieces),
    /// plus the records longer than a segment (gathered while the backup runs).
    backup_report backup(const std::string& dir, const backup_options& o = {}) const;

    /// Makes store `name` (of this composition: any arena and index, but the compressor, cipher,
    /// path and folding of the backed-up store, errc::policy_mismatch otherwise) from a backup in
    /// `dir`: the latest, or the one `r` names (by number, sequence or time). The store has the
    /// backed-up store's id and key (opts.key must be it: errc::wrong_key), and every key, kept
    /// version, value, metadata, tag and time as the backup holds them. A store `name` that exists
    /// is refused (errc::already_exists) unless r.replace. Every piece is checked (its id, its
    /// pack's checksum, the snapshot's HMAC or hash, and then as import_record checks records):
    /// a damaged or foreign one throws errc::corrupt naming it, and no store is left behind.
    /// Sequence numbers of the new store start far past the backup's, so that it and the store
    /// that was backed up never seal two frames under one number.
    static basic_store restore(const std::string& dir, std::string_view name, options opts = {},
                               const restore_options& r = {});

    // ---- compaction (detail/store_compact.hpp, mmry/compact.hpp) -----------------------------

    /// Makes the store as small as what it holds: moves the records, blobs and table pages that
    /// lie past the room its free pages leave into those free pages (one write transaction: all
    /// or nothing), waits (up to o.wait) for readers of earlier states to let go of the pages
    /// moved from, then brings the store's end down to its last page in use and gives the bytes
    /// past it back to the system (files and shared memory objects shrink; a heap store's pages
    /// go back to the kernel). Readers in every process go on throughout; writers wait while
    /// the records move. Values, versions, metadata and sequence numbers do not change. Throws
    /// errc::corrupt (naming it) for a damaged entry: run verify() first, and nothing changes.
    /// O(stored bytes) read, O(bytes moved) written; memory O(entries moved).
    compact_report compact(const compact_options& o = {});

    // ---- dictionaries (detail/store_dictionaries.hpp) ----------------------------------------

    /// Trains a zstd dictionary on the current values of `keys` (absent keys are skipped), stores
    /// it (encrypted when the store is), and makes it the one new records are compressed with;
    /// returns its id. Records written before keep decoding with the dictionary they name.
    /// `capacity` is the dictionary's size limit; zstd wants about 100 times as many sample bytes.
    /// Throws errc::invalid_argument when the samples are too few for zstd to train on.
    std::uint32_t train_dictionary(std::span<const std::string> keys,
                                   std::size_t capacity = default_dictionary_capacity) requires
        detail::store_state<Traits>::codec_type::takes_dictionaries;
    /// The same, on the current values of the keys whose metadata `pred` accepts.
    std::uint32_t train_dictionary(const std::function<bool(const entry&)>& pred,
                                   std::size_t capacity = default_dictionary_capacity) requires
        detail::store_state<Traits>::codec_type::takes_dictionaries;

    /// Rewrites every record and chunk that is not compressed with the current dictionary, so
    /// that it is; values, versions, hashes and times stay as they were. Returns how many records
    /// and chunks it rewrote. Each is rewritten under the write lock on its own: readers and
    /// writers go on meanwhile.
    std::size_t recompress();

    // ---- listing sources (detail/store_listing.hpp) -------------------------------------------

    /// The listing source behind list(), range(), with_tag(), where() and stored(): appends the
    /// next batch of entries after `after` (nullptr: the first batch).
    bool fetch(const query& q, const entry* after, std::vector<entry>& out) const;
    /// The source behind history(): appends the next batch of the key's versions after the
    /// version of `after` (nullptr: the first batch).
    bool fetch(const history_query& q, const entry* after, std::vector<entry>& out) const;

  private:
    friend struct detail::store_access;
    // The engine's members that the definitions of this contract use.
    using engine::apply, engine::batch_size, engine::bundle_of, engine::bundle_parts,
        engine::check_frames, engine::check_key, engine::check_put, engine::commit,
        engine::decode_as, engine::decode_whole, engine::default_dictionary_capacity,
        engine::describe, engine::describe_or_size, engine::dictionary_for, engine::encode_each,
        engine::erase_in_txn, engine::erase_key, engine::free_record, engine::import_bundle,
        engine::import_dictionary, engine::key_count, engine::latest_slot, engine::layout_of,
        engine::limit_reached, engine::load_dictionary, engine::locate, engine::manifest_of,
        engine::max_sample_bytes, engine::now_ns, engine::open_as_of, engine::open_record,
        engine::open_slot, engine::open_stored, engine::open_version, engine::owner_of,
        engine::piece_entries, engine::prepare_put, engine::prune_head, engine::put_folded,
        engine::put_whole, engine::read_range, engine::recompress_chunk, engine::recompress_record,
        engine::release, engine::s_, engine::see_seq, engine::store_dictionary, engine::to_ns,
        engine::account, engine::tally, engine::free_chunk, engine::usage_crossing, engine::visible;
    using typename engine::condition, typename engine::head_type, typename engine::origin,
        typename engine::prepared_put, typename engine::state;

    explicit basic_store(std::unique_ptr<state> s) : engine(std::move(s)) {}

    // What verify() and repair() read from a record or chunk that passes every check
    // (detail/store_verify.hpp); both throw what the first failing check found.
    struct checked {
        std::uint64_t holds = 0;  // value bytes; a piece's: what its entries cover
        std::uint32_t dictionary = 0;
        bool folded = false, piece = false;
        std::vector<format::chunk_ref> names;  // a folded value's or a piece's entries
        // A record's write (with history): its key, version and times, and the stored key
        // each layout files it under.
        std::string key;
        std::uint64_t version = 0;
        std::int64_t created_ns = 0, modified_ns = 0;
        std::vector<std::string> filed;
    };
    checked check_record(const std::string& stored_key, const record_ref& ref) const;
    checked check_chunk(std::string_view k, const detail::chunk_slot& slot) const;
};

}  // namespace v1
}  // namespace mmry

#include <mmry/detail/store_access.hpp>
#include <mmry/detail/store_backup.hpp>
#include <mmry/detail/store_batch.hpp>
#include <mmry/detail/store_compact.hpp>
#include <mmry/detail/store_copy.hpp>
#include <mmry/detail/store_dictionaries.hpp>
#include <mmry/detail/store_erase.hpp>
#include <mmry/detail/store_fold_read.hpp>
#include <mmry/detail/store_fold_write.hpp>
#include <mmry/detail/store_history.hpp>
#include <mmry/detail/store_listing.hpp>
#include <mmry/detail/store_read.hpp>
#include <mmry/detail/store_repair.hpp>
#include <mmry/detail/store_resolve.hpp>
#include <mmry/detail/store_transfer.hpp>
#include <mmry/detail/store_verify.hpp>
#include <mmry/detail/store_write.hpp>

namespace mmry {
inline namespace v1 {

/// The store with every default policy: heap arena, hashed index, zstd level 3, no cipher.
using store = basic_store<>;

}  // namespace v1
}  // namespace mmry
