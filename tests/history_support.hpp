#pragma once
// Stores with history for tests that move them (copy, backup): a clock the test moves, what a
// user sees of every version of a key, and a fill of keys with several versions and metadata.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <mmry/fold/cdc.hpp>
#include <mmry/path/versioned.hpp>

#include "shared_support.hpp"
#include "support.hpp"

namespace mmry_test {

using clock_type = std::chrono::system_clock;

/// Heap, every version kept, zstd, no cipher: the source of most tests.
using history_heap = path_traits<mmry::path::versioned>;
/// Mapped file, every version kept, folded, zstd-3 + AES-GCM under its own key.
using history_file = folded_history_traits<file>;
/// Shared memory, the current version only, raw values.
using latest_shm = raw_traits<shm>;

/// A clock the test moves: each put is stamped one second after the one before.
struct stepping_clock {
    std::shared_ptr<clock_type::time_point> now =
        std::make_shared<clock_type::time_point>(clock_type::time_point{} + std::chrono::hours(1));
    std::function<clock_type::time_point()> fn() const {
        return [now = now] { return *now += std::chrono::seconds(1); };
    }
};

/// What a user sees of a version, value included.
struct seen_version {
    std::uint64_t version, previous;
    clock_type::time_point created, modified;
    std::string content_type;
    std::vector<std::string> tags;
    std::vector<std::pair<std::string, std::string>> attributes;
    mmry::bytes value;
    bool operator==(const seen_version&) const = default;
};

template <class Store>
std::vector<seen_version> seen(const Store& s, const std::string& key) {
    std::vector<seen_version> out;
    for (const auto& h : s.history(key)) {
        const auto& m = h.meta;
        out.push_back({m.version.number, m.previous_version.number, m.created, m.modified,
                       m.content_type, m.tags, m.attributes,
                       s.get(key, m.version).value_or(mmry::bytes{})});
    }
    return out;
}

/// The keys of a listing, sorted (a hashed index lists in an order of its own).
template <class Range>
std::vector<std::string> sorted_keys(Range&& r) {
    auto keys = keys_of(r);
    std::sort(keys.begin(), keys.end());
    return keys;
}

/// Fills a history store: 12 keys of 1 to 4 versions (small, and 200 KiB of several frames),
/// with content types, tags and attributes; key 3's first two versions pruned, so its oldest
/// kept version follows one the store no longer has.
template <class Store>
void fill(Store& s) {
    for (int i = 0; i < 12; ++i) {
        const auto key = numbered("doc/", i);
        for (int v = 0; v <= i % 4; ++v) {
            const auto value = i % 5 == 0 ? random_bytes(200 << 10, std::uint64_t(i * 10 + v))
                                          : to_bytes(key + " version " + std::to_string(v));
            s.put(key, value,
                  {.content_type = v % 2 ? "text/plain" : "",
                   .tags = {"t" + std::to_string(i % 3)},
                   .attributes = {{"n", std::to_string(i)}, {"v", std::to_string(v)}}});
        }
    }
    CHECK(s.prune(numbered("doc/", 3), {.keep_last = 2}) == 2);
}

}  // namespace mmry_test
