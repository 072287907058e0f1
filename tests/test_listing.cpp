// list(prefix), history(key) and iteration over a store, for both indexes, alone and through
// range-v3 and std::ranges views.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <ranges>
#include <set>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include <range/v3/view/filter.hpp>
#include <range/v3/view/take.hpp>
#include <range/v3/view/transform.hpp>

#include "support.hpp"

using mmry_test::indexes;

using mmry_test::entries_of;
using mmry_test::keys_of;
using mmry_test::padded;

namespace {

/// A store with user/0000..user/0999 (value: the key), plus keys around the "user/" prefix.
template <class Traits>
mmry::basic_store<Traits> populated() {
    auto s = mmry_test::make_store<Traits>();
    for (int i = 999; i >= 0; --i) {
        const auto k = padded("user/", i);
        s.put(k, k);
    }
    for (const char* k : {"user", "user.", "usex/1", "admin/1", "user0", "users/1", "a", "zzz"})
        s.put(k, k);
    return s;
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("listing: list(prefix) yields each matching key once, in key order",
                        "[listing]", indexes) {
    const auto s = populated<TestType>();
    const auto listed = keys_of(s.list("user/"));
    REQUIRE(listed.size() == 1000);  // several batches of 256
    CHECK(std::is_sorted(listed.begin(), listed.end()));
    CHECK(std::adjacent_find(listed.begin(), listed.end()) == listed.end());
    CHECK(listed.front() == "user/0000");
    CHECK(listed.back() == "user/0999");
    for (int i = 0; i < 1000; i += 111)
        CHECK(listed[static_cast<std::size_t>(i)] == padded("user/", i));

    // Entries carry the metadata of their record.
    for (const auto& e : s.list("user/00")) {
        CHECK(e.meta.logical_size == e.key.size());
        CHECK(e.meta.stored_size == s.metadata(e.key)->stored_size);
    }
    CHECK(keys_of(s.list("user/00")).size() == 100);
    CHECK(keys_of(s.list("user/0999")) == std::vector<std::string>{"user/0999"});
    CHECK(keys_of(s.list("users")) == std::vector<std::string>{"users/1"});
    CHECK(keys_of(s.list("user")).size() == 1000 + 4);  // user, user., user/..., user0, users/1
    CHECK(keys_of(s.list("nothing")).empty());
    CHECK(s.list("nothing").begin() == s.list("nothing").end());
}

TEMPLATE_LIST_TEST_CASE("listing: a store iterates over all its entries", "[listing]", indexes) {
    const auto s = populated<TestType>();
    std::vector<std::string> all;
    for (auto& e : s) all.push_back(e.key);
    CHECK(all.size() == s.size());
    CHECK(std::is_sorted(all.begin(), all.end()));
    CHECK(all == keys_of(s.list()));
    CHECK(all.front() == "a");
    CHECK(all.back() == "zzz");

    const auto empty = mmry_test::make_store<TestType>();
    CHECK(empty.begin() == empty.end());
    CHECK(keys_of(empty.list()).empty());

    // Exactly 256 and 257 entries: batch boundaries.
    for (int n : {255, 256, 257, 512, 513}) {
        auto t = mmry_test::make_store<TestType>();
        for (int i = 0; i < n; ++i) t.put(padded("k", i), "v");
        INFO(n << " entries");
        const auto listed = keys_of(t);
        CHECK(listed.size() == static_cast<std::size_t>(n));
        CHECK(std::set<std::string>(listed.begin(), listed.end()).size() == listed.size());
    }
}

TEMPLATE_LIST_TEST_CASE("listing: composes with range-v3 views", "[listing][ranges]", indexes) {
    const auto s = populated<TestType>();
    const auto first_ten = keys_of(s.list("user/") | ranges::views::take(10));
    REQUIRE(first_ten.size() == 10);
    CHECK(first_ten.front() == "user/0000");
    CHECK(first_ten.back() == "user/0009");

    const auto sevens = keys_of(s.list("user/") | ranges::views::filter([](const mmry::entry& e) {
                                    return e.key.back() == '7';
                                }));
    CHECK(sevens.size() == 100);
    CHECK(std::all_of(sevens.begin(), sevens.end(), [](const std::string& k) {
        return k.starts_with("user/") && k.back() == '7';
    }));

    static_assert(std::ranges::input_range<decltype(s.list())>);
    static_assert(std::ranges::borrowed_range<decltype(s.list())>);

    std::vector<std::uint64_t> sizes;
    for (auto n : s.list("user/01") | ranges::views::transform([](const mmry::entry& e) {
                      return e.meta.logical_size;
                  }) | ranges::views::take(3))
        sizes.push_back(n);
    CHECK(sizes == std::vector<std::uint64_t>{9, 9, 9});
}

TEMPLATE_LIST_TEST_CASE("listing: the loop body may write to the store", "[listing]", indexes) {
    auto s = populated<TestType>();
    std::size_t seen = 0;
    for (const auto& e : s.list("user/")) {
        ++seen;
        s.put(e.key, "rewritten!");    // overwrite what is being listed
        s.erase("admin/1");            // and change the rest of the store
        s.put("other/" + e.key, "x");  // keys outside the prefix
        CHECK(s.template get<std::string>(e.key) == "rewritten!");
    }
    CHECK(seen == 1000);
    CHECK(s.size() == 1000 + 7 + 1000);
    for (const auto& e : s.list("user/")) CHECK(e.meta.logical_size == 10);

    // Erasing every listed key while listing leaves nothing behind.
    for (const auto& e : s.list("other/")) s.erase(e.key);
    CHECK(keys_of(s.list("other/")).empty());
}

// ---- history(key): the same lazy range, over one key's versions ---------------------------------

namespace {

template <class Index>
struct versioned_traits : mmry::default_traits {
    using index = Index;
    using path = mmry::path::versioned;
};
using histories =
    std::tuple<versioned_traits<mmry_test::hashed>, versioned_traits<mmry_test::ordered>>;

/// The version numbers of a history, in the order it yields them.
template <class Range>
std::vector<std::uint64_t> numbers_of(Range&& r) {
    std::vector<std::uint64_t> out;
    for (const auto& e : r) out.push_back(e.meta.version.number);
    return out;
}

std::vector<std::uint64_t> one_to(std::uint64_t n) {
    std::vector<std::uint64_t> out;
    for (std::uint64_t v = 1; v <= n; ++v) out.push_back(v);
    return out;
}

/// A store whose key "doc" has versions 1..n, one a second from t0 (plus a key beside it).
template <class Traits>
mmry::basic_store<Traits> with_versions(int n, std::chrono::system_clock::time_point t0) {
    auto clock = std::make_shared<std::chrono::system_clock::time_point>(t0);
    auto s = mmry_test::make_store<Traits>({.clock = [clock] { return *clock; }});
    for (int i = 1; i <= n; ++i) {
        s.put("doc", padded("value ", i), {.tags = {i % 2 ? "odd" : "even"}});
        *clock += std::chrono::seconds(1);
    }
    s.put("doc/other", "beside");
    return s;
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("listing: history(key) yields every kept version once, oldest first",
                        "[listing][history]", histories) {
    const std::chrono::system_clock::time_point t0{std::chrono::seconds(1'000'000)};
    auto s = with_versions<TestType>(600, t0);  // several batches of 256

    const auto all = entries_of(s.history("doc"));
    REQUIRE(all.size() == 600);
    CHECK(numbers_of(all) == one_to(600));
    for (std::size_t i = 0; i < all.size(); i += 37) {
        const auto& e = all[i];
        CHECK(e.key == "doc");
        const auto m = s.metadata("doc", e.meta.version);  // what history says, nothing decoded
        REQUIRE(m);
        CHECK(e.meta.seq == m->seq);
        CHECK(e.meta.content_hash == m->content_hash);
        CHECK(e.meta.previous_version == mmry::version{i});
        CHECK(e.meta.tags == m->tags);
    }

    // Versions erased here and there, some at batch boundaries: the others, in order.
    std::vector<std::uint64_t> kept;
    for (std::uint64_t v = 1; v <= 600; ++v)
        if (v % 7 == 0 || v == 256 || v == 257 || v == 512)
            CHECK(s.erase("doc", mmry::version{v}));
        else
            kept.push_back(v);
    CHECK(numbers_of(s.history("doc")) == kept);

    // A time window: [from, to], both ends included, across batches.
    const auto window = numbers_of(
        s.history("doc", t0 + std::chrono::seconds(249), t0 + std::chrono::seconds(520)));
    std::vector<std::uint64_t> expected;
    for (auto v : kept)
        if (v >= 250 && v <= 521) expected.push_back(v);
    CHECK(window == expected);
    CHECK(numbers_of(s.history("doc", t0 + std::chrono::hours(1), t0 + std::chrono::hours(2)))
              .empty());

    // No such key, or a prefix of one: nothing.
    CHECK(s.history("absent").begin() == s.history("absent").end());
    CHECK(s.history("do").begin() == s.history("do").end());
    CHECK(numbers_of(s.history("doc/other")) == std::vector<std::uint64_t>{1});
}

TEMPLATE_LIST_TEST_CASE("listing: history(key) is the same lazy range as list()",
                        "[listing][history][ranges]", histories) {
    const auto s = with_versions<TestType>(300, std::chrono::system_clock::time_point{});
    using range = decltype(s.history("doc"));
    static_assert(std::is_same_v<range, typename mmry::basic_store<TestType>::history_range>);
    static_assert(std::ranges::input_range<range>);
    static_assert(std::ranges::borrowed_range<range>);

    CHECK(numbers_of(s.history("doc") | ranges::views::take(3)) ==
          std::vector<std::uint64_t>{1, 2, 3});
    const auto odd = keys_of(s.history("doc") | ranges::views::filter([](const mmry::entry& e) {
                                 return e.meta.has_tag("odd");
                             }));
    CHECK(odd.size() == 150);
    CHECK(numbers_of(s.history("doc") | std::views::drop(298)) ==
          std::vector<std::uint64_t>{299, 300});

    // Each begin() is a new pass; an iterator outlives the range object it came from.
    const auto h = s.history("doc");
    CHECK(numbers_of(h) == numbers_of(h));
    auto it = s.history("doc").begin();
    CHECK(it->meta.version == mmry::version{1});
    ++it;
    CHECK((*it).meta.version == mmry::version{2});
}

TEMPLATE_LIST_TEST_CASE("listing: the loop body may write the key whose history it walks",
                        "[listing][history]", histories) {
    auto s = with_versions<TestType>(300, std::chrono::system_clock::time_point{});
    std::vector<std::uint64_t> seen;
    for (const auto& e : s.history("doc")) {
        seen.push_back(e.meta.version.number);
        // Versions put meanwhile are newer than every version yielded: they are yielded too.
        if (e.meta.version.number <= 100) s.put("doc", "a newer version");
        // A version erased before its batch is fetched is not yielded (280 is in the second
        // batch; the first holds versions 1..256).
        if (e.meta.version.number == 10) CHECK(s.erase("doc", mmry::version{280}));
        // One erased behind the range changes nothing for it.
        if (e.meta.version.number == 20) CHECK(s.erase("doc", mmry::version{5}));
    }
    auto expected = one_to(400);
    std::erase(expected, 280);
    CHECK(seen == expected);
    CHECK(numbers_of(s.history("doc")).size() == 398);  // 5 and 280 are gone

    // Pruning while walking: the batch in hand (copies) is yielded as it was fetched; of the
    // versions after it, only those the pruning kept.
    std::size_t walked = 0;
    for (const auto& e : s.history("doc")) {
        ++walked;
        if (walked == 1) CHECK(s.prune("doc", {.keep_last = 10}) == 388);
        CHECK((e.meta.version <= mmry::version{257} || e.meta.version >= mmry::version{391}));
    }
    CHECK(walked == 256 + 10);
    CHECK(numbers_of(s.history("doc")) ==
          std::vector<std::uint64_t>{391, 392, 393, 394, 395, 396, 397, 398, 399, 400});

    // Erasing the key while walking ends the walk after the batch in hand.
    for (int i = 0; i < 300; ++i) s.put("gone", "v");
    walked = 0;
    for (const auto& e : s.history("gone")) {
        if (walked++ == 0) CHECK(s.erase("gone"));
        CHECK(e.key == "gone");
    }
    CHECK(walked == 256);
    CHECK(s.history("gone").begin() == s.history("gone").end());
}

TEMPLATE_LIST_TEST_CASE("listing: history(key) of path::latest is the one current version",
                        "[listing][history]", indexes) {
    auto s = mmry_test::make_store<TestType>();
    CHECK(s.history("k").begin() == s.history("k").end());
    for (int i = 0; i < 3; ++i) s.put("k", padded("v", i));
    const auto h = entries_of(s.history("k"));
    REQUIRE(h.size() == 1);
    CHECK(h[0].key == "k");
    CHECK(h[0].meta.version == mmry::version{3});
    CHECK(h[0].meta.previous_version == mmry::version{2});
    CHECK(h[0].meta.logical_size == 5);
    const auto t = h[0].meta.modified;
    CHECK(entries_of(s.history("k", t, t)).size() == 1);
    CHECK(
        entries_of(s.history("k", t + std::chrono::seconds(1), t + std::chrono::hours(1))).empty());
}
