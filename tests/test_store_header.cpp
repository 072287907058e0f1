// The store header in segment 0: what lets an opener refuse another composition, format version
// or key before it touches anything else.
#include <catch2/catch.hpp>

#include <array>
#include <string>

#include <mmry/cipher/aes256_gcm.hpp>
#include <mmry/compress/none.hpp>
#include <mmry/format/store_header.hpp>
#include <mmry/index/ordered.hpp>
#include <mmry/path/temporal.hpp>
#include <mmry/path/versioned.hpp>
#include <mmry/store.hpp>

namespace {

struct sealed : mmry::default_traits {
    using cipher = mmry::cipher::aes256_gcm;
};
struct sealed_ordered : sealed {
    using index = mmry::index::ordered;
};
struct sealed_plain : sealed {
    using compressor = mmry::compress::none;
};
struct versions : mmry::default_traits {
    using path = mmry::path::versioned;
};
struct other_versions : mmry::default_traits {
    using path = mmry::path::versioned_with<"ver-", ":">;
};
struct daily : mmry::default_traits {
    using path = mmry::path::temporal_with<mmry::path::granularity::day>;
};
struct hourly : mmry::default_traits {
    using path = mmry::path::temporal;
};

using mmry::detail::store_access;
using mmry::format::fingerprint;
using mmry::format::store_header;

mmry::errc code_of(auto&& f) {
    try {
        f();
    } catch (const mmry::error& e) {
        return e.code_value();
    }
    FAIL("no mmry::error thrown");
    return {};
}

std::string message_of(auto&& f) {
    try {
        f();
    } catch (const mmry::error& e) {
        return e.what();
    }
    return {};
}

}  // namespace

TEST_CASE("a store writes a header that names its composition and checks its key") {
    const auto key = mmry::key::generate();
    mmry::basic_store<sealed> s({.key = key, .frame_size = 4096});
    const auto h = store_header::parse(store_access::header_bytes(s), "s");
    CHECK(h.version == mmry::store_format_version);
    CHECK(h.frame_size == 4096);
    CHECK(h.policies.ids == fingerprint::of<sealed>().ids);
    CHECK_NOTHROW(h.check_policies(fingerprint::of<sealed>(), "s"));
    CHECK_NOTHROW(h.check_key(key.material(), "s"));
}

TEST_CASE("opening with other policies names the policy that differs") {
    mmry::basic_store<sealed> s({.key = mmry::key::generate()});
    const auto h = store_header::parse(store_access::header_bytes(s), "orders");
    auto open_as = [&](const fingerprint& f) { return [&h, f] { h.check_policies(f, "orders"); }; };
    CHECK(code_of(open_as(fingerprint::of<sealed_ordered>())) == mmry::errc::policy_mismatch);
    const auto index_msg = message_of(open_as(fingerprint::of<sealed_ordered>()));
    CHECK_THAT(index_msg, Catch::Contains("'orders'") && Catch::Contains("index") &&
                              Catch::Contains("ordered"));
    const auto comp_msg = message_of(open_as(fingerprint::of<sealed_plain>()));
    CHECK_THAT(comp_msg, Catch::Contains("compressor") && Catch::Contains("'none'"));
    CHECK_THAT(message_of(open_as(fingerprint::of<mmry::default_traits>())),
               Catch::Contains("cipher"));
}

TEST_CASE("a path policy of the same kind with another layout is another policy") {
    mmry::basic_store<versions> v;
    const auto h = store_header::parse(store_access::header_bytes(v), "docs");
    CHECK(h.policies.layout == fingerprint::of<versions>().layout);
    CHECK_NOTHROW(h.check_policies(fingerprint::of<versions>(), "docs"));
    // Same path id ("versioned"), other prefix and suffix: refused, and the message says so.
    REQUIRE(fingerprint::of<other_versions>().ids == fingerprint::of<versions>().ids);
    auto open_as = [&](const fingerprint& f) { return [&h, f] { h.check_policies(f, "docs"); }; };
    CHECK(code_of(open_as(fingerprint::of<other_versions>())) == mmry::errc::policy_mismatch);
    CHECK_THAT(message_of(open_as(fingerprint::of<other_versions>())),
               Catch::Contains("layout of path 'versioned'"));
    CHECK(fingerprint::of<daily>().layout != fingerprint::of<hourly>().layout);
}

TEST_CASE("the wrong key is refused by the key check value") {
    mmry::basic_store<sealed> s({.key = mmry::key::generate()});
    const auto h = store_header::parse(store_access::header_bytes(s), "s");
    CHECK(code_of([&] { h.check_key(mmry::key::generate().material(), "s"); }) ==
          mmry::errc::wrong_key);
}

