// Extension points used from outside the library: a user-written compressor policy, a user
// mmry::codec<T> for a type that is not trivially copyable, and a user-written index and arena
// (custom_policies.hpp).

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>

#include "custom_policies.hpp"
#include "support.hpp"

using mmry::errc;
using mmry_test::is_error;

namespace {

/// Run-length encoding: pairs of (run length 1..255, byte).
struct rle {
    static constexpr std::uint8_t id = 200;  // 128-255: users' own policies
    static constexpr std::string_view name = "rle";

    static std::size_t compress(std::span<const std::byte> in, std::span<std::byte> out) {
        std::size_t n = 0;
        for (std::size_t i = 0; i < in.size();) {
            std::size_t run = 1;
            while (i + run < in.size() && run < 255 && in[i + run] == in[i]) ++run;
            if (n + 2 > out.size()) return 0;  // does not fit: the frame is kept raw
            out[n++] = static_cast<std::byte>(run);
            out[n++] = in[i];
            i += run;
        }
        return n;
    }

    static std::size_t decompress(std::span<const std::byte> in, std::span<std::byte> out) {
        if (in.size() % 2) throw mmry::error(errc::corrupt, "rle: odd input length");
        std::size_t n = 0;
        for (std::size_t i = 0; i < in.size(); i += 2) {
            const auto run = std::to_integer<std::size_t>(in[i]);
            if (run == 0 || n + run > out.size())
                throw mmry::error(errc::corrupt, "rle: run overflows the frame");
            for (std::size_t k = 0; k < run; ++k) out[n++] = in[i + 1];
        }
        return n;
    }
};
static_assert(mmry::compressor_policy<rle>);

/// A compressor that forgot decompress.
struct no_decompress {
    static constexpr std::uint8_t id = 201;
    static constexpr std::string_view name = "half";
    static std::size_t compress(std::span<const std::byte>, std::span<std::byte>) { return 0; }
};
static_assert(!mmry::compressor_policy<no_decompress>);

/// Nor is a compressor without an id, or whose compress returns something else than a size.
struct no_id {
    [[maybe_unused]] static constexpr std::string_view name = "anonymous";
    static std::size_t compress(std::span<const std::byte>, std::span<std::byte>) { return 0; }
    static std::size_t decompress(std::span<const std::byte>, std::span<std::byte>) { return 0; }
};
static_assert(!mmry::compressor_policy<no_id>);
struct bool_result {
    static constexpr std::uint8_t id = 202;
    static constexpr std::string_view name = "bool";
    static bool compress(std::span<const std::byte>, std::span<std::byte>) { return false; }
    static std::size_t decompress(std::span<const std::byte>, std::span<std::byte>) { return 0; }
};
static_assert(!mmry::compressor_policy<bool_result>);

struct rle_traits : mmry::default_traits {
    using compressor = rle;
};
struct rle_sealed_traits : mmry::default_traits {
    using compressor = rle;
    using cipher = mmry::cipher::xchacha20_poly1305;
};
struct half_traits : mmry::default_traits {
    using compressor = no_decompress;
};
static_assert(mmry::store_traits<rle_traits>);
static_assert(!mmry::store_traits<half_traits>);

mmry::bytes runs(std::size_t n) {
    mmry::bytes out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::byte>('a' + (i / 100) % 26);
    return out;
}

}  // namespace

using rle_stores = std::tuple<rle_traits, rle_sealed_traits>;

TEMPLATE_LIST_TEST_CASE("custom policy: a user-written compressor round-trips", "[custom]",
                        rle_stores) {
    auto s = mmry_test::make_store<TestType>({.frame_size = 1024});
    const auto long_runs = runs(5000);
    const auto no_runs = mmry_test::random_bytes(3000);
    s.put("runs", long_runs);
    s.put("noise", no_runs);
    s.put("one", "x");

    CHECK(s.get("runs") == long_runs);
    CHECK(s.get("noise") == no_runs);
    CHECK(s.template get<std::string>("one") == "x");
    CHECK(s.read("runs", 1000, 1100) == mmry_test::slice(long_runs, 1000, 1100));

    const auto m = *s.metadata("runs");
    CHECK(m.frames == 5);
    CHECK(m.compressed);
    CHECK(m.compressed_frames == 5);
    CHECK(m.stored_size < 5000 / 10);
    CHECK_FALSE(s.metadata("noise")->compressed);
    CHECK(s.stats().ratio() > 1.0);

    // The record names the user's compressor by its id.
    const auto record = *s.export_record("runs");
    CHECK(std::to_integer<int>(record[mmry::format::off::compressor]) == 200);
    s.erase("runs");
    s.import_record(record);
    CHECK(s.get("runs") == long_runs);
}

TEST_CASE("custom policy: records of another compressor are refused as a policy mismatch",
          "[custom]") {
    mmry::basic_store<rle_traits> user({.frame_size = 1024});
    mmry::store builtin({.frame_size = 1024});
    user.put("k", runs(2000));
    CHECK_THROWS_MATCHES(
        builtin.import_record(*user.export_record("k")), mmry::error,
        is_error(errc::policy_mismatch, "compressor a policy of the user's own (id 200)"));
    CHECK_FALSE(builtin.contains("k"));
}

