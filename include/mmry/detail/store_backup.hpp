#pragma once
// basic_store's backup and restore, out of line (mmry/backup.hpp says what a repository is).
// A backup reads one pinned state of the store (writers go on: they never wait for a reader)
// and copies each record, chunk and dictionary as stored into the repository's packs, unless
// the repository has it already; then it writes the snapshot that lists them. A restore makes
// a store with the backed-up store's identity and imports the snapshot's pieces through the
// store's one write path, oldest record first.
// mmry/store.hpp includes this header after the class (and it includes mmry/store.hpp, so it
// also compiles on its own).

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include <cryptopp/osrng.h>

#include <mmry/backup.hpp>
#include <mmry/detail/backup/repository.hpp>
#include <mmry/store.hpp>

namespace mmry {
inline namespace v1 {
namespace detail::backup {

/// Checks a snapshot's 32-byte check as the store's codec computes it (an HMAC under the
/// store's key when it is encrypted).
template <class Codec>
auto checked_by(const Codec& codec) {
    return [&codec](std::span<const std::byte> covered, std::span<const std::byte> check,
                    const std::string& what) {
        const auto expected = codec.backup_hasher().hash(covered);
        if (!std::equal(check.begin(), check.end(), expected.begin()))
            throw error(errc::corrupt, what +
                                           " fails its check: it was not written by a backup of "
                                           "this store under this key (or was altered since)");
    };
}

/// At most this many snapshots in a row list changes only; the next one lists every item.
inline constexpr std::size_t max_chain = 32;

}  // namespace detail::backup

template <class Traits>
backup_report basic_store<Traits>::backup(const std::string& dir, const backup_options& o) const {
    namespace bk = detail::backup;
    const auto header = s_->pages->header_bytes().first(format::store_header_size);
    bk::repository repo(dir, header);
    repo.load();
    const auto numbers = repo.snapshots(), pruned = repo.pruned();

    backup_report out;
    out.number =
        std::max(numbers.empty() ? 0 : numbers.back(), pruned.empty() ? 0 : pruned.back()) + 1;
    out.time_ns = now_ns();  // the store's clock (options::clock), as its records' times
    bk::snapshot snap;
    std::optional<bk::repository::pack_writer> pack;
    std::unordered_set<bk::piece_id, bk::id_hash> listed;
    // Files piece `b` (unless the repository or this backup has it) and returns its id.
    auto file = [&](std::span<const std::byte> b, const bk::piece_id& id) {
        if (!listed.insert(id).second) return id;
        ++out.records;
        out.stored_bytes += b.size();
        if (repo.find(id)) return id;
        if (!pack) pack.emplace(repo, o.sync);
        pack->add(id, b, /*pinned=*/true);
        ++out.written_records;
        out.written_bytes += b.size();
        if (pack->size() >= o.pack_bytes) {
            pack->finish();
            pack.reset();
            ++out.pack_files;
            if (o.progress) o.progress(out);
        }
        return id;
    };
    {
        // Three passes over one pinned state: list what to back up (cheap), name every piece
        // (SHA-256: the bulk of the CPU time, spread over threads), then file them in order.
        auto lock = s_->read();
        auto& root = s_->root();
        std::vector<std::span<const std::byte>> pieces;
        struct pending {
            std::uint64_t seq = 0;
            std::uint8_t kind = bk::item::record;
            std::uint32_t arg = 0;
            std::size_t first = 0, chunks = 0;  // in `pieces`: the chunks, then the record
        };
        std::vector<pending> todo;
        for (const auto& d : root.counters().dictionaries) {
            todo.push_back({0, bk::item::dictionary, d.id, pieces.size(), 0});
            pieces.push_back(root.bytes(d.ref));
        }
        snap.current_dictionary =
            static_cast<std::uint32_t>(root.pages().word(detail::tables::dictionary_word));
        std::unordered_set<const std::byte*> seen;  // a record that several stored keys name
        const std::size_t dictionaries = todo.size();
        root.index.scan(
            "", "",
            [&](std::string_view, const record_ref& ref) {
                ++out.keys;
                const auto b = root.bytes(ref);
                if constexpr (layouts > 1)
                    if (!seen.insert(b.data()).second) return true;
                const auto v = format::record_view::parse(b, {}, cipher_type::tag_size);
                pending p{v.header().seq, bk::item::record, 0, pieces.size(), 0};
                if constexpr (folding) {
                    if (v.header().folded) {
                        const auto parts = bundle_parts(open_record(v.key(), ref));
                        p.arg = static_cast<std::uint32_t>(parts.pieces);
                        p.chunks = parts.records.size() - 1;
                        pieces.insert(pieces.end(), parts.records.begin() + 1, parts.records.end());
                    }
                }
                pieces.push_back(b);
                out.sequence = std::max(out.sequence, v.header().seq);
                todo.push_back(p);
                return true;
            },
            /*checked=*/true);
        // Records in the order they were written, so that a restore writes them in that order.
        std::stable_sort(todo.begin() + static_cast<std::ptrdiff_t>(dictionaries), todo.end(),
                         [](const auto& a, const auto& b) { return a.seq < b.seq; });

        std::vector<bk::piece_id> ids(pieces.size());
        const unsigned threads = std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
        std::vector<std::thread> helpers;
        // Contiguous shares: threads writing neighbouring ids would share cache lines.
        const std::size_t share = (pieces.size() + threads - 1) / threads;
        auto name_from = [&](std::size_t t) {
            const std::size_t end = std::min(pieces.size(), (t + 1) * share);
            for (std::size_t i = t * share; i < end; ++i) ids[i] = bk::id_of(pieces[i]);
        };
        if (pieces.size() >= 1000)
            for (unsigned t = 1; t < threads; ++t) helpers.emplace_back(name_from, t);
        name_from(0);
        if (helpers.empty())
            for (std::size_t i = share; i < pieces.size(); ++i) ids[i] = bk::id_of(pieces[i]);
        for (auto& h : helpers) h.join();

        std::unordered_set<bk::piece_id, bk::id_hash> records;  // equal records, listed once
        for (const auto& p : todo) {
            const std::size_t at = p.first + p.chunks;
            if constexpr (layouts > 1)  // an inline record is a copy in each stored key
                if (p.kind == bk::item::record && !records.insert(ids[at]).second) continue;
            bk::item it;
            it.kind = p.kind;
            it.arg = p.arg;
            it.seq = p.seq;
            for (std::size_t i = p.first; i < at; ++i) it.chunks.push_back(file(pieces[i], ids[i]));
            it.id = file(pieces[at], ids[at]);
            snap.items.push_back(std::move(it));
        }
        if (pack) {  // while the pieces it writes from are pinned
            pack->finish();
            pack.reset();
            ++out.pack_files;
        }
    }
    // Unless the chain is long, the snapshot lists what changed since the latest one: what
    // a small change writes stays small, whatever the number of keys.
    if (!numbers.empty() && repo.depth(numbers.back()) + 1 < bk::max_chain) {
        const auto base = repo.materialize(numbers.back(), bk::checked_by(s_->codec));
        std::unordered_set<bk::piece_id, bk::id_hash> now, before;
        for (const auto& it : snap.items) now.insert(it.id);
        for (const auto& it : base.items) {
            before.insert(it.id);
            if (!now.contains(it.id)) snap.removed.push_back(it.id);
        }
        std::erase_if(snap.items, [&](const bk::item& it) { return before.contains(it.id); });
        snap.parent = numbers.back();
    }
    auto bytes_out = bk::write_snapshot_body(snap);  // written_bytes counts the snapshot too
    out.written_bytes += bytes_out.size() + bk::check_size;
    snap.info = out;
    bytes_out = bk::write_snapshot_body(snap);
    const auto check = s_->codec.backup_hasher().hash(bk::bytes_of(bytes_out));
    bytes_out.append(reinterpret_cast<const char*>(check.data()), check.size());
    repo.write_snapshot(out.number, bk::bytes_of(bytes_out), o.sync);
    if (o.progress) o.progress(out);
    return out;
}

template <class Traits>
basic_store<Traits> basic_store<Traits>::restore(const std::string& dir, std::string_view name,
                                                 options opts, const restore_options& r) {
    namespace bk = detail::backup;
    bk::repository repo(dir, false);
    const auto header = format::store_header::parse(repo.store_header(), dir);
    const auto chosen = find_backup(dir, r).number;
    if constexpr (shared) {
        if (state::exists(name)) {
            if (!r.replace)
                throw error(errc::already_exists,
                            "store " + detail::quote(name) +
                                " exists: restore_options::replace to restore over it");
            state::remove(name);
        }
    }
    basic_store s(state::create(name, std::move(opts), &header));
    try {
        const auto snap = repo.materialize(chosen, detail::backup::checked_by(s.s_->codec));
        repo.load();
        for (const auto& it : snap.items) {
            const bytes b = repo.read(it.id);
            if (it.kind == bk::item::dictionary) {
                s.import_dictionary(it.arg, b, it.arg == snap.current_dictionary);
            } else if (it.chunks.empty()) {
                s.import_record(b);
            } else {
                std::vector<bytes> parts;
                parts.reserve(it.chunks.size());
                format::bundle bundle;
                bundle.records.push_back(b);
                for (const auto& c : it.chunks)
                    bundle.records.push_back(parts.emplace_back(repo.read(c)));
                bundle.pieces = it.arg;
                s.import_record(format::write_bundle(bundle));
            }
        }
        // The backed-up store goes on numbering from where the backup left it, with the same id
        // and key: this one numbers far past it, so that the two never seal under one nonce.
        std::uint64_t jump = 0;
        CryptoPP::AutoSeededRandomPool rng;
        rng.GenerateBlock(reinterpret_cast<CryptoPP::byte*>(&jump), sizeof jump);
        s.see_seq(snap.info.sequence + detail::pages::seq_copy_gap +
                  jump % detail::pages::seq_copy_gap);
    } catch (...) {
        if constexpr (shared) {
            const std::string n(name);
            s.s_.reset();
            state::remove(n);
        }
        throw;
    }
    return s;
}

}  // namespace v1
}  // namespace mmry
