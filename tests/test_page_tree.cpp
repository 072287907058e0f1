// The ordered index on pages (a copy-on-write B+tree), checked against a std::map model: puts,
// replacements and erases across many transactions with leaves and branches that split and
// merge, ordered iteration from any key, the page accounting after each step, readers that keep
// their state, writers killed at every fault point, damaged pages refused by name, and a damaged
// entry that stays damaged whatever writes to its neighbours do to its leaf.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <mmry/detail/pages/page_store.hpp>
#include <mmry/detail/pages/tree_index.hpp>

#include "pages_support.hpp"
#include "support.hpp"

namespace pg = mmry::detail::pages;
using mmry::errc;
using mmry_test::as_bytes;
using mmry_test::as_string;
using mmry_test::env_count;
using mmry_test::is_error;
using mmry_test::page_place;
using mmry_test::require_clean;
using mmry_test::segments_of;

namespace {

using model = std::map<std::string, std::string>;
const pg::tree_index tree(2);  // word 0 is the test's: the step a state is at

/// Step `step`: `ops` puts and erases over `keys` keys of varied lengths (so separators vary),
/// values of 0 to ~900 bytes.
void each_op(std::uint64_t step, int ops, int keys, auto&& f) {
    std::mt19937_64 rng(step * 104729);
    for (int i = 0; i < ops; ++i) {
        const auto n = rng() % static_cast<std::uint64_t>(keys);
        std::string key = "k" + std::string(n % 7 * 5, 'x') + std::to_string(n);
        if (rng() % 3 == 0) {
            f(key, std::optional<std::string>());
        } else {
            const std::size_t len = rng() % 4 == 0 ? 400 + rng() % 500 : rng() % 60;
            f(key, std::optional<std::string>(std::string(len, 'v') + std::to_string(step)));
        }
    }
}

void apply_model(model& m, std::uint64_t step, int ops, int keys) {
    each_op(step, ops, keys, [&](const std::string& k, const std::optional<std::string>& v) {
        if (v)
            m[k] = *v;
        else
            m.erase(k);
    });
}

template <class Store>
void apply(Store& s, std::uint64_t step, int ops, int keys) {
    auto w = s.write();
    each_op(step, ops, keys, [&](const std::string& k, const std::optional<std::string>& v) {
        if (v)
            tree.put(w, k, as_bytes(*v));
        else
            tree.erase(w, k);
    });
    w.set_word(0, step);
    w.commit();
}

template <class View>
model contents(const View& v, const std::string& from = "") {
    model m;
    tree.for_each(v, from, [&](std::string_view k, std::span<const std::byte> val) {
        m.emplace(std::string(k), as_string(val));
        return true;
    });
    return m;
}

template <class Store>
void require_matches(Store& s, const model& m) {
    auto r = s.read();
    REQUIRE(tree.size(r) == m.size());
    REQUIRE(contents(r) == m);
    for (const auto& [k, v] : m) {
        const auto got = tree.find(r, k);
        REQUIRE(got);
        REQUIRE(as_string(*got) == v);
    }
    REQUIRE_FALSE(tree.find(r, "no such key"));
    // Iteration from a key in the middle yields exactly the keys from there on, in order.
    if (!m.empty()) {
        const std::string from = std::next(m.begin(), static_cast<long>(m.size() / 2))->first;
        REQUIRE(contents(r, from) == model(m.lower_bound(from), m.end()));
        REQUIRE(contents(r, from + "\x01").size() + 1 ==
                model(m.lower_bound(from), m.end()).size());
    }
    const auto problems = tree.verify(r);
    INFO((problems.empty() ? std::string() : problems.front()));
    REQUIRE(problems.empty());
    require_clean(s.check([](const auto& view, auto&& mark) { tree.mark(view, mark); }));
}

/// The leaf page that holds `key` (or would), walking the tree from its root.
template <class View>
pg::page_id leaf_of(const View& v, std::string_view key) {
    pg::page_id node = v.word(2);
    for (pg::node_view n(v.page(node), "test"); !n.leaf(); n = pg::node_view(v.page(node), "test"))
        node = n.entries()[n.child_for(key)].child;
    return node;
}

/// How the tree names `key`'s entry when it fails its checksum: its leaf page and its byte.
template <class View>
std::string failure_of(const View& v, std::string_view key) {
    const pg::page_id leaf = leaf_of(v, key);
    const pg::node_view n(v.page(leaf), "test");
    const std::size_t i = n.lower_bound(key);
    REQUIRE(i < n.entries().size());
    REQUIRE(n.entries()[i].key == key);
    return "page " + std::to_string(leaf) + ": the entry at byte " +
           std::to_string(n.entries()[i].offset) + " fails its checksum";
}

/// The number of leaves of the tree.
template <class View>
std::size_t leaves(const View& v, pg::page_id node) {
    const pg::node_view n(v.page(node), "test");
    if (n.leaf()) return 1;
    std::size_t count = 0;
    for (const auto& e : n.entries()) count += leaves(v, e.child);
    return count;
}

}  // namespace

