// mmry-bench: mmry side by side with std::unordered_map, boost::unordered_map in shared memory,
// LMDB, RocksDB, the raw zstd + AES-256-GCM pipeline and memcpy, in one run, on one corpus.
// Prints a markdown report to stdout (progress goes to stderr) and, with --json FILE, one JSON
// object per measurement (JSON Lines). See docs/BENCHMARKS.md.

#include <malloc.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <cryptopp/cryptlib.h>
#include <zstd.h>
#include <boost/version.hpp>

#include <mmry/version.hpp>

#include "bench.hpp"
#include "report.hpp"

#ifndef MMRY_BENCH_CORPUS_SCRIPT
#define MMRY_BENCH_CORPUS_SCRIPT ""
#endif
#ifndef MMRY_BENCH_BUILD_TYPE
#define MMRY_BENCH_BUILD_TYPE "unknown"
#endif

namespace mmry_bench {

// ---- clean-up -----------------------------------------------------------------------------------

namespace {
std::vector<std::function<void()>>& exit_steps() {
    static std::vector<std::function<void()>> steps;
    return steps;
}
pid_t owner_pid = 0;  // only the process that registered the steps runs them

void on_signal(int sig) {
    cleanup_now();
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}
}  // namespace

void at_exit(std::function<void()> step) {
    exit_steps().push_back(std::move(step));
}

void cleanup_now() {
    if (::getpid() != owner_pid) return;
    auto& steps = exit_steps();
    while (!steps.empty()) {
        auto step = std::move(steps.back());
        steps.pop_back();
        try {
            step();
        } catch (...) {
        }
    }
}

std::uint64_t heap_in_use() {
    const struct mallinfo2 mi = ::mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

std::string load_average() {
    std::ifstream in("/proc/loadavg");
    std::string a, b, c;
    in >> a >> b >> c;
    return a + " " + b + " " + c;
}

// ---- data ---------------------------------------------------------------------------------------

small_data make_small_data(std::size_t n, const corpus& c) {
    small_data d;
    d.corpus = c.data.data();
    d.keys.resize(n);
    d.value_at.resize(n);
    const std::size_t span = c.data.size() - small_data::value_size;
    for (std::size_t i = 0; i < n; ++i) {
        // splitmix64 is a bijection: distinct i give distinct keys.
        char hex[small_data::key_size + 1];
        std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(splitmix64(i)));
        std::memcpy(d.keys[i].data(), hex, small_data::key_size);
        d.value_at[i] = static_cast<std::uint32_t>(splitmix64(i ^ 0x5bd1e995u) % span);
    }
    d.get_order.resize(n);
    std::iota(d.get_order.begin(), d.get_order.end(), 0u);
    std::shuffle(d.get_order.begin(), d.get_order.end(), std::mt19937_64(42));
    return d;
}

namespace {

/// Bytes that resemble the corpus's mix, for a smoke run: text-like runs (compressible) and
/// random runs (not), in 64 KiB pieces.
corpus generated_corpus(std::size_t size) {
    corpus c;
    c.origin = "generated (" + std::to_string(size >> 20) +
               " MiB of mixed text-like and random "
               "bytes; smoke run)";
    c.data.resize(size);
    std::mt19937_64 gen(7);
    const char* words[] = {"the ",     "store ",    "value ", "frame ",  "key ",
                           "segment ", "index ",    "int ",   "return ", "const ",
                           "struct ",  "#include ", "\n",     "= ",      "{ "};
    for (std::size_t at = 0; at < size;) {
        const std::size_t end = std::min(size, at + 65536);
        const bool text = (at / 65536) % 4 != 3;
        while (at < end) {
            if (text) {
                const char* w = words[gen() % std::size(words)];
                for (; *w && at < end; ++w) c.data[at++] = static_cast<std::byte>(*w);
            } else {
                c.data[at++] = static_cast<std::byte>(gen() >> 56);
            }
        }
    }
    return c;
}

corpus load_corpus(const std::string& path, std::size_t max_bytes) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read corpus " + path);
    corpus c;
    c.data.resize(static_cast<std::size_t>(std::filesystem::file_size(path)));
    if (max_bytes != 0 && c.data.size() > max_bytes) c.data.resize(max_bytes);
    in.read(reinterpret_cast<char*>(c.data.data()), static_cast<std::streamsize>(c.data.size()));
    if (static_cast<std::size_t>(in.gcount()) != c.data.size())
        throw std::runtime_error("short read of corpus " + path);
    c.origin = path + " (" + std::to_string(c.data.size()) + " bytes)";
    return c;
}

corpus get_corpus(const std::string& path, bool explicit_path, bool smoke) {
    if (smoke) {
        // A smoke run never builds the corpus: the first 4 MiB of one that was named, or
        // generated bytes.
        if (explicit_path && std::filesystem::exists(path)) return load_corpus(path, 4u << 20);
        return generated_corpus(4u << 20);
    }
    if (!std::filesystem::exists(path)) {
        std::string script = MMRY_BENCH_CORPUS_SCRIPT;
        if (const char* s = std::getenv("MMRY_CORPUS_SCRIPT")) script = s;
        if (script.empty() || !std::filesystem::exists(script))
            throw std::runtime_error("corpus " + path +
                                     " is missing and the script that makes "
                                     "it was not found (" +
                                     script +
                                     "); set MMRY_CORPUS_SCRIPT "
                                     "or give --corpus");
        std::fprintf(stderr, "[corpus] %s is missing: running %s\n", path.c_str(), script.c_str());
        const std::string cmd = "bash '" + script + "' '" + path + "' >&2";
        if (std::system(cmd.c_str()) != 0 || !std::filesystem::exists(path))
            throw std::runtime_error("the corpus script failed: " + cmd);
    }
    return load_corpus(path, 0);
}

// ---- the machine
// ----------------------------------------------------------------------------------

std::vector<std::pair<std::string, std::string>> machine() {
    std::vector<std::pair<std::string, std::string>> m;
    std::string model, flags;
    {
        std::ifstream in("/proc/cpuinfo");
        for (std::string line; std::getline(in, line);) {
            auto value = [&] {
                const auto colon = line.find(':');
                return colon == std::string::npos ? std::string() : line.substr(colon + 2);
            };
            if (model.empty() && line.rfind("model name", 0) == 0) model = value();
            if (flags.empty() && line.rfind("flags", 0) == 0) flags = " " + value() + " ";
        }
    }
    std::string have;
    for (const char* f :
         {"aes", "vaes", "pclmulqdq", "sha_ni", "sse4_2", "avx2", "avx512f", "bmi2", "hypervisor"})
        if (flags.find(std::string(" ").append(f).append(" ")) != std::string::npos) {
            if (!have.empty()) have.append(" ");
            have.append(f);
        }
    std::string mem;
    {
        std::ifstream in("/proc/meminfo");
        std::string line;
        if (std::getline(in, line)) mem = line.substr(line.find(':') + 1);
        mem.erase(0, mem.find_first_not_of(' '));
    }
    struct utsname u {};
    ::uname(&u);
    m.emplace_back("cores", std::to_string(std::thread::hardware_concurrency()));
    m.emplace_back("cpu", model);
    m.emplace_back("cpu flags (of interest)", have);
    m.emplace_back("memory", mem);
    m.emplace_back("kernel", std::string(u.sysname) + " " + u.release);
    m.emplace_back("compiler", std::string("g++ ") + __VERSION__ + ", " + MMRY_BENCH_BUILD_TYPE);
    return m;
}

std::vector<std::pair<std::string, std::string>> versions() {
    std::vector<std::pair<std::string, std::string>> v;
    v.emplace_back("mmry", MMRY_VERSION_STRING);
    v.emplace_back("zstd", ZSTD_versionString());
    const int cp = CryptoPP::LibraryVersion();
    v.emplace_back("Crypto++", std::to_string(cp / 100) + "." + std::to_string(cp / 10 % 10) + "." +
                                   std::to_string(cp % 10));
    std::string boost = BOOST_LIB_VERSION;
    for (auto& ch : boost)
        if (ch == '_') ch = '.';
    v.emplace_back("Boost", boost);
    for (auto& p : peer_versions()) v.push_back(std::move(p));
    return v;
}

void usage() {
    std::puts(
        "usage: mmry-bench [--corpus PATH] [--json FILE] [--smoke] [--n N] [--reps R]\n"
        "                  [--only PHASE,...] [--mmry FILTER] [--durable-seconds S]\n"
        "                  [--recovery-mib M]\n"
        "  --corpus PATH  the 64 MiB corpus (default $MMRY_CORPUS or /tmp/mmry-corpus.bin);\n"
        "                 built with make-corpus.sh when missing ($MMRY_CORPUS_SCRIPT or the\n"
        "                 path found at configure time)\n"
        "  --json FILE    also write JSON Lines, one object per measurement\n"
        "  --smoke        tiny sizes (N = 2000 unless MMRY_BENCH_N, 4 MiB of data, 16 MiB stores)\n"
        "  --n N          keys of the small-value test (default $MMRY_BENCH_N or 1000000); below\n"
        "                 1000000 it also scales the fold test down (N / 1000000 of its versions\n"
        "                 and text, at least 5 versions of 64 KiB)\n"
        "  --reps R       repetitions per figure, median taken (default 3, at least 3)\n"
        "  --only LIST    phases: small,scaling,under_reads,pages,recovery,peers,durable,codec,\n"
        "                 range,open,fold,backup (default all)\n"
        "  --mmry FILTER  only the mmry compositions whose name contains FILTER\n"
        "  --durable-seconds S  how long each repetition of durable_put commits (default 1;\n"
        "                 smoke 0.03)\n"
        "  --recovery-mib M  MiB of 100-byte values in the store of recovery_ms (default\n"
        "                 $MMRY_BENCH_RECOVERY_MIB or 64; smoke 1; the issue's figure is 1024)");
}

}  // namespace
}  // namespace mmry_bench

