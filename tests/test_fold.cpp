// fold::cdc: values cut into content-defined chunks, each distinct chunk stored once and counted;
// keyed chunk ids; range reads over chunks; bundles; truthful statistics.

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cryptopp/sha.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <mmry/fold/cdc.hpp>
#include <mmry/format/bundle.hpp>
#include <mmry/format/record.hpp>
#include <mmry/mmry.hpp>

#include "support.hpp"

namespace {

using namespace mmry_test;
namespace path = mmry::path;
using mmry::errc;

template <class Cipher, class Path = path::latest, class Index = mmry::index::hashed,
          class Fold = mmry::fold::cdc<>, class Compressor = mmry::compress::zstd<3>,
          class Arena = mmry::arena::heap>
struct fold_traits : mmry::default_traits {
    using arena = Arena;
    using index = Index;
    using compressor = Compressor;
    using cipher = Cipher;
    using path = Path;
    using fold = Fold;
};

using plain = fold_traits<no_cipher>;
using sealed = fold_traits<aes>;

/// Text of about n bytes: words of a 5000-word vocabulary in lines, as prose compresses (zstd
/// about 3x), deterministic for a seed.
std::string text(std::size_t n, std::uint64_t seed = 7) {
    std::mt19937_64 rng(seed);
    std::vector<std::string> words;
    for (int i = 0; i < 5000; ++i) {
        std::string w;
        const int len = 2 + static_cast<int>(rng() % 9);
        for (int j = 0; j < len; ++j) w += static_cast<char>('a' + rng() % 26);
        words.push_back(w);
    }
    std::string out;
    while (out.size() < n) {
        out += words[std::min<std::size_t>(rng() % 5000, rng() % 5000)];
        out += rng() % 12 == 0 ? '\n' : ' ';
    }
    out.resize(n);
    return out;
}

/// One small random edit: an insert, a delete or an overwrite of 1 to 50 bytes.
void edit(std::string& s, std::mt19937_64& rng) {
    const std::size_t at = rng() % s.size();
    const std::size_t n = 1 + rng() % 50;
    std::string fresh;
    for (std::size_t i = 0; i < n; ++i) fresh += static_cast<char>('a' + rng() % 26);
    switch (rng() % 3) {
        case 0:
            s.insert(at, fresh);
            break;
        case 1:
            s.erase(at, n);
            break;
        default:
            s.replace(at, std::min(n, s.size() - at), fresh);
    }
}

std::array<std::byte, 32> sha256(std::string_view s) {
    std::array<std::byte, 32> out;
    CryptoPP::SHA256().CalculateDigest(reinterpret_cast<CryptoPP::byte*>(out.data()),
                                       reinterpret_cast<const CryptoPP::byte*>(s.data()), s.size());
    return out;
}

/// The chunk records of an exported bundle (not its pieces), as (chunk id, chunk length), in the
/// order of the value.
std::vector<std::pair<std::string, std::uint64_t>> bundled_chunks(const mmry::bytes& bundle) {
    std::vector<std::pair<std::string, std::uint64_t>> out;
    const auto b = mmry::format::parse_bundle(bundle);
    for (std::size_t i = 1 + b.pieces; i < b.records.size(); ++i) {
        const auto v = mmry::format::record_view::parse(b.records[i], {});
        out.emplace_back(std::string(v.key()), v.header().logical_size);
    }
    return out;
}

/// stats() against a recount from the records themselves: every kept version's record (from
/// history and export_record), each distinct chunk once (from the bundles).
template <class Store>
void recount(Store& s) {
    std::uint64_t logical = 0, stored = 0, folded_values = 0, folded_logical = 0;
    std::map<std::string, std::uint64_t> chunks, pieces;  // id -> stored size of its record
    std::uint64_t chunk_logical = 0;
    for (const auto& e : s.list()) {
        for (const auto& h : s.history(e.key)) {
            logical += h.meta.logical_size;
            stored += h.meta.stored_size;
            if (!h.meta.folded) continue;
            ++folded_values;
            folded_logical += h.meta.logical_size;
            const auto b = s.export_record(e.key, h.meta.version);
            REQUIRE(b);
            const auto bundle = mmry::format::parse_bundle(*b);
            const auto& records = bundle.records;
            for (std::size_t i = 1; i < records.size(); ++i) {
                const auto v = mmry::format::record_view::parse(records[i], {});
                if (i <= bundle.pieces)
                    pieces.emplace(std::string(v.key()), records[i].size());
                else if (chunks.emplace(std::string(v.key()), records[i].size()).second)
                    chunk_logical += v.header().logical_size;
            }
        }
    }
    std::uint64_t chunk_stored = 0;
    for (const auto& [id, size] : chunks) chunk_stored += size;
    for (const auto& [id, size] : pieces) chunk_stored += size;
    const auto st = s.stats();
    CHECK(st.logical_bytes == logical);
    CHECK(st.folded_values == folded_values);
    CHECK(st.chunks == chunks.size());
    CHECK(st.pieces == pieces.size());
    CHECK(st.chunk_bytes == chunk_logical);
    CHECK(st.chunk_stored_bytes == chunk_stored);
    CHECK(st.folded_bytes == logical - folded_logical + chunk_logical);
    CHECK(st.stored_bytes == stored + chunk_stored);
    // verify() recounts the same from inside, decoding everything.
    const auto report = s.verify();
    for (const auto& p : report.problems) UNSCOPED_INFO(p);
    CHECK(report.ok());
    CHECK(report.chunks == chunks.size());
    CHECK(report.pieces == pieces.size());
}

}  // namespace

