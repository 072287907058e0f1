#pragma once
// mmry::batch: puts and erases that basic_store::write() commits all or nothing, in one
// transaction: readers in every process see none of them or all of them, and a writer killed in
// the middle leaves none of them.
//
// A batch owns copies of its keys and values, so the caller's buffers may go once it is built.
// Operations apply in order: a later one sees what an earlier one did (a put, then an erase of
// the same key, leaves the key absent). Each put keeps its put_options, conditions included
// (if_version, if_absent), checked when the batch commits against the store as it is then.
// Thread-safety: none of its own; build a batch on one thread (or guard it), then write it.

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <mmry/bytes.hpp>
#include <mmry/codec/value.hpp>
#include <mmry/put_options.hpp>

namespace mmry {
inline namespace v1 {

class batch {
  public:
    enum class kind : unsigned char { put, erase };

    /// One operation: a put of `value` with `options`, or an erase of `key`.
    struct operation {
        kind what = kind::put;
        std::string key;
        bytes value;
        put_options options;
    };

    batch& put(std::string_view key, byte_view value, put_options o = {}) {
        ops_.push_back(
            {kind::put, std::string(key), bytes(value.begin(), value.end()), std::move(o)});
        return *this;
    }
    batch& put(std::string_view key, std::string_view value, put_options o = {}) {
        return put(key, as_bytes(value), std::move(o));
    }
    template <byte_range R>
    batch& put(std::string_view key, const R& value, put_options o = {}) {
        return put(key, as_byte_view(value), std::move(o));
    }
    /// Removes `key` with every version it has (nothing when it is absent: not an error).
    batch& erase(std::string_view key) {
        ops_.push_back({kind::erase, std::string(key), {}, {}});
        return *this;
    }

    std::size_t size() const noexcept { return ops_.size(); }
    bool empty() const noexcept { return ops_.empty(); }
    void clear() noexcept { ops_.clear(); }
    const std::vector<operation>& operations() const noexcept { return ops_; }

  private:
    std::vector<operation> ops_;
};

}  // namespace v1
}  // namespace mmry
