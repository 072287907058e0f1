// mmry::version: one type for version numbers, in and out of the store.

#include <algorithm>
#include <compare>
#include <concepts>
#include <cstdint>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <unordered_set>
#include <vector>

#include "support.hpp"

using mmry::version;

// Made from an integer only explicitly, compared only with another version.
static_assert(std::is_nothrow_default_constructible_v<version>);
static_assert(std::is_trivially_copyable_v<version>);
static_assert(std::is_constructible_v<version, std::uint64_t>);
static_assert(!std::is_convertible_v<std::uint64_t, version>);
static_assert(!std::is_convertible_v<version, std::uint64_t>);
static_assert(std::totally_ordered<version>);
static_assert(!std::equality_comparable_with<version, std::uint64_t>);
static_assert(!std::equality_comparable_with<version, int>);
static_assert(!std::totally_ordered_with<version, std::uint64_t>);
static_assert(version{} == version{0});
static_assert(version{2} < version{10});
static_assert((version{3} <=> version{3}) == std::strong_ordering::equal);

// What put, rollback and metadata give back is the type get and put_options take.
using store = mmry::basic_store<>;
static_assert(std::is_same_v<decltype(std::declval<store&>().put("k", "v")), version>);
static_assert(std::is_same_v<decltype(mmry::metadata{}.version), version>);
static_assert(std::is_same_v<decltype(mmry::metadata{}.previous_version), version>);
static_assert(std::is_same_v<decltype(mmry::put_options{}.if_version), std::optional<version>>);

TEST_CASE("versions: a version streams as its number and hashes by it", "[versions]") {
    std::ostringstream out;
    out << version{42} << ' ' << version{};
    CHECK(out.str() == "42 0");
    CHECK(Catch::StringMaker<version>::convert(version{7}) == "7");  // how a failed CHECK shows it

    std::wostringstream wide;
    wide << version{5};
    CHECK(wide.str() == L"5");

    const std::unordered_set<version> seen{version{1}, version{2}, version{1}};
    CHECK(seen.size() == 2);
    CHECK(seen.contains(version{2}));
    CHECK(std::hash<version>{}(version{9}) == std::hash<version>{}(version{9}));

    std::vector<version> v{version{3}, version{1}, version{2}};
    std::sort(v.begin(), v.end());
    CHECK(v == std::vector<version>{version{1}, version{2}, version{3}});
    CHECK(std::max(version{4}, version{11}).number == 11);
}

namespace {
template <class Path>
struct path_traits : mmry::default_traits {
    using path = Path;
};
}  // namespace

TEMPLATE_TEST_CASE("versions: what a store returns goes back in as it is", "[versions]",
                   mmry::path::latest, mmry::path::versioned) {
    mmry::basic_store<path_traits<TestType>> s;
    const version v1 = s.put("k", "one");
    CHECK(v1 == version{1});
    const version v2 = s.put("k", "two", {.if_version = v1});
    CHECK(v2 > v1);
    const auto m = s.metadata("k");
    REQUIRE(m);
    CHECK(m->version == v2);
    CHECK(m->previous_version == v1);
    CHECK(s.template get<std::string>("k", m->version) == "two");
    CHECK(s.metadata("k", v2)->version == v2);
    for (const auto& e : s.history("k")) CHECK(s.metadata("k", e.meta.version));
    if constexpr (std::is_same_v<TestType, mmry::path::versioned>) {
        CHECK(s.template get<std::string>("k", v1) == "one");
        const std::optional<version> v3 = s.rollback("k", v1);
        CHECK(v3 == version{3});
        s.set_version("k", version{10});
        CHECK(s.put("k", "ten") == version{10});
        CHECK(s.erase("k", *v3)->version == *v3);
    }
}