int main(int argc, char** argv) {
    using namespace mmry_bench;
    owner_pid = ::getpid();
    config cfg;
    std::string corpus_path = "/tmp/mmry-corpus.bin", json_path, command = "mmry-bench";
    bool explicit_corpus = false, explicit_n = false;
    if (const char* p = std::getenv("MMRY_CORPUS")) corpus_path = p, explicit_corpus = true;
    if (const char* n = std::getenv("MMRY_BENCH_N")) cfg.n = std::stoull(n), explicit_n = true;
    bool explicit_recovery = false, explicit_durable = false;
    if (const char* m = std::getenv("MMRY_BENCH_RECOVERY_MIB"))
        cfg.recovery_bytes = std::stoull(m) << 20, explicit_recovery = true;
    try {
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            command.append(" ").append(a);
            auto next = [&]() -> std::string {
                if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
                command.append(" ").append(argv[i + 1]);
                return argv[++i];
            };
            if (a == "--corpus")
                corpus_path = next(), explicit_corpus = true;
            else if (a == "--json")
                json_path = next();
            else if (a == "--smoke")
                cfg.smoke = true;
            else if (a == "--n")
                cfg.n = std::stoull(next()), explicit_n = true;
            else if (a == "--reps")
                cfg.reps = std::max(3, std::stoi(next()));
            else if (a == "--mmry")
                cfg.mmry_filter = next();
            else if (a == "--durable-seconds")
                cfg.durable_seconds = std::stod(next()), explicit_durable = true;
            else if (a == "--recovery-mib")
                cfg.recovery_bytes = std::stoull(next()) << 20, explicit_recovery = true;
            else if (a == "--only") {
                std::stringstream list(next());
                for (std::string p; std::getline(list, p, ',');) cfg.only.push_back(p);
            } else if (a == "--help" || a == "-h") {
                usage();
                return 0;
            } else {
                throw std::runtime_error("unknown argument " + a);
            }
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "mmry-bench: %s\n", e.what());
        usage();
        return 2;
    }
    if (cfg.smoke) {
        if (!explicit_n) cfg.n = 2000;
        cfg.open_bytes = std::size_t{16} << 20;
        cfg.scaling_seconds = 0.1;
        if (!explicit_durable) cfg.durable_seconds = 0.03;
        if (!explicit_recovery) cfg.recovery_bytes = std::size_t{1} << 20;
    }
    cfg.n = std::max<std::size_t>(cfg.n, 100);

    const char* tmp = std::getenv("TMPDIR");
    const std::string pid = std::to_string(::getpid());
    cfg.work_dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/mmry-bench." + pid;
    cfg.shm_prefix = "mmry-bench-" + pid;
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    int status = 0;
    try {
        std::filesystem::create_directories(cfg.work_dir);
        at_exit([dir = cfg.work_dir] {
            std::error_code ec;
            std::filesystem::remove_all(dir, ec);
        });

        const std::string load_before = load_average();
        const auto t0 = clock::now();
        const corpus c = get_corpus(corpus_path, explicit_corpus, cfg.smoke);
        const small_data d = make_small_data(cfg.n, c);
        results res;
        notes nt;
        std::string phases = "phases (wall-clock s):";
        auto phase = [&](const char* name, auto&& run) {
            if (!cfg.runs(name)) return;
            const auto p0 = clock::now();
            run();
            char b[64];
            std::snprintf(b, sizeof b, " %s %.1f;", name, seconds_since(p0));
            phases += b;
        };
        phase("small", [&] { run_small_mmry(cfg, d, res, nt); });
        // Before the peers: RocksDB leaves background threads behind, and the readers fork.
        phase("scaling", [&] { run_read_scaling(cfg, d, res, nt); });
        phase("under_reads", [&] { run_put_under_reads(cfg, d, res, nt); });  // forks too
        phase("pages", [&] { run_small_pages(cfg, d, res, nt); });
        phase("recovery", [&] { run_recovery(cfg, d, res, nt); });  // forks: before the peers
        phase("peers", [&] { run_small_peers(cfg, d, res, nt); });
        phase("durable", [&] { run_durable(cfg, d, res, nt); });
        phase("codec", [&] { run_codec(cfg, c, res, nt); });
        phase("range", [&] { run_range(cfg, c, res, nt); });
        phase("open", [&] { run_open(cfg, c, res, nt); });
        phase("fold", [&] { run_fold(cfg, c, res, nt); });
        phase("backup", [&] { run_backup(cfg, c, res, nt); });
        nt.add(phases);
        const double total = seconds_since(t0);
        auto m = machine();
        m.emplace_back("load average (1, 5, 15 min) before / after the run",
                       load_before + " / " + load_average());

        report r{cfg, command, c.origin, std::move(m), versions(), res, nt, total};
        print_markdown(r, std::cout);
        if (!json_path.empty()) {
            std::ofstream out(json_path);
            write_json_lines(res, out);
            if (!out) throw std::runtime_error("cannot write " + json_path);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "mmry-bench: %s\n", e.what());
        status = 1;
    }
    cleanup_now();
    return status;
}
