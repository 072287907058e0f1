// Small values through the copy-on-write page layer (include/mmry/detail/pages/), a preview of the
// core that basic_store does not use yet: a page_store<shm_backend> (durability none) with a
// hash_index at meta word 0. Same keys, values, put order and get order as small_mmry.cpp.
// - small_put: one write transaction per put, committed (a basic_store put is one commit too);
// - small_get: one read transaction per get (read(), then find()), every byte of the value read;
// - bytes_per_entry: pages in use (high-water mark - free pages, control area included) x 4096 / N.

#include <optional>
#include <string>

#include <mmry/detail/pages/hash_index.hpp>
#include <mmry/detail/pages/page_store.hpp>

#include "bench.hpp"

namespace mmry_bench {

namespace pg = mmry::detail::pages;

void run_small_pages(const config& cfg, const small_data& d, results& res, notes& nt) {
    using store = pg::page_store<pg::shm_backend>;
    const std::string system = "mmry-pages/shared_memory/hashed";
    if (!cfg.mmry_filter.empty() && system.find(cfg.mmry_filter) == std::string::npos) return;
    std::fprintf(stderr, "[pages] %s\n", system.c_str());
    const pg::hash_index index(0);
    constexpr std::uint64_t seed = 0x6d6d72792d62656eull;
    const std::size_t n = d.size();

    std::optional<store> s;
    std::string name;
    const sample put_s = median_of(cfg.reps, [&](int rep) {
        if (s) {
            s.reset();
            store::remove(name);
        }
        name = cfg.shm_prefix + "-pages-" + std::to_string(rep);
        store::remove(name);
        at_exit([name] { store::remove(name); });
        s.emplace(pg::create, name);
        return time_once([&] {
            for (std::size_t i = 0; i < n; ++i) {
                auto w = s->write();
                index.put(w, d.key(i), d.value(i), seed);
                w.commit();
            }
        });
    });
    res.add_per_op("small_put", system, put_s, double(n), 1e9, "ns/op");

    const pg::page_stats st = s->stats();
    const std::uint64_t in_use = st.pages - st.free_pages;
    res.add("bytes_per_entry", system, double(in_use * pg::page_size) / double(n), "B");
    char line[400];
    std::snprintf(line, sizeof line,
                  "%s: page_store<shm_backend> (64 MiB segments, durability none), hash_index at "
                  "meta word 0; one write transaction per put, one read transaction per get; "
                  "%llu pages handed out (%llu segments), %llu of them free; bytes_per_entry = "
                  "(pages - free pages) x 4096 / N. A preview of the core: basic_store does not "
                  "use it yet",
                  system.c_str(), static_cast<unsigned long long>(st.pages),
                  static_cast<unsigned long long>(st.segments),
                  static_cast<unsigned long long>(st.free_pages));
    nt.add(line);

    std::uint64_t acc = 0;
    const sample get_s = median_of(cfg.reps, [&](int) {
        return time_once([&] {
            for (const auto i : d.get_order) {
                const auto r = s->read();
                const auto v = index.find(r, d.key(i));
                acc += touch(v->data(), v->size());
            }
        });
    });
    res.add_per_op("small_get", system, get_s, double(n), 1e9, "ns/op");
    keep(acc);
    s.reset();
    store::remove(name);
}

}  // namespace mmry_bench
