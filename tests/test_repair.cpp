// basic_store::repair() and the quarantine: a sound store is left as it was; a damaged record,
// chunk, piece or index entry leaves the store for the quarantine (never silently), with
// every stored key and version naming it; chunks nothing names any more are freed; reference
// counts and counters are set to what the store holds; pages nothing reaches go back; the store
// verifies clean afterwards, every other value reads back, and the quarantine can be listed,
// exported and emptied, also after the store is opened again.

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <mmry/repair.hpp>

#include "history_support.hpp"
#include "shared_support.hpp"
#include "support.hpp"

using namespace mmry_test;
using mmry::errc;
using mmry::quarantined;
using mmry::detail::store_access;

namespace {

/// A value of 3 to 6 KiB (a record in pages of its own), its bytes a function of i and round.
mmry::bytes value_of(int i, int round = 0) {
    return random_bytes(3000 + static_cast<std::size_t>(i * 577 % 3000),
                        static_cast<std::uint64_t>(i) * 131 + static_cast<std::uint64_t>(round));
}

std::string key_of(int i) {
    return numbered("k/", i);
}

template <class Store>
constexpr bool history = Store::traits_type::path::history;

/// Puts keys 0..n-1 (two versions each where the path keeps history).
template <class Store>
void fill(Store& s, int n) {
    for (int round = 0; round < (history<Store> ? 2 : 1); ++round)
        for (int i = 0; i < n; ++i) s.put(key_of(i), value_of(i, round));
}

/// Flips one byte near the end of key's current record (in its frames, past its header).
template <class Store>
mmry::bytes damage_record(Store& s, const std::string& key) {
    auto r = store_access::record_bytes(s, key);
    REQUIRE(r.size() > 64);
    r[r.size() - 20] ^= std::byte{0x5a};
    return mmry::bytes(r.begin(), r.end());
}

/// Puts what repair did and left into the next assertion's message.
void show(const mmry::repair_report& r) {
    for (const auto& a : r.actions) UNSCOPED_INFO("action: " << a);
    for (const auto& p : r.remaining) UNSCOPED_INFO("remaining: " << p);
}

bool mentions(const std::vector<std::string>& lines, const std::string& text) {
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string& l) { return l.find(text) != std::string::npos; });
}

using repair_compositions =
    std::tuple<path_traits<mmry::path::latest>, path_traits<mmry::path::versioned>,
               shared_traits<mmry::arena::heap, ordered, zstd3, aes>,
               path_traits<mmry::path::latest, mmry::fold::cdc<>>,
               path_traits<mmry::path::versioned, mmry::fold::cdc<>>>;

}  // namespace

TEMPLATE_LIST_TEST_CASE("repair: a sound store is left as it was", "[repair]",
                        repair_compositions) {
    auto s = make_store<TestType>();
    fill(s, 30);
    s.put("small", std::string("tiny"));
    const auto before = s.stats();
    const auto report = s.repair();
    show(report);
    CHECK(report.untouched());
    CHECK(report.ok());
    CHECK(report.quarantined == 0);
    CHECK(report.records_checked >= 31);
    CHECK(s.quarantine().empty());
    const auto after = s.stats();
    CHECK(after.entries == before.entries);
    CHECK(after.stored_bytes == before.stored_bytes);
    CHECK(after.puts == before.puts);
    for (int i = 0; i < 30; ++i)
        CHECK(s.get(key_of(i)) == value_of(i, TestType::path::history ? 1 : 0));
}

