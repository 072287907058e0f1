#pragma once
// basic_store's folding (fold::cdc) on the read side, out of line: a folded record's manifest,
// its pieces (checked against their ids), and the chunks a byte range covers, each decoded and
// checked against its id.
// mmry/store.hpp includes this header after the class (and it includes mmry/store.hpp, so it
// also compiles on its own).

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <mmry/store.hpp>

namespace mmry {
inline namespace v1 {

template <class Traits>
format::manifest detail::store_engine<Traits>::manifest_of(const format::record_view& v) const {
    return format::manifest::parse(decode_whole(v, dictionary_for(v)), v.value_size(), v.key());
}

template <class Traits>
template <class F>
void detail::store_engine<Traits>::visit_chunks(const format::record_view& v, std::uint64_t offset,
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
        const auto* slot = s_->root().chunks.find(format::chunk_key(p.ref));
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
std::vector<format::chunk_ref> detail::store_engine<Traits>::piece_entries(
    const detail::chunk_slot& slot, std::string_view key) const {
    const auto v = s_->codec.open(s_->root().bytes(slot.ref), format::chunk_key(slot.id));
    const bytes content = decode_whole(v, dictionary_for(v));
    if (v.header().folded || s_->codec.piece_hasher().hash(content) != slot.id)
        throw error(errc::corrupt, "key " + detail::quote(key) + ": manifest piece " +
                                       detail::chunk_name(format::reference_of(slot.id)) +
                                       " does not hold the content its id names");
    return format::parse_entries(content, format::max_chunk_size,
                                 "key " + detail::quote(key) + ": manifest piece");
}

template <class Traits>
void detail::store_engine<Traits>::decode_chunk(std::string_view key, const format::chunk_ref& c,
                                                std::span<std::byte> out) const {
    const auto* slot = s_->root().chunks.find(format::chunk_key(c.ref));
    auto fail = [&](const std::string& why) {
        throw error(errc::corrupt, "key " + detail::quote(key) + ": chunk " +
                                       detail::chunk_name(c.ref) + " " + why);
    };
    if (!slot || slot->kind != detail::chunk_kind::data)
        fail("of its manifest is not in the store");
    const auto v = s_->codec.open(s_->root().bytes(slot->ref), format::chunk_key(slot->id));
    if (v.header().folded || v.header().logical_size != c.length)
        fail("holds " + std::to_string(v.header().logical_size) + " bytes, its manifest entry " +
             std::to_string(c.length));
    s_->codec.decode(v, 0, out, dictionary_for(v));
    if (s_->codec.chunk_hasher().hash(out) != slot->id)
        fail("does not hold the content its id names");
}

}  // namespace v1
}  // namespace mmry