TEST_CASE("page tree: puts, replacements and erases agree with a map across transactions") {
    pg::page_store<pg::heap_backend> s(pg::create, "heap", segments_of(1 << 20));
    model m;
    require_matches(s, m);
    for (std::uint64_t step = 1; step <= 80; ++step) {
        apply(s, step, 60, 2000);
        apply_model(m, step, 60, 2000);
        if (step % 20 == 0) require_matches(s, m);
    }
    CHECK(s.read().word(3) >= 2);  // the tree has branches
    SECTION("erasing every key merges the leaves, empties the tree and gives its pages back") {
        {
            auto w = s.write();
            for (const auto& [k, v] : m) REQUIRE(tree.erase(w, k));
            REQUIRE_FALSE(tree.erase(w, "k1"));
            w.commit();
        }
        m.clear();
        require_matches(s, m);
        const auto st = s.stats();
        CHECK(st.pages - st.free_pages < pg::first_data_page + 10);
    }
    SECTION("erasing most keys keeps the tree whole and shrinks it") {
        const auto before = s.stats();
        {
            auto w = s.write();
            int i = 0;
            for (auto it = m.begin(); it != m.end();) {
                if (i++ % 10 != 0) {
                    REQUIRE(tree.erase(w, it->first));
                    it = m.erase(it);
                } else {
                    ++it;
                }
            }
            w.commit();
        }
        require_matches(s, m);
        const auto after = s.stats();
        CHECK(after.pages - after.free_pages < (before.pages - before.free_pages) / 2);
    }
    SECTION("an entry over the limit is refused") {
        auto w = s.write();
        const std::string big(pg::tree_index::max_entry, 'x');
        REQUIRE_THROWS_MATCHES(tree.put(w, "k", as_bytes(big)), mmry::error,
                               is_error(errc::invalid_argument, "limit of 1024"));
    }
}

TEST_CASE("page tree: sequential and reverse inserts of many keys") {
    pg::page_store<pg::heap_backend> s(pg::create, "heap", segments_of(4 << 20));
    model m;
    {
        auto w = s.write();
        for (int i = 0; i < 5000; ++i) {
            char k[16];
            std::snprintf(k, sizeof k, "%08d", i);
            const std::string v(i % 100, 'a');
            tree.put(w, k, as_bytes(v));
            m[k] = v;
        }
        for (int i = 9999; i >= 5000; --i) {
            char k[16];
            std::snprintf(k, sizeof k, "%08d", i);
            const std::string v(i % 50, 'b');
            tree.put(w, k, as_bytes(v));
            m[k] = v;
        }
        w.commit();
    }
    require_matches(s, m);
    CHECK(s.read().word(3) >= 3);
}

TEST_CASE("page tree: a reader's state stays whole while writers change it (threads)") {
    pg::page_store<pg::heap_backend> s(pg::create, "heap", segments_of(1 << 20));
    for (std::uint64_t step = 1; step <= 10; ++step) apply(s, step, 60, 500);
    std::atomic<bool> stop{false};
    std::atomic<int> wrong{0}, reads{0};
    std::thread reader([&] {
        while (!stop.load()) {
            auto r = s.read();
            const auto seen = contents(r);
            if (seen.size() != tree.size(r)) ++wrong;
            ++reads;
        }
    });
    for (std::uint64_t step = 11; step <= 80; ++step) apply(s, step, 60, 500);
    while (reads.load() < 5) std::this_thread::yield();
    stop = true;
    reader.join();
    CHECK(wrong.load() == 0);
    model m;
    for (std::uint64_t step = 1; step <= 80; ++step) apply_model(m, step, 60, 500);
    require_matches(s, m);
}