TEMPLATE_LIST_TEST_CASE("repair: a damaged record goes to the quarantine, and nothing else goes",
                        "[repair]", repair_compositions) {
    using store_type = mmry::basic_store<TestType>;
    auto s = make_store<TestType>();
    fill(s, 20);
    const std::string victim = key_of(7);
    const mmry::bytes damaged = damage_record(s, victim);
    REQUIRE_FALSE(s.verify().ok());

    const auto report = s.repair();
    show(report);
    CHECK(report.ok());
    CHECK(report.quarantined == 1);
    CHECK(mentions(report.actions, "quarantined"));
    // Every other key reads back; the damaged one is gone (with history: its older version is
    // what is left of it).
    for (int i = 0; i < 20; ++i) {
        if (i == 7) continue;
        CHECK(s.get(key_of(i)) == value_of(i, history<store_type> ? 1 : 0));
    }
    if constexpr (history<store_type>)
        CHECK(s.get(victim) == value_of(7, 0));
    else
        CHECK_FALSE(s.get(victim));
    check_counters(s);

    const auto q = s.quarantine();
    REQUIRE(q.size() == 1);
    CHECK(q[0].what == quarantined::kind::record);
    CHECK(q[0].name.find(victim) != std::string::npos);
    CHECK_FALSE(q[0].reason.empty());
    CHECK(q[0].size == damaged.size());
    CHECK(s.export_quarantined(q[0].id) == damaged);
    CHECK_FALSE(s.export_quarantined(q[0].id + 1));

    // A second repair finds nothing to do; dropping frees the record's pages.
    CHECK(s.repair().untouched());
    CHECK(s.drop_quarantined(q[0].id));
    CHECK_FALSE(s.drop_quarantined(q[0].id));
    CHECK(s.quarantine().empty());
    const auto v = s.verify();
    for (const auto& p : v.problems) UNSCOPED_INFO(p);
    CHECK(v.ok());
    // The store goes on: the key can be put again.
    s.put(victim, value_of(7, 5));
    CHECK(s.get(victim) == value_of(7, 5));
    check_counters(s);
}

TEST_CASE("repair: a damaged value kept in its index entry is quarantined with its bytes",
          "[repair]") {
    auto s = make_store<path_traits<mmry::path::latest>>();
    for (int i = 0; i < 50; ++i) s.put(key_of(i), "small value " + std::to_string(i));
    auto r = store_access::record_bytes(s, key_of(3));
    REQUIRE(r.size() > 8);
    r[r.size() - 3] ^= std::byte{0x01};
    const mmry::bytes damaged(r.begin(), r.end());
    const auto report = s.repair();
    show(report);
    CHECK(report.ok());
    CHECK(report.quarantined == 1);
    CHECK_FALSE(s.contains(key_of(3)));
    const auto q = s.quarantine();
    REQUIRE(q.size() == 1);
    CHECK(q[0].name == key_of(3));
    CHECK(s.export_quarantined(q[0].id) == damaged);
    for (int i = 0; i < 50; ++i)
        if (i != 3)
            CHECK(s.template get<std::string>(key_of(i)) == "small value " + std::to_string(i));
    check_counters(s);
    CHECK(s.drop_quarantined(q[0].id));
    CHECK(s.verify().ok());
}

TEST_CASE("repair: an index entry failing its checksum is rewritten when its record is sound",
          "[repair]") {
    auto s = make_store<path_traits<mmry::path::latest>>();
    fill(s, 10);
    // The entry's logical size (a field the record also holds), changed past its checksum.
    const auto entry = store_access::index_entry(s, key_of(4));
    const std::uint64_t size = value_of(4).size();
    auto at = std::search(entry.begin(), entry.end(), reinterpret_cast<const std::byte*>(&size),
                          reinterpret_cast<const std::byte*>(&size) + 8);
    REQUIRE(at != entry.end());
    *at ^= std::byte{0x40};
    CHECK_THROWS_MATCHES(s.get(key_of(4)), mmry::error, is_error(errc::corrupt));
    const auto report = s.repair();
    show(report);
    CHECK(report.ok());
    CHECK(report.entries_restored == 1);
    CHECK(report.quarantined == 0);
    CHECK(s.get(key_of(4)) == value_of(4));
    CHECK(s.metadata(key_of(4))->logical_size == size);
    check_counters(s);
}

