// The write path's conditions: put_options::if_absent and if_version, checked under the write lock
// against the store as it is then. A put whose condition fails throws errc::conflict, naming the
// key and both versions, and changes nothing: not the value, not the counters, not the chunks.

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <mmry/fold/cdc.hpp>
#include <mmry/mmry.hpp>

#include "support.hpp"

using mmry::errc;
using mmry_test::is_error;
using mmry_test::numbered;

namespace {

using compositions = mmry_test::write_compositions;

/// Big enough to fold under fold::cdc<> (at least 1 KiB): the conditions are checked before any
/// chunk is counted.
std::string value_of(int i) {
    std::string v;
    while (v.size() < 20000) v += numbered("value ", i * 1000 + static_cast<int>(v.size()));
    return v;
}

template <class Store>
auto snapshot(const Store& s) {
    const auto st = s.stats();
    return std::make_tuple(st.puts, st.records, st.stored_bytes, st.logical_bytes, st.chunks,
                           st.chunk_refs, s.size());
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("write: if_absent puts only a key that has no version", "[write][conflict]",
                        compositions) {
    mmry::basic_store<TestType> s;
    CHECK(s.put("k", value_of(1), {.if_absent = true}) == mmry::version{1});
    const auto before = snapshot(s);
    CHECK_THROWS_MATCHES(s.put("k", value_of(2), {.if_absent = true}), mmry::error,
                         is_error(errc::conflict, "'k' if absent: the key has version 1"));
    CHECK(s.template get<std::string>("k") == value_of(1));
    CHECK(snapshot(s) == before);
    mmry_test::check_counters(s);

    // Erased, the key is absent again.
    s.erase("k");
    CHECK(s.put("k", value_of(3), {.if_absent = true}) >= mmry::version{1});
    CHECK(s.template get<std::string>("k") == value_of(3));
}

TEMPLATE_LIST_TEST_CASE("write: if_version puts only over the version the caller read",
                        "[write][conflict]", compositions) {
    mmry::basic_store<TestType> s;
    const auto v1 = s.put("k", value_of(1));
    const auto v2 = s.put("k", value_of(2), {.if_version = v1});  // the version put returned
    CHECK(v2 == mmry::version{v1.number + 1});
    CHECK(s.template get<std::string>("k") == value_of(2));

    const auto before = snapshot(s);
    CHECK_THROWS_MATCHES(
        s.put("k", value_of(3), {.if_version = v1}), mmry::error,
        is_error(errc::conflict, "if at version " + std::to_string(v1.number) +
                                     ": the key has version " + std::to_string(v2.number)));
    CHECK_THROWS_MATCHES(s.put("absent", value_of(3), {.if_version = mmry::version{1}}),
                         mmry::error, is_error(errc::conflict, "the key has no version"));
    CHECK(s.template get<std::string>("k") == value_of(2));
    CHECK_FALSE(s.contains("absent"));
    CHECK(snapshot(s) == before);
    mmry_test::check_counters(s);
}

TEST_CASE("write: a condition that names nothing is refused as an invalid argument", "[write]") {
    mmry::store s;
    CHECK_THROWS_MATCHES(s.put("k", "v", {.if_version = mmry::version{0}}), mmry::error,
                         is_error(errc::invalid_argument, "if_version 0"));
    CHECK_THROWS_MATCHES(s.put("k", "v", {.if_version = mmry::version{1}, .if_absent = true}),
                         mmry::error, is_error(errc::invalid_argument, "both"));
    CHECK_FALSE(s.contains("k"));
}

TEST_CASE("write: threads incrementing one counter with if_version lose no increment",
          "[write][conflict][threads]") {
    mmry::store s;
    s.put("counter", std::uint64_t{0});
    constexpr int threads = 4, increments = 200;
    std::atomic<int> conflicts{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&] {
            for (int done = 0; done < increments;) {
                const auto v = s.metadata("counter")->version;
                const auto n = s.get<std::uint64_t>("counter");
                // Another thread may have written between the two reads: the put then conflicts,
                // as it must whenever the value read is not the current one.
                try {
                    s.put("counter", *n + 1, {.if_version = v});  // metadata's version as it is
                    ++done;
                } catch (const mmry::error& e) {
                    if (e.code() != errc::conflict) throw;
                    ++conflicts;
                }
            }
        });
    for (auto& t : pool) t.join();
    CHECK(s.get<std::uint64_t>("counter") == std::uint64_t{threads * increments});
    INFO("conflicts: " << conflicts.load());
    CHECK(s.metadata("counter")->version == mmry::version{threads * increments + 1});
}
