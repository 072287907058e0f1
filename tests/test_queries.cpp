// Queries as lazy views: list(prefix), range(from, to), with_tag(), where() and stored() over
// versioned, temporal and latest stores, with every index policy, alone and composed with range-v3.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <ranges>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <range/v3/range/conversion.hpp>
#include <range/v3/view/filter.hpp>
#include <range/v3/view/take.hpp>
#include <range/v3/view/transform.hpp>

#include "support.hpp"

using mmry::version;
namespace path = mmry::path;

using mmry_test::keys_of;
using mmry_test::padded;

namespace {

template <class Index, class Path>
struct traits : mmry::default_traits {
    using index = Index;
    using path = Path;
};

template <class Index, class Path>
mmry::basic_store<traits<Index, Path>> make(mmry::options opts = {}) {
    return mmry_test::make_store<traits<Index, Path>>(std::move(opts));
}

/// A clock the test sets by hand.
struct manual_clock {
    std::shared_ptr<std::chrono::system_clock::time_point> now =
        std::make_shared<std::chrono::system_clock::time_point>(std::chrono::seconds(1'000'000));
    std::chrono::system_clock::time_point operator()() const { return *now; }
    void set(std::chrono::system_clock::time_point t) const { *now = t; }
};

std::chrono::system_clock::time_point utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0) {
    using namespace std::chrono;
    return sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi};
}

using strings = std::vector<std::string>;

bool sorted_unique(const strings& v) {
    return std::is_sorted(v.begin(), v.end()) && std::adjacent_find(v.begin(), v.end()) == v.end();
}

/// The same keys in stores of every index and path: k0000..k0029 (value: i+1 bytes), each with
/// the tags "numbered" and "even" or "odd", the attributes index (i) and owner (ann or bob), plus
/// keys around them.
template <class Store>
void fill(Store& s) {
    for (int i = 29; i >= 0; --i)
        s.put(padded("k", i), std::string(static_cast<std::size_t>(i) + 1, 'x'),
              {.tags = {"numbered", i % 2 ? "odd" : "even"},
               .attributes = {{"index", std::to_string(i)}, {"owner", i % 3 ? "bob" : "ann"}}});
    for (const char* k : {"a", "j", "k", "k00", "l", "kz"}) s.put(k, k);
}

}  // namespace

// ---- list
// ----------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("queries: list of a versioned store yields each key once with its latest",
                   "[queries][list]", mmry::index::hashed, mmry::index::ordered) {
    auto s = make<TestType, path::versioned>();
    for (int n = 1; n <= 3; ++n)
        s.put("user/a", "a" + std::string(static_cast<std::size_t>(n), '!'));
    for (int n = 1; n <= 2; ++n)
        s.put("user/b", "b" + std::string(static_cast<std::size_t>(n), '!'));
    s.put("user/c", "c");
    s.put("admin/x", "x");
    s.put("admin/x", "xx");
    s.put("user", "u");

    const auto listed = ranges::to<std::vector>(s.list("user/"));
    REQUIRE(listed.size() == 3);
    CHECK(listed[0].key == "user/a");
    CHECK(listed[0].meta.version == version{3});
    CHECK(listed[0].meta.logical_size == 4);
    CHECK(listed[1].key == "user/b");
    CHECK(listed[1].meta.version == version{2});
    CHECK(listed[1].meta.previous_version == version{1});
    CHECK(listed[2].key == "user/c");
    CHECK(listed[2].meta.version == version{1});
    for (const auto& e : listed) CHECK(e.meta.seq == s.metadata(e.key)->seq);

    CHECK(keys_of(s.list()) == strings{"admin/x", "user", "user/a", "user/b", "user/c"});
    CHECK(keys_of(s.list("user")) == strings{"user", "user/a", "user/b", "user/c"});
    CHECK(keys_of(s.list("v1/")).empty());  // stored keys are not listed by list()
    CHECK(keys_of(s.list("nothing")).empty());
    CHECK(keys_of(s) == keys_of(s.list()));

    // Erasing the latest version: the listing shows the one before.
    REQUIRE(s.erase("user/a", version{3}));
    const auto after = ranges::to<std::vector>(s.list("user/a"));
    REQUIRE(after.size() == 1);
    CHECK(after[0].meta.version == version{2});
    REQUIRE(s.erase("user/b"));
    CHECK(keys_of(s.list("user/")) == strings{"user/a", "user/c"});
}