TEST_CASE("repair: an entry naming no sound record is dropped, and the pages it held come back",
          "[repair]") {
    auto s = make_store<path_traits<mmry::path::latest>>();
    fill(s, 10);
    const auto held_before = s.stats();
    // The first bytes of the entry's value: where the record lies.
    const auto entry = store_access::index_entry(s, key_of(2));
    REQUIRE(entry.size() > 9);
    entry[2] ^= std::byte{0x7f};
    const auto report = s.repair();
    show(report);
    CHECK(report.ok());
    CHECK(report.quarantined == 1);
    CHECK(report.pages_reclaimed >= 1);
    const auto q = s.quarantine();
    REQUIRE(q.size() == 1);
    CHECK(q[0].what == quarantined::kind::entry);
    CHECK(q[0].name == key_of(2));
    CHECK(q[0].size == 0);
    CHECK_FALSE(s.export_quarantined(q[0].id));
    CHECK_FALSE(s.contains(key_of(2)));
    for (int i = 0; i < 10; ++i)
        if (i != 2) CHECK(s.get(key_of(i)) == value_of(i));
    CHECK(s.stats().entries == held_before.entries - 1);
    CHECK(s.verify().ok());
    CHECK(s.drop_quarantined(q[0].id));
}

namespace {
struct folded : mmry::default_traits {
    using fold = mmry::fold::cdc<>;
};
struct folded_sealed : folded {
    using cipher = mmry::cipher::aes256_gcm;
};

/// Text that chunks well and compresses: words of a fixed vocabulary, deterministic per seed.
std::string text(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::string out;
    while (out.size() < n) {
        const int len = 2 + static_cast<int>(rng() % 9);
        for (int j = 0; j < len; ++j) out += static_cast<char>('a' + rng() % 26);
        out += rng() % 12 == 0 ? '\n' : ' ';
    }
    out.resize(n);
    return out;
}
}  // namespace

