// The backup group (issue 15, point 8), on one mapped-file store (hashed, zstd-3, no cipher) of
// 4 KiB values sliced from the corpus (64 MiB of values; 4 MiB in a smoke run):
// - backup, mmry/mapped_file: MB/s of the store's stored bytes, a full backup into an empty
//   repository (backup_options::sync: each pack file and snapshot flushed).
// - backup, cp: the same stored bytes over the time to copy the store's files (read, write,
//   fdatasync of each copy): the raw copy limit the backup is held to (target >= 0.8 x).
// - restore, mmry/mapped_file: MB/s of stored bytes, restoring the latest backup into a new
//   mapped-file store (every piece checked, every record imported through the write path).
// - backup_incremental_fraction, mmry/mapped_file: the bytes a second backup writes after 1 % of
//   the values changed, over the bytes of the full backup (target <= 0.02).
// - compact, mmry/mapped_file: seconds per GiB of live data to compact a store of 64 KiB values
//   (1 GiB of stored bytes; 32 MiB in a smoke run) after 90 % of them, at random, were erased;
//   compact_size_ratio: the bytes its files hold after, over its live stored bytes (target
//   <= 1.2; records take whole 4 KiB pages, so smaller values cost more per stored byte).
// Each figure is the median of config::reps repetitions, each into a fresh repository (the
// compaction runs once: it changes the store).

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include <mmry/arena/mapped_file.hpp>
#include <mmry/backup.hpp>
#include <mmry/compact.hpp>
#include <mmry/store.hpp>

#include "bench.hpp"

