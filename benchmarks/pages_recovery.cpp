// recovery_ms on the copy-on-write page layer (a preview of the core; basic_store does not use it
// yet): a page_store<file_backend> (durability none, 64 MiB segments) with a hash_index at meta
// word 0, filled with config::recovery_bytes of 100-byte values (16-byte keys, 10,000 puts per
// transaction; not timed). Each repetition:
// 1. a writer process opens the store and commits one put per transaction; in its 50th commit,
//    after it has written its free lists and before it publishes its meta (fault point
//    pages.lists_done: holding the writer lock, in the middle of a put), it tells the parent,
//    which SIGKILLs it;
// 2. the next process opens the store and completes its first write transaction (one put,
//    committed): the time from the open to the commit returning is the figure.
// The page cache is warm (the store was just written); the figure is the median over repetitions.

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

#include <mmry/detail/fault.hpp>
#include <mmry/detail/pages/hash_index.hpp>
#include <mmry/detail/pages/page_store.hpp>

#include "bench.hpp"

namespace mmry_bench {
namespace {

namespace pg = mmry::detail::pages;
using store = pg::page_store<pg::file_backend>;
const pg::hash_index index_at(0);
constexpr std::uint64_t seed = 0x6d6d72792d62656eull;

/// Key i as the small-value data set makes it (hex of a bijective hash of i).
std::string key_of(std::uint64_t i) {
    char hex[small_data::key_size + 1];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(splitmix64(i)));
    return {hex, small_data::key_size};
}

int killed_fd = -1;  // the writer child's end of its pipe to the parent
int commits_seen = 0;
void stop_in_put(std::string_view point) {
    if (point != "pages.lists_done" || ++commits_seen < 50) return;
    [[maybe_unused]] const auto n = ::write(killed_fd, "k", 1);
    for (;;) ::pause();  // until the parent's SIGKILL
}

/// Reads exactly n bytes from fd, waiting at most `seconds`; false on timeout or end of file.
bool read_for(int fd, void* out, std::size_t n, int seconds) {
    auto* p = static_cast<char*>(out);
    while (n > 0) {
        pollfd pfd{fd, POLLIN, 0};
        if (::poll(&pfd, 1, seconds * 1000) <= 0) return false;
        const auto got = ::read(fd, p, n);
        if (got <= 0) return false;
        p += got, n -= static_cast<std::size_t>(got);
    }
    return true;
}

/// Runs child(fd) in a new process that writes its answer to fd; returns the parent's end.
template <class F>
std::pair<pid_t, int> spawn(F&& child) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("recovery_ms: pipe failed");
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("recovery_ms: fork failed");
    if (pid == 0) {
        ::close(fds[0]);
        int status = 0;
        try {
            child(fds[1]);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "recovery_ms child: %s\n", e.what());
            status = 1;
        }
        ::_exit(status);
    }
    ::close(fds[1]);
    return {pid, fds[0]};
}

void reap(pid_t pid, int fd, bool kill_it) {
    if (kill_it) ::kill(pid, SIGKILL);
    ::close(fd);
    int status = 0;
    ::waitpid(pid, &status, 0);
}

}  // namespace

void run_recovery(const config& cfg, const small_data& d, results& res, notes& nt) {
    const std::string system = "mmry-pages/mapped_file";
    if (!cfg.mmry_filter.empty() && system.find(cfg.mmry_filter) == std::string::npos) return;
    const std::uint64_t entries = std::max<std::uint64_t>(cfg.recovery_bytes / 100, 1000);
    std::fprintf(stderr, "[recovery] %s, %llu entries\n", system.c_str(),
                 static_cast<unsigned long long>(entries));
    const std::string dir = cfg.work_dir + "/recovery";
    const std::string name = dir + "/store";
    const auto value = [&](std::uint64_t i) {
        return d.value(static_cast<std::size_t>(i % d.size()));
    };

    pg::page_stats built;
    const sample build = time_once([&] {
        store s(pg::create, name);
        for (std::uint64_t i = 0; i < entries;) {
            auto w = s.write();
            for (const std::uint64_t end = std::min(entries, i + 10'000); i < end; ++i)
                index_at.put(w, key_of(i), value(i), seed);
            w.commit();
        }
        built = s.stats();
    });

    std::uint64_t next = entries;  // keys of the puts after the build
    std::vector<double> ms;
    std::uint64_t recovered = 0;
    for (int rep = 0; rep < cfg.reps; ++rep) {
        const std::uint64_t first = next;
        next += 100;
        auto [writer, wfd] = spawn([&](int fd) {
            store s(pg::open, name);
            killed_fd = fd;
            mmry::detail::fault_hook = stop_in_put;
            for (std::uint64_t i = first;; ++i) {
                auto w = s.write();
                index_at.put(w, key_of(i), value(i), seed);
                w.commit();
            }
        });
        char k = 0;
        const bool stopped = read_for(wfd, &k, 1, 60);
        reap(writer, wfd, true);
        if (!stopped) throw std::runtime_error("recovery_ms: the writer never reached its put");

        struct answer {
            double ms;
            std::uint64_t recoveries;
        } a{};
        auto [next_proc, nfd] = spawn([&](int fd) {
            const auto t0 = clock::now();
            store s(pg::open, name);
            {
                auto w = s.write();
                index_at.put(w, key_of(first + 99), value(first + 99), seed);
                w.commit();
            }
            const answer out{seconds_since(t0) * 1e3, s.stats().recoveries};
            if (::write(fd, &out, sizeof out) != static_cast<ssize_t>(sizeof out)) ::_exit(1);
        });
        const bool answered = read_for(nfd, &a, sizeof a, 60);
        reap(next_proc, nfd, !answered);
        if (!answered) throw std::runtime_error("recovery_ms: the next process did not answer");
        ms.push_back(a.ms);
        recovered = a.recoveries;
    }
    res.add("recovery_ms", system, median(ms), "ms");

    char line[600];
    std::snprintf(line, sizeof line,
                  "recovery_ms: %s, page_store<file_backend> (durability none) holding %llu "
                  "100-byte values (%.0f MiB of values, --recovery-mib; the issue's target is for "
                  "1 GiB), %llu pages (%.0f MiB), built in %.1f s; a writer SIGKILLed holding the "
                  "lock in the middle of a put (fault point pages.lists_done of its 50th commit), "
                  "then the next process's open + first write transaction (one put) timed; page "
                  "cache warm; %llu recoveries counted by the store over %d kills; median of %d",
                  system.c_str(), static_cast<unsigned long long>(entries),
                  double(entries * 100) / 1048576, static_cast<unsigned long long>(built.pages),
                  double(built.pages * pg::page_size) / 1048576, build.wall,
                  static_cast<unsigned long long>(recovered), cfg.reps, cfg.reps);
    nt.add(line);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
}

}  // namespace mmry_bench
