// Path policies (latest, versioned, temporal, custom, sharded, multi), versions, metadata without
// decoding, rollback, retention and erase, with every index policy.

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <cryptopp/aes.h>
#include <cryptopp/gcm.h>
#include <cryptopp/sha.h>

#include <mmry/detail/aead.hpp>

#include "support.hpp"

using mmry::errc;
using mmry::version;
using mmry::detail::store_access;
using mmry_test::is_error;
using mmry_test::is_integrity_error;
using mmry_test::to_bytes;
namespace path = mmry::path;

using mmry_test::entries_of;
using mmry_test::keys_of;

namespace {

using hash = std::array<std::byte, 32>;

template <class Index, class Path, class Cipher = mmry::cipher::none,
          class Compressor = mmry::compress::zstd<3>>
struct traits : mmry::default_traits {
    using index = Index;
    using path = Path;
    using cipher = Cipher;
    using compressor = Compressor;
};

/// A store of `Path` over `Index` (an encrypted one gets a fresh key).
template <class Index, class Path, class Cipher = mmry::cipher::none>
mmry::basic_store<traits<Index, Path, Cipher>> make(mmry::options opts = {}) {
    return mmry_test::make_store<traits<Index, Path, Cipher>>(std::move(opts));
}

/// A clock the test sets by hand.
struct manual_clock {
    std::shared_ptr<std::chrono::system_clock::time_point> now =
        std::make_shared<std::chrono::system_clock::time_point>(std::chrono::seconds(1'000'000));
    std::chrono::system_clock::time_point operator()() const { return *now; }
    void set(std::chrono::system_clock::time_point t) const { *now = t; }
    void advance(std::chrono::system_clock::duration d) const { *now += d; }
};

/// A UTC date and time.
std::chrono::system_clock::time_point utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0,
                                          int s = 0) {
    using namespace std::chrono;
    return sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} + seconds{s};
}

hash sha256(mmry::byte_view data) {
    hash out;
    CryptoPP::SHA256().CalculateDigest(reinterpret_cast<CryptoPP::byte*>(out.data()),
                                       reinterpret_cast<const CryptoPP::byte*>(data.data()),
                                       data.size());
    return out;
}
hash sha256(std::string_view s) {
    return sha256(mmry::as_bytes(s));
}

std::string hex(std::span<const std::byte> b) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (auto x : b) {
        out += digits[std::to_integer<unsigned>(x) >> 4];
        out += digits[std::to_integer<unsigned>(x) & 15];
    }
    return out;
}

/// The chain hash of an unencrypted store: SHA-256(previous chain || content hash || le64 version
/// || le64 previous version || key).
hash chain_of(const hash& previous_chain, const hash& content, std::uint64_t v,
              std::uint64_t previous, std::string_view key) {
    mmry::bytes in(previous_chain.begin(), previous_chain.end());
    in.insert(in.end(), content.begin(), content.end());
    for (std::uint64_t n : {v, previous})
        for (int i = 0; i < 8; ++i) in.push_back(static_cast<std::byte>((n >> (8 * i)) & 0xff));
    const auto k = mmry::as_bytes(key);
    in.insert(in.end(), k.begin(), k.end());
    return sha256(in);
}

/// "xx/yy/<key>" from the first two bytes of a digest.
std::string shard_of(const hash& digest, std::string_view key) {
    return hex(std::span(digest).first(1)) + "/" + hex(std::span(digest).subspan(1, 1)) + "/" +
           std::string(key);
}

/// The stored keys under `prefix`, in key order.
template <class Store>
std::vector<std::string> stored_keys(const Store& s, std::string_view prefix = {}) {
    return keys_of(s.stored(prefix));
}

/// The numbers of the versions history() reports for `key`, oldest first.
template <class Store>
std::vector<std::uint64_t> versions_of(const Store& s, std::string_view key) {
    std::vector<std::uint64_t> out;
    for (const auto& e : s.history(key)) out.push_back(e.meta.version.number);
    return out;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}

template <class Store>
std::optional<std::string> text(const Store& s, std::string_view key, version v) {
    return s.template get<std::string>(key, v);
}

// ---- policies that count their decoding
// ----------------------------------------------------------

/// AES-256-GCM, as cipher::aes256_gcm, counting the open() calls on non-empty ciphertext.
struct counting_gcm {
    static constexpr std::uint8_t id = 200;  // 128-255: users' own policies
    static constexpr std::string_view name = "counting_gcm";
    static constexpr std::size_t tag_size = 16;
    static inline std::atomic<std::uint64_t> opens{0};

    class context {
      public:
        void rekey(std::span<const std::byte, 32> key) { inner_.rekey(key); }
        void seal(std::span<const std::byte, 12> nonce, std::span<const std::byte> aad,
                  std::span<const std::byte> plain, std::span<std::byte> out) {
            inner_.seal(nonce, aad, plain, out);
        }
        bool open(std::span<const std::byte, 12> nonce, std::span<const std::byte> aad,
                  std::span<const std::byte> sealed, std::span<std::byte> out) {
            if (sealed.size() > tag_size) opens.fetch_add(1);
            return inner_.open(nonce, aad, sealed, out);
        }

      private:
        mmry::detail::aead_context<CryptoPP::GCM<CryptoPP::AES>::Encryption,
                                   CryptoPP::GCM<CryptoPP::AES>::Decryption, 12, tag_size>
            inner_;
    };
};
static_assert(mmry::cipher_policy<counting_gcm>);

/// A user's layout: "docs/<key>#<version>" (every version kept).
constexpr auto by_version = [](const mmry::path::input& in) {
    return "docs/" + std::string(in.key) + "#" + std::to_string(in.version);
};
using version_layout = path::custom<decltype(by_version)>;
/// A user's layout that ignores the version: "by-key/<key>" (each put replaces the last).
constexpr auto by_key = [](const mmry::path::input& in) { return "by-key/" + std::string(in.key); };
using key_layout = path::custom<decltype(by_key)>;
static_assert(mmry::path_policy<version_layout> && mmry::path_policy<key_layout>);

}  // namespace

