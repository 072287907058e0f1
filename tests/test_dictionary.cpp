// Trained dictionaries (train_dictionary, recompress) and adaptive compression, through a store:
// what a user relies on is that small records shrink after training, that everything written
// before still reads, that the dictionary is kept like a value (encrypted when the store is), and
// that stats() tells what was used.

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <mmry/compress/adaptive.hpp>
#include <mmry/mmry.hpp>

#include "support.hpp"

namespace {

using namespace mmry_test;
using mmry::errc;

template <class Compressor = mmry::compress::zstd<3>, class Cipher = mmry::cipher::none,
          class Fold = mmry::fold::none, class Arena = mmry::arena::heap,
          class Path = mmry::path::latest>
struct dict_traits : mmry::default_traits {
    using arena = Arena;
    using compressor = Compressor;
    using cipher = Cipher;
    using fold = Fold;
    using path = Path;
};

/// A JSON-like record of 1 to 4 KiB: the same field names in the same order, varying values, as
/// records of one kind are.
std::string record(std::mt19937_64& rng) {
    static const char* cities[] = {"Lisbon", "Oslo", "Nairobi", "Lima", "Osaka", "Quebec"};
    static const char* states[] = {"pending", "shipped", "delivered", "returned"};
    std::string r = "{\"customer_id\":" + std::to_string(rng() % 1'000'000) + ",\"city\":\"" +
                    cities[rng() % 6] + "\",\"items\":[";
    const int items = 4 + static_cast<int>(rng() % 20);
    for (int i = 0; i < items; ++i) {
        if (i) r += ',';
        r += "{\"sku\":\"SKU-" + std::to_string(rng() % 100'000) +
             "\",\"quantity\":" + std::to_string(1 + rng() % 9) +
             ",\"unit_price_cents\":" + std::to_string(rng() % 100'000) + ",\"status\":\"" +
             states[rng() % 4] + "\",\"gift_wrap\":" + (rng() % 2 ? "true" : "false") + "}";
    }
    r += "],\"note\":\"";
    while (r.size() < 1024 + rng() % 3000) r += static_cast<char>('a' + rng() % 26);
    return r + "\"}";
}

/// Puts n records under prefix/0000...; returns them.
template <class Store>
std::vector<std::string> put_records(Store& s, std::string_view prefix, int n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) {
        out.push_back(record(rng));
        s.put(padded(prefix, i), out.back());
    }
    return out;
}

std::vector<std::string> keys(std::string_view prefix, int n) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) out.push_back(padded(prefix, i));
    return out;
}

/// logical / payload bytes of what a put of `records` added.
template <class Store>
double ratio_of_puts(Store& s, std::string_view prefix, int n, std::uint64_t seed) {
    const auto before = s.stats();
    put_records(s, prefix, n, seed);
    const auto after = s.stats();
    return static_cast<double>(after.logical_bytes - before.logical_bytes) /
           static_cast<double>(after.payload_bytes - before.payload_bytes);
}

}  // namespace

TEMPLATE_TEST_CASE("dictionary: small records compress better after training, and old ones read",
                   "[dictionary]", (dict_traits<>), (dict_traits<mmry::compress::zstd<3>, aes>),
                   (dict_traits<mmry::compress::adaptive<mmry::compress::ratio<300>>>)) {
    auto s = make_store<TestType>();
    const auto old = put_records(s, "old/", 1500, 1);
    CHECK(s.stats().dictionaries.empty());
    const double before = ratio_of_puts(s, "plain/", 300, 2);

    const auto id = s.train_dictionary(keys("old/", 1500));
    CHECK(id == 1);
    const auto st = s.stats();
    REQUIRE(st.dictionaries.size() == 1);
    CHECK(st.dictionaries[0].id == 1);
    CHECK(st.dictionaries[0].current);
    CHECK(st.dictionaries[0].bytes > 1000);
    CHECK(st.dictionaries[0].records == 0);
    const double after = ratio_of_puts(s, "fresh/", 300, 2);
    WARN("frame ratio of fresh records: " << before << "x without the dictionary, " << after
                                          << "x with it");
    CHECK(after > before * 1.3);
    CHECK(s.stats().dictionaries[0].records == 300);
    CHECK(s.metadata(padded("fresh/", 7))->dictionary == 1);
    CHECK(s.metadata(padded("old/", 7))->dictionary == 0);

    // Everything reads: written before training, and with the dictionary.
    for (int i = 0; i < 1500; i += 37)
        CHECK(s.template get<std::string>(padded("old/", i)) == old[static_cast<std::size_t>(i)]);
    std::mt19937_64 rng(2);
    for (int i = 0; i < 300; ++i) {
        const auto r = record(rng);
        if (i % 29 == 0) CHECK(s.template get<std::string>(padded("fresh/", i)) == r);
    }
    CHECK(s.read(padded("fresh/", 3), 10, 20));
    check_counters(s);
}

