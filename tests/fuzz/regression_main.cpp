// mmry_fuzz_regression: replays inputs through mmry's fuzz targets without libFuzzer, with any
// compiler (docs/FUZZING.md).
//
//   mmry_fuzz_regression <target> <file or directory>...
//
// Runs the target's LLVMFuzzerTestOneInput on every regular file given, and on every regular file
// under every directory given (recursively, in path order). Each target is compiled once, with
// LLVMFuzzerTestOneInput renamed to mmry_fuzz_<target>, and linked in here. A finding aborts the
// process, as under libFuzzer; an uncaught exception terminates it. Exits 0 when every input ran,
// 2 on a usage error or when no input was found (an empty corpus must not pass unnoticed).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string_view>
#include <vector>

// Keep in step with MMRY_FUZZ_TARGETS in tests/fuzz/CMakeLists.txt.
#define MMRY_FUZZ_TARGETS(X) \
    X(record)                \
    X(meta)                  \
    X(manifest)              \
    X(bundle)                \
    X(store_header)          \
    X(fastcdc)               \
    X(import)                \
    X(store_ops)             \
    X(page_nodes)            \
    X(page_ops)              \
    X(backup)

#define MMRY_FUZZ_DECLARE(name) \
    extern "C" int mmry_fuzz_##name(const std::uint8_t* data, std::size_t size);
MMRY_FUZZ_TARGETS(MMRY_FUZZ_DECLARE)
#undef MMRY_FUZZ_DECLARE

namespace {

using target_fn = int (*)(const std::uint8_t*, std::size_t);

struct target {
    std::string_view name;
    target_fn run;
};

#define MMRY_FUZZ_ENTRY(name) target{#name, &mmry_fuzz_##name},
constexpr target targets[] = {MMRY_FUZZ_TARGETS(MMRY_FUZZ_ENTRY)};
#undef MMRY_FUZZ_ENTRY

int usage() {
    std::fprintf(stderr, "usage: mmry_fuzz_regression <target> <file or directory>...\ntargets:");
    for (const auto& t : targets)
        std::fprintf(stderr, " %.*s", static_cast<int>(t.name.size()), t.name.data());
    std::fprintf(stderr, "\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) return usage();
    const std::string_view wanted = argv[1];
    const auto* t = std::find_if(std::begin(targets), std::end(targets),
                                 [&](const target& x) { return x.name == wanted; });
    if (t == std::end(targets)) return usage();

    namespace fs = std::filesystem;
    std::vector<fs::path> files;
    for (int i = 2; i < argc; ++i) {
        const fs::path p = argv[i];
        if (fs::is_directory(p)) {
            for (const auto& e : fs::recursive_directory_iterator(p))
                if (e.is_regular_file()) files.push_back(e.path());
        } else if (fs::is_regular_file(p)) {
            files.push_back(p);
        } else {
            std::fprintf(stderr, "mmry_fuzz_regression: %s: no such file or directory\n", argv[i]);
            return 2;
        }
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) {
        std::fprintf(stderr, "mmry_fuzz_regression: no input for target %s\n", argv[1]);
        return 2;
    }
    std::size_t total = 0;
    for (const auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        const std::vector<char> bytes{std::istreambuf_iterator<char>(in),
                                      std::istreambuf_iterator<char>()};
        // Named before the run: a finding aborts, and the last line then names its input.
        std::fprintf(stderr, "%s: %s (%zu bytes)\n", argv[1], f.c_str(), bytes.size());
        std::fflush(stderr);
        // A copy of exactly the input's size, so that ASan sees a read past its end.
        std::vector<std::uint8_t> data(bytes.begin(), bytes.end());
        t->run(data.empty() ? nullptr : data.data(), data.size());
        total += data.size();
    }
    std::printf("%s: %zu inputs, %zu bytes, no finding\n", argv[1], files.size(), total);
    return 0;
}