// ---- versioned
// ------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("paths: versioned files version n under v<n>/key", "[paths][versioned]",
                   mmry::index::hashed, mmry::index::ordered) {
    auto s = make<TestType, path::versioned>();
    std::vector<std::string> expected;
    for (std::uint64_t n = 1; n <= 12; ++n) {
        CHECK(s.put("doc", "value " + std::to_string(n)) == version{n});
        expected.push_back("v" + std::to_string(n) + "/doc");
    }
    CHECK(s.put("other", "o") == version{1});
    expected.push_back("v1/other");

    CHECK(stored_keys(s) == sorted(expected));
    for (const auto& e : s.stored()) {
        INFO(e.key);
        const auto slash = e.key.find('/');
        CHECK(e.key.substr(0, slash) == "v" + std::to_string(e.meta.version.number));
    }
    CHECK(stored_keys(s, "v1/") == std::vector<std::string>{"v1/doc", "v1/other"});
    CHECK(stored_keys(s, "v12/") == std::vector<std::string>{"v12/doc"});

    CHECK(s.template get<std::string>("doc") == "value 12");
    CHECK(versions_of(s, "doc") ==
          std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
    CHECK(s.size() == 2);
    CHECK(s.stats().entries == 2);
    CHECK(s.stats().records == 13);
    CHECK(s.contains("doc"));
    CHECK_FALSE(s.contains("v1/doc"));  // a stored key is not a logical key
}

TEMPLATE_TEST_CASE("paths: versioned_with puts its prefix and suffix around the version",
                   "[paths][versioned]", mmry::index::hashed, mmry::index::ordered) {
    {
        auto s = make<TestType, path::versioned_with<"ver-", ":">>();
        s.put("doc", "a");
        s.put("doc", "b");
        s.put("user/7", "c");
        CHECK(stored_keys(s) == std::vector<std::string>{"ver-1:doc", "ver-1:user/7", "ver-2:doc"});
        CHECK(stored_keys(s, "ver-2:") == std::vector<std::string>{"ver-2:doc"});
        CHECK(text(s, "doc", version{1}) == "a");
        CHECK(s.template get<std::string>("doc") == "b");
    }
    {
        auto s = make<TestType, path::versioned_with<"", "/">>();
        s.put("doc", "a");
        s.put("doc", "b");
        CHECK(stored_keys(s) == std::vector<std::string>{"1/doc", "2/doc"});
    }
    {
        auto s = make<TestType, path::versioned_with<"history/", ".">>();
        s.put("doc", "a");
        CHECK(stored_keys(s) == std::vector<std::string>{"history/1.doc"});
        CHECK(s.template get<std::string>("doc") == "a");
    }
}

TEMPLATE_TEST_CASE("paths: get(key, version) returns every kept version, and nullopt otherwise",
                   "[paths][versioned]", mmry::index::hashed, mmry::index::ordered) {
    auto s = make<TestType, path::versioned>();
    for (int n = 1; n <= 6; ++n) s.put("doc", "value " + std::to_string(n));
    for (std::uint64_t n = 1; n <= 6; ++n) {
        INFO("version " << n);
        CHECK(text(s, "doc", version{n}) == "value " + std::to_string(n));
        CHECK(s.get("doc", version{n}) == to_bytes("value " + std::to_string(n)));
        const auto m = s.metadata("doc", version{n});
        REQUIRE(m);
        CHECK(m->version == version{n});
        CHECK(m->previous_version == version{n - 1});
        CHECK(s.read("doc", 6, 1, version{n}) == to_bytes(std::to_string(n)));
    }
    for (std::uint64_t n : {0, 7, 100}) {
        INFO("version " << n);
        CHECK_FALSE(s.get("doc", version{n}));
        CHECK_FALSE(s.metadata("doc", version{n}));
        CHECK_FALSE(s.read("doc", 0, 1, version{n}));
    }
    CHECK_FALSE(s.get("missing", version{1}));
    CHECK_FALSE(s.metadata("missing", version{1}));
    CHECK_THROWS_MATCHES(s.read("doc", 5, 10, version{2}), mmry::error,
                         is_error(errc::out_of_range, "doc"));
}

TEMPLATE_TEST_CASE("paths: set_version makes the next put that version", "[paths][versioned]",
                   mmry::index::hashed, mmry::index::ordered) {
    auto s = make<TestType, path::versioned>();
    CHECK(s.put("doc", "one") == version{1});
    s.set_version("doc", version{10});
    CHECK(s.put("doc", "ten") == version{10});
    CHECK(stored_keys(s) == std::vector<std::string>{"v1/doc", "v10/doc"});
    CHECK(versions_of(s, "doc") == std::vector<std::uint64_t>{1, 10});
    CHECK(s.metadata("doc")->version == version{10});
    CHECK(s.metadata("doc")->previous_version == version{1});
    CHECK_FALSE(s.get("doc", version{5}));
    CHECK(text(s, "doc", version{1}) == "one");
    CHECK(s.put("doc", "eleven") == version{11});

    // Not above the latest version, or a key without versions: invalid_argument.
    CHECK_THROWS_MATCHES(s.set_version("doc", version{11}), mmry::error,
                         is_error(errc::invalid_argument, "not above its latest version 11"));
    CHECK_THROWS_MATCHES(s.set_version("doc", version{3}), mmry::error,
                         is_error(errc::invalid_argument, "doc"));
    CHECK_THROWS_MATCHES(s.set_version("doc", version{0}), mmry::error,
                         is_error(errc::invalid_argument));
    CHECK_THROWS_MATCHES(s.set_version("missing", version{2}), mmry::error,
                         is_error(errc::invalid_argument, "has no version yet"));
    CHECK_FALSE(s.contains("missing"));
    CHECK(s.put("doc", "twelve") == version{12});  // the refused calls changed nothing

    // The last set_version before a put wins; the jump may be to the very next number.
    s.set_version("doc", version{40});
    s.set_version("doc", version{20});
    CHECK(s.put("doc", "twenty") == version{20});
    s.set_version("doc", version{21});
    CHECK(s.put("doc", "twenty-one") == version{21});
    CHECK(versions_of(s, "doc") == std::vector<std::uint64_t>{1, 10, 11, 12, 20, 21});
}

TEMPLATE_TEST_CASE("paths: versioned_with KeepLast 3 keeps the newest three versions",
                   "[paths][versioned][retention]", mmry::index::hashed, mmry::index::ordered) {
    auto s = make<TestType, path::versioned_with<"v", "/", 3>>();
    for (int n = 1; n <= 5; ++n) s.put("doc", "value " + std::to_string(n));
    CHECK(versions_of(s, "doc") == std::vector<std::uint64_t>{3, 4, 5});
    CHECK(s.stats().records == 3);
    CHECK(stored_keys(s) == std::vector<std::string>{"v3/doc", "v4/doc", "v5/doc"});
    CHECK_FALSE(s.get("doc", version{1}));
    CHECK_FALSE(s.get("doc", version{2}));
    CHECK(text(s, "doc", version{3}) == "value 3");
    CHECK(s.template get<std::string>("doc") == "value 5");

    s.put("two", "a");
    s.put("two", "b");
    CHECK(versions_of(s, "two") == std::vector<std::uint64_t>{1, 2});
    CHECK(s.stats().records == 5);
    CHECK(s.put("doc", "value 6") == version{6});
    CHECK(versions_of(s, "doc") == std::vector<std::uint64_t>{4, 5, 6});
    CHECK(s.stats().records == 5);
    CHECK(s.metadata("doc")->previous_version == version{5});
}

// ---- temporal
// -------------------------------------------------------------------------------------

namespace {
/// The stored key a put of `key` at time t gets under path P.
template <class Index, class P>
std::string stored_key_at(std::chrono::system_clock::time_point t, std::string_view key = "key") {
    manual_clock clock;
    clock.set(t);
    auto s = make<Index, P>({.clock = clock});
    s.put(key, "v");
    const auto keys = stored_keys(s);
    REQUIRE(keys.size() == 1);
    CHECK(s.metadata(key)->modified == t);
    return keys.front();
}
}  // namespace

TEMPLATE_TEST_CASE("paths: temporal files a write under its UTC time bucket", "[paths][temporal]",
                   mmry::index::hashed, mmry::index::ordered) {
    using G = path::granularity;
    const auto t = utc(2026, 11, 21, 14, 5, 9) + std::chrono::milliseconds(250);
    CHECK(stored_key_at<TestType, path::temporal>(t) == "2026/11/21/14/key");
    CHECK(stored_key_at<TestType, path::temporal_with<G::hour>>(t, "user/7") ==
          "2026/11/21/14/user/7");
    CHECK(stored_key_at<TestType, path::temporal_with<G::year>>(t) == "2026/key");
    CHECK(stored_key_at<TestType, path::temporal_with<G::month>>(t) == "2026/11/key");
    CHECK(stored_key_at<TestType, path::temporal_with<G::day>>(t) == "2026/11/21/key");
    CHECK(stored_key_at<TestType, path::temporal_with<G::minute>>(t) == "2026/11/21/14/05/key");
    CHECK(stored_key_at<TestType, path::temporal_with<G::second>>(t) == "2026/11/21/14/05/09/key");
    CHECK(stored_key_at<TestType, path::temporal_with<G::hour, "snapshots/">>(t) ==
          "snapshots/2026/11/21/14/key");
    CHECK(stored_key_at<TestType, path::temporal_with<G::day, "daily-">>(t) ==
          "daily-2026/11/21/key");

    // Bucket edges: midnight, a leap day, the last nanosecond of a year, the epoch.
    CHECK(stored_key_at<TestType, path::temporal>(utc(2028, 2, 29)) == "2028/02/29/00/key");
    CHECK(stored_key_at<TestType, path::temporal_with<G::second>>(
              utc(2027, 1, 1) - std::chrono::nanoseconds(1)) == "2026/12/31/23/59/59/key");
    CHECK(stored_key_at<TestType, path::temporal>(utc(1970, 1, 1)) == "1970/01/01/00/key");
}

TEMPLATE_TEST_CASE("paths: temporal writes at given times land in their buckets",
                   "[paths][temporal]", mmry::index::hashed, mmry::index::ordered) {
    manual_clock clock;
    clock.set(utc(2026, 11, 21, 14, 5));
    auto s = make<TestType, path::temporal>({.clock = clock});
    s.put("cpu", "10%");
    s.put("mem", "2G");
    clock.set(utc(2026, 11, 21, 15, 0));
    s.put("cpu", "20%");
    clock.set(utc(2026, 11, 22, 9, 59, 59));
    s.put("cpu", "30%");
    CHECK(stored_keys(s) == std::vector<std::string>{"2026/11/21/14/cpu", "2026/11/21/14/mem",
                                                     "2026/11/21/15/cpu", "2026/11/22/09/cpu"});
    CHECK(stored_keys(s, "2026/11/21/") ==
          std::vector<std::string>{"2026/11/21/14/cpu", "2026/11/21/14/mem", "2026/11/21/15/cpu"});
    CHECK(versions_of(s, "cpu") == std::vector<std::uint64_t>{1, 2, 3});
    CHECK(s.template get<std::string>("cpu") == "30%");
    CHECK(s.stats().records == 4);
}

TEMPLATE_TEST_CASE("paths: get_as_of reads the newest write at or before a time",
                   "[paths][temporal]", mmry::index::hashed, mmry::index::ordered) {
    manual_clock clock;
    auto at = [](int h, int m, int sec = 0) { return utc(2026, 11, 21, h, m, sec); };
    auto s = make<TestType, path::temporal>({.clock = clock});
    auto as_of = [&](std::chrono::system_clock::time_point t) {
        return s.template get_as_of<std::string>("m", t);
    };
    clock.set(at(10, 0));
    s.put("m", "ten");
    clock.set(at(12, 30));
    s.put("m", "half past twelve");
    clock.set(at(15, 0));
    s.put("m", "three");

    CHECK_FALSE(as_of(at(9, 59, 59)));  // before the first write
    CHECK_FALSE(as_of(utc(2000, 1, 1)));
    CHECK(as_of(at(10, 0)) == "ten");  // exactly at a write
    CHECK(as_of(at(11, 0)) == "ten");  // between writes: the older one
    CHECK(as_of(at(12, 30) - std::chrono::nanoseconds(1)) == "ten");
    CHECK(as_of(at(12, 30)) == "half past twelve");
    CHECK(as_of(at(14, 59, 59)) == "half past twelve");
    CHECK(as_of(at(15, 0)) == "three");
    CHECK(as_of(utc(2030, 1, 1)) == "three");
    CHECK(s.get_as_of("m", at(12, 45)) == to_bytes("half past twelve"));
    CHECK_FALSE(s.get_as_of("missing", at(15, 0)));

    // Two writes in one bucket: the later replaces the earlier there.
    clock.set(at(16, 10));
    CHECK(s.put("m", "ten past four") == version{4});
    clock.set(at(16, 50));
    CHECK(s.put("m", "ten to five") == version{5});
    CHECK(versions_of(s, "m") == std::vector<std::uint64_t>{1, 2, 3, 5});
    CHECK(s.stats().records == 4);
    CHECK(stored_keys(s) == std::vector<std::string>{"2026/11/21/10/m", "2026/11/21/12/m",
                                                     "2026/11/21/15/m", "2026/11/21/16/m"});
    const auto bucket = keys_of(s.stored("2026/11/21/16/"));
    REQUIRE(bucket.size() == 1);
    CHECK(s.stored("2026/11/21/16/").begin()->meta.version == version{5});
    CHECK_FALSE(s.get("m", version{4}));
    CHECK(as_of(at(16, 20)) == "three");  // the 16:10 write is gone
    CHECK(as_of(at(16, 50)) == "ten to five");
    CHECK(s.template get<std::string>("m") == "ten to five");

    // get_as_of on path::latest: the one value, from its write time on.
    manual_clock c2;
    c2.set(at(8, 0));
    auto l = make<TestType, path::latest>({.clock = c2});
    l.put("k", "x");
    CHECK_FALSE(l.get_as_of("k", at(7, 59)));
    CHECK(l.template get_as_of<std::string>("k", at(8, 0)) == "x");
}

// ---- custom and sharded
// ---------------------------------------------------------------------------

TEMPLATE_TEST_CASE("paths: custom computes stored keys with a user's function", "[paths][custom]",
                   mmry::index::hashed, mmry::index::ordered) {
    {
        auto s = make<TestType, version_layout>();
        s.put("a", "1");
        s.put("a", "2");
        s.put("b", "3");
        CHECK(stored_keys(s) == std::vector<std::string>{"docs/a#1", "docs/a#2", "docs/b#1"});
        CHECK(versions_of(s, "a") == std::vector<std::uint64_t>{1, 2});
        CHECK(text(s, "a", version{1}) == "1");
        CHECK(s.template get<std::string>("a") == "2");
        CHECK(s.stats().records == 3);
    }
    {
        // The same stored key for every put of a key: each put replaces the last, as latest does.
        auto s = make<TestType, key_layout>();
        s.put("a", "1");
        CHECK(s.put("a", "2") == version{2});
        CHECK(stored_keys(s) == std::vector<std::string>{"by-key/a"});
        CHECK(versions_of(s, "a") == std::vector<std::uint64_t>{2});
        CHECK(s.stats().records == 1);
        CHECK_FALSE(s.get("a", version{1}));
        CHECK(s.template get<std::string>("a") == "2");
    }
}

TEMPLATE_TEST_CASE("paths: sharded files a key under the SHA-256 of the key",
                   "[paths][custom][sharded]", mmry::index::hashed, mmry::index::ordered) {
    auto s = make<TestType, path::sharded>();
    s.put("abc", "first");
    CHECK(stored_keys(s) == std::vector<std::string>{"ba/78/abc"});  // SHA-256("abc") = ba7816bf..
    for (const std::string k : {"user/42", "user/43", "a", "some/longer/key"}) {
        s.put(k, "value of " + k);
        CHECK(stored_keys(s, shard_of(sha256(k), k)) ==
              std::vector<std::string>{shard_of(sha256(k), k)});
    }
    CHECK(stored_keys(s).size() == 5);
    CHECK(s.put("abc", "second") ==
          version{2});  // one place per key: the second put replaces the first
    CHECK(stored_keys(s, "ba/78/") == std::vector<std::string>{"ba/78/abc"});
    CHECK(s.stats().records == 5);
    CHECK(versions_of(s, "abc") == std::vector<std::uint64_t>{2});
    CHECK(s.template get<std::string>("abc") == "second");
    for (const auto& e : s.stored()) {
        INFO(e.key);
        REQUIRE(e.key.size() > 6);
        CHECK(e.key.substr(0, 6) == shard_of(sha256(e.key.substr(6)), "").substr(0, 6));
    }
}

TEMPLATE_TEST_CASE("paths: shard_by_content files each distinct content of a key apart",
                   "[paths][custom][sharded]", mmry::index::hashed, mmry::index::ordered) {
    auto s = make<TestType, path::custom<path::shard_by_content>>();
    s.put("doc", "alpha");
    s.put("doc", "beta");
    const auto alpha = shard_of(sha256("alpha"), "doc");
    const auto beta = shard_of(sha256("beta"), "doc");
    REQUIRE(alpha != beta);
    CHECK(stored_keys(s) == sorted({alpha, beta}));
    CHECK(versions_of(s, "doc") == std::vector<std::uint64_t>{1, 2});
    CHECK(s.stats().records == 2);

    // The same content again lands where it was, replacing the version stored there.
    CHECK(s.put("doc", "alpha") == version{3});
    CHECK(stored_keys(s) == sorted({alpha, beta}));
    CHECK(versions_of(s, "doc") == std::vector<std::uint64_t>{2, 3});
    CHECK(s.stats().records == 2);
    CHECK(text(s, "doc", version{2}) == "beta");
    CHECK_FALSE(s.get("doc", version{1}));

    // Two keys with one content: one shard, two stored keys.
    s.put("copy", "beta");
    CHECK(stored_keys(s, beta.substr(0, 6)) == sorted({beta, shard_of(sha256("beta"), "copy")}));
}

// ---- multi
// ----------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("paths: multi stores one record per put under every layout", "[paths][multi]",
                   mmry::index::hashed, mmry::index::ordered) {
    auto s = make<TestType, path::multi<path::exists::any, path::latest, path::versioned>>();
    const auto value = mmry_test::random_bytes(3000);
    CHECK(s.put("doc", value) == version{1});
    CHECK(stored_keys(s) == std::vector<std::string>{"doc", "v1/doc"});
    auto st = s.stats();
    CHECK(st.records == 1);  // not stored twice
    CHECK(st.stored_bytes == s.metadata("doc")->stored_size);
    CHECK(st.logical_bytes == 3000);
    CHECK(st.entries == 1);

    CHECK(s.put("doc", "second") == version{2});
    CHECK(stored_keys(s) == std::vector<std::string>{"doc", "v1/doc", "v2/doc"});
    st = s.stats();
    CHECK(st.records == 2);
    CHECK(st.logical_bytes == 3000 + 6);
    for (const auto& e : s.stored()) CHECK(e.meta.version == version{e.key == "v1/doc" ? 1u : 2u});
    CHECK(s.get("doc", version{1}) == value);
    CHECK(s.template get<std::string>("doc") == "second");
    CHECK(versions_of(s, "doc") == std::vector<std::uint64_t>{1, 2});
    CHECK(keys_of(s.list()) == std::vector<std::string>{"doc"});

    // Three layouts at once.
    manual_clock clock;
    clock.set(utc(2026, 11, 21, 14, 5));
    auto t = make<TestType,
                  path::multi<path::exists::all, path::latest, path::versioned, path::temporal>>(
        {.clock = clock});
    t.put("doc", "x");
    CHECK(stored_keys(t) == std::vector<std::string>{"2026/11/21/14/doc", "doc", "v1/doc"});
    CHECK(t.stats().records == 1);
    REQUIRE(t.erase_stored("2026/11/21/14/doc"));
    CHECK_FALSE(t.contains("doc"));  // all: every layout must hold it
    CHECK(t.stats().records == 1);
    t.erase_stored("doc");
    t.erase_stored("v1/doc");
    CHECK(t.stats().records == 0);
    CHECK(t.stats().stored_bytes == 0);
}

