#pragma once
// basic_store::verify, out of line, and the checks of one record or chunk that it shares with
// repair(): a read-only check of the whole store that decodes every
// record, chunk, piece and dictionary and recounts references and counters from them.
// mmry/store.hpp includes this header after the class (and it includes mmry/store.hpp, so it
// also compiles on its own).

#include <algorithm>
#include <map>
#include <set>

#include <mmry/store.hpp>

namespace mmry {
inline namespace v1 {

template <class Traits>
verify_report basic_store<Traits>::verify(const verify_progress& progress) const {
    verify_report out;
    auto problem = [&](std::string what) {
        if (out.problems.size() < 1000) out.problems.push_back(std::move(what));
    };
    auto count = [](std::uint64_t n) { return std::to_string(n); };
    auto lock = s_->read();
    auto& root = s_->root();

    // The tables' own full reads first: every damaged entry, named, where a scan stops at the
    // first (and the scans below go on as far as they can).
    auto table = [&](const char* what, const auto& t) {
        for (auto& p : t.verify()) problem(std::string(what) + ": " + p);
    };
    table("the index", root.index);
    if constexpr (keeps_history) table("the key heads", root.heads);
    table("the chunk table", root.chunks);
    // Past damaged entries (reported above): the records they name are opened and checked too.
    auto scan = [&](auto& t, auto&& f) {
        try {
            t.scan("", "", f, /*checked=*/false);
        } catch (const error& e) {
            problem(e.what());
        }
    };

    // Every distinct record, by the first stored key that names it.
    std::map<std::uint64_t, std::pair<std::string, record_ref>> records;
    std::multimap<std::uint64_t, std::string> also;  // the other stored keys naming each
    scan(root.index, [&](std::string_view k, const record_ref& ref) {
        if (!records.try_emplace(ref.where.raw(), std::string(k), ref).second)
            also.emplace(ref.where.raw(), k);
        return true;
    });
    if constexpr (keeps_history) {
        scan(root.heads, [&](std::string_view k, const head_type& h) {
            for (const auto& slot : h.versions)
                if (!records.contains(slot.ref.where.raw()))
                    problem("version " + count(slot.version) + " of key " + detail::quote(k) +
                            " is kept, but no stored key refers to its record");
            return true;
        });
    }

    // Progress counts records, then chunks and pieces: what is decoded, the bulk of the work.
    const std::uint64_t total = records.size() + root.chunks.size();
    std::uint64_t done = 0;
    auto step = [&] {
        if (progress) progress(++done, total);
    };

    std::map<format::chunk_reference, std::uint64_t> named;  // references, as manifests count them
    // The length each chunk or piece is named with, and what each piece covers: a chunk whose
    // length differs from its entry's decodes, but every read of the values naming it fails.
    std::map<format::chunk_reference, std::uint64_t> lengths, covers;
    auto name_entry = [&](const format::chunk_ref& e, const std::string& by) {
        ++named[e.ref];
        const auto [at, fresh] = lengths.try_emplace(e.ref, e.length);
        if (!fresh && at->second != e.length)
            problem(by + " names chunk " + detail::chunk_name(e.ref) + " with length " +
                    count(e.length) + ", elsewhere " + count(at->second));
    };
    std::map<std::uint32_t, std::uint64_t> dictionary_use;
    std::uint64_t logical = 0, stored = 0, folded_values = 0, folded_logical = 0;
    for (const auto& [where, entry] : records) {
        const auto& [stored_key, ref] = entry;
        try {
            const auto c = check_record(stored_key, ref);
            const auto [first, last] = also.equal_range(where);
            for (auto k = first; k != last; ++k)
                if (std::find(c.filed.begin(), c.filed.end(), k->second) == c.filed.end())
                    problem("stored key " + detail::quote(k->second) + " names the record of " +
                            detail::quote(stored_key) + ", which is not filed under it");
            logical += c.holds;
            stored += ref.size;
            if (c.dictionary != 0) ++dictionary_use[c.dictionary];
            if (c.folded) {
                ++folded_values;
                folded_logical += c.holds;
                for (const auto& e : c.names)
                    name_entry(e, "stored key " + detail::quote(stored_key));
            }
            ++out.records;
        } catch (const std::exception& e) {
            problem("stored key " + detail::quote(stored_key) + ": " + e.what());
        }
        step();
    }

    std::uint64_t chunk_logical = 0, chunk_stored = 0, pieces = 0, refs = 0;
    scan(root.chunks, [&](std::string_view k, const detail::chunk_slot& slot) {
        format::chunk_reference ref{};
        std::memcpy(ref.data(), k.data(), std::min(k.size(), ref.size()));
        const std::string name = "chunk " + detail::chunk_name(ref);
        refs += slot.refs;
        chunk_stored += slot.ref.size;
        try {
            const auto c = check_chunk(k, slot);
            if (c.dictionary != 0) ++dictionary_use[c.dictionary];
            if (c.piece) {
                ++pieces;
                for (const auto& e : c.names) name_entry(e, name);
                covers[ref] = c.holds;
                ++out.pieces;
            } else {
                chunk_logical += c.holds;
                ++out.chunks;
            }
        } catch (const std::exception& e) {
            problem(name + ": " + e.what());
        }
        step();
        return true;
    });

    // References: every chunk is counted as often as manifests and pieces name it.
    std::uint64_t named_total = 0;
    for (const auto& [ref, n] : named) {
        named_total += n;
        const auto* slot = root.chunks.find(format::chunk_key(ref));
        if (!slot)
            problem("chunk " + detail::chunk_name(ref) + " is named " + count(n) +
                    " times but is not in the store");
        else if (slot->refs != n)
            problem("chunk " + detail::chunk_name(ref) + " is counted " + count(slot->refs) +
                    " times but named " + count(n) + " times");
        if (!slot) continue;
        const bool piece = slot->kind == detail::chunk_kind::piece;
        if (piece && !covers.contains(ref)) continue;  // unreadable: reported above
        const std::uint64_t holds = piece ? covers[ref] : std::uint64_t{slot->ref.logical_size};
        if (holds != lengths[ref])
            problem("chunk " + detail::chunk_name(ref) + " holds " + count(holds) +
                    " bytes, but is named with length " + count(lengths[ref]));
    }
    scan(root.chunks, [&](std::string_view k, const detail::chunk_slot&) {
        format::chunk_reference ref{};
        std::memcpy(ref.data(), k.data(), std::min(k.size(), ref.size()));
        if (!named.contains(ref))
            problem("chunk " + detail::chunk_name(ref) + " is kept but nothing names it");
        return true;
    });

    for (const auto& d : root.counters().dictionaries) {
        try {
            load_dictionary(d.id);
            ++out.dictionaries;
        } catch (const std::exception& e) {
            problem("dictionary " + count(d.id) + ": " + e.what());
        }
        if (dictionary_use[d.id] != d.records)
            problem("dictionary " + count(d.id) + " is counted as used by " + count(d.records) +
                    " records, " + count(dictionary_use[d.id]) + " use it");
    }

    // Counters, against what the records add up to (only when every record could be read).
    if (out.ok()) {
        auto check = [&](const char* what, std::uint64_t kept, std::uint64_t recounted) {
            if (kept != recounted)
                problem(std::string("counter ") + what + " is " + count(kept) +
                        ", the store holds " + count(recounted));
        };
        check("records", root.counters().records, records.size());
        check("logical_bytes", root.counters().logical_bytes, logical);
        check("stored_bytes", root.counters().stored_bytes, stored);
        check("folded_values", root.counters().folded_values, folded_values);
        check("folded_logical", root.counters().folded_logical, folded_logical);
        check("chunk_refs", root.counters().chunk_refs, refs);
        check("chunk_refs (named)", root.counters().chunk_refs, named_total);
        check("chunk_logical", root.counters().chunk_logical, chunk_logical);
        check("chunk_stored", root.counters().chunk_stored, chunk_stored);
        check("pieces", root.counters().pieces, pieces);
        // Pages, against what names them: every page is the control area's, free, or
        // reached exactly once from the tables (their pages and blobs, and every record).
        lock.unlock();
        try {
            const auto pages = s_->pages->check([&](const auto&, auto&& mark) {
                typename state::context_type c(*s_->pages, s_->name);
                c.mark(mark);
                c.mark_records(mark);
            });
            for (const auto& p : pages.problems) problem("pages: " + p);
        } catch (const error& e) {
            problem(std::string("the store's pages: ") + e.what());
        }
    }
    return out;
}

template <class Traits>
typename basic_store<Traits>::checked basic_store<Traits>::check_record(
    const std::string& stored_key, const record_ref& ref) const {
    const auto v = keeps_history ? open_stored(stored_key, ref) : open_record(stored_key, ref);
    s_->codec.check_meta(v);
    check_frames(v);
    checked out;
    out.holds = v.value_size();
    out.dictionary = v.header().dictionary;
    out.folded = v.header().folded;
    if (out.folded) out.names = manifest_of(v).entries;
    for (std::size_t i = 0; i < layouts; ++i) out.filed.push_back(engine::stored_key_of(i, v));
    if constexpr (keeps_history) {
        out.key = v.key();
        out.version = v.meta().version();
        out.created_ns = v.header().created_ns;
        out.modified_ns = v.header().modified_ns;
    }
    return out;
}

template <class Traits>
typename basic_store<Traits>::checked basic_store<Traits>::check_chunk(
    std::string_view k, const detail::chunk_slot& slot) const {
    format::chunk_reference ref{};
    std::memcpy(ref.data(), k.data(), std::min(k.size(), ref.size()));
    if (k.size() != ref.size() || format::reference_of(slot.id) != ref)
        throw error(errc::corrupt, "is filed under another reference than its id's");
    const auto v = s_->codec.open(s_->root().bytes(slot.ref), format::chunk_key(slot.id));
    const bytes content = decode_whole(v, dictionary_for(v));
    checked out;
    out.dictionary = v.header().dictionary;
    out.piece = slot.kind == detail::chunk_kind::piece;
    if (out.piece) {
        out.names = piece_entries(slot, "(verify)");
        for (const auto& e : out.names) out.holds += e.length;
    } else {
        if (s_->codec.chunk_hasher().hash(content) != slot.id)
            throw error(errc::corrupt, "does not hold the content its id names");
        out.holds = slot.ref.logical_size;
    }
    return out;
}

}  // namespace v1
}  // namespace mmry
