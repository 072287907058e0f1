// Backups: an encrypted store of documents in a mapped file, backed up while a writer keeps
// changing it, backed up again (only what changed is written), restored as of the first backup
// into shared memory, and pruned; then the log entries it no longer needs are erased and the
// store is compacted and repaired (there is nothing to repair: it says so).
//
//   ./build/examples/backup [directory]     (default: a new directory under /tmp)
//
// Prints what each backup wrote against what it holds, the backups listed, what a restore as of
// the first one reads, what pruning freed and what compaction gave back: all measured by this
// run.
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <mmry/mmry.hpp>

namespace {

struct doc_traits : mmry::default_traits {
    using arena = mmry::arena::mapped_file;
    using cipher = mmry::cipher::aes256_gcm;
};
// The same composition in shared memory: a backup restores into any arena and index.
struct shm_traits : doc_traits {
    using arena = mmry::arena::shared_memory;
};

std::string document(int i, int edit) {
    std::string s =
        "{\"id\": " + std::to_string(i) + ", \"edit\": " + std::to_string(edit) + ", \"body\": \"";
    for (int k = 0; k < 40; ++k) s += "lorem ipsum " + std::to_string((i * 31 + k) % 97) + " ";
    return s + "\"}";
}

}  // namespace

int main(int argc, char** argv) {
    namespace fs = std::filesystem;
    const fs::path dir = argc > 1 ? fs::path(argv[1])
                                  : fs::temp_directory_path() /
                                        ("mmry-backup-example-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const std::string repo = (dir / "backups").string();
    const mmry::key key = mmry::key::generate();

    auto docs = mmry::basic_store<doc_traits>::create((dir / "docs").string(), {.key = key});
    for (int i = 0; i < 2000; ++i) docs.put("doc/" + std::to_string(i), document(i, 0));

    // A full backup while another thread keeps writing: the backup is the store as of one commit,
    // and the writer never waits for it.
    std::atomic<bool> stop{false};
    std::thread writer([&] {
        for (int n = 0; !stop; ++n) docs.put("log/" + std::to_string(n), std::to_string(n));
    });
    const auto first = docs.backup(repo);
    stop = true;
    writer.join();
    std::printf("backup %llu: %llu keys, %llu pieces, %llu bytes stored, %llu written\n",
                static_cast<unsigned long long>(first.number),
                static_cast<unsigned long long>(first.keys),
                static_cast<unsigned long long>(first.records),
                static_cast<unsigned long long>(first.stored_bytes),
                static_cast<unsigned long long>(first.written_bytes));

    // Edit 1 % of the documents; the next backup writes only those, and the log entries the
    // writer added after the first backup had read the store.
    for (int i = 0; i < 20; ++i) docs.put("doc/" + std::to_string(i * 100), document(i * 100, 1));
    const auto second = docs.backup(repo);
    std::printf("backup %llu: %llu pieces written, %llu bytes (%.2f %% of the first)\n",
                static_cast<unsigned long long>(second.number),
                static_cast<unsigned long long>(second.written_records),
                static_cast<unsigned long long>(second.written_bytes),
                100.0 * double(second.written_bytes) / double(first.written_bytes));

    for (const auto& b : mmry::list_backups(repo))
        std::printf("  #%llu  sequence %llu  %llu keys  %llu bytes\n",
                    static_cast<unsigned long long>(b.number),
                    static_cast<unsigned long long>(b.sequence),
                    static_cast<unsigned long long>(b.keys),
                    static_cast<unsigned long long>(b.stored_bytes));

    // The store as of the first backup, in shared memory (same key: the records are restored as
    // they were stored, still encrypted).
    const std::string name = "mmry-backup-example-" + std::to_string(::getpid());
    auto old = mmry::basic_store<shm_traits>::restore(repo, name, {.key = key},
                                                      {.number = first.number, .replace = true});
    const auto v = old.get<std::string>("doc/0");
    std::printf("restored #%llu into shm:%s: %zu keys; doc/0 is at edit %s\n",
                static_cast<unsigned long long>(first.number), name.c_str(), old.size(),
                v && v->find("\"edit\": 0") != std::string::npos ? "0" : "1 (unexpected)");
    mmry::basic_store<shm_traits>::remove(name);

    const auto pruned = mmry::prune_backups(repo, {.keep_last = 1});
    std::printf("pruned %zu backup(s), kept #%llu; %llu bytes freed; check: %s\n",
                pruned.removed.size(), static_cast<unsigned long long>(pruned.kept.back()),
                static_cast<unsigned long long>(pruned.bytes_freed),
                mmry::check_backups(repo).ok() ? "ok" : "problems");

    // The log entries are not needed any more: erase them, and compact the store, which moves
    // the documents that lie past its free pages down and gives the rest back to the system.
    std::vector<std::string> logs;
    for (const auto& e : docs.list("log/")) logs.push_back(e.key);
    for (const auto& k : logs) docs.erase(k);
    const auto c = docs.compact();
    std::printf(
        "compacted: erased %zu log entries, moved %llu records; pages %llu -> %llu "
        "bytes, the files hold %llu -> %llu bytes\n",
        logs.size(), static_cast<unsigned long long>(c.records_moved),
        static_cast<unsigned long long>(c.size_before),
        static_cast<unsigned long long>(c.size_after),
        static_cast<unsigned long long>(c.held_before),
        static_cast<unsigned long long>(c.held_after));

    // A last check: verify() reports, repair() acts on what it reports (here: nothing to do; a
    // damaged record would go to the quarantine, which docs.quarantine() lists).
    const auto r = docs.repair();
    std::printf("repair: checked %llu records, %llu chunks: %s; %zu items in quarantine\n",
                static_cast<unsigned long long>(r.records_checked),
                static_cast<unsigned long long>(r.chunks_checked),
                r.untouched() ? "nothing to repair" : "repaired", docs.quarantine().size());
    if (argc <= 1) fs::remove_all(dir);
    return r.ok() ? 0 : 1;
}
