#pragma once
// basic_store's batches, out of line: write(batch) encodes every put before the lock (on several
// threads when the batch is large), then applies the puts and erases in order inside one write
// transaction, through the same apply() and erase_in_txn() as single puts and erases, and commits
// once.
// mmry/store.hpp includes this header after the class (and it includes mmry/store.hpp, so it
// also compiles on its own).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <mmry/store.hpp>

namespace mmry {
inline namespace v1 {

// A put of a batch, encoded: its record, and (folded) its plan.
template <class Traits>
struct detail::store_engine<Traits>::prepared_put {
    bytes record;
    std::unique_ptr<fold_plan> plan;
};

template <class Traits>
void detail::store_engine<Traits>::prepare_put(std::string_view key, byte_view value,
                                               const put_options& o, std::int64_t modified_ns,
                                               prepared_put& out) {
    if constexpr (folding) {
        if (value.size() >= fold_type::min_size) {
            out.plan = std::make_unique<fold_plan>();
            if (prepare_folded(key, value, o, modified_ns, *out.plan, out.record)) return;
            out.plan.reset();
            out.record.clear();
        }
    }
    const auto dict = current_dictionary();
    s_->codec.encode(key, value, next_seq(), modified_ns, o, s_->opts.content_hash, out.record,
                     {dict.get(), {}, {}});
}

template <class Traits>
template <class Encode>
void detail::store_engine<Traits>::encode_each(std::size_t n, std::uint64_t value_bytes,
                                               Encode&& encode) {
    const unsigned threads =
        value_bytes < (1u << 20) ? 1u : std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
    std::vector<std::exception_ptr> failed(threads);
    auto share = [&](unsigned t) {
        try {
            for (std::size_t i = t; i < n; i += threads) encode(i);
        } catch (...) {
            failed[t] = std::current_exception();
        }
    };
    {
        std::vector<std::jthread> pool;
        for (unsigned t = 1; t < threads; ++t) pool.emplace_back(share, t);
        share(0);
    }  // joins
    for (const auto& f : failed)
        if (f) std::rethrow_exception(f);
}

template <class Traits>
std::vector<version> basic_store<Traits>::write(const batch& b) {
    const auto& ops = b.operations();
    for (std::size_t i = 0; i < ops.size(); ++i) {
        try {
            if (ops[i].what == batch::kind::put)
                check_put(ops[i].key, ops[i].value, ops[i].options);
            else
                check_key(ops[i].key);
        } catch (const error& e) {
            throw error(e.code_value(),
                        "operation " + std::to_string(i) + " of the batch: " + e.detail());
        }
    }

    std::vector<prepared_put> encoded(ops.size());
    std::uint64_t total = 0;
    for (const auto& op : ops) total += op.value.size();
    encode_each(ops.size(), total, [&](std::size_t i) {
        if (ops[i].what == batch::kind::put)
            prepare_put(ops[i].key, ops[i].value, ops[i].options, this->now_ns(), encoded[i]);
    });

    std::vector<version> out(ops.size());
    std::size_t at = 0;
    try {
        auto w = s_->write();
        detail::fault_point("commit.locked");
        for (; at < ops.size(); ++at) {
            const auto& op = ops[at];
            if (op.what == batch::kind::put) {
                out[at] = version{apply(op.key, encoded[at].record, origin::put,
                                        encoded[at].plan.get(), condition::of(op.options))};
            } else {
                std::optional<mmry::metadata> removed;
                if (erase_in_txn(op.key, 0, removed) && removed) out[at] = removed->version;
            }
            detail::fault_point("batch.applied");
        }
        w.commit();
    } catch (const error& e) {
        if (at < ops.size() && e.code_value() == errc::limit_exceeded)
            limit_reached(ops[at].key, encoded[at].record.size());
        throw;
    }
    for (const auto& op : ops) s_->cache.erase(op.key);
    if (auto alert = usage_crossing()) s_->opts.on_usage(*alert);
    return out;
}

}  // namespace v1
}  // namespace mmry