// ---- a user codec -------------------------------------------------------------------------------

namespace {
struct point {
    std::string label;
    std::int32_t x = 0, y = 0;
    friend bool operator==(const point&, const point&) = default;
};
static_assert(!std::is_trivially_copyable_v<point>);
}  // namespace

template <>
struct mmry::codec<point> {
    static mmry::bytes encode(const point& p) {
        mmry::bytes out(8 + p.label.size());
        std::memcpy(out.data(), &p.x, 4);
        std::memcpy(out.data() + 4, &p.y, 4);
        std::memcpy(out.data() + 8, p.label.data(), p.label.size());
        return out;
    }
    static point decode(mmry::byte_view b) {
        if (b.size() < 8) throw mmry::error(errc::invalid_argument, "a point needs 8 bytes");
        point p;
        std::memcpy(&p.x, b.data(), 4);
        std::memcpy(&p.y, b.data() + 4, 4);
        p.label.assign(reinterpret_cast<const char*>(b.data()) + 8, b.size() - 8);
        return p;
    }
};
static_assert(mmry::value_codec<point>);

TEST_CASE("custom policy: a user codec stores a type that is not trivially copyable", "[custom]") {
    mmry::store s;
    const point p{"a label long enough to live on the heap, not in the string", -3, 1 << 20};
    s.put("point/1", p);
    CHECK(s.get<point>("point/1") == p);
    CHECK(s.metadata("point/1")->logical_size == 8 + p.label.size());
    CHECK(s.get<point>("point/1")->label == p.label);

    s.put("point/empty", point{});
    CHECK(s.get<point>("point/empty") == point{});
    CHECK_FALSE(s.get<point>("point/absent"));

    // The codec's own errors reach the caller as mmry::error naming the key.
    s.put("short", "1234");
    CHECK_THROWS_MATCHES(s.get<point>("short"), mmry::error,
                         is_error(errc::invalid_argument, "'short'"));
}

/// A codec whose decode throws a plain std::exception, as third-party parsers do.
struct strict_number {
    long value = 0;
};
template <>
struct mmry::codec<strict_number> {
    static mmry::bytes encode(const strict_number& n) {
        const auto text = std::to_string(n.value);
        const auto b = mmry::as_bytes(text);
        return mmry::bytes(b.begin(), b.end());
    }
    static strict_number decode(mmry::byte_view b) {
        return {std::stol(std::string(mmry::as_chars(b)))};  // std::invalid_argument on junk
    }
};

TEST_CASE("custom policy: a codec's foreign exception becomes an mmry::error naming the key",
          "[custom]") {
    mmry::store s;
    s.put("n", strict_number{42});
    CHECK(s.get<strict_number>("n")->value == 42);
    s.put("junk", "not a number");
    CHECK_THROWS_MATCHES(s.get<strict_number>("junk"), mmry::error,
                         is_error(errc::invalid_argument, "'junk'"));
}

// ---- A user-written index and arena
// ---------------------------------------------------------------

