// durable_put: commits per second of one put each (16-byte keys, 100-byte values), each commit on
// disk when it returns, with 1 and 4 threads putting at once (issue 12, point 6):
// - mmry/mapped_file/sync: basic_store with arena::mapped_file, index::hashed, compress::none,
//   cipher::none, created with durability::sync; one put per commit (a put returns once on
//   disk; writers waiting meanwhile share a flush: group commit).
// - mmry-pages/mapped_file/sync: the page layer alone, page_store<file_backend> with
//   durability::sync and a hash_index at meta word 0, one write transaction per put: what the
//   store's own work adds on top.
// - lmdb/sync: default mdb_env_open flags (0: every commit synced), one transaction per put;
//   writers serialize on LMDB's writer lock.
// - rocksdb/sync: default Options, WriteOptions::sync = true, one Put per commit.
// One store per system and thread count, in the run's work directory; each repetition commits
// for config::durable_seconds; the figure is the median of the repetitions' rates.

#include <atomic>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <mmry/arena/mapped_file.hpp>
#include <mmry/compress/none.hpp>
#include <mmry/detail/pages/hash_index.hpp>
#include <mmry/detail/pages/page_store.hpp>
#include <mmry/store.hpp>

#if MMRY_BENCH_HAVE_LMDB
#include <lmdb.h>
#endif
#if MMRY_BENCH_HAVE_ROCKSDB
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#endif

#include "bench.hpp"

namespace mmry_bench {
namespace {

namespace pg = mmry::detail::pages;
constexpr int thread_counts[] = {1, 4};

/// Runs put(i) from `threads` threads for `seconds`, thread t putting items t, t + threads, ...
/// (continuing from where the last call left off, modulo the data set) and returns commits/s.
template <class Put>
double commits_per_second(int threads, double seconds, std::size_t n, std::uint64_t& next,
                          Put&& put) {
    std::atomic<bool> stop{false};
    std::atomic<int> ready{0};
    std::vector<std::uint64_t> done(static_cast<std::size_t>(threads), 0);
    std::vector<std::exception_ptr> failed(static_cast<std::size_t>(threads));
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            ready.fetch_add(1);
            while (ready.load() < threads + 1) std::this_thread::yield();
            std::uint64_t k = 0;
            try {
                for (; !stop.load(std::memory_order_relaxed); ++k)
                    put(static_cast<std::size_t>((next + k * std::uint64_t(threads) + t) % n));
            } catch (...) {
                failed[static_cast<std::size_t>(t)] = std::current_exception();
                stop = true;
            }
            done[static_cast<std::size_t>(t)] = k;
        });
    while (ready.load() < threads) std::this_thread::yield();
    const auto t0 = clock::now();
    ready.fetch_add(1);
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& th : pool) th.join();
    const double wall = seconds_since(t0);
    for (const auto& e : failed)
        if (e) std::rethrow_exception(e);
    std::uint64_t total = 0, most = 0;
    for (const auto k : done) total += k, most = std::max(most, k);
    next += most * std::uint64_t(threads);
    return double(total) / wall;
}