namespace {
/// A put under multi<E, latest, versioned> ("doc" and "v1/doc"), then the stored key `removed`
/// is erased: contains() must be `expected`, and the record stays until the other one goes.
template <class Index, mmry::path::exists E>
void remove_one_layout(const std::string& removed, bool expected) {
    INFO("removing " << removed);
    auto s = make<Index, path::multi<E, path::latest, path::versioned>>();
    const auto value = mmry_test::random_bytes(1000);
    s.put("doc", value, {.tags = {"t"}});
    REQUIRE(stored_keys(s) == std::vector<std::string>{"doc", "v1/doc"});
    const auto before = s.stats();
    REQUIRE(before.records == 1);
    REQUIRE(before.stored_bytes > 1000);

    const auto gone = s.erase_stored(removed);
    REQUIRE(gone);
    CHECK(gone->version == version{1});
    CHECK(gone->logical_size == 1000);
    CHECK(gone->has_tag("t"));
    CHECK(s.contains("doc") == expected);
    CHECK(s.get("doc").has_value() == expected);
    CHECK(s.metadata("doc").has_value() == expected);
    CHECK(s.get("doc", version{1}).has_value() == expected);
    if (expected) CHECK(s.get("doc") == value);
    CHECK(keys_of(s.list()).size() == (expected ? 1u : 0u));
    CHECK(s.size() == (expected ? 1u : 0u));
    CHECK(s.stats().entries == (expected ? 1u : 0u));
    const std::string other = removed == "doc" ? "v1/doc" : "doc";
    CHECK(stored_keys(s) == std::vector<std::string>{other});
    // The other stored key still refers to the record: it is not freed.
    CHECK(s.stats().records == 1);
    CHECK(s.stats().stored_bytes == before.stored_bytes);
    CHECK_FALSE(s.erase_stored(removed));  // already gone: nothing, not an error

    // The last stored key goes: so does the record.
    const auto last = s.erase_stored(other);
    REQUIRE(last);
    CHECK(last->version == version{1});
    CHECK_FALSE(s.contains("doc"));
    CHECK(stored_keys(s).empty());
    CHECK(s.stats().records == 0);
    CHECK(s.stats().stored_bytes == 0);
    CHECK(s.stats().logical_bytes == 0);
    CHECK(s.size() == 0);
    CHECK(versions_of(s, "doc").empty());

    // The key can be put again.
    CHECK(s.put("doc", "again") == version{1});
    CHECK(s.contains("doc"));

    // erase(key) takes every stored key of every version, present or not.
    s.put("doc", "twice");
    REQUIRE(s.erase_stored(removed == "doc" ? "doc" : "v2/doc"));
    // It returns what it removed, even when no version is present under the strategy.
    const auto all_gone = s.erase("doc");
    REQUIRE(all_gone);
    CHECK(all_gone->version == version{2});
    CHECK(stored_keys(s).empty());
    CHECK(s.stats().records == 0);
    CHECK(s.stats().stored_bytes == 0);
    CHECK_FALSE(s.contains("doc"));
}
}  // namespace

