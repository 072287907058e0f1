#pragma once
// mmry-bench: what every phase of the harness shares. A small harness of our own: each figure is
// the median of `config::reps` timed repetitions (std::chrono::steady_clock), recorded as one
// measurement {metric, system, value, unit} that main.cpp prints as a table and as JSON Lines.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mmry_bench {

/// What one run measures, from the command line and the environment (see main.cpp --help).
struct config {
    std::size_t n = 1'000'000;          ///< keys of the small-value test (MMRY_BENCH_N)
    int reps = 3;                       ///< repetitions per figure (>= 3)
    bool smoke = false;                 ///< tiny sizes: a test of the harness, not a measurement
    std::string work_dir;               ///< this run's temporary directory (pid-based)
    std::string shm_prefix;             ///< this run's shared memory names (pid-based)
    std::size_t open_bytes = 1u << 30;  ///< bytes reserved by the stores of the "open" test
    double scaling_seconds = 1.0;       ///< how long each reader process reads per repetition
    double durable_seconds = 1.0;       ///< how long each repetition of durable_put commits
    std::vector<std::string> only;      ///< phases to run (empty: all)
    std::string mmry_filter;            ///< runs only mmry compositions whose name contains this
    /// Bytes of 100-byte values in the store of recovery_ms (--recovery-mib).
    std::size_t recovery_bytes = std::size_t{64} << 20;

    bool runs(std::string_view phase) const {
        return only.empty() || std::find(only.begin(), only.end(), phase) != only.end();
    }
};

/// One figure, as it goes to the JSON Lines file (value), with the same figure computed from the
/// CPU time the process got instead of wall-clock time (cpu_value, for the markdown report only:
/// on a busy machine it is the steadier of the two).
struct measurement {
    std::string metric;
    std::string system;
    double value = 0;
    std::string unit;
    std::optional<double> cpu_value;
    std::optional<int> threads;  ///< for figures measured at several thread counts (JSON field)
};

/// A timed section: wall-clock seconds (steady_clock) and CPU seconds of this process (all its
/// threads, user + system).
struct sample {
    double wall = 0;
    double cpu = 0;
    sample operator/(double d) const { return {wall / d, cpu / d}; }
};

/// Everything measured in this run, in the order it was measured.
class results {
  public:
    void add(std::string metric, std::string system, double value, std::string unit,
             std::optional<double> cpu_value = std::nullopt) {
        all_.push_back({std::move(metric), std::move(system), value, std::move(unit), cpu_value,
                        std::nullopt});
        const auto& m = all_.back();
        std::fprintf(stderr, "  %-16s %-40s %12.4g %s", m.metric.c_str(), m.system.c_str(), value,
                     m.unit.c_str());
        if (cpu_value) std::fprintf(stderr, "  (CPU time: %.4g)", *cpu_value);
        std::fprintf(stderr, "\n");
    }
    /// A figure measured with `threads` threads (several per metric and system).
    void add_threaded(std::string metric, std::string system, int threads, double value,
                      std::string unit) {
        all_.push_back(
            {std::move(metric), std::move(system), value, std::move(unit), std::nullopt, threads});
        const auto& m = all_.back();
        std::fprintf(stderr, "  %-16s %-30s threads %-2d %12.4g %s\n", m.metric.c_str(),
                     m.system.c_str(), threads, value, m.unit.c_str());
    }
    /// value = seconds x scale / ops (e.g. ns/op with scale 1e9).
    void add_per_op(std::string metric, std::string system, sample s, double ops, double scale,
                    std::string unit) {
        add(std::move(metric), std::move(system), s.wall * scale / ops, std::move(unit),
            s.cpu * scale / ops);
    }
    /// value = amount / seconds (e.g. MB/s with amount in MB).
    void add_rate(std::string metric, std::string system, sample s, double amount,
                  std::string unit) {
        add(std::move(metric), std::move(system), amount / s.wall, std::move(unit), amount / s.cpu);
    }
    std::optional<double> find_cpu(std::string_view metric, std::string_view system) const {
        for (const auto& m : all_)
            if (m.metric == metric && m.system == system) return m.cpu_value;
        return std::nullopt;
    }
    std::optional<double> find(std::string_view metric, std::string_view system,
                               std::optional<int> threads = std::nullopt) const {
        for (const auto& m : all_)
            if (m.metric == metric && m.system == system && (!threads || m.threads == threads))
                return m.value;
        return std::nullopt;
    }
    const std::vector<measurement>& all() const { return all_; }

  private:
    std::vector<measurement> all_;
};

/// Notes printed under the tables (settings and facts that a figure depends on).
struct notes {
    std::vector<std::string> lines;
    void add(std::string s) { lines.push_back(std::move(s)); }
};