// ---- range
// ---------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("queries: range(from, to) yields the keys from from up to to in key order",
                   "[queries][range]", mmry::index::hashed, mmry::index::ordered) {
    auto s = make<TestType, path::latest>();
    fill(s);
    CHECK(keys_of(s.range("k0005", "k0010")) ==
          strings{"k0005", "k0006", "k0007", "k0008", "k0009"});
    CHECK(keys_of(s.range("k0027", "")) == strings{"k0027", "k0028", "k0029", "kz", "l"});
    CHECK(keys_of(s.range("", "k0001")) == strings{"a", "j", "k", "k00", "k0000"});
    CHECK(keys_of(s.range("k0005", "k0005")).empty());
    CHECK(keys_of(s.range("k0010", "k0005")).empty());
    CHECK(keys_of(s.range("m", "")).empty());
    CHECK(keys_of(s.range("k00", "k0000x")) == strings{"k00", "k0000"});
    const auto all = keys_of(s.range("", ""));
    CHECK(all.size() == 36);
    CHECK(sorted_unique(all));
    CHECK(all == keys_of(s.list()));
    for (const auto& e : s.range("k0003", "k0004")) {
        CHECK(e.meta.logical_size == 4);
        CHECK(e.meta.has_tag("odd"));
    }
}

TEST_CASE("queries: range gives the same results with the hashed and the ordered index",
          "[queries][range]") {
    auto h = make<mmry::index::hashed, path::versioned>();
    auto o = make<mmry::index::ordered, path::versioned>();
    fill(h);
    fill(o);
    h.put("k0003", "again");
    o.put("k0003", "again");
    const std::vector<std::pair<std::string, std::string>> bounds{
        {"", ""},       {"k0000", "k0030"}, {"k0010", "k0020"}, {"k", "k0"},       {"k0029", "kz"},
        {"b", "k0001"}, {"zzz", ""},        {"k0015", "k0014"}, {"k0003", "k0004"}};
    for (const auto& [from, to] : bounds) {
        INFO("range [" << from << ", " << to << ")");
        const auto a = ranges::to<std::vector>(h.range(from, to));
        const auto b = ranges::to<std::vector>(o.range(from, to));
        REQUIRE(a.size() == b.size());
        for (std::size_t i = 0; i < a.size(); ++i) {
            CHECK(a[i].key == b[i].key);
            CHECK(a[i].meta.version == b[i].meta.version);
            CHECK(a[i].meta.logical_size == b[i].meta.logical_size);
            CHECK(a[i].key >= from);
            if (!to.empty()) CHECK(a[i].key < to);
        }
        CHECK(sorted_unique(keys_of(a)));
    }
    const auto three = ranges::to<std::vector>(o.range("k0003", "k0004"));
    REQUIRE(three.size() == 1);
    CHECK(three[0].meta.version == version{2});  // logical keys, latest version
    CHECK(three[0].meta.logical_size == 5);
}

// ---- with_tag and where
// --------------------------------------------------------------------------

