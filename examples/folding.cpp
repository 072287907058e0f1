// Folding and dictionaries: a versioned, encrypted store that keeps 50 versions of a document for
// little more than one, and a store of small JSON records that shrinks once it has a dictionary.
// Everything it prints is measured by the store's own counters (stats()).
//
//   ./build/examples/folding [text file or directory]     (default: /usr/share/doc)

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <mmry/mmry.hpp>

namespace {

struct history_traits : mmry::default_traits {
    using path = mmry::path::versioned;
    using cipher = mmry::cipher::aes256_gcm;
    using fold = mmry::fold::cdc<>;  // chunks of 1..64 KiB, 4 KiB on average
};
struct unfolded_traits : history_traits {
    using fold = mmry::fold::none;
};

// Up to 1 MiB of text: a file, or the uncompressed files under a directory, concatenated.
std::string read_text(const std::filesystem::path& path) {
    std::vector<std::filesystem::path> files;
    if (std::filesystem::is_directory(path)) {
        for (const auto& f : std::filesystem::recursive_directory_iterator(
                 path, std::filesystem::directory_options::skip_permission_denied))
            if (f.is_regular_file() && f.path().extension() != ".gz") files.push_back(f.path());
        std::sort(files.begin(), files.end());
    } else {
        files.push_back(path);
    }
    std::string text;
    for (const auto& f : files) {
        if (text.size() >= (1u << 20)) break;
        std::ifstream in(f, std::ios::binary);
        std::stringstream s;
        s << in.rdbuf();
        text += s.str();
    }
    if (text.size() > (1u << 20)) text.resize(1u << 20);
    return text;
}

// A JSON-like order record of 1-3 KiB.
std::string order(std::mt19937& rng) {
    std::string r = "{\"order_id\":" + std::to_string(rng()) + ",\"customer\":{\"country\":\"" +
                    (rng() % 2 ? "NO" : "PT") + "\",\"tier\":\"" + (rng() % 3 ? "basic" : "gold") +
                    "\"},\"lines\":[";
    for (unsigned i = 0, n = 5 + rng() % 20; i < n; ++i)
        r += std::string(i ? "," : "") + "{\"sku\":\"A-" + std::to_string(rng() % 5000) +
             "\",\"quantity\":" + std::to_string(1 + rng() % 5) +
             ",\"price_cents\":" + std::to_string(rng() % 90000) + "}";
    return r + "]}";
}

void show(const char* what, const mmry::store_stats& st) {
    std::printf("%-34s %9llu logical bytes, %8llu stored (ratio %.1f, dedup %.1f)\n", what,
                static_cast<unsigned long long>(st.logical_bytes),
                static_cast<unsigned long long>(st.stored_bytes), st.ratio(), st.dedup_ratio());
}

}  // namespace

int main(int argc, char** argv) {
    const std::string original = read_text(argc > 1 ? argv[1] : "/usr/share/doc");
    if (original.empty()) {
        std::cerr << "no text to store\n";
        return 1;
    }

    // 50 versions of a document, each with one small edit.
    const auto key = mmry::key::generate();
    mmry::basic_store<history_traits> folded({.key = key});
    mmry::basic_store<unfolded_traits> unfolded({.key = key});
    std::mt19937 rng(1);
    std::string doc = original;
    for (int v = 1; v <= 50; ++v) {
        if (v > 1) doc.insert(rng() % doc.size(), "edit " + std::to_string(v) + ". ");
        folded.put("report.txt", doc);
        unfolded.put("report.txt", doc);
    }
    show("50 versions, fold::none:", unfolded.stats());
    show("50 versions, fold::cdc:", folded.stats());
    const auto st = folded.stats();
    std::printf(
        "  %llu distinct chunks (%llu manifest pieces); folding kept %.1f %% of the bytes\n",
        static_cast<unsigned long long>(st.chunks), static_cast<unsigned long long>(st.pieces),
        100.0 * static_cast<double>(st.stored_bytes) /
            static_cast<double>(unfolded.stats().stored_bytes));
    const bool v1_ok = folded.get<std::string>("report.txt", mmry::version{1}) == original;
    std::printf("  version 1 reads back byte for byte: %s\n", v1_ok ? "yes" : "NO");

    // Small records: compressed one by one, then with a trained dictionary.
    mmry::store records;
    std::vector<std::string> keys;
    for (int i = 0; i < 3000; ++i) {
        keys.push_back("order/" + std::to_string(i));
        records.put(keys.back(), order(rng));
    }
    const auto before = records.stats();
    std::printf(
        "3000 JSON records, zstd-3 alone:    frames %.2f x smaller than the values\n",
        static_cast<double>(before.logical_bytes) / static_cast<double>(before.payload_bytes));
    const auto id = records.train_dictionary(keys);
    const auto rewritten = records.recompress();
    const auto after = records.stats();
    std::printf(
        "with dictionary %u (%llu bytes):    frames %.2f x smaller (%zu records rewritten)\n", id,
        static_cast<unsigned long long>(after.dictionaries.at(0).bytes),
        static_cast<double>(after.logical_bytes) / static_cast<double>(after.payload_bytes),
        rewritten);
    return v1_ok ? 0 : 1;
}
