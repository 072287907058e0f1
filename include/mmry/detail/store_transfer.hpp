#pragma once
// basic_store's export and import, out of line: a record in its stored form (a folded value as a
// bundle of its record, pieces and chunks), and putting one back after checking every field,
// frame, piece and chunk of it.
// mmry/store.hpp includes this header after the class (and it includes mmry/store.hpp, so it
// also compiles on its own).

#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include <mmry/format/bundle.hpp>
#include <mmry/store.hpp>

namespace mmry {
inline namespace v1 {

template <class Traits>
std::optional<bytes> basic_store<Traits>::export_record(std::string_view key) const {
    auto lock = s_->read();
    const auto at = locate(key);
    if (!at) return std::nullopt;
    const auto span = s_->root().bytes(*at);
    if constexpr (folding) {
        const auto v = open_record(key, *at);
        if (v.header().folded) return bundle_of(v);
    }
    return bytes(span.begin(), span.end());
}

template <class Traits>
std::optional<bytes> basic_store<Traits>::export_record(std::string_view key, version v) const {
    auto lock = s_->read();
    const auto rec = open_version(key, v.number);
    if (!rec) return std::nullopt;
    if constexpr (folding)
        if (rec->header().folded) return bundle_of(*rec);
    return bytes(rec->bytes().begin(), rec->bytes().end());
}

template <class Traits>
void basic_store<Traits>::import_record(byte_view record) {
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
        auto lock = s_->read();
        check_frames(v);
    }
    see_seq(v.header().seq);
    bytes copy(record.begin(), record.end());
    commit(key, copy, origin::import);
    // The record keeps its own sequence number, which this process may have cached for
    // the value it replaces (a get would then be served the old value).
    s_->cache.erase(key);
}

template <class Traits>
void detail::store_engine<Traits>::see_seq(std::uint64_t seq) {
    if (seq > max_seq)
        throw error(errc::corrupt, "an imported record's sequence number " + std::to_string(seq) +
                                       " is above the limit of 2^62");
    s_->pages->see_seq(seq);
}

template <class Traits>
bytes detail::store_engine<Traits>::bundle_of(const format::record_view& v) const {
    return format::write_bundle(bundle_parts(v));
}

template <class Traits>
format::bundle detail::store_engine<Traits>::bundle_parts(const format::record_view& v) const {
    format::bundle b;
    b.records.push_back(v.bytes());
    std::set<format::chunk_reference> seen;
    auto add = [&](const format::chunk_ref& c) {
        if (!seen.insert(c.ref).second) return (const detail::chunk_slot*)nullptr;
        const auto* slot = s_->root().chunks.find(format::chunk_key(c.ref));
        if (!slot)
            throw error(errc::corrupt, "key " + detail::quote(v.key()) + ": chunk " +
                                           detail::chunk_name(c.ref) +
                                           " of its manifest is not in the store");
        b.records.push_back(s_->root().bytes(slot->ref));
        return slot;
    };
    const auto m = manifest_of(v);
    std::vector<format::chunk_ref> chunks;
    if (m.depth == 0) {
        chunks = m.entries;
    } else {
        for (const auto& p : m.entries)
            if (const auto* slot = add(p)) {
                const auto children = piece_entries(*slot, v.key());
                chunks.insert(chunks.end(), children.begin(), children.end());
            }
        b.pieces = b.records.size() - 1;
    }
    for (const auto& c : chunks) add(c);
    return b;
}

template <class Traits>
void detail::store_engine<Traits>::import_bundle(byte_view bytes_in) {
    const auto b = format::parse_bundle(bytes_in);
    const auto& records = b.records;
    const auto probe = format::record_view::parse(records[0], {}, cipher_type::tag_size);
    const std::string key(probe.key());
    const auto v = s_->codec.open(records[0], key);
    s_->codec.check_meta(v);
    if (!v.header().folded)
        throw error(errc::invalid_argument, "bundle of key " + detail::quote(key) +
                                                ": its first record is not a folded value");
    auto fail = [&](std::size_t i, const std::string& why) {
        throw error(errc::corrupt, "bundle of key " + detail::quote(key) + ": record " +
                                       std::to_string(i) + " " + why);
    };
    // Opens bundled record i as a chunk: its id, and its decoded content.
    auto open_chunk = [&](std::size_t i, bytes& content) {
        const auto p = format::record_view::parse(records[i], {}, cipher_type::tag_size);
        format::hash_bytes id{};
        if (p.key().size() != id.size()) fail(i, "is not a chunk");
        std::memcpy(id.data(), p.key().data(), id.size());
        const auto cv = s_->codec.open(records[i], p.key());
        if (cv.header().folded) fail(i, "is folded");
        content = decode_whole(cv, dictionary_for(cv));
        see_seq(cv.header().seq);
        return id;
    };
    fold_plan plan;
    {
        auto lock = s_->read();
        const auto m = manifest_of(v);
        plan.depth = m.depth;
        plan.top = m.entries;
        // The chunks the bundle may carry, with the length the manifest (or a piece) gives each:
        // a chunk of another length would import, and every read of the value fail (F2).
        std::map<format::chunk_reference, std::uint32_t> named;
        auto name = [&](std::size_t i, const format::chunk_ref& c) {
            const auto [at, fresh] = named.try_emplace(c.ref, c.length);
            if (!fresh && at->second != c.length)
                fail(i, "names chunk " + detail::chunk_name(c.ref) + " with lengths " +
                            std::to_string(at->second) + " and " + std::to_string(c.length));
        };
        if (m.depth == 0) {
            plan.chunks = m.entries;
        } else {
            plan.pieces.resize(m.entries.size());
            std::map<format::chunk_reference, std::size_t> at;
            for (std::size_t t = 0; t < m.entries.size(); ++t) at.emplace(m.entries[t].ref, t);
            for (std::size_t i = 1; i <= b.pieces; ++i) {
                bytes content;
                const auto id = open_chunk(i, content);
                const auto ref = format::reference_of(id);
                const auto t = at.find(ref);
                if (t == at.end()) fail(i, "is a piece its manifest does not name");
                if (s_->codec.piece_hasher().hash(content) != id)
                    fail(i, "does not hold the content its id names");
                const auto children = format::parse_entries(content, format::max_chunk_size,
                                                            "bundle of key " + detail::quote(key));
                std::uint64_t covers = 0;
                for (const auto& c : children) covers += c.length;
                for (std::size_t u = t->second; u < m.entries.size(); ++u) {
                    if (m.entries[u].ref != ref) continue;
                    if (covers != m.entries[u].length)
                        fail(i, "covers " + std::to_string(covers) + " bytes, its manifest entry " +
                                    std::to_string(m.entries[u].length));
                    plan.pieces[u] = {plan.chunks.size(), plan.chunks.size() + children.size(),
                                      content, id};
                }
                for (const auto& c : children) name(i, c);
                plan.chunks.insert(plan.chunks.end(), children.begin(), children.end());
                plan.encoded.try_emplace(
                    ref, encoded_chunk{id, bytes(records[i].begin(), records[i].end()),
                                       detail::chunk_kind::piece});
            }
        }
        if (m.depth == 0)
            for (const auto& c : m.entries) name(0, c);
        for (std::size_t i = 1 + b.pieces; i < records.size(); ++i) {
            bytes content;
            const auto id = open_chunk(i, content);
            const auto ref = format::reference_of(id);
            const auto length = named.find(ref);
            if (length == named.end()) fail(i, "is a chunk its manifest does not name");
            if (content.size() != length->second)
                fail(i, "holds " + std::to_string(content.size()) + " bytes, its manifest entry " +
                            std::to_string(length->second));
            if (s_->codec.chunk_hasher().hash(content) != id)
                fail(i, "does not hold the content its id names");
            plan.encoded.try_emplace(ref,
                                     encoded_chunk{id, bytes(records[i].begin(), records[i].end()),
                                                   detail::chunk_kind::data});
        }
    }
    see_seq(v.header().seq);
    bytes copy(records[0].begin(), records[0].end());
    commit(key, copy, origin::import, &plan);
    s_->cache.erase(key);  // as in import_record
}

}  // namespace v1
}  // namespace mmry
