// Atomic batches (mmry::batch, basic_store::write): all or nothing, in order, for every path and
// folding policy; a condition or a limit that fails leaves the store exactly as it was; readers
// in other threads and processes see none of a batch or all of it; a writer killed in the middle
// of one leaves none of it.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <mmry/fold/cdc.hpp>
#include <mmry/mmry.hpp>

#include "shared_support.hpp"
#include "support.hpp"

using mmry::errc;
using mmry_test::is_error;
using mmry_test::numbered;

namespace {

using compositions = mmry_test::write_compositions;

std::string value_of(int i, std::size_t size = 3000) {
    std::string v;
    while (v.size() < size) v += numbered("value ", i * 1000 + static_cast<int>(v.size()));
    return v;
}

template <class Store>
auto snapshot(const Store& s) {
    const auto st = s.stats();
    return std::make_tuple(st.puts, st.erases, st.records, st.stored_bytes, st.logical_bytes,
                           st.chunks, st.chunk_refs, s.size());
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("batch: every operation lands, in order, in one commit", "[batch]",
                        compositions) {
    mmry::basic_store<TestType> s;
    s.put("gone", value_of(0));
    s.put("kept", value_of(1));
    mmry::batch b;
    b.put("a", value_of(2))
        .put("b", value_of(3, 30000), {.content_type = "text/plain", .tags = {"t"}})
        .erase("gone")
        .put("a", value_of(4))  // a later operation sees an earlier one
        .erase("absent")
        .put("c", std::string("short"));
    const auto versions = s.write(b);
    REQUIRE(versions.size() == 6);
    CHECK(versions[0] == mmry::version{1});
    CHECK(versions[1] == mmry::version{1});
    CHECK(versions[2] == mmry::version{1});  // the version the erase removed
    CHECK(versions[3] == mmry::version{2});
    CHECK(versions[4] == mmry::version{0});  // nothing to erase
    CHECK(s.template get<std::string>("a") == value_of(4));
    CHECK(s.template get<std::string>("b") == value_of(3, 30000));
    CHECK(s.metadata("b")->content_type == "text/plain");
    CHECK(s.metadata("b")->has_tag("t"));
    CHECK(s.template get<std::string>("c") == "short");
    CHECK_FALSE(s.contains("gone"));
    CHECK(s.template get<std::string>("kept") == value_of(1));
    CHECK(s.size() == 4);
    CHECK(s.stats().puts == 6);
    CHECK(s.stats().erases == 1);
    CHECK(s.verify().ok());
    mmry_test::check_counters(s);
    // An empty batch changes nothing.
    CHECK(s.write(mmry::batch{}).empty());
}

TEMPLATE_LIST_TEST_CASE("batch: a failed condition anywhere leaves the store as it was",
                        "[batch][conflict]", compositions) {
    mmry::basic_store<TestType> s;
    const auto v1 = s.put("k", value_of(1));
    s.put("other", value_of(2));
    const auto before = snapshot(s);
    mmry::batch b;
    b.put("new", value_of(3)).erase("other").put("k", value_of(4), {.if_version = v1});
    b.put("k", value_of(5), {.if_version = v1});  // k is at version 2 by now: a conflict
    CHECK_THROWS_MATCHES(s.write(b), mmry::error, is_error(errc::conflict, "'k' if at version"));
    CHECK(snapshot(s) == before);
    CHECK_FALSE(s.contains("new"));
    CHECK(s.template get<std::string>("other") == value_of(2));
    CHECK(s.template get<std::string>("k") == value_of(1));
    mmry_test::check_counters(s);

    // A bad operation is refused before anything is encoded, naming it.
    mmry::batch bad;
    bad.put("fine", value_of(6)).put("", value_of(7));
    CHECK_THROWS_MATCHES(s.write(bad), mmry::error,
                         is_error(errc::invalid_argument, "operation 1 of the batch"));
    CHECK(snapshot(s) == before);
}

TEST_CASE("batch: a batch past max_size changes nothing", "[batch][limits]") {
    mmry::basic_store<mmry_test::path_traits<mmry::path::latest>> s(
        {.capacity = 256 << 10, .max_size = 256 << 10});
    s.put("a", value_of(1));
    const auto before = snapshot(s);
    mmry::batch b;
    for (int i = 0; i < 40; ++i) b.put(numbered("big/", i), mmry_test::random_bytes(20000, i));
    CHECK_THROWS_MATCHES(s.write(b), mmry::error, is_error(errc::limit_exceeded, "limit of"));
    CHECK(snapshot(s) == before);
    CHECK_FALSE(s.contains("big/0"));
    s.put("b", "fits");
    CHECK(s.size() == 2);
}

TEST_CASE("batch: encoded on several threads when large, byte-exact", "[batch]") {
    mmry::store s;
    mmry::batch b;
    for (int i = 0; i < 64; ++i) b.put(numbered("v/", i), mmry_test::random_bytes(64 << 10, i));
    const auto versions = s.write(b);
    CHECK(versions.size() == 64);
    for (int i = 0; i < 64; ++i)
        CHECK(s.get(numbered("v/", i)) == mmry_test::random_bytes(64 << 10, i));
}

TEST_CASE("batch: readers in other threads see none of a batch or all of it", "[batch]") {
    mmry::store s;
    const int keys = 20;
    mmry::batch first;
    for (int k = 0; k < keys; ++k) first.put(numbered("k/", k), std::string("0"));
    s.write(first);
    std::atomic<bool> stop{false};
    std::atomic<int> torn{0}, reads{0};
    std::thread reader([&] {
        while (!stop) {
            // A listing of fewer keys than a batch reads one state: every key holds the same
            // round (its version).
            std::vector<std::uint64_t> versions;
            for (const auto& e : s.list("k/")) versions.push_back(e.meta.version.number);
            if (versions.size() != keys) ++torn;
            for (const auto v : versions)
                if (v != versions.front()) ++torn;
            ++reads;
        }
    });
    for (int round = 1; round <= 200; ++round) {
        mmry::batch b;
        for (int k = 0; k < keys; ++k) b.put(numbered("k/", k), std::to_string(round));
        s.write(b);
    }
    while (reads < 5) std::this_thread::yield();
    stop = true;
    reader.join();
    CHECK(torn == 0);
}

TEMPLATE_TEST_CASE("batch: a writer killed in the middle of a batch leaves none of it",
                   "[batch][processes][kill]", mmry_test::shm, mmry_test::file) {
    using S = mmry::basic_store<mmry_test::raw_traits<TestType>>;
    mmry_test::place<TestType> at;
    auto s = S::create(at.name(), {.capacity = 1 << 20});
    for (int k = 0; k < 10; ++k) s.put(numbered("k/", k), "before");
    const auto before = snapshot(s);
    const pid_t child = ::fork();
    if (child == 0) {
        auto t = S::open(at.name());
        static int applied = 0;
        mmry::detail::fault_hook = [](std::string_view point) {
            if (point == "batch.applied" && ++applied == 6) ::raise(SIGKILL);
        };
        mmry::batch b;
        for (int k = 0; k < 10; ++k) b.put(numbered("k/", k), "after");
        t.write(b);
        ::_exit(3);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFSIGNALED(status));
    for (int k = 0; k < 10; ++k) CHECK(s.template get<std::string>(numbered("k/", k)) == "before");
    CHECK(snapshot(s) == before);
    CHECK(s.verify().ok());
    // The next batch goes through.
    mmry::batch b;
    for (int k = 0; k < 10; ++k) b.put(numbered("k/", k), "after");
    s.write(b);
    CHECK(s.template get<std::string>(numbered("k/", 9)) == "after");
}
