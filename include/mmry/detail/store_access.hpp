#pragma once
// A test seam into basic_store: direct access to a record's bytes in the store's pages, to inject
// corruption. mmry/store.hpp includes this header after the class (and it includes
// mmry/store.hpp, so it also compiles on its own).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <shared_mutex>
#include <span>
#include <string_view>
#include <vector>

#include <mmry/store.hpp>

namespace mmry {
inline namespace v1 {
namespace detail {

/// A test seam: direct access to a record's bytes in the store's pages, to inject corruption.
struct store_access {
    // Record bytes stay where they are while the store lives unless a write frees them: the
    // tests that damage them write through this, bypassing the copy-on-write rule on purpose.
    static std::span<std::byte> writable(std::span<const std::byte> b) {
        return {const_cast<std::byte*>(b.data()), b.size()};
    }
    template <class Traits>
    static std::span<std::byte> record_bytes(basic_store<Traits>& s, std::string_view key) {
        auto lock = s.s_->read();
        const auto ref = s.locate(key);
        if (!ref) return {};
        if (tables::inline_records::is(*ref)) {
            // A record in its index entry: damage it where the entry's page holds it.
            const auto entry = s.s_->root().index.raw_entry(key);
            if (!entry) return {};
            return writable(entry->last(ref->size));
        }
        return writable(s.s_->root().bytes(*ref));
    }
    /// The bytes of key's index entry as its page holds them (empty when there is none): to
    /// damage the entry itself, past its checksum.
    template <class Traits>
    static std::span<std::byte> index_entry(basic_store<Traits>& s, std::string_view key) {
        auto lock = s.s_->read();
        const auto entry = s.s_->root().index.raw_entry(key);
        return entry ? writable(*entry) : std::span<std::byte>();
    }
    /// The same for the entry of key's head (path policies with history).
    template <class Traits>
    static std::span<std::byte> head_entry(basic_store<Traits>& s, std::string_view key) {
        auto lock = s.s_->read();
        const auto entry = s.s_->root().heads.raw_entry(key);
        return entry ? writable(*entry) : std::span<std::byte>();
    }
    /// The store header in segment 0.
    template <class Traits>
    static std::span<std::byte> header_bytes(basic_store<Traits>& s) {
        return s.s_->pages->header_bytes().first(format::store_header_size);
    }
    /// The record of dictionary `id` (empty when there is none).
    template <class Traits>
    static std::span<std::byte> dictionary_record(basic_store<Traits>& s, std::uint32_t id) {
        auto lock = s.s_->read();
        for (const auto& d : s.s_->root().counters().dictionaries)
            if (d.id == id) return writable(s.s_->root().bytes(d.ref));
        return {};
    }
    /// Changes the chunk table's slot of the chunk with reference `ref` by f, in a write
    /// transaction of its own (and nothing else: counters stay as they were); false when there is
    /// no such chunk. To give a chunk a length its manifest does not name.
    template <class Traits, class F>
    static bool change_chunk_slot(basic_store<Traits>& s, const format::chunk_reference& ref,
                                  F&& f) {
        auto lock = s.s_->write();
        auto* slot = s.s_->root().chunks.find(format::chunk_key(ref));
        if (!slot) return false;
        f(*slot);
        lock.commit();
        return true;
    }
    /// Changes the index entry of `key` by f, in a write transaction of its own, and writes it
    /// back with every check of an index entry made for it: what someone who can write the files
    /// and compute checksums can do (nothing else changes, counters included). False when there
    /// is no such entry. For the path policies that file a key under itself (path::latest).
    template <class Traits, class F>
    static bool change_index_entry(basic_store<Traits>& s, std::string_view key, F&& f) {
        auto lock = s.s_->write();
        const record_ref* found = s.s_->root().index.find(key);
        if (!found) return false;
        record_ref ref = *found;
        f(ref);
        s.s_->root().index.upsert(key, ref);
        lock.commit();
        return true;
    }
    /// Meta word i of the current state (the roots of the tables: tables/encoding.hpp).
    template <class Traits>
    static std::uint64_t meta_word(basic_store<Traits>& s, std::size_t i) {
        return s.s_->pages->peek_word(i);
    }
    /// What each page of the current state holds, for tests that damage a store by region:
    /// table_page for the tables' pages (index, key heads, chunk table, counters), record_page for
    /// records' pages (values, chunks, dictionaries, run lists), 0 for the rest (control area,
    /// free lists, free pages). Indexed by page number; pages past its end are 0.
    static constexpr std::uint8_t table_page = 1, record_page = 2;
    template <class Traits>
    static std::vector<std::uint8_t> page_kinds(basic_store<Traits>& s) {
        auto lock = s.s_->read();
        auto& c = s.s_->root();
        std::vector<std::uint8_t> kinds;
        auto marker = [&kinds](std::uint8_t kind) {
            return [&kinds, kind](std::uint64_t first, std::uint64_t n) {
                if (kinds.size() < first + n) kinds.resize(first + n);
                std::fill_n(kinds.begin() + static_cast<std::ptrdiff_t>(first), n, kind);
            };
        };
        c.mark(marker(table_page));
        auto record = [&, mark = marker(record_page)](const record_ref& r) {
            c.for_each_page_run(r, mark);
        };
        c.index.scan("", "", [&](std::string_view, const record_ref& r) {
            record(r);
            return true;
        });
        if constexpr (basic_store<Traits>::keeps_history)
            c.heads.scan("", "", [&](std::string_view, const auto& h) {
                for (const auto& slot : h.versions) record(slot.ref);
                return true;
            });
        c.chunks.scan("", "", [&](std::string_view, const chunk_slot& slot) {
            record(slot.ref);
            return true;
        });
        for (const auto& d : c.counters().dictionaries) record(d.ref);
        return kinds;
    }
    /// The records of the store's chunks (fold::cdc), in the chunk table's order.
    template <class Traits>
    static std::vector<std::span<std::byte>> chunk_records(basic_store<Traits>& s) {
        auto lock = s.s_->read();
        std::vector<std::span<std::byte>> out;
        s.s_->root().chunks.scan("", "", [&](std::string_view, const chunk_slot& c) {
            out.push_back(writable(s.s_->root().bytes(c.ref)));
            return true;
        });
        return out;
    }
};

}  // namespace detail
}  // namespace v1
}  // namespace mmry
