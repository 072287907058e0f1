#pragma once
// basic_store::repair() and the quarantine, out of line (mmry/repair.hpp; docs/DECISIONS.md
// §14). Repair is one write transaction that reads the whole store as verify() does and acts on
// what it finds, then a commit that frees the pages nothing reaches (page_store::reclaim):
// 1. entries that fail their own checksum: an index entry whose record passes every check is
//    written again; a head or chunk-table entry that still decodes is written again (what it
//    names is checked in the steps below); the others are erased, and named in the quarantine;
// 2. every record (by stored key and kept version) and every chunk and piece is checked; a
//    piece naming a damaged, missing or differently long chunk fails too, and so does a record
//    naming such a chunk or piece; failing records leave the index and the heads (every stored
//    key and version naming them) for the quarantine, their pages kept;
// 3. chunks and pieces that no surviving record reaches are freed; reference counts, the
//    dictionaries' use and the counters verify() checks are set to what survives.
// A quarantined record is copied into pages of its own (each_record names them, so compaction
// and the page check count them) until drop_quarantined(): a reference that fails its checks is
// not trusted to own the pages it names. Those go back with every other page nothing reaches.
// mmry/store.hpp includes this header after the class (and it includes mmry/store.hpp, so it
// also compiles on its own).

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <mmry/repair.hpp>
#include <mmry/store.hpp>

