// The write path's conditions: put_options::if_absent and if_version, checked under the write lock
// against the store as it is then. A put whose condition fails throws errc::conflict, naming the
// key and both versions, and changes nothing: not the value, not the counters, not the chunks.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
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

// ---- large records: copied into their pages outside the writer lock -----------------------------

namespace {

// The fault hook of the test below: the thread that sets `parked_here` stops at commit.copied
// (its record copied in, no lock held) until `go` is set, or 20 s pass.
std::atomic<bool> go{false};
std::atomic<bool> parked{false};
thread_local bool parked_here = false;
void park(std::string_view point) {
    if (!parked_here || point != "commit.copied") return;
    parked = true;
    for (int i = 0; i < 2000 && !go; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

using plain_compositions = std::tuple<mmry_test::path_traits<mmry::path::latest>,
                                      mmry_test::path_traits<mmry::path::versioned>>;

}  // namespace

TEMPLATE_LIST_TEST_CASE(
    "write: a large value is copied in with no lock held: other writers go on "
    "(threads)",
    "[write][threads]", plain_compositions) {
    // In one run, or (segments of 1 MiB) in four.
    const std::size_t segment = GENERATE(std::size_t{64} << 20, std::size_t{1} << 20);
    mmry::basic_store<TestType> s({.capacity = segment, .cache_bytes = 0});
    const auto big = mmry_test::random_bytes(3 << 20, 5);  // stored raw: it does not compress
    go = false;
    parked = false;
    mmry::detail::fault_hook = &park;
    std::thread large([&] {
        parked_here = true;
        s.put("large", big);
    });
    while (!parked) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    // The large put has its pages and its bytes in them, and waits: another writer commits.
    s.put("small", std::string("goes first"));
    CHECK(s.template get<std::string>("small") == "goes first");
    CHECK_FALSE(s.contains("large"));  // nobody indexes its pages yet
    CHECK(s.verify().ok());            // and nobody counts them lost: they are staged
    go = true;
    large.join();
    mmry::detail::fault_hook = nullptr;
    CHECK(s.get("large") == big);
    CHECK(s.stats().staged_reclaimed == 0);
    mmry_test::check_counters(s);
}

namespace {
std::atomic<int> copied{0};
void count_copies(std::string_view point) {
    if (point == "commit.copied") ++copied;
}
}  // namespace

TEST_CASE("write: a value of more runs than one put may stage is copied in under the lock") {
    mmry::store s({.capacity = 64 << 10});  // 64 KiB segments: 1 MiB takes 17 runs
    const auto big = mmry_test::random_bytes(1 << 20, 8);
    const auto medium = mmry_test::random_bytes(300 << 10, 9);  // 5 runs: staged
    copied = 0;
    mmry::detail::fault_hook = &count_copies;
    s.put("big", big);
    CHECK(copied == 0);
    s.put("medium", medium);
    CHECK(copied == 1);
    mmry::detail::fault_hook = nullptr;
    CHECK(s.get("big") == big);
    CHECK(s.get("medium") == medium);
    CHECK(s.verify().ok());
    mmry_test::check_counters(s);
}

TEMPLATE_LIST_TEST_CASE("write: a large put refused after its copy leaves the store as it was",
                        "[write][conflict]", plain_compositions) {
    // In one run, or (segments of 256 KiB) in five.
    const std::size_t segment = GENERATE(std::size_t{64} << 20, std::size_t{256} << 10);
    mmry::basic_store<TestType> s({.capacity = segment});
    const auto big = mmry_test::random_bytes(1 << 20, 6);
    s.put("large", big);
    const auto before = snapshot(s);
    CHECK_THROWS_MATCHES(s.put("large", mmry_test::random_bytes(1 << 20, 7), {.if_absent = true}),
                         mmry::error, is_error(errc::conflict));
    CHECK(snapshot(s) == before);
    CHECK(s.get("large") == big);
    const auto report = s.verify();
    for (const auto& p : report.problems) UNSCOPED_INFO(p);
    CHECK(report.ok());  // the staged run was freed: no page lost, none staged
    mmry_test::check_counters(s);
}