TEMPLATE_TEST_CASE("paths: multi with exists any still has the key when one layout is removed",
                   "[paths][multi]", mmry::index::hashed, mmry::index::ordered) {
    remove_one_layout<TestType, path::exists::any>("doc", true);
    remove_one_layout<TestType, path::exists::any>("v1/doc", true);
}

TEMPLATE_TEST_CASE("paths: multi with exists all loses the key when one layout is removed",
                   "[paths][multi]", mmry::index::hashed, mmry::index::ordered) {
    remove_one_layout<TestType, path::exists::all>("doc", false);
    remove_one_layout<TestType, path::exists::all>("v1/doc", false);
}

TEMPLATE_TEST_CASE("paths: multi with exists first follows the first layout", "[paths][multi]",
                   mmry::index::hashed, mmry::index::ordered) {
    remove_one_layout<TestType, path::exists::first>("doc", false);
    remove_one_layout<TestType, path::exists::first>("v1/doc", true);
}

TEMPLATE_TEST_CASE("paths: erase_stored of a missing stored key returns nullopt",
                   "[paths][multi][erase]", mmry::index::hashed, mmry::index::ordered) {
    auto s = make<TestType, path::versioned>();
    s.put("doc", "a");
    CHECK_FALSE(s.erase_stored("v2/doc"));
    CHECK_FALSE(s.erase_stored("doc"));  // a logical key is not a stored key here
    CHECK(s.contains("doc"));
    const auto gone = s.erase_stored("v1/doc");
    REQUIRE(gone);
    CHECK(gone->version == version{1});
    CHECK_FALSE(s.contains("doc"));
    CHECK(s.stats().records == 0);

    auto l = make<TestType, path::latest>();
    l.put("doc", "a");
    REQUIRE(l.erase_stored("doc"));
    CHECK_FALSE(l.contains("doc"));
    CHECK(l.stats().records == 0);
}

