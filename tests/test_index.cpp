// The index policies' maps on their own: index::hashed (an open-addressing table) and
// index::ordered, against a std::map model, on the C++ heap and in a Boost.Interprocess segment;
// long keys, erased slots reused, growth, the strong guarantee when an allocation fails, and the
// hash that every process and build must agree on.

#include <cstdint>
#include <map>
#include <memory>
#include <new>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/interprocess/allocators/allocator.hpp>
#include <boost/interprocess/managed_external_buffer.hpp>

#include <catch2/catch.hpp>

#include <mmry/detail/hash64.hpp>
#include <mmry/index/hashed.hpp>
#include <mmry/index/ordered.hpp>

namespace bip = boost::interprocess;

namespace {

// An allocator that fails once a shared countdown reaches zero (never when it is negative).
inline long allocations_left = -1;

template <class T>
struct failing_allocator {
    using value_type = T;
    failing_allocator() = default;
    template <class U>
    failing_allocator(const failing_allocator<U>&) noexcept {}
    T* allocate(std::size_t n) {
        if (allocations_left == 0) throw std::bad_alloc();
        if (allocations_left > 0) --allocations_left;
        return std::allocator<T>().allocate(n);
    }
    void deallocate(T* p, std::size_t n) noexcept { std::allocator<T>().deallocate(p, n); }
    template <class U>
    bool operator==(const failing_allocator<U>&) const noexcept {
        return true;
    }
};

std::string key_of(std::uint64_t i, bool long_keys) {
    std::string k = "k" + std::to_string(i * 2654435761u % 1000003);
    if (long_keys) k += std::string(24, static_cast<char>('a' + i % 26));
    return k;
}

// Random upserts, erases and emplaces on `map`, checked against a std::map after every step and
// in full at the end.
template <class Map>
void agree_with_model(Map& map, bool long_keys, int steps) {
    std::map<std::string, mmry::record_ref> model;
    std::mt19937_64 rng(long_keys ? 7 : 11);
    for (int step = 0; step < steps; ++step) {
        const std::string k = key_of(rng() % 3000, long_keys);
        const mmry::record_ref ref{mmry::handle(1, static_cast<std::uint64_t>(step)), 100, 90, 1,
                                   0};
        switch (rng() % 4) {
            case 0:
            case 1: {
                const auto old = map.upsert(k, ref);
                const auto it = model.find(k);
                REQUIRE(old.has_value() == (it != model.end()));
                if (old) CHECK(*old == it->second);
                model[k] = ref;
                break;
            }
            case 2: {
                const auto old = map.erase(k);
                const auto it = model.find(k);
                REQUIRE(old.has_value() == (it != model.end()));
                if (old) {
                    CHECK(*old == it->second);
                    model.erase(it);
                }
                break;
            }
            default: {
                auto& v = map.emplace(k, ref);
                const auto [it, added] = model.try_emplace(k, ref);
                CHECK(v == it->second);
                (void)added;
            }
        }
        REQUIRE(map.size() == model.size());
        const auto* found = map.find(k);
        REQUIRE((found != nullptr) == model.contains(k));
    }
    std::size_t seen = 0;
    map.scan("", "", [&](std::string_view k, const mmry::record_ref& v) {
        ++seen;
        const auto it = model.find(std::string(k));
        REQUIRE(it != model.end());
        CHECK(v == it->second);
        return true;
    });
    CHECK(seen == model.size());
    for (const auto& [k, v] : model) {
        const auto* found = map.find(k);
        REQUIRE(found);
        CHECK(*found == v);
    }
    CHECK_FALSE(map.find("absent"));
}

}  // namespace

TEMPLATE_TEST_CASE("index maps agree with a model on the heap", "[index]", mmry::index::hashed,
                   mmry::index::ordered) {
    const bool long_keys = GENERATE(false, true);
    typename TestType::template map<> map;
    agree_with_model(map, long_keys, 20000);
}

TEMPLATE_TEST_CASE("index maps agree with a model in a segment", "[index]", mmry::index::hashed,
                   mmry::index::ordered) {
    const bool long_keys = GENERATE(false, true);
    std::vector<char> buffer(std::size_t{16} << 20);
    bip::managed_external_buffer segment(bip::create_only, buffer.data(), buffer.size());
    using alloc = bip::allocator<char, bip::managed_external_buffer::segment_manager>;
    using map_type = typename TestType::template map<alloc>;
    auto* map = segment.construct<map_type>("index")(alloc(segment.get_segment_manager()));
    const auto free_before = segment.get_free_memory();
    agree_with_model(*map, long_keys, 20000);
    segment.destroy_ptr(map);
    // Every slot array, long key and node was given back.
    CHECK(segment.get_free_memory() >= free_before);
    CHECK(segment.all_memory_deallocated());
}