TEST_CASE("dictionary: recompress rewrites old records with the current dictionary",
          "[dictionary]") {
    using traits = dict_traits<mmry::compress::zstd<3>, aes, mmry::fold::none, mmry::arena::heap,
                               mmry::path::versioned>;
    auto s = make_store<traits>();
    const auto first = put_records(s, "r/", 1200, 3);
    const auto second = put_records(s, "r/", 1200, 4);  // version 2 of every key
    const auto meta_before = s.metadata("r/0005");
    const auto v1_before = s.metadata("r/0005", mmry::version{1});
    const auto payload_before = s.stats().payload_bytes;

    s.train_dictionary(keys("r/", 1200));
    const std::size_t rewritten = s.recompress();
    CHECK(rewritten == 2400);
    const auto st = s.stats();
    CHECK(st.dictionaries[0].records == 2400);
    CHECK(st.payload_bytes < payload_before * 3 / 4);
    CHECK(s.recompress() == 0);  // nothing left to do

    // Values, versions, hashes and times are as they were.
    const auto meta_after = s.metadata("r/0005");
    CHECK(meta_after->version == meta_before->version);
    CHECK(meta_after->content_hash == meta_before->content_hash);
    CHECK(meta_after->chain_hash == meta_before->chain_hash);
    CHECK(meta_after->created == meta_before->created);
    CHECK(meta_after->modified == meta_before->modified);
    CHECK(meta_after->dictionary == 1);
    CHECK(s.metadata("r/0005", mmry::version{1})->chain_hash == v1_before->chain_hash);
    for (int i = 0; i < 1200; i += 41) {
        const auto k = padded("r/", i);
        CHECK(s.get<std::string>(k) == second[static_cast<std::size_t>(i)]);
        CHECK(s.get<std::string>(k, mmry::version{1}) == first[static_cast<std::size_t>(i)]);
    }

    // A second dictionary: records keep decoding with the one they name until recompressed.
    CHECK(s.train_dictionary(keys("r/", 600)) == 2);
    s.put("r/new", first[0]);
    CHECK(s.metadata("r/new")->dictionary == 2);
    CHECK(s.get<std::string>("r/0001") == second[1]);
    CHECK(s.recompress() == 2400);
    const auto two = s.stats();
    REQUIRE(two.dictionaries.size() == 2);
    CHECK(two.dictionaries[0].records == 0);
    CHECK_FALSE(two.dictionaries[0].current);
    CHECK(two.dictionaries[1].records == 2401);
    CHECK(two.dictionaries[1].current);
    CHECK(s.get<std::string>("r/0001", mmry::version{1}) == first[1]);
    check_counters(s);
    // Per-dictionary use, recounted from the records' own metadata.
    std::map<std::uint32_t, std::uint64_t> uses;
    for (const auto& e : s.stored()) ++uses[e.meta.dictionary];
    for (const auto& d : two.dictionaries) CHECK(uses[d.id] == d.records);
}

