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

#include <mmry/store.hpp>

namespace mmry {
inline namespace v1 {

template <class Traits>
version basic_store<Traits>::put(std::string_view key, byte_view value, const put_options& o) {
    check_put(key, value, o);
    if constexpr (folding)
        if (value.size() >= fold_type::min_size) return version{put_folded(key, value, o)};
    return version{put_whole(key, value, o)};
}

template <class Traits>
void detail::store_engine<Traits>::check_put(std::string_view key, byte_view value,
                                             const put_options& o) const {
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
}

template <class Traits>
std::uint64_t detail::store_engine<Traits>::put_whole(std::string_view key, byte_view value,
                                                      const put_options& o) {
    thread_local bytes record;
    const auto dict = current_dictionary();
    s_->codec.encode(key, value, next_seq(), now_ns(), o, s_->opts.content_hash, record,
                     {dict.get(), {}, {}});
    return commit(key, record, origin::put, nullptr, condition::of(o));
}

template <class Traits>
void detail::store_engine<Traits>::account(const record_ref& ref, int sign) {
    auto& r = s_->root().counters();
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
void detail::store_engine<Traits>::tally(const format::record_view& v, int sign) {
    auto& r = s_->root().counters();
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
void detail::store_engine<Traits>::free_record(const record_ref& ref, bool release) {
    account(ref, -1);
    try {
        const auto v = format::record_view::parse(s_->root().bytes(ref), "", cipher_type::tag_size);
        tally(v, -1);
        if constexpr (folding)
            if (release && v.header().folded) release_chunks(manifest_of(v).entries);
    } catch (const std::exception&) {
        // A damaged record (or no memory to read its manifest): its chunks stay counted, never
        // freed while a reference to them might remain. Freeing the record itself cannot fail.
    }
    s_->root().free(ref);
}

template <class Traits>
typename detail::store_engine<Traits>::predecessor detail::store_engine<Traits>::predecessor_of(
    const record_ref& ref) const {
    try {
        const auto v = format::record_view::parse(s_->root().bytes(ref), "", cipher_type::tag_size);
        s_->codec.check_meta(v);
        return {v.meta().version(), v.meta().chain_hash(), v.header().created_ns, true};
    } catch (const error&) {
        return {};
    }
}

template <class Traits>
record_ref detail::store_engine<Traits>::place(const bytes& record,
                                               const format::record_view& parsed,
                                               std::string_view inline_key,
                                               std::span<const pages::page_id> staged) {
    record_ref ref = !staged.empty()
                         ? s_->root().adopt(staged, record, parsed.header().payload_offset())
                     : inline_key.empty() ? s_->root().place(record)
                                          : s_->root().place_small(record, inline_key);
    detail::fault_point("commit.placed");
    ref.logical_size = parsed.value_size();
    ref.frames = parsed.header().frame_count;
    for (std::uint32_t i = 0; i < parsed.header().frame_count; ++i)
        if (parsed.entry(i).codec != 0) ++ref.compressed_frames;
    bind(ref, parsed);
    return ref;
}

template <class Traits>
std::optional<std::uint64_t> detail::store_engine<Traits>::current_version(
    std::string_view key) const {
    if constexpr (!keeps_history) {
        const record_ref* ref = s_->root().index.find(key);
        if (!ref) return std::nullopt;
        return predecessor_of(*ref).version;
    } else {
        const auto* head = s_->root().heads.find(key);
        const auto* slot = head ? latest_slot(*head) : nullptr;
        return slot ? std::optional(slot->version) : std::nullopt;
    }
}

template <class Traits>
void detail::store_engine<Traits>::check_condition(std::string_view key,
                                                   const condition& when) const {
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
std::uint64_t detail::store_engine<Traits>::commit(std::string_view key, bytes& record, origin from,
                                                   fold_plan* plan, const condition& when) {
    std::uint64_t version = 0;
    std::vector<pages::page_id> staged;
    try {
        staged = stage_record(record);
        auto w = s_->write();
        detail::fault_point("commit.locked");
        version = apply(key, record, from, plan, when, staged);
        w.commit();
    } catch (const error& e) {
        release_staged(staged);
        if (e.code_value() == errc::limit_exceeded) limit_reached(key, record.size());
        throw;
    } catch (...) {
        release_staged(staged);
        throw;
    }
    if (auto alert = usage_crossing()) s_->opts.on_usage(*alert);
    return version;
}

template <class Traits>
std::vector<detail::pages::page_id> detail::store_engine<Traits>::stage_record(
    const bytes& record) {
    const std::uint64_t run = s_->pages->segment_pages() * pages::page_size;
    const std::uint64_t runs = (record.size() + run - 1) / run;
    if (record.size() < stage_threshold || runs > max_staged_runs) return {};
    std::vector<pages::page_id> firsts;
    {
        auto w = s_->write();
        for (std::uint64_t at = 0; at < record.size(); at += run) {
            const auto first =
                s_->root().txn().stage(tables::record_pages(std::min(run, record.size() - at)));
            if (first == pages::no_page) return {};  // nothing committed: nothing staged
            firsts.push_back(first);
        }
        // Not waiting for durability: the commit that adopts the runs waits for both.
        w.commit(false);
    }
    detail::fault_point("commit.staged");
    try {
        for (std::size_t i = 0; i < firsts.size(); ++i) {
            const auto part = std::span<const std::byte>(record).subspan(
                i * run, std::min(run, record.size() - i * run));
            tables::fill_run(s_->pages->staged_bytes(firsts[i], tables::record_pages(part.size())),
                             part);
        }
    } catch (...) {
        release_staged(firsts);
        throw;
    }
    detail::fault_point("commit.copied");
    return firsts;
}

template <class Traits>
void detail::store_engine<Traits>::release_staged(std::span<const pages::page_id> runs) noexcept {
    if (runs.empty()) return;
    try {
        auto w = s_->write();
        for (const auto first : runs) s_->root().txn().release(first);
        w.commit(false);
    } catch (...) {
        // The runs stay staged, owned by this process: the first writer after it is gone frees
        // them.
    }
}

template <class Traits>
std::uint64_t detail::store_engine<Traits>::apply(std::string_view key, bytes& record, origin from,
                                                  fold_plan* plan, const condition& when,
                                                  std::span<const pages::page_id> staged) {
    const auto parsed = format::record_view::parse(record, key, cipher_type::tag_size);
    check_condition(key, when);
    if (plan) acquire_chunks(*plan);
    if constexpr (!keeps_history)
        commit_latest(key, record, parsed, from, staged);
    else
        commit_history(key, record, parsed, from, staged);
    ++s_->root().counters().puts;
    return parsed.meta().version();
}

template <class Traits>
void detail::store_engine<Traits>::commit_latest(std::string_view key, bytes& record,
                                                 const format::record_view& parsed, origin from,
                                                 std::span<const pages::page_id> staged) {
    auto& root = s_->root();
    const record_ref* found = root.index.find(key);
    const bool replacing = found != nullptr;
    const record_ref old = replacing ? *found : record_ref{};
    if (from == origin::put) {
        const predecessor p = replacing ? predecessor_of(old) : predecessor{};
        s_->codec.stamp(record, parsed, p.version + 1, p.version, p.chain,
                        p.found ? p.created_ns : parsed.header().modified_ns);
    }
    // A record small enough lives in its index entry (path::latest files it under one key).
    const record_ref ref = place(record, parsed, staged.empty() ? key : "", staged);
    root.index.upsert(key, ref);
    detail::fault_point("commit.indexed");
    if (replacing) free_record(old);
    account(ref, +1);
    tally(parsed, +1);
}

template <class Traits>
void detail::store_engine<Traits>::commit_history(std::string_view key, bytes& record,
                                                  const format::record_view& parsed, origin from,
                                                  std::span<const pages::page_id> staged) {
    auto& root = s_->root();
    head_type* head = root.heads.find(key);
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

    const record_ref ref = place(record, parsed, {}, staged);
    head = &root.heads.emplace(key);
    std::array<std::optional<record_ref>, layouts> replaced;
    for (std::size_t i = 0; i < layouts; ++i) replaced[i] = root.index.upsert(keys[i], ref);
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
            root.counters().erases += prune_head(key, *head, r);
        }
    }
}

template <class Traits>
void detail::store_engine<Traits>::check_stored_key(std::string_view key,
                                                    std::string_view stored_key) {
    if (stored_key.empty() || stored_key.size() > format::max_key_size)
        throw error(errc::invalid_argument,
                    "the path policy made a stored key of " + std::to_string(stored_key.size()) +
                        " bytes for key " + detail::quote(key) + " (1 to " +
                        std::to_string(format::max_key_size) + " bytes allowed)");
}

template <class Traits>
void detail::store_engine<Traits>::limit_reached(std::string_view key, std::uint64_t bytes) const {
    const auto a = s_->usage();
    const std::uint64_t limit = s_->pages->max_pages() * detail::pages::page_size;
    const limit_details numbers{bytes, a.reserved_bytes - a.free_bytes, limit};
    throw error(errc::limit_exceeded,
                "store " + detail::quote(s_->name) + ": the put of key " + detail::quote(key) +
                    " needs a block of " + std::to_string(bytes) +
                    " bytes (and its tables' pages)" + ", and the store has " +
                    std::to_string(a.reserved_bytes) + " bytes, " +
                    std::to_string(a.reserved_bytes - a.free_bytes) + " in use, of its limit of " +
                    std::to_string(limit) +
                    " bytes: erase keys, or create the store with a larger max_size",
                numbers);
}

template <class Traits>
std::optional<usage_alert> detail::store_engine<Traits>::usage_crossing() {
    if (!s_->opts.on_usage) return std::nullopt;
    const auto a = s_->usage();
    const std::uint64_t limit = a.limit_bytes;
    if (limit == 0) return std::nullopt;
    const std::uint64_t used = a.reserved_bytes - a.free_bytes;
    unsigned level = 0;
    for (unsigned t : {75u, 85u, 95u})
        if (used * 100 >= limit * t) level = t;
    const unsigned before = s_->alerted.exchange(level);
    if (level <= before) return std::nullopt;
    return usage_alert{level, used, limit};
}

}  // namespace v1
}  // namespace mmry