TEST_CASE("hashed index: erased slots are reused, and the table does not grow under churn",
          "[index]") {
    std::vector<char> buffer(std::size_t{8} << 20);
    bip::managed_external_buffer segment(bip::create_only, buffer.data(), buffer.size());
    using alloc = bip::allocator<char, bip::managed_external_buffer::segment_manager>;
    mmry::index::hashed::map<alloc> map(alloc(segment.get_segment_manager()));
    for (std::uint64_t i = 0; i < 1000; ++i) map.upsert(key_of(i, false), {});
    const auto free_full = segment.get_free_memory();
    // 200 rounds of erasing every key and putting it back under another name: a table that never
    // reused an erased slot would grow (or fill up) here.
    for (std::uint64_t round = 1; round <= 200; ++round)
        for (std::uint64_t i = 0; i < 1000; ++i) {
            REQUIRE(map.erase(key_of(i + (round - 1) * 1000, false)));
            map.upsert(key_of(i + round * 1000, false), {});
        }
    CHECK(map.size() == 1000);
    CHECK(segment.get_free_memory() >= free_full);
    for (std::uint64_t i = 0; i < 1000; ++i) CHECK(map.find(key_of(i + 200000, false)));
    CHECK_FALSE(map.find(key_of(5, false)));
}

TEST_CASE("hashed index: grows in pages through a segment that has no large free block",
          "[index]") {
    // A segment cut into 3 MiB blocks, every other one freed: 63 MiB free, none of it in a piece
    // over 3 MiB. 200,000 keys need a 16 MiB slot array (and the 8 MiB one it grows from): in
    // pages of 1 MiB it fits; in one piece it could not.
    std::vector<char> buffer(std::size_t{128} << 20);
    bip::managed_external_buffer segment(bip::create_only, buffer.data(), buffer.size());
    std::vector<void*> blocks;
    while (void* p = segment.allocate(std::size_t{3} << 20, std::nothrow)) blocks.push_back(p);
    for (std::size_t i = 0; i < blocks.size(); i += 2) segment.deallocate(blocks[i]);
    REQUIRE(segment.get_free_memory() > (std::size_t{40} << 20));

    using alloc = bip::allocator<char, bip::managed_external_buffer::segment_manager>;
    auto* map = segment.construct<mmry::index::hashed::map<alloc>>("index")(
        alloc(segment.get_segment_manager()));
    for (std::uint64_t i = 0; i < 200000; ++i)
        map->upsert("key-" + std::to_string(i), {mmry::handle(0, i), i, 0, 0, 0});
    REQUIRE(map->size() == 200000);
    CHECK(map->growth_bytes() > (std::size_t{32} << 20));
    for (std::uint64_t i = 0; i < 200000; i += 7) {
        const auto* v = map->find("key-" + std::to_string(i));
        REQUIRE(v);
        CHECK(v->size == i);
    }
    for (std::uint64_t i = 0; i < 200000; i += 2) REQUIRE(map->erase("key-" + std::to_string(i)));
    CHECK(map->size() == 100000);
    CHECK_FALSE(map->find("key-0"));
    CHECK(map->find("key-1"));
    segment.destroy_ptr(map);
}

TEST_CASE("hashed index: a failed allocation leaves the map as it was", "[index]") {
    const bool long_keys = GENERATE(false, true);
    mmry::index::hashed::map<failing_allocator<char>> map;
    std::set<std::string> keys;
    // Whatever allocation fails (a growth of the slot array, a long key's copy), the insert
    // throws and every key is still there, with its value; nothing else is.
    for (std::uint64_t i = 0; i < 400; ++i) {
        const std::string k = key_of(i, long_keys);
        allocations_left = 0;
        bool threw = false;
        try {
            map.upsert(k, {mmry::handle(0, i), i, i, 1, 0});
        } catch (const std::bad_alloc&) {
            threw = true;
        }
        allocations_left = -1;
        // Without a long key to copy, only growing allocates, so most inserts succeed anyway.
        if (threw) {
            CHECK_FALSE(map.find(k));
            map.upsert(k, {mmry::handle(0, i), i, i, 1, 0});
        }
        keys.insert(k);
        REQUIRE(map.size() == keys.size());
    }
    for (std::uint64_t i = 0; i < 400; ++i) {
        const auto* v = map.find(key_of(i, long_keys));
        REQUIRE(v);
        CHECK(v->size == i);
    }
    // Replacing a value and erasing never allocate.
    allocations_left = 0;
    CHECK(map.upsert(key_of(3, long_keys), {}));
    CHECK(map.erase(key_of(4, long_keys)));
    allocations_left = -1;
}

TEST_CASE("hashed index: keys at the inline limit and binary keys", "[index]") {
    mmry::index::hashed::map<> map;
    std::vector<std::string> keys;
    for (std::size_t n = 1; n <= 64; ++n) {
        keys.push_back(std::string(n, 'x'));
        keys.push_back(std::string(n - 1, 'x') + '\0');
        keys.push_back(std::string("\0\xff", 2) + std::string(n, '\x80'));
    }
    for (std::size_t i = 0; i < keys.size(); ++i)
        map.upsert(keys[i], {mmry::handle(0, i), i, 0, 0, 0});
    REQUIRE(map.size() == keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
        const auto* v = map.find(keys[i]);
        REQUIRE(v);
        CHECK(v->size == i);
    }
    // A key that is a prefix or an extension of a stored key is another key.
    CHECK_FALSE(map.find(std::string(65, 'x')));
    CHECK_FALSE(map.find(std::string(20, 'x') + 'y'));
}

TEST_CASE("hash64 is fixed: stores written by other builds and processes find their keys",
          "[index]") {
    // These values are part of the store format (store format versions 4 and 5): a change here makes
    // every existing store's hashed index unreadable, and needs a new store format version.
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