TEMPLATE_TEST_CASE(
    "repair: a damaged chunk takes the values naming it, and frees what only they "
    "named",
    "[repair][fold]", folded, folded_sealed) {
    auto s = make_store<TestType>();
    const std::string shared = text(200'000, 11), other = text(200'000, 12);
    const std::string alone = text(150'000, 13);
    s.put("a", shared);
    s.put("b", shared + other);
    s.put("c", alone);
    const auto chunks_before = s.stats().chunks;
    // Damage every chunk that "a" and "b" share and "c" does not: take a chunk of "a" (its
    // bundle lists its chunks after the manifest and pieces).
    const auto exported = *s.export_record("a");  // the bundle's spans point into it
    const auto bundle = mmry::format::parse_bundle(exported);
    REQUIRE(bundle.records.size() > 1 + bundle.pieces);
    const std::string victim(
        mmry::format::record_view::parse(bundle.records[1 + bundle.pieces], {}).key());
    bool flipped = false;
    for (auto r : store_access::chunk_records(s)) {
        if (std::string(mmry::format::record_view::parse(r, {}).key()) != victim) continue;
        r[r.size() - 20] ^= std::byte{0x10};
        flipped = true;
    }
    REQUIRE(flipped);
    const auto report = s.repair();
    show(report);
    CHECK(report.ok());
    CHECK(report.quarantined >= 3);  // the chunk, "a", "b" and the pieces naming the chunk
    CHECK(report.chunks_freed > 0);  // the chunks of "a" and "b" that "c" does not share
    CHECK_FALSE(s.contains("a"));
    CHECK_FALSE(s.contains("b"));
    CHECK(s.template get<std::string>("c") == alone);
    CHECK(s.stats().chunks < chunks_before);
    const auto q = s.quarantine();
    REQUIRE(q.size() == report.quarantined);
    CHECK(std::count_if(q.begin(), q.end(),
                        [](const auto& i) { return i.what == quarantined::kind::record; }) == 2);
    CHECK(s.verify().ok());
    // Dropping all of it leaves a store that still verifies, and "c" still reads.
    for (const auto& i : q) CHECK(s.drop_quarantined(i.id));
    CHECK(s.verify().ok());
    CHECK(s.template get<std::string>("c") == alone);
    s.put("a", shared);
    CHECK(s.template get<std::string>("a") == shared);
    CHECK(s.verify().ok());
}

TEST_CASE("repair: reference counts and counters are set to what the store holds", "[repair]") {
    auto s = make_store<folded>();
    s.put("k", text(300'000, 43));
    s.put("j", text(300'000, 43) + text(10'000, 44));
    const auto exported = *s.export_record("k");  // the bundle's spans point into it
    const auto first = mmry::format::parse_bundle(exported);
    const std::string id(
        mmry::format::record_view::parse(first.records[1 + first.pieces], {}).key());
    mmry::format::chunk_reference ref{};
    REQUIRE(id.size() >= ref.size());
    std::memcpy(ref.data(), id.data(), ref.size());
    REQUIRE(store_access::change_chunk_slot(
        s, ref, [](mmry::detail::chunk_slot& slot) { slot.refs += 3; }));
    REQUIRE_FALSE(s.verify().ok());
    const auto report = s.repair();
    show(report);
    CHECK(report.ok());
    CHECK(report.references_fixed == 1);
    CHECK(report.quarantined == 0);
    CHECK(mentions(report.actions, "was counted"));
    CHECK(s.get("k"));
    CHECK(s.verify().ok());
    // Erasing both values frees every chunk: the counts were right.
    s.erase("k");
    s.erase("j");
    CHECK(s.stats().chunks == 0);
    CHECK(s.verify().ok());
}

TEST_CASE("repair: the quarantine is kept in the store, across opening it again", "[repair]") {
    place<file> at;
    using traits = sealed_traits<file>;
    const auto opts = options_for<traits>(1 << 20);
    std::uint64_t id = 0;
    mmry::bytes damaged;
    {
        auto s = mmry::basic_store<traits>::create(at.name(), opts);
        fill(s, 12);
        damaged = damage_record(s, key_of(5));
        const auto report = s.repair();
        show(report);
        REQUIRE(report.ok());
        REQUIRE(report.quarantined == 1);
        id = s.quarantine().at(0).id;
    }
    auto s = mmry::basic_store<traits>::open(at.name(), opts);
    const auto q = s.quarantine();
    REQUIRE(q.size() == 1);
    CHECK(q[0].id == id);
    CHECK(q[0].name == key_of(5));
    CHECK(s.export_quarantined(id) == damaged);
    CHECK(s.verify().ok());
    // Compaction moves quarantined records with the rest.
    for (int i = 0; i < 12; i += 2) s.erase(key_of(i));
    s.compact();
    CHECK(s.export_quarantined(id) == damaged);
    CHECK(s.verify().ok());
    CHECK(s.drop_quarantined(id));
    CHECK(s.verify().ok());
}

TEST_CASE("repair: a damaged head is made again from the records its stored keys name",
          "[repair][history]") {
    auto s = make_store<path_traits<mmry::path::versioned>>();
    fill(s, 10);
    const auto before = seen(s, key_of(3));
    REQUIRE(before.size() == 2);
    const auto entry = store_access::head_entry(s, key_of(3));
    REQUIRE(entry.size() > 4);
    entry[entry.size() - 3] ^= std::byte{0x20};
    CHECK_THROWS_MATCHES(s.get(key_of(3)), mmry::error, is_error(errc::corrupt));
    const auto report = s.repair();
    show(report);
    CHECK(report.ok());
    CHECK(report.quarantined == 0);
    CHECK(mentions(report.actions, "dropped the key heads entry"));
    CHECK(mentions(report.actions, "back in the key heads"));
    CHECK(seen(s, key_of(3)) == before);
    CHECK(s.get(key_of(3)) == value_of(3, 1));
    for (int i = 0; i < 10; ++i) CHECK(s.get(key_of(i)) == value_of(i, 1));
    // The next put gets the next version number.
    s.put(key_of(3), value_of(3, 2));
    CHECK(s.metadata(key_of(3))->version.number == 3);
    check_counters(s);
}

TEST_CASE("repair: a record that a sound entry names outside the store is dropped, named",
          "[repair]") {
    auto s = make_store<path_traits<mmry::path::latest>>();
    fill(s, 10);
    // What someone who can write the files and compute checksums can do: an entry naming
    // pages past the store's end, and one naming another key's record.
    REQUIRE(store_access::change_index_entry(s, key_of(1), [](mmry::record_ref& r) {
        r.where = mmry::handle::from_raw(r.where.raw() + (std::uint64_t{1} << 40));
    }));
    mmry::record_ref other{};
    REQUIRE(
        store_access::change_index_entry(s, key_of(2), [&](mmry::record_ref& r) { other = r; }));
    REQUIRE(
        store_access::change_index_entry(s, key_of(3), [&](mmry::record_ref& r) { r = other; }));
    const auto report = s.repair();
    show(report);
    CHECK(report.ok());
    CHECK(report.quarantined == 2);
    CHECK(report.pages_reclaimed >= 1);  // key 3's own record, which nothing names now
    CHECK(mentions(report.actions, "which is not filed under it"));
    CHECK_FALSE(s.contains(key_of(1)));
    CHECK_FALSE(s.contains(key_of(3)));
    CHECK(s.get(key_of(2)) == value_of(2));
    const auto q = s.quarantine();
    REQUIRE(q.size() == 2);
    for (const auto& i : q) {
        CHECK(i.size == 0);  // nothing there to keep, or another key's record
        CHECK((i.name == key_of(1) || i.name == key_of(3)));
        CHECK((i.name == key_of(1) ? i.what == quarantined::kind::record
                                   : i.what == quarantined::kind::entry));
    }
    for (const auto& i : q) CHECK(s.drop_quarantined(i.id));
    CHECK(s.verify().ok());
    CHECK(s.get(key_of(2)) == value_of(2));
}

TEST_CASE("repair: a process killed while it repairs leaves the store as it was, or repaired",
          "[repair][processes]") {
    using traits = sealed_traits<file>;
    using S = mmry::basic_store<traits>;
    const std::string point =
        GENERATE(as<std::string>{}, "pages.lists_written", "pages.lists_done", "pages.committed");
    const int pass = GENERATE(1, 2);  // the repair's commit, or the one that frees lost pages
    INFO("the repairing process dies the " << pass << ". time it passes " << point);
    place<file> at;
    const auto opts = options_for<traits>(1 << 20);
    auto s = S::create(at.name(), opts);
    fill(s, 12);
    damage_record(s, key_of(4));
    // An entry naming no sound record too: its record's pages are lost once it goes.
    const auto entry = store_access::index_entry(s, key_of(8));
    REQUIRE(entry.size() > 9);
    entry[2] ^= std::byte{0x7f};
    const pid_t child = ::fork();
    if (child == 0) {
        static std::string where;
        static int left;
        where = point;
        left = pass;
        try {
            auto other = S::open(at.name(), opts);
            mmry::detail::fault_hook = [](std::string_view p) {
                if (p == where && --left == 0) ::raise(SIGKILL);
            };
            other.repair();
        } catch (...) {
        }
        ::_exit(0);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFSIGNALED(status));
    // Either nothing happened or the repair's commit did: repairing now finishes it, and each
    // damaged thing is in the quarantine once.
    const auto report = s.repair();
    show(report);
    CHECK(report.ok());
    const auto q = s.quarantine();
    CHECK(q.size() == 2);
    for (int i = 0; i < 12; ++i)
        if (i != 4 && i != 8) CHECK(s.get(key_of(i)) == value_of(i));
    CHECK_FALSE(s.contains(key_of(4)));
    CHECK_FALSE(s.contains(key_of(8)));
    CHECK(s.verify().ok());
    check_counters(s);
}
