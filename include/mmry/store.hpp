#pragma once
// basic_store<Traits>: the store facade. Composes an arena, an index, a compressor, a cipher, a
// path and a folding policy (see mmry/traits.hpp) and keeps key -> value records in the arena.
//
// Thread-safety: every member function may be called from any number of threads at once. Readers
// (get, read, contains, metadata, list, stats, export_record) run in parallel; writers (put, erase,
// import_record) encode and encrypt in parallel, then commit one at a time.
// Atomicity: a put or erase is all or nothing. When it throws, the store is exactly as it was.
// Errors: a missing key is std::nullopt, never an error; everything else throws mmry::error (see
// mmry/error.hpp) naming the key, the frame and the values involved.
// Complexity: get and put cost one index lookup plus encoding of the value; read(key, offset,
// length) decodes only the frames the range touches.

#include <algorithm>
#include <array>
#include <atomic>
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

#include <crypto++/osrng.h>

#include <mmry/bytes.hpp>
#include <mmry/codec/frame_codec.hpp>
#include <mmry/codec/value.hpp>
#include <mmry/concepts.hpp>
#include <mmry/detail/describe.hpp>
#include <mmry/detail/writer_first_mutex.hpp>
#include <mmry/error.hpp>
#include <mmry/format/record.hpp>
#include <mmry/format/store_header.hpp>
#include <mmry/listing.hpp>
#include <mmry/metadata.hpp>
#include <mmry/options.hpp>
#include <mmry/traits.hpp>

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

    /// An unnamed store in this process's memory.
    /// Throws errc::invalid_argument for a bad option (naming it), e.g. a cipher without a key.
    explicit basic_store(options opts = {}) : basic_store(std::string_view(), std::move(opts)) {}

    /// A new store named `name` (the name appears in error messages).
    static basic_store create(std::string_view name, options opts = {}) {
        return basic_store(name, std::move(opts));
    }
    /// For the heap arena, the same as create(): a heap store lives only in the process that made
    /// it.
    static basic_store open_or_create(std::string_view name, options opts = {}) {
        return create(name, std::move(opts));
    }

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
        thread_local bytes record;
        const std::uint64_t seq = s_->seq.fetch_add(1, std::memory_order_relaxed) + 1;
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
        std::unique_lock lock(s_->mutex);
        const record_ref* ref = s_->index.find(key);
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
        s_->index.erase(key);
        account(old, -1);
        s_->arena.deallocate(old.where);
        ++s_->erases;
        return removed;
    }

    // ---- reading ----------------------------------------------------------------------------

    /// The value of `key` as T (bytes, std::string, or any type with an mmry::codec), or nullopt.
    /// Throws errc::corrupt / authentication_failed / wrong_key when the record fails its checks.
    template <class T = bytes>
    std::optional<T> get(std::string_view key) const {
        std::shared_lock lock(s_->mutex);
        const record_ref* ref = s_->index.find(key);
        if (!ref) return std::nullopt;
        const auto v = open_record(key, *ref);
        const auto n = static_cast<std::size_t>(v.header().logical_size);
        if constexpr (std::is_same_v<T, bytes> || std::is_same_v<T, std::string>) {
            T out(n, typename T::value_type{});
            s_->codec.decode(v, 0, std::as_writable_bytes(std::span(out)));
            return out;
        } else {
            static_assert(value_codec<T>, "get<T> needs an mmry::codec<T> specialization");
            bytes raw(n);
            s_->codec.decode(v, 0, raw);
            lock.unlock();
            try {
                return codec<T>::decode(raw);
            } catch (const error& e) {
                // Keep the codec's words, without the "mmry: " prefix and the category message
                // that e.what() carries and the new error adds again.
                std::string_view why = e.what();
                const std::string tail = ": " + e.code().message();
                if (why.starts_with("mmry: ")) why.remove_prefix(6);
                if (why.ends_with(tail)) why.remove_suffix(tail.size());
                throw error(e.code_value(), "key " + detail::quote(key) + ": " + std::string(why));
            }
        }
    }

    /// Bytes [offset, offset + length) of the value of `key`, or nullopt when the key is absent.
    /// Decodes only the frames the range touches. Throws errc::out_of_range when the range passes
    /// the end of the value.
    std::optional<bytes> read(std::string_view key, std::uint64_t offset,
                              std::uint64_t length) const {
        std::shared_lock lock(s_->mutex);
        const record_ref* ref = s_->index.find(key);
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
        std::shared_lock lock(s_->mutex);
        return s_->index.find(key) != nullptr;
    }

    /// Number of keys.
    std::size_t size() const {
        std::shared_lock lock(s_->mutex);
        return s_->index.size();
    }

    /// What the store knows of `key` without decoding its value, or nullopt.
    std::optional<mmry::metadata> metadata(std::string_view key) const {
        std::shared_lock lock(s_->mutex);
        const record_ref* ref = s_->index.find(key);
        if (!ref) return std::nullopt;
        return describe(open_record(key, *ref));
    }

    /// The entries whose key starts with `prefix` (see mmry/listing.hpp for order and cost).
    range_type list(std::string_view prefix = {}) const {
        return range_type(this, std::string(prefix));
    }
    typename range_type::iterator begin() const { return list().begin(); }
    typename range_type::iterator end() const { return {}; }

    /// Exact counters: entries, logical and stored bytes, frames, and the arena's segments.
    store_stats stats() const {
        std::shared_lock lock(s_->mutex);
        store_stats st = s_->totals;
        st.entries = s_->index.size();
        st.puts = s_->puts;
        st.erases = s_->erases;
        st.arena = s_->arena.stats();
        return st;
    }

    /// The stored form of `key`'s record (still compressed and encrypted), or nullopt: what a
    /// backup copies and import_record takes back.
    std::optional<bytes> export_record(std::string_view key) const {
        std::shared_lock lock(s_->mutex);
        const record_ref* ref = s_->index.find(key);
        if (!ref) return std::nullopt;
        const auto span = s_->arena.bytes(ref->where, ref->size);
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
        std::uint64_t seen = s_->seq.load();
        while (seen < v.header().seq && !s_->seq.compare_exchange_weak(seen, v.header().seq)) {
        }
        bytes copy(record.begin(), record.end());
        commit(key, copy, /*keep_created=*/false);
    }

    /// The listing source behind list(): appends the next batch of entries after `after`.
    bool fetch(std::string_view prefix, std::string_view after, std::vector<entry>& out) const {
        std::shared_lock lock(s_->mutex);
        if constexpr (index_type::sorted) {
            bool more = false;
            s_->index.scan(prefix, after, [&](std::string_view k, const record_ref& ref) {
                if (out.size() == batch_size) return !(more = true);
                out.push_back(entry{std::string(k), describe(open_record(k, ref))});
                return true;
            });
            return more;
        } else {
            if (!after.empty()) return false;  // the first batch took everything
            s_->index.scan(prefix, after, [&](std::string_view k, const record_ref& ref) {
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
    using index_map = typename index_type::template map<std::allocator<char>>;
    using codec_type = detail::frame_codec<compressor_type, cipher_type>;

    struct state {
        std::string name;
        options opts;
        detail::store_id id;
        std::array<std::byte, key::salt_size> salt{};
        codec_type codec;
        arena_type arena;
        index_map index;
        mutable detail::writer_first_mutex mutex;  // readers never starve a writer
        std::atomic<std::uint64_t> seq{0};
        store_stats totals;
        std::uint64_t puts = 0;
        std::uint64_t erases = 0;
        handle header_at;  // the store header, first block of segment 0

        state(std::string_view n, options o, const detail::store_id& sid,
              const std::array<std::byte, key::salt_size>& s, CryptoPP::SecByteBlock master)
            : name(n)
            , opts(std::move(o))
            , id(sid)
            , salt(s)
            , codec(sid, std::move(master), static_cast<std::uint32_t>(opts.frame_size))
            , arena(opts.capacity, opts.max_size) {}
    };

    basic_store(std::string_view name, options opts) {
        if (opts.frame_size < format::min_frame_size || opts.frame_size > format::max_frame_size)
            throw error(errc::invalid_argument,
                        "options.frame_size " + std::to_string(opts.frame_size) + " is outside " +
                            std::to_string(format::min_frame_size) + ".." +
                            std::to_string(format::max_frame_size));
        constexpr bool encrypted = cipher_type::tag_size > 0;
        if (encrypted && opts.key.empty())
            throw error(errc::invalid_argument, "the store's cipher is '" +
                                                    std::string(cipher_type::name) +
                                                    "' but options.key is empty");
        if (!encrypted && !opts.key.empty())
            throw error(errc::invalid_argument,
                        "options.key was given, but the store's cipher is 'none': its values would "
                        "not be encrypted");
        CryptoPP::AutoSeededRandomPool rng;
        detail::store_id sid{};
        std::array<std::byte, key::salt_size> salt{};
        rng.GenerateBlock(reinterpret_cast<CryptoPP::byte*>(sid.data()), sid.size());
        rng.GenerateBlock(reinterpret_cast<CryptoPP::byte*>(salt.data()), salt.size());
        if (auto explicit_salt = opts.key.salt();
            explicit_salt && explicit_salt->size() == salt.size())
            std::copy(explicit_salt->begin(), explicit_salt->end(), salt.begin());
        format::store_header header;
        header.policies = format::fingerprint::of<Traits>();
        header.frame_size = static_cast<std::uint32_t>(opts.frame_size);
        header.kdf = opts.key.params();
        header.passphrase = opts.key.is_passphrase();
        header.id = sid;
        header.salt = salt;
        CryptoPP::SecByteBlock master;
        if constexpr (encrypted) {
            master = opts.key.material(salt);
            header.key_check = detail::key_check(master, sid);
        }
        s_ = std::make_unique<state>(name, std::move(opts), sid, salt, std::move(master));
        s_->header_at = s_->arena.allocate(format::store_header_size);
        header.write(s_->arena.bytes(s_->header_at, format::store_header_size)
                         .template first<format::store_header_size>());
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
        return s_->codec.open(s_->arena.bytes(ref.where, ref.size), key);
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
        auto& t = s_->totals;
        auto add = [sign](std::uint64_t& field, std::uint64_t n) {
            if (sign > 0)
                field += n;
            else
                field -= n;
        };
        add(t.stored_bytes, ref.size);
        add(t.logical_bytes, ref.logical_size);
        add(t.frames, ref.frames);
        add(t.compressed_frames, ref.compressed_frames);
    }

    // The one write path: every mutation that adds a record goes through here, with the record
    // fully encoded beforehand, so it could be journaled as it is.
    void commit(std::string_view key, bytes& record, bool keep_created) {
        const auto parsed = format::record_view::parse(record, key, cipher_type::tag_size);
        const auto payload_offset = parsed.header().payload_offset();
        const auto counts = describe(parsed);
        std::unique_lock lock(s_->mutex);
        const record_ref* found = s_->index.find(key);
        // Filled by emplace: GCC 12 -O2 calls a copy through the conditional form maybe-uninitialized
        // (a false positive that -Werror turns into a failed build).
        std::optional<record_ref> old;
        if (found) old.emplace(*found);
        if (old && keep_created) {
            try {
                const auto ov = format::record_view::parse(s_->arena.bytes(old->where, old->size),
                                                           "", cipher_type::tag_size);
                format::set_created(record, payload_offset, ov.header().created_ns);
            } catch (const error&) {
                // The old record is damaged: the new value starts a new history.
            }
        }
        const handle where = s_->arena.allocate(record.size());
        std::memcpy(s_->arena.bytes(where, record.size()).data(), record.data(), record.size());
        const record_ref ref{where, record.size(), counts.logical_size, counts.frames,
                             counts.compressed_frames};
        try {
            s_->index.upsert(key, ref);
        } catch (...) {
            s_->arena.deallocate(where);
            throw;
        }
        if (old) {
            account(*old, -1);
            s_->arena.deallocate(old->where);
        }
        account(ref, +1);
        ++s_->puts;
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
        std::shared_lock lock(s.s_->mutex);
        const record_ref* ref = s.s_->index.find(key);
        if (!ref) return {};
        return s.s_->arena.bytes(ref->where, ref->size);
    }
    /// The store header in segment 0.
    template <class Traits>
    static std::span<std::byte> header_bytes(basic_store<Traits>& s) {
        return s.s_->arena.bytes(s.s_->header_at, format::store_header_size);
    }
};
}  // namespace detail

}  // namespace v1
}  // namespace mmry