/// The median commits/s over the repetitions, for `system` at every thread count. `open(dir)`
/// makes a store in the fresh directory dir and returns put(i); the store lives as long as put.
template <class Open>
void measure(const config& cfg, const small_data& d, results& res, const std::string& system,
             const std::string& leaf, Open&& open) {
    for (const int threads : thread_counts) {
        std::fprintf(stderr, "[durable] %s, %d thread%s\n", system.c_str(), threads,
                     threads == 1 ? "" : "s");
        const std::string dir = cfg.work_dir + "/durable-" + leaf + "-" + std::to_string(threads);
        std::filesystem::create_directories(dir);
        std::vector<double> rates;
        {
            auto put = open(dir);
            std::uint64_t next = 0;
            for (int r = 0; r < cfg.reps; ++r)
                rates.push_back(
                    commits_per_second(threads, cfg.durable_seconds, d.size(), next, put));
        }
        res.add_threaded("durable_put", system, threads, median(rates), "commits/s");
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
}

struct durable_traits : mmry::default_traits {
    using arena = mmry::arena::mapped_file;
    using compressor = mmry::compress::none;
};

void durable_store(const config& cfg, const small_data& d, results& res) {
    using store = mmry::basic_store<durable_traits>;
    measure(cfg, d, res, "mmry/mapped_file/sync", "store", [&](const std::string& dir) {
        auto s = std::make_shared<store>(store::create(
            dir + "/store", {.content_hash = false, .durability = mmry::durability::sync}));
        return [s, &d](std::size_t i) { s->put(d.key(i), d.value(i)); };
    });
}

void durable_pages(const config& cfg, const small_data& d, results& res) {
    using store = pg::page_store<pg::file_backend>;
    measure(cfg, d, res, "mmry-pages/mapped_file/sync", "pages", [&](const std::string& dir) {
        pg::page_store_options o;
        o.level = pg::durability::sync;
        auto s = std::make_shared<store>(pg::create, dir + "/store", o);
        return [s, &d](std::size_t i) {
            static const pg::hash_index index(0);
            auto w = s->write();
            index.put(w, d.key(i), d.value(i), 0x6d6d72792d62656eull);
            w.commit();
        };
    });
}

#if MMRY_BENCH_HAVE_LMDB
void lmdb_ok(int rc, const char* what) {
    if (rc != MDB_SUCCESS)
        throw std::runtime_error(std::string("lmdb: ") + what + ": " + mdb_strerror(rc));
}

void durable_lmdb(const config& cfg, const small_data& d, results& res) {
    measure(cfg, d, res, "lmdb/sync", "lmdb", [&](const std::string& dir) {
        MDB_env* raw = nullptr;
        lmdb_ok(mdb_env_create(&raw), "mdb_env_create");
        std::shared_ptr<MDB_env> env(raw, mdb_env_close);
        lmdb_ok(mdb_env_set_mapsize(raw, std::size_t{1} << 30), "mdb_env_set_mapsize");
        lmdb_ok(mdb_env_open(raw, dir.c_str(), 0, 0600), "mdb_env_open");
        MDB_txn* txn = nullptr;
        MDB_dbi dbi = 0;
        lmdb_ok(mdb_txn_begin(raw, nullptr, 0, &txn), "mdb_txn_begin");
        lmdb_ok(mdb_dbi_open(txn, nullptr, 0, &dbi), "mdb_dbi_open");
        lmdb_ok(mdb_txn_commit(txn), "mdb_txn_commit");
        return [env, dbi, &d](std::size_t i) {
            MDB_txn* t = nullptr;
            lmdb_ok(mdb_txn_begin(env.get(), nullptr, 0, &t), "mdb_txn_begin");
            const auto k = d.key(i);
            const auto v = d.value(i);
            MDB_val key{k.size(), const_cast<char*>(k.data())};
            MDB_val val{v.size(), const_cast<std::byte*>(v.data())};
            const int rc = mdb_put(t, dbi, &key, &val, 0);
            if (rc != MDB_SUCCESS) mdb_txn_abort(t);
            lmdb_ok(rc, "mdb_put");
            lmdb_ok(mdb_txn_commit(t), "mdb_txn_commit");
        };
    });
}
#endif

#if MMRY_BENCH_HAVE_ROCKSDB
void durable_rocksdb(const config& cfg, const small_data& d, results& res) {
    measure(cfg, d, res, "rocksdb/sync", "rocksdb", [&](const std::string& dir) {
        rocksdb::Options options;
        options.create_if_missing = true;
        rocksdb::DB* raw = nullptr;
        const auto st = rocksdb::DB::Open(options, dir + "/db", &raw);
        if (!st.ok()) throw std::runtime_error("rocksdb: Open: " + st.ToString());
        std::shared_ptr<rocksdb::DB> db(raw, [](rocksdb::DB* p) {
            p->Close();
            delete p;
        });
        return [db, &d](std::size_t i) {
            rocksdb::WriteOptions wo;
            wo.sync = true;
            const auto k = d.key(i);
            const auto s = db->Put(wo, rocksdb::Slice(k.data(), k.size()),
                                   rocksdb::Slice(d.value_chars(i).data(), d.value_size));
            if (!s.ok()) throw std::runtime_error("rocksdb: Put: " + s.ToString());
        };
    });
}
#endif

/// The file system under the work directory (where every durable store lives).
std::string file_system_of(const std::string& dir) {
    std::string type = "unknown";
    std::ifstream mounts("/proc/self/mounts");
    std::size_t best = 0;
    const std::string path = std::filesystem::canonical(dir).string();
    for (std::string dev, at, fs, rest; mounts >> dev >> at >> fs && std::getline(mounts, rest);)
        if (path.rfind(at, 0) == 0 && at.size() >= best) best = at.size(), type = fs + " on " + dev;
    return type;
}

}  // namespace

void run_durable(const config& cfg, const small_data& d, results& res, notes& nt) {
    if (cfg.mmry_filter.empty() ||
        std::string("mmry/mapped_file/sync").find(cfg.mmry_filter) != std::string::npos)
        durable_store(cfg, d, res);
    if (cfg.mmry_filter.empty() ||
        std::string("mmry-pages/mapped_file/sync").find(cfg.mmry_filter) != std::string::npos)
        durable_pages(cfg, d, res);
#if MMRY_BENCH_HAVE_LMDB
    durable_lmdb(cfg, d, res);
#endif
#if MMRY_BENCH_HAVE_ROCKSDB
    durable_rocksdb(cfg, d, res);
#endif
    char line[900];
    std::snprintf(line, sizeof line,
                  "durable_put: commits/s of one 100-byte put each, on disk when the commit "
                  "returns, 1 and 4 threads committing at once; each repetition %.2g s, median of "
                  "%d; stores in %s (%s). mmry/mapped_file/sync: basic_store (mapped_file, "
                  "hashed, no compression, no cipher, no content hash) with durability::sync "
                  "(group commit), one put per commit; mmry-pages/mapped_file/sync: the page "
                  "layer alone, hash_index at meta word 0, one write transaction per put; "
                  "lmdb/sync: mdb_env_open flags 0, one write transaction per put; rocksdb/sync: "
                  "default Options, WriteOptions::sync = true, one Put per commit",
                  cfg.durable_seconds, cfg.reps, cfg.work_dir.c_str(),
                  file_system_of(cfg.work_dir).c_str());
    nt.add(line);
}

}  // namespace mmry_bench