// ---- timing -------------------------------------------------------------------------------------

using clock = std::chrono::steady_clock;

inline double seconds_since(clock::time_point t0) {
    return std::chrono::duration<double>(clock::now() - t0).count();
}

/// CPU seconds used so far by this process (all threads, user + system).
inline double cpu_seconds() {
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

/// Wall-clock and CPU seconds taken by f().
template <class F>
sample time_once(F&& f) {
    const double c0 = cpu_seconds();
    const auto t0 = clock::now();
    f();
    const double wall = seconds_since(t0);
    return {wall, cpu_seconds() - c0};
}

inline double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/// The medians over `reps` runs of f(rep), which returns the sample it timed itself (so that it
/// can leave set-up and tear-down out of the timed part). Wall and CPU medians are taken apart.
template <class F>
sample median_of(int reps, F&& f) {
    std::vector<double> wall, cpu;
    for (int r = 0; r < reps; ++r) {
        const sample s = f(r);
        wall.push_back(s.wall);
        cpu.push_back(s.cpu);
    }
    return {median(std::move(wall)), median(std::move(cpu))};
}

/// Reads every byte of [p, p + n) (the "touch" of a get): a value the optimizer cannot drop.
inline std::uint64_t touch(const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    std::uint64_t acc = n;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, b + i, 8);
        acc ^= w + (acc << 6);
    }
    for (; i < n; ++i) acc += b[i];
    return acc;
}

/// Keeps a value alive past the optimizer.
inline void keep(std::uint64_t v) {
    static volatile std::uint64_t sink;
    sink = sink + v;
}

// ---- data ---------------------------------------------------------------------------------------

/// The benchmark's data: the corpus (or, in a smoke run, generated bytes).
struct corpus {
    std::vector<std::byte> data;
    std::string origin;  ///< where it came from, for the report
};

inline std::uint64_t splitmix64(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/// The small-value data set: n distinct 16-byte keys (hex of a bijective hash of i, so in random
/// order with respect to key order), 100-byte values sliced from the corpus at pseudo-random
/// offsets, and a random permutation that orders the gets.
struct small_data {
    static constexpr std::size_t key_size = 16;
    static constexpr std::size_t value_size = 100;

    std::vector<std::array<char, key_size>> keys;
    std::vector<std::uint32_t> value_at;   ///< offset of value i in the corpus
    std::vector<std::uint32_t> get_order;  ///< a permutation of 0..n-1
    const std::byte* corpus = nullptr;

    std::size_t size() const { return keys.size(); }
    std::string_view key(std::size_t i) const { return {keys[i].data(), key_size}; }
    std::span<const std::byte> value(std::size_t i) const {
        return {corpus + value_at[i], value_size};
    }
    std::string_view value_chars(std::size_t i) const {
        return {reinterpret_cast<const char*>(corpus + value_at[i]), value_size};
    }
};

small_data make_small_data(std::size_t n, const corpus& c);

// ---- temporary names ----------------------------------------------------------------------------

/// Registers a clean-up step (removing a shared memory store, a segment, a directory) to run when
/// the run ends, however it ends (normal exit, exception, SIGINT/SIGTERM). Steps must be
/// idempotent: cleanup_now() runs them all, latest first, and may run more than once.
void at_exit(std::function<void()> step);
void cleanup_now();

/// Heap bytes in use (glibc mallinfo2: small blocks + mmapped blocks).
std::uint64_t heap_in_use();
/// Growth of heap_in_use() since `before` (0 when it shrank).
inline std::uint64_t heap_growth(std::uint64_t before) {
    const std::uint64_t now = heap_in_use();
    return now > before ? now - before : 0;
}
/// /proc/loadavg's three load averages.
std::string load_average();

// ---- the phases ---------------------------------------------------------------------------------

void run_small_mmry(const config&, const small_data&, results&, notes&);
void run_small_peers(const config&, const small_data&, results&, notes&);
void run_codec(const config&, const corpus&, results&, notes&);
void run_range(const config&, const corpus&, results&, notes&);
void run_open(const config&, const corpus&, results&, notes&);
void run_read_scaling(const config&, const small_data&, results&, notes&);
void run_put_under_reads(const config&, const small_data&, results&, notes&);
void run_fold(const config&, const corpus&, results&, notes&);
void run_backup(const config&, const corpus&, results&, notes&);
// The copy-on-write page layer (include/mmry/detail/pages/), not yet behind basic_store: a preview.
void run_small_pages(const config&, const small_data&, results&, notes&);
void run_recovery(const config&, const small_data&, results&, notes&);
void run_durable(const config&, const small_data&, results&, notes&);

/// Library versions of the peers linked in (for the report).
std::vector<std::pair<std::string, std::string>> peer_versions();

}  // namespace mmry_bench
