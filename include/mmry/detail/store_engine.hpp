#pragma once
// detail::store_engine<Traits>: what basic_store (mmry/store.hpp) is built on, behind its
// contract: the store's state, and the members its parts share (resolving keys, decoding, the
// one commit path, counters, folding, dictionaries, transfer). basic_store derives from it
// privately; the parts (detail/store_*.hpp) define these members out of line, next to the public
// members they serve.
//
// Thread-safety and errors: as basic_store's. Members that change the store are called with the
// write transaction held (s_->write()), members that read it with a read lock or a pinned state.

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

#include <mmry/batch.hpp>
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

template <class Traits>
class store_engine {
    static_assert(store_traits<Traits>,
                  "Traits must name an arena, index, compressor, cipher, path "
                  "and fold policy that satisfy mmry's concepts");

  protected:
    friend struct store_access;
    using arena_type = typename Traits::arena;
    using index_type = typename Traits::index;
    using compressor_type = typename Traits::compressor;
    using cipher_type = typename Traits::cipher;
    using path_type = typename Traits::path;
    using fold_type = typename Traits::fold;

    static constexpr bool shared = arena_type::shared;
    static constexpr bool sealed = cipher_type::tag_size > 0;
    static constexpr bool keeps_history = path_type::history;
    static constexpr std::size_t layouts = path_type::layouts;
    static constexpr std::uint32_t all_layouts = (std::uint32_t{1} << layouts) - 1;
    static constexpr bool folding = fold_type::id != 0;

    static constexpr std::size_t batch_size = 256;
    // Records of at least this many bytes are copied into their pages outside the writer lock
    // (stage_record); below it, a second transaction costs more than the copy it takes out.
    static constexpr std::size_t stage_threshold = 128 << 10;
    // At most half the table of staged runs for one record, so that one put of a very long
    // record leaves room for others' (longer ones are copied under the lock).
    static constexpr std::size_t max_staged_runs = pages::max_staged / 2;
    static constexpr std::size_t default_dictionary_capacity = 112640;
    static constexpr std::uint64_t max_seq = std::uint64_t{1} << 62;
    using state = store_state<Traits>;
    using codec_type = typename state::codec_type;
    using dictionary_ptr = std::shared_ptr<const compress::dictionary>;

    // A folded put's plan and its chunks (defined in detail/store_fold_write.hpp).
    struct encoded_chunk;
    struct fold_piece;
    struct fold_plan;
    using head_type = typename state::head_type;
    using slot_iterator = typename head_type::slots::iterator;
    enum class origin { put, import };

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

    // ---- resolving keys (callers hold the lock; detail/store_resolve.hpp) -------------------

    // Whether a version counts as present under the path's existence strategy.
    static bool visible(const version_slot& s) noexcept {
        switch (path_type::existence) {
            case path::exists::all:
                return (s.layouts & all_layouts) == all_layouts;
            case path::exists::first:
                return (s.layouts & 1u) != 0;
            default:
                return s.layouts != 0;
        }
    }
    static const version_slot* latest_slot(const head_type& h) noexcept {
        for (auto it = h.versions.rbegin(); it != h.versions.rend(); ++it)
            if (visible(*it)) return &*it;
        return nullptr;
    }

    // Keys with a present version. Every kept version is present under exists::any (and with one
    // layout); under all/first a version may be kept for another layout only, so count (O(n)).
    std::size_t key_count() const;

    // The record of key's current version.
    std::optional<record_ref> locate(std::string_view key) const {
        if constexpr (!keeps_history) {
            const record_ref* ref = s_->root().index.find(key);
            return ref ? std::optional(*ref) : std::nullopt;
        } else {
            const auto* head = s_->root().heads.find(key);
            const auto* slot = head ? latest_slot(*head) : nullptr;
            return slot ? std::optional(slot->ref) : std::nullopt;
        }
    }

    std::optional<format::record_view> open_version(std::string_view key, std::uint64_t n) const;

    std::optional<format::record_view> open_as_of(std::string_view key,
                                                  std::chrono::system_clock::time_point t) const;