TEST_CASE("fold: 100 edited versions of a 1 MiB text cost at most 5 percent of storing them all",
          "[fold]") {
    using folded = fold_traits<aes, path::versioned>;
    using unfolded = fold_traits<aes, path::versioned, mmry::index::hashed, mmry::fold::none>;
    const auto key = mmry::key::generate();
    auto f = make_store<folded>({.key = key});
    auto u = make_store<unfolded>({.key = key});
    std::mt19937_64 rng(42);
    std::string doc = text(1 << 20);
    std::vector<std::array<std::byte, 32>> hashes;
    for (int v = 1; v <= 100; ++v) {
        if (v > 1)
            for (int e = 0; e < 2; ++e) edit(doc, rng);
        CHECK(f.put("doc", doc) == mmry::version{static_cast<std::uint64_t>(v)});
        u.put("doc", doc);
        hashes.push_back(sha256(doc));
    }
    const auto fs = f.stats(), us = u.stats();
    const double fraction =
        static_cast<double>(fs.stored_bytes) / static_cast<double>(us.stored_bytes);
    WARN("stored with folding " << fs.stored_bytes << " B, without " << us.stored_bytes
                                << " B: fraction " << fraction << "; dedup ratio "
                                << fs.dedup_ratio() << ", " << fs.chunks << " chunks");
    CHECK(fraction <= 0.05);
    CHECK(fs.logical_bytes == us.logical_bytes);
    CHECK(fs.dedup_ratio() > 20.0);
    // Every version byte for byte (compared by SHA-256, to keep the test's memory small).
    for (std::uint64_t v = 1; v <= 100; ++v) {
        const auto got = f.get<std::string>("doc", mmry::version{v});
        REQUIRE(got);
        CHECK(sha256(*got) == hashes[v - 1]);
    }
    recount(f);
}

