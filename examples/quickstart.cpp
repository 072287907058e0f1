// quickstart: compose a store, keep real files in it, read part of one back, and print what the
// store measured. Run: ./build/examples/quickstart [directory] (default /usr/share/doc).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <mmry/mmry.hpp>

using namespace mmry::literals;

// The composition: every policy has a default; name only what you change.
struct doc_traits : mmry::default_traits {
    using index = mmry::index::ordered;          // keys in order: prefix listings
    using compressor = mmry::compress::zstd<3>;  // each 64 KiB frame compressed when it pays
    using cipher = mmry::cipher::aes256_gcm;     // each frame sealed, bound to its key and place
};
using doc_store = mmry::basic_store<doc_traits>;

static std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

int main(int argc, char** argv) {
    namespace fs = std::filesystem;
    const fs::path root = argc > 1 ? argv[1] : "/usr/share/doc";
    const std::uint64_t budget = 32_MiB;  // keep the demo quick

    auto s = doc_store::create("docs", {.capacity = 64_MiB, .key = mmry::key::generate()});

    std::uint64_t files = 0;
    std::string biggest;
    std::uint64_t biggest_size = 0;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, ec);
         it != fs::recursive_directory_iterator() && s.stats().logical_bytes < budget; it.increment(ec)) {
        if (ec || !it->is_regular_file(ec) || it->is_symlink(ec)) continue;
        const std::string key = fs::relative(it->path(), root, ec).string();
        const std::string bytes = slurp(it->path());
        if (key.empty() || bytes.empty()) continue;
        s.put(key, bytes);
        ++files;
        if (bytes.size() > biggest_size) biggest_size = bytes.size(), biggest = key;
    }
    if (files == 0) {
        std::fprintf(stderr, "no readable files under %s\n", root.c_str());
        return 1;
    }

    // Read 100 bytes from the middle of the largest file: only the frames it touches are decoded.
    const std::uint64_t offset = biggest_size / 2, length = std::min<std::uint64_t>(100, biggest_size - offset);
    const auto part = s.read(biggest, offset, length).value();
    const auto whole = s.get<std::string>(biggest).value();
    const bool same = std::equal(part.begin(), part.end(), whole.begin() + static_cast<long>(offset),
                                 [](std::byte a, char b) { return a == static_cast<std::byte>(b); });
    const auto meta = s.metadata(biggest).value();

    const auto st = s.stats();
    std::printf("stored %llu files from %s\n", static_cast<unsigned long long>(files), root.c_str());
    std::printf("logical bytes: %llu\n", static_cast<unsigned long long>(st.logical_bytes));
    std::printf("stored bytes:  %llu (records: heads, keys, frame tables, compressed+sealed frames)\n",
                static_cast<unsigned long long>(st.stored_bytes));
    std::printf("ratio:         %.2f (logical / stored, measured)\n", st.ratio());
    std::printf("frames:        %llu, of which compressed: %llu\n",
                static_cast<unsigned long long>(st.frames),
                static_cast<unsigned long long>(st.compressed_frames));
    std::printf("arena:         %zu segment(s), %llu bytes reserved\n", st.arena.segments,
                static_cast<unsigned long long>(st.arena.reserved_bytes));
    std::printf("largest file:  %s, %llu bytes in %u frame(s), stored in %llu bytes\n", biggest.c_str(),
                static_cast<unsigned long long>(meta.logical_size), meta.frames,
                static_cast<unsigned long long>(meta.stored_size));
    std::printf("read(%llu, %llu) matches the full value: %s\n", static_cast<unsigned long long>(offset),
                static_cast<unsigned long long>(length), same ? "yes" : "NO");
    std::printf("first keys in order:");
    int shown = 0;
    for (const auto& e : s.list()) {
        if (shown++ == 3) break;
        std::printf(" %s", e.key.c_str());
    }
    std::printf("\n");
    return same ? 0 : 1;
}
