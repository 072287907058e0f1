// Small values through mmry: every arena x every index, compress::none and cipher::none, the
// per-process value cache off (cache_bytes = 0), so that every get goes to the store as it does
// for every peer. For the hashed compositions, gets through view() (zero copy) too; for
// mmry/shared_memory/hashed, gets through a second store object with the default 64 MiB cache.

#include <filesystem>
#include <optional>
#include <string>
#include <type_traits>

#include <mmry/arena/heap.hpp>
#include <mmry/arena/mapped_file.hpp>
#include <mmry/arena/shared_memory.hpp>
#include <mmry/cipher/none.hpp>
#include <mmry/compress/none.hpp>
#include <mmry/index/hashed.hpp>
#include <mmry/index/ordered.hpp>
#include <mmry/store.hpp>

#include "bench.hpp"

namespace mmry_bench {
namespace {

template <class Arena, class Index>
struct small_traits : mmry::default_traits {
    using arena = Arena;
    using index = Index;
    using compressor = mmry::compress::none;
    using cipher = mmry::cipher::none;
};

/// Bytes of segment 0 for n small entries: the index must fit in segment 0 (records spill to
/// further segments, the index cannot), and while the hashed index doubles its slot array (64 bytes
/// a slot, at most 4/5 full) the old and the new array are both there.
std::size_t small_capacity(std::size_t n) {
    return std::max<std::size_t>(std::size_t{64} << 20, n * 1024);
}

template <class Arena, class Index>
void small_one(const config& cfg, const small_data& d, results& res, notes& nt) {
    using store = mmry::basic_store<small_traits<Arena, Index>>;
    constexpr bool in_heap = std::is_same_v<Arena, mmry::arena::heap>;
    const std::string system = "mmry/" + std::string(Arena::name) + "/" + std::string(Index::name);
    if (!cfg.mmry_filter.empty() && system.find(cfg.mmry_filter) == std::string::npos) return;
    std::fprintf(stderr, "[small] %s\n", system.c_str());

    mmry::options opts;
    opts.capacity = small_capacity(d.size());
    opts.cache_bytes = 0;
    const std::size_t n = d.size();

    auto name_of = [&](int rep) {
        const std::string leaf =
            std::string(Arena::name) + "-" + std::string(Index::name) + "-" + std::to_string(rep);
        if constexpr (std::is_same_v<Arena, mmry::arena::mapped_file>)
            return cfg.work_dir + "/" + leaf;
        else
            return cfg.shm_prefix + "-" + leaf;
    };

    std::optional<store> s;
    std::string name;
    std::uint64_t heap_delta = 0;
    const sample put_s = median_of(cfg.reps, [&](int rep) {
        if (s) {
            s.reset();
            if constexpr (store::shared) store::remove(name);
        }
        name = name_of(rep);
        if constexpr (store::shared) {
            store::remove(name);
            at_exit([name] { store::remove(name); });
        }
        const std::uint64_t heap0 = heap_in_use();
        s.emplace(store::create(name, opts));
        const sample t = time_once([&] {
            for (std::size_t i = 0; i < n; ++i) s->put(d.key(i), d.value(i));
        });
        heap_delta = heap_growth(heap0);
        return t;
    });
    res.add_per_op("small_put", system, put_s, double(n), 1e9, "ns/op");

    const auto st = s->stats();
    const std::uint64_t arena_used = st.arena.reserved_bytes - st.arena.free_bytes;
    // The heap arena keeps its segments in anonymous mappings and its index on the C++ heap; the
    // shared arenas keep both in their segments.
    const std::uint64_t used = arena_used + (in_heap ? heap_delta : 0);
    res.add("bytes_per_entry", system, double(used) / double(n), "B");
    char line[400];
    std::snprintf(line, sizeof line,
                  "%s: %llu entries; records %.1f B/entry (stored_bytes / N); arena segments "
                  "reserved %.1f MiB, in use %.1f MiB (%.1f B/entry)%s",
                  system.c_str(), static_cast<unsigned long long>(st.entries),
                  double(st.stored_bytes) / double(n), double(st.arena.reserved_bytes) / 1048576,
                  double(arena_used) / 1048576, double(arena_used) / double(n),
                  in_heap ? "; plus the index on the C++ heap (mallinfo2 growth over the puts)"
                          : "; the index is inside segment 0");
    nt.add(line);

    std::uint64_t acc = 0;
    const sample get_s = median_of(cfg.reps, [&](int) {
        return time_once([&] {
            for (const auto i : d.get_order) {
                const auto v = s->get(d.key(i));
                acc += touch(v->data(), v->size());
            }
        });
    });
    res.add_per_op("small_get", system, get_s, double(n), 1e9, "ns/op");

    if constexpr (std::is_same_v<Index, mmry::index::hashed>) {
        const sample view_s = median_of(cfg.reps, [&](int) {
            return time_once([&] {
                for (const auto i : d.get_order) {
                    const auto v = s->view(d.key(i));
                    acc += touch(v->data(), v->size());
                }
            });
        });
        res.add_per_op("small_get", system + "+view", view_s, double(n), 1e9, "ns/op");
    }

    if constexpr (std::is_same_v<Arena, mmry::arena::shared_memory> &&
                  std::is_same_v<Index, mmry::index::hashed>) {
        // A second store object on the same store, with the default cache (64 MiB per process).
        auto cached = store::open(name, mmry::options{});
        const sample cached_s = median_of(cfg.reps, [&](int) {
            return time_once([&] {
                for (const auto i : d.get_order) {
                    const auto v = cached.get(d.key(i));
                    acc += touch(v->data(), v->size());
                }
            });
        });
        res.add_per_op("small_get", system + "+cache", cached_s, double(n), 1e9, "ns/op");
        const auto cs = cached.stats().cache;
        nt.add(system + "+cache: the default 64 MiB cache; over all its gets " +
               std::to_string(cs.hits) + " hits, " + std::to_string(cs.misses) + " misses");
    }
    keep(acc);

    s.reset();
    if constexpr (store::shared) store::remove(name);
    if constexpr (std::is_same_v<Arena, mmry::arena::mapped_file>) {
        std::error_code ec;
        std::filesystem::remove_all(name, ec);
    }
}

}  // namespace

void run_small_mmry(const config& cfg, const small_data& d, results& res, notes& nt) {
    using namespace mmry;
    small_one<arena::heap, index::hashed>(cfg, d, res, nt);
    small_one<arena::heap, index::ordered>(cfg, d, res, nt);
    small_one<arena::shared_memory, index::hashed>(cfg, d, res, nt);
    small_one<arena::shared_memory, index::ordered>(cfg, d, res, nt);
    small_one<arena::mapped_file, index::hashed>(cfg, d, res, nt);
    small_one<arena::mapped_file, index::ordered>(cfg, d, res, nt);
}

}  // namespace mmry_bench
