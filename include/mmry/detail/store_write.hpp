#pragma once
// basic_store's write path, out of line: put, the one commit every put and import goes through
// (placing the record, filing it in the index or under its key's head, checking a put's
// condition), and the counters a commit keeps (records, frames, size classes, usage alerts).
// mmry/store.hpp includes this header after the class (and it includes mmry/store.hpp, so it
// also compiles on its own).

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <boost/interprocess/exceptions.hpp>

#include <mmry/store.hpp>

namespace mmry {
inline namespace v1 {

template <class Traits>
version basic_store<Traits>::put(std::string_view key, byte_view value, const put_options& o) {
    check_key(key);
    if (value.size() > format::max_logical_size)
        throw error(errc::invalid_argument, "value of " + std::to_string(value.size()) +
                                                " bytes for key " + detail::quote(key) +
                                                " exceeds the limit of 2^48 bytes");
    if (value.size() / s_->header.frame_size >= (std::uint64_t{1} << 32) - 1)
        throw error(errc::invalid_argument, "value of " + std::to_string(value.size()) +
                                                " bytes for key " + detail::quote(key) +
                                                " would need more than 2^32 frames of " +
                                                std::to_string(s_->header.frame_size) + " bytes");
    format::check_put_options(o, key, sealed);
    if constexpr (folding)
        if (value.size() >= fold_type::min_size) return version{put_folded(key, value, o)};
    return version{put_whole(key, value, o)};
}

template <class Traits>
std::uint64_t basic_store<Traits>::put_whole(std::string_view key, byte_view value,
                                             const put_options& o) {
    thread_local bytes record;
    const auto dict = current_dictionary();
    s_->codec.encode(key, value, next_seq(), now_ns(), o, s_->opts.content_hash, record,
                     {dict.get(), {}, {}});
    return commit(key, record, origin::put, nullptr, condition::of(o));
}

template <class Traits>
void basic_store<Traits>::account(const record_ref& ref, int sign) {
    auto& r = *s_->root;
    auto add = [sign](std::uint64_t& field, std::uint64_t n) { adjust(field, n, sign); };
    add(r.stored_bytes, ref.size);
    add(r.logical_bytes, ref.logical_size);
    add(r.frames, ref.frames);
    add(r.compressed_frames, ref.compressed_frames);
    add(r.records, 1);
    const auto k = std::min<std::size_t>(std::bit_width(ref.size), detail::size_classes - 1);
    add(r.class_blocks[k], 1);
    add(r.class_bytes[k], ref.size);
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

template <class Traits>
void basic_store<Traits>::free_record(const record_ref& ref, bool release) {
    account(ref, -1);
    try {
        const auto v = format::record_view::parse(s_->arena->bytes(ref.where, ref.size), "",
                                                  cipher_type::tag_size);
        tally(v, -1);
        if constexpr (folding)
            if (release && v.header().folded) release_chunks(manifest_of(v).entries);
    } catch (const std::exception&) {
        // A damaged record (or no memory to read its manifest): its chunks stay counted, never
        // freed while a reference to them might remain. Freeing the record itself cannot fail.
    }
    s_->arena->deallocate(ref.where, ref.size);
}

template <class Traits>
typename basic_store<Traits>::predecessor basic_store<Traits>::predecessor_of(
    const record_ref& ref) const {
    try {
        const auto v = format::record_view::parse(s_->arena->bytes(ref.where, ref.size), "",
                                                  cipher_type::tag_size);
        s_->codec.check_meta(v);
        return {v.meta().version(), v.meta().chain_hash(), v.header().created_ns, true};
    } catch (const error&) {
        return {};
    }
}

template <class Traits>
void basic_store<Traits>::index_full(std::string_view key) const {
    throw error(errc::limit_exceeded,
                "store " + detail::quote(s_->name) +
                    ": segment 0 has no room left for the index entry of key " +
                    detail::quote(key) + " (the index of " +
                    std::to_string(s_->root->index.size()) +
                    " stored keys lives in segment 0, which has the capacity the store was "
                    "created with): erase keys, or create the store with a larger capacity");
}

template <class Traits>
void basic_store<Traits>::reserve_index() noexcept {
    if constexpr (requires(arena_type & a) { a.reserve_root(std::uint64_t{}); }) {
        std::uint64_t bytes = 0;
        const auto add = [&](const auto& map) {
            if constexpr (requires { map.growth_bytes(); }) bytes += map.growth_bytes();
        };
        add(s_->root->index);
        add(s_->root->heads);
        add(s_->root->chunks);
        // A sixteenth more, for the allocator's headers and free pieces smaller than a page.
        s_->arena->reserve_root(bytes + bytes / 16);
    }
}

template <class Traits>
record_ref basic_store<Traits>::place(const bytes& record, const format::record_view& parsed) {
    const handle where = s_->arena->allocate(record.size());
    detail::fault_point("commit.allocated");
    std::memcpy(s_->arena->bytes(where, record.size()).data(), record.data(), record.size());
    return ref_of(where, record, parsed);
}

template <class Traits>
record_ref basic_store<Traits>::place_unlinked(const bytes& record,
                                               const format::record_view& parsed) {
    // A new segment, when one is needed, is made before the update (see make_room).
    if constexpr (requires(arena_type & a) { a.make_room(std::size_t{}); })
        s_->arena->make_room(record.size());
    handle where;
    {
        update_scope update(s_->lock);
        where = s_->arena->allocate(record.size());
        s_->root->pending_where = where;
        s_->root->pending_size = record.size();
        s_->root->pending_check = s_->root->pending_check_of(where, record.size());
        detail::fault_point("commit.allocated");
    }
    // No index entry, head or counter names the block yet, only pending_where: a writer killed
    // while copying changes nothing but that, and the next writer frees the block (see
    // free_pending), so the copy, the longest step of a put, runs outside the update.
    detail::fault_point("commit.copying");
    std::memcpy(s_->arena->bytes(where, record.size()).data(), record.data(), record.size());
    return ref_of(where, record, parsed);
}

template <class Traits>
void basic_store<Traits>::free_pending() {
    auto& root = *s_->root;
    if (root.pending_size == 0) return;
    update_scope update(s_->lock);
    // Checked, as every field of a segment: a damaged one must not free a live record's block
    // (it leaks instead, and verify() reports it).
    if (root.pending_check == root.pending_check_of(root.pending_where, root.pending_size))
        s_->arena->deallocate(root.pending_where, root.pending_size);
    root.pending_size = 0;
}

template <class Traits>
record_ref basic_store<Traits>::ref_of(handle where, const bytes& record,
                                       const format::record_view& parsed) {
    record_ref ref{where, record.size(), parsed.value_size(), parsed.header().frame_count, 0};
    for (std::uint32_t i = 0; i < parsed.header().frame_count; ++i)
        if (parsed.entry(i).codec != 0) ++ref.compressed_frames;
    return ref;
}

template <class Traits>
std::optional<std::uint64_t> basic_store<Traits>::current_version(std::string_view key) const {
    if constexpr (!keeps_history) {
        const record_ref* ref = s_->root->index.find(key);
        if (!ref) return std::nullopt;
        return predecessor_of(*ref).version;
    } else {
        const auto* head = s_->root->heads.find(key);
        const auto* slot = head ? latest_slot(*head) : nullptr;
        return slot ? std::optional(slot->version) : std::nullopt;
    }
}

template <class Traits>
void basic_store<Traits>::check_condition(std::string_view key, const condition& when) const {
    if (!when.absent && !when.version) return;
    const auto current = current_version(key);
    const std::string has =
        current ? "has version " + std::to_string(*current) : std::string("has no version");
    if (when.absent && current)
        throw error(errc::conflict,
                    "put of key " + detail::quote(key) + " if absent: the key " + has);
    if (when.version && current != when.version)
        throw error(errc::conflict, "put of key " + detail::quote(key) + " if at version " +
                                        std::to_string(*when.version) + ": the key " + has);
}

template <class Traits>
std::uint64_t basic_store<Traits>::commit(std::string_view key, bytes& record, origin from,
                                          fold_plan* plan, const condition& when) {
    const auto parsed = format::record_view::parse(record, key, cipher_type::tag_size);
    std::optional<usage_alert> alert;
    {
        std::unique_lock lock(s_->lock);
        detail::fault_point("commit.locked");
        free_pending();
        check_condition(key, when);
        if (plan) acquire_chunks(*plan);
        try {
            if constexpr (!keeps_history)
                commit_latest(key, record, parsed, from);
            else
                commit_history(key, record, parsed, from);
        } catch (...) {
            if (plan) {
                update_scope update(s_->lock);
                undo_chunks(*plan);
            }
            throw;
        }
        ++s_->root->puts;
        reserve_index();
        alert = usage_crossing();
    }
    if (alert && s_->opts.on_usage) s_->opts.on_usage(*alert);
    return parsed.meta().version();
}

template <class Traits>
void basic_store<Traits>::commit_latest(std::string_view key, bytes& record,
                                        const format::record_view& parsed, origin from) {
    const record_ref* found = s_->root->index.find(key);
    const bool replacing = found != nullptr;
    const record_ref old = replacing ? *found : record_ref{};
    if (from == origin::put) {
        const predecessor p = replacing ? predecessor_of(old) : predecessor{};
        s_->codec.stamp(record, parsed, p.version + 1, p.version, p.chain,
                        p.found ? p.created_ns : parsed.header().modified_ns);
    }
    const record_ref ref = place_unlinked(record, parsed);
    update_scope update(s_->lock);
    s_->root->pending_size = 0;  // from here on, the block is linked or freed in this update
    try {
        s_->root->index.upsert(key, ref);
    } catch (const boost::interprocess::bad_alloc&) {
        s_->arena->deallocate(ref.where, ref.size);
        index_full(key);
    } catch (...) {
        s_->arena->deallocate(ref.where, ref.size);
        throw;
    }
    detail::fault_point("commit.indexed");
    if (replacing) free_record(old);
    account(ref, +1);
    tally(parsed, +1);
}

template <class Traits>
void basic_store<Traits>::commit_history(std::string_view key, bytes& record,
                                         const format::record_view& parsed, origin from) {
    auto& root = *s_->root;
    head_type* head = root.heads.find(key);
    const bool new_head = head == nullptr;
    const detail::version_slot* last =
        head && !head->versions.empty() ? &head->versions.back() : nullptr;
    if (from == origin::put) {
        const predecessor p = last ? predecessor_of(last->ref) : predecessor{};
        s_->codec.stamp(record, parsed, head ? head->next_version : 1, last ? last->version : 0,
                        p.chain, last ? head->created_ns : parsed.header().modified_ns);
    }
    const std::uint64_t version = parsed.meta().version();
    std::array<std::string, layouts> keys;
    for (std::size_t i = 0; i < layouts; ++i) keys[i] = stored_key_of(i, parsed);
    for (const auto& k : keys) check_stored_key(key, k);

    const record_ref ref = place_unlinked(record, parsed);
    update_scope update(s_->lock);
    root.pending_size = 0;  // from here on, the block is linked or freed in this update
    auto undo_head = [&] {
        if (new_head) root.heads.erase(key);
    };
    try {
        head = &root.heads.emplace(key, s_->arena->root_allocator());
        head->versions.reserve(head->versions.size() + 1);
    } catch (...) {
        undo_head();
        s_->arena->deallocate(ref.where, ref.size);
        try {
            throw;
        } catch (const boost::interprocess::bad_alloc&) {
            index_full(key);
        }
    }
    std::array<std::optional<record_ref>, layouts> replaced;
    std::size_t filed = 0;
    try {
        for (; filed < layouts; ++filed) replaced[filed] = root.index.upsert(keys[filed], ref);
    } catch (...) {
        // Undoing never allocates: it rewrites or erases entries that exist.
        for (std::size_t i = 0; i < filed; ++i)
            if (replaced[i])
                root.index.upsert(keys[i], *replaced[i]);
            else
                root.index.erase(keys[i]);
        s_->arena->deallocate(ref.where, ref.size);
        undo_head();
        try {
            throw;
        } catch (const boost::interprocess::bad_alloc&) {
            index_full(key);
        }
    }
    detail::fault_point("commit.indexed");
    // An imported record replaces the version of the same number, and the stored keys that
    // referred to that version's record now refer to the new one.
    handle gone{};
    if (auto same = head->at(version); same != head->versions.end()) {
        gone = same->ref.where;
        remove_slot(key, *head, same);
    }
    auto pos = std::upper_bound(
        head->versions.begin(), head->versions.end(), version,
        [](std::uint64_t v, const detail::version_slot& s) { return v < s.version; });
    if (head->versions.empty()) head->created_ns = parsed.header().created_ns;
    head->versions.insert(pos, {version, parsed.header().modified_ns, ref, all_layouts});
    head->next_version = std::max(head->next_version, version + 1);
    account(ref, +1);
    tally(parsed, +1);
    for (std::size_t i = 0; i < layouts; ++i)
        if (replaced[i] && !(replaced[i]->where == gone && gone != handle{}))
            release(*replaced[i], i);
    if constexpr (requires { path_type::keep_last; }) {
        if constexpr (path_type::keep_last > 0) {
            retention r;
            r.keep_last = path_type::keep_last;
            root.erases += prune_head(key, *head, r);
        }
    }
}

template <class Traits>
void basic_store<Traits>::check_stored_key(std::string_view key, std::string_view stored_key) {
    if (stored_key.empty() || stored_key.size() > format::max_key_size)
        throw error(errc::invalid_argument,
                    "the path policy made a stored key of " + std::to_string(stored_key.size()) +
                        " bytes for key " + detail::quote(key) + " (1 to " +
                        std::to_string(format::max_key_size) + " bytes allowed)");
}

template <class Traits>
std::optional<usage_alert> basic_store<Traits>::usage_crossing() {
    if (!s_->opts.on_usage) return std::nullopt;
    const auto a = s_->arena->stats();
    const std::uint64_t limit = a.limit_bytes;  // the store's own, for shared stores too
    if (limit == 0) return std::nullopt;
    const std::uint64_t used = a.reserved_bytes - a.free_bytes;
    unsigned level = 0;
    for (unsigned t : {75u, 85u, 95u})
        if (used * 100 >= limit * t) level = t;
    const unsigned before = std::exchange(s_->alerted, level);
    if (level <= before) return std::nullopt;
    return usage_alert{level, used, limit};
}

}  // namespace v1
}  // namespace mmry