TEMPLATE_TEST_CASE("queries: with_tag composes with take and filter", "[queries][tag][ranges]",
                   mmry::index::hashed, mmry::index::ordered) {
    auto s = make<TestType, path::versioned>();
    for (int i = 0; i < 20; ++i)
        s.put(padded("user/", i), std::string(static_cast<std::size_t>(i) * 10, 'x'),
              {.tags = {"user", i % 2 == 0 ? "draft" : "final"}});
    s.put("admin/1", "a", {.tags = {"draft"}});
    s.put("user-x", "a", {.tags = {"draft"}});
    // A key whose older version was a draft: only the latest version's tags count.
    s.put("user/0001", "was final");
    s.put("user/0001", "now draft", {.tags = {"draft"}});
    s.put("user/0004", "no longer a draft", {.tags = {"final"}});

    const auto drafts = keys_of(s.with_tag("draft", "user/"));
    CHECK(drafts == strings{"user/0000", "user/0001", "user/0002", "user/0006", "user/0008",
                            "user/0010", "user/0012", "user/0014", "user/0016", "user/0018"});
    CHECK(keys_of(s.with_tag("draft")).size() == drafts.size() + 2);
    CHECK(keys_of(s.with_tag("none")).empty());
    CHECK(keys_of(s.with_tag("dra", "user/")).empty());  // whole tags only

    const auto first_two =
        ranges::to<std::vector>(s.with_tag("draft", "user/") | ranges::views::take(2));
    REQUIRE(first_two.size() == 2);
    CHECK(first_two[0].key == "user/0000");
    CHECK(first_two[1].key == "user/0001");
    CHECK(first_two[1].meta.version == version{3});

    const auto big_drafts = ranges::to<std::vector>(
        s.with_tag("draft", "user/") |
        ranges::views::filter([](const mmry::entry& e) { return e.meta.logical_size > 100; }) |
        ranges::views::take(3));
    CHECK(keys_of(big_drafts) == strings{"user/0012", "user/0014", "user/0016"});

    const auto sizes = ranges::to<std::vector>(
        s.with_tag("final", "user/") |
        ranges::views::transform([](const mmry::entry& e) { return e.meta.logical_size; }) |
        ranges::views::take(3));
    CHECK(sizes == std::vector<std::uint64_t>{30, 17, 50});  // user/0004, user/0003, user/0005

    // Standard views too.
    auto tagged = s.with_tag("draft", "user/");
    CHECK(std::ranges::distance(tagged | std::views::take(4)) == 4);
}

TEMPLATE_TEST_CASE("queries: where filters on metadata", "[queries][where]", mmry::index::hashed,
                   mmry::index::ordered) {
    auto s = make<TestType, path::versioned>();
    fill(s);
    s.put("doc/json", "{}", {.content_type = "application/json"});
    s.put("doc/text", std::string(500, 't'), {.content_type = "text/plain"});

    CHECK(keys_of(s.where([](const mmry::entry& e) { return e.meta.logical_size > 25; })) ==
          strings{"doc/text", "k0025", "k0026", "k0027", "k0028", "k0029"});
    CHECK(keys_of(s.where([](const mmry::entry& e) { return e.meta.logical_size > 100; })) ==
          strings{"doc/text"});
    const auto ann = keys_of(
        s.where([](const mmry::entry& e) { return e.meta.attribute("owner") == "ann"; }, "k000"));
    CHECK(ann == strings{"k0000", "k0003", "k0006", "k0009"});
    CHECK(keys_of(s.where(
              [](const mmry::entry& e) {
                  return e.meta.attribute("owner") == "ann" && e.meta.has_tag("odd");
              },
              "k")) == strings{"k0003", "k0009", "k0015", "k0021", "k0027"});
    CHECK(keys_of(s.where([](const mmry::entry& e) {
              return e.meta.content_type.starts_with("application/");
          })) == strings{"doc/json"});
    CHECK(keys_of(s.where([](const mmry::entry& e) {
              return e.meta.attribute("index") == "17";
          })) == strings{"k0017"});
    CHECK(keys_of(s.with_tag("numbered")).size() == 30);
    CHECK(keys_of(s.where([](const mmry::entry&) { return false; })).empty());
    CHECK(keys_of(s.where([](const mmry::entry&) { return true; }, "doc/")) ==
          strings{"doc/json", "doc/text"});

    // Only the latest version is looked at.
    s.put("doc/text", "short now");
    CHECK(keys_of(s.where([](const mmry::entry& e) { return e.meta.logical_size > 100; })).empty());
    CHECK(keys_of(s.where([](const mmry::entry& e) { return e.meta.version == version{2}; })) ==
          strings{"doc/text"});

    // Composed with a view.
    const auto first_bob = ranges::to<std::vector>(
        s.where([](const mmry::entry& e) { return e.meta.attribute("owner") == "bob"; }, "k") |
        ranges::views::take(2));
    CHECK(keys_of(first_bob) == strings{"k0001", "k0002"});
}

