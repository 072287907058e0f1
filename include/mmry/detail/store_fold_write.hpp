#pragma once
// basic_store's folding (fold::cdc) on the write side, out of line: cutting a value into chunks
// and its manifest into pieces, encoding the chunks the store lacks before the write lock, and
// counting references to chunks under it (placing, undoing, releasing and freeing chunks).
// mmry/store.hpp includes this header after the class (and it includes mmry/store.hpp, so it
// also compiles on its own).

#include <cstdint>
#include <map>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string_view>
#include <vector>

#include <mmry/store.hpp>

namespace mmry {
inline namespace v1 {

// A folded put's chunks: what its manifest names, and the records of the chunks the store
// lacked when it looked (encoded before the write lock is taken).
template <class Traits>
struct detail::store_engine<Traits>::encoded_chunk {
    format::hash_bytes id{};
    bytes record;
    detail::chunk_kind kind = detail::chunk_kind::data;
};
// A piece of a manifest of depth 1: the chunks [begin, end) of the plan, and its entries.
template <class Traits>
struct detail::store_engine<Traits>::fold_piece {
    std::size_t begin = 0, end = 0;
    bytes content;  // empty: an imported piece the bundle did not carry
    format::hash_bytes id{};
};
template <class Traits>
struct detail::store_engine<Traits>::fold_plan {
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

template <class Traits>
std::uint64_t detail::store_engine<Traits>::put_folded(std::string_view key, byte_view value,
                                                       const put_options& o) {
    fold_plan plan;
    bytes record;
    if (!prepare_folded(key, value, o, now_ns(), plan, record)) return put_whole(key, value, o);
    return commit(key, record, origin::put, &plan, condition::of(o));
}

template <class Traits>
bool detail::store_engine<Traits>::prepare_folded(std::string_view key, byte_view value,
                                                  const put_options& o, std::int64_t modified_ns,
                                                  fold_plan& plan, bytes& record) {
    using detail::chunk_kind;
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
        auto lock = s_->read();
        auto lacks = [&](const format::chunk_reference& ref, const format::hash_bytes& id,
                         bool& clash) {
            const auto* slot = s_->root().chunks.find(format::chunk_key(ref));
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
        if (clash) return false;
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
    s_->codec.encode(
        key, format::write_manifest(plan.top, plan.depth), next_seq(), modified_ns, o,
        s_->opts.content_hash, record,
        {dict.get(),
         format::folded_info{value.size(), static_cast<std::uint32_t>(plan.chunks.size())},
         content});
    return true;
}

template <class Traits>
void detail::store_engine<Traits>::encode_chunk(const format::hash_bytes& id, byte_view data,
                                                const compress::dictionary* dict, bytes& out) {
    const auto key = format::chunk_key(id);
    s_->codec.encode(key, data, next_seq(), now_ns(), put_options{}, false, out, {dict, {}, {}});
    const auto v = format::record_view::parse(out, key, cipher_type::tag_size);
    s_->codec.stamp(out, v, 1, 0, {}, v.header().modified_ns);
}

template <class Traits>
void detail::store_engine<Traits>::acquire_chunks(fold_plan& plan) {
    // A failure leaves the write transaction uncommitted: nothing counted here remains.
    for (std::size_t t = 0; t < plan.top.size(); ++t)
        if (plan.depth == 0)
            acquire_data(plan, t);
        else
            acquire_piece(plan, t);
}

template <class Traits>
bool detail::store_engine<Traits>::count_existing(fold_plan& plan,
                                                  const format::chunk_reference& ref,
                                                  const format::hash_bytes* id,
                                                  detail::chunk_kind kind) {
    auto* slot = s_->root().chunks.find(format::chunk_key(ref));
    if (!slot) return false;
    if ((id && *id != slot->id) || slot->kind != kind)
        throw error(errc::invalid_argument,
                    "chunk reference " + detail::chunk_name(ref) +
                        " was taken by another chunk while this put ran: put again");
    ++slot->refs;
    ++s_->root().counters().chunk_refs;
    plan.counted.push_back(ref);
    return true;
}

template <class Traits>
void detail::store_engine<Traits>::acquire_data(fold_plan& plan, std::size_t i) {
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
void detail::store_engine<Traits>::acquire_piece(fold_plan& plan, std::size_t t) {
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
void detail::store_engine<Traits>::place_chunk(fold_plan& plan,
                                               const format::chunk_reference& reference,
                                               const format::hash_bytes& id,
                                               detail::chunk_kind kind, byte_view content) {
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
    s_->root().chunks.upsert(format::chunk_key(reference), detail::chunk_slot{ref, 1, id, kind});
    auto& root = s_->root().counters();
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
void detail::store_engine<Traits>::release_chunks(const std::vector<format::chunk_ref>& entries) {
    for (const auto& c : entries) {
        auto* slot = s_->root().chunks.find(format::chunk_key(c.ref));
        if (!slot) continue;  // a damaged store: nothing to release
        --s_->root().counters().chunk_refs;
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
void detail::store_engine<Traits>::free_chunk(const format::chunk_reference& reference,
                                              const detail::chunk_slot& slot) {
    const record_ref ref = slot.ref;
    const auto kind = slot.kind;
    auto& root = s_->root().counters();
    try {
        tally(format::record_view::parse(s_->root().bytes(ref), "", cipher_type::tag_size), -1);
    } catch (const error&) {
    }
    if (kind == detail::chunk_kind::piece)
        --root.pieces;
    else
        root.chunk_logical -= ref.logical_size;
    root.chunk_stored -= ref.size;
    s_->root().chunks.erase(format::chunk_key(reference));
    s_->root().free(ref);
}

}  // namespace v1
}  // namespace mmry
