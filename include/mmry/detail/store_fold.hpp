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
    fold_plan plan;
    plan.value = value;
    const auto& ids = s_->codec.chunk_hasher();
    s_->chunker->for_each_chunk(value, [&](std::size_t at, std::size_t length) {
        plan.offsets.push_back(at);
        plan.ids.push_back(ids.hash(value.subspan(at, length)));
        plan.chunks.push_back(
            {format::reference_of(plan.ids.back()), static_cast<std::uint32_t>(length)});
    });
    const auto dict = current_dictionary();
    // Encode, before the write lock, the chunks the store lacks now. Another writer may add or
    // free some before this one commits: acquire_chunks settles that under the lock.
    std::vector<std::size_t> missing;
    {
        std::shared_lock lock(s_->lock);
        for (std::size_t i = 0; i < plan.chunks.size(); ++i) {
            const auto* slot = s_->root->chunks.find(format::chunk_key(plan.chunks[i].ref));
            if (!slot)
                missing.push_back(i);
            else if (slot->id != plan.ids[i])
                return put_whole(key, value, o);  // another chunk has its reference
        }
    }
    for (const std::size_t i : missing) {
        const auto& c = plan.chunks[i];
        if (plan.encoded.contains(c.ref)) continue;
        auto& [id, record] = plan.encoded[c.ref];
        id = plan.ids[i];
        encode_chunk(id, value.subspan(plan.offsets[i], c.length), dict.get(), record);
    }
    std::optional<format::hash_bytes> content;
    if (s_->opts.content_hash) content = s_->codec.hasher().hash(value);
    bytes record;
    s_->codec.encode(key, format::write_manifest(plan.chunks), next_seq(), now_ns(), o,
                     s_->opts.content_hash, record, {dict.get(), value.size(), content});
    return commit(key, record, origin::put, &plan);
}

template <class Traits>
void basic_store<Traits>::encode_chunk(const format::hash_bytes& id, byte_view data,
                                       const compress::dictionary* dict, bytes& out) {
    const auto key = format::chunk_key(id);
    s_->codec.encode(key, data, next_seq(), now_ns(), put_options{}, false, out, {dict, {}, {}});
    const auto v = format::record_view::parse(out, key, cipher_type::tag_size);
    s_->codec.stamp(out, v, 1, 0, {}, v.header().modified_ns);
}

template <class Traits>
void basic_store<Traits>::acquire_chunks(fold_plan& plan) {
    auto& root = *s_->root;
    auto name = [](const format::chunk_reference& r) {
        return detail::hex(std::span<const std::byte>(r).first(8));
    };
    update_scope update(s_->lock);
    try {
        for (; plan.acquired < plan.chunks.size(); ++plan.acquired) {
            const auto& c = plan.chunks[plan.acquired];
            const auto key = format::chunk_key(c.ref);
            auto it = plan.encoded.find(c.ref);
            if (auto* slot = root.chunks.find(key)) {
                const format::hash_bytes* id = !plan.ids.empty()          ? &plan.ids[plan.acquired]
                                               : it != plan.encoded.end() ? &it->second.first
                                                                          : nullptr;
                if (id && *id != slot->id)
                    throw error(errc::invalid_argument,
                                "chunk reference " + name(c.ref) +
                                    " was taken by another chunk while this put ran: put again");
                ++slot->refs;
                ++root.chunk_refs;
                continue;
            }
            if (it == plan.encoded.end()) {
                // Freed since this writer looked: encode it now (rare).
                if (plan.ids.empty())
                    throw error(errc::corrupt, "chunk " + name(c.ref) +
                                                   " is neither in the bundle nor in the store");
                it = plan.encoded.try_emplace(c.ref).first;
                it->second.first = plan.ids[plan.acquired];
                encode_chunk(it->second.first,
                             plan.value.subspan(plan.offsets[plan.acquired], c.length), nullptr,
                             it->second.second);
            }
            const auto& [id, record] = it->second;
            const auto v =
                format::record_view::parse(record, format::chunk_key(id), cipher_type::tag_size);
            if (v.header().folded || v.header().logical_size != c.length)
                throw error(errc::corrupt, "chunk " + name(c.ref) + " holds " +
                                               std::to_string(v.header().logical_size) +
                                               " bytes, its manifest entry " +
                                               std::to_string(c.length));
            const record_ref ref = place(record, v);
            try {
                root.chunks.upsert(key, detail::chunk_slot{ref, 1, id});
            } catch (...) {
                s_->arena->deallocate(ref.where, ref.size);
                throw;
            }
            ++root.chunk_refs;
            root.chunk_logical += ref.logical_size;
            root.chunk_stored += ref.size;
            tally(v, +1);
        }
    } catch (const boost::interprocess::bad_alloc&) {
        const auto at = std::min(plan.acquired, plan.chunks.size() - 1);
        undo_chunks(plan);
        index_full("chunk " + name(plan.chunks[at].ref));
    } catch (...) {
        undo_chunks(plan);
        throw;
    }
}

