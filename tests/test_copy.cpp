// mmry::copy / basic_store::copy_from: a store into another arena and composition, keeping what
// a user sees of every version; refusals and failures that leave the target whole.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <mmry/arena/mapped_file.hpp>
#include <mmry/arena/shared_memory.hpp>
#include <mmry/cipher/aes256_gcm.hpp>
#include <mmry/fold/cdc.hpp>
#include <mmry/path/versioned.hpp>

#include "history_support.hpp"
#include "shared_support.hpp"
#include "support.hpp"

using namespace mmry_test;
using mmry::errc;
using mmry::version;

TEST_CASE("copy: a heap store into an encrypted, folded mapped file keeps every version",
          "[copy]") {
    stepping_clock c;
    mmry::basic_store<history_heap> from({.clock = c.fn()});
    fill(from);
    const auto key3 = seen(from, numbered("doc/", 3));
    REQUIRE(key3.size() == 2);
    REQUIRE(key3.front().previous == 2);  // follows a pruned version

    place<file> at;
    auto to =
        mmry::basic_store<history_file>::create(at.name(), options_for<history_file>(1 << 20));
    std::vector<std::uint64_t> progress;
    const auto report =
        mmry::copy(from, to, {.batch_bytes = 64 << 10, .progress = [&](const mmry::copy_report& r) {
                                  progress.push_back(r.versions);
                              }});
    std::uint64_t versions = 0, logical = 0;
    for (const auto& e : from.list())
        for (const auto& h : from.history(e.key)) {
            ++versions;
            logical += h.meta.logical_size;
        }
    CHECK(report.keys == 12);
    CHECK(report.versions == versions);
    CHECK(report.logical_bytes == logical);
    CHECK(report.versions_left == 0);
    CHECK(report.skipped.empty());
    CHECK(report.batches == progress.size());
    CHECK(report.batches > 2);  // 200 KiB values: each a batch of its own
    CHECK(std::is_sorted(progress.begin(), progress.end()));
    CHECK(progress.back() == versions);

    CHECK(sorted_keys(to.list()) == sorted_keys(from.list()));
    for (const auto& e : from.list()) {
        INFO(e.key);
        CHECK(seen(to, e.key) == seen(from, e.key));
        // Re-encoded by the target: its cipher, its sequence numbers, a chain of its own.
        const auto m = to.metadata(e.key);
        REQUIRE(m);
        CHECK(m->encrypted);
        CHECK(m->hash_kind == mmry::hash_kind::hmac_sha256);
    }
    check_counters(to);

    // The copy goes on where the source would: the next put follows the copied current version.
    const auto key = numbered("doc/", 3);
    const auto v = to.put(key, to_bytes("after the copy"));
    CHECK(v == version{5});
    CHECK(to.metadata(key)->previous_version == version{4});
    CHECK(to.metadata(key)->created == key3.front().created);
}

TEST_CASE("copy: into a store that keeps no history, each key's current version", "[copy]") {
    stepping_clock c;
    mmry::basic_store<history_heap> from({.clock = c.fn()});
    fill(from);
    place<shm> at;
    auto to = mmry::basic_store<latest_shm>::create(at.name(), options_for<latest_shm>(1 << 20));
    const auto report = to.copy_from(from);
    std::uint64_t older = 0;
    for (const auto& e : from.list()) {
        INFO(e.key);
        const auto all = seen(from, e.key);
        older += all.size() - 1;
        CHECK(seen(to, e.key) == std::vector<seen_version>{all.back()});
    }
    CHECK(report.versions == 12);
    CHECK(report.versions_left == older);
    check_counters(to);

    // And back into a history store (here, the same composition as the first source): the
    // numbers, times and metadata survive the round trip.
    mmry::basic_store<history_heap> back;
    mmry::copy(to, back);
    for (const auto& e : to.list()) CHECK(seen(back, e.key) == seen(to, e.key));
    check_counters(back);
}