TEST_CASE("dictionary: folded values and their chunks use and recompress with it", "[dictionary]") {
    using traits = dict_traits<mmry::compress::zstd<3>, aes, mmry::fold::cdc<>>;
    auto s = make_store<traits>();
    std::mt19937_64 rng(9);
    std::string big;
    while (big.size() < 200'000) big += record(rng);
    s.put("big", big);
    put_records(s, "r/", 1000, 5);
    s.train_dictionary(keys("r/", 1000));
    const auto chunks = s.stats().chunks;
    CHECK(s.recompress() == 1001 + chunks);
    CHECK(s.get<std::string>("big") == big);
    CHECK(s.read("big", 100'000, 5000)->size() == 5000);
    CHECK(s.stats().dictionaries[0].records == 1001 + chunks);
}

TEST_CASE("dictionary: training on too few samples is refused and changes nothing",
          "[dictionary]") {
    auto s = make_store<dict_traits<>>();
    put_records(s, "r/", 3, 1);
    const auto before = s.stats();
    CHECK_THROWS_MATCHES(s.train_dictionary(keys("r/", 3)), mmry::error,
                         is_error(errc::invalid_argument, "samples"));
    CHECK_THROWS_MATCHES(s.train_dictionary(std::vector<std::string>{"absent"}), mmry::error,
                         is_error(errc::invalid_argument));
    const auto after = s.stats();
    CHECK(after.dictionaries.empty());
    CHECK(after.stored_bytes == before.stored_bytes);
}

TEST_CASE("dictionary: train_dictionary with a predicate picks its samples by metadata",
          "[dictionary]") {
    auto s = make_store<dict_traits<>>();
    std::mt19937_64 rng(4);
    for (int i = 0; i < 1500; ++i) s.put(padded("j/", i), record(rng), {"application/json"});
    for (int i = 0; i < 50; ++i) s.put(padded("t/", i), std::string(3000, 'x'), {"text/plain"});
    const auto id = s.train_dictionary(
        [](const mmry::entry& e) { return e.meta.content_type == "application/json"; });
    CHECK(id == 1);
    CHECK(ratio_of_puts(s, "k/", 200, 8) > 4.0);
}

TEST_CASE("dictionary: an encrypted store keeps its dictionary encrypted", "[dictionary]") {
    using traits =
        dict_traits<mmry::compress::zstd<3>, aes, mmry::fold::none, mmry::arena::mapped_file>;
    const auto dir =
        std::filesystem::temp_directory_path() / ("mmry-test-dict-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    const auto key = mmry::key::generate();
    {
        auto s = mmry::basic_store<traits>::create(dir.string(), {.key = key});
        put_records(s, "r/", 1500, 6);
        s.train_dictionary(keys("r/", 1500));
        s.recompress();
        // The dictionary holds the records' field names; no segment may show them.
        for (const auto& f : std::filesystem::directory_iterator(dir)) {
            std::ifstream in(f.path(), std::ios::binary);
            const std::string bytes((std::istreambuf_iterator<char>(in)),
                                    std::istreambuf_iterator<char>());
            CHECK(bytes.find("unit_price_cents") == std::string::npos);
        }
    }
    {
        // Another process's view: the reopened store loads the dictionary from the segment.
        auto s = mmry::basic_store<traits>::open(dir.string(), {.key = key});
        std::mt19937_64 rng(6);
        CHECK(s.get<std::string>("r/0000") == record(rng));
        CHECK(s.stats().dictionaries.at(0).records == 1500);
        s.put("r/more", std::string("{\"customer_id\":1}"));
        CHECK(s.get<std::string>("r/more") == "{\"customer_id\":1}");
    }
    CHECK_THROWS_AS(mmry::basic_store<traits>::open(dir.string(), {.key = mmry::key::generate()}),
                    mmry::error);
    std::filesystem::remove_all(dir);
}

TEST_CASE("dictionary: a process uses the dictionary another process trained", "[dictionary]") {
    using traits =
        dict_traits<mmry::compress::zstd<3>, aes, mmry::fold::none, mmry::arena::shared_memory>;
    const std::string name = "mmry-test-dict-procs-" + std::to_string(::getpid());
    const auto key = mmry::key::generate();
    mmry::basic_store<traits>::remove(name);
    {
        auto s = mmry::basic_store<traits>::create(name, {.key = key});
        const auto before = s.stats();
        (void)before;
        put_records(s, "r/", 1500, 7);
        REQUIRE(in_child([&] {
                    auto c = mmry::basic_store<traits>::open(name, {.key = key});
                    c.train_dictionary(keys("r/", 1500));
                    std::mt19937_64 rng(70);
                    c.put("child", record(rng));
                    return c.metadata("child")->dictionary == 1 ? 0 : 2;
                }) == 0);
        std::mt19937_64 rng(70);
        CHECK(s.get<std::string>("child") == record(rng));
        s.put("parent", record(rng));
        CHECK(s.metadata("parent")->dictionary == 1);
        CHECK(s.stats().dictionaries.at(0).records == 2);
    }
    mmry::basic_store<traits>::remove(name);
}

TEST_CASE("dictionary: a damaged dictionary is an error for the records that need it",
          "[dictionary]") {
    using traits =
        dict_traits<mmry::compress::zstd<3>, aes, mmry::fold::none, mmry::arena::shared_memory>;
    const std::string name = "mmry-test-dict-damage-" + std::to_string(::getpid());
    const auto key = mmry::key::generate();
    mmry::basic_store<traits>::remove(name);
    {
        auto s = mmry::basic_store<traits>::create(name, {.key = key});
        put_records(s, "r/", 1500, 8);
        s.train_dictionary(keys("r/", 1500));
        s.put("with", std::string("{\"customer_id\":42,\"city\":\"Oslo\"}"));
        auto dict = mmry::detail::store_access::dictionary_record(s, 1);
        REQUIRE(dict.size() > 1000);
        dict[dict.size() - 40] ^= std::byte{4};
        // Another store object has no loaded copy: it reads the damaged record.
        auto t = mmry::basic_store<traits>::open(name, {.key = key});
        CHECK_THROWS_MATCHES(t.get("with"), mmry::error, is_integrity_error());
        CHECK(t.get<std::string>("r/0001"));  // written before training: no dictionary needed
        CHECK_THROWS_MATCHES(t.put("after", std::string("{}")), mmry::error, is_integrity_error());
        CHECK_FALSE(t.contains("after"));
        const auto report = t.verify();
        REQUIRE_FALSE(report.ok());
        CHECK(std::any_of(report.problems.begin(), report.problems.end(),
                          [](const auto& p) { return p.starts_with("dictionary 1: "); }));
    }
    mmry::basic_store<traits>::remove(name);
}

TEST_CASE("adaptive: never stores a frame larger than raw, and stats tell the levels",
          "[adaptive]") {
    using ratio = dict_traits<mmry::compress::adaptive<mmry::compress::ratio<250>>>;
    using speed = dict_traits<mmry::compress::adaptive<mmry::compress::speed<50>>>;
    auto s = make_store<ratio>({.frame_size = 4096});
    for (int i = 0; i < 20; ++i) s.put(padded("rand/", i), random_bytes(20'000, 10 + i));
    auto st = s.stats();
    CHECK(st.payload_bytes == st.logical_bytes);  // every frame raw
    REQUIRE(st.levels.size() == 1);
    CHECK(st.levels[0].level == 0);
    CHECK(st.levels[0].frames == st.frames);
    CHECK(st.compressed_frames == 0);

    std::mt19937_64 rng(11);
    std::vector<std::string> texts;
    for (int i = 0; i < 50; ++i) {
        texts.push_back(record(rng));
        s.put(padded("json/", i), texts.back());
    }
    st = s.stats();
    std::uint64_t by_level = 0;
    bool compressed = false;
    for (const auto& l : st.levels) {
        by_level += l.frames;
        compressed = compressed || l.level > 0;
    }
    CHECK(by_level == st.frames);
    CHECK(compressed);
    CHECK(st.payload_bytes < st.logical_bytes);
    for (int i = 0; i < 50; ++i)
        CHECK(s.get<std::string>(padded("json/", i)) == texts[static_cast<std::size_t>(i)]);
    check_counters(s);

    auto f = make_store<speed>();
    f.put("t", texts[0]);
    f.put("r", random_bytes(100'000, 1));
    CHECK(f.get<std::string>("t") == texts[0]);
    CHECK(f.get("r") == random_bytes(100'000, 1));
    CHECK(f.stats().payload_bytes <= f.stats().logical_bytes);
}
