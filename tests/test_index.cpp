// The store's tables on pages (detail/store_tables.hpp) on their own, under both index policies:
// random upserts, emplaces and erases in write transactions, some committed and some dropped,
// checked against a std::map model from a fresh reader after each; keys over the short-key limit
// (sharing their first bytes), values large enough to live in blobs, page accounting after every
// commit; and the hash that every process and build must agree on.

#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

#include "pages_support.hpp"

#include <mmry/detail/hash64.hpp>
#include <mmry/detail/store_tables.hpp>
#include <mmry/index/hashed.hpp>
#include <mmry/index/ordered.hpp>

namespace {

namespace pg = mmry::detail::pages;
namespace tb = mmry::detail::tables;
using store_type = pg::page_store<pg::heap_backend>;
using head = mmry::detail::key_head<std::allocator<char>>;

template <class Index>
using context = tb::context<store_type, typename Index::table, head>;

std::string key_of(std::uint64_t i, int kind) {
    std::string k = "k" + std::to_string(i * 2654435761u % 1000003);
    if (kind == 1) k = std::string(tb::short_key, 'p') + k;  // long keys, one shared prefix
    if (kind == 2 && i % 3 == 0) k += std::string(2000 + i % 700, static_cast<char>('a' + i % 26));
    return k;
}

// A head of n versions (over a few dozen versions its entry goes to a blob).
head head_of(std::uint64_t seed, std::size_t n) {
    head h{std::allocator<char>()};
    h.next_version = n + 1;
    h.created_ns = static_cast<std::int64_t>(seed);
    for (std::size_t v = 1; v <= n; ++v)
        h.versions.push_back({v, static_cast<std::int64_t>(seed + v),
                              mmry::record_ref{mmry::handle::from_raw(seed + v), v, v, 1, 0}, 1});
    return h;
}

bool same(const head& a, const head& b) {
    if (a.next_version != b.next_version || a.created_ns != b.created_ns ||
        a.versions.size() != b.versions.size())
        return false;
    for (std::size_t i = 0; i < a.versions.size(); ++i) {
        const auto &x = a.versions[i], &y = b.versions[i];
        if (x.version != y.version || x.time_ns != y.time_ns || !(x.ref == y.ref) ||
            x.layouts != y.layouts)
            return false;
    }
    return true;
}

template <class Index>
void check_pages(store_type& s) {
    mmry_test::require_clean(s.check([&](const auto&, auto&& mark) {
        context<Index> c(s, "test");
        c.mark(mark);
    }));
}

// The model against a reader of the committed state: every key, a full scan, and absent keys.
template <class Index>
void agree(store_type& s, const std::map<std::string, mmry::record_ref>& records,
           const std::map<std::string, std::size_t>& heads) {
    context<Index> c(s, "test");
    REQUIRE(c.index.size() == records.size());
    REQUIRE(c.heads.size() == heads.size());
    for (const auto& [k, ref] : records) {
        const auto* found = c.index.find(k);
        REQUIRE(found);
        CHECK(*found == ref);
    }
    for (const auto& [k, n] : heads) {
        const auto* found = c.heads.find(k);
        REQUIRE(found);
        CHECK(same(*found, head_of(k.size(), n)));
    }
    std::size_t seen = 0;
    std::string last;
    c.index.scan("", "", [&](std::string_view k, const mmry::record_ref& v) {
        ++seen;
        const auto it = records.find(std::string(k));
        REQUIRE(it != records.end());
        CHECK(v == it->second);
        // Keys up to the short-key limit come in key order from the ordered index.
        if constexpr (Index::sorted)
            if (k.size() <= tb::short_key && last.size() <= tb::short_key) CHECK(last < k);
        last = std::string(k);
        return true;
    });
    CHECK(seen == records.size());
    CHECK_FALSE(c.index.find("absent"));
    CHECK_FALSE(c.index.find(std::string(tb::short_key, 'p') + "absent"));
}

}  // namespace

