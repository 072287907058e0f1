#pragma once
// The store's tables on pages (docs/DECISIONS.md §11.3), as one transaction sees them: the index
// of stored keys, the heads of logical keys (history), the chunk table (folding) and the
// counters, each read from the pages of a pinned state and, in a write transaction, changed in a
// cache of this process that commit() writes back as copy-on-write pages.
//
// - Values are encoded little-endian; an entry that would pass the page index's limit keeps its
//   value (and a key over short_key bytes keeps its key) in a blob: a run of pages that starts
//   with its own length and checksum, named from the entry.
// - A key over short_key bytes is filed under its first short_key bytes and its SHA-256, so
//   that a key of up to 64 KiB has an entry; its whole key, in a blob, is compared at each
//   lookup. With index::ordered such keys sort by their first short_key bytes, then by hash.
// - Meta words: 0-3 the index, 4-7 the heads, 8-11 the chunk table, 12-13 the counters blob
//   (first page, pages), 14 the current dictionary's id; 15 is the page layer's (the sequence
//   high-water).
//
// Thread-safety: a tables object belongs to the thread that made it (see store_state.hpp).
// Errors: errc::corrupt for any entry or blob that fails its checks, naming it.

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <string>
#include <vector>

#include <mmry/detail/pages/hash_index.hpp>
#include <mmry/detail/pages/page_store.hpp>
#include <mmry/detail/pages/tree_index.hpp>
#include <mmry/detail/tables/codecs.hpp>
#include <mmry/detail/tables/table.hpp>

