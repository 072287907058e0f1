#pragma once
// basic_store's folding (fold::cdc) and trained dictionaries, out of line: cutting a value into
// chunks, counting references to chunks under the write lock, reading a folded value chunk by
// chunk, bundles, and storing, loading and recompressing with dictionaries. Included by
// mmry/store.hpp after the class; not a header to include on its own.

#include <set>

namespace mmry {
inline namespace v1 {

namespace detail {
inline std::string dictionary_key(std::uint32_t id) {
    return "mmry.dictionary/" + std::to_string(id);
}
}  // namespace detail

// ---- writing ----------------------------------------------------------------------------------

template <class Traits>
std::uint64_t basic_store<Traits>::put_folded(std::string_view key, byte_view value,
                                              const put_options& o) {
    using detail::chunk_kind;
    fold_plan plan;
    plan.value = value;
    const auto& ids = s_->codec.chunk_hasher();
    s_->chunker->for_each_chunk(value, [&](std::size_t at, std::size_t length) {
        plan.offsets.push_back(at);
        plan.ids.push_back(ids.hash(value.subspan(at, length)));
        plan.chunks.push_back(
            {format::reference_of(plan.ids.back()), static_cast<std::uint32_t>(length)});
    });
    if (plan.chunks.size() <= format::max_flat_entries) {
        plan.top = plan.chunks;
    } else {
        plan.depth = 1;
        std::uint64_t length = 0;
        for (std::size_t i = 0, begin = 0; i < plan.chunks.size(); ++i) {
            length += plan.chunks[i].length;
            const bool last = i + 1 == plan.chunks.size();
            if (last || format::ends_piece(plan.chunks[i]) ||
                i + 1 - begin == format::max_piece_entries ||
                length + plan.chunks[i + 1].length > 0xffffffffu) {
                fold_piece p{
                    begin,
                    i + 1,
                    format::write_entries(std::span(plan.chunks).subspan(begin, i + 1 - begin)),
                    {}};
                p.id = s_->codec.piece_hasher().hash(p.content);
                plan.top.push_back(
                    {format::reference_of(p.id), static_cast<std::uint32_t>(length)});
                plan.pieces.push_back(std::move(p));
                begin = i + 1;
                length = 0;
            }
        }
    }
    const auto dict = current_dictionary();
    // Encode, before the write lock, the chunks and pieces the store lacks now. Another writer may
    // add or free some before this one commits: acquire_chunks settles that under the lock. A
    // chunk whose reference another chunk has is not folded (the reference must name one content).
    std::vector<std::size_t> missing_chunks, missing_pieces;
    {
        std::shared_lock lock(s_->lock);
        auto lacks = [&](const format::chunk_reference& ref, const format::hash_bytes& id,
                         bool& clash) {
            const auto* slot = s_->root->chunks.find(format::chunk_key(ref));
            clash = clash || (slot && slot->id != id);
            return !slot;
        };
        bool clash = false;
        for (std::size_t t = 0; t < plan.top.size(); ++t) {
            if (plan.depth == 0) {
                if (lacks(plan.chunks[t].ref, plan.ids[t], clash)) missing_chunks.push_back(t);
                continue;
            }
            const auto& p = plan.pieces[t];
            if (!lacks(plan.top[t].ref, p.id, clash)) continue;
            missing_pieces.push_back(t);
            for (std::size_t i = p.begin; i < p.end; ++i)
                if (lacks(plan.chunks[i].ref, plan.ids[i], clash)) missing_chunks.push_back(i);
        }
        if (clash) return put_whole(key, value, o);
    }
    for (const std::size_t i : missing_chunks) {
        const auto& c = plan.chunks[i];
        if (plan.encoded.contains(c.ref)) continue;
        auto& e = plan.encoded[c.ref];
        e.id = plan.ids[i];
        encode_chunk(e.id, value.subspan(plan.offsets[i], c.length), dict.get(), e.record);
    }
    for (const std::size_t t : missing_pieces) {
        auto& e = plan.encoded[plan.top[t].ref];
        e.id = plan.pieces[t].id;
        e.kind = chunk_kind::piece;
        encode_chunk(e.id, plan.pieces[t].content, dict.get(), e.record);
    }
    std::optional<format::hash_bytes> content;
    if (s_->opts.content_hash) content = s_->codec.hasher().hash(value);
    bytes record;
    s_->codec.encode(
        key, format::write_manifest(plan.top, plan.depth), next_seq(), now_ns(), o,
        s_->opts.content_hash, record,
        {dict.get(),
         format::folded_info{value.size(), static_cast<std::uint32_t>(plan.chunks.size())},
         content});
    return commit(key, record, origin::put, &plan, condition::of(o));
}

template <class Traits>
void basic_store<Traits>::encode_chunk(const format::hash_bytes& id, byte_view data,
                                       const compress::dictionary* dict, bytes& out) {
    const auto key = format::chunk_key(id);
    s_->codec.encode(key, data, next_seq(), now_ns(), put_options{}, false, out, {dict, {}, {}});
    const auto v = format::record_view::parse(out, key, cipher_type::tag_size);
    s_->codec.stamp(out, v, 1, 0, {}, v.header().modified_ns);
}

namespace detail {
inline std::string chunk_name(const format::chunk_reference& ref) {
    return hex(std::span<const std::byte>(ref).first(8));
}
}  // namespace detail

template <class Traits>
void basic_store<Traits>::acquire_chunks(fold_plan& plan) {
    update_scope update(s_->lock);
    try {
        for (std::size_t t = 0; t < plan.top.size(); ++t)
            if (plan.depth == 0)
                acquire_data(plan, t);
            else
                acquire_piece(plan, t);
    } catch (const boost::interprocess::bad_alloc&) {
        undo_chunks(plan);
        index_full("(a chunk)");
    } catch (...) {
        undo_chunks(plan);
        throw;
    }
}

template <class Traits>
bool basic_store<Traits>::count_existing(fold_plan& plan, const format::chunk_reference& ref,
                                         const format::hash_bytes* id, detail::chunk_kind kind) {
    auto* slot = s_->root->chunks.find(format::chunk_key(ref));
    if (!slot) return false;
    if ((id && *id != slot->id) || slot->kind != kind)
        throw error(errc::invalid_argument,
                    "chunk reference " + detail::chunk_name(ref) +
                        " was taken by another chunk while this put ran: put again");
    ++slot->refs;
    ++s_->root->chunk_refs;
    plan.counted.push_back(ref);
    return true;
}

template <class Traits>
void basic_store<Traits>::acquire_data(fold_plan& plan, std::size_t i) {
    const auto& c = plan.chunks[i];
    const auto it = plan.encoded.find(c.ref);
    const format::hash_bytes* id = !plan.ids.empty()          ? &plan.ids[i]
                                   : it != plan.encoded.end() ? &it->second.id
                                                              : nullptr;
    if (count_existing(plan, c.ref, id, detail::chunk_kind::data)) return;
    if (!id)
        throw error(errc::corrupt, "chunk " + detail::chunk_name(c.ref) +
                                       " is neither in the bundle nor in the store");
    place_chunk(plan, c.ref, *id, detail::chunk_kind::data,
                plan.offsets.empty() ? byte_view{} : plan.value.subspan(plan.offsets[i], c.length));
}

template <class Traits>
void basic_store<Traits>::acquire_piece(fold_plan& plan, std::size_t t) {
    const auto& entry = plan.top[t];
    const auto& p = plan.pieces[t];
    const bool known = !p.content.empty();
    if (count_existing(plan, entry.ref, known ? &p.id : nullptr, detail::chunk_kind::piece)) return;
    if (!known)
        throw error(errc::corrupt, "manifest piece " + detail::chunk_name(entry.ref) +
                                       " is neither in the bundle nor in the store");
    place_chunk(plan, entry.ref, p.id, detail::chunk_kind::piece, p.content);
    for (std::size_t i = p.begin; i < p.end; ++i) acquire_data(plan, i);
}

template <class Traits>
void basic_store<Traits>::place_chunk(fold_plan& plan, const format::chunk_reference& reference,
                                      const format::hash_bytes& id, detail::chunk_kind kind,
                                      byte_view content) {
    auto it = plan.encoded.find(reference);
    if (it == plan.encoded.end()) {
        // Freed since this writer looked: encode it now (rare).
        if (content.empty() && plan.offsets.empty())
            throw error(errc::corrupt, "chunk " + detail::chunk_name(reference) +
                                           " is neither in the bundle nor in the store");
        it = plan.encoded.try_emplace(reference).first;
        it->second.id = id;
        it->second.kind = kind;
        encode_chunk(id, content, nullptr, it->second.record);
    }
    const auto& record = it->second.record;
    const auto v = format::record_view::parse(record, format::chunk_key(id), cipher_type::tag_size);
    if (v.header().folded)
        throw error(errc::corrupt, "chunk " + detail::chunk_name(reference) + " is folded");
    const record_ref ref = place(record, v);
    try {
        s_->root->chunks.upsert(format::chunk_key(reference), detail::chunk_slot{ref, 1, id, kind});
    } catch (...) {
        s_->arena->deallocate(ref.where, ref.size);
        throw;
    }
    auto& root = *s_->root;
    ++root.chunk_refs;
    root.chunk_stored += ref.size;
    if (kind == detail::chunk_kind::piece)
        ++root.pieces;
    else
        root.chunk_logical += ref.logical_size;
    tally(v, +1);
    plan.counted.push_back(reference);
}

template <class Traits>
void basic_store<Traits>::undo_chunks(fold_plan& plan) noexcept {
    for (auto it = plan.counted.rbegin(); it != plan.counted.rend(); ++it) {
        auto* slot = s_->root->chunks.find(format::chunk_key(*it));
        if (!slot) continue;
        --s_->root->chunk_refs;
        // A piece's entries were counted after it, and are undone before it: not released here.
        if (--slot->refs == 0) free_chunk(*it, *slot);
    }
    plan.counted.clear();
}

template <class Traits>
void basic_store<Traits>::release_chunks(const std::vector<format::chunk_ref>& entries) {
    for (const auto& c : entries) {
        auto* slot = s_->root->chunks.find(format::chunk_key(c.ref));
        if (!slot) continue;  // a damaged store: nothing to release
        --s_->root->chunk_refs;
        if (--slot->refs != 0) continue;
        std::vector<format::chunk_ref> children;
        const bool piece = slot->kind == detail::chunk_kind::piece;
        if (piece) {
            try {
                children = piece_entries(*slot, "(released piece)");
            } catch (const std::exception&) {
                // A damaged piece: its chunks stay counted, never freed while a reference to
                // them might remain.
            }
        }
        free_chunk(c.ref, *slot);
        if (piece) release_chunks(children);
    }
}

template <class Traits>
void basic_store<Traits>::free_chunk(const format::chunk_reference& reference,
                                     const detail::chunk_slot& slot) {
    const record_ref ref = slot.ref;
    auto& root = *s_->root;
    try {
        tally(format::record_view::parse(s_->arena->bytes(ref.where, ref.size), "",
                                         cipher_type::tag_size),
              -1);
    } catch (const error&) {
    }
    if (slot.kind == detail::chunk_kind::piece)
        --root.pieces;
    else
        root.chunk_logical -= ref.logical_size;
    root.chunk_stored -= ref.size;
    root.chunks.erase(format::chunk_key(reference));
    s_->arena->deallocate(ref.where, ref.size);
}

// ---- reading ----------------------------------------------------------------------------------

template <class Traits>
void basic_store<Traits>::decode_value(const format::record_view& v, std::uint64_t offset,
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
template <class F>
void basic_store<Traits>::visit_chunks(const format::record_view& v, std::uint64_t offset,
                                       std::uint64_t length, F&& f) const {
    const std::uint64_t end = offset + length;
    auto walk = [&](const std::vector<format::chunk_ref>& entries, std::uint64_t at, auto&& each) {
        for (const auto& c : entries) {
            if (at >= end) return;
            if (at + c.length > offset) each(c, at);
            at += c.length;
        }
    };
    const auto m = manifest_of(v);
    if (m.depth == 0) return walk(m.entries, 0, f);
    walk(m.entries, 0, [&](const format::chunk_ref& p, std::uint64_t at) {
        const auto* slot = s_->root->chunks.find(format::chunk_key(p.ref));
        if (!slot || slot->kind != detail::chunk_kind::piece)
            throw error(errc::corrupt, "key " + detail::quote(v.key()) + ": manifest piece " +
                                           detail::chunk_name(p.ref) + " is not in the store");
        const auto children = piece_entries(*slot, v.key());
        std::uint64_t sum = 0;
        for (const auto& c : children) sum += c.length;
        if (sum != p.length)
            throw error(errc::corrupt, "key " + detail::quote(v.key()) + ": manifest piece " +
                                           detail::chunk_name(p.ref) + " covers " +
                                           std::to_string(sum) + " bytes, its entry " +
                                           std::to_string(p.length));
        walk(children, at, f);
    });
}

template <class Traits>
std::vector<format::chunk_ref> basic_store<Traits>::piece_entries(const detail::chunk_slot& slot,
                                                                  std::string_view key) const {
    const auto v =
        s_->codec.open(s_->arena->bytes(slot.ref.where, slot.ref.size), format::chunk_key(slot.id));
    const bytes content = decode_whole(v, dictionary_for(v));
    if (v.header().folded || s_->codec.piece_hasher().hash(content) != slot.id)
        throw error(errc::corrupt, "key " + detail::quote(key) + ": manifest piece " +
                                       detail::chunk_name(format::reference_of(slot.id)) +
                                       " does not hold the content its id names");
    return format::parse_entries(content, format::max_chunk_size,
                                 "key " + detail::quote(key) + ": manifest piece");
}

template <class Traits>
void basic_store<Traits>::decode_chunk(std::string_view key, const format::chunk_ref& c,
                                       std::span<std::byte> out) const {
    const auto* slot = s_->root->chunks.find(format::chunk_key(c.ref));
    auto fail = [&](const std::string& why) {
        throw error(errc::corrupt, "key " + detail::quote(key) + ": chunk " +
                                       detail::chunk_name(c.ref) + " " + why);
    };
    if (!slot || slot->kind != detail::chunk_kind::data)
        fail("of its manifest is not in the store");
    const auto v = s_->codec.open(s_->arena->bytes(slot->ref.where, slot->ref.size),
                                  format::chunk_key(slot->id));
    if (v.header().folded || v.header().logical_size != c.length)
        fail("holds " + std::to_string(v.header().logical_size) + " bytes, its manifest entry " +
             std::to_string(c.length));
    s_->codec.decode(v, 0, out, dictionary_for(v));
    if (s_->codec.chunk_hasher().hash(out) != slot->id)
        fail("does not hold the content its id names");
}

template <class Traits>
format::manifest basic_store<Traits>::manifest_of(const format::record_view& v) const {
    return format::manifest::parse(decode_whole(v, dictionary_for(v)), v.value_size(), v.key());
}

template <class Traits>
bytes basic_store<Traits>::decode_whole(const format::record_view& v,
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
void basic_store<Traits>::check_frames(const format::record_view& v) const {
    const auto* dict = dictionary_for(v);
    bytes scratch(static_cast<std::size_t>(
        std::min<std::uint64_t>(v.header().logical_size, v.header().frame_size)));
    for (std::uint64_t at = 0; at < v.header().logical_size; at += scratch.size()) {
        const auto n = static_cast<std::size_t>(
            std::min<std::uint64_t>(scratch.size(), v.header().logical_size - at));
        s_->codec.decode(v, at, std::span(scratch).first(n), dict);
    }
}

// ---- bundles ----------------------------------------------------------------------------------

template <class Traits>
bytes basic_store<Traits>::bundle_of(const format::record_view& v) const {
    format::bundle b;
    b.records.push_back(v.bytes());
    std::set<format::chunk_reference> seen;
    auto add = [&](const format::chunk_ref& c) {
        if (!seen.insert(c.ref).second) return (const detail::chunk_slot*)nullptr;
        const auto* slot = s_->root->chunks.find(format::chunk_key(c.ref));
        if (!slot)
            throw error(errc::corrupt, "key " + detail::quote(v.key()) + ": chunk " +
                                           detail::chunk_name(c.ref) +
                                           " of its manifest is not in the store");
        b.records.push_back(s_->arena->bytes(slot->ref.where, slot->ref.size));
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
    return format::write_bundle(b);
}

template <class Traits>
void basic_store<Traits>::import_bundle(byte_view bytes_in) {
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
        std::shared_lock lock(s_->lock);
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

// ---- dictionaries -----------------------------------------------------------------------------

template <class Traits>
const compress::dictionary* basic_store<Traits>::dictionary_for(
    const format::record_view& v) const {
    if (v.header().dictionary == 0) return nullptr;
    return load_dictionary(v.header().dictionary).get();
}

template <class Traits>
typename basic_store<Traits>::dictionary_ptr basic_store<Traits>::load_dictionary(
    std::uint32_t id) const {
    {
        std::lock_guard guard(s_->dictionaries_mutex);
        if (auto it = s_->dictionaries.find(id); it != s_->dictionaries.end()) return it->second;
    }
    const detail::dictionary_slot* slot = nullptr;
    for (const auto& d : s_->root->dictionaries)
        if (d.id == id) slot = &d;
    if (!slot)
        throw error(errc::corrupt, "a record names dictionary " + std::to_string(id) +
                                       ", which the store does not have");
    const auto key = detail::dictionary_key(id);
    const auto v = s_->codec.open(s_->arena->bytes(slot->ref.where, slot->ref.size), key);
    if (v.header().dictionary != 0 || v.header().folded)
        throw error(errc::corrupt, "dictionary " + std::to_string(id) + " has a malformed record");
    const bytes content = decode_whole(v, nullptr);
    auto loaded = std::make_shared<const compress::dictionary>(content, id);
    std::lock_guard guard(s_->dictionaries_mutex);
    return s_->dictionaries.emplace(id, std::move(loaded)).first->second;
}

template <class Traits>
typename basic_store<Traits>::dictionary_ptr basic_store<Traits>::current_dictionary() const {
    if constexpr (!codec_type::takes_dictionaries) {
        return nullptr;
    } else {
        const std::uint32_t id = s_->root->current_dictionary.load(std::memory_order_acquire);
        if (id == 0) return nullptr;
        {
            std::lock_guard guard(s_->dictionaries_mutex);
            if (auto it = s_->dictionaries.find(id); it != s_->dictionaries.end())
                return it->second;
        }
        std::shared_lock lock(s_->lock);
        return load_dictionary(id);
    }
}

template <class Traits>
std::uint32_t basic_store<Traits>::store_dictionary(const std::vector<bytes>& samples,
                                                    std::size_t capacity) {
    std::vector<std::span<const std::byte>> spans(samples.begin(), samples.end());
    const bytes content = compress::train_dictionary(spans, capacity);
    std::unique_lock lock(s_->lock);
    auto& root = *s_->root;
    const std::uint32_t id = root.dictionaries.empty() ? 1 : root.dictionaries.back().id + 1;
    auto loaded = std::make_shared<const compress::dictionary>(content, id);
    const auto key = detail::dictionary_key(id);
    bytes record;
    s_->codec.encode(key, content, next_seq(), now_ns(),
                     put_options{"application/zstd-dictionary", {}, {}}, false, record);
    const auto v = format::record_view::parse(record, key, cipher_type::tag_size);
    s_->codec.stamp(record, v, 1, 0, {}, v.header().modified_ns);
    update_scope update(s_->lock);
    const handle where = s_->arena->allocate(record.size());
    std::memcpy(s_->arena->bytes(where, record.size()).data(), record.data(), record.size());
    try {
        root.dictionaries.push_back(
            {id, content.size(), record_ref{where, record.size(), content.size(), 0, 0}, 0});
    } catch (...) {
        s_->arena->deallocate(where, record.size());
        throw;
    }
    root.dictionary_stored += record.size();
    {
        std::lock_guard guard(s_->dictionaries_mutex);
        s_->dictionaries.emplace(id, std::move(loaded));
    }
    root.current_dictionary.store(id, std::memory_order_release);
    return id;
}

template <class Traits>
void basic_store<Traits>::tally(const format::record_view& v, int sign) {
    auto& r = *s_->root;
    auto add = [sign](std::uint64_t& field, std::uint64_t n) { adjust(field, n, sign); };
    const auto& h = v.header();
    if (h.folded) {
        add(r.folded_values, 1);
        add(r.folded_logical, v.value_size());
    }
    if (h.dictionary != 0)
        for (auto& d : r.dictionaries)
            if (d.id == h.dictionary) add(d.records, 1);
    for (std::uint32_t i = 0; i < h.frame_count; ++i) {
        const auto e = v.entry(i);
        add(r.payload_bytes, e.stored_size);
        if constexpr (requires { compressor_type::last_level(); })
            add(r.level_frames[e.codec == 0 ? 0 : e.level], 1);
    }
}

// ---- recompress -------------------------------------------------------------------------------

template <class Traits>
std::size_t basic_store<Traits>::recompress() {
    const std::uint32_t want = s_->root->current_dictionary.load();
    auto dictionary_of = [&](const record_ref& ref) {
        const auto b = s_->arena->bytes(ref.where, ref.size);
        return b.size() >= format::fixed_head_size
                   ? detail::load_le<std::uint32_t>(b.data() + format::off::dictionary)
                   : want;
    };
    std::vector<std::pair<std::string, record_ref>> records;
    std::vector<format::chunk_reference> chunks;
    {
        std::shared_lock lock(s_->lock);
        if constexpr (!keeps_history) {
            s_->root->index.scan("", "", [&](std::string_view k, const record_ref& ref) {
                if (dictionary_of(ref) != want) records.emplace_back(k, ref);
                return true;
            });
        } else {
            s_->root->heads.scan("", "", [&](std::string_view k, const head_type& h) {
                for (const auto& slot : h.versions)
                    if (dictionary_of(slot.ref) != want) records.emplace_back(k, slot.ref);
                return true;
            });
        }
        s_->root->chunks.scan("", "", [&](std::string_view k, const detail::chunk_slot& c) {
            format::chunk_reference ref{};
            if (dictionary_of(c.ref) != want && k.size() == ref.size()) {
                std::memcpy(ref.data(), k.data(), ref.size());
                chunks.push_back(ref);
            }
            return true;
        });
    }
    std::size_t n = 0;
    for (const auto& [k, ref] : records) n += recompress_record(k, ref);
    for (const auto& ref : chunks) n += recompress_chunk(ref);
    return n;
}

template <class Traits>
bool basic_store<Traits>::recompress_record(std::string_view key, const record_ref& ref) {
    const auto dict = current_dictionary();
    const std::uint32_t want = dict ? dict->id() : 0;
    // Whether ref is still a record of key's (no writer replaced it meanwhile).
    auto current = [&] {
        if constexpr (!keeps_history) {
            const record_ref* found = s_->root->index.find(key);
            return found && *found == ref;
        } else {
            const auto* head = s_->root->heads.find(key);
            return head && std::any_of(head->versions.begin(), head->versions.end(),
                                       [&](const detail::version_slot& s) { return s.ref == ref; });
        }
    };
    bytes old, plain;
    {
        std::shared_lock lock(s_->lock);
        if (!current()) return false;
        const auto v = open_record(key, ref);
        if (v.header().dictionary == want) return false;
        plain.resize(static_cast<std::size_t>(v.header().logical_size));
        s_->codec.decode(v, 0, plain, dictionary_for(v));
        old.assign(v.bytes().begin(), v.bytes().end());
    }
    const auto was = format::record_view::parse(old, key, cipher_type::tag_size);
    const auto& meta = was.meta();
    put_options o;
    o.content_type = meta.content_type();
    meta.for_each_tag([&](std::string_view t) { o.tags.emplace_back(t); });
    meta.for_each_attribute([&](std::string_view k, std::string_view val) {
        o.attributes.emplace_back(std::string(k), std::string(val));
    });
    std::optional<format::folded_info> folded;
    if (was.header().folded) folded = format::folded_info{was.value_size(), meta.folded_chunks()};
    bytes record;
    s_->codec.encode(key, plain, next_seq(), was.header().modified_ns, o, meta.hash_kind() != 0,
                     record, {dict.get(), folded, meta.content_hash()});
    const auto parsed = format::record_view::parse(record, key, cipher_type::tag_size);
    s_->codec.stamp_as(record, parsed, was);
    {
        std::unique_lock lock(s_->lock);
        if (!current()) return false;
        update_scope update(s_->lock);
        const record_ref fresh = place(record, parsed);
        if constexpr (!keeps_history) {
            s_->root->index.upsert(key, fresh);  // the key exists: no allocation
        } else {
            auto* head = s_->root->heads.find(key);
            for (auto& slot : head->versions)
                if (slot.ref == ref) {
                    slot.ref = fresh;
                    for (std::size_t i = 0; i < layouts; ++i) {
                        const auto k = stored_key_of(i, parsed);
                        if (const auto* r = s_->root->index.find(k); r && *r == ref)
                            s_->root->index.upsert(k, fresh);
                    }
                }
        }
        account(fresh, +1);
        tally(parsed, +1);
        free_record(ref, /*release=*/false);
    }
    s_->cache.erase(key);
    return true;
}

template <class Traits>
bool basic_store<Traits>::recompress_chunk(const format::chunk_reference& reference) {
    const auto dict = current_dictionary();
    const std::uint32_t want = dict ? dict->id() : 0;
    const auto name = format::chunk_key(reference);
    bytes plain;
    record_ref was;
    format::hash_bytes id;
    {
        std::shared_lock lock(s_->lock);
        const auto* slot = s_->root->chunks.find(name);
        if (!slot) return false;
        id = slot->id;
        const auto v = s_->codec.open(s_->arena->bytes(slot->ref.where, slot->ref.size),
                                      format::chunk_key(id));
        if (v.header().dictionary == want) return false;
        plain.resize(static_cast<std::size_t>(v.header().logical_size));
        s_->codec.decode(v, 0, plain, dictionary_for(v));
        was = slot->ref;
    }
    bytes record;
    encode_chunk(id, plain, dict.get(), record);
    const auto parsed =
        format::record_view::parse(record, format::chunk_key(id), cipher_type::tag_size);
    std::unique_lock lock(s_->lock);
    auto* slot = s_->root->chunks.find(name);
    if (!slot || !(slot->ref == was)) return false;
    update_scope update(s_->lock);
    const record_ref fresh = place(record, parsed);
    try {
        tally(format::record_view::parse(s_->arena->bytes(was.where, was.size), "",
                                         cipher_type::tag_size),
              -1);
    } catch (const error&) {
    }
    slot->ref = fresh;
    s_->root->chunk_stored += fresh.size;
    s_->root->chunk_stored -= was.size;
    tally(parsed, +1);
    s_->arena->deallocate(was.where, was.size);
    return true;
}

}  // namespace v1
}  // namespace mmry