TEMPLATE_TEST_CASE("page tree: a writer killed at any fault point loses only its transaction", "",
                   pg::shm_backend, pg::file_backend) {
    using store = pg::page_store<TestType>;
    page_place<TestType> where;
    {
        auto o = segments_of(256 * 1024);
        o.level = pg::durability::sync;
        store s(pg::create, where.name(), o);
    }
    std::vector<model> states(1);
    auto state = [&](std::uint64_t k) -> const model& {
        while (states.size() <= k) {
            states.push_back(states.back());
            apply_model(states.back(), states.size() - 1, 40, 300);
        }
        return states[k];
    };
    mmry_test::kill_at_every_point<store>(
        where.name(), env_count("MMRY_PAGES_KILL_STEPS", 6),
        [](store& s, std::uint64_t step) { apply(s, step, 40, 300); },
        [&](store& s, std::uint64_t step) { require_matches(s, state(step)); });
}

TEST_CASE("page tree: damaged nodes are refused by name, never followed") {
    pg::page_store<pg::heap_backend> s(pg::create, "heap", segments_of(1 << 20));
    model m;
    for (std::uint64_t step = 1; step <= 30; ++step) {
        apply(s, step, 60, 2000);
        apply_model(m, step, 60, 2000);
    }
    auto r = s.read();
    REQUIRE(r.word(3) >= 2);
    auto* root = const_cast<std::byte*>(r.page(r.word(2)).data());
    const std::string key = m.begin()->first;
    SECTION("the first child pointer: the header's checksum covers it") {
        const std::uint64_t far = 1ull << 40;
        std::memcpy(root + pg::node_header, &far, 8);  // the root's first child
        REQUIRE_THROWS_MATCHES(tree.find(r, key), mmry::error,
                               is_error(errc::corrupt, "page " + std::to_string(r.word(2))));
        REQUIRE_FALSE(tree.verify(r).empty());
    }
    SECTION("a separator's key, length or child: no key is silently missing") {
        // Separator 0 of the root, after the first child: [sum u32][length u16][2][child u64][key]
        const std::size_t at = pg::node_header + 8;
        const std::size_t byte = GENERATE(4, 8, 10, 16);  // length, child (low, high), key
        root[at + byte] ^= static_cast<std::byte>(byte == 8 ? 0x01 : 0x08);
        std::size_t refused = 0;
        for (const auto& [k, v] : m) {
            try {
                const auto found = tree.find(r, k);
                REQUIRE(found.has_value());  // a damaged separator never makes a key absent
                REQUIRE(as_string(*found) == v);
            } catch (const mmry::error& e) {
                REQUIRE(e.code_value() == errc::corrupt);
                ++refused;
            }
        }
        CHECK(refused > 0);
        REQUIRE_FALSE(tree.verify(r).empty());
    }
    SECTION("a node header") {
        root[5] ^= std::byte{1};
        REQUIRE_THROWS_MATCHES(tree.find(r, key), mmry::error,
                               is_error(errc::corrupt, "page " + std::to_string(r.word(2))));
        REQUIRE_FALSE(tree.verify(r).empty());
    }
    SECTION("a value byte: the entry fails its checksum") {
        auto* v = const_cast<std::byte*>(tree.find(r, key)->data());
        *v ^= std::byte{1};
        REQUIRE_THROWS_MATCHES(tree.find(r, key), mmry::error,
                               is_error(errc::corrupt, "fails its checksum"));
        REQUIRE_FALSE(tree.verify(r).empty());
    }
    SECTION("a child pointer to another node: the height check, or the bounds check") {
        pg::page_id first = 0, second = 0;
        std::memcpy(&first, root + pg::node_header, 8);
        std::memcpy(&second, root + pg::node_header + 16, 8);  // the child right of separator 0
        std::memcpy(root + pg::node_header, &second, 8);
        REQUIRE_FALSE(tree.verify(r).empty());
    }
}