// ---- stored
// --------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("queries: stored(v2/) lists exactly the keys that have a version 2",
                   "[queries][stored]", mmry::index::hashed, mmry::index::ordered) {
    auto s = make<TestType, path::versioned>();
    for (int i = 0; i < 10; ++i)
        for (int n = 0; n <= i % 4; ++n) s.put(padded("doc/", i), "v" + std::to_string(n));
    // Versions: doc/i has i % 4 + 1 versions.
    strings expected;
    for (int i = 0; i < 10; ++i)
        if (i % 4 >= 1) expected.push_back("v2/" + padded("doc/", i));
    const auto v2 = ranges::to<std::vector>(s.stored("v2/"));
    CHECK(keys_of(v2) == expected);
    for (const auto& e : v2) {
        CHECK(e.meta.version == version{2});
        CHECK(e.meta.previous_version == version{1});
    }
    CHECK(keys_of(s.stored("v4/")) == strings{"v4/doc/0003", "v4/doc/0007"});
    CHECK(keys_of(s.stored("v5/")).empty());
    CHECK(keys_of(s.stored()).size() == 1 + 2 + 3 + 4 + 1 + 2 + 3 + 4 + 1 + 2);
    CHECK(sorted_unique(keys_of(s.stored())));

    // Version 2 erased from one key, and pruned from others: gone from the listing.
    REQUIRE(s.erase("doc/0001", version{2}));
    s.prune(mmry::retention{.keep_last = 1});
    CHECK(keys_of(s.stored("v2/")) == strings{"v2/doc/0005", "v2/doc/0009"});  // their latest
    CHECK(keys_of(s.stored("v1/")) ==
          strings{"v1/doc/0000", "v1/doc/0001", "v1/doc/0004", "v1/doc/0008"});
}

// ---- many keys
// -----------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("queries: a listing of more than one batch comes back complete and sorted",
                   "[queries][batches]", mmry::index::hashed, mmry::index::ordered) {
    constexpr int n = 600;  // more than two batches of 256
    auto s = make<TestType, path::versioned>();
    auto l = make<TestType, path::latest>();
    for (int i = n - 1; i >= 0; --i) {
        const auto k = padded("key/", i);
        s.put(k, k, {.tags = {i % 5 == 0 ? "five" : "other"}});
        s.put(k, k + "!", {.tags = {i % 5 == 0 ? "five" : "other"}});
        l.put(k, k);
    }
    s.put("other", "x");

    for (const auto& listed : {keys_of(s.list("key/")), keys_of(l.list("key/"))}) {
        REQUIRE(listed.size() == n);
        CHECK(sorted_unique(listed));
        for (int i = 0; i < n; i += 37)
            CHECK(listed[static_cast<std::size_t>(i)] == padded("key/", i));
    }
    std::size_t latest = 0;
    for (const auto& e : s.list("key/")) latest += e.meta.version == version{2};
    CHECK(latest == n);

    const auto stored = keys_of(s.stored());
    CHECK(stored.size() == 2 * n + 1);
    CHECK(sorted_unique(stored));
    const auto v2 = keys_of(s.stored("v2/"));
    CHECK(v2.size() == n);
    CHECK(v2.front() == "v2/key/0000");
    CHECK(v2.back() == "v2/key/0599");

    const auto middle = keys_of(s.range("key/0100", "key/0500"));
    CHECK(middle.size() == 400);
    CHECK(sorted_unique(middle));
    CHECK(middle.front() == "key/0100");
    CHECK(middle.back() == "key/0499");

    const auto fives = keys_of(s.with_tag("five", "key/"));
    CHECK(fives.size() == n / 5);
    CHECK(sorted_unique(fives));
    const auto last =
        keys_of(s.where([](const mmry::entry& e) { return e.key.ends_with("0599"); }));
    CHECK(last == strings{"key/0599"});
    CHECK(keys_of(s.list()).size() == n + 1);
    CHECK(std::ranges::distance(s.list("key/") | std::views::take(300)) == 300);
}