// ---- path::latest
// ---------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("paths: latest counts versions up on overwrite and keeps only the last",
                   "[paths][latest]", mmry::index::hashed, mmry::index::ordered) {
    auto s = make<TestType, path::latest>();
    CHECK(s.put("doc", "one") == version{1});
    CHECK(s.put("doc", "two") == version{2});
    CHECK(s.put("doc", "three") == version{3});
    const auto m = s.metadata("doc");
    REQUIRE(m);
    CHECK(m->version == version{3});
    CHECK(m->previous_version == version{2});
    CHECK_FALSE(s.get("doc", version{1}));
    CHECK_FALSE(s.get("doc", version{2}));
    CHECK(text(s, "doc", version{3}) == "three");
    CHECK(s.metadata("doc", version{3})->version == version{3});
    CHECK_FALSE(s.metadata("doc", version{2}));
    CHECK(versions_of(s, "doc") == std::vector<std::uint64_t>{3});
    CHECK(stored_keys(s) == std::vector<std::string>{"doc"});
    CHECK(s.stats().records == 1);

    CHECK_FALSE(s.erase("doc", version{2}));  // not kept: nothing erased
    CHECK(s.contains("doc"));
    const auto gone = s.erase("doc", version{3});
    REQUIRE(gone);
    CHECK(gone->version == version{3});
    CHECK_FALSE(s.contains("doc"));
    CHECK(s.put("doc", "anew") == version{1});  // a new key starts over
}