namespace mmry_bench {
namespace {

namespace fs = std::filesystem;

struct backup_traits : mmry::default_traits {
    using arena = mmry::arena::mapped_file;
};
using store = mmry::basic_store<backup_traits>;
constexpr std::size_t value_bytes = 4096;

/// Copies every file of directory `from` into `to` (made), each flushed: what cp -r and a sync
/// of the copies do.
void copy_files(const std::string& from, const std::string& to) {
    fs::create_directories(to);
    std::vector<char> buf(1 << 20);
    for (const auto& e : fs::directory_iterator(from)) {
        if (!e.is_regular_file()) continue;
        const std::string dst = to + "/" + e.path().filename().string();
        const int in = ::open(e.path().c_str(), O_RDONLY | O_CLOEXEC);
        const int out = ::open(dst.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (in < 0 || out < 0) throw std::runtime_error("cp: cannot open " + dst);
        for (;;) {
            const auto n = ::read(in, buf.data(), buf.size());
            if (n < 0) throw std::runtime_error("cp: read failed");
            if (n == 0) break;
            if (::write(out, buf.data(), static_cast<std::size_t>(n)) != n)
                throw std::runtime_error("cp: write failed");
        }
        if (::fdatasync(out) != 0) throw std::runtime_error("cp: fdatasync failed");
        ::close(in);
        ::close(out);
    }
}

/// The compaction figures (see the top of this file).
void run_compact(const config& cfg, const corpus& c, results& res, notes& nt,
                 const std::string& dir) {
    constexpr std::size_t big = 64u << 10;
    const std::uint64_t total = cfg.smoke ? (32u << 20) : (std::uint64_t{1} << 30);
    if (c.data.size() < 2 * big) throw std::runtime_error("compact: corpus too small");
    std::fprintf(stderr, "[backup] compact: values of 64 KiB up to %llu MiB stored, 90 %% erased\n",
                 static_cast<unsigned long long>(total >> 20));
    {  // the store, closed before it is removed
        auto s = store::create(dir + "/compact", {.capacity = 64u << 20});
        std::size_t count = 0;
        for (; count % 64 != 0 || s.stats().stored_bytes < total; ++count) {
            const std::size_t at =
                splitmix64(count * 131) % (c.data.size() - big) & ~std::size_t{63};
            s.put("big/" + std::to_string(count),
                  std::span<const std::byte>(c.data.data() + at, big));
        }
        for (std::size_t i = 0; i < count; ++i)
            if (splitmix64(i + 77) % 10 != 0) s.erase("big/" + std::to_string(i));
        const auto st = s.stats();
        mmry::compact_report r;
        const double wall = time_once([&] { r = s.compact(); }).wall;
        const double live_gib = double(st.stored_bytes) / double(std::size_t{1} << 30);
        res.add("compact", "mmry/mapped_file", wall / live_gib, "s/GiB");
        res.add("compact_size_ratio", "mmry/mapped_file",
                double(r.held_after) / double(st.stored_bytes), "ratio");
        char line[700];
        std::snprintf(
            line, sizeof line,
            "compact: a mapped-file store (hashed, zstd-3) filled with %zu values of 64 KiB "
            "from the corpus, 90 %% of them erased at random (%.1f MB stored left), compacted "
            "once: "
            "%zu records moved, %.1f MB of pages -> %.1f MB, files holding %.1f MB -> %.1f "
            "MB; compact in seconds per GiB of live stored bytes, compact_size_ratio = bytes "
            "the files hold after / live stored bytes",
            count, double(st.stored_bytes) / 1e6, std::size_t(r.records_moved),
            double(r.size_before) / 1e6, double(r.size_after) / 1e6, double(r.held_before) / 1e6,
            double(r.held_after) / 1e6);
        nt.add(line);
    }
    store::remove(dir + "/compact");
}

}  // namespace

void run_backup(const config& cfg, const corpus& c, results& res, notes& nt) {
    if (!cfg.mmry_filter.empty() &&
        std::string("mmry/mapped_file").find(cfg.mmry_filter) == std::string::npos)
        return;
    const std::size_t total = cfg.smoke ? (4u << 20) : (64u << 20);
    const std::size_t count = total / value_bytes;
    if (c.data.size() < 2 * value_bytes) throw std::runtime_error("backup: corpus too small");
    const std::string dir = cfg.work_dir + "/backup";
    fs::create_directories(dir);
    at_exit([dir] {
        std::error_code ec;
        fs::remove_all(dir, ec);
    });
    auto value = [&](std::size_t i, std::uint64_t round) {
        const std::size_t at =
            splitmix64(i * 7919 + round) % (c.data.size() - value_bytes) & ~std::size_t{63};
        return std::span<const std::byte>(c.data.data() + at, value_bytes);
    };
    auto key = [](std::size_t i) { return "file/" + std::to_string(i); };
    std::fprintf(stderr, "[backup] filling a mapped-file store with %zu values of 4 KiB\n", count);
    auto s = store::create(dir + "/store", {.capacity = 64u << 20});
    for (std::size_t i = 0; i < count; ++i) s.put(key(i), value(i, 0));
    const double stored_mb = double(s.stats().stored_bytes) / 1e6;

    std::vector<double> backup_s, cp_s, restore_s, fraction;
    for (int r = 0; r < cfg.reps; ++r) {
        const std::string repo = dir + "/repo-" + std::to_string(r);
        mmry::backup_report full;
        backup_s.push_back(time_once([&] { full = s.backup(repo); }).wall);
        cp_s.push_back(time_once([&] { copy_files(dir + "/store", dir + "/copy"); }).wall);
        fs::remove_all(dir + "/copy");
        restore_s.push_back(time_once([&] { store::restore(repo, dir + "/restored"); }).wall);
        store::remove(dir + "/restored");
        // 1 % of the values changed, then a second backup into the same repository.
        for (std::size_t i = 0; i < count / 100; ++i) {
            const std::size_t k = splitmix64(i + 1000 * std::size_t(r)) % count;
            s.put(key(k), value(k, std::uint64_t(r) + 1));
        }
        const auto incremental = s.backup(repo);
        fraction.push_back(double(incremental.written_bytes) / double(full.written_bytes));
        fs::remove_all(repo);
    }
    res.add("backup", "mmry/mapped_file", stored_mb / median(backup_s), "MB/s");
    res.add("backup", "cp", stored_mb / median(cp_s), "MB/s");
    res.add("restore", "mmry/mapped_file", stored_mb / median(restore_s), "MB/s");
    res.add("backup_incremental_fraction", "mmry/mapped_file", median(fraction), "ratio");
    char line[700];
    std::snprintf(line, sizeof line,
                  "backup group: one mapped-file store (hashed, zstd-3, no cipher) of %zu values "
                  "of 4 KiB from the corpus, %.1f MB stored, in %s; rates in MB/s of stored bytes. "
                  "backup: a full backup into an empty repository (each file flushed); cp: the "
                  "store's segment files copied and each copy flushed; restore: the latest backup "
                  "into a new mapped-file store; backup_incremental_fraction: bytes written by a "
                  "backup after 1 %% of the values changed / bytes of the full one. Median of %d",
                  count, stored_mb, cfg.work_dir.c_str(), cfg.reps);
    nt.add(line);
    run_compact(cfg, c, res, nt, dir);
}

}  // namespace mmry_bench
