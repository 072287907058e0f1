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
#include <mmry/format/record.hpp>
#include <mmry/format/store_header.hpp>
#include <mmry/listing.hpp>
#include <mmry/metadata.hpp>
#include <mmry/options.hpp>
#include <mmry/traits.hpp>
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
    /// The lock readers and writers take: a view holds it shared.
    using lock_type = typename detail::store_state<Traits>::lock_type;

    /// True when the store lives in named segments that other processes can open.
    static constexpr bool shared = arena_type::shared;

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

    /// Stores `value` under `key`, replacing any value it had (its created time is kept).
    /// Throws errc::invalid_argument for an empty key or one over 64 KiB, errc::limit_exceeded
    /// when the store's max_size would be passed. Strong guarantee.
    void put(std::string_view key, byte_view value) {
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
        thread_local bytes record;
        const std::uint64_t seq = s_->root->seq.fetch_add(1, std::memory_order_relaxed) + 1;
        s_->codec.encode(key, value, seq, now_ns(), record);
        commit(key, record, /*keep_created=*/true);
    }
    /// Stores text as its bytes (no terminating NUL).
    void put(std::string_view key, std::string_view value) { put(key, as_bytes(value)); }
    /// Stores any contiguous run of bytes or chars as it is.
    template <byte_range R>
    void put(std::string_view key, const R& value) {
        put(key, as_byte_view(value));
    }
    /// Stores a value through its mmry::codec<T>.
    template <value_codec T>
    requires(!byte_range<T> &&
             !std::is_convertible_v<const T&, std::string_view>) void put(std::string_view key,
                                                                          const T& value) {
        const bytes encoded = codec<T>::encode(value);
        put(key, byte_view(encoded));
    }

    /// Removes `key`; returns the metadata of what it removed, or nullopt when it was not there.
    std::optional<mmry::metadata> erase(std::string_view key) {
        std::unique_lock lock(s_->lock);
        const record_ref* ref = s_->root->index.find(key);
        if (!ref) return std::nullopt;
        const record_ref old = *ref;
        std::optional<mmry::metadata> removed;
        try {
            removed = describe(open_record(key, old));
        } catch (const error&) {
            // A damaged record can still be erased; it is then reported by its size alone.
            removed = mmry::metadata{};
            removed->stored_size = old.size;
        }
        {
            update_scope update(s_->lock);
            s_->root->index.erase(key);
            account(old, -1);
            s_->arena->deallocate(old.where, old.size);
            ++s_->root->erases;
        }
        lock.unlock();
        s_->cache.erase(key);
        return removed;
    }

    // ---- reading ----------------------------------------------------------------------------

    /// The value of `key` as T (bytes, std::string, or any type with an mmry::codec), or nullopt.
    /// Throws errc::corrupt / authentication_failed / wrong_key when the record fails its checks.
    template <class T = bytes>
    std::optional<T> get(std::string_view key) const {
        std::shared_lock lock(s_->lock);
        const record_ref* ref = s_->root->index.find(key);
        if (!ref) return std::nullopt;
        const auto v = open_record(key, *ref);
        const auto n = static_cast<std::size_t>(v.header().logical_size);
        // The write sequence number names the record's content: a cached copy with the same one is
        // the current value, whichever process wrote it.
        const std::uint64_t stamp = v.header().seq;
        auto cached = s_->cache.find(key, stamp);
        if constexpr (std::is_same_v<T, bytes> || std::is_same_v<T, std::string>) {
            T out(n, typename T::value_type{});
            auto dst = std::as_writable_bytes(std::span(out));
            if (cached) {
                std::copy_n(cached->data(), n, dst.data());
            } else {
                s_->codec.decode(v, 0, dst);
                remember(key, stamp, dst);
            }
            return out;
        } else {
            static_assert(value_codec<T>, "get<T> needs an mmry::codec<T> specialization");
            if (!cached) {
                auto raw = std::make_shared<bytes>(n);
                s_->codec.decode(v, 0, *raw);
                s_->cache.insert(key, stamp, raw);
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

    /// The value of `key` in place, without a copy, or nullopt: for stores whose values are kept
    /// raw (compress::none, cipher::none). The view holds a read lock (see mmry/view.hpp); every
    /// frame's checksum is verified before it is returned (errc::corrupt otherwise).
    std::optional<value_view<lock_type>> view(std::string_view key) const
        requires(compressor_type::id == 0 && cipher_type::tag_size == 0) {
        std::shared_lock lock(s_->lock);
        const record_ref* ref = s_->root->index.find(key);
        if (!ref) return std::nullopt;
        const auto bytes = s_->codec.contiguous(open_record(key, *ref));
        return value_view<lock_type>(std::move(lock), bytes);
    }

    /// Bytes [offset, offset + length) of the value of `key`, or nullopt when the key is absent.
    /// Decodes only the frames the range touches. Throws errc::out_of_range when the range passes
    /// the end of the value.
    std::optional<bytes> read(std::string_view key, std::uint64_t offset,
                              std::uint64_t length) const {
        std::shared_lock lock(s_->lock);
        const record_ref* ref = s_->root->index.find(key);
        if (!ref) return std::nullopt;
        const auto v = open_record(key, *ref);
        const std::uint64_t size = v.header().logical_size;
        if (offset > size || length > size - offset)
            throw error(errc::out_of_range,
                        "read of " + std::to_string(length) + " bytes at offset " +
                            std::to_string(offset) + " of key " + detail::quote(key) +
                            " passes the end of its " + std::to_string(size) + "-byte value");
        bytes out(static_cast<std::size_t>(length));
        s_->codec.decode(v, offset, out);
        return out;
    }

    bool contains(std::string_view key) const {
        std::shared_lock lock(s_->lock);
        return s_->root->index.find(key) != nullptr;
    }

    /// Number of keys.
    std::size_t size() const {
        std::shared_lock lock(s_->lock);
        return s_->root->index.size();
    }

    /// What the store knows of `key` without decoding its value, or nullopt.
    std::optional<mmry::metadata> metadata(std::string_view key) const {
        std::shared_lock lock(s_->lock);
        const record_ref* ref = s_->root->index.find(key);
        if (!ref) return std::nullopt;
        return describe(open_record(key, *ref));
    }

    /// The entries whose key starts with `prefix` (see mmry/listing.hpp for order and cost).
    range_type list(std::string_view prefix = {}) const {
        return range_type(this, std::string(prefix));
    }
    typename range_type::iterator begin() const { return list().begin(); }
    typename range_type::iterator end() const { return {}; }

    /// Exact counters (entries, logical and stored bytes, frames, records by size class), the
    /// arena's segments, and this process's cache.
    store_stats stats() const {
        std::shared_lock lock(s_->lock);
        const auto& r = *s_->root;
        store_stats st;
        st.entries = r.index.size();
        st.logical_bytes = r.logical_bytes;
        st.stored_bytes = r.stored_bytes;
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
        st.cache = s_->cache.stats();
        return st;
    }

    /// The stored form of `key`'s record (still compressed and encrypted), or nullopt: what a
    /// backup copies and import_record takes back.
    std::optional<bytes> export_record(std::string_view key) const {
        std::shared_lock lock(s_->lock);
        const record_ref* ref = s_->root->index.find(key);
        if (!ref) return std::nullopt;
        const auto span = s_->arena->bytes(ref->where, ref->size);
        return bytes(span.begin(), span.end());
    }

    /// Puts back a record exported from this store, after checking every field and decoding every
    /// frame. A record from another store, under another key, or altered in any byte is refused
    /// with the error that says why, and the store is unchanged.
    void import_record(byte_view record) {
        const auto probe = format::record_view::parse(record, {}, cipher_type::tag_size);
        const std::string key(probe.key());
        const auto v = s_->codec.open(record, key);
        bytes scratch(static_cast<std::size_t>(
            std::min<std::uint64_t>(v.header().logical_size, v.header().frame_size)));
        for (std::uint64_t at = 0; at < v.header().logical_size; at += scratch.size()) {
            const auto n = static_cast<std::size_t>(
                std::min<std::uint64_t>(scratch.size(), v.header().logical_size - at));
            s_->codec.decode(v, at, std::span(scratch).first(n));
        }
        // Sequence numbers stay unique: later puts number after the imported record.
        std::uint64_t seen = s_->root->seq.load();
        while (seen < v.header().seq &&
               !s_->root->seq.compare_exchange_weak(seen, v.header().seq)) {
        }
        bytes copy(record.begin(), record.end());
        commit(key, copy, /*keep_created=*/false);
    }

    /// The listing source behind list(): appends the next batch of entries after `after`.
    bool fetch(std::string_view prefix, std::string_view after, std::vector<entry>& out) const {
        std::shared_lock lock(s_->lock);
        if constexpr (index_type::sorted) {
            bool more = false;
            s_->root->index.scan(prefix, after, [&](std::string_view k, const record_ref& ref) {
                if (out.size() == batch_size) return !(more = true);
                out.push_back(entry{std::string(k), describe(open_record(k, ref))});
                return true;
            });
            return more;
        } else {
            if (!after.empty()) return false;  // the first batch took everything
            s_->root->index.scan(prefix, after, [&](std::string_view k, const record_ref& ref) {
                out.push_back(entry{std::string(k), describe(open_record(k, ref))});
                return true;
            });
            std::sort(out.begin(), out.end(),
                      [](const entry& a, const entry& b) { return a.key < b.key; });
            return false;
        }
    }

  private:
    friend struct detail::store_access;
    static constexpr std::size_t batch_size = 256;
    using state = detail::store_state<Traits>;

    // Brackets a change of shared structures: a writer that dies inside leaves the store marked
    // as needing recovery; one that throws has undone its change and leaves it clean.
    struct update_scope {
        lock_type& lock;
        explicit update_scope(lock_type& l) : lock(l) { lock.begin_update(); }
        ~update_scope() { lock.end_update(); }
    };

    explicit basic_store(std::unique_ptr<state> s) : s_(std::move(s)) {}

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

    std::int64_t now_ns() const {
        const auto t = s_->opts.clock ? s_->opts.clock() : std::chrono::system_clock::now();
        return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    }

    format::record_view open_record(std::string_view key, const record_ref& ref) const {
        return s_->codec.open(s_->arena->bytes(ref.where, ref.size), key);
    }

    static mmry::metadata describe(const format::record_view& v) {
        const auto& h = v.header();
        mmry::metadata m;
        m.logical_size = h.logical_size;
        m.stored_size = v.bytes().size();
        m.encrypted = h.encrypted();
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
        return m;
    }

    // Adds (sign +1) or removes (-1) a record from the counters, by what its ref recorded when it
    // was committed: the record itself may have been damaged since.
    void account(const record_ref& ref, int sign) {
        auto& r = *s_->root;
        auto add = [sign](std::uint64_t& field, std::uint64_t n) {
            if (sign > 0)
                field += n;
            else
                field -= n;
        };
        add(r.stored_bytes, ref.size);
        add(r.logical_bytes, ref.logical_size);
        add(r.frames, ref.frames);
        add(r.compressed_frames, ref.compressed_frames);
        const auto k = std::min<std::size_t>(std::bit_width(ref.size), detail::size_classes - 1);
        add(r.class_blocks[k], 1);
        add(r.class_bytes[k], ref.size);
    }

    // The one write path: every mutation that adds a record goes through here, with the record
    // fully encoded beforehand, so it could be journaled as it is.
    void commit(std::string_view key, bytes& record, bool keep_created) {
        const auto parsed = format::record_view::parse(record, key, cipher_type::tag_size);
        const auto payload_offset = parsed.header().payload_offset();
        const auto counts = describe(parsed);
        std::optional<usage_alert> alert;
        {
            std::unique_lock lock(s_->lock);
            detail::fault_point("commit.locked");
            const record_ref* found = s_->root->index.find(key);
            const bool replacing = found != nullptr;
            const record_ref old = replacing ? *found : record_ref{};
            if (replacing && keep_created) {
                try {
                    const auto ov = format::record_view::parse(
                        s_->arena->bytes(old.where, old.size), "", cipher_type::tag_size);
                    format::set_created(record, payload_offset, ov.header().created_ns);
                } catch (const error&) {
                    // The old record is damaged: the new value starts a new history.
                }
            }
            update_scope update(s_->lock);
            const handle where = s_->arena->allocate(record.size());
            detail::fault_point("commit.allocated");
            std::memcpy(s_->arena->bytes(where, record.size()).data(), record.data(),
                        record.size());
            const record_ref ref{where, record.size(), counts.logical_size, counts.frames,
                                 counts.compressed_frames};
            try {
                s_->root->index.upsert(key, ref);
            } catch (const boost::interprocess::bad_alloc&) {
                // The index lives in segment 0 and cannot follow the records to new segments.
                s_->arena->deallocate(where, record.size());
                throw error(errc::limit_exceeded,
                            "store " + detail::quote(s_->name) +
                                ": segment 0 has no room left for the index entry of key " +
                                detail::quote(key) + " (the index of " +
                                std::to_string(s_->root->index.size()) +
                                " keys lives in segment 0, which has the capacity the store was "
                                "created with): erase keys, or create the store with a larger "
                                "capacity");
            } catch (...) {
                s_->arena->deallocate(where, record.size());
                throw;
            }
            detail::fault_point("commit.indexed");
            if (replacing) {
                account(old, -1);
                s_->arena->deallocate(old.where, old.size);
            }
            account(ref, +1);
            ++s_->root->puts;
            alert = usage_crossing();
        }
        if (alert && s_->opts.on_usage) s_->opts.on_usage(*alert);
    }

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

/// The store with every default policy: heap arena, hashed index, zstd level 3, no cipher.
using store = basic_store<>;

namespace detail {
/// A test seam: direct access to a record's bytes in the arena, to inject corruption.
struct store_access {
    template <class Traits>
    static std::span<std::byte> record_bytes(basic_store<Traits>& s, std::string_view key) {
        std::shared_lock lock(s.s_->lock);
        const record_ref* ref = s.s_->root->index.find(key);
        if (!ref) return {};
        return s.s_->arena->bytes(ref->where, ref->size);
    }
    /// The store header in segment 0.
    template <class Traits>
    static std::span<std::byte> header_bytes(basic_store<Traits>& s) {
        return s.s_->arena->header_bytes();
    }
};
}  // namespace detail

}  // namespace v1
}  // namespace mmry