namespace mmry {
inline namespace v1 {

template <class Traits>
repair_report basic_store<Traits>::repair() {
    const auto start = std::chrono::steady_clock::now();
    repair_report out;
    auto act = [&](std::string what) { out.actions.push_back(std::move(what)); };
    auto count = [](std::uint64_t n) { return std::to_string(n); };
    auto reference = [](std::string_view chunk_key) {
        format::chunk_reference ref{};
        std::memcpy(ref.data(), chunk_key.data(), std::min(chunk_key.size(), ref.size()));
        return ref;
    };
    auto name_of = [&](std::string_view chunk_key) {
        return "chunk " + detail::chunk_name(reference(chunk_key));
    };
    {
        auto lock = s_->write();
        auto& root = s_->root();
        auto& counters = root.counters();
        const std::uint64_t now = now_ns();
        std::uint64_t next_id = 1;
        for (const auto& q : counters.quarantine) next_id = std::max(next_id, q.id + 1);
        // Into the quarantine: a copy of what `source` names, in pages of its own, so that it
        // owns them whatever the reference was worth (the pages it named go back with the
        // rest nothing reaches, at the end).
        auto hold = [&](quarantined::kind k, std::string name, std::string reason,
                        const record_ref* source) {
            detail::quarantine_slot q;
            q.id = next_id++;
            q.kind = static_cast<std::uint8_t>(k);
            if (source) try {
                    q.ref = root.place(root.bytes(*source));
                    q.kept = true;
                } catch (const std::exception& e) {
                    reason += " (its bytes could not be kept: " + std::string(e.what()) + ")";
                }
            q.when_ns = now;
            act("quarantined " + name + " as item " + count(q.id) + ": " + reason);
            q.name = std::move(name);
            q.reason = std::move(reason);
            counters.quarantine.push_back(std::move(q));
            ++out.quarantined;
        };
        auto failure = [](auto&& check) -> std::optional<std::string> {
            try {
                check();
                return std::nullopt;
            } catch (const std::exception& e) {
                return std::string(e.what());
            }
        };

        // 1. Entries that fail their own checksum.
        auto entries = [&](auto& table, const char* what, auto&& sound, auto&& salvage) {
            auto [keys, lost] = table.damaged();
            for (const auto& k : keys) {
                const std::string entry =
                    std::string(what) + " entry " + detail::quote(k) + " (failing its checksum)";
                auto* v = table.find(k);  // read unchecked; written back whatever it holds
                std::optional<std::string> why = "cannot be read";
                if (v && !(why = sound(k, *v))) {
                    ++out.entries_restored;
                    act("rewrote " + entry + ": what it names passes its checks");
                    continue;
                }
                const std::optional<record_ref> kept = v ? salvage(*v) : std::nullopt;
                table.erase(k);
                hold(kept ? quarantined::kind::record : quarantined::kind::entry, k,
                     entry + ": " + *why, kept ? &*kept : nullptr);
            }
            if (!lost.empty())
                out.remaining.push_back(std::string(what) + ": " + count(lost.size()) +
                                        " damaged entries cannot be found by their key");
            return std::move(lost);
        };
        auto nothing = [](const auto&) { return std::optional<record_ref>(); };
        const auto lost_index = entries(
            root.index, "the index",
            [&](const std::string& k, record_ref& r) {
                return failure([&] {
                    check_record(k, r);
                    // What the entry says of the record, from the record (as a put writes it).
                    const auto v =
                        format::record_view::parse(root.bytes(r), k, cipher_type::tag_size);
                    r.logical_size = v.value_size();
                    r.frames = v.header().frame_count;
                    r.compressed_frames = 0;
                    for (std::uint32_t i = 0; i < v.header().frame_count; ++i)
                        if (v.entry(i).codec != 0) ++r.compressed_frames;
                });
            },
            [&](const record_ref& r) -> std::optional<record_ref> {
                // A record held in the entry itself is the entry's to lose: kept.
                if (!detail::tables::inline_records::is(r)) return std::nullopt;
                return r;
            });
        // A damaged head is not read at all: its versions are made again from the records its
        // key's stored keys name (below).
        std::set<std::string, std::less<>> lost_heads;
        if constexpr (keeps_history) {
            auto [keys, lost] = root.heads.damaged();
            for (const auto& k : keys) {
                root.heads.erase(k);
                act("dropped the key heads entry " + detail::quote(k) +
                    " (failing its checksum): its versions are made again from their records");
            }
            if (!lost.empty())
                out.remaining.push_back("the key heads: " + count(lost.size()) +
                                        " damaged entries cannot be found by their key");
            lost_heads = std::move(lost);
        }
        const auto lost_chunks = entries(
            root.chunks, "the chunk table",
            [&](const std::string& k, const detail::chunk_slot& slot) {
                return failure([&] { check_chunk(k, slot); });
            },
            nothing);

        // 2. Every record, by the stored keys and kept versions naming it, checked.
        struct item {
            std::string name;
            record_ref ref;
            std::vector<std::string> stored;
            std::vector<std::string> versions;                       // keys whose heads keep it
            std::vector<std::pair<std::string, std::uint64_t>> odd;  // slots naming it otherwise
            std::optional<std::string> bad;
            checked facts;
        };
        std::map<std::uint64_t, item> records;
        // The scans read unchecked (the damaged entries step 1 found are this transaction's
        // now), passing by those it could not reach by their key.
        root.index.scan(
            "", "",
            [&](std::string_view k, const record_ref& r) {
                if (lost_index.contains(k)) return true;
                auto& it = records[r.where.raw()];
                if (it.stored.empty()) {
                    it.name = std::string(k);
                    it.ref = r;
                }
                it.stored.emplace_back(k);
                return true;
            },
            /*checked=*/false);
        if constexpr (keeps_history) {
            root.heads.scan(
                "", "",
                [&](std::string_view k, const head_type& h) {
                    if (lost_heads.contains(k)) return true;
                    for (const auto& slot : h.versions) {
                        auto& it = records[slot.ref.where.raw()];
                        if (it.stored.empty() && it.versions.empty()) {
                            it.name = std::string(k) + " (version " + count(slot.version) + ")";
                            it.ref = slot.ref;
                        }
                        it.versions.emplace_back(k);
                        // A slot naming the record with other sizes, number or binding than
                        // its stored key does (a head entry damaged): set from the entry below.
                        if (slot.ref != it.ref) it.odd.emplace_back(k, slot.version);
                    }
                    return true;
                },
                /*checked=*/false);
        }
        for (auto& [where, it] : records) {
            ++out.records_checked;
            if (keeps_history && it.stored.empty())
                it.bad = "is kept as a version, but no stored key refers to its record";
            else
                // Under the first stored key that the record is filed under: another may name
                // it wrongly (below).
                for (const auto& k : it.stored)
                    if (!(it.bad = failure([&] { it.facts = check_record(k, it.ref); }))) break;
        }

        // Chunks and pieces, then what names a damaged, missing or differently long one.
        struct chunk_item {
            detail::chunk_slot slot;
            std::optional<std::string> bad;
            checked facts;
            std::uint64_t named = 0;
            bool reached = false;
        };
        std::map<std::string, chunk_item, std::less<>> chunks;
        root.chunks.scan(
            "", "",
            [&](std::string_view k, const detail::chunk_slot& slot) {
                if (lost_chunks.contains(k)) return true;
                auto& c = chunks[std::string(k)];
                c.slot = slot;
                c.bad = failure([&] { c.facts = check_chunk(k, slot); });
                ++out.chunks_checked;
                return true;
            },
            /*checked=*/false);
        auto fault =
            [&](const std::vector<format::chunk_ref>& names) -> std::optional<std::string> {
            for (const auto& e : names) {
                const auto k = format::chunk_key(e.ref);
                const auto it = chunks.find(k);
                const std::string name = name_of(k);
                if (it == chunks.end()) return "names " + name + ", which the store lacks";
                if (it->second.bad) return "names " + name + ", which fails its checks";
                if (it->second.facts.holds != e.length)
                    return "names " + name + " with length " + count(e.length) + ", but it holds " +
                           count(it->second.facts.holds);
            }
            return std::nullopt;
        };
        for (bool changed = true; changed;) {  // a piece failing fails the pieces naming it
            changed = false;
            for (auto& [k, c] : chunks)
                if (!c.bad && c.facts.piece && (c.bad = fault(c.facts.names))) changed = true;
        }
        for (auto& [where, it] : records)
            if (!it.bad && it.facts.folded) it.bad = fault(it.facts.names);

        // What the surviving records reach, and how often each chunk is named.
        std::vector<const std::vector<format::chunk_ref>*> todo;
        for (const auto& [where, it] : records)
            if (!it.bad && it.facts.folded) todo.push_back(&it.facts.names);
        while (!todo.empty()) {
            const auto* names = todo.back();
            todo.pop_back();
            for (const auto& e : *names) {
                auto& c = chunks.find(format::chunk_key(e.ref))->second;  // there: fault() passed
                ++c.named;
                if (!std::exchange(c.reached, true) && c.facts.piece)
                    todo.push_back(&c.facts.names);
            }
        }

        // A sound record that stored keys name and no head does goes back into its key's
        // head (the head was damaged, or lost the slot), with the layouts whose keys name it.
        if constexpr (keeps_history)
            for (auto& [where, it] : records) {
                if (it.bad || !it.versions.empty()) continue;
                const auto& f = it.facts;
                auto& h = root.heads.emplace(f.key);
                if (h.at(f.version) != h.versions.end()) {
                    it.bad = "another record holds version " + count(f.version) + " of key " +
                             detail::quote(f.key);
                    continue;
                }
                std::uint32_t bits = 0;
                for (std::size_t i = 0; i < f.filed.size(); ++i)
                    if (std::find(it.stored.begin(), it.stored.end(), f.filed[i]) !=
                        it.stored.end())
                        bits |= std::uint32_t{1} << i;
                const auto pos = std::upper_bound(
                    h.versions.begin(), h.versions.end(), f.version,
                    [](std::uint64_t v, const detail::version_slot& s) { return v < s.version; });
                if (pos == h.versions.begin()) h.created_ns = f.created_ns;
                h.versions.insert(pos, {f.version, f.modified_ns, it.ref, bits});
                h.next_version = std::max(h.next_version, f.version + 1);
                it.versions.push_back(f.key);
                act("put version " + count(f.version) + " of key " + detail::quote(f.key) +
                    " back in the key heads: stored key " + detail::quote(it.name) +
                    " names its record, and no head did");
            }

        // 3. The changes.
        for (auto& [where, it] : records) {
            // Stored keys naming a sound record that is not filed under them: their entries go.
            if (!it.bad)
                for (const auto& k : it.stored) {
                    const auto& f = it.facts.filed;
                    if (std::find(f.begin(), f.end(), k) != f.end()) continue;
                    root.index.erase(k);
                    hold(quarantined::kind::entry, k,
                         "the index entry names the record of " + detail::quote(f.front()) +
                             ", which is not filed under it",
                         nullptr);
                }
            if constexpr (keeps_history)
                for (const auto& [k, version] : it.odd) {
                    if (it.bad) break;  // the slot goes with the record, below
                    auto* h = root.heads.find(k);
                    if (!h) continue;
                    const auto slot = h->at(version);
                    if (slot == h->versions.end() || slot->ref.where != it.ref.where) continue;
                    slot->ref = it.ref;
                    act("rewrote version " + count(version) + " of key " + detail::quote(k) +
                        " in the key heads: it named the record of " + detail::quote(it.name) +
                        " with other fields than that entry");
                }
            if (!it.bad) continue;
            const record_ref ref = it.ref;
            // A record in its index entry has a handle of this transaction's, named by that one
            // entry only.
            const bool in_entry = detail::tables::inline_records::is(ref);
            hold(quarantined::kind::record, it.name, *it.bad, &ref);
            for (const auto& k : it.stored)
                if (const auto* r = root.index.find(k); r && (in_entry || r->where == ref.where))
                    root.index.erase(k);
            if constexpr (keeps_history)
                for (const auto& k : it.versions)
                    if (auto* h = root.heads.find(k)) {
                        auto& v = h->versions;
                        v.erase(
                            std::remove_if(v.begin(), v.end(),
                                           [&](const auto& s) { return s.ref.where == ref.where; }),
                            v.end());
                        if (v.empty()) root.heads.erase(k);
                    }
        }
        for (auto& [k, c] : chunks) {
            if (c.bad) {
                root.chunks.erase(k);
                hold(quarantined::kind::chunk, name_of(k), *c.bad, &c.slot.ref);
                continue;
            }
            if (!c.reached) {
                free_chunk(reference(k), c.slot);
                ++out.chunks_freed;
                act("freed " + name_of(k) + ", which nothing names");
                continue;
            }
            if (c.slot.refs != c.named) {
                act(name_of(k) + " was counted " + count(c.slot.refs) + " times, is named " +
                    count(c.named) + " times");
                root.chunks.find(k)->refs = c.named;
                ++out.references_fixed;
            }
        }

        // Every counter but puts and erases, summed again from what survives: what a put adds
        // for each record and chunk (account, tally, the chunk counters).
        const detail::store_counters was = counters;
        {
            detail::store_counters fresh;
            fresh.puts = was.puts;
            fresh.erases = was.erases;
            fresh.dictionary_stored = was.dictionary_stored;
            fresh.dictionaries = was.dictionaries;
            for (auto& d : fresh.dictionaries) d.records = 0;
            fresh.quarantine = std::move(counters.quarantine);
            counters = std::move(fresh);
        }
        auto tally_of = [&](const record_ref& r) {
            tally(format::record_view::parse(root.bytes(r), "", cipher_type::tag_size), +1);
        };
        for (const auto& [where, it] : records) {
            if (it.bad || it.stored.empty()) continue;
            account(it.ref, +1);
            tally_of(it.ref);
        }
        for (const auto& [k, c] : chunks) {
            if (c.bad || !c.reached) continue;
            counters.chunk_refs += c.named;
            counters.chunk_stored += c.slot.ref.size;
            if (c.facts.piece)
                ++counters.pieces;
            else
                counters.chunk_logical += c.slot.ref.logical_size;
            tally_of(c.slot.ref);
        }
        auto differ = [&](const std::string& what, std::uint64_t before, std::uint64_t now) {
            if (before == now) return;
            act("counter " + what + " was " + count(before) + ", is " + count(now));
            ++out.counters_fixed;
        };
        using sc = detail::store_counters;
        static constexpr std::pair<const char*, std::uint64_t sc::*> fields[] = {
            {"records", &sc::records},
            {"logical_bytes", &sc::logical_bytes},
            {"stored_bytes", &sc::stored_bytes},
            {"frames", &sc::frames},
            {"compressed_frames", &sc::compressed_frames},
            {"folded_values", &sc::folded_values},
            {"folded_logical", &sc::folded_logical},
            {"chunk_refs", &sc::chunk_refs},
            {"chunk_logical", &sc::chunk_logical},
            {"chunk_stored", &sc::chunk_stored},
            {"pieces", &sc::pieces},
            {"payload_bytes", &sc::payload_bytes}};
        for (const auto& [what, field] : fields) differ(what, was.*field, counters.*field);
        for (std::size_t i = 0; i < counters.class_blocks.size(); ++i) {
            differ("class_blocks[" + count(i) + "]", was.class_blocks[i], counters.class_blocks[i]);
            differ("class_bytes[" + count(i) + "]", was.class_bytes[i], counters.class_bytes[i]);
        }
        for (std::size_t i = 0; i < counters.level_frames.size(); ++i)
            differ("level_frames[" + count(i) + "]", was.level_frames[i], counters.level_frames[i]);
        for (std::size_t i = 0; i < counters.dictionaries.size(); ++i)
            differ("dictionary " + count(counters.dictionaries[i].id) + "'s records",
                   was.dictionaries[i].records, counters.dictionaries[i].records);
        if (!out.actions.empty()) lock.commit();  // a sound store: nothing to commit
    }

    // Pages that nothing reaches any more (a damaged entry's blobs, say) go back.
    try {
        out.pages_reclaimed = s_->pages->reclaim([&](const auto&, auto&& mark) {
            typename state::context_type c(*s_->pages, s_->name);
            c.mark(mark);
            c.mark_records(mark);
        });
    } catch (const error&) {
        // The walk met damage that repair could not take out: verify() names it below.
    }
    if (out.pages_reclaimed != 0)
        act("freed " + count(out.pages_reclaimed) + " pages that nothing reached");
    s_->cache.clear();
    for (auto& p : verify().problems) out.remaining.push_back(std::move(p));
    out.time = std::chrono::steady_clock::now() - start;
    return out;
}

template <class Traits>
std::vector<quarantined> basic_store<Traits>::quarantine() const {
    auto lock = s_->read();
    std::vector<quarantined> out;
    for (const auto& q : s_->root().counters().quarantine) {
        quarantined item;
        item.id = q.id;
        item.what = static_cast<quarantined::kind>(q.kind);
        item.name = q.name;
        item.reason = q.reason;
        item.size = q.kept ? q.ref.size : 0;
        item.when = std::chrono::system_clock::time_point(
            std::chrono::duration_cast<std::chrono::system_clock::duration>(
                std::chrono::nanoseconds(q.when_ns)));
        out.push_back(std::move(item));
    }
    return out;
}

template <class Traits>
std::optional<bytes> basic_store<Traits>::export_quarantined(std::uint64_t id) const {
    auto lock = s_->read();
    for (const auto& q : s_->root().counters().quarantine)
        if (q.id == id && q.kept) {
            const auto b = s_->root().bytes(q.ref);
            return bytes(b.begin(), b.end());
        }
    return std::nullopt;
}

template <class Traits>
bool basic_store<Traits>::drop_quarantined(std::uint64_t id) {
    auto lock = s_->write();
    auto& q = s_->root().counters().quarantine;
    const auto it = std::find_if(q.begin(), q.end(), [&](const auto& s) { return s.id == id; });
    if (it == q.end()) return false;
    if (it->kept) s_->root().free(it->ref);  // a copy, never counted
    q.erase(it);
    lock.commit();
    return true;
}

}  // namespace v1
}  // namespace mmry