// ---- metadata
// ------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("paths: metadata gives size, SHA-256 of the content and the annotations",
                   "[paths][metadata]", mmry::index::hashed, mmry::index::ordered) {
    manual_clock clock;
    clock.set(utc(2026, 11, 21, 14, 5));
    auto s = make<TestType, path::versioned>({.clock = clock});
    s.put("doc", "abc",
          {.content_type = "text/plain", .tags = {"draft"}, .attributes = {{"owner", "ann"}}});
    const auto m = s.metadata("doc");
    REQUIRE(m);
    CHECK(m->logical_size == 3);
    CHECK(m->stored_size == store_access::record_bytes(s, "doc").size());
    CHECK_FALSE(m->encrypted);
    CHECK(m->hash_kind == mmry::hash_kind::sha256);
    CHECK(hex(m->content_hash) ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(m->content_hash == sha256("abc"));
    CHECK(m->content_type == "text/plain");
    CHECK(m->tags == std::vector<std::string>{"draft"});
    CHECK(m->has_tag("draft"));
    CHECK_FALSE(m->has_tag("dra"));
    CHECK(m->attributes == std::vector<std::pair<std::string, std::string>>{{"owner", "ann"}});
    CHECK(m->attribute("owner") == "ann");
    CHECK_FALSE(m->attribute("missing"));
    CHECK(m->version == version{1});
    CHECK(m->previous_version == version{0});
    CHECK(m->created == utc(2026, 11, 21, 14, 5));
    CHECK(m->modified == utc(2026, 11, 21, 14, 5));

    // A large value: the logical size, whatever is stored.
    const auto big = mmry_test::redundant_bytes(200'000);
    clock.advance(std::chrono::minutes(10));
    s.put("doc", big, {.content_type = "application/octet-stream", .tags = {"final"}});
    const auto m2 = s.metadata("doc");
    REQUIRE(m2);
    CHECK(m2->logical_size == 200'000);
    CHECK(m2->stored_size < 200'000);
    CHECK(m2->content_hash == sha256(big));
    CHECK(m2->content_type == "application/octet-stream");
    CHECK(m2->tags == std::vector<std::string>{"final"});
    CHECK(m2->attributes.empty());
    CHECK(m2->created == utc(2026, 11, 21, 14, 5));  // the first put's time
    CHECK(m2->modified == utc(2026, 11, 21, 14, 15));
    CHECK(m2->previous_version == version{1});

    // Every version keeps its own annotations.
    const auto h = entries_of(s.history("doc"));
    REQUIRE(h.size() == 2);
    CHECK(h[0].key == "doc");
    CHECK(h[0].meta.tags == std::vector<std::string>{"draft"});
    CHECK(h[0].meta.content_type == "text/plain");
    CHECK(h[0].meta.attribute("owner") == "ann");
    CHECK(h[1].meta.tags == std::vector<std::string>{"final"});
    CHECK(s.metadata("doc", version{1})->content_hash == sha256("abc"));

    // Without content hashing: no hash at all.
    auto n = make<TestType, path::versioned>({.content_hash = false});
    n.put("doc", "abc");
    CHECK(n.metadata("doc")->hash_kind == mmry::hash_kind::none);
    CHECK(n.metadata("doc")->content_hash == hash{});
    CHECK(n.metadata("doc")->chain_hash == hash{});
}

TEMPLATE_TEST_CASE("paths: several tags and attributes round-trip in order", "[paths][metadata]",
                   mmry::index::hashed, mmry::index::ordered) {
    auto s = make<TestType, path::versioned>();
    const std::vector<std::string> tags{"draft", "en", "reviewed"};
    const std::vector<std::pair<std::string, std::string>> attributes{
        {"owner", "ann"}, {"lang", "en"}, {"empty", ""}, {"team", "core"}};
    s.put("doc", "abc", {.content_type = "text/plain", .tags = tags, .attributes = attributes});
    s.put("doc", "abcd", {.tags = {"x", "y"}});
    const auto m = s.metadata("doc", version{1});
    REQUIRE(m);
    CHECK(m->content_type == "text/plain");
    CHECK(m->tags == tags);
    CHECK(m->has_tag("en"));
    CHECK(m->has_tag("reviewed"));
    CHECK(m->attributes == attributes);
    CHECK(m->attribute("lang") == "en");
    CHECK(m->attribute("empty") == "");
    CHECK(m->attribute("team") == "core");
    CHECK(s.metadata("doc")->tags == std::vector<std::string>{"x", "y"});
    CHECK(s.history("doc").begin()->meta.tags == tags);
    CHECK(keys_of(s.with_tag("y")) == std::vector<std::string>{"doc"});
}

TEMPLATE_TEST_CASE("paths: chain hashes link every version to the one before",
                   "[paths][metadata][chain]", mmry::index::hashed, mmry::index::ordered) {
    manual_clock clock;
    auto s = make<TestType, path::versioned>({.clock = clock});
    std::vector<std::string> contents;
    for (int n = 1; n <= 6; ++n) {
        contents.push_back(std::string(static_cast<std::size_t>(n) * 37, char('a' + n)));
        clock.advance(std::chrono::seconds(1));
        s.put("doc", contents.back());
    }
    hash previous{};  // the first version follows an all-zero chain
    for (std::uint64_t n = 1; n <= 6; ++n) {
        INFO("version " << n);
        const auto m = s.metadata("doc", version{n});
        REQUIRE(m);
        CHECK(m->version == version{n});
        CHECK(m->previous_version == version{n - 1});
        CHECK(m->content_hash == sha256(contents[n - 1]));
        CHECK(m->chain_hash == chain_of(previous, m->content_hash, n, n - 1, "doc"));
        CHECK(m->created == *clock.now - std::chrono::seconds(5));  // the first put's time
        CHECK(m->modified == *clock.now - std::chrono::seconds(6 - static_cast<int>(n)));
        previous = m->chain_hash;
    }

    // Another key with the same contents has another chain (the key is hashed in).
    auto t = make<TestType, path::versioned>();
    for (const auto& c : contents) t.put("other", c);
    CHECK(t.metadata("other", version{1})->content_hash ==
          s.metadata("doc", version{1})->content_hash);
    CHECK(t.metadata("other", version{1})->chain_hash != s.metadata("doc", version{1})->chain_hash);

    // A set_version jump: the chain links the jump.
    s.set_version("doc", version{10});
    s.put("doc", "ten");
    const auto m10 = s.metadata("doc");
    CHECK(m10->previous_version == version{6});
    CHECK(m10->chain_hash == chain_of(previous, sha256("ten"), 10, 6, "doc"));

    // path::latest chains its overwrites the same way.
    auto l = make<TestType, path::latest>();
    hash chain{};
    for (std::uint64_t n = 1; n <= 4; ++n) {
        const std::string c = "content " + std::to_string(n);
        l.put("k", c);
        const auto m = l.metadata("k");
        CHECK(m->chain_hash == chain_of(chain, sha256(c), n, n - 1, "k"));
        chain = m->chain_hash;
    }
}

TEMPLATE_TEST_CASE("paths: an encrypted store hashes content with HMAC-SHA256 under its key",
                   "[paths][metadata]", mmry::index::hashed, mmry::index::ordered) {
    auto a = make<TestType, path::versioned, mmry::cipher::aes256_gcm>();
    auto b = make<TestType, path::versioned, mmry::cipher::aes256_gcm>();
    a.put("doc", "abc");
    a.put("copy", "abc");
    b.put("doc", "abc");
    const auto ma = *a.metadata("doc");
    const auto mb = *b.metadata("doc");
    CHECK(ma.encrypted);
    CHECK(ma.cipher == "aes256_gcm");
    CHECK(ma.compressor == "zstd");
    CHECK(ma.logical_size == 3);
    CHECK(ma.hash_kind == mmry::hash_kind::hmac_sha256);
    CHECK(mb.hash_kind == mmry::hash_kind::hmac_sha256);
    CHECK(ma.content_hash != sha256("abc"));  // the clear hash cannot confirm a guess
    CHECK(ma.content_hash != hash{});
    CHECK(ma.content_hash != mb.content_hash);                   // another key, another hash
    CHECK(a.metadata("copy")->content_hash == ma.content_hash);  // one store: one hash per content
    CHECK(ma.chain_hash != hash{});
    CHECK(ma.chain_hash != chain_of(hash{}, sha256("abc"), 1, 0, "doc"));
    a.put("doc", "abcd");
    CHECK(a.metadata("doc")->previous_version == version{1});
    CHECK(a.metadata("doc")->chain_hash != ma.chain_hash);
}

TEMPLATE_TEST_CASE("paths: metadata, history and listings decode no value",
                   "[paths][metadata][decode]", mmry::index::hashed, mmry::index::ordered) {
    using counting = traits<TestType, path::versioned, counting_gcm, mmry_test::counting_zstd>;
    auto s = mmry_test::make_store<counting>({.frame_size = 1024, .cache_bytes = 0});
    const auto big = mmry_test::redundant_bytes(5000);
    for (int i = 0; i < 3; ++i) {
        s.put("user/a", big, {.tags = {"draft"}, .attributes = {{"owner", "ann"}}});
        s.put("user/b", big, {.tags = {"final"}});
        s.put("other", "small value");
    }
    REQUIRE(s.metadata("user/a")->compressed);
    REQUIRE(s.metadata("user/a")->encrypted);

    counting_gcm::opens = 0;
    mmry_test::counting_zstd::decompressions = 0;
    CHECK(s.metadata("user/a")->logical_size == 5000);
    CHECK(s.metadata("user/a", version{2})->version == version{2});
    CHECK(entries_of(s.history("user/a")).size() == 3);
    CHECK(keys_of(s.list("user/")).size() == 2);
    CHECK(keys_of(s.list()).size() == 3);
    CHECK(keys_of(s.with_tag("draft")) == std::vector<std::string>{"user/a"});
    CHECK(keys_of(s.where([](const mmry::entry& e) { return e.meta.attribute("owner") == "ann"; },
                          "user/")) == std::vector<std::string>{"user/a"});
    CHECK(keys_of(s.range("user/a", "user/c")).size() == 2);
    CHECK(keys_of(s.stored("v3/")).size() == 3);
    CHECK(s.contains("user/b"));
    CHECK(s.size() == 3);
    CHECK(s.stats().records == 9);
    CHECK(counting_gcm::opens == 0);
    CHECK(mmry_test::counting_zstd::decompressions == 0);

    // A get decrypts and decompresses (5 frames of 1 KiB).
    CHECK(s.get("user/a") == big);
    CHECK(counting_gcm::opens == 5);
    CHECK(mmry_test::counting_zstd::decompressions == 5);
    CHECK(s.get("user/b", version{1}) == big);
    CHECK(counting_gcm::opens == 10);
    CHECK(s.read("user/a", 1500, 10) == mmry_test::slice(big, 1500, 10));
    CHECK(counting_gcm::opens == 11);
    CHECK(mmry_test::counting_zstd::decompressions == 11);
}

using empty_value_stores = std::tuple<
    traits<mmry::index::hashed, path::latest>, traits<mmry::index::ordered, path::latest>,
    traits<mmry::index::hashed, path::versioned>, traits<mmry::index::ordered, path::versioned>,
    traits<mmry::index::hashed, path::versioned, mmry::cipher::aes256_gcm>,
    traits<mmry::index::ordered, path::temporal, mmry::cipher::xchacha20_poly1305>>;

TEMPLATE_LIST_TEST_CASE("paths: an empty value exists and is empty", "[paths][empty]",
                        empty_value_stores) {
    // Each put an hour after the last: a temporal store keeps every one.
    auto s = mmry_test::make_store<TestType>(
        {.clock = [t = utc(2026, 11, 21)]() mutable { return t += std::chrono::hours(1); }});
    s.put("empty", "");
    CHECK(s.contains("empty"));
    const auto v = s.get("empty");
    REQUIRE(v);
    CHECK(v->empty());
    CHECK(s.template get<std::string>("empty") == "");
    CHECK(s.read("empty", 0, 0) == mmry::bytes{});
    const auto m = s.metadata("empty");
    REQUIRE(m);
    CHECK(m->logical_size == 0);
    CHECK(m->frames == 0);
    CHECK(m->version == version{1});
    if constexpr (!mmry_test::encrypted<TestType>)
        CHECK(hex(m->content_hash) ==
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(keys_of(s.list()) == std::vector<std::string>{"empty"});
    CHECK(s.size() == 1);

    // Empty after a value, and a value after empty.
    s.put("empty", "not empty");
    s.put("empty", "");
    CHECK(s.get("empty") == mmry::bytes{});
    CHECK(s.metadata("empty")->version == version{3});
    if constexpr (TestType::path::history) {
        CHECK(s.get("empty", version{1}) == mmry::bytes{});
        CHECK(s.template get<std::string>("empty", version{2}) == "not empty");
    }
    const auto gone = s.erase("empty");
    REQUIRE(gone);
    CHECK(gone->logical_size == 0);
    CHECK_FALSE(s.contains("empty"));
    CHECK_FALSE(s.get("empty"));
}

// ---- rollback
// ------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("paths: rollback writes an old version's content as a new version",
                   "[paths][rollback]", mmry::index::hashed, mmry::index::ordered) {
    auto s = make<TestType, path::versioned>();
    s.put("doc", "first",
          {.content_type = "text/plain", .tags = {"draft"}, .attributes = {{"owner", "ann"}}});
    s.put("doc", "second", {.content_type = "text/markdown", .tags = {"final"}});
    s.put("doc", "third");
    const auto v3 = *s.metadata("doc");

    const auto r = s.rollback("doc", version{1});
    REQUIRE(r);
    CHECK(*r == version{4});
    CHECK(s.template get<std::string>("doc") == "first");
    const auto m = *s.metadata("doc");
    CHECK(m.version == version{4});
    CHECK(m.previous_version == version{3});
    CHECK(m.content_type == "text/plain");
    CHECK(m.tags == std::vector<std::string>{"draft"});
    CHECK(m.attribute("owner") == "ann");
    CHECK(m.content_hash == s.metadata("doc", version{1})->content_hash);
    CHECK(m.chain_hash == chain_of(v3.chain_hash, sha256("first"), 4, 3, "doc"));
    CHECK(versions_of(s, "doc") == std::vector<std::uint64_t>{1, 2, 3, 4});
    CHECK(text(s, "doc", version{1}) == "first");
    CHECK(text(s, "doc", version{2}) == "second");
    CHECK(text(s, "doc", version{3}) == "third");
    CHECK(stored_keys(s, "v4/") == std::vector<std::string>{"v4/doc"});

    // To a version that is not kept: nothing.
    const auto records = s.stats().records;
    CHECK_FALSE(s.rollback("doc", version{9}));
    CHECK_FALSE(s.rollback("doc", version{0}));
    CHECK_FALSE(s.rollback("missing", version{1}));
    CHECK(s.stats().records == records);
    CHECK_FALSE(s.contains("missing"));

    // Rolling back to the latest is a new version with the same content.
    CHECK(s.rollback("doc", version{4}) == version{5});
    CHECK(s.metadata("doc")->tags == std::vector<std::string>{"draft"});
    CHECK(s.rollback("doc", version{2}) == version{6});
    CHECK(s.metadata("doc")->content_type == "text/markdown");
    CHECK(s.template get<std::string>("doc") == "second");
}

// ---- retention
// -----------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("paths: prune keeps the last N versions", "[paths][retention]",
                   mmry::index::hashed, mmry::index::ordered) {
    auto s = make<TestType, path::versioned>();
    for (int n = 1; n <= 5; ++n) s.put("doc", "value " + std::to_string(n));
    CHECK(s.prune("doc", {.keep_last = 2}) == 3);
    CHECK(versions_of(s, "doc") == std::vector<std::uint64_t>{4, 5});
    CHECK(s.stats().records == 2);
    CHECK(stored_keys(s) == std::vector<std::string>{"v4/doc", "v5/doc"});
    CHECK_FALSE(s.get("doc", version{3}));
    CHECK(text(s, "doc", version{4}) == "value 4");
    CHECK(s.prune("doc", {.keep_last = 2}) == 0);  // nothing more to prune
    CHECK(s.prune("doc", {}) == 0);                // no rule: everything stays
    CHECK(s.prune("missing", {.keep_last = 1}) == 0);
    CHECK(s.prune("doc", {.keep_last = 1}) == 1);
    CHECK(versions_of(s, "doc") == std::vector<std::uint64_t>{5});
    CHECK(s.put("doc", "value 6") == version{6});  // numbering continues
}

TEMPLATE_TEST_CASE("paths: prune keeps versions newer than a time, and always the latest",
                   "[paths][retention]", mmry::index::hashed, mmry::index::ordered) {
    manual_clock clock;
    const auto t0 = utc(2026, 11, 21, 0, 0);
    clock.set(t0);
    auto s = make<TestType, path::versioned>({.clock = clock});
    for (int n = 1; n <= 6; ++n) {
        s.put("doc", "value " + std::to_string(n));  // at t0, t0+1h, ..., t0+5h
        clock.advance(std::chrono::hours(1));
    }
    // Versions written after t0+2h30 are 4, 5, 6.
    CHECK(s.prune("doc", {.newer_than = t0 + std::chrono::minutes(150)}) == 3);
    CHECK(versions_of(s, "doc") == std::vector<std::uint64_t>{4, 5, 6});
    CHECK(s.stats().records == 3);

    // Newer than the latest write: the latest stays all the same.
    CHECK(s.prune("doc", {.newer_than = t0 + std::chrono::hours(100)}) == 2);
    CHECK(versions_of(s, "doc") == std::vector<std::uint64_t>{6});
    CHECK(s.template get<std::string>("doc") == "value 6");
    CHECK(s.contains("doc"));

    // Either rule keeps a version.
    clock.set(t0 + std::chrono::hours(10));
    for (int n = 7; n <= 10; ++n) {
        s.put("doc", "value " + std::to_string(n));
        clock.advance(std::chrono::hours(1));
    }
    // 6 at t0+5h, 7..10 at t0+10h..t0+13h: keep the last 2 (9, 10) or newer than t0+10h30 (8..10).
    CHECK(s.prune("doc", {.keep_last = 2, .newer_than = t0 + std::chrono::minutes(630)}) == 2);
    CHECK(versions_of(s, "doc") == std::vector<std::uint64_t>{8, 9, 10});
}

TEMPLATE_TEST_CASE("paths: prune over all keys returns how many versions it erased",
                   "[paths][retention]", mmry::index::hashed, mmry::index::ordered) {
    auto s = make<TestType, path::versioned>();
    for (int k = 0; k < 5; ++k)
        for (int n = 0; n <= k; ++n) s.put("key" + std::to_string(k), "v" + std::to_string(n));
    CHECK(s.stats().records == 1 + 2 + 3 + 4 + 5);
    CHECK(s.prune(mmry::retention{.keep_last = 2}) == 0 + 0 + 1 + 2 + 3);
    CHECK(s.stats().records == 1 + 2 + 2 + 2 + 2);
    for (int k = 2; k < 5; ++k)
        CHECK(versions_of(s, "key" + std::to_string(k)) ==
              std::vector<std::uint64_t>{static_cast<std::uint64_t>(k),
                                         static_cast<std::uint64_t>(k + 1)});
    CHECK(s.size() == 5);
    CHECK(s.prune(mmry::retention{.keep_last = 1}) == 4);
    CHECK(s.stats().records == 5);
    CHECK(s.prune(mmry::retention{.keep_last = 1}) == 0);
    auto empty = make<TestType, path::versioned>();
    CHECK(empty.prune(mmry::retention{.keep_last = 1}) == 0);
}

// ---- erase
// ---------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("paths: erase(key) removes every version and returns the latest's metadata",
                   "[paths][erase]", mmry::index::hashed, mmry::index::ordered) {
    auto s = make<TestType, path::versioned>();
    s.put("doc", "one");
    s.put("doc", "two", {.tags = {"t2"}});
    s.put("doc", "three!", {.tags = {"t3"}});
    s.put("keep", "me");
    const auto gone = s.erase("doc");
    REQUIRE(gone);
    CHECK(gone->version == version{3});
    CHECK(gone->logical_size == 6);
    CHECK(gone->tags == std::vector<std::string>{"t3"});
    CHECK(gone->content_hash == sha256("three!"));
    CHECK_FALSE(s.contains("doc"));
    for (std::uint64_t n = 1; n <= 3; ++n) CHECK_FALSE(s.get("doc", version{n}));
    CHECK(s.history("doc").begin() == s.history("doc").end());
    CHECK(stored_keys(s) == std::vector<std::string>{"v1/keep"});
    CHECK(s.stats().records == 1);
    CHECK(s.size() == 1);

    // What is not there: nothing, and no error.
    CHECK_FALSE(s.erase("doc"));
    CHECK_FALSE(s.erase("missing"));
    CHECK_FALSE(s.erase("missing", version{1}));
    CHECK_FALSE(s.erase("keep", version{2}));
    CHECK_FALSE(s.erase("keep", version{0}));
    CHECK(s.template get<std::string>("keep") == "me");
    CHECK(s.put("doc", "new") == version{1});  // a new history
}

TEMPLATE_TEST_CASE("paths: erase(key, version) removes one version and leaves the others",
                   "[paths][erase]", mmry::index::hashed, mmry::index::ordered) {
    auto s = make<TestType, path::versioned>();
    s.put("doc", "one");
    s.put("doc", "two");
    s.put("doc", "three");
    const auto gone = s.erase("doc", version{2});
    REQUIRE(gone);
    CHECK(gone->version == version{2});
    CHECK(gone->content_hash == sha256("two"));
    CHECK(versions_of(s, "doc") == std::vector<std::uint64_t>{1, 3});
    CHECK(text(s, "doc", version{1}) == "one");
    CHECK(text(s, "doc", version{3}) == "three");
    CHECK_FALSE(s.get("doc", version{2}));
    CHECK(s.template get<std::string>("doc") == "three");
    CHECK(stored_keys(s) == std::vector<std::string>{"v1/doc", "v3/doc"});
    CHECK(s.stats().records == 2);
    CHECK_FALSE(s.erase("doc", version{2}));  // already gone

    // Erasing the latest makes the one before it current; numbering goes on.
    REQUIRE(s.erase("doc", version{3}));
    CHECK(s.template get<std::string>("doc") == "one");
    CHECK(s.metadata("doc")->version == version{1});
    CHECK(s.put("doc", "four") == version{4});
    CHECK(s.metadata("doc")->previous_version == version{1});

    // Erasing the last version removes the key.
    REQUIRE(s.erase("doc", version{1}));
    REQUIRE(s.erase("doc", version{4}));
    CHECK_FALSE(s.contains("doc"));
    CHECK(s.size() == 0);
    CHECK(s.stats().records == 0);
}

// ---- export and import
// ---------------------------------------------------------------------------

TEMPLATE_TEST_CASE("paths: an exported version is restored by import after erase",
                   "[paths][export]", mmry::index::hashed, mmry::index::ordered) {
    auto s = make<TestType, path::versioned, mmry::cipher::aes256_gcm>();
    s.put("doc", "one");
    s.put("doc", "two");
    s.put("doc", "three", {.tags = {"t"}});
    const auto record = s.export_record("doc");
    REQUIRE(record);
    const auto before = *s.metadata("doc");

    REQUIRE(s.erase("doc", version{3}));
    CHECK(s.template get<std::string>("doc") == "two");
    s.import_record(*record);
    CHECK(s.template get<std::string>("doc") == "three");
    CHECK(text(s, "doc", version{3}) == "three");
    CHECK(versions_of(s, "doc") == std::vector<std::uint64_t>{1, 2, 3});
    CHECK(stored_keys(s) == std::vector<std::string>{"v1/doc", "v2/doc", "v3/doc"});
    CHECK(s.stats().records == 3);
    const auto after = *s.metadata("doc");
    CHECK(after.version == version{3});
    CHECK(after.previous_version == version{2});
    CHECK(after.chain_hash == before.chain_hash);
    CHECK(after.tags == std::vector<std::string>{"t"});

    // Importing a kept version replaces it (no duplicate).
    s.import_record(*record);
    CHECK(versions_of(s, "doc") == std::vector<std::uint64_t>{1, 2, 3});
    CHECK(s.stats().records == 3);

    // After the whole key was erased: the key comes back with that version alone.
    REQUIRE(s.erase("doc"));
    s.import_record(*record);
    CHECK(versions_of(s, "doc") == std::vector<std::uint64_t>{3});
    CHECK(s.template get<std::string>("doc") == "three");
    CHECK(s.put("doc", "four") == version{4});
}

// ---- tampering
// -----------------------------------------------------------------------------------

using tamper_stores =
    std::tuple<traits<mmry::index::hashed, path::versioned>,
               traits<mmry::index::ordered, path::versioned>,
               traits<mmry::index::hashed, path::versioned, mmry::cipher::aes256_gcm>,
               traits<mmry::index::ordered, path::versioned, mmry::cipher::aes256_gcm>>;

TEMPLATE_LIST_TEST_CASE(
    "paths: altered metadata of one version is refused and the other versions still read",
    "[paths][metadata][tamper]", tamper_stores) {
    constexpr bool sealed = mmry_test::encrypted<TestType>;
    auto s = mmry_test::make_store<TestType>({.cache_bytes = 0});
    for (int n = 1; n <= 3; ++n)
        s.put("doc", "value " + std::to_string(n), {.content_type = "text/plain"});
    const auto record = store_access::record_bytes(s, "doc");
    REQUIRE(!record.empty());
    const auto header =
        mmry::format::record_view::parse(record, "doc", TestType::cipher::tag_size).header();
    // The first byte of the content type ("t"), after the fixed part and its length.
    const std::size_t at = header.meta_offset() + mmry::format::meta_off::variable + 2;
    REQUIRE(record[at] == std::byte{'t'});

    record[at] = std::byte{'T'};
    CHECK_THROWS_MATCHES(s.metadata("doc"), mmry::error, is_integrity_error("doc"));
    if constexpr (sealed) {
        // Even with the head checksum made to match, the meta section's MAC refuses it.
        mmry::format::seal_head(record, header.payload_offset());
        CHECK_THROWS_MATCHES(s.metadata("doc"), mmry::error,
                             is_error(errc::authentication_failed, "doc"));
        CHECK_THROWS_MATCHES(keys_of(s.list()), mmry::error, is_error(errc::authentication_failed));
    } else {
        CHECK_THROWS_MATCHES(s.metadata("doc"), mmry::error, is_error(errc::corrupt, "doc"));
        CHECK_THROWS_MATCHES(s.get("doc"), mmry::error, is_error(errc::corrupt, "doc"));
    }

    // The other versions are untouched.
    CHECK(text(s, "doc", version{1}) == "value 1");
    CHECK(text(s, "doc", version{2}) == "value 2");
    CHECK(s.metadata("doc", version{2})->content_type == "text/plain");

    // The damaged version can be erased; the one before becomes current.
    REQUIRE(s.erase("doc", version{3}));
    CHECK(s.template get<std::string>("doc") == "value 2");
    CHECK(s.metadata("doc")->version == version{2});
    CHECK(s.stats().records == 2);
}