template <class Traits>
void basic_store<Traits>::undo_chunks(fold_plan& plan) noexcept {
    for (std::size_t i = plan.acquired; i-- > 0;) {
        auto* slot = s_->root->chunks.find(format::chunk_key(plan.chunks[i].ref));
        if (!slot) continue;
        --s_->root->chunk_refs;
        if (--slot->refs == 0) free_chunk(plan.chunks[i].ref, *slot);
    }
    plan.acquired = 0;
}

template <class Traits>
void basic_store<Traits>::release_chunks(const std::vector<format::chunk_ref>& chunks) {
    for (const auto& c : chunks) {
        auto* slot = s_->root->chunks.find(format::chunk_key(c.ref));
        if (!slot) continue;  // a damaged store: nothing to release
        --s_->root->chunk_refs;
        if (--slot->refs == 0) free_chunk(c.ref, *slot);
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
    const auto chunks = manifest_of(v);
    thread_local bytes whole;
    std::uint64_t at = 0;
    std::size_t written = 0;
    for (const auto& c : chunks) {
        const std::uint64_t end = at + c.length;
        if (end > offset) {
            if (written == out.size()) break;
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
        }
        at = end;
    }
}

template <class Traits>
void basic_store<Traits>::decode_chunk(std::string_view key, const format::chunk_ref& c,
                                       std::span<std::byte> out) const {
    const auto* slot = s_->root->chunks.find(format::chunk_key(c.ref));
    auto fail = [&](const std::string& why) {
        throw error(errc::corrupt, "key " + detail::quote(key) + ": chunk " +
                                       detail::hex(std::span<const std::byte>(c.ref).first(8)) +
                                       " " + why);
    };
    if (!slot) fail("of its manifest is not in the store");
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
std::vector<format::chunk_ref> basic_store<Traits>::manifest_of(
    const format::record_view& v) const {
    bytes m(static_cast<std::size_t>(v.header().logical_size));
    s_->codec.decode(v, 0, m, dictionary_for(v));
    return format::manifest_view::parse(m, v.value_size(), v.key()).chunks();
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
    std::vector<std::span<const std::byte>> records{v.bytes()};
    std::set<format::chunk_reference> seen;
    for (const auto& c : manifest_of(v)) {
        if (!seen.insert(c.ref).second) continue;
        const auto* slot = s_->root->chunks.find(format::chunk_key(c.ref));
        if (!slot)
            throw error(errc::corrupt, "key " + detail::quote(v.key()) + ": chunk " +
                                           detail::hex(std::span<const std::byte>(c.ref).first(8)) +
                                           " of its manifest is not in the store");
        records.push_back(s_->arena->bytes(slot->ref.where, slot->ref.size));
    }
    return format::write_bundle(records);
}

template <class Traits>
void basic_store<Traits>::import_bundle(byte_view bundle) {
    const auto records = format::parse_bundle(bundle);
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
    fold_plan plan;
    {
        std::shared_lock lock(s_->lock);
        plan.chunks = manifest_of(v);
        std::set<format::chunk_reference> named;
        for (const auto& c : plan.chunks) named.insert(c.ref);
        for (std::size_t i = 1; i < records.size(); ++i) {
            const auto p = format::record_view::parse(records[i], {}, cipher_type::tag_size);
            format::hash_bytes id{};
            if (p.key().size() != id.size()) fail(i, "is not a chunk");
            std::memcpy(id.data(), p.key().data(), id.size());
            const auto ref = format::reference_of(id);
            if (!named.contains(ref)) fail(i, "is a chunk its manifest does not name");
            const auto cv = s_->codec.open(records[i], p.key());
            bytes data(static_cast<std::size_t>(cv.header().logical_size));
            s_->codec.decode(cv, 0, data, dictionary_for(cv));
            if (cv.header().folded || s_->codec.chunk_hasher().hash(data) != id)
                fail(i, "does not hold the content its id names");
            see_seq(cv.header().seq);
            plan.encoded.try_emplace(ref, id, bytes(records[i].begin(), records[i].end()));
        }
    }
    see_seq(v.header().seq);
    bytes copy(records[0].begin(), records[0].end());
    commit(key, copy, origin::import, &plan);
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
    bytes content(static_cast<std::size_t>(v.header().logical_size));
    s_->codec.decode(v, 0, content);
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
    auto add = [sign](std::uint64_t& field, std::uint64_t n) {
        if (sign > 0)
            field += n;
        else
            field -= n;
    };
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
    std::optional<std::uint64_t> folded;
    if (was.header().folded) folded = was.value_size();
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
