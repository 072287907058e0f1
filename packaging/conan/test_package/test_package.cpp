// The program every packaging of mmry is proven with (Conan's test_package, and in CI the
// consumer_test_package and pkg_config_consumer tests, see packaging/README.md): a heap store that
// compresses (zstd) and encrypts (Crypto++) puts a value and gets it back. It returns 0 when the
// value comes back intact, 1 when it does not; an exception (exit code != 0) fails it too.
#include <mmry/mmry.hpp>

#include <cstdio>
#include <string>

struct test_package_traits : mmry::default_traits {
    using arena = mmry::arena::heap;        // nothing outlives the process, nothing to clean up
    using compressor = mmry::compress::zstd<3>;
    using cipher = mmry::cipher::aes256_gcm;  // so Crypto++ must link, not only zstd
};

int main() {
    mmry::basic_store<test_package_traits> store({.key = mmry::key::generate()});

    std::string value;
    for (int i = 0; i < 1000; ++i) value += "mmry test_package ";  // compressible: zstd does work
    store.put("test_package/value", value);

    const auto got = store.get<std::string>("test_package/value");
    if (!got || *got != value) {
        std::fprintf(stderr, "test_package: mmry %s returned %s\n", MMRY_VERSION_STRING,
                     got ? "a different value" : "no value");
        return 1;
    }
    std::printf("test_package: mmry %s put/get of %zu bytes OK\n", MMRY_VERSION_STRING,
                value.size());
    return 0;
}