namespace {

struct listed_traits : mmry::default_traits {
    using index = custom::listed;
};
struct directory_traits : mmry::default_traits {
    using arena = custom::directory;
    using index = custom::listed;
    using path = mmry::path::versioned;
};
static_assert(mmry::store_traits<listed_traits>);
static_assert(mmry::store_traits<directory_traits>);

/// What each policy must have, missing one member at a time (tests/compile_fail shows the
/// compiler's message naming it).
struct without_erase : custom::entry_run {
    using entry_run::entry_run;
    template <class Txn>
    bool erase(Txn&, std::string_view, int) const;  // hides entry_run::erase(t, key)
};
struct without_verify : custom::entry_run {
    using entry_run::entry_run;
    int verify;  // not a member function
};
template <class Table, bool Sorted = true>
struct index_of {
    static constexpr std::uint8_t id = 212;
    static constexpr std::string_view name = "broken";
    static constexpr bool sorted = Sorted;
    using table = Table;
};
static_assert(!mmry::index_policy<index_of<without_erase>>);
static_assert(!mmry::index_policy<index_of<without_verify>>);
static_assert(!mmry::index_policy<index_of<custom::entry_run, false>>);  // it is sorted
static_assert(!mmry::index_policy<index_of<mmry::detail::pages::hash_index, true>>);  // it is not

struct backend_without_unlink : custom::directory_backend {
    static void unlink(const std::string&);  // returns nothing and may throw
};
struct anonymous_shared : custom::directory {
    struct backend {
        static constexpr bool named = false, durable = false;
    };
};
template <class Backend>
struct arena_of : custom::directory {
    using backend = Backend;
};
static_assert(!mmry::arena_policy<arena_of<backend_without_unlink>>);
static_assert(!mmry::arena_policy<anonymous_shared>);  // shared, yet nothing to open again

/// A directory under /dev/shm named after the test process, removed with what is in it.
struct scratch_directory {
    std::string path = "/dev/shm/mmry-test-custom-" + std::to_string(::getpid());
    scratch_directory() { std::filesystem::remove_all(path); }
    ~scratch_directory() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

}  // namespace

TEST_CASE("custom policy: a user-written index keeps keys in order, reads, lists and verifies",
          "[custom]") {
    mmry::basic_store<listed_traits> s;
    for (int i = 0; i < 60; ++i) s.put(mmry_test::numbered("k/", (i * 37) % 60), std::to_string(i));
    s.put("big", mmry_test::random_bytes(200000, 3));  // a record of its own pages
    for (int i = 0; i < 60; i += 3) CHECK(s.erase(mmry_test::numbered("k/", i)));
    CHECK_FALSE(s.erase("k/absent"));
    CHECK(s.size() == 41);
    CHECK(s.get("big") == mmry_test::random_bytes(200000, 3));
    // Listed in key order, as index::ordered lists them (custom::listed is sorted).
    const auto keys = mmry_test::keys_of(s.list("k/"));
    CHECK(keys.size() == 40);
    CHECK(std::is_sorted(keys.begin(), keys.end()));
    CHECK(keys.front() == mmry_test::numbered("k/", 1));
    const auto tail = mmry_test::keys_of(s.range(keys[11], ""));
    CHECK(tail == std::vector<std::string>(keys.begin() + 11, keys.end()));
    mmry_test::check_counters(s);
    // A failed put changes nothing, whatever the index.
    CHECK_THROWS_MATCHES(s.put("k/1", std::string("x"), {.if_absent = true}), mmry::error,
                         is_error(errc::conflict));
    CHECK(s.get<std::string>(mmry_test::numbered("k/", 1)));
}

TEST_CASE(
    "custom policy: a user-written arena shares a store between processes, "
    "with a user-written index",
    "[custom][processes]") {
    using store = mmry::basic_store<directory_traits>;
    scratch_directory dir;
    CHECK_THROWS_MATCHES(store::create("relative/name"), mmry::error,
                         is_error(errc::invalid_argument, "absolute path"));
    {
        auto s = store::create(dir.path, {.capacity = 256 << 10});
        s.put("a", std::string("one"));
        s.put("a", std::string("two"));
        s.put("b", mmry_test::random_bytes(600 << 10, 4));  // longer than a segment
        CHECK(std::filesystem::exists(dir.path + "/seg-0"));
        CHECK(std::filesystem::exists(dir.path + "/seg-1"));
    }
    // Another process opens it by its name, reads both versions, and writes.
    CHECK(mmry_test::in_child([&] {
              auto s = store::open(dir.path);
              if (s.get<std::string>("a") != "two") return 1;
              if (s.get<std::string>("a", mmry::version{1}) != "one") return 2;
              if (s.get("b") != mmry_test::random_bytes(600 << 10, 4)) return 3;
              s.put("c", std::string("from the child"));
              return s.verify().ok() ? 0 : 4;
          }) == 0);
    auto s = store::open(dir.path);
    CHECK(s.get<std::string>("c") == "from the child");
    CHECK(mmry_test::keys_of(s.list()) == std::vector<std::string>{"a", "b", "c"});
    mmry_test::check_counters(s);
    // Opened with the built-in index instead, the store is refused: another composition.
    struct hashed_directory : directory_traits {
        using index = mmry::index::hashed;
    };
    CHECK_THROWS_MATCHES(mmry::basic_store<hashed_directory>::open(dir.path), mmry::error,
                         is_error(errc::policy_mismatch));
    CHECK(store::remove(dir.path));
    CHECK_FALSE(std::filesystem::exists(dir.path + "/seg-0"));
}

TEST_CASE("custom policy: damage to a user-written index is refused, never followed", "[custom]") {
    struct latest_traits : directory_traits {
        using path = mmry::path::latest;  // get reads the index (word 0), not the key heads
    };
    using store = mmry::basic_store<latest_traits>;
    scratch_directory dir;
    {
        auto s = store::create(dir.path);
        for (int i = 0; i < 20; ++i) s.put(mmry_test::numbered("k/", i), std::to_string(i));
    }
    // The index's run is the page its first meta word names; one byte of its entries flipped.
    std::uint64_t run = 0;
    {
        auto s = store::open(dir.path);
        run = mmry::detail::store_access::meta_word(s, 0);  // index_words: 0
    }
    REQUIRE(run != 0);
    {
        std::fstream f(dir.path + "/seg-0", std::ios::in | std::ios::out | std::ios::binary);
        f.seekg(static_cast<std::streamoff>(run * 4096 + 40));
        char c = 0;
        f.read(&c, 1);
        c = static_cast<char>(c ^ 0x5a);
        f.seekp(static_cast<std::streamoff>(run * 4096 + 40));
        f.write(&c, 1);
    }
    auto s = store::open(dir.path);
    CHECK_THROWS_MATCHES(s.get(mmry_test::numbered("k/", 3)), mmry::error,
                         is_error(errc::corrupt, "listed index"));
    const auto report = s.verify();
    CHECK_FALSE(report.ok());
    CHECK_THROWS_MATCHES(s.put("new", std::string("x")), mmry::error, is_error(errc::corrupt));
}
