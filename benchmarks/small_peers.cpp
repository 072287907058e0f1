// Small values through the peers: std::unordered_map, boost::unordered_map in a Boost.Interprocess
// managed_shared_memory segment, LMDB and RocksDB. Same keys, values, put order and get order as
// the mmry figures (small_mmry.cpp).

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

#include <boost/container/string.hpp>
#include <boost/functional/hash.hpp>
#include <boost/interprocess/allocators/allocator.hpp>
#include <boost/interprocess/managed_shared_memory.hpp>
#include <boost/unordered_map.hpp>

#if MMRY_BENCH_HAVE_LMDB
#include <lmdb.h>
#endif
#if MMRY_BENCH_HAVE_ROCKSDB
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/version.h>
#endif

#include "bench.hpp"

namespace mmry_bench {
namespace {

namespace bip = boost::interprocess;

// ---- std::unordered_map<std::string, std::string> ----------------------------------------------

struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

void small_std(const config& cfg, const small_data& d, results& res, notes& nt) {
    std::fprintf(stderr, "[small] std\n");
    using map = std::unordered_map<std::string, std::string, string_hash, std::equal_to<>>;
    const std::size_t n = d.size();
    std::optional<map> m;
    std::uint64_t heap_delta = 0;
    const sample put_s = median_of(cfg.reps, [&](int) {
        m.reset();
        const std::uint64_t heap0 = heap_in_use();
        m.emplace();
        const sample t = time_once([&] {
            for (std::size_t i = 0; i < n; ++i)
                m->emplace(std::string(d.key(i)), std::string(d.value_chars(i)));
        });
        heap_delta = heap_growth(heap0);
        return t;
    });
    res.add_per_op("small_put", "std", put_s, double(n), 1e9, "ns/op");
    res.add("bytes_per_entry", "std", double(heap_delta) / double(n), "B");
    std::uint64_t acc = 0;
    const sample get_s = median_of(cfg.reps, [&](int) {
        return time_once([&] {
            for (const auto i : d.get_order) {
                const auto it = m->find(d.key(i));
                acc += touch(it->second.data(), it->second.size());
            }
        });
    });
    res.add_per_op("small_get", "std", get_s, double(n), 1e9, "ns/op");
    keep(acc);
    nt.add(
        "std: bytes_per_entry is the growth of glibc's heap in use (mallinfo2 uordblks + "
        "hblkhd) over the puts");
}

// ---- boost::unordered_map in a managed_shared_memory segment ------------------------------------

namespace shm_map {
using segment_manager = bip::managed_shared_memory::segment_manager;
using char_alloc = bip::allocator<char, segment_manager>;
using string = boost::container::basic_string<char, std::char_traits<char>, char_alloc>;
inline std::string_view view(std::string_view s) noexcept {
    return s;
}
inline std::string_view view(const string& s) noexcept {
    return {s.data(), s.size()};
}
struct hash {
    template <class S>
    std::size_t operator()(const S& s) const noexcept {
        const auto v = view(s);
        return boost::hash_range(v.begin(), v.end());
    }
};
struct equal {
    template <class A, class B>
    bool operator()(const A& a, const B& b) const noexcept {
        return view(a) == view(b);
    }
};
using value_alloc = bip::allocator<std::pair<const string, string>, segment_manager>;
using map = boost::unordered_map<string, string, hash, equal, value_alloc>;
}  // namespace shm_map

void small_bip(const config& cfg, const small_data& d, results& res, notes& nt) {
    std::fprintf(stderr, "[small] bip_unordered_map\n");
    using namespace shm_map;
    const std::size_t n = d.size();
    const std::size_t size = std::max<std::size_t>(std::size_t{64} << 20, n * 512);
    std::optional<bip::managed_shared_memory> seg;
    map* m = nullptr;
    std::string name;
    const sample put_s = median_of(cfg.reps, [&](int rep) {
        if (seg) {
            seg.reset();
            bip::shared_memory_object::remove(name.c_str());
        }
        name = cfg.shm_prefix + "-bip-" + std::to_string(rep);
        bip::shared_memory_object::remove(name.c_str());
        at_exit([name] { bip::shared_memory_object::remove(name.c_str()); });
        seg.emplace(bip::create_only, name.c_str(), size);
        m = seg->construct<map>("map")(0, hash(), equal(), value_alloc(seg->get_segment_manager()));
        const char_alloc alloc(seg->get_segment_manager());
        return time_once([&] {
            for (std::size_t i = 0; i < n; ++i) {
                const auto k = d.key(i);
                const auto v = d.value_chars(i);
                m->emplace(string(k.data(), k.size(), alloc), string(v.data(), v.size(), alloc));
            }
        });
    });
    res.add_per_op("small_put", "bip_unordered_map", put_s, double(n), 1e9, "ns/op");
    res.add("bytes_per_entry", "bip_unordered_map",
            double(seg->get_size() - seg->get_free_memory()) / double(n), "B");
    std::uint64_t acc = 0;
    const sample get_s = median_of(cfg.reps, [&](int) {
        return time_once([&] {
            for (const auto i : d.get_order) {
                const auto it = m->find(d.key(i), hash(), equal());
                acc += touch(it->second.data(), it->second.size());
            }
        });
    });
    res.add_per_op("small_get", "bip_unordered_map", get_s, double(n), 1e9, "ns/op");
    keep(acc);
    seg.reset();
    bip::shared_memory_object::remove(name.c_str());
    nt.add(
        "bip_unordered_map: boost::unordered_map<bip string, bip string> in a "
        "managed_shared_memory segment (Boost's default mutex family); bytes_per_entry = "
        "segment bytes in use (get_size - get_free_memory) / N");
}

// ---- LMDB ---------------------------------------------------------------------------------------

#if MMRY_BENCH_HAVE_LMDB
void lmdb_check(int rc, const char* what) {
    if (rc != MDB_SUCCESS)
        throw std::runtime_error(std::string("lmdb: ") + what + ": " + mdb_strerror(rc));
}

void small_lmdb(const config& cfg, const small_data& d, results& res, notes& nt) {
    std::fprintf(stderr, "[small] lmdb\n");
    const std::size_t n = d.size();
    MDB_env* env = nullptr;
    MDB_dbi dbi = 0;
    std::string path;
    auto close = [&] {
        if (env) mdb_env_close(env);
        env = nullptr;
        std::error_code ec;
        if (!path.empty()) std::filesystem::remove_all(path, ec);
    };
    const unsigned flags = MDB_NOSYNC | MDB_WRITEMAP | MDB_NOSUBDIR;
    const sample put_s = median_of(cfg.reps, [&](int rep) {
        close();
        path = cfg.work_dir + "/lmdb-" + std::to_string(rep) + ".mdb";
        lmdb_check(mdb_env_create(&env), "mdb_env_create");
        lmdb_check(
            mdb_env_set_mapsize(env, std::max<std::size_t>(std::size_t{256} << 20, n * 1024)),
            "mdb_env_set_mapsize");
        lmdb_check(mdb_env_open(env, path.c_str(), flags, 0600), "mdb_env_open");
        return time_once([&] {
            MDB_txn* txn = nullptr;
            lmdb_check(mdb_txn_begin(env, nullptr, 0, &txn), "mdb_txn_begin");
            lmdb_check(mdb_dbi_open(txn, nullptr, 0, &dbi), "mdb_dbi_open");
            for (std::size_t i = 0; i < n; ++i) {
                const auto k = d.key(i);
                const auto v = d.value(i);
                MDB_val key{k.size(), const_cast<char*>(k.data())};
                MDB_val val{v.size(), const_cast<std::byte*>(v.data())};
                lmdb_check(mdb_put(txn, dbi, &key, &val, 0), "mdb_put");
            }
            lmdb_check(mdb_txn_commit(txn), "mdb_txn_commit");
        });
    });
    res.add_per_op("small_put", "lmdb", put_s, double(n), 1e9, "ns/op");

    MDB_txn* rtxn = nullptr;
    lmdb_check(mdb_txn_begin(env, nullptr, MDB_RDONLY, &rtxn), "mdb_txn_begin (read)");
    MDB_stat ms{};
    lmdb_check(mdb_stat(rtxn, dbi, &ms), "mdb_stat");
    const double pages = double(ms.ms_branch_pages + ms.ms_leaf_pages + ms.ms_overflow_pages);
    res.add("bytes_per_entry", "lmdb", pages * ms.ms_psize / double(n), "B");
    std::uint64_t acc = 0;
    const sample get_s = median_of(cfg.reps, [&](int) {
        return time_once([&] {
            for (const auto i : d.get_order) {
                const auto k = d.key(i);
                MDB_val key{k.size(), const_cast<char*>(k.data())};
                MDB_val val{};
                lmdb_check(mdb_get(rtxn, dbi, &key, &val), "mdb_get");
                acc += touch(val.mv_data, val.mv_size);
            }
        });
    });
    mdb_txn_abort(rtxn);
    res.add_per_op("small_get", "lmdb", get_s, double(n), 1e9, "ns/op");
    keep(acc);
    close();
    nt.add(
        "lmdb: MDB_NOSYNC | MDB_WRITEMAP, one write transaction for all N puts (commit "
        "included in put time), one read transaction reused for all gets (values read in "
        "place); bytes_per_entry = B-tree pages (branch + leaf + overflow) x page size / N");
}
#endif

// ---- RocksDB ------------------------------------------------------------------------------------

#if MMRY_BENCH_HAVE_ROCKSDB
void rocks_check(const rocksdb::Status& s, const char* what) {
    if (!s.ok()) throw std::runtime_error(std::string("rocksdb: ") + what + ": " + s.ToString());
}

void small_rocksdb(const config& cfg, const small_data& d, results& res, notes& nt) {
    std::fprintf(stderr, "[small] rocksdb\n");
    const std::size_t n = d.size();
    std::unique_ptr<rocksdb::DB> db;
    std::string path;
    rocksdb::Options options;  // defaults
    options.create_if_missing = true;
    auto close = [&] {
        if (db) rocks_check(db->Close(), "Close");
        db.reset();
        std::error_code ec;
        if (!path.empty()) std::filesystem::remove_all(path, ec);
    };
    rocksdb::WriteOptions wo;
    wo.sync = false;
    wo.disableWAL = false;
    const sample put_s = median_of(cfg.reps, [&](int rep) {
        close();
        path = cfg.work_dir + "/rocksdb-" + std::to_string(rep);
        rocksdb::DB* raw = nullptr;
        rocks_check(rocksdb::DB::Open(options, path, &raw), "Open");
        db.reset(raw);
        return time_once([&] {
            for (std::size_t i = 0; i < n; ++i)
                rocks_check(db->Put(wo, rocksdb::Slice(d.key(i).data(), d.key(i).size()),
                                    rocksdb::Slice(d.value_chars(i).data(), d.value_size)),
                            "Put");
        });
    });
    res.add_per_op("small_put", "rocksdb", put_s, double(n), 1e9, "ns/op");
    // Gets run on a compacted database (flush + full compaction, not timed).
    rocks_check(db->Flush(rocksdb::FlushOptions()), "Flush");
    rocks_check(db->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr), "CompactRange");
    std::uint64_t sst = 0, mem = 0;
    db->GetIntProperty("rocksdb.total-sst-files-size", &sst);
    db->GetIntProperty("rocksdb.cur-size-all-mem-tables", &mem);
    res.add("bytes_per_entry", "rocksdb", double(sst + mem) / double(n), "B");
    std::uint64_t acc = 0;
    const rocksdb::ReadOptions ro;
    rocksdb::PinnableSlice value;
    const sample get_s = median_of(cfg.reps, [&](int) {
        return time_once([&] {
            for (const auto i : d.get_order) {
                value.Reset();
                rocks_check(db->Get(ro, db->DefaultColumnFamily(),
                                    rocksdb::Slice(d.key(i).data(), d.key(i).size()), &value),
                            "Get");
                acc += touch(value.data(), value.size());
            }
        });
    });
    res.add_per_op("small_get", "rocksdb", get_s, double(n), 1e9, "ns/op");
    keep(acc);
    close();
    const char* compression = options.compression == rocksdb::kSnappyCompression ? "Snappy"
                              : options.compression == rocksdb::kNoCompression   ? "none"
                                                                                 : "other";
    nt.add(std::string("rocksdb: default Options (create_if_missing), WriteOptions.sync = false "
                       "with the WAL on; gets after Flush + CompactRange (not timed), values read "
                       "through PinnableSlice; bytes_per_entry = total SST file size (+ "
                       "memtables) / N, on disk, with the default block compression (") +
           compression + ")");
}
#endif

}  // namespace

void run_small_peers(const config& cfg, const small_data& d, results& res, notes& nt) {
    small_std(cfg, d, res, nt);
    small_bip(cfg, d, res, nt);
#if MMRY_BENCH_HAVE_LMDB
    small_lmdb(cfg, d, res, nt);
#else
    nt.add("lmdb: not built (liblmdb-dev was not found at configure time)");
#endif
#if MMRY_BENCH_HAVE_ROCKSDB
    small_rocksdb(cfg, d, res, nt);
#else
    nt.add("rocksdb: not built (librocksdb-dev was not found at configure time)");
#endif
}

std::vector<std::pair<std::string, std::string>> peer_versions() {
    std::vector<std::pair<std::string, std::string>> v;
#if MMRY_BENCH_HAVE_LMDB
    int major = 0, minor = 0, patch = 0;
    mdb_version(&major, &minor, &patch);
    v.emplace_back(
        "LMDB", std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch));
#endif
#if MMRY_BENCH_HAVE_ROCKSDB
    v.emplace_back("RocksDB", std::to_string(ROCKSDB_MAJOR) + "." + std::to_string(ROCKSDB_MINOR) +
                                  "." + std::to_string(ROCKSDB_PATCH));
#endif
    return v;
}

}  // namespace mmry_bench
