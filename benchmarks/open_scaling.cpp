// Opening an existing store of 1 GiB (mapped_file and shared_memory) against Boost.Interprocess
// open_only on a managed_shared_memory segment of the same size; and read scaling: random gets
// from 1 and from 2 reader processes (fork) on one shared-memory store.

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/interprocess/managed_shared_memory.hpp>

#include <mmry/arena/mapped_file.hpp>
#include <mmry/arena/shared_memory.hpp>
#include <mmry/cipher/none.hpp>
#include <mmry/compress/none.hpp>
#include <mmry/index/hashed.hpp>
#include <mmry/store.hpp>

#include "bench.hpp"

namespace mmry_bench {
namespace {

namespace bip = boost::interprocess;

template <class Arena>
struct plain_traits : mmry::default_traits {
    using arena = Arena;
    using index = mmry::index::hashed;
    using compressor = mmry::compress::none;
    using cipher = mmry::cipher::none;
};
using shm_store = mmry::basic_store<plain_traits<mmry::arena::shared_memory>>;
using file_store = mmry::basic_store<plain_traits<mmry::arena::mapped_file>>;

constexpr std::size_t block = 64 * 1024;
constexpr int open_reps = 21;

/// Creates `name` with segment 0 of cfg.open_bytes, filled to half with 64 KiB values of the
/// corpus (cycled), then closes it. Returns the logical bytes stored.
template <class Store>
std::uint64_t make_open_store(const config& cfg, const corpus& c, const std::string& name) {
    mmry::options opts;
    opts.capacity = cfg.open_bytes;
    opts.cache_bytes = 0;
    auto s = Store::create(name, opts);
    const std::size_t values = cfg.open_bytes / 2 / block;
    const std::size_t corpus_blocks = std::max<std::size_t>(1, c.data.size() / block);
    for (std::size_t i = 0; i < values; ++i) {
        char key[32];
        std::snprintf(key, sizeof key, "value/%08zu", i);
        s.put(key, std::span(c.data).subspan((i % corpus_blocks) * block,
                                             std::min(block, c.data.size())));
    }
    return s.stats().logical_bytes;
}

template <class Store>
sample open_median(const std::string& name) {
    std::uint64_t acc = 0;
    const sample t = median_of(open_reps, [&](int) {
        std::optional<Store> s;
        const sample dt = time_once([&] { s.emplace(Store::open(name, mmry::options{})); });
        acc += s->size();
        return dt;
    });
    keep(acc);
    return t;
}

}  // namespace

void run_open(const config& cfg, const corpus& c, results& res, notes& nt) {
    std::fprintf(stderr, "[open] stores of %zu MiB\n", cfg.open_bytes >> 20);
    // mapped_file
    {
        const std::string dir = cfg.work_dir + "/open-mapped";
        at_exit([dir] { file_store::remove(dir); });
        const auto logical = make_open_store<file_store>(cfg, c, dir);
        res.add_per_op("open", "mmry/mapped_file/hashed", open_median<file_store>(dir), 1, 1e6,
                       "us");
        file_store::remove(dir);
        nt.add("open: stores created with capacity " + std::to_string(cfg.open_bytes >> 20) +
               " MiB (segment 0), holding " + std::to_string(logical >> 20) +
               " MiB of 64 KiB values (compress::none, cipher::none, hashed index); open = "
               "basic_store::open(name) until it returns (header, policy and lock checks), "
               "median of " +
               std::to_string(open_reps) + ", closed between repetitions");
    }
    // shared_memory
    {
        const std::string name = cfg.shm_prefix + "-open";
        shm_store::remove(name);
        at_exit([name] { shm_store::remove(name); });
        make_open_store<shm_store>(cfg, c, name);
        res.add_per_op("open", "mmry/shared_memory/hashed", open_median<shm_store>(name), 1, 1e6,
                       "us");
        shm_store::remove(name);
    }
    // Boost.Interprocess managed_shared_memory, same size, same amount of data
    {
        const std::string name = cfg.shm_prefix + "-open-bip";
        bip::shared_memory_object::remove(name.c_str());
        at_exit([name] { bip::shared_memory_object::remove(name.c_str()); });
        {
            bip::managed_shared_memory seg(bip::create_only, name.c_str(), cfg.open_bytes);
            seg.construct<std::uint64_t>("root")(42);
            const std::size_t values = cfg.open_bytes / 2 / block;
            const std::size_t corpus_blocks = std::max<std::size_t>(1, c.data.size() / block);
            for (std::size_t i = 0; i < values; ++i) {
                void* p = seg.allocate(std::min(block, c.data.size()));
                std::memcpy(p, c.data.data() + (i % corpus_blocks) * block,
                            std::min(block, c.data.size()));
            }
        }
        std::uint64_t acc = 0;
        const sample t = median_of(open_reps, [&](int) {
            return time_once([&] {
                bip::managed_shared_memory seg(bip::open_only, name.c_str());
                acc += *seg.find<std::uint64_t>("root").first;
            });
        });
        keep(acc);
        res.add_per_op("open", "bip_managed_shared_memory", t, 1, 1e6, "us");
        bip::shared_memory_object::remove(name.c_str());
        nt.add(
            "open, bip_managed_shared_memory: managed_shared_memory(open_only) + find of one "
            "named object, segment of the same size holding the same bytes (timed until the "
            "object is found; the unmap on close is included)");
    }
}

// ---- read scaling -------------------------------------------------------------------------------

namespace {

struct child_result {
    double ops = 0;
    double seconds = 0;      ///< wall-clock
    double cpu_seconds = 0;  ///< CPU time the reader got (less than wall when the cores are busy)
};

struct readers_result {
    double ops_per_s = 0;      ///< all readers together, per wall-clock second
    double ops_per_cpu_s = 0;  ///< per reader, per CPU second it got (mean)
};

void write_all(int fd, const void* p, std::size_t n) {
    const auto* b = static_cast<const char*>(p);
    while (n > 0) {
        const ssize_t w = ::write(fd, b, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        b += w;
        n -= static_cast<std::size_t>(w);
    }
}
bool read_all(int fd, void* p, std::size_t n) {
    auto* b = static_cast<char*>(p);
    while (n > 0) {
        const ssize_t r = ::read(fd, b, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        b += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}

/// Runs `procs` reader processes at once on store `name`.
readers_result readers(const config& cfg, const small_data& d, const std::string& name, int procs) {
    int ready[2], go[2], out[2];
    if (::pipe(ready) || ::pipe(go) || ::pipe(out)) throw std::runtime_error("pipe failed");
    std::vector<pid_t> pids;
    for (int p = 0; p < procs; ++p) {
        const pid_t pid = ::fork();
        if (pid < 0) throw std::runtime_error("fork failed");
        if (pid == 0) {
            int status = 0;
            try {
                child_result r;
                {
                    auto s = shm_store::open(name, mmry::options{.cache_bytes = 0});
                    const char one = 1;
                    write_all(ready[1], &one, 1);
                    char start = 0;
                    if (!read_all(go[0], &start, 1)) ::_exit(3);
                    std::uint64_t acc = 0;
                    std::size_t j = static_cast<std::size_t>(p) * d.size() / 2, ops = 0;
                    const auto t0 = clock::now();
                    const double cpu0 = cpu_seconds();
                    while (true) {
                        for (int k = 0; k < 256; ++k) {
                            const auto i = d.get_order[j];
                            j = j + 1 == d.size() ? 0 : j + 1;
                            const auto v = s.get(d.key(i));
                            acc += touch(v->data(), v->size());
                        }
                        ops += 256;
                        if (seconds_since(t0) >= cfg.scaling_seconds) break;
                    }
                    r.seconds = seconds_since(t0);
                    r.cpu_seconds = cpu_seconds() - cpu0;
                    r.ops = double(ops);
                    keep(acc);
                }
                write_all(out[1], &r, sizeof r);
            } catch (const std::exception& e) {
                std::fprintf(stderr, "reader %d: %s\n", p, e.what());
                status = 2;
            }
            ::_exit(status);
        }
        pids.push_back(pid);
    }
    for (int p = 0; p < procs; ++p) {
        char c = 0;
        if (!read_all(ready[0], &c, 1)) throw std::runtime_error("a reader did not start");
    }
    const std::string start(static_cast<std::size_t>(procs), 'g');
    write_all(go[1], start.data(), start.size());
    readers_result total;
    bool ok = true;
    for (int p = 0; p < procs; ++p) {
        child_result r;
        if (!read_all(out[0], &r, sizeof r)) {
            ok = false;
            break;
        }
        total.ops_per_s += r.ops / r.seconds;
        total.ops_per_cpu_s += r.ops / r.cpu_seconds / procs;
    }
    for (const pid_t pid : pids) {
        int status = 0;
        ::waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ok = false;
    }
    for (int fd : {ready[0], ready[1], go[0], go[1], out[0], out[1]}) ::close(fd);
    if (!ok) throw std::runtime_error("read scaling: a reader process failed");
    return total;
}

}  // namespace

void run_read_scaling(const config& cfg, const small_data& d, results& res, notes& nt) {
    std::fprintf(stderr, "[scaling] 1 vs 2 reader processes\n");
    const std::string name = cfg.shm_prefix + "-scaling";
    shm_store::remove(name);
    at_exit([name] { shm_store::remove(name); });
    {
        mmry::options opts;
        opts.capacity = std::max<std::size_t>(std::size_t{64} << 20, d.size() * 1024);
        opts.cache_bytes = 0;
        auto s = shm_store::create(name, opts);
        for (std::size_t i = 0; i < d.size(); ++i) s.put(d.key(i), d.value(i));
    }
    std::vector<double> ratios, one, two, one_cpu, two_cpu;
    for (int r = 0; r < cfg.reps; ++r) {
        const auto a = readers(cfg, d, name, 1);
        const auto b = readers(cfg, d, name, 2);
        one.push_back(a.ops_per_s);
        two.push_back(b.ops_per_s);
        one_cpu.push_back(a.ops_per_cpu_s);
        two_cpu.push_back(b.ops_per_cpu_s);
        ratios.push_back(b.ops_per_s / a.ops_per_s);
    }
    shm_store::remove(name);
    res.add("read_scaling", "mmry/shared_memory/hashed", median(ratios), "x",
            2 * median(two_cpu) / median(one_cpu));
    char line[640];
    std::snprintf(line, sizeof line,
                  "read_scaling: %zu keys (compress::none, cipher::none, cache off), each reader "
                  "process opens the store and runs random gets for %.1f s; median gets/s: 1 "
                  "process %.0f, 2 processes %.0f (together); ratio = median of per-repetition "
                  "ratios. Gets per CPU-second of each reader (what it would do with a core of "
                  "its own): 1 process %.0f, 2 processes %.0f each, i.e. %.2f x 2 = %.2f if "
                  "each reader had a free core",
                  d.size(), cfg.scaling_seconds, median(one), median(two), median(one_cpu),
                  median(two_cpu), median(two_cpu) / median(one_cpu),
                  2 * median(two_cpu) / median(one_cpu));
    nt.add(line);
}

}  // namespace mmry_bench