TEMPLATE_TEST_CASE("fold: a value under two keys costs one copy, and erasing releases it", "[fold]",
                   plain, sealed, (fold_traits<aes, path::latest, mmry::index::ordered>),
                   (fold_traits<no_cipher, path::latest, mmry::index::hashed, mmry::fold::cdc<>,
                                mmry::compress::none>)) {
    auto s = make_store<TestType>();
    const std::string value = text(3 << 20, 3);
    s.put("first", value);
    const auto one = s.stats();
    CHECK(one.folded_values == 1);
    CHECK(one.chunks > 50);
    s.put("second", value);
    const auto two = s.stats();
    CHECK(two.chunks == one.chunks);
    CHECK(two.chunk_stored_bytes == one.chunk_stored_bytes);
    CHECK(two.logical_bytes == 2 * value.size());
    CHECK(two.folded_bytes == one.folded_bytes);
    // The second copy costs its manifest record only.
    CHECK(two.stored_bytes - one.stored_bytes < one.stored_bytes / 50);
    CHECK(s.template get<std::string>("second") == value);
    recount(s);

    REQUIRE(s.erase("first"));
    CHECK(s.stats().chunks == one.chunks);
    CHECK(s.template get<std::string>("second") == value);
    REQUIRE(s.erase("second"));
    const auto none = s.stats();
    CHECK(none.chunks == 0);
    CHECK(none.chunk_refs == 0);
    CHECK(none.stored_bytes == 0);
    CHECK(none.logical_bytes == 0);
    CHECK(none.folded_bytes == 0);
}

