// Versions, time buckets and queries: a document store that keeps every version of each document
// in a mapped file (so it outlives the program), and finds documents by tag without decoding one.
//
//   ./build/examples/versions [directory]     (default: a new directory under /tmp)
//
// Prints each document's history (version, size, SHA-256 of the content, chain hash), reads an
// old version back, rolls a document back, prunes old versions, and lists the drafts.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <string>

#include <range/v3/view/take.hpp>

#include <mmry/mmry.hpp>

namespace {

struct doc_traits : mmry::default_traits {
    using arena = mmry::arena::mapped_file;
    using index = mmry::index::ordered;
    using path = mmry::path::versioned;  // stored as v1/<key>, v2/<key>, ...
};
using doc_store = mmry::basic_store<doc_traits>;

std::string hex(const std::array<std::byte, 32>& h, std::size_t n = 8) {
    std::string out;
    char b[3];
    for (std::size_t i = 0; i < n; ++i) {
        std::snprintf(b, sizeof b, "%02x", std::to_integer<unsigned>(h[i]));
        out += b;
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string dir = argc > 1 ? argv[1]
                                     : (std::filesystem::temp_directory_path() /
                                        ("mmry-versions-" + std::to_string(::getpid())))
                                           .string();
    doc_store::remove(dir);
    auto docs = doc_store::create(dir, {.capacity = 8 << 20});

    docs.put("user/ann/cv", std::string("# Ann\nC++ developer\n"),
             {.content_type = "text/markdown", .tags = {"draft"}});
    docs.put("user/ann/cv", std::string("# Ann\nC++ developer, mmry maintainer\n"),
             {.content_type = "text/markdown", .tags = {"draft"}});
    docs.put("user/ann/cv", std::string("# Ann\nSenior C++ developer\n"),
             {.content_type = "text/markdown", .attributes = {{"reviewed-by", "bob"}}});
    docs.put("user/bob/cv", std::string("# Bob\n"), {.tags = {"draft"}});

    std::cout << "history of user/ann/cv (no value decoded):\n";
    for (const auto& e : docs.history("user/ann/cv"))
        std::cout << "  v" << e.meta.version << "  " << e.meta.logical_size << " bytes  sha256 "
                  << hex(e.meta.content_hash) << "...  chain " << hex(e.meta.chain_hash) << "...  "
                  << (e.meta.has_tag("draft") ? "draft" : "final") << '\n';

    std::cout << "version 1: " << *docs.get<std::string>("user/ann/cv", mmry::version{1});
    const auto v4 = docs.rollback("user/ann/cv", mmry::version{2});
    std::cout << "rolled back to version 2's content as version " << *v4 << ": "
              << *docs.get<std::string>("user/ann/cv");

    std::cout << "stored keys:";
    for (const auto& e : docs.stored()) std::cout << ' ' << e.key;
    std::cout << '\n';

    const auto pruned = docs.prune({.keep_last = 2});
    std::cout << "pruned " << pruned << " old versions; user/ann/cv keeps "
              << std::ranges::distance(docs.history("user/ann/cv")) << '\n';

    std::cout << "drafts under user/:";
    for (const auto& e : docs.with_tag("draft", "user/") | ranges::views::take(10))
        std::cout << ' ' << e.key << " (v" << e.meta.version << ')';
    std::cout << '\n';

    // The store is a directory of segment files: reopening finds every version again.
    docs = doc_store::open(dir);
    std::cout << "reopened: " << docs.size() << " documents, " << docs.stats().records
              << " versions kept\n";
    if (argc <= 1) doc_store::remove(dir);
    return 0;
}