    format::record_view open_record(std::string_view key, const record_ref& ref) const {
        const auto bytes = s_->root().bytes(ref);
        // A small record's head, key, meta section, table and value span a few cache lines that
        // parsing reads one after the other: asking for all of them at once overlaps the misses.
        for (std::size_t at = 0; at < std::min<std::size_t>(bytes.size(), 512); at += 64)
            __builtin_prefetch(bytes.data() + at);
        auto v = s_->codec.open(bytes, key);
        check_bound(v, ref);
        return v;
    }
    // An index entry names its record by sequence number (and, encrypted, under a key): bind
    // stamps a placed record's ref, check_bound checks an opened record against its ref.
    void bind(record_ref& ref, const format::record_view& v) const {
        if (!tables::inline_records::is(ref)) ref.seq = v.header().seq;
        ref.binding = s_->codec.binding(v.key(), v.header().seq);
    }
    void check_bound(const format::record_view& v, const record_ref& ref) const {
        const std::uint64_t seq = v.header().seq;
        std::string what;
        if (!tables::inline_records::is(ref) && ref.seq != seq)
            what = "its index entry names record number " + std::to_string(ref.seq) +
                   ", the record found is number " + std::to_string(seq);
        else if (ref.binding != s_->codec.binding(v.key(), seq))
            what =
                "its index entry is not bound under the store's key to the record found "
                "(number " +
                std::to_string(seq) + ")";
        else
            return;
        throw error(errc::corrupt, "key " + quote(v.key()) + ": " + what +
                                       ": an older record put back in its place (a replay), "
                                       "or damage");
    }

    // A kept version's record, checked to be the version the head files it as.
    format::record_view open_slot(std::string_view key, const version_slot& slot) const;

    // The record under a stored key, checked to be a write that the path policy files there.
    format::record_view open_stored(std::string_view stored_key, const record_ref& ref) const;

    // The stored key layout `layout` files the write held by record v under.
    static std::string stored_key_of(std::size_t layout, const format::record_view& v) {
        std::string out;
        path_type::stored_key(
            layout, {v.key(), v.meta().version(), v.header().modified_ns, v.meta().content_hash()},
            out);
        return out;
    }

    // ---- reading values (detail/store_read.hpp) -----------------------------------------------

    template <class T>
    std::optional<T> decode_as(typename state::reading& lock, std::string_view key,
                               const format::record_view& v, bool use_cache) const;

    static bool worth_caching(const format::record_view& v) noexcept {
        if (v.header().encrypted() || v.header().folded) return true;
        for (std::uint32_t i = 0; i < v.header().frame_count; ++i)
            if (v.entry(i).codec != 0) return true;
        return false;
    }

    bytes read_range(std::string_view key, const format::record_view& v, std::uint64_t offset,
                     std::uint64_t length) const;

    void remember(std::string_view key, std::uint64_t stamp, byte_view value) const {
        if (value.size() + key.size() + value_cache::entry_overhead > s_->opts.cache_bytes) return;
        s_->cache.insert(key, stamp, std::make_shared<const bytes>(value.begin(), value.end()));
    }

