// list(prefix) and iteration over a store, for both indexes, alone and through range-v3 views.

#include <algorithm>
#include <cstdio>
#include <ranges>
#include <set>
#include <string>
#include <vector>

#include <range/v3/view/filter.hpp>
#include <range/v3/view/take.hpp>
#include <range/v3/view/transform.hpp>

#include "support.hpp"

using mmry_test::indexes;

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