namespace mmry {
inline namespace v1 {
namespace detail {
namespace tables {

/// The pages a record of `size` bytes takes (at least one).
inline std::uint64_t record_pages(std::uint64_t size) noexcept {
    return std::max<std::uint64_t>(1, (size + pg::page_size - 1) / pg::page_size);
}
/// Copies `bytes` into the start of the pages `out` and zeroes the rest of them.
inline void fill_run(std::span<std::byte> out, std::span<const std::byte> bytes) {
    std::memcpy(out.data(), bytes.data(), bytes.size());
    std::memset(out.data() + bytes.size(), 0, out.size() - bytes.size());
}

/// What one transaction sees of a store: its tables, counters and records. Made by a reader
/// (a pinned state) or by the writer (a write transaction whose commit() writes the changes).
template <class Store, class KeyIndex, class Head>
class context {
  public:
    using read_txn = typename Store::read_txn;
    using write_txn = typename Store::write_txn;

    context(Store& s, const std::string& name) : store_(&s), name_(name) {
        read_.emplace(s.read());
        v_.r = &*read_;
        inline_.borrow();
    }
    struct for_write {};
    context(Store& s, const std::string& name, for_write) : store_(&s), name_(name) {
        write_ = std::make_unique<write_holder>(s);
        v_.w = &write_->t;
    }
    context(const context&) = delete;
    context& operator=(const context&) = delete;

    bool writing() const noexcept { return v_.w != nullptr; }
    const view<Store>& pages() const noexcept { return v_; }
    write_txn& txn() { return write_->t; }

  private:
    inline_records inline_;  // before the tables that name it

  public:
    table<Store, KeyIndex, record_codec> index{v_, KeyIndex(index_words), "the index", &inline_};
    table<Store, KeyIndex, head_codec<Head>> heads{v_, KeyIndex(head_words), "the key heads"};
    table<Store, pg::hash_index, chunk_codec> chunks{v_, pg::hash_index(chunk_words),
                                                     "the chunk table"};

    /// The counters of this state (loaded at the first call).
    store_counters& counters() {
        if (!counters_) load_counters();
        return *counters_;
    }

    /// A record's bytes in this state. A record longer than a segment lies in several runs
    /// (its `where` names the blob that lists them): it is gathered into a buffer that lives as
    /// long as this transaction.
    std::span<const std::byte> bytes(const record_ref& r) const {
        if (inline_records::is(r)) return inline_.get(r);
        if (!(r.where.raw() & extents_flag))
            return v_.page(r.where.raw(), record_pages(r.size)).first(r.size);
        auto& out = gathered_.emplace_back(r.size);
        std::uint64_t at = 0;
        for_each_run(r, [&](pg::page_id p, std::uint64_t n) {
            const auto run = v_.page(p, n);
            const auto take = std::min<std::uint64_t>(run.size(), r.size - at);
            std::memcpy(out.data() + at, run.data(), take);
            at += take;
        });
        if (at != r.size)
            throw error(errc::corrupt, "store " + quote(name_) + ": the runs of a record of " +
                                           std::to_string(r.size) + " bytes hold " +
                                           std::to_string(at));
        return out;
    }
    /// Writes a record into new pages (write transactions only): one run, or runs of a segment
    /// each when it is longer than a segment.
    record_ref place(std::span<const std::byte> record) {
        record_ref r;
        r.size = record.size();
        const std::uint64_t n = record_pages(record.size());
        if (n <= segment_pages()) {
            r.where = handle::from_raw(write_run(record));
            return r;
        }
        writer list;
        const std::uint64_t run = segment_pages() * pg::page_size;
        for (std::uint64_t at = 0; at < record.size(); at += run) {
            list.u64(write_run(record.subspan(at, std::min(run, record.size() - at))));
            list.u64(record_pages(std::min(run, record.size() - at)));
        }
        r.where = handle::from_raw(write_blob(txn(), bytes_of(list.str())) | extents_flag);
        return r;
    }
    /// The same for a record that may live in its index entry (of `key`) when it is small
    /// enough: no page of its own, and one page fewer to write.
    record_ref place_small(std::span<const std::byte> record, std::string_view key) {
        if (key.size() + record.size() + 64 > KeyIndex::max_entry) return place(record);
        record_ref r;
        r.size = record.size();
        r.where = inline_.add(record);
        return r;
    }
    /// Frees a record's pages (readers of older states keep them until they are done).
    void free(const record_ref& r) {
        if (inline_records::is(r)) return;
        for_each_page_run(r, [&](pg::page_id p, std::uint64_t n) { txn().free(p, n); });
    }
    /// Calls f(first, n) for every run of pages the record occupies (its run list included).
    template <class F>
    void for_each_page_run(const record_ref& r, F&& f) const {
        if (inline_records::is(r)) return;
        if (!(r.where.raw() & extents_flag)) return f(r.where.raw(), record_pages(r.size));
        for_each_run(r, f);
        f(r.where.raw() & ~extents_flag, blob_pages(16 * runs_of(r)));
    }

    /// A record in the pages of `runs`, which this process staged and filled with the record's
    /// bytes since (write_txn::stage; one run, or one per segment as place() lays them out):
    /// the runs adopted into this transaction, and the record's first `stamped` bytes (stamped
    /// under the lock since) written again.
    record_ref adopt(std::span<const pg::page_id> runs, std::span<const std::byte> record,
                     std::size_t stamped) {
        const std::uint64_t run = segment_pages() * pg::page_size;
        const std::uint64_t expected = (record.size() + run - 1) / run;
        if (runs.size() != expected || stamped > std::min(run, record.size()))
            throw error(errc::invalid_argument,
                        "store " + quote(name_) + ": " + std::to_string(runs.size()) +
                            " staged runs for a record of " + std::to_string(record.size()) +
                            " bytes, which takes " + std::to_string(expected));
        writer list;
        for (std::uint64_t i = 0; i < runs.size(); ++i) {
            const std::uint64_t n = txn().adopt(runs[i]);
            if (n != record_pages(std::min(run, record.size() - i * run)))
                throw error(errc::invalid_argument,
                            "store " + quote(name_) + ": the run staged at page " +
                                std::to_string(runs[i]) + " has " + std::to_string(n) +
                                " pages, not those of part " + std::to_string(i) +
                                " of a record of " + std::to_string(record.size()) + " bytes");
            list.u64(runs[i]);
            list.u64(n);
        }
        std::memcpy(txn().write(runs[0], record_pages(std::max<std::size_t>(stamped, 1))).data(),
                    record.data(), stamped);
        record_ref r;
        r.size = record.size();
        r.where = handle::from_raw(
            runs.size() == 1 ? runs[0] : write_blob(txn(), bytes_of(list.str())) | extents_flag);
        return r;
    }

    /// Writes every change into pages and makes them current; returns the transaction number.
    /// `wait`: as write_txn::commit's.
    std::uint64_t commit(bool wait = true) {
        auto& t = txn();
        index.write_back(t, seed());
        heads.write_back(t, seed());
        chunks.write_back(t, seed());
        if (counters_) {
            writer w;
            encode(*counters_, w);
            if (w.str() != counters_base_) {
                if (const auto p = t.word(counters_page); p != pg::no_page)
                    t.free(p, t.word(counters_pages));
                t.set_word(counters_page, write_blob(t, bytes_of(w.str())));
                t.set_word(counters_pages, blob_pages(w.str().size()));
            }
        }
        if (ceiling_ != no_ceiling) {  // compaction: the tables' own pages last
            index.relocate_pages(t, ceiling_);
            heads.relocate_pages(t, ceiling_);
            chunks.relocate_pages(t, ceiling_);
        }
        return t.commit(wait);
    }

    /// Compaction (write transactions only, after txn().confine(ceiling)): copies every record
    /// with a page at or past page `ceiling` below it, largest first (so that the runs that need
    /// the most room find it: first fit, decreasing), each once however many places name it;
    /// points the entries that name it at the copy; and has commit() rewrite the entries, blobs,
    /// counters and index pages that lie past it. Returns the records moved. Throws
    /// errc::limit_exceeded when the room below the ceiling runs out, errc::corrupt for a damaged
    /// entry: then the transaction must be dropped (nothing has changed).
    std::uint64_t relocate(pg::page_id ceiling) {
        ceiling_ = ceiling;
        std::map<std::uint64_t, record_ref> high;  // by where
        each_record([&](const record_ref& r) {
            if (inline_records::is(r) || high.contains(r.where.raw())) return;
            bool past = false;
            for_each_page_run(
                r, [&](pg::page_id p, std::uint64_t n) { past = past || p + n > ceiling; });
            if (past) high.emplace(r.where.raw(), r);
        });
        std::vector<record_ref> order;
        order.reserve(high.size());
        for (const auto& [where, r] : high) order.push_back(r);
        std::stable_sort(order.begin(), order.end(), [](const record_ref& a, const record_ref& b) {
            return record_pages(a.size) > record_pages(b.size);
        });
        std::map<std::uint64_t, std::uint64_t> moved;  // where, before and after
        for (const auto& r : order) {
            const record_ref copy = place(bytes(r));  // the old pages stay as they are until commit
            free(r);
            moved.emplace(r.where.raw(), copy.where.raw());
            gathered_.clear();
        }
        auto move = [&](record_ref& r) {
            if (inline_records::is(r)) return false;
            const auto it = moved.find(r.where.raw());
            if (it == moved.end()) return false;
            r.where = handle::from_raw(it->second);
            return true;
        };
        index.relocate(ceiling, move);
        heads.relocate(ceiling, [&](auto& head) {
            bool changed = false;
            for (auto& slot : head.versions) changed = move(slot.ref) || changed;
            return changed;
        });
        chunks.relocate(ceiling, [&](chunk_slot& slot) { return move(slot.ref); });
        for (auto& d : counters().dictionaries) move(d.ref);
        for (auto& q : counters().quarantine)
            if (q.kept) move(q.ref);
        if (const auto p = v_.word(counters_page);
            p != pg::no_page && p + v_.word(counters_pages) > ceiling)
            counters_base_.clear();  // written again, below the ceiling
        return moved.size();
    }

    /// Calls f(record_ref) for every record the state names (index entries, versions, chunks,
    /// dictionaries): a record named from several places once per place. Records in index entries
    /// are borrowed from the pages for the call only (none is copied, in a write transaction
    /// either).
    template <class F>
    void each_record(F&& f) {
        const bool was = inline_.borrowing(true);
        try {
            const std::size_t held = inline_.size();
            index.scan("", "", [&](std::string_view, const record_ref& r) {
                f(r);
                inline_.forget(held);
                return true;
            });
        } catch (...) {
            inline_.borrowing(was);
            throw;
        }
        inline_.borrowing(was);
        heads.scan("", "", [&](std::string_view, const auto& h) {
            for (const auto& slot : h.versions) f(slot.ref);
            return true;
        });
        chunks.scan("", "", [&](std::string_view, const chunk_slot& slot) {
            f(slot.ref);
            return true;
        });
        for (const auto& d : counters().dictionaries) f(d.ref);
        for (const auto& q : counters().quarantine)
            if (q.kept) f(q.ref);
    }

    /// Calls mark(first, n) for every run of pages of every record the state names, once per
    /// record.
    template <class Mark>
    void mark_records(Mark&& mark) {
        std::set<std::uint64_t> seen;
        each_record([&](const record_ref& r) {
            if (seen.insert(r.where.raw()).second) for_each_page_run(r, mark);
        });
    }

    /// Calls mark(first, n) for every page the state reaches: tables, blobs, records.
    template <class Mark>
    void mark(Mark&& mark) {
        index.mark(mark);
        heads.mark(mark);
        chunks.mark(mark);
        if (const auto p = v_.word(counters_page); p != pg::no_page)
            mark(p, v_.word(counters_pages));
    }

  private:
    static constexpr std::uint64_t extents_flag = std::uint64_t{1} << 63;

    std::uint64_t segment_pages() const noexcept { return store_->segment_pages(); }
    std::uint64_t runs_of(const record_ref& r) const noexcept {
        const std::uint64_t run = segment_pages() * pg::page_size;
        return (r.size + run - 1) / run;
    }
    // The runs of a record in several: checked against its size before any is used.
    template <class F>
    void for_each_run(const record_ref& r, F&& f) const {
        const std::string what = "store " + quote(name_) + ": the run list of a record";
        if (r.size > (std::uint64_t{1} << 48))
            throw error(errc::corrupt, what + " claims " + std::to_string(r.size) + " bytes");
        const std::uint64_t runs = runs_of(r);
        const auto list = read_blob(v_, r.where.raw() & ~extents_flag, blob_pages(16 * runs), what);
        if (list.size() != 16 * runs)
            throw error(errc::corrupt, what + " names " + std::to_string(list.size() / 16) +
                                           " runs, not " + std::to_string(runs));
        reader in(list, what);
        std::uint64_t left = record_pages(r.size);
        for (std::uint64_t i = 0; i < runs; ++i) {
            const auto p = in.u64(), n = in.u64();
            if (n == 0 || n > left || (i + 1 < runs && n != segment_pages()))
                throw error(errc::corrupt, what + ": run " + std::to_string(i) + " has " +
                                               std::to_string(n) + " pages");
            left -= n;
            f(p, n);
        }
    }
    pg::page_id write_run(std::span<const std::byte> bytes) {
        const std::uint64_t n = record_pages(bytes.size());
        const pg::page_id p = txn().allocate(n, false);
        fill_run(txn().write(p, n), bytes);
        return p;
    }
    struct write_holder {
        explicit write_holder(Store& s) : t(s.write()) {}
        write_txn t;
    };

    static std::uint64_t seed() {
        static const std::uint64_t s = [] {
            std::random_device rd;
            return (std::uint64_t{rd()} << 32) ^ rd();
        }();
        return s;
    }

    static void encode(const store_counters& c, writer& w) {
        for (auto v :
             {c.logical_bytes, c.stored_bytes, c.frames, c.compressed_frames, c.puts, c.erases,
              c.records, c.folded_values, c.folded_logical, c.chunk_refs, c.chunk_logical,
              c.chunk_stored, c.pieces, c.dictionary_stored, c.payload_bytes})
            w.u64(v);
        sparse(c.class_blocks, w);
        sparse(c.class_bytes, w);
        sparse(c.level_frames, w);
        w.u32(static_cast<std::uint32_t>(c.dictionaries.size()));
        for (const auto& d : c.dictionaries) {
            w.u32(d.id);
            w.u64(d.bytes);
            w.ref(d.ref);
            w.u64(d.records);
        }
        // The quarantine, after the dictionaries and only when repair filled it: counters of a
        // store without one are byte for byte those of a store from before it existed.
        if (c.quarantine.empty()) return;
        w.u32(static_cast<std::uint32_t>(c.quarantine.size()));
        for (const auto& q : c.quarantine) {
            w.u64(q.id);
            w.u8(q.kind);
            w.u8(q.kept ? 1 : 0);
            w.ref(q.ref);
            w.u64(q.when_ns);
            for (const auto* text : {&q.name, &q.reason}) {
                w.u32(static_cast<std::uint32_t>(text->size()));
                w.raw(text->data(), text->size());
            }
        }
    }

    // A counter array as its non-zero entries: [n u32] and n times [index u32][value u64], by
    // index. Most of a store's size classes and levels are never used, and the counters are
    // read and written by every commit.
    template <std::size_t N>
    static void sparse(const std::array<std::uint64_t, N>& a, writer& w) {
        const auto n = static_cast<std::uint32_t>(
            std::count_if(a.begin(), a.end(), [](std::uint64_t v) { return v != 0; }));
        w.u32(n);
        for (std::uint32_t i = 0; i < N; ++i)
            if (a[i] != 0) {
                w.u32(i);
                w.u64(a[i]);
            }
    }
    template <std::size_t N>
    void sparse(reader& r, std::array<std::uint64_t, N>& a) const {
        const std::uint32_t n = r.u32();
        std::uint64_t next = 0;  // indexes rise: each once
        for (std::uint32_t k = 0; k < n; ++k) {
            const std::uint32_t i = r.u32();
            if (i < next || i >= N)
                throw error(errc::corrupt, r.name() + " names counter " + std::to_string(i) +
                                               " of " + std::to_string(N) + " out of order");
            a[i] = r.u64();
            next = std::uint64_t{i} + 1;
        }
    }

    void load_counters() {
        counters_ = std::make_unique<store_counters>();
        const auto p = v_.word(counters_page);
        if (p == pg::no_page) {
            writer w;
            encode(*counters_, w);
            counters_base_ = w.str();
            return;
        }
        const std::string what = "store " + quote(name_) + ": the counters";
        const auto data = read_blob(v_, p, v_.word(counters_pages), what);
        counters_base_.assign(reinterpret_cast<const char*>(data.data()), data.size());
        reader r(data, what);
        auto& c = *counters_;
        for (auto* f :
             {&c.logical_bytes, &c.stored_bytes, &c.frames, &c.compressed_frames, &c.puts,
              &c.erases, &c.records, &c.folded_values, &c.folded_logical, &c.chunk_refs,
              &c.chunk_logical, &c.chunk_stored, &c.pieces, &c.dictionary_stored, &c.payload_bytes})
            *f = r.u64();
        sparse(r, c.class_blocks);
        sparse(r, c.class_bytes);
        sparse(r, c.level_frames);
        const std::uint32_t n = r.u32();
        if (n > r.rest().size() / 52) r.take(r.rest().size() + 1);
        for (std::uint32_t i = 0; i < n; ++i) {
            dictionary_slot d;
            d.id = r.u32();
            d.bytes = r.u64();
            d.ref = r.ref();
            d.records = r.u64();
            c.dictionaries.push_back(d);
        }
        if (!r.rest().empty()) {
            const std::uint32_t q = r.u32();
            if (q > r.rest().size() / 66) r.take(r.rest().size() + 1);
            for (std::uint32_t i = 0; i < q; ++i) {
                quarantine_slot s;
                s.id = r.u64();
                s.kind = r.u8();
                const auto kept = r.u8();
                if (s.kind > 2 || kept > 1)
                    throw error(errc::corrupt, what + ": quarantine entry " + std::to_string(i) +
                                                   " has an unknown kind");
                s.kept = kept == 1;
                s.ref = r.ref();
                s.when_ns = r.u64();
                for (auto* text : {&s.name, &s.reason}) {
                    const auto bytes = r.take(r.u32());
                    text->assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
                }
                c.quarantine.push_back(std::move(s));
            }
        }
        r.done();
    }

    static constexpr pg::page_id no_ceiling = std::numeric_limits<pg::page_id>::max();

    Store* store_;
    std::string name_;
    pg::page_id ceiling_ = no_ceiling;  // compaction (relocate)
    std::optional<read_txn> read_;
    // On the heap, the writer's state and the counters: a reader, which needs neither, is a
    // small allocation (every get makes one).
    std::unique_ptr<write_holder> write_;
    view<Store> v_;
    std::unique_ptr<store_counters> counters_;
    std::string counters_base_;
    // Records of several runs, read (a vector of buffers: its moves keep each buffer's bytes,
    // and an empty one allocates nothing, unlike a deque, for the reads that need none).
    mutable std::vector<std::vector<std::byte>> gathered_;
};

}  // namespace tables
}  // namespace detail
}  // namespace v1
}  // namespace mmry