TEST_CASE("copy: only the keys under a prefix", "[copy]") {
    mmry::basic_store<history_heap> from;
    fill(from);
    from.put("other", to_bytes("x"));
    mmry::store to;
    const auto report = mmry::copy(from, to, {.prefix = "doc/1"});
    CHECK(sorted_keys(to.list()) == std::vector<std::string>{"doc/1", "doc/10", "doc/11"});
    CHECK(report.keys == 3);
}

TEST_CASE("copy: a target that holds a key is refused and left as it was", "[copy]") {
    mmry::basic_store<history_heap> from;
    fill(from);
    mmry::store to;
    to.put("mine", to_bytes("kept"));
    CHECK_THROWS_MATCHES(mmry::copy(from, to), mmry::error,
                         is_error(errc::invalid_argument, "holds 1 keys"));
    CHECK(keys_of(to.list()) == std::vector<std::string>{"mine"});
    check_counters(to);
}

TEST_CASE("copy: a version the source cannot read stops the copy, or is skipped when asked",
          "[copy]") {
    using raw = path_traits<mmry::path::latest>;
    // No cache: the source must decode the damaged record, not answer from a copy it kept.
    mmry::basic_store<raw> from({.cache_bytes = 0});
    for (int i = 0; i < 20; ++i) from.put(numbered("k/", i), random_bytes(3000, std::uint64_t(i)));
    const auto bad = numbered("k/", 7);
    auto record = mmry::detail::store_access::record_bytes(from, bad);
    REQUIRE(!record.empty());
    record[record.size() - 1] ^= std::byte{0x20};  // inside the last frame

    SECTION("stopped, naming the version; whole batches before it stay") {
        mmry::store to;
        CHECK_THROWS_MATCHES(mmry::copy(from, to, {.batch_bytes = 1}), mmry::error,
                             is_error(errc::corrupt, "copy of version 1 of key 'k/7'"));
        // One key a batch: those the source lists before the damaged one.
        const auto listed = keys_of(from.list());
        const auto before = std::find(listed.begin(), listed.end(), bad);
        std::vector<std::string> expected(listed.begin(), before);
        std::sort(expected.begin(), expected.end());
        CHECK(sorted_keys(to.list()) == expected);
        const auto copied = keys_of(to.list());
        for (const auto& k : copied) CHECK(to.get(k) == from.get(k));
        check_counters(to);
    }
    SECTION("skipped and reported") {
        mmry::store to;
        const auto report = mmry::copy(from, to, {.skip_damaged = true});
        REQUIRE(report.skipped.size() == 1);
        CHECK(report.skipped[0].key == bad);
        CHECK(report.skipped[0].version == version{1});
        CHECK(report.skipped[0].error.find("'k/7'") != std::string::npos);
        CHECK(report.keys == 19);
        CHECK(!to.contains(bad));
        for (const auto& e : to.list()) CHECK(to.get(e.key) == from.get(e.key));
        check_counters(to);
    }
}

TEST_CASE("copy: a copy past the target's limit stops with limit_exceeded, batches whole",
          "[copy]") {
    mmry::store from;
    for (int i = 0; i < 200; ++i)
        from.put(numbered("v/", i), random_bytes(20 << 10, std::uint64_t(i)));
    place<shm> at;
    auto to = mmry::basic_store<latest_shm>::create(at.name(),
                                                    {.capacity = 1 << 20, .max_size = 2 << 20});
    std::optional<mmry::error> refusal;
    try {
        mmry::copy(from, to, {.batch_bytes = 100 << 10});
    } catch (const mmry::error& e) {
        refusal = e;
    }
    REQUIRE(refusal);
    CHECK(refusal->code() == errc::limit_exceeded);
    REQUIRE(refusal->limit());
    CHECK(refusal->limit()->limit == 2u << 20);
    // Whole batches of five values: a multiple of five keys, each one whole.
    const auto copied = keys_of(to.list());
    CHECK(!copied.empty());
    CHECK(copied.size() % 5 == 0);
    for (const auto& k : copied) CHECK(to.get(k) == from.get(k));
    check_counters(to);
}