// ---- temporal
// ------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("queries: every query works on a temporal store", "[queries][temporal]",
                   mmry::index::hashed, mmry::index::ordered) {
    manual_clock clock;
    auto s = make<TestType, path::temporal>({.clock = clock});
    auto put_at = [&](int h, int m, std::string_view key, std::string_view value,
                      mmry::put_options o = {}) {
        clock.set(utc(2026, 11, 21, h, m));
        return s.put(key, value, o);
    };
    put_at(10, 0, "cpu", "10%", {.tags = {"metric"}});
    put_at(10, 30, "mem", "2G", {.tags = {"metric"}, .attributes = {{"unit", "bytes"}}});
    put_at(11, 0, "cpu", "20%", {.tags = {"metric"}});
    put_at(12, 0, "cpu", "30%", {.tags = {"alert"}});
    put_at(12, 15, "mem", "3G", {.tags = {"metric"}, .attributes = {{"unit", "bytes"}}});
    put_at(12, 45, "mem", "4G", {.tags = {"metric"}, .attributes = {{"unit", "bytes"}}});
    put_at(13, 0, "disk", "90%", {.tags = {"alert"}});

    // list: logical keys with their latest version.
    const auto listed = ranges::to<std::vector>(s.list());
    REQUIRE(keys_of(listed) == strings{"cpu", "disk", "mem"});
    CHECK(listed[0].meta.version == version{3});
    CHECK(listed[0].meta.modified == utc(2026, 11, 21, 12, 0));
    CHECK(listed[2].meta.version == version{3});  // 12:45 replaced 12:15 in bucket 12
    CHECK(listed[2].meta.modified == utc(2026, 11, 21, 12, 45));
    CHECK(keys_of(s.list("m")) == strings{"mem"});

    // range, with_tag, where.
    CHECK(keys_of(s.range("cpu", "mem")) == strings{"cpu", "disk"});
    CHECK(keys_of(s.with_tag("alert")) == strings{"cpu", "disk"});
    CHECK(keys_of(s.with_tag("metric")) == strings{"mem"});
    CHECK(keys_of(s.where([](const mmry::entry& e) {
              return e.meta.attribute("unit") == "bytes";
          })) == strings{"mem"});
    CHECK(keys_of(s.where([](const mmry::entry& e) {
              return e.meta.modified >= utc(2026, 11, 21, 12, 30);
          })) == strings{"disk", "mem"});
    CHECK(keys_of(s.with_tag("alert") | ranges::views::take(1)) == strings{"cpu"});

    // stored: the buckets.
    CHECK(keys_of(s.stored()) == strings{"2026/11/21/10/cpu", "2026/11/21/10/mem",
                                         "2026/11/21/11/cpu", "2026/11/21/12/cpu",
                                         "2026/11/21/12/mem", "2026/11/21/13/disk"});
    CHECK(keys_of(s.stored("2026/11/21/12/")) == strings{"2026/11/21/12/cpu", "2026/11/21/12/mem"});
    CHECK(keys_of(s.stored("2026/11/22/")).empty());
    const auto hour12 = ranges::to<std::vector>(s.stored("2026/11/21/12/"));
    REQUIRE(hour12.size() == 2);
    CHECK(hour12[1].meta.version == version{3});
    CHECK(keys_of(s.stored("2026/11/21/1")).size() == 6);

    // History by time range: the versions written in [from, to].
    const auto morning = ranges::to<std::vector>(
        s.history("cpu", utc(2026, 11, 21, 10, 0), utc(2026, 11, 21, 11, 0)));
    REQUIRE(morning.size() == 2);
    CHECK(morning[0].meta.version == version{1});
    CHECK(morning[1].meta.version == version{2});
    CHECK(keys_of(s.history("cpu", utc(2026, 11, 21, 11, 1), utc(2026, 11, 21, 11, 59))).empty());
    CHECK(keys_of(s.history("mem")) == strings{"mem", "mem"});
    CHECK(keys_of(s.history("mem", utc(2026, 11, 21, 12, 0), utc(2026, 11, 21, 12, 30))).empty());

    // As of a time, by key.
    CHECK(s.template get_as_of<std::string>("cpu", utc(2026, 11, 21, 11, 30)) == "20%");
    CHECK(s.template get_as_of<std::string>("mem", utc(2026, 11, 21, 12, 30)) == "2G");
    CHECK_FALSE(s.get_as_of("disk", utc(2026, 11, 21, 12, 59)));
}