TEMPLATE_TEST_CASE("store tables agree with a model, committed or dropped", "[index]",
                   mmry::index::hashed, mmry::index::ordered) {
    const int kind = GENERATE(0, 1, 2);
    INFO("key kind " << kind);
    store_type s(pg::create, "tables", mmry_test::segments_of(1 << 20));
    std::map<std::string, mmry::record_ref> records;
    std::map<std::string, std::size_t> heads;
    std::mt19937_64 rng(static_cast<std::uint64_t>(kind) + 7);
    for (int round = 0; round < 60; ++round) {
        auto next_records = records;
        auto next_heads = heads;
        const bool keep = rng() % 4 != 0;
        {
            context<TestType> c(s, "test", typename context<TestType>::for_write{});
            for (int step = 0; step < 40; ++step) {
                const std::string k = key_of(rng() % 400, kind);
                const mmry::record_ref ref{mmry::handle::from_raw(rng() % 100000), 100, 90, 1, 0};
                switch (rng() % 5) {
                    case 0:
                    case 1: {
                        const auto old = c.index.upsert(k, ref);
                        const auto it = next_records.find(k);
                        REQUIRE(old.has_value() == (it != next_records.end()));
                        if (old) CHECK(*old == it->second);
                        next_records[k] = ref;
                        break;
                    }
                    case 2: {
                        const auto old = c.index.erase(k);
                        REQUIRE(old.has_value() == next_records.contains(k));
                        next_records.erase(k);
                        break;
                    }
                    case 3: {
                        const std::size_t n = 1 + rng() % 90;
                        c.heads.emplace(k) = head_of(k.size(), n);
                        next_heads[k] = n;
                        break;
                    }
                    default:
                        c.heads.erase(k);
                        next_heads.erase(k);
                }
                REQUIRE(c.index.size() == next_records.size());
                REQUIRE((c.index.find(k) != nullptr) == next_records.contains(k));
            }
            if (keep) c.commit();
        }
        if (keep) {
            records = std::move(next_records);
            heads = std::move(next_heads);
        }
        agree<TestType>(s, records, heads);
        check_pages<TestType>(s);
    }
    CHECK(records.size() > 50);
}

TEMPLATE_TEST_CASE("store tables: a long key's entry holds its whole key", "[index]",
                   mmry::index::hashed, mmry::index::ordered) {
    store_type s(pg::create, "tables", mmry_test::segments_of(1 << 20));
    const std::string prefix(tb::short_key, 'x');
    const std::string longest(64 * 1024, 'y');
    {
        context<TestType> c(s, "test", typename context<TestType>::for_write{});
        c.index.upsert(prefix + "a", {mmry::handle::from_raw(1), 1, 1, 1, 0});
        c.index.upsert(prefix + "b", {mmry::handle::from_raw(2), 2, 2, 1, 0});
        c.index.upsert(longest, {mmry::handle::from_raw(3), 3, 3, 1, 0});
        c.commit();
    }
    context<TestType> c(s, "test");
    CHECK(c.index.find(prefix + "a")->where.raw() == 1);
    CHECK(c.index.find(prefix + "b")->where.raw() == 2);
    CHECK(c.index.find(longest)->where.raw() == 3);
    CHECK_FALSE(c.index.find(prefix));
    CHECK_FALSE(c.index.find(prefix + "c"));
    std::set<std::string> listed;
    c.index.scan(prefix, "", [&](std::string_view k, const mmry::record_ref&) {
        listed.emplace(k);
        return true;
    });
    CHECK(listed == std::set<std::string>{prefix + "a", prefix + "b"});
    check_pages<TestType>(s);
}

TEST_CASE("hash64 is fixed: stores written by other builds and processes find their keys",
          "[index]") {
    // These values are part of the store format (a seed of 0 gives them; the page index hashes
    // under a seed kept in the store): a change here makes every existing store's hashed index
    // unreadable, and needs a new store format version.
    CHECK(mmry::detail::hash64("") == 0x4468b9c46fb79188ull);
    CHECK(mmry::detail::hash64("a") == 0xae44a69bd8daa0a4ull);
    CHECK(mmry::detail::hash64("abc") == 0x94c43a7f315069dbull);
    CHECK(mmry::detail::hash64("mmry") == 0xefe5bb6127f8a393ull);
    CHECK(mmry::detail::hash64("0123456789abcdef") == 0xb9f9504af5532f29ull);
    CHECK(mmry::detail::hash64("a key longer than sixteen bytes, to loop") ==
          0x8be81bdc33af9056ull);
}

TEST_CASE("hash64 spreads similar keys over the table", "[index]") {
    // 2^16 keys that differ in one digit or in length land in 2^16 buckets (low bits, as the
    // table uses them) about as a random function would: no bucket holds more than a handful.
    constexpr std::size_t n = std::size_t{1} << 16;
    std::vector<std::uint32_t> load(n);
    for (std::size_t i = 0; i < n; ++i)
        ++load[mmry::detail::hash64("user:" + std::to_string(i)) & (n - 1)];
    std::size_t empty = 0, most = 0;
    for (auto l : load) {
        empty += l == 0;
        most = std::max<std::size_t>(most, l);
    }
    // A random function leaves about n/e = 24109 buckets empty, and its fullest bucket holds 8-9.
    CHECK(empty > 23000);
    CHECK(empty < 25300);
    CHECK(most <= 12);
    std::set<std::uint64_t> distinct;
    for (std::size_t len = 0; len < 200; ++len)
        distinct.insert(mmry::detail::hash64(std::string(len, '\0')));
    CHECK(distinct.size() == 200);
}
