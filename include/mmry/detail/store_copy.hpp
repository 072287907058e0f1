#pragma once
// basic_store's copy from a store of another composition, out of line: copy_from, and
// mmry::copy (options and report in mmry/copy.hpp). Each kept version of the source is decoded,
// encoded again by this store as written at its modified time, stamped with its number, the
// version it followed and its key's created time, and committed through the one write path
// (apply, as an import: the record keeps the version it carries), a batch of versions per write
// transaction.
// mmry/store.hpp includes this header after the class (and it includes mmry/store.hpp, so it
// also compiles on its own).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <mmry/copy.hpp>
#include <mmry/store.hpp>

namespace mmry {
inline namespace v1 {

namespace detail {

// A version read from the source, waiting for its batch.
struct copied_version {
    std::string key;
    std::uint64_t version = 0;
    std::uint64_t previous = 0;
    std::int64_t created_ns = 0;
    std::int64_t modified_ns = 0;
    bytes value;
    put_options options;
};

inline std::string copied_name(std::string_view key, std::uint64_t version) {
    return "version " + std::to_string(version) + " of key " + quote(key);
}

}  // namespace detail

template <class Traits>
template <class FromTraits>
copy_report basic_store<Traits>::copy_from(const basic_store<FromTraits>& from,
                                           const copy_options& o) {
    if (const std::size_t n = size(); n != 0)
        throw error(errc::invalid_argument, "copy into store " + detail::quote(s_->name) +
                                                ": it holds " + std::to_string(n) +
                                                " keys, and a copy needs an empty store");
    copy_report report;
    std::vector<detail::copied_version> pending;
    std::uint64_t pending_bytes = 0;
    // The version committed last and its chain hash: the next version of the same key that
    // follows it chains from it (one whose predecessor the source no longer keeps starts anew).
    std::string last_key;
    std::uint64_t last_version = 0;
    format::hash_bytes last_chain{};

    auto commit_pending = [&] {
        if (pending.empty()) return;
        std::vector<prepared_put> encoded(pending.size());
        encode_each(pending.size(), pending_bytes, [&](std::size_t i) {
            const auto& p = pending[i];
            prepare_put(p.key, p.value, p.options, p.modified_ns, encoded[i]);
        });
        for (std::size_t i = 0; i < pending.size(); ++i) {
            const auto& p = pending[i];
            auto& record = encoded[i].record;
            const auto parsed = format::record_view::parse(record, p.key, cipher_type::tag_size);
            const bool follows = p.previous != 0 && p.key == last_key && p.previous == last_version;
            s_->codec.stamp(record, parsed, p.version, p.previous,
                            follows ? last_chain : format::hash_bytes{}, p.created_ns);
            last_key = p.key;
            last_version = p.version;
            last_chain = format::record_view::parse(record, p.key, cipher_type::tag_size)
                             .meta()
                             .chain_hash();
        }
        std::size_t at = 0;
        try {
            auto w = s_->write();
            detail::fault_point("commit.locked");
            for (; at < pending.size(); ++at) {
                apply(pending[at].key, encoded[at].record, origin::import, encoded[at].plan.get(),
                      {});
                detail::fault_point("batch.applied");
            }
            w.commit();
        } catch (const error& e) {
            if (at >= pending.size()) throw;
            if (e.code_value() == errc::limit_exceeded)
                limit_reached(pending[at].key, encoded[at].record.size());
            throw error(e.code_value(),
                        "copy of " + detail::copied_name(pending[at].key, pending[at].version) +
                            ": " + e.detail());
        }
        for (const auto& p : pending) {
            s_->cache.erase(p.key);
            report.logical_bytes += p.value.size();
        }
        report.versions += pending.size();
        ++report.batches;
        pending.clear();
        pending_bytes = 0;
        if (auto alert = usage_crossing()) s_->opts.on_usage(*alert);
        if (o.progress) o.progress(report);
    };

    // Reads version m of `key` from the source into the pending batch (false: it was skipped,
    // or is gone since it was listed).
    auto take = [&](const std::string& key, const mmry::metadata& m) {
        std::optional<bytes> value;
        try {
            value = from.get(key, m.version);
        } catch (const error& e) {
            if (!o.skip_damaged)
                throw error(e.code_value(), "copy of " +
                                                detail::copied_name(key, m.version.number) +
                                                ": the source cannot read it: " + e.detail());
            report.skipped.push_back({key, m.version, e.what()});
            return false;
        }
        if (!value) return false;  // erased or pruned in the source since it was listed
        detail::copied_version p{key,
                                 m.version.number,
                                 m.previous_version.number,
                                 to_ns(m.created),
                                 to_ns(m.modified),
                                 std::move(*value),
                                 {m.content_type, m.tags, m.attributes, {}, false}};
        check_put(p.key, p.value, p.options);
        pending_bytes += p.value.size();
        pending.push_back(std::move(p));
        if (pending_bytes >= o.batch_bytes) commit_pending();
        return true;
    };

    for (const auto& e : from.list(o.prefix)) {
        std::vector<mmry::metadata> versions;
        try {
            for (const auto& h : from.history(e.key)) versions.push_back(h.meta);
        } catch (const error& x) {
            if (!o.skip_damaged)
                throw error(x.code_value(),
                            "copy of key " + detail::quote(e.key) +
                                ": the source cannot list its versions: " + x.detail());
            report.skipped.push_back({e.key, mmry::version{}, x.what()});
            continue;
        }
        if constexpr (!keeps_history) {
            // The current version alone (the newest the source keeps).
            if (versions.size() > 1) {
                report.versions_left += versions.size() - 1;
                versions.erase(versions.begin(), versions.end() - 1);
            }
        }
        bool any = false;
        for (const auto& m : versions) any = take(e.key, m) || any;
        report.keys += any;
    }
    commit_pending();
    return report;
}

/// Copies every key of `from` into `to`, an empty store of any arena and composition, keeping
/// each version's number, times and metadata: `to.copy_from(from, o)` (see basic_store and
/// mmry/copy.hpp). For example, a heap store into a mapped file:
///
///     struct on_disk : mmry::default_traits { using arena = mmry::arena::mapped_file; };
///     auto disk = mmry::basic_store<on_disk>::create("/data/s", {});
///     const auto report = mmry::copy(memory, disk);
template <class FromTraits, class ToTraits>
copy_report copy(const basic_store<FromTraits>& from, basic_store<ToTraits>& to,
                 const copy_options& o = {}) {
    return to.copy_from(from, o);
}

}  // namespace v1
}  // namespace mmry
