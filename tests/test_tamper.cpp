// The integrity guarantees: a record altered in any bit, truncated, with frames swapped or copied
// from another record, or moved to another store, is refused with an error that says why; no
// input crashes the store or reads out of bounds; a failed write changes nothing; and no key
// material is ever written into a record.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "support.hpp"

using mmry::errc;
using mmry::detail::store_access;
using mmry_test::is_error;
using mmry_test::is_integrity_error;

namespace {

constexpr std::size_t tiny_frame = 64;
const std::string the_key = "user/42/profile";

/// ~150 bytes in 3 frames (64, 64, 22): redundant for a compressing store, so that its frames are
/// stored compressed, random otherwise.
template <class Traits>
mmry::bytes small_value(std::uint64_t seed = 1) {
    if constexpr (mmry_test::compressing<Traits>) {
        auto v = mmry_test::redundant_bytes(150);
        v[100] = static_cast<std::byte>(seed);  // distinct values of the same shape
        return v;
    } else {
        return mmry_test::random_bytes(150, seed);
    }
}

/// Everything a store tells about itself; a failed operation must leave all of it unchanged.
struct snapshot {
    std::uint64_t entries, logical, stored, frames, compressed_frames, puts, erases;
    std::uint64_t segments, reserved, free, blocks, size;
    friend bool operator==(const snapshot&, const snapshot&) = default;
    friend std::ostream& operator<<(std::ostream& out, const snapshot& s) {
        return out << "{entries " << s.entries << ", logical " << s.logical << ", stored "
                   << s.stored << ", frames " << s.frames << ", compressed " << s.compressed_frames
                   << ", puts " << s.puts << ", erases " << s.erases << ", segments " << s.segments
                   << ", reserved " << s.reserved << ", free " << s.free << ", blocks " << s.blocks
                   << ", size() " << s.size << "}";
    }
};
template <class Store>
snapshot snapshot_of(const Store& s) {
    const auto st = s.stats();
    return {st.entries,          st.logical_bytes,     st.stored_bytes,
            st.frames,           st.compressed_frames, st.puts,
            st.erases,           st.arena.segments,    st.arena.reserved_bytes,
            st.arena.free_bytes, st.arena.blocks,      s.size()};
}

/// Describes what `f` did when it should have thrown an integrity error naming `key` ("" if it
/// did exactly that).
template <class F>
std::string integrity_failure_of(F&& f, const std::string& key) {
    try {
        f();
        return "no error";
    } catch (const mmry::error& e) {
        const auto c = e.code_value();
        if (c != errc::corrupt && c != errc::authentication_failed && c != errc::wrong_key)
            return std::string("unexpected code: ") + e.what();
        if (!key.empty() && std::string_view(e.what()).find("'" + key + "'") == std::string::npos)
            return std::string("message does not name the key: ") + e.what();
        return {};
    } catch (const std::exception& e) {
        return std::string("not an mmry::error: ") + e.what();
    }
}

/// Payload offset and stored size of every frame of a record.
struct frame_span {
    std::size_t offset, size;
};
template <class Traits>
std::vector<frame_span> frames_of_record(mmry::byte_view record) {
    const auto v = mmry::format::record_view::parse(record, "", Traits::cipher::tag_size);
    std::vector<frame_span> out;
    for (std::uint32_t i = 0; i < v.header().frame_count; ++i)
        out.push_back({v.payload_offset(i), v.entry(i).stored_size});
    return out;
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("tamper: every bit flipped in a stored record is detected by get",
                        "[tamper]", mmry_test::sealing) {
    // Without the cache of decoded values: a damaged record must be caught by decoding it (with
    // the cache, a get may answer from the copy it verified before the damage).
    auto s = mmry_test::make_store<TestType>({.frame_size = tiny_frame, .cache_bytes = 0});
    const auto value = small_value<TestType>();
    s.put(the_key, value);
    s.put("neighbour", "stays readable");
    REQUIRE(s.metadata(the_key)->frames == 3);
    if (mmry_test::compressing<TestType>) REQUIRE(s.metadata(the_key)->compressed_frames == 2);

    const auto record = store_access::record_bytes(s, the_key);
    REQUIRE(record.size() == s.metadata(the_key)->stored_size);
    std::vector<std::string> failures;
    for (std::size_t at = 0; at < record.size(); ++at) {
        for (int bit = 0; bit < 8; ++bit) {
            const std::string where = "byte " + std::to_string(at) + " bit " + std::to_string(bit);
            record[at] ^= std::byte(1u << bit);
            if (auto f = integrity_failure_of([&] { (void)s.get(the_key); }, the_key); !f.empty())
                failures.push_back(where + ", get: " + f);
            if (auto f =
                    integrity_failure_of([&] { (void)s.read(the_key, 0, value.size()); }, the_key);
                !f.empty())
                failures.push_back(where + ", read: " + f);
            record[at] ^= std::byte(1u << bit);
            if (s.get(the_key) != value) failures.push_back(where + ": not readable once restored");
        }
    }
    CHECK(failures == std::vector<std::string>{});
    CHECK(s.template get<std::string>("neighbour") == "stays readable");
}

TEMPLATE_LIST_TEST_CASE("tamper: an altered export is refused and the store is unchanged",
                        "[tamper]", mmry_test::sealing) {
    auto s = mmry_test::make_store<TestType>({.frame_size = tiny_frame});
    const auto exported_value = small_value<TestType>(1);
    const auto current_value = small_value<TestType>(2);
    s.put(the_key, exported_value);
    const auto exported = *s.export_record(the_key);
    s.put(the_key, current_value);
    const auto before = snapshot_of(s);

    std::vector<std::string> failures;
    for (std::size_t at = 0; at < exported.size(); ++at) {
        for (int bit = 0; bit < 8; ++bit) {
            const std::string where = "byte " + std::to_string(at) + " bit " + std::to_string(bit);
            auto altered = exported;
            altered[at] ^= std::byte(1u << bit);
            // The key may be the altered part, so the message cannot always name it.
            if (auto f = integrity_failure_of([&] { s.import_record(altered); }, ""); !f.empty())
                failures.push_back(where + ": " + f);
            if (snapshot_of(s) != before) failures.push_back(where + ": stats changed");
            if (s.get(the_key) != current_value) failures.push_back(where + ": value changed");
        }
    }
    CHECK(failures == std::vector<std::string>{});

    // The unaltered export is accepted: the checks above could have passed.
    s.import_record(exported);
    CHECK(s.get(the_key) == exported_value);
    CHECK(s.size() == 1);
}

TEMPLATE_LIST_TEST_CASE("tamper: a truncated or extended export is refused as corrupt", "[tamper]",
                        mmry_test::sealing) {
    auto s = mmry_test::make_store<TestType>({.frame_size = tiny_frame});
    s.put(the_key, small_value<TestType>());
    const auto exported = *s.export_record(the_key);
    s.erase(the_key);

    std::vector<std::string> failures;
    for (std::size_t n = 0; n < exported.size(); ++n) {
        // A copy of exactly n bytes, so that ASan sees any read past its end.
        const mmry::bytes truncated(exported.data(), exported.data() + n);
        try {
            s.import_record(truncated);
            failures.push_back(std::to_string(n) + " bytes: accepted");
        } catch (const mmry::error& e) {
            if (e.code() != errc::corrupt) failures.push_back(std::to_string(n) + ": " + e.what());
        }
    }
    CHECK(failures == std::vector<std::string>{});
    auto extended = exported;
    extended.push_back(std::byte{0});
    CHECK_THROWS_MATCHES(s.import_record(extended), mmry::error, is_error(errc::corrupt));
    CHECK(s.size() == 0);
    CHECK(s.stats().stored_bytes == 0);
}

TEMPLATE_LIST_TEST_CASE("tamper: frames swapped within a record are detected", "[tamper]",
                        mmry_test::sealing) {
    // Random data is never compressed: frames 0 and 1 have the same stored size. The value is
    // large enough for a record of pages: a record small enough to live in its index entry is
    // checked as a whole by the entry's checksum too, so no frame of it reads once it is damaged.
    auto s = mmry_test::make_store<TestType>({.frame_size = tiny_frame});
    const auto value = mmry_test::random_bytes(1500);
    s.put(the_key, value);
    auto exported = *s.export_record(the_key);
    const auto frames = frames_of_record<TestType>(exported);
    REQUIRE(frames.size() >= 3);
    REQUIRE(frames[0].size == frames[1].size);

    const auto swap_frames = [&](std::byte* record) {
        std::swap_ranges(record + frames[0].offset, record + frames[0].offset + frames[0].size,
                         record + frames[1].offset);
    };
    swap_frames(exported.data());
    CHECK_THROWS_MATCHES(s.import_record(exported), mmry::error, is_integrity_error(the_key));

    // The same in place.
    swap_frames(store_access::record_bytes(s, the_key).data());
    CHECK_THROWS_MATCHES(s.get(the_key), mmry::error, is_integrity_error(the_key));
    // A read of the last frame alone does not touch the swapped frames; one of frame 0 does.
    CHECK(s.read(the_key, 1490, 10) == mmry_test::slice(value, 1490, 10));
    CHECK_THROWS_MATCHES(s.read(the_key, 0, 1), mmry::error, is_integrity_error(the_key));
}

TEMPLATE_LIST_TEST_CASE("tamper: a frame copied from another record is detected", "[tamper]",
                        mmry_test::sealing) {
    auto s = mmry_test::make_store<TestType>({.frame_size = tiny_frame});
    // Same key length, same sizes, different content.
    s.put("user/1", small_value<TestType>(1));
    s.put("user/2", small_value<TestType>(2));
    auto target = *s.export_record("user/1");
    const auto donor = *s.export_record("user/2");
    const auto target_frames = frames_of_record<TestType>(target);
    const auto donor_frames = frames_of_record<TestType>(donor);
    REQUIRE(target.size() == donor.size());

    for (std::size_t i = 0; i < target_frames.size(); ++i) {
        INFO("frame " << i);
        REQUIRE(target_frames[i].offset == donor_frames[i].offset);
        REQUIRE(target_frames[i].size == donor_frames[i].size);
        auto spliced = target;
        std::copy_n(donor.data() + donor_frames[i].offset, donor_frames[i].size,
                    spliced.data() + target_frames[i].offset);
        if (spliced == target) continue;  // identical frame contents: nothing was changed
        CHECK_THROWS_MATCHES(s.import_record(spliced), mmry::error, is_integrity_error("user/1"));
    }

    // A frame of an older value of the same key.
    const auto old_value = *s.export_record("user/2");
    s.put("user/2", small_value<TestType>(3));
    auto current = *s.export_record("user/2");
    REQUIRE(current.size() == old_value.size());
    const auto f = frames_of_record<TestType>(current)[1];
    std::copy_n(old_value.data() + f.offset, f.size, current.data() + f.offset);
    CHECK_THROWS_MATCHES(s.import_record(current), mmry::error, is_integrity_error("user/2"));
    CHECK(s.get("user/2") == small_value<TestType>(3));
}

TEMPLATE_LIST_TEST_CASE("tamper: a record from another store is refused", "[tamper]",
                        mmry_test::sealing) {
    const auto material = mmry_test::random_bytes(32, 7);
    const auto key_a =
        mmry_test::encrypted<TestType> ? mmry::key::from_bytes(material) : mmry::key();
    auto a = mmry_test::make_store<TestType>({.key = key_a, .frame_size = tiny_frame});
    a.put(the_key, small_value<TestType>());
    const auto exported = *a.export_record(the_key);

    SECTION("with another key") {
        auto b = mmry_test::make_store<TestType>({.frame_size = tiny_frame});
        b.put(the_key, "b's own value");
        if constexpr (mmry_test::encrypted<TestType>)
            CHECK_THROWS_MATCHES(b.import_record(exported), mmry::error,
                                 is_error(errc::wrong_key, "'" + the_key + "'"));
        else
            CHECK_THROWS_MATCHES(b.import_record(exported), mmry::error,
                                 is_error(errc::corrupt, "'" + the_key + "'"));
        CHECK(b.template get<std::string>(the_key) == "b's own value");
        CHECK(b.size() == 1);
    }
    SECTION("with the same key: frames are bound to their store") {
        const auto key_b =
            mmry_test::encrypted<TestType> ? mmry::key::from_bytes(material) : mmry::key();
        auto b = mmry_test::make_store<TestType>({.key = key_b, .frame_size = tiny_frame});
        CHECK_THROWS_MATCHES(b.import_record(exported), mmry::error,
                             is_integrity_error("'" + the_key + "'"));
        CHECK(b.size() == 0);
        CHECK(b.stats().stored_bytes == 0);
        // The record is fine in its own store.
        CHECK_NOTHROW(a.import_record(exported));
    }
}

TEMPLATE_LIST_TEST_CASE("tamper: a put that fails leaves the store exactly as it was",
                        "[tamper][limits]", mmry_test::sealing) {
    auto s = mmry_test::make_store<TestType>({.capacity = 256 << 10, .max_size = 256 << 10});
    s.put("a", "first");
    s.put("b", mmry_test::redundant_bytes(5000));
    const auto before = snapshot_of(s);

    const auto too_big = mmry_test::random_bytes(300 << 10);
    CHECK_THROWS_MATCHES(s.put("c", too_big), mmry::error, is_error(errc::limit_exceeded, "limit"));
    CHECK(snapshot_of(s) == before);
    CHECK_THROWS_MATCHES(s.put("a", too_big), mmry::error, is_error(errc::limit_exceeded));
    CHECK(snapshot_of(s) == before);
    CHECK_FALSE(s.contains("c"));
    CHECK(s.template get<std::string>("a") == "first");
    CHECK(s.get("b") == mmry_test::redundant_bytes(5000));

    s.put("c", "small enough");
    CHECK(s.template get<std::string>("c") == "small enough");
    CHECK(s.size() == 3);
}

TEMPLATE_LIST_TEST_CASE("tamper: a damaged record can be erased or replaced, and is uncounted",
                        "[tamper]", mmry_test::sealing) {
    auto s = mmry_test::make_store<TestType>({.frame_size = tiny_frame});
    s.put("kept", "kept value");
    const auto before = snapshot_of(s);
    s.put(the_key, small_value<TestType>());
    const auto stored_size = s.metadata(the_key)->stored_size;

    const std::size_t at =
        GENERATE(as<std::size_t>{}, mmry::format::off::logical_size,                 // in the head
                 mmry::format::off::frame_count, std::size_t{0}, std::size_t{150});  // in a frame
    INFO("damaged byte " << at);
    store_access::record_bytes(s, the_key)[at] ^= std::byte{0x10};
    CHECK_THROWS_MATCHES(s.get(the_key), mmry::error, is_integrity_error(the_key));

    SECTION("erased") {
        const auto removed = s.erase(the_key);
        REQUIRE(removed);
        CHECK(removed->stored_size == stored_size);
        CHECK_FALSE(s.contains(the_key));
        // Every counter is back where it was, but for puts and erases, and the pages in use:
        // the record's pages are free again, and the tables' pages were copied on write (the
        // counts differ by a few pages, either way).
        auto expected = before;
        expected.puts = 2;
        expected.erases = 1;
        const auto now = snapshot_of(s);
        expected.free = now.free;
        expected.blocks = now.blocks;
        CHECK(now == expected);
        CHECK(now.blocks <= before.blocks + 4);
    }
    SECTION("replaced") {
        s.put(the_key, "new");
        CHECK(s.template get<std::string>(the_key) == "new");
        const auto kept = *s.metadata("kept");
        const auto replaced = *s.metadata(the_key);
        const auto st = s.stats();
        CHECK(st.entries == 2);
        CHECK(st.logical_bytes == kept.logical_size + 3);
        CHECK(st.stored_bytes == kept.stored_size + replaced.stored_size);
        CHECK(st.frames == 2);
        CHECK(st.compressed_frames == 0);
    }
}

TEMPLATE_LIST_TEST_CASE("tamper: no key material is written into a record", "[tamper][key]",
                        mmry_test::sealing) {
    if constexpr (mmry_test::encrypted<TestType>) {
        const auto material = mmry_test::random_bytes(32, 99);
        auto s = mmry_test::make_store<TestType>(
            {.key = mmry::key::from_bytes(material), .frame_size = tiny_frame});
        // A value of zeros: with a stream cipher, its ciphertext is the keystream.
        s.put(the_key, mmry::bytes(1000));
        s.put("other", small_value<TestType>());
        for (const auto* key : {the_key.c_str(), "other"}) {
            const auto record = *s.export_record(key);
            // Any 8 consecutive bytes of the key would be a leak; by chance they turn up with
            // probability ~2^-64 per position.
            for (std::size_t i = 0; i + 8 <= material.size(); ++i) {
                INFO("key bytes " << i << ".." << i + 8 << " in record " << key);
                CHECK(std::search(record.begin(), record.end(), material.data() + i,
                                  material.data() + i + 8) == record.end());
            }
        }
        // Nor is a passphrase.
        const std::string passphrase = "a passphrase that must never be stored";
        auto p = mmry_test::make_store<TestType>(
            {.key = mmry::key::from_passphrase(passphrase, {.log2_n = 10})});
        p.put(the_key, "value");
        const auto record = *p.export_record(the_key);
        const auto pw = mmry::as_bytes(passphrase);
        CHECK(std::search(record.begin(), record.end(), pw.begin(), pw.end()) == record.end());
    }
}

TEMPLATE_LIST_TEST_CASE(
    "tamper: an index entry whose binding is not its record's is refused, by get and by verify()",
    "[tamper][replay]", mmry_test::sealing) {
    // The index entry names the right record (its sequence number too) but carries another
    // binding: an entry forged by someone without the store's key (or, unencrypted, any binding
    // but none). Entries re-encoded with their checks, so only the binding can tell.
    auto s = mmry_test::make_store<TestType>({.cache_bytes = 0});
    s.put("user/1", mmry_test::random_bytes(6000, 1));
    s.put("user/2", mmry_test::random_bytes(6000, 2));
    REQUIRE(store_access::change_index_entry(s, "user/1",
                                             [](mmry::record_ref& r) { r.binding ^= 0x5a; }));

    const std::string failure = integrity_failure_of([&] { (void)s.get("user/1"); }, "user/1");
    CHECK(failure == "");
    try {
        (void)s.get("user/1");
    } catch (const mmry::error& e) {
        CHECK(std::string_view(e.what()).find("not bound under the store's key") !=
              std::string_view::npos);
    }
    const auto report = s.verify();
    REQUIRE_FALSE(report.ok());
    CHECK(report.problems.front().find("user/1") != std::string::npos);
    CHECK(s.get("user/2") == mmry_test::random_bytes(6000, 2));
    // Put again, the key's entry is whole again.
    s.put("user/1", mmry_test::random_bytes(6000, 3));
    CHECK(s.get("user/1") == mmry_test::random_bytes(6000, 3));
    CHECK(s.verify().ok());
}

TEMPLATE_LIST_TEST_CASE(
    "tamper: an older record of a key put back over the current one is refused (replay), by get "
    "and by verify()",
    "[tamper][replay]", mmry_test::sealing) {
    auto s = mmry_test::make_store<TestType>({.cache_bytes = 0});
    // Values too large for an index entry, of one size, that no compressor shrinks: the old
    // record and the new one have the same length.
    s.put("user/1", mmry_test::random_bytes(6000, 1));
    const auto before = store_access::record_bytes(s, "user/1");
    const mmry::bytes old(before.begin(), before.end());
    s.put("user/1", mmry_test::random_bytes(6000, 2));
    s.put("user/2", mmry_test::random_bytes(6000, 3));
    auto now = store_access::record_bytes(s, "user/1");
    REQUIRE(now.size() == old.size());
    std::copy(old.begin(), old.end(), now.begin());  // what someone with the files can do

    CHECK(integrity_failure_of([&] { (void)s.get("user/1"); }, "user/1") == "");
    const auto report = s.verify();
    REQUIRE_FALSE(report.ok());
    CHECK(report.problems.front().find("replay") != std::string::npos);
    // Nothing else is touched, and the key can be written again.
    CHECK(s.get("user/2") == mmry_test::random_bytes(6000, 3));
    s.put("user/1", mmry_test::random_bytes(6000, 4));
    CHECK(s.get("user/1") == mmry_test::random_bytes(6000, 4));
    CHECK(s.verify().ok());
}
