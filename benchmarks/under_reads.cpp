// put_under_reads: the latency of small puts (each its own commit) on a shared-memory store
// while two other processes read large values of it in a loop, against the same puts with no
// reader. Readers pin the state they read and never take the writer's lock, so what a reader
// costs a writer is the machine it shares, not a wait.

#include <poll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include <mmry/arena/shared_memory.hpp>
#include <mmry/cipher/none.hpp>
#include <mmry/compress/none.hpp>
#include <mmry/index/hashed.hpp>
#include <mmry/store.hpp>

#include "bench.hpp"

namespace mmry_bench {
namespace {

struct plain : mmry::default_traits {
    using arena = mmry::arena::shared_memory;
    using index = mmry::index::hashed;
    using compressor = mmry::compress::none;
    using cipher = mmry::cipher::none;
};
using store = mmry::basic_store<plain>;

constexpr int big_values = 2;
constexpr int reader_count = 2;

struct latencies {
    double p50 = 0, p99 = 0;
};

latencies percentiles(std::vector<double> ns) {
    std::sort(ns.begin(), ns.end());
    auto at = [&](double q) { return ns[static_cast<std::size_t>(q * double(ns.size() - 1))]; };
    return {at(0.50), at(0.99)};
}

double thread_cpu_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}

// `puts` puts of 100-byte values, each timed alone: wall-clock and this thread's CPU time (ns).
// A put that waited (for a lock, or for a core) shows it in the first and not in the second.
std::pair<latencies, latencies> timed_puts(store& s, const small_data& d, std::size_t puts,
                                           std::size_t from) {
    std::vector<double> wall, cpu;
    wall.reserve(puts);
    cpu.reserve(puts);
    for (std::size_t k = 0; k < puts; ++k) {
        const std::size_t i = (from + k) % d.size();
        const double c0 = thread_cpu_ns();
        const auto t0 = clock::now();
        s.put(d.key(i), d.value(i));
        wall.push_back(std::chrono::duration<double, std::nano>(clock::now() - t0).count());
        cpu.push_back(thread_cpu_ns() - c0);
    }
    return {percentiles(std::move(wall)), percentiles(std::move(cpu))};
}

// Reader processes that get the big values in turn until `stop` is readable; each writes one
// byte to `ready` after its first get, and exits 0 after the loop (its gets counted in `gets`).
std::vector<pid_t> start_readers(const std::string& name, int ready, int stop, int gets) {
    std::vector<pid_t> pids;
    for (int p = 0; p < reader_count; ++p) {
        const pid_t pid = ::fork();
        if (pid < 0) throw std::runtime_error("fork failed");
        if (pid > 0) {
            pids.push_back(pid);
            continue;
        }
        int status = 0;
        try {
            auto s = store::open(name, mmry::options{.cache_bytes = 0});
            std::uint64_t acc = 0, n = 0;
            for (int k = 0;; ++k) {
                const auto v = s.get("big/" + std::to_string((k + p) % big_values));
                if (!v) throw std::runtime_error("a big value is missing");
                acc += touch(v->data(), v->size());
                if (n++ == 0 && ::write(ready, "r", 1) != 1) ::_exit(3);
                pollfd f{stop, POLLIN, 0};
                if (::poll(&f, 1, 0) > 0) break;
            }
            keep(acc);
            if (::write(gets, &n, sizeof n) != sizeof n) status = 3;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "reader %d: %s\n", p, e.what());
            status = 2;
        }
        ::_exit(status);
    }
    return pids;
}

}  // namespace

void run_put_under_reads(const config& cfg, const small_data& d, results& res, notes& nt) {
    const std::size_t big = cfg.smoke ? std::size_t{1} << 20 : std::size_t{64} << 20;
    const std::size_t puts = cfg.smoke ? 500 : 20000;
    std::fprintf(stderr, "[under_reads] %zu puts, alone and beside %d readers of %zu MiB values\n",
                 puts, reader_count, big >> 20);
    const std::string name = cfg.shm_prefix + "-under-reads";
    store::remove(name);
    at_exit([name] { store::remove(name); });
    mmry::options opts;
    opts.capacity = std::size_t{256} << 20;
    opts.cache_bytes = 0;
    auto s = store::create(name, opts);
    {
        std::vector<std::byte> value(big);
        for (std::size_t i = 0; i < big; ++i)
            value[i] = static_cast<std::byte>(i * 2654435761u >> 24);
        for (int k = 0; k < big_values; ++k) s.put("big/" + std::to_string(k), value);
    }
    std::vector<double> alone_p50, alone_p99, read_p50, read_p99, alone_cpu99, read_cpu99;
    std::uint64_t reader_gets = 0;
    for (int rep = 0; rep < cfg.reps; ++rep) {
        const auto [alone, alone_cpu] = timed_puts(s, d, puts, 0);
        int ready[2], stop[2], gets[2];
        if (::pipe(ready) != 0 || ::pipe(stop) != 0 || ::pipe(gets) != 0)
            throw std::runtime_error("pipe failed");
        const auto pids = start_readers(name, ready[1], stop[0], gets[1]);
        for (int p = 0; p < reader_count; ++p) {
            char c = 0;
            if (::read(ready[0], &c, 1) != 1) throw std::runtime_error("a reader did not start");
        }
        const auto [beside, beside_cpu] = timed_puts(s, d, puts, puts);
        if (::write(stop[1], "s", 1) != 1) throw std::runtime_error("cannot stop the readers");
        bool ok = true;
        for (const pid_t pid : pids) {
            int status = 0;
            ::waitpid(pid, &status, 0);
            ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
        }
        for (int p = 0; p < reader_count && ok; ++p) {
            std::uint64_t n = 0;
            ok = ::read(gets[0], &n, sizeof n) == sizeof n;
            reader_gets += n;
        }
        for (int fd : {ready[0], ready[1], stop[0], stop[1], gets[0], gets[1]}) ::close(fd);
        if (!ok) throw std::runtime_error("put_under_reads: a reader process failed");
        alone_p50.push_back(alone.p50);
        alone_p99.push_back(alone.p99);
        read_p50.push_back(beside.p50);
        read_p99.push_back(beside.p99);
        alone_cpu99.push_back(alone_cpu.p99);
        read_cpu99.push_back(beside_cpu.p99);
    }
    const double ratio = median(read_p99) / median(alone_p99);
    const double cpu_ratio = median(read_cpu99) / median(alone_cpu99);
    res.add("put_under_reads", "mmry/shared_memory/hashed", ratio, "x", cpu_ratio);
    char line[900];
    std::snprintf(line, sizeof line,
                  "put_under_reads: %zu puts of 100-byte values (each a commit) per repetition, "
                  "alone, then while %d reader processes get %zu MiB values in a loop (%llu gets "
                  "over all repetitions); medians over repetitions: alone p50 %.0f ns, p99 %.0f "
                  "ns; beside the readers p50 %.0f ns, p99 %.0f ns; ratio = p99 beside ÷ p99 "
                  "alone. The writer thread's CPU time per put, p99: alone %.0f ns, beside the "
                  "readers %.0f ns (a put that waits for a lock or a core shows it in wall time "
                  "only: with %d readers and one writer on this machine's cores, they share them)",
                  puts, reader_count, big >> 20, static_cast<unsigned long long>(reader_gets),
                  median(alone_p50), median(alone_p99), median(read_p50), median(read_p99),
                  median(alone_cpu99), median(read_cpu99), reader_count);
    nt.add(line);
}

}  // namespace mmry_bench
