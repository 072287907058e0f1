// mmry::key (raw, random and passphrase keys) and the error channel (mmry::error, mmry::errc).

#include <array>
#include <cstring>
#include <string>
#include <system_error>

#include "support.hpp"

using mmry::errc;
using mmry_test::is_error;

namespace {

std::string material(const mmry::key& k, mmry::byte_view store_salt = {}) {
    const auto m = k.material(store_salt);
    return {reinterpret_cast<const char*>(m.data()), m.size()};
}

const mmry::kdf_params cheap{.log2_n = 10, .r = 8, .p = 1};

}  // namespace

TEST_CASE("key: from_bytes takes exactly 32 bytes", "[key]") {
    const auto raw = mmry_test::random_bytes(32);
    const auto k = mmry::key::from_bytes(raw);
    CHECK_FALSE(k.empty());
    CHECK_FALSE(k.is_passphrase());
    CHECK(material(k) == std::string(reinterpret_cast<const char*>(raw.data()), raw.size()));

    for (std::size_t n : {0, 1, 16, 31, 33, 64}) {
        INFO(n << " bytes");
        const auto wrong = mmry_test::random_bytes(n);
        CHECK_THROWS_MATCHES(mmry::key::from_bytes(wrong), mmry::error,
                             is_error(errc::invalid_argument, "got " + std::to_string(n)));
    }
}

TEST_CASE("key: an empty key has no material", "[key]") {
    const mmry::key k;
    CHECK(k.empty());
    CHECK_THROWS_MATCHES(k.material(), mmry::error, is_error(errc::invalid_argument));
}

TEST_CASE("key: generate() gives a different key each time", "[key]") {
    const auto a = mmry::key::generate();
    const auto b = mmry::key::generate();
    CHECK(material(a).size() == mmry::key::size);
    CHECK(material(a) != material(b));
}

TEST_CASE("key: from_passphrase derives the same material from the same passphrase and salt",
          "[key]") {
    const auto salt = mmry_test::to_bytes("salt of 16 bytes");
    const auto other_salt = mmry_test::to_bytes("another salt....");
    const auto a = mmry::key::from_passphrase("correct horse", salt, cheap);
    const auto b = mmry::key::from_passphrase("correct horse", salt, cheap);
    const auto c = mmry::key::from_passphrase("correct horse", other_salt, cheap);
    const auto d = mmry::key::from_passphrase("wrong horse", salt, cheap);

    CHECK(a.is_passphrase());
    REQUIRE(a.salt());
    CHECK(a.salt()->size() == salt.size());
    CHECK(material(a).size() == mmry::key::size);
    CHECK(material(a) == material(b));
    CHECK(material(a) != material(c));
    CHECK(material(a) != material(d));
}

TEST_CASE("key: a passphrase key without a salt takes the store's salt", "[key]") {
    const auto k = mmry::key::from_passphrase("pw", cheap);
    CHECK_FALSE(k.salt());
    CHECK(k.params().log2_n == 10);
    CHECK_THROWS_MATCHES(k.material(), mmry::error, is_error(errc::invalid_argument, "salt"));

    const auto s1 = mmry_test::random_bytes(16, 1);
    const auto s2 = mmry_test::random_bytes(16, 2);
    CHECK(material(k, s1) == material(k, s1));
    CHECK(material(k, s1) != material(k, s2));
    // An explicit salt wins over the store's.
    const auto explicit_salt = mmry::key::from_passphrase("pw", s1, cheap);
    CHECK(material(explicit_salt, s2) == material(k, s1));
}

TEST_CASE("key: from_passphrase refuses bad input", "[key]") {
    const auto salt = mmry_test::to_bytes("salt of 16 bytes");
    CHECK_THROWS_MATCHES(mmry::key::from_passphrase("", cheap), mmry::error,
                         is_error(errc::invalid_argument, "empty passphrase"));
    CHECK_THROWS_MATCHES(mmry::key::from_passphrase("", salt, cheap), mmry::error,
                         is_error(errc::invalid_argument, "empty passphrase"));
    CHECK_THROWS_MATCHES(mmry::key::from_passphrase("pw", mmry_test::to_bytes("7 bytes"), cheap),
                         mmry::error, is_error(errc::invalid_argument, "got 7"));

    for (const mmry::kdf_params bad :
         {mmry::kdf_params{.log2_n = 0}, mmry::kdf_params{.log2_n = 31},
          mmry::kdf_params{.log2_n = 10, .r = 0}, mmry::kdf_params{.log2_n = 10, .p = 0},
          mmry::kdf_params{.log2_n = 10, .r = 1u << 15, .p = 1u << 15},
          // past the bounds: 2 GiB of memory; 256 times the default work
          mmry::kdf_params{.log2_n = 24, .r = 1, .p = 1}, mmry::kdf_params{.log2_n = 15, .p = 256},
          mmry::kdf_params{.log2_n = 15, .r = 8u << 8, .p = 1}}) {
        INFO("log2_n=" << int{bad.log2_n} << " r=" << bad.r << " p=" << bad.p);
        CHECK_THROWS_MATCHES(mmry::key::from_passphrase("pw", bad), mmry::error,
                             is_error(errc::invalid_argument, "scrypt parameters"));
        CHECK_THROWS_MATCHES(mmry::key::from_passphrase("pw", salt, bad), mmry::error,
                             is_error(errc::invalid_argument, "scrypt parameters"));
    }
}

TEST_CASE("key: the scrypt bounds admit the defaults and the largest allowed parameters", "[key]") {
    CHECK(mmry::kdf_params{}.bounded());
    CHECK(mmry::kdf_params{.log2_n = 23, .r = 1, .p = 4}.bounded());    // 1 GiB, 2^25 work
    CHECK(mmry::kdf_params{.log2_n = 15, .r = 8, .p = 128}.bounded());  // 2^25 work
    CHECK_FALSE(mmry::kdf_params{.log2_n = 15, .r = 8, .p = 256}.bounded());
    CHECK_FALSE(mmry::kdf_params{.log2_n = 24, .r = 1, .p = 1}.bounded());  // 2 GiB
    CHECK_NOTHROW(mmry::key::from_passphrase("pw", mmry::kdf_params{.log2_n = 20, .r = 8}));
}

TEST_CASE("error: codes live in the 'mmry' category and compare to mmry::errc", "[key][error]") {
    const std::error_code ec = errc::corrupt;
    CHECK(ec.category().name() == std::string("mmry"));
    CHECK(&ec.category() == &mmry::mmry_category());
    CHECK(ec == errc::corrupt);
    CHECK(ec != errc::wrong_key);
    CHECK(ec.message() == "corrupt data");
    CHECK(ec != std::make_error_code(std::errc::invalid_argument));
    // Every code has its own message.
    for (int c = 1; c <= static_cast<int>(errc::conflict); ++c) {
        INFO("code " << c);
        CHECK(mmry::mmry_category().message(c) != "unknown mmry error");
    }
    CHECK(mmry::mmry_category().message(999) == "unknown mmry error");
}

TEST_CASE("error: is a std::system_error whose message starts with 'mmry: '", "[key][error]") {
    try {
        throw mmry::error(errc::wrong_key, "key 'k' was sealed under another key");
    } catch (const std::system_error& e) {
        const std::string what = e.what();
        CHECK(what.rfind("mmry: ", 0) == 0);
        CHECK(what.find("key 'k' was sealed under another key") != std::string::npos);
        CHECK(e.code() == errc::wrong_key);
        CHECK(dynamic_cast<const mmry::error&>(e).code_value() == errc::wrong_key);
    }
}
