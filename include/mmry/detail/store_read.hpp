#pragma once
// basic_store's reads, out of line: get, read and view of a value (whole, by version, as of a
// time, or a byte range), decoding a record's frames into a value (folded or not) through this
// process's cache, metadata, and stats.
// mmry/store.hpp includes this header after the class (and it includes mmry/store.hpp, so it
// also compiles on its own).

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include <mmry/store.hpp>

namespace mmry {
inline namespace v1 {

template <class Traits>
template <class T>
std::optional<T> basic_store<Traits>::get(std::string_view key) const {
    auto lock = s_->read();
    const auto at = locate(key);
    if (!at) return std::nullopt;
    return this->template decode_as<T>(lock, key, open_record(key, *at), /*cache=*/true);
}

template <class Traits>
template <class T>
std::optional<T> basic_store<Traits>::get(std::string_view key, version v) const {
    auto lock = s_->read();
    const auto rec = open_version(key, v.number);
    if (!rec) return std::nullopt;
    return this->template decode_as<T>(lock, key, *rec, /*cache=*/false);
}

template <class Traits>
template <class T>
std::optional<T> basic_store<Traits>::get_as_of(std::string_view key,
                                                std::chrono::system_clock::time_point t) const {
    auto lock = s_->read();
    const auto rec = open_as_of(key, t);
    if (!rec) return std::nullopt;
    return this->template decode_as<T>(lock, key, *rec, /*cache=*/false);
}

template <class Traits>
std::optional<value_view<typename basic_store<Traits>::view_guard>> basic_store<Traits>::view(
    std::string_view key) const
    requires(compressor_type::id == 0 && cipher_type::tag_size == 0 && fold_type::id == 0) {
    auto lock = s_->read();
    const auto at = locate(key);
    if (!at) return std::nullopt;
    const auto bytes = s_->codec.contiguous(open_record(key, *at));
    lock.detach();
    return value_view<view_guard>(std::move(lock), bytes);
}

template <class Traits>
std::optional<bytes> basic_store<Traits>::read(std::string_view key, std::uint64_t offset,
                                               std::uint64_t length) const {
    auto lock = s_->read();
    const auto at = locate(key);
    if (!at) return std::nullopt;
    return read_range(key, open_record(key, *at), offset, length);
}

template <class Traits>
std::optional<bytes> basic_store<Traits>::read(std::string_view key, std::uint64_t offset,
                                               std::uint64_t length, version v) const {
    auto lock = s_->read();
    const auto rec = open_version(key, v.number);
    if (!rec) return std::nullopt;
    return read_range(key, *rec, offset, length);
}

template <class Traits>
std::optional<mmry::metadata> basic_store<Traits>::metadata(std::string_view key) const {
    auto lock = s_->read();
    const auto at = locate(key);
    if (!at) return std::nullopt;
    return describe(open_record(key, *at));
}

template <class Traits>
std::optional<mmry::metadata> basic_store<Traits>::metadata(std::string_view key, version v) const {
    auto lock = s_->read();
    const auto rec = open_version(key, v.number);
    if (!rec) return std::nullopt;
    return describe(*rec);
}

template <class Traits>
store_stats basic_store<Traits>::stats() const {
    auto lock = s_->read();
    auto& root = s_->root();
    const auto& r = root.counters();
    store_stats st;
    st.entries = key_count();
    st.records = r.records;
    st.logical_bytes = r.logical_bytes;
    st.stored_bytes = r.stored_bytes + r.chunk_stored + r.dictionary_stored;
    st.folded_bytes = r.logical_bytes - r.folded_logical + r.chunk_logical;
    st.folded_values = r.folded_values;
    st.chunks = root.chunks.size() - r.pieces;
    st.pieces = r.pieces;
    st.chunk_refs = r.chunk_refs;
    st.chunk_bytes = r.chunk_logical;
    st.chunk_stored_bytes = r.chunk_stored;
    st.payload_bytes = r.payload_bytes;
    const auto current =
        static_cast<std::uint32_t>(root.pages().word(detail::tables::dictionary_word));
    for (const auto& d : r.dictionaries)
        st.dictionaries.push_back({d.id, d.bytes, d.ref.size, d.records, d.id == current});
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
    lock.unlock();
    const auto pages = s_->pages->stats();
    st.arena = s_->usage(pages);
    st.readers = {pages.readers, pages.reading, false};
    st.recoveries = pages.recoveries;
    st.recovery_time = std::chrono::nanoseconds(pages.recovery_ns);
    st.staged_reclaimed = pages.staged_reclaimed;
    st.durable_txn = pages.durable_txn;
    st.flushes = pages.flushes;
    st.journal_bytes = pages.journal_bytes;
    st.journal_syncs = pages.journal_syncs;
    st.journal_replayed = pages.journal_replayed;
    st.journal_dropped = pages.journal_dropped;
    st.cache = s_->cache.stats();
    return st;
}

template <class Traits>
template <class T>
std::optional<T> detail::store_engine<Traits>::decode_as(typename state::reading& lock,
                                                         std::string_view key,
                                                         const format::record_view& v,
                                                         bool use_cache) const {
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

template <class Traits>
bytes detail::store_engine<Traits>::read_range(std::string_view key, const format::record_view& v,
                                               std::uint64_t offset, std::uint64_t length) const {
    const std::uint64_t size = v.value_size();
    if (offset > size || length > size - offset)
        throw error(errc::out_of_range, "read of " + std::to_string(length) + " bytes at offset " +
                                            std::to_string(offset) + " of key " +
                                            detail::quote(key) + " passes the end of its " +
                                            std::to_string(size) + "-byte value");
    bytes out(static_cast<std::size_t>(length));
    decode_value(v, offset, out);
    return out;
}

template <class Traits>
mmry::metadata detail::store_engine<Traits>::describe(const format::record_view& v) const {
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
    m.created = system_clock::time_point(
        std::chrono::duration_cast<system_clock::duration>(std::chrono::nanoseconds(h.created_ns)));
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

template <class Traits>
std::optional<mmry::metadata> detail::store_engine<Traits>::describe_or_size(
    std::string_view key, const record_ref& ref) const {
    try {
        return describe(open_record(key, ref));
    } catch (const error&) {
        mmry::metadata m;
        m.stored_size = ref.size;
        m.logical_size = ref.logical_size;
        return m;
    }
}

template <class Traits>
void detail::store_engine<Traits>::decode_value(const format::record_view& v, std::uint64_t offset,
                                                std::span<std::byte> out) const {
    if (!v.header().folded) return s_->codec.decode(v, offset, out, dictionary_for(v));
    if (out.empty()) return;
    thread_local bytes whole;
    std::size_t written = 0;
    visit_chunks(v, offset, out.size(), [&](const format::chunk_ref& c, std::uint64_t at) {
        const auto skip = static_cast<std::size_t>(offset > at ? offset - at : 0);
        const std::size_t take = std::min<std::size_t>(c.length - skip, out.size() - written);
        if (skip == 0 && take == c.length) {
            decode_chunk(v.key(), c, out.subspan(written, take));
        } else {
            whole.resize(c.length);
            decode_chunk(v.key(), c, whole);
            std::memcpy(out.data() + written, whole.data() + skip, take);
        }
        written += take;
    });
    if (written != out.size())
        throw error(errc::corrupt, "key " + detail::quote(v.key()) +
                                       ": its chunks hold fewer bytes than its value size");
}

template <class Traits>
bytes detail::store_engine<Traits>::decode_whole(const format::record_view& v,
                                                 const compress::dictionary* dict) const {
    // The buffer grows by one frame at a time, as frames decode: a head that claims terabytes
    // (a CRC is not a MAC) costs one frame's allocation before its first frame fails, not an
    // allocation of what it claims (fuzz finding F1).
    const std::uint64_t total = v.header().logical_size;
    const std::uint64_t step = v.header().frame_size;
    bytes out;
    out.reserve(static_cast<std::size_t>(std::min(total, step)));
    for (std::uint64_t at = 0; at < total; at += step) {
        const auto n = static_cast<std::size_t>(std::min(step, total - at));
        out.resize(static_cast<std::size_t>(at) + n);
        s_->codec.decode(v, at, std::span(out).subspan(static_cast<std::size_t>(at), n), dict);
    }
    return out;
}

template <class Traits>
void detail::store_engine<Traits>::check_frames(const format::record_view& v) const {
    const auto* dict = dictionary_for(v);
    bytes scratch(static_cast<std::size_t>(
        std::min<std::uint64_t>(v.header().logical_size, v.header().frame_size)));
    for (std::uint64_t at = 0; at < v.header().logical_size; at += scratch.size()) {
        const auto n = static_cast<std::size_t>(
            std::min<std::uint64_t>(scratch.size(), v.header().logical_size - at));
        s_->codec.decode(v, at, std::span(scratch).first(n), dict);
    }
}

}  // namespace v1
}  // namespace mmry