TEST_CASE(
    "a passphrase store keeps its salt and KDF parameters, and the passphrase re-derives the key") {
    const mmry::kdf_params cheap{.log2_n = 10, .r = 8, .p = 1};
    mmry::basic_store<sealed> s({.key = mmry::key::from_passphrase("correct horse", cheap)});
    const auto h = store_header::parse(store_access::header_bytes(s), "s");
    CHECK(h.passphrase);
    CHECK(h.kdf.log2_n == 10);
    const mmry::byte_view salt(h.salt);
    CHECK_NOTHROW(
        h.check_key(mmry::key::from_passphrase("correct horse", cheap).material(salt), "s"));
    CHECK(code_of([&] {
              h.check_key(mmry::key::from_passphrase("wrong horse", cheap).material(salt), "s");
          }) == mmry::errc::wrong_key);
}

TEST_CASE("scrypt parameters in a header past mmry's bounds are refused before any derivation") {
    const mmry::kdf_params cheap{.log2_n = 10, .r = 8, .p = 1};
    mmry::basic_store<sealed> s({.key = mmry::key::from_passphrase("correct horse", cheap)});
    auto h = store_header::parse(store_access::header_bytes(s), "s");
    // Whoever can write the file can also fix the header's CRC: only the bounds stand between
    // them and an open that tries to allocate a terabyte.
    for (const mmry::kdf_params huge : {mmry::kdf_params{.log2_n = 30, .r = 8, .p = 1},
                                        mmry::kdf_params{.log2_n = 10, .r = 8, .p = 1u << 30}}) {
        h.kdf = huge;
        std::array<std::byte, mmry::format::store_header_size> out{};
        h.write(out);
        CHECK(code_of([&] { store_header::parse(out, "s"); }) == mmry::errc::corrupt);
        CHECK_THAT(message_of([&] { store_header::parse(out, "s"); }),
                   Catch::Contains("scrypt parameters"));
    }
    // Cheaper parameters pass the bounds but derive another key: the key check refuses it.
    h.kdf = mmry::kdf_params{.log2_n = 4, .r = 1, .p = 1};
    std::array<std::byte, mmry::format::store_header_size> out{};
    h.write(out);
    const auto cheapened = store_header::parse(out, "s");
    const mmry::byte_view salt(cheapened.salt);
    CHECK(code_of([&] {
              cheapened.check_key(
                  mmry::key::from_passphrase("correct horse").material(salt, cheapened.kdf), "s");
          }) == mmry::errc::wrong_key);
}

TEST_CASE("key material never enters the store header") {
    const auto key = mmry::key::generate();
    mmry::basic_store<sealed> s({.key = key});
    s.put("k", std::string(1000, 'x'));
    const auto material = key.material();
    const auto header = store_access::header_bytes(s);
    const std::string hay(reinterpret_cast<const char*>(header.data()), header.size());
    const std::string needle(reinterpret_cast<const char*>(material.data()), material.size());
    CHECK(hay.find(needle) == std::string::npos);
    CHECK(hay.find(needle.substr(0, 8)) == std::string::npos);
}

TEST_CASE("a damaged or foreign header is refused, never misread") {
    mmry::basic_store<sealed> s({.key = mmry::key::generate()});
    const auto bytes = store_access::header_bytes(s);
    std::vector<std::byte> copy(bytes.begin(), bytes.end());
    for (std::size_t i = 0; i < copy.size(); ++i) {
        auto flipped = copy;
        flipped[i] ^= std::byte{0x10};
        const auto code = code_of([&] { store_header::parse(flipped, "s"); });
        CHECK((code == mmry::errc::corrupt || code == mmry::errc::version_mismatch));
    }
    for (std::size_t n = 0; n < copy.size(); ++n)
        CHECK(code_of([&] { store_header::parse(std::span(copy).first(n), "s"); }) ==
              mmry::errc::corrupt);
}

TEST_CASE("another format version is reported as such") {
    mmry::basic_store<sealed> s({.key = mmry::key::generate()});
    auto h = store_header::parse(store_access::header_bytes(s), "s");
    h.version = mmry::store_format_version + 1;
    std::array<std::byte, mmry::format::store_header_size> out{};
    h.write(out);
    CHECK(code_of([&] { store_header::parse(out, "s"); }) == mmry::errc::version_mismatch);
    CHECK_THAT(message_of([&] { store_header::parse(out, "s"); }),
               Catch::Contains("format version " + std::to_string(mmry::store_format_version + 1)));
}