TEST_CASE("fold: many put and erase cycles leave no chunk and no arena block behind", "[fold]") {
    auto s = make_store<sealed>();
    s.put("anchor", text(100'000, 1));
    const auto before = s.stats();
    std::mt19937_64 rng(5);
    std::string doc = text(400'000, 2);
    for (int i = 0; i < 40; ++i) {
        edit(doc, rng);
        s.put("doc" + std::to_string(i % 3), doc);
        if (i % 4 == 3) s.erase("doc" + std::to_string(rng() % 3));
    }
    for (int i = 0; i < 3; ++i) s.erase("doc" + std::to_string(i));
    const auto after = s.stats();
    CHECK(after.chunks == before.chunks);
    CHECK(after.chunk_refs == before.chunk_refs);
    CHECK(after.stored_bytes == before.stored_bytes);
    CHECK(after.arena.free_bytes + after.stored_bytes >= before.arena.free_bytes);
    CHECK(s.template get<std::string>("anchor") == text(100'000, 1));
}

TEST_CASE("fold: chunk ids are SHA-256 without a cipher and keyed with one", "[fold]") {
    const std::string value = text(300'000, 9);
    SECTION("without a cipher, a chunk's id is the SHA-256 of its bytes") {
        auto s = make_store<plain>();
        s.put("k", value);
        const auto chunks = bundled_chunks(*s.export_record("k"));
        REQUIRE(chunks.size() > 3);
        std::uint64_t at = 0;
        // The first chunks in the bundle are the value's first chunks, in order (all distinct).
        for (std::size_t i = 0; i < 3; ++i) {
            const auto want = sha256(std::string_view(value).substr(at, chunks[i].second));
            CHECK(chunks[i].first == std::string(reinterpret_cast<const char*>(want.data()), 32));
            at += chunks[i].second;
        }
        // The same content in another unencrypted store: the same ids.
        auto t = make_store<plain>();
        t.put("k", value);
        CHECK(bundled_chunks(*t.export_record("k")) == chunks);
    }
    SECTION("with a cipher, ids differ between stores with different keys") {
        auto a = make_store<sealed>();
        auto b = make_store<sealed>();
        a.put("k", value);
        b.put("k", value);
        std::set<std::string> ids_a, ids_b;
        for (const auto& [id, n] : bundled_chunks(*a.export_record("k"))) ids_a.insert(id);
        for (const auto& [id, n] : bundled_chunks(*b.export_record("k"))) {
            ids_b.insert(id);
            const auto plain_id = sha256(std::string_view(value).substr(0, n));
            CHECK(id != std::string(reinterpret_cast<const char*>(plain_id.data()), 32));
        }
        for (const auto& id : ids_b) CHECK(ids_a.count(id) == 0);
        CHECK(a.template get<std::string>("k") == value);
        CHECK(b.template get<std::string>("k") == value);
    }
}

TEMPLATE_TEST_CASE("fold: range reads decode only the chunks they cover", "[fold]",
                   mmry::index::hashed, mmry::index::ordered) {
    using counting = fold_traits<mmry_test::aes, path::latest, TestType, mmry::fold::cdc<>>;
    auto s = make_store<counting>({.cache_bytes = 0});
    const std::string value = text(2 << 20, 4);
    s.put("big", value);
    const auto m = s.metadata("big");
    REQUIRE(m);
    CHECK(m->folded);
    CHECK(m->logical_size == value.size());
    CHECK(m->chunks > 60);
    for (std::uint64_t at : {0ull, 1ull, 65'535ull, 1'000'000ull, value.size() - 100ull}) {
        INFO("offset " << at);
        const auto got = s.read("big", at, 100);
        REQUIRE(got);
        CHECK(std::string(reinterpret_cast<const char*>(got->data()), got->size()) ==
              value.substr(at, 100));
    }
    const auto across = s.read("big", 12'345, 300'000);
    CHECK(std::string(reinterpret_cast<const char*>(across->data()), across->size()) ==
          value.substr(12'345, 300'000));
    CHECK(s.read("big", value.size(), 0)->empty());
    CHECK_THROWS_MATCHES(s.read("big", value.size() - 10, 11), mmry::error,
                         is_error(errc::out_of_range));
}

TEST_CASE("fold: a range read touches only the chunks it covers", "[fold]") {
    // Count decompressions: the manifest's frame, then one or two chunks.
    using traits =
        fold_traits<aes, path::latest, mmry::index::hashed, mmry::fold::cdc<>, counting_zstd>;
    auto s = make_store<traits>({.cache_bytes = 0});
    const std::string value = text(4 << 20, 8);
    s.put("big", value);
    const auto chunks = s.metadata("big")->chunks;
    REQUIRE(chunks > 100);
    counting_zstd::decompressions = 0;
    const auto got = s.read("big", 2'000'000, 100);
    CHECK(std::string(reinterpret_cast<const char*>(got->data()), 100) ==
          value.substr(2'000'000, 100));
    // The manifest's frame, a piece of it, and the one or two chunks the range covers.
    CHECK(counting_zstd::decompressions <= 4);
    counting_zstd::decompressions = 0;
    CHECK(s.template get<std::string>("big") == value);
    // Every chunk but the last is at least the chunker's minimum and compresses; the last one's
    // size depends on the cut points, which an encrypted store derives from its random key, and
    // a tail of a few bytes is kept raw.
    CHECK(counting_zstd::decompressions >= chunks - 1);
}

TEMPLATE_TEST_CASE("fold: a damaged chunk is an error for the values that use it only", "[fold]",
                   plain, sealed) {
    auto s = make_store<TestType>();
    const std::string shared = text(200'000, 11);
    const std::string other = text(200'000, 12);
    s.put("a", shared);
    s.put("b", shared + other);
    s.put("c", other.substr(0, 50'000) + text(150'000, 13));
    const auto before = s.stats();
    auto records = mmry::detail::store_access::chunk_records(s);
    REQUIRE(records.size() == before.chunks + before.pieces);
    // Find a chunk of "a" (the first chunk of its bundle) and flip one byte of its payload.
    const auto a_chunks = bundled_chunks(*s.export_record("a"));
    bool flipped = false;
    for (auto r : records) {
        const auto v = mmry::format::record_view::parse(r, {});
        if (std::string(v.key()) != a_chunks.front().first) continue;
        r[r.size() - 20] ^= std::byte{0x10};
        flipped = true;
    }
    REQUIRE(flipped);
    CHECK_THROWS_MATCHES(s.get("a"), mmry::error, is_integrity_error());
    CHECK_THROWS_MATCHES(s.get("b"), mmry::error, is_integrity_error());
    CHECK_THROWS_MATCHES(s.read("a", 0, 10), mmry::error, is_integrity_error());
    // A range that avoids the chunk still reads, and so do values that do not use it.
    CHECK(s.read("a", shared.size() - 10, 10));
    CHECK(s.template get<std::string>("c") == other.substr(0, 50'000) + text(150'000, 13));
    // Metadata needs no chunk.
    CHECK(s.metadata("a")->logical_size == shared.size());
    // Erasing a damaged value still releases its chunks.
    s.erase("a");
    s.erase("b");
    s.erase("c");
    CHECK(s.stats().chunks == 0);
}

TEMPLATE_TEST_CASE("fold: a chunk record swapped for another is detected", "[fold]", plain,
                   sealed) {
    auto s = make_store<TestType>();
    s.put("a", text(300'000, 21));
    auto records = mmry::detail::store_access::chunk_records(s);
    REQUIRE(records.size() >= 2);
    // Two chunks of the same size class cannot be swapped in place unless equal in size: swap
    // payload bytes of two records instead, keeping each record's head.
    auto x = records[0], y = records[1];
    const auto n = std::min(x.size(), y.size());
    for (std::size_t i = n - 16; i < n; ++i) std::swap(x[i], y[i]);
    CHECK_THROWS_MATCHES(s.get("a"), mmry::error, is_integrity_error());
}

TEMPLATE_TEST_CASE("fold: values below the minimum chunk size are stored whole", "[fold]", plain,
                   sealed) {
    auto s = make_store<TestType>();
    s.put("small", std::string(100, 'x'));
    s.put("empty", std::string());
    s.put("edge", text(mmry::fold::cdc<>::min_size - 1));
    CHECK(s.stats().folded_values == 0);
    CHECK_FALSE(s.metadata("small")->folded);
    s.put("at", text(mmry::fold::cdc<>::min_size));
    CHECK(s.metadata("at")->folded);
    CHECK(s.metadata("at")->chunks == 1);
    CHECK(s.template get<std::string>("at") == text(mmry::fold::cdc<>::min_size));
    CHECK(s.template get<std::string>("empty") == "");
    recount(s);
}

TEMPLATE_TEST_CASE("fold: versions of a key share chunks and pruning releases them", "[fold]",
                   mmry::index::hashed, mmry::index::ordered) {
    using traits = fold_traits<aes, path::versioned, TestType>;
    auto s = make_store<traits>();
    std::mt19937_64 rng(3);
    std::string doc = text(500'000, 31);
    std::vector<std::string> versions;
    for (int v = 0; v < 10; ++v) {
        if (v) edit(doc, rng);
        s.put("doc", doc);
        versions.push_back(doc);
    }
    recount(s);
    const auto full = s.stats();
    CHECK(s.prune("doc", mmry::retention{.keep_last = 2}) == 8);
    const auto pruned = s.stats();
    CHECK(pruned.chunks < full.chunks);
    CHECK(pruned.logical_bytes == versions[8].size() + versions[9].size());
    CHECK(s.template get<std::string>("doc", mmry::version{9}) == versions[8]);
    CHECK(s.template get<std::string>("doc") == versions[9]);
    recount(s);
    s.erase("doc");
    CHECK(s.stats().chunks == 0);
    CHECK(s.stats().stored_bytes == 0);
}

TEMPLATE_TEST_CASE("fold: export and import of a folded value as a bundle", "[fold]", plain,
                   sealed) {
    auto s = make_store<TestType>();
    const std::string value = text(400'000, 41);
    s.put("k", value);
    s.put("twin", value);
    const auto bundle = s.export_record("k");
    REQUIRE(bundle);
    REQUIRE(mmry::format::is_bundle(*bundle));
    SECTION("a bundle brings back an erased value and its chunks") {
        s.erase("k");
        s.erase("twin");
        CHECK(s.stats().chunks == 0);
        s.import_record(*bundle);
        CHECK(s.template get<std::string>("k") == value);
        recount(s);
    }
    SECTION("a bundle whose chunks the store has shares them") {
        const auto before = s.stats();
        s.import_record(*bundle);
        CHECK(s.template get<std::string>("k") == value);
        CHECK(s.stats().chunks == before.chunks);
        recount(s);
    }
    SECTION("a damaged bundle is refused and the store is unchanged") {
        s.erase("k");
        s.erase("twin");
        const auto before = s.stats();
        auto bad = *bundle;
        bad[bad.size() - 30] ^= std::byte{1};
        CHECK_THROWS_MATCHES(s.import_record(bad), mmry::error, is_integrity_error());
        auto truncated = *bundle;
        truncated.resize(truncated.size() - 1);
        CHECK_THROWS_MATCHES(s.import_record(truncated), mmry::error,
                             is_error(errc::corrupt, "bundle"));
        // A bundle missing one of its chunks.
        auto records = mmry::format::parse_bundle(*bundle);
        records.records.pop_back();
        CHECK_THROWS_MATCHES(s.import_record(mmry::format::write_bundle(records)), mmry::error,
                             is_error(errc::corrupt, "neither in the bundle nor in the store"));
        // A bundle with a chunk of another value, which its manifest does not name.
        s.put("z", text(100'000, 77));
        const auto z = *s.export_record("z");
        s.erase("z");
        auto extra = mmry::format::parse_bundle(*bundle);
        extra.records.push_back(mmry::format::parse_bundle(z).records.back());
        CHECK_THROWS_MATCHES(s.import_record(mmry::format::write_bundle(extra)), mmry::error,
                             is_error(errc::corrupt, "its manifest does not name"));
        const auto after = s.stats();
        CHECK(after.chunks == before.chunks);
        CHECK(after.stored_bytes == before.stored_bytes);
        CHECK_FALSE(s.contains("k"));
    }
    SECTION("a bundle into another store is refused") {
        auto t = make_store<TestType>();
        CHECK_THROWS_AS(t.import_record(*bundle), mmry::error);
        CHECK(t.stats().chunks == 0);
    }
}

TEST_CASE("fold: verify finds a chunk whose length is not the one its manifest names", "[fold]") {
    auto s = make_store<plain>();
    const std::string value = text(300'000, 43);
    s.put("k", value);
    REQUIRE(s.verify().ok());
    // The first chunk of "k", as its bundle carries it (the manifest, then the chunks).
    const auto first = bundled_chunks(*s.export_record("k")).front().first;
    mmry::format::chunk_reference ref{};
    REQUIRE(first.size() >= ref.size());
    std::memcpy(ref.data(), first.data(), ref.size());
    REQUIRE(mmry::detail::store_access::change_chunk_slot(
        s, ref, [](mmry::detail::chunk_slot& slot) { slot.ref.logical_size += 1; }));
    const auto report = s.verify();
    CHECK_FALSE(report.ok());
    const bool named = std::any_of(report.problems.begin(), report.problems.end(), [](auto& p) {
        return p.find("but is named with length") != std::string::npos;
    });
    CHECK(named);
    REQUIRE(mmry::detail::store_access::change_chunk_slot(
        s, ref, [](mmry::detail::chunk_slot& slot) { slot.ref.logical_size -= 1; }));
    CHECK(s.verify().ok());
}

TEST_CASE("fold: a failed put leaves chunks and counters as they were", "[fold]") {
    using shm = fold_traits<no_cipher, path::latest, mmry::index::hashed, mmry::fold::cdc<>,
                            mmry::compress::none, mmry::arena::shared_memory>;
    const std::string name = "mmry-test-fold-limit-" + std::to_string(::getpid());
    mmry::basic_store<shm>::remove(name);
    {
        auto s = mmry::basic_store<shm>::create(name, {.capacity = 4 << 20, .max_size = 6 << 20});
        s.put("a", text(1 << 20, 51));
        const auto before = s.stats();
        // Random bytes do not compress: 8 MiB cannot fit.
        CHECK_THROWS_MATCHES(s.put("big", random_bytes(8 << 20, 3)), mmry::error,
                             is_error(errc::limit_exceeded));
        const auto after = s.stats();
        CHECK(after.chunks == before.chunks);
        CHECK(after.chunk_refs == before.chunk_refs);
        CHECK(after.stored_bytes == before.stored_bytes);
        // (The arena may keep a segment it grew for the put: reserved, empty.)
        CHECK_FALSE(s.contains("big"));
        CHECK(s.template get<std::string>("a") == text(1 << 20, 51));
    }
    mmry::basic_store<shm>::remove(name);
}

TEST_CASE("fold: two processes folding into one shared store share chunks", "[fold][shared]") {
    using shm = fold_traits<aes, path::latest, mmry::index::hashed, mmry::fold::cdc<>,
                            mmry::compress::zstd<3>, mmry::arena::shared_memory>;
    const std::string name = "mmry-test-fold-procs-" + std::to_string(::getpid());
    const auto key = mmry::key::generate();
    mmry::basic_store<shm>::remove(name);
    const std::string value = text(1 << 20, 61);
    {
        auto s = mmry::basic_store<shm>::create(name, {.key = key});
        s.put("parent", value);
        const auto one = s.stats();
        CHECK(one.pieces > 0);
        CHECK(in_child([&] {
                  auto c = mmry::basic_store<shm>::open(name, {.key = key});
                  c.put("child", value);
                  return c.template get<std::string>("parent") == value ? 0 : 2;
              }) == 0);
        const auto st = s.stats();
        CHECK(s.template get<std::string>("child") == value);
        CHECK(st.folded_values == 2);
        CHECK(st.chunks == one.chunks);
        CHECK(st.pieces == one.pieces);
        CHECK(st.chunk_stored_bytes == one.chunk_stored_bytes);
        CHECK(st.chunk_refs > one.chunk_refs);
        CHECK(st.folded_bytes == value.size());
        s.erase("parent");
        s.erase("child");
        CHECK(s.stats().chunks == 0);
    }
    mmry::basic_store<shm>::remove(name);
}

TEMPLATE_TEST_CASE(
    "fold: every flipped byte of a folded record or a chunk is an error, not a crash",
    "[fold][tamper]",
    (fold_traits<no_cipher, path::latest, mmry::index::hashed, mmry::fold::cdc<256, 1024, 4096>>),
    (fold_traits<aes, path::latest, mmry::index::hashed, mmry::fold::cdc<256, 1024, 4096>>)) {
    auto s = make_store<TestType>({.cache_bytes = 0});  // every get decodes
    const std::string value = text(GENERATE(6000, 100'000), 91);
    s.put("v", value);
    REQUIRE(s.metadata("v")->folded);
    INFO("a value of " << value.size() << " bytes in " << s.metadata("v")->chunks << " chunks");
    auto check_all_bytes = [&](std::span<std::byte> target) {
        for (std::size_t i = 0; i < target.size(); ++i) {
            for (std::byte bit : {std::byte{0x01}, std::byte{0x80}}) {
                target[i] ^= bit;
                INFO("byte " << i << " of " << target.size());
                CHECK_THROWS_MATCHES(s.get("v"), mmry::error, is_integrity_error());
                CHECK_THROWS_AS(s.read("v", 0, value.size()), mmry::error);
                target[i] ^= bit;
            }
        }
        CHECK(s.template get<std::string>("v") == value);
    };
    SECTION("the folded record") {
        check_all_bytes(mmry::detail::store_access::record_bytes(s, "v"));
    }
    SECTION("a chunk or a piece record") {
        auto chunks = mmry::detail::store_access::chunk_records(s);
        REQUIRE(chunks.size() >= 2);
        check_all_bytes(chunks[1]);
        // The pieces of a manifest of depth 1 (values of more than 64 chunks).
        const auto exported = *s.export_record("v");
        const auto b = mmry::format::parse_bundle(exported);
        for (std::size_t i = 1; i <= std::min<std::size_t>(b.pieces, 2); ++i) {
            const auto id = mmry::format::record_view::parse(b.records[i], {}).key();
            for (auto r : chunks)
                if (mmry::format::record_view::parse(r, {}).key() == id) check_all_bytes(r);
        }
    }
    SECTION("a value with a damaged chunk is still erased, and its chunks released") {
        // A chunk of the value's data (the last record of its bundle), not a piece.
        const auto exported = *s.export_record("v");
        const auto b = mmry::format::parse_bundle(exported);
        const auto id = mmry::format::record_view::parse(b.records.back(), {}).key();
        for (auto r : mmry::detail::store_access::chunk_records(s))
            if (mmry::format::record_view::parse(r, {}).key() == id)
                r[r.size() / 2] ^= std::byte{1};
        CHECK(s.erase("v"));
        CHECK(s.stats().chunks == 0);
        CHECK(s.stats().pieces == 0);
        CHECK(s.verify().ok());
    }
}

TEMPLATE_TEST_CASE("fold: verify finds damaged records, missing and leaked chunks",
                   "[fold][verify]", plain, sealed) {
    auto s = make_store<TestType>({.cache_bytes = 0});
    const std::string value = text(600'000, 81);
    s.put("a", value);
    s.put("b", text(50'000, 82));
    auto clean = s.verify();
    CHECK(clean.ok());
    CHECK(clean.records == 2);
    CHECK(clean.chunks == s.stats().chunks);
    CHECK(clean.pieces == s.stats().pieces);
    auto holds = [](const mmry::verify_report& r, std::string_view text) {
        for (const auto& p : r.problems)
            if (p.find(text) != std::string::npos) return true;
        return false;
    };
    SECTION("a flipped byte in a chunk") {
        auto chunks = mmry::detail::store_access::chunk_records(s);
        chunks[2][chunks[2].size() - 5] ^= std::byte{0x40};
        const auto r = s.verify();
        REQUIRE_FALSE(r.ok());
        CHECK(holds(r, "chunk "));
        CHECK(r.chunks + r.pieces == clean.chunks + clean.pieces - 1);
    }
    SECTION("a damaged folded record, and the chunks it leaks when erased") {
        auto record = mmry::detail::store_access::record_bytes(s, "a");
        record[record.size() - 3] ^= std::byte{1};
        const auto r = s.verify();
        REQUIRE_FALSE(r.ok());
        CHECK(holds(r, "stored key 'a'"));
        // Erasing a value whose manifest cannot be read cannot release its chunks: verify says
        // which chunks are kept that nothing names.
        CHECK(s.erase("a"));
        const auto after = s.verify();
        CHECK(holds(after, "is kept but nothing names it"));
        CHECK(s.template get<std::string>("b") == text(50'000, 82));
    }
    SECTION("a damaged piece: its chunks cannot be released, and verify names them") {
        const auto exported = *s.export_record("a");
        const auto b = mmry::format::parse_bundle(exported);
        REQUIRE(b.pieces > 0);
        const auto id = mmry::format::record_view::parse(b.records[1], {}).key();
        for (auto r : mmry::detail::store_access::chunk_records(s))
            if (mmry::format::record_view::parse(r, {}).key() == id)
                r[r.size() - 2] ^= std::byte{1};
        CHECK_THROWS_MATCHES(s.get("a"), mmry::error, is_integrity_error());
        CHECK(holds(s.verify(), "chunk "));
        CHECK(s.erase("a"));
        CHECK(holds(s.verify(), "is kept but nothing names it"));
    }
}
