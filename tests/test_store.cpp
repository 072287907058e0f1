// basic_store over the policy matrix: round trips, metadata, overwrite and erase, statistics,
// range reads, typed values, and the errors of bad keys and bad options.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "support.hpp"

using mmry::errc;
using mmry_test::frames_of;
using mmry_test::is_error;
using mmry_test::matrix;
using mmry_test::random_bytes;
using mmry_test::redundant_bytes;

namespace {

constexpr std::size_t small_frame = 4096;

/// A clock the test moves by hand.
struct manual_clock {
    std::shared_ptr<std::chrono::system_clock::time_point> now =
        std::make_shared<std::chrono::system_clock::time_point>(std::chrono::seconds(1'000'000));
    std::chrono::system_clock::time_point operator()() const { return *now; }
    void advance(std::chrono::nanoseconds d) const { *now += d; }
};

/// Sums the metadata of every entry, independently of the store's own counters.
struct recount {
    std::uint64_t entries = 0, logical = 0, stored = 0, frames = 0, compressed_frames = 0;
};
template <class Store>
recount recount_entries(const Store& s) {
    recount r;
    for (const auto& e : s.list()) {
        ++r.entries;
        r.logical += e.meta.logical_size;
        r.stored += e.meta.stored_size;
        r.frames += e.meta.frames;
        r.compressed_frames += e.meta.compressed_frames;
    }
    return r;
}

template <class Store>
void check_stats_match_entries(const Store& s) {
    const auto st = s.stats();
    const auto r = recount_entries(s);
    CHECK(st.entries == s.size());
    CHECK(st.entries == r.entries);
    CHECK(st.logical_bytes == r.logical);
    CHECK(st.stored_bytes == r.stored);
    CHECK(st.frames == r.frames);
    CHECK(st.compressed_frames == r.compressed_frames);
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("store: values round trip byte-exact around frame boundaries", "[store]",
                        matrix) {
    auto s = mmry_test::make_store<TestType>({.frame_size = small_frame});
    const bool random = GENERATE(true, false);
    const std::size_t size = GENERATE(as<std::size_t>{}, 0, 1, small_frame - 1, small_frame,
                                      small_frame + 1, 3 * small_frame + 5);
    INFO((random ? "random" : "redundant") << " value of " << size << " bytes");
    const auto value = random ? random_bytes(size) : redundant_bytes(size);

    s.put("k", value);
    const auto got = s.get("k");
    REQUIRE(got);
    CHECK(*got == value);

    const auto m = s.metadata("k");
    REQUIRE(m);
    CHECK(m->logical_size == size);
    CHECK(m->frames == frames_of(size, small_frame));
    CHECK(m->frame_size == small_frame);
    CHECK(m->encrypted == mmry_test::encrypted<TestType>);
    // Frames of at least 64 redundant bytes compress; frames of random bytes and frames of fewer
    // than 16 bytes (the last one here) never do: they are kept raw.
    std::uint32_t expect_compressed = 0;
    if (!random && mmry_test::compressing<TestType>)
        for (std::uint64_t i = 0; i < m->frames; ++i)
            if (std::min<std::uint64_t>(small_frame, size - i * small_frame) >= 64)
                ++expect_compressed;
    CHECK(m->compressed_frames == expect_compressed);
    CHECK(m->compressed == (expect_compressed > 0));

    const auto exported = s.export_record("k");
    REQUIRE(exported);
    CHECK(m->stored_size == exported->size());
    if (m->compressed) CHECK(m->stored_size < size);
    CHECK(s.stats().stored_bytes == m->stored_size);
    CHECK(s.stats().logical_bytes == size);
}

TEMPLATE_LIST_TEST_CASE("store: range reads decode exactly the bytes asked for", "[store][read]",
                        matrix) {
    auto s = mmry_test::make_store<TestType>({.frame_size = small_frame});
    const std::size_t size = 4 * small_frame + 100;
    const auto value =
        GENERATE(as<bool>{}, true, false) ? random_bytes(size) : redundant_bytes(size);
    s.put("video/7", value);

    std::vector<std::size_t> offsets{0, 1, size - 1, size};
    for (std::size_t k = 1; k <= 4; ++k)
        for (std::size_t at : {k * small_frame - 1, k * small_frame, k * small_frame + 1})
            offsets.push_back(at);
    for (std::size_t offset : offsets) {
        for (std::size_t length : {std::size_t{0}, std::size_t{1}, std::size_t{2}, small_frame - 1,
                                   small_frame, small_frame + 2, 2 * small_frame + 1, size}) {
            if (offset + length > size) length = size - offset;
            INFO("offset " << offset << ", length " << length);
            const auto part = s.read("video/7", offset, length);
            REQUIRE(part);
            CHECK(*part == mmry_test::slice(value, offset, length));
        }
    }
    const auto whole = s.read("video/7", 0, size);
    REQUIRE(whole);
    CHECK(*whole == value);
}

TEMPLATE_LIST_TEST_CASE("store: a read past the end throws out_of_range naming the key",
                        "[store][read]", matrix) {
    auto s = mmry_test::make_store<TestType>({.frame_size = small_frame});
    s.put("video/7", random_bytes(small_frame + 10));
    const std::uint64_t size = small_frame + 10;

    CHECK_THROWS_MATCHES(s.read("video/7", 0, size + 1), mmry::error,
                         is_error(errc::out_of_range, "'video/7'"));
    CHECK_THROWS_MATCHES(s.read("video/7", size, 1), mmry::error,
                         is_error(errc::out_of_range, "'video/7'"));
    CHECK_THROWS_MATCHES(s.read("video/7", size + 1, 0), mmry::error,
                         is_error(errc::out_of_range, "'video/7'"));
    // Lengths that would overflow offset + length are refused too.
    CHECK_THROWS_MATCHES(s.read("video/7", 5, UINT64_MAX), mmry::error,
                         is_error(errc::out_of_range, "'video/7'"));
    CHECK_THROWS_MATCHES(s.read("video/7", UINT64_MAX, 2), mmry::error,
                         is_error(errc::out_of_range, "'video/7'"));
    const auto at_end = s.read("video/7", size, 0);
    REQUIRE(at_end);
    CHECK(at_end->empty());
    CHECK_FALSE(s.read("video/8", 0, 1));
    CHECK_FALSE(s.read("video/8", 0, 0));
}

TEMPLATE_LIST_TEST_CASE("store: overwrite keeps the created time and updates the modified time",
                        "[store]", matrix) {
    const manual_clock clock;
    auto s = mmry_test::make_store<TestType>({.frame_size = small_frame, .clock = clock});
    const auto t0 = clock();
    s.put("user/42", redundant_bytes(5000));
    const auto first = s.metadata("user/42");
    REQUIRE(first);
    CHECK(first->created == t0);
    CHECK(first->modified == t0);

    clock.advance(std::chrono::seconds(90) + std::chrono::nanoseconds(7));
    const auto replacement = random_bytes(300, 9);
    s.put("user/42", replacement);
    const auto second = s.metadata("user/42");
    REQUIRE(second);
    CHECK(second->created == t0);
    CHECK(second->modified == clock());
    CHECK(second->seq > first->seq);
    CHECK(second->logical_size == 300);
    CHECK(s.get("user/42") == replacement);
    CHECK(s.size() == 1);
    check_stats_match_entries(s);

    // After an erase the key starts a new history.
    s.erase("user/42");
    clock.advance(std::chrono::seconds(5));
    s.put("user/42", replacement);
    CHECK(s.metadata("user/42")->created == clock());
}

TEMPLATE_LIST_TEST_CASE("store: erase returns what it removed, and nullopt for an absent key",
                        "[store]", matrix) {
    auto s = mmry_test::make_store<TestType>({.frame_size = small_frame});
    const auto value = redundant_bytes(2 * small_frame + 3);
    s.put("a", value);
    s.put("b", "bee");
    CHECK(s.contains("a"));
    CHECK(s.size() == 2);
    const auto before = s.metadata("a");

    const auto removed = s.erase("a");
    REQUIRE(removed);
    CHECK(removed->logical_size == value.size());
    CHECK(removed->stored_size == before->stored_size);
    CHECK(removed->frames == 3);
    CHECK(removed->seq == before->seq);
    CHECK_FALSE(s.get("a"));
    CHECK_FALSE(s.metadata("a"));
    CHECK_FALSE(s.export_record("a"));
    CHECK_FALSE(s.contains("a"));
    CHECK(s.size() == 1);

    CHECK_FALSE(s.erase("a"));
    CHECK_FALSE(s.erase("never"));
    CHECK_FALSE(s.get("never"));
    CHECK(s.template get<std::string>("b") == "bee");

    const auto st = s.stats();
    CHECK(st.puts == 2);
    CHECK(st.erases == 1);
    check_stats_match_entries(s);
}

TEMPLATE_LIST_TEST_CASE("store: stats count exactly what the entries hold", "[store][stats]",
                        matrix) {
    auto s = mmry_test::make_store<TestType>({.frame_size = small_frame});
    const auto blocks_of_empty_store = s.stats().arena.blocks;  // the control pages
    CHECK(s.stats().entries == 0);
    CHECK(s.stats().stored_bytes == 0);
    CHECK(s.stats().ratio() == 0.0);

    for (int i = 0; i < 20; ++i) {
        const auto key = "doc/" + std::to_string(i);
        if (i % 2)
            s.put(key, redundant_bytes(static_cast<std::size_t>(i) * 1000));
        else
            s.put(key, random_bytes(static_cast<std::size_t>(i) * 700, static_cast<unsigned>(i)));
    }
    s.put("doc/3", random_bytes(10));  // overwrite
    s.erase("doc/4");
    s.erase("doc/5");

    const auto st = s.stats();
    CHECK(st.entries == 18);
    CHECK(st.puts == 21);
    CHECK(st.erases == 2);
    CHECK(st.arena.blocks >= blocks_of_empty_store + 18);  // a page or more per record
    CHECK(st.arena.segments >= 1);
    CHECK(st.arena.free_bytes < st.arena.reserved_bytes);
    check_stats_match_entries(s);
    CHECK(st.ratio() ==
          Approx(static_cast<double>(st.logical_bytes) / static_cast<double>(st.stored_bytes)));
    if (mmry_test::compressing<TestType>)
        CHECK(st.ratio() > 1.0);
    else
        CHECK(st.ratio() < 1.0);  // framing, checksums and tags cost bytes

    // Only redundant data: zstd saves a lot, nothing else can.
    auto r = mmry_test::make_store<TestType>({.frame_size = small_frame});
    r.put("text", redundant_bytes(64 * 1024));
    if (mmry_test::compressing<TestType>)
        CHECK(r.stats().ratio() > 10.0);
    else
        CHECK(r.stats().ratio() < 1.0);

    // Erasing everything brings every counter back to zero.
    for (const auto& e : s.list()) s.erase(e.key);
    const auto empty = s.stats();
    CHECK(empty.entries == 0);
    CHECK(empty.logical_bytes == 0);
    CHECK(empty.stored_bytes == 0);
    CHECK(empty.frames == 0);
    CHECK(empty.compressed_frames == 0);
    // Every record's pages are free again; what stays is the tables' few pages (empty buckets,
    // the counters, the free lists' own pages).
    CHECK(empty.arena.blocks <= blocks_of_empty_store + 24);
    CHECK(empty.arena.blocks < st.arena.blocks);
    CHECK(s.verify().ok());
}

TEMPLATE_LIST_TEST_CASE("store: keys are bytes, not C strings", "[store]", matrix) {
    auto s = mmry_test::make_store<TestType>({.frame_size = small_frame});
    const std::string with_nul("a\0b", 3);
    s.put(with_nul, "nul inside");
    s.put("a", "just a");
    const std::string longest(mmry::format::max_key_size, 'k');
    s.put(longest, "long key");
    CHECK(s.template get<std::string>(with_nul) == "nul inside");
    CHECK(s.template get<std::string>("a") == "just a");
    CHECK(s.template get<std::string>(longest) == "long key");
    CHECK(s.size() == 3);
}

TEMPLATE_LIST_TEST_CASE("store: empty and oversized keys are refused", "[store][errors]", matrix) {
    auto s = mmry_test::make_store<TestType>({.frame_size = small_frame});
    const std::string too_long(mmry::format::max_key_size + 1, 'k');
    CHECK_THROWS_MATCHES(s.put("", "v"), mmry::error,
                         is_error(errc::invalid_argument, "the key is empty"));
    CHECK_THROWS_MATCHES(s.put(too_long, "v"), mmry::error,
                         is_error(errc::invalid_argument, "65537 bytes"));
    CHECK(s.size() == 0);
    CHECK(s.stats().puts == 0);
}

// ---- the default frame size and large values ---------------------------------------------------

TEST_CASE("store: the default frame is 64 KiB", "[store]") {
    mmry::store s;
    for (std::size_t size : {65535, 65536, 65537}) {
        INFO(size << " bytes");
        const auto value = random_bytes(size, size);
        s.put("v", value);
        CHECK(s.get("v") == value);
        CHECK(s.metadata("v")->frame_size == 65536);
        CHECK(s.metadata("v")->frames == frames_of(size, 65536));
        CHECK(s.read("v", 65535, size - 65535) == mmry_test::slice(value, 65535, size - 65535));
    }
}

using large_value_compositions = std::tuple<
    mmry_test::traits<mmry_test::hashed, mmry_test::zstd3, mmry_test::aes>,
    mmry_test::traits<mmry_test::ordered, mmry_test::no_compression, mmry_test::xchacha>>;

TEMPLATE_LIST_TEST_CASE("store: 10 MiB values round trip", "[store][large]",
                        large_value_compositions) {
    auto s = mmry_test::make_store<TestType>();
    const std::size_t size = std::size_t{10} << 20;
    const auto random = random_bytes(size, 42);
    const auto redundant = redundant_bytes(size);
    s.put("random", random);
    s.put("redundant", redundant);

    CHECK(s.get("random") == random);
    CHECK(s.get("redundant") == redundant);
    CHECK(s.metadata("random")->frames == 160);
    CHECK_FALSE(s.metadata("random")->compressed);
    CHECK(s.metadata("redundant")->compressed == mmry_test::compressing<TestType>);
    const std::size_t at = 5 * 65536 - 3;
    CHECK(s.read("random", at, 70000) == mmry_test::slice(random, at, 70000));
    check_stats_match_entries(s);
}

// ---- typed values -------------------------------------------------------------------------------

namespace {
// No padding, but a double: the built-in codec takes it only because we vouch for it below.
struct sample {
    std::int32_t id;
    char tag[4];
    double weight;
    friend bool operator==(const sample&, const sample&) = default;
};
static_assert(sizeof(sample) == 16 && !std::has_unique_object_representations_v<sample>);

// Padding after `flag` (and at the end): never stored as its bytes.
struct padded {
    char flag;
    std::int64_t count;
    std::int32_t small;
};
struct unpadded {
    std::int64_t count;
    std::int32_t a, b;
};
}  // namespace

template <>
inline constexpr bool mmry::stored_bitwise<sample> = true;

static_assert(mmry::stored_bitwise<int> && mmry::stored_bitwise<double> &&
              mmry::stored_bitwise<unpadded> && mmry::stored_bitwise<sample>);
static_assert(!mmry::stored_bitwise<padded>,
              "a type with padding must not be stored as its object representation");

TEMPLATE_LIST_TEST_CASE("store: typed values go through mmry::codec", "[store][codec]",
                        mmry_test::sealing) {
    auto s = mmry_test::make_store<TestType>();

    s.put("text", std::string("hello, world"));
    CHECK(s.template get<std::string>("text") == "hello, world");
    s.put("literal", "no terminating NUL");
    CHECK(s.metadata("literal")->logical_size == 18);
    CHECK(s.template get<std::string>("literal") == "no terminating NUL");
    s.put("view", std::string_view("view"));
    CHECK(s.template get<std::string>("view") == "view");
    s.put("chars", std::vector<char>{'x', 'y'});
    CHECK(s.template get<std::string>("chars") == "xy");

    s.put("number", -12345);
    CHECK(s.template get<int>("number") == -12345);
    CHECK(s.metadata("number")->logical_size == sizeof(int));

    const sample v{7, {'a', 'b', 'c', 'd'}, 2.5};
    s.put("struct", v);
    CHECK(s.template get<sample>("struct") == v);

    // Equal values are equal bytes in the store: the same content hash, whatever the stack held.
    const unpadded u1{1, 2, 3};
    unpadded u2;
    std::memset(&u2, 0xA5, sizeof u2);
    u2.count = 1, u2.a = 2, u2.b = 3;
    s.put("u1", u1);
    s.put("u2", u2);
    CHECK(s.get("u1") == s.get("u2"));
    CHECK(s.metadata("u1")->content_hash == s.metadata("u2")->content_hash);

    s.put("empty", std::string());
    CHECK(s.template get<std::string>("empty") == "");
    CHECK(s.get("empty") == mmry::bytes{});

    CHECK_FALSE(s.template get<int>("absent"));
    CHECK_FALSE(s.template get<sample>("absent"));
}

TEST_CASE("store: get<T> of a value of another size throws invalid_argument naming the key",
          "[store][codec]") {
    mmry::store s;
    s.put("three", "abc");
    CHECK_THROWS_MATCHES(s.get<int>("three"), mmry::error,
                         is_error(errc::invalid_argument, "'three'"));
    CHECK_THROWS_MATCHES(s.get<sample>("three"), mmry::error,
                         is_error(errc::invalid_argument, "'three'"));
    s.put("number", std::int64_t{5});
    CHECK_THROWS_MATCHES(s.get<std::int32_t>("number"), mmry::error,
                         is_error(errc::invalid_argument, "8 bytes"));
    try {
        (void)s.get<int>("three");
        FAIL("get<int> of a 3-byte value did not throw");
    } catch (const mmry::error& e) {
        const std::string what = e.what();
        CHECK(what.rfind("mmry: ", 0) == 0);
        // The message is not stuttered: one prefix, one category message.
        CHECK(what.find("mmry: ", 1) == std::string::npos);
        CHECK(what.find("invalid argument: invalid argument") == std::string::npos);
    }
}

// ---- options ------------------------------------------------------------------------------------

TEMPLATE_LIST_TEST_CASE("store: options are checked when the store is made", "[store][errors]",
                        mmry_test::sealing) {
    using store = mmry::basic_store<TestType>;
    const auto key_if_needed = [] {
        return mmry_test::encrypted<TestType> ? mmry::key::generate() : mmry::key();
    };
    for (std::size_t frame : {std::size_t{0}, std::size_t{63}, (std::size_t{64} << 20) + 1}) {
        INFO("frame_size " << frame);
        CHECK_THROWS_MATCHES(store({.key = key_if_needed(), .frame_size = frame}), mmry::error,
                             is_error(errc::invalid_argument, "frame_size"));
    }
    for (std::size_t frame : {std::size_t{64}, std::size_t{64} << 20}) {
        store s({.key = key_if_needed(), .frame_size = frame});
        s.put("k", "v");
        CHECK(s.template get<std::string>("k") == "v");
    }

    if constexpr (mmry_test::encrypted<TestType>) {
        CHECK_THROWS_MATCHES(store(), mmry::error,
                             is_error(errc::invalid_argument, "options.key is empty"));
        CHECK_THROWS_MATCHES(store::create("orders"), mmry::error,
                             is_error(errc::invalid_argument, std::string(TestType::cipher::name)));
    } else {
        CHECK_THROWS_MATCHES(store({.key = mmry::key::generate()}), mmry::error,
                             is_error(errc::invalid_argument, "cipher is 'none'"));
    }
    CHECK_THROWS_MATCHES(store({.capacity = 1000, .key = key_if_needed()}), mmry::error,
                         is_error(errc::invalid_argument, "capacity"));
    CHECK_THROWS_MATCHES(store({.capacity = 1 << 20, .max_size = 1 << 19, .key = key_if_needed()}),
                         mmry::error, is_error(errc::invalid_argument, "max_size"));
}

using encrypted_compositions = std::tuple<
    mmry_test::traits<mmry_test::hashed, mmry_test::zstd3, mmry_test::aes>,
    mmry_test::traits<mmry_test::ordered, mmry_test::no_compression, mmry_test::xchacha>>;

TEMPLATE_LIST_TEST_CASE("store: a passphrase key encrypts and decrypts", "[store][key]",
                        encrypted_compositions) {
    // A low scrypt cost keeps the test fast; the default is 2^15.
    auto s = mmry::basic_store<TestType>::open_or_create(
        "orders", {.key = mmry::key::from_passphrase("pw", {.log2_n = 10})});
    const auto value = redundant_bytes(1000);
    s.put("user/42/profile", value);
    CHECK(s.get("user/42/profile") == value);
    CHECK(s.metadata("user/42/profile")->encrypted);

    const auto salt = mmry_test::to_bytes("sixteen byte salt");
    auto t = mmry::basic_store<TestType>(
        {.key = mmry::key::from_passphrase("pw", salt, {.log2_n = 10})});
    t.put("k", value);
    CHECK(t.get("k") == value);
    // The same passphrase in another store (another salt) is another key.
    CHECK_THROWS_MATCHES(t.import_record(*s.export_record("user/42/profile")), mmry::error,
                         is_error(errc::wrong_key, "'user/42/profile'"));
}

TEST_CASE("store: the cache keeps only values that cost a decode", "[store][cache]") {
    // Raw and unsealed: a get is a checked copy, cheaper than the cache, which is not used.
    auto raw = mmry_test::make_store<
        mmry_test::traits<mmry_test::hashed, mmry_test::no_compression, mmry_test::no_cipher>>();
    raw.put("k", mmry_test::redundant_bytes(1000));
    for (int i = 0; i < 3; ++i) CHECK(raw.get("k") == mmry_test::redundant_bytes(1000));
    CHECK(raw.stats().cache.hits == 0);
    CHECK(raw.stats().cache.misses == 0);
    CHECK(raw.stats().cache.entries == 0);
    // Compressed, or sealed: the first get decodes and caches, the next ones hit.
    auto packed = mmry_test::make_store<
        mmry_test::traits<mmry_test::hashed, mmry_test::zstd3, mmry_test::no_cipher>>();
    auto sealed = mmry_test::make_store<
        mmry_test::traits<mmry_test::hashed, mmry_test::no_compression, mmry_test::aes>>();
    packed.put("k", mmry_test::redundant_bytes(1000));
    sealed.put("k", mmry_test::random_bytes(1000));
    for (int i = 0; i < 3; ++i) {
        CHECK(packed.get("k") == mmry_test::redundant_bytes(1000));
        CHECK(sealed.get("k") == mmry_test::random_bytes(1000));
    }
    CHECK(packed.stats().cache.misses == 1);
    CHECK(packed.stats().cache.hits == 2);
    CHECK(sealed.stats().cache.misses == 1);
    CHECK(sealed.stats().cache.hits == 2);
}
