#pragma once
// basic_store's trained dictionaries, out of line: training one on stored values, storing it as
// a record, loading it once per process, and recompressing records and chunks with the current
// one.
// mmry/store.hpp includes this header after the class (and it includes mmry/store.hpp, so it
// also compiles on its own).

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <mmry/store.hpp>

namespace mmry {
inline namespace v1 {

template <class Traits>
std::uint32_t basic_store<Traits>::train_dictionary(
    std::span<const std::string> keys,
    std::size_t capacity) requires detail::store_state<Traits>::codec_type::takes_dictionaries {
    std::vector<bytes> samples;
    std::size_t total = 0;
    for (const auto& k : keys) {
        if (total >= max_sample_bytes(capacity)) break;
        if (auto v = get(k)) {
            total += v->size();
            samples.push_back(std::move(*v));
        }
    }
    return store_dictionary(samples, capacity);
}

template <class Traits>
std::uint32_t basic_store<Traits>::train_dictionary(
    const std::function<bool(const entry&)>& pred,
    std::size_t capacity) requires detail::store_state<Traits>::codec_type::takes_dictionaries {
    std::vector<std::string> keys;
    std::size_t total = 0;
    for (const auto& e : list())
        if (total < max_sample_bytes(capacity) && pred(e)) {
            total += e.meta.logical_size;
            keys.push_back(e.key);
        }
    return train_dictionary(keys, capacity);
}

template <class Traits>
const compress::dictionary* detail::store_engine<Traits>::dictionary_for(
    const format::record_view& v) const {
    if (v.header().dictionary == 0) return nullptr;
    return load_dictionary(v.header().dictionary).get();
}

template <class Traits>
typename detail::store_engine<Traits>::dictionary_ptr detail::store_engine<Traits>::load_dictionary(
    std::uint32_t id) const {
    {
        std::lock_guard guard(s_->dictionaries_mutex);
        if (auto it = s_->dictionaries.find(id); it != s_->dictionaries.end()) return it->second;
    }
    const detail::dictionary_slot* slot = nullptr;
    for (const auto& d : s_->root().counters().dictionaries)
        if (d.id == id) slot = &d;
    if (!slot)
        throw error(errc::corrupt, "a record names dictionary " + std::to_string(id) +
                                       ", which the store does not have");
    const auto key = detail::dictionary_key(id);
    const auto v = s_->codec.open(s_->root().bytes(slot->ref), key);
    if (v.header().dictionary != 0 || v.header().folded)
        throw error(errc::corrupt, "dictionary " + std::to_string(id) + " has a malformed record");
    const bytes content = decode_whole(v, nullptr);
    auto loaded = std::make_shared<const compress::dictionary>(content, id);
    std::lock_guard guard(s_->dictionaries_mutex);
    return s_->dictionaries.emplace(id, std::move(loaded)).first->second;
}

template <class Traits>
typename detail::store_engine<Traits>::dictionary_ptr
detail::store_engine<Traits>::current_dictionary() const {
    if constexpr (!codec_type::takes_dictionaries) {
        return nullptr;
    } else {
        const auto id =
            static_cast<std::uint32_t>(s_->pages->peek_word(detail::tables::dictionary_word));
        if (id == 0) return nullptr;
        {
            std::lock_guard guard(s_->dictionaries_mutex);
            if (auto it = s_->dictionaries.find(id); it != s_->dictionaries.end())
                return it->second;
        }
        auto lock = s_->read();
        return load_dictionary(id);
    }
}

template <class Traits>
std::uint32_t detail::store_engine<Traits>::store_dictionary(const std::vector<bytes>& samples,
                                                             std::size_t capacity) {
    std::vector<std::span<const std::byte>> spans(samples.begin(), samples.end());
    const bytes content = compress::train_dictionary(spans, capacity);
    auto lock = s_->write();
    auto& root = s_->root().counters();
    const std::uint32_t id = root.dictionaries.empty() ? 1 : root.dictionaries.back().id + 1;
    auto loaded = std::make_shared<const compress::dictionary>(content, id);
    const auto key = detail::dictionary_key(id);
    bytes record;
    s_->codec.encode(key, content, next_seq(), now_ns(),
                     put_options{"application/zstd-dictionary", {}, {}}, false, record);
    const auto v = format::record_view::parse(record, key, cipher_type::tag_size);
    s_->codec.stamp(record, v, 1, 0, {}, v.header().modified_ns);
    adopt_dictionary(id, record, v, content.size(), true);
    lock.commit();
    {
        std::lock_guard guard(s_->dictionaries_mutex);
        s_->dictionaries.emplace(id, std::move(loaded));
    }
    return id;
}

template <class Traits>
void detail::store_engine<Traits>::adopt_dictionary(std::uint32_t id, byte_view record,
                                                    const format::record_view& v,
                                                    std::uint64_t size, bool current) {
    auto& c = s_->root().counters();
    record_ref ref = s_->root().place(record);
    ref.logical_size = size;
    bind(ref, v);
    c.dictionaries.push_back({id, size, ref, 0});
    c.dictionary_stored += record.size();
    if (current) s_->root().txn().set_word(detail::tables::dictionary_word, id);
}

template <class Traits>
void detail::store_engine<Traits>::import_dictionary(std::uint32_t id, byte_view record,
                                                     bool current) {
    const auto key = detail::dictionary_key(id);
    const auto v = s_->codec.open(record, key);
    s_->codec.check_meta(v);
    if (v.header().dictionary != 0 || v.header().folded)
        throw error(errc::corrupt, "dictionary " + std::to_string(id) + " has a malformed record");
    const bytes content = decode_whole(v, nullptr);
    compress::dictionary check(content, id);  // throws for bytes zstd does not take
    see_seq(v.header().seq);
    auto lock = s_->write();
    for (const auto& d : s_->root().counters().dictionaries)
        if (d.id == id)
            throw error(errc::already_exists, "store " + detail::quote(s_->name) +
                                                  " has a dictionary " + std::to_string(id) +
                                                  " already");
    adopt_dictionary(id, record, v, content.size(), current);
    lock.commit();
}

template <class Traits>
std::size_t basic_store<Traits>::recompress() {
    const auto want =
        static_cast<std::uint32_t>(s_->pages->peek_word(detail::tables::dictionary_word));
    auto dictionary_of = [&](const record_ref& ref) {
        const auto b = s_->root().bytes(ref);
        return b.size() >= format::fixed_head_size
                   ? detail::load_le<std::uint32_t>(b.data() + format::off::dictionary)
                   : want;
    };
    std::vector<std::pair<std::string, record_ref>> records;
    std::vector<format::chunk_reference> chunks;
    {
        auto lock = s_->read();
        if constexpr (!keeps_history) {
            s_->root().index.scan("", "", [&](std::string_view k, const record_ref& ref) {
                if (dictionary_of(ref) != want) records.emplace_back(k, ref);
                return true;
            });
        } else {
            s_->root().heads.scan("", "", [&](std::string_view k, const head_type& h) {
                for (const auto& slot : h.versions)
                    if (dictionary_of(slot.ref) != want) records.emplace_back(k, slot.ref);
                return true;
            });
        }
        s_->root().chunks.scan("", "", [&](std::string_view k, const detail::chunk_slot& c) {
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
bool detail::store_engine<Traits>::recompress_record(std::string_view key, const record_ref& ref) {
    const auto dict = current_dictionary();
    const std::uint32_t want = dict ? dict->id() : 0;
    // The record to rewrite in this transaction, while it is still key's (no writer replaced it
    // meanwhile): with history, `ref` itself; a latest store's record is the key's current one
    // (in its index entry it has no handle beyond a transaction), with the bytes read before.
    auto current = [&](const bytes* read_before) -> std::optional<record_ref> {
        if constexpr (!keeps_history) {
            const record_ref* found = s_->root().index.find(key);
            if (!found) return std::nullopt;
            if (read_before) {
                const auto now = s_->root().bytes(*found);
                if (!std::equal(now.begin(), now.end(), read_before->begin(), read_before->end()))
                    return std::nullopt;
            }
            return *found;
        } else {
            const auto* head = s_->root().heads.find(key);
            if (head && std::any_of(head->versions.begin(), head->versions.end(),
                                    [&](const detail::version_slot& s) { return s.ref == ref; }))
                return ref;
            return std::nullopt;
        }
    };
    bytes old, plain;
    {
        auto lock = s_->read();
        const auto at = current(nullptr);
        if (!at) return false;
        const auto v = open_record(key, *at);
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
        auto lock = s_->write();
        const auto at = current(&old);
        if (!at) return false;
        const record_ref fresh = keeps_history ? place(record, parsed) : place(record, parsed, key);
        if constexpr (!keeps_history) {
            s_->root().index.upsert(key, fresh);
        } else {
            auto* head = s_->root().heads.find(key);
            for (auto& slot : head->versions)
                if (slot.ref == ref) {
                    slot.ref = fresh;
                    for (std::size_t i = 0; i < layouts; ++i) {
                        const auto k = stored_key_of(i, parsed);
                        if (const auto* r = s_->root().index.find(k); r && *r == ref)
                            s_->root().index.upsert(k, fresh);
                    }
                }
        }
        account(fresh, +1);
        tally(parsed, +1);
        free_record(*at, /*release=*/false);
        lock.commit();
    }
    s_->cache.erase(key);
    return true;
}

template <class Traits>
bool detail::store_engine<Traits>::recompress_chunk(const format::chunk_reference& reference) {
    const auto dict = current_dictionary();
    const std::uint32_t want = dict ? dict->id() : 0;
    const auto name = format::chunk_key(reference);
    bytes plain;
    record_ref was;
    format::hash_bytes id;
    {
        auto lock = s_->read();
        const auto* slot = s_->root().chunks.find(name);
        if (!slot) return false;
        id = slot->id;
        const auto v = s_->codec.open(s_->root().bytes(slot->ref), format::chunk_key(id));
        if (v.header().dictionary == want) return false;
        plain.resize(static_cast<std::size_t>(v.header().logical_size));
        s_->codec.decode(v, 0, plain, dictionary_for(v));
        was = slot->ref;
    }
    bytes record;
    encode_chunk(id, plain, dict.get(), record);
    const auto parsed =
        format::record_view::parse(record, format::chunk_key(id), cipher_type::tag_size);
    auto lock = s_->write();
    auto* slot = s_->root().chunks.find(name);
    if (!slot || !(slot->ref == was)) return false;
    const record_ref fresh = place(record, parsed);
    try {
        tally(format::record_view::parse(s_->root().bytes(was), "", cipher_type::tag_size), -1);
    } catch (const error&) {
    }
    slot->ref = fresh;
    s_->root().counters().chunk_stored += fresh.size;
    s_->root().counters().chunk_stored -= was.size;
    tally(parsed, +1);
    s_->root().free(was);
    lock.commit();
    return true;
}

}  // namespace v1
}  // namespace mmry