    static void check_key(std::string_view key) {
        if (key.empty()) throw error(errc::invalid_argument, "the key is empty");
        if (key.size() > format::max_key_size)
            throw error(errc::invalid_argument,
                        "key " + quote(key) + " has " + std::to_string(key.size()) +
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
    mmry::metadata describe(const format::record_view& v) const;
    // For erase: a damaged record can still be erased; it is then reported by its size alone.
    std::optional<mmry::metadata> describe_or_size(std::string_view key,
                                                   const record_ref& ref) const;

    // Decodes value bytes [offset, offset + out.size()) of an opened record, folded or not.
    void decode_value(const format::record_view& v, std::uint64_t offset,
                      std::span<std::byte> out) const;
    // Checks every frame of an opened record by decoding it.
    void check_frames(const format::record_view& v) const;
    /// All of a record's content, decoded frame by frame (see the definition for why).
    bytes decode_whole(const format::record_view& v, const compress::dictionary* dict) const;

    // ---- writing (callers hold the write lock; detail/store_write.hpp) ----------------------

    // Adds (sign +1) or removes (-1) a record from the counters, by what its ref recorded when it
    // was committed: the record itself may have been damaged since.
    void account(const record_ref& ref, int sign);
    static void adjust(std::uint64_t& field, std::uint64_t n, int sign) noexcept {
        if (sign > 0)
            field += n;
        else
            field -= n;
    }
    // Counts (sign +1) or discounts (-1) what a record adds beyond its ref: folding, the use of
    // a dictionary, frames by level.
    void tally(const format::record_view& v, int sign);

    // Frees a record (and, unless release is false, its manifest's chunk references).
    void free_record(const record_ref& ref, bool release = true);

    // The version, chain hash and created time of the record at ref, for the put that follows
    // it; a damaged record (or one whose meta MAC fails) starts a new chain.
    predecessor predecessor_of(const record_ref& ref) const;

    // Copies an encoded record into new pages of the write transaction (or, given the key it is
    // filed under alone, into its index entry when it is small enough), or adopts the runs
    // `staged` it was copied into beforehand (stage_record) and writes its stamped head again.
    record_ref place(const bytes& record, const format::record_view& parsed,
                     std::string_view inline_key = {}, std::span<const pages::page_id> staged = {});

    // A large record copied into pages before the commit takes the writer lock: a short
    // transaction stages runs for it (committed, owned by this process, reached by nothing
    // else): one, or one per segment of a record longer than a segment; the bytes go in with no
    // lock held. Returns the runs, or none when the record is small, would take more than
    // max_staged_runs, or the table of staged runs is full (the commit then copies it under the
    // lock).
    std::vector<pages::page_id> stage_record(const bytes& record);
    // Frees runs stage_record made that no commit adopted (nothing for adopted ones). Never
    // throws: a run it cannot free stays staged until this process is gone.
    void release_staged(std::span<const pages::page_id> runs) noexcept;

    // The one write path: every mutation that adds a record goes through here, with the record
    // fully encoded beforehand (only version, chain hash and created time are stamped under the
    // lock), so it could be journaled as it is. Returns the version the record holds.
    std::uint64_t commit(std::string_view key, bytes& record, origin from,
                         fold_plan* plan = nullptr, const condition& when = {});
    // What commit does inside the caller's write transaction (a batch applies several).
    // `staged`: the runs stage_record copied the record into, or none.
    std::uint64_t apply(std::string_view key, bytes& record, origin from, fold_plan* plan,
                        const condition& when, std::span<const pages::page_id> staged = {});

    // The key's current version (0 when its record cannot be read), or nullopt when it has none.
    std::optional<std::uint64_t> current_version(std::string_view key) const;
    // Throws errc::conflict, naming the key and both versions, when `when` does not hold.
    void check_condition(std::string_view key, const condition& when) const;

    void commit_latest(std::string_view key, bytes& record, const format::record_view& parsed,
                       origin from, std::span<const pages::page_id> staged);

    void commit_history(std::string_view key, bytes& record, const format::record_view& parsed,
                        origin from, std::span<const pages::page_id> staged);

    // A stored key must be a key too; a path that makes an empty or oversized one is refused.
    static void check_stored_key(std::string_view key, std::string_view stored_key);

    // Throws errc::limit_exceeded for a put of `bytes` the store's limit refused, with what the
    // store holds.
    [[noreturn]] void limit_reached(std::string_view key, std::uint64_t bytes) const;

    // The threshold (75, 85, 95 % of max_size) this put took the store past, once per crossing.
    std::optional<usage_alert> usage_crossing();

    std::uint64_t next_seq() { return s_->pages->next_seq(); }

    // A put of a value as one record (not folded).
    std::uint64_t put_whole(std::string_view key, byte_view value, const put_options& o);
    // Checks a put's key, value size and options before anything is encoded.
    void check_put(std::string_view key, byte_view value, const put_options& o) const;
    // A batch's put, encoded before the lock (detail/store_batch.hpp), as written at
    // `modified_ns` (now, or a copied version's time).
    struct prepared_put;
    void prepare_put(std::string_view key, byte_view value, const put_options& o,
                     std::int64_t modified_ns, prepared_put& out);
    // Calls encode(i) for every i < n: on up to four threads when the values together hold
    // more than a megabyte (encoding is most of a put's work and needs no lock). Rethrows the
    // first failure once all threads are done.
    template <class Encode>
    static void encode_each(std::size_t n, std::uint64_t value_bytes, Encode&& encode);

    // ---- removing versions (detail/store_erase.hpp, store_history.hpp) ------------------------

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
    // The erase of erase_key, inside the caller's write transaction; false when there was
    // nothing to erase (removed then stays empty).
    bool erase_in_txn(std::string_view key, std::uint64_t want,
                      std::optional<mmry::metadata>& removed);

    // ---- folding (detail/store_fold_write.hpp, store_fold_read.hpp) ---------------------------

    std::uint64_t put_folded(std::string_view key, byte_view value, const put_options& o);
    // Plans and encodes a folded put before the lock (false: a chunk reference clashes with
    // another chunk's; the value is then put whole).
    bool prepare_folded(std::string_view key, byte_view value, const put_options& o,
                        std::int64_t modified_ns, fold_plan& plan, bytes& record);
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
                        const format::hash_bytes* id, chunk_kind kind);
    void acquire_piece(fold_plan& plan, std::size_t t);
    // Places a chunk record the plan made or carried (or, for a put, makes it now).
    void place_chunk(fold_plan& plan, const format::chunk_reference& ref,
                     const format::hash_bytes& id, chunk_kind kind, byte_view content);
    // Drops one reference per entry; frees a chunk when its last reference goes (a piece's
    // entries are then released in turn).
    void release_chunks(const std::vector<format::chunk_ref>& entries);
    void free_chunk(const format::chunk_reference& ref, const chunk_slot& slot);

    // The manifest of a folded record.
    format::manifest manifest_of(const format::record_view& v) const;
    // The entries of the piece in `slot`, checked against its id.
    std::vector<format::chunk_ref> piece_entries(const chunk_slot& slot,
                                                 std::string_view key) const;
    // Calls f(chunk, offset of the chunk in the value) for each chunk of a folded record that
    // overlaps [offset, offset + length), in order; decodes only the pieces the range covers.
    template <class F>
    void visit_chunks(const format::record_view& v, std::uint64_t offset, std::uint64_t length,
                      F&& f) const;
    // Decodes chunk `c` into out (c.length bytes) and checks that its content has its id.
    void decode_chunk(std::string_view key, const format::chunk_ref& c,
                      std::span<std::byte> out) const;

    // ---- export and import (detail/store_transfer.hpp) ----------------------------------------

    // Sequence numbers stay unique: later puts number after an imported record.
    // An imported sequence number is untrusted input: one near 2^64 would make the counter wrap,
    // and sequence numbers (nonces of sealed frames) repeat.
    void see_seq(std::uint64_t seq);
    bytes bundle_of(const format::record_view& v) const;
    /// The records a bundle of folded record `v` holds (spans into the current transaction).
    format::bundle bundle_parts(const format::record_view& v) const;
    void import_bundle(byte_view bundle);

    // ---- dictionaries (detail/store_dictionaries.hpp) -----------------------------------------

    // The dictionary a record names (nullptr for none); loaded once per process.
    const compress::dictionary* dictionary_for(const format::record_view& v) const;
    dictionary_ptr load_dictionary(std::uint32_t id) const;
    // The dictionary new records are compressed with (nullptr when none).
    dictionary_ptr current_dictionary() const;
    std::uint32_t store_dictionary(const std::vector<bytes>& samples, std::size_t capacity);
    // Adds dictionary `id` (record `record`, opened as `v`, of `size` bytes) in the current
    // write transaction; with `current`, new records are compressed with it.
    void adopt_dictionary(std::uint32_t id, byte_view record, const format::record_view& v,
                          std::uint64_t size, bool current);
    // Puts back dictionary `id` from its stored record (a backup's), checked and decoded first.
    void import_dictionary(std::uint32_t id, byte_view record, bool current);
    static std::size_t max_sample_bytes(std::size_t capacity) { return capacity * 100; }
    bool recompress_record(std::string_view key, const record_ref& ref);
    bool recompress_chunk(const format::chunk_reference& ref);

    explicit store_engine(std::unique_ptr<state> s) : s_(std::move(s)) {}

    std::unique_ptr<state> s_;
};

}  // namespace detail
}  // namespace v1
}  // namespace mmry