TEST_CASE("page tree: a damaged entry stays damaged when writers rewrite its leaf") {
    pg::page_store<pg::heap_backend> s(pg::create, "heap", segments_of(1 << 20));
    auto key_of = [](int i) {
        char k[16];
        std::snprintf(k, sizeof k, "k%04d", i);
        return std::string(k);
    };
    model m;  // the keys that read back: all but the damaged one
    {
        auto w = s.write();
        for (int i = 0; i < 1000; i += 2) {  // even keys: the odd ones leave room for neighbours
            const std::string k = key_of(i), v(40, static_cast<char>('a' + i % 26));
            tree.put(w, k, as_bytes(v));
            m[k] = v;
        }
        w.commit();
    }
    REQUIRE(s.read().word(3) >= 2);
    const int bad_at = 500;
    const std::string bad = key_of(bad_at);
    {
        auto r = s.read();
        const_cast<std::byte*>(tree.find(r, bad)->data())[3] ^= std::byte{1};
    }
    m.erase(bad);
    // The damaged entry reads as corrupt, by find and by verify, naming its page and byte; every
    // other key reads back.
    auto require_damaged = [&] {
        auto r = s.read();
        const std::string said = failure_of(r, bad);
        REQUIRE_THROWS_MATCHES(tree.find(r, bad), mmry::error, is_error(errc::corrupt, said));
        REQUIRE(tree.find_unchecked(r, bad));
        const auto problems = tree.verify(r);
        REQUIRE(problems.size() == 1);
        CHECK(problems.front().find(said) != std::string::npos);
        REQUIRE(tree.size(r) == m.size() + 1);
        for (const auto& [k, v] : m) {
            const auto got = tree.find(r, k);
            REQUIRE(got);
            REQUIRE(as_string(*got) == v);
        }
        require_clean(s.check([](const auto& view, auto&& mark) { tree.mark(view, mark); }));
    };
    require_damaged();

    // The damaged entry itself is erasable and replaceable by key (a writer reads it unchecked).
    const auto erased_or_replaced_by_key = [&] {
        SECTION("erased by key") {
            {
                auto w = s.write();
                REQUIRE(tree.erase(w, bad));
                w.commit();
            }
            require_matches(s, m);
        }
        SECTION("replaced by key") {
            {
                auto w = s.write();
                REQUIRE_FALSE(tree.put(w, bad, as_bytes("whole again")));
                w.commit();
            }
            m[bad] = "whole again";
            require_matches(s, m);
        }
    };
    SECTION("puts and erases of its neighbours that replace, split and merge its leaf") {
        // One transaction per write, each noting whether it rewrote the damaged entry's leaf
        // and how: a split, a merge of that leaf, a merge into it as the sibling.
        bool replaced = false, split = false, merged = false, merged_into = false;
        auto write = [&](const std::string& k, const std::optional<std::string>& v) {
            std::size_t before = 0;
            pg::page_id bad_leaf = 0, k_leaf = 0;
            {
                auto r = s.read();
                before = leaves(r, r.word(2));
                bad_leaf = leaf_of(r, bad);
                k_leaf = leaf_of(r, k);
            }
            {
                auto w = s.write();
                if (v) {
                    tree.put(w, k, as_bytes(*v));
                    m[k] = *v;
                } else {
                    REQUIRE(tree.erase(w, k));
                    m.erase(k);
                }
                w.commit();
            }
            auto r = s.read();
            const std::size_t after = leaves(r, r.word(2));
            if (leaf_of(r, bad) != bad_leaf) {
                replaced = replaced || after == before;
                split = split || after > before;
                merged = merged || (after < before && k_leaf == bad_leaf);
                merged_into = merged_into || (after < before && k_leaf != bad_leaf);
            }
            require_damaged();
        };
        write(key_of(bad_at - 2), std::string(30, 'r'));  // replacements
        write(key_of(bad_at + 2), std::string(50, 'r'));
        for (int d = 1; d <= 9; d += 2) {  // new keys of big values on both sides: splits
            write(key_of(bad_at - d), std::string(700, 'n'));
            write(key_of(bad_at + d), std::string(700, 'n'));
        }
        // Erases of every key below it, nearest first, then above: its leaf merges with its
        // sibling, then its left neighbour's leaves merge into it.
        for (int i = bad_at - 1; i >= 300; --i)
            if (m.count(key_of(i))) write(key_of(i), std::nullopt);
        for (int i = bad_at + 1; i <= 700; ++i)
            if (m.count(key_of(i))) write(key_of(i), std::nullopt);
        CHECK(replaced);
        CHECK(split);
        CHECK(merged);
        CHECK(merged_into);
        erased_or_replaced_by_key();
    }
    erased_or_replaced_by_key();
}
