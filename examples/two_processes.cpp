// two_processes: one writer and three reader processes share one store in shared memory.
// The writer publishes versions of a few keys; each reader opens the store by name, reads while the
// writer writes, and checks every value it sees. Run: ./build/examples/two_processes
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include <mmry/arena/shared_memory.hpp>
#include <mmry/mmry.hpp>

using namespace mmry::literals;

struct shared_traits : mmry::default_traits {
    using arena = mmry::arena::shared_memory;  // named segments under /dev/shm, 0600
    using cipher = mmry::cipher::aes256_gcm;   // every process needs the key to read
};
using shared_store = mmry::basic_store<shared_traits>;

static std::string value_of(int key, int version) {
    return "key " + std::to_string(key) + " version " + std::to_string(version) + " " +
           std::string(1000 + key * 100, static_cast<char>('a' + version % 26));
}

constexpr int versions = 200;

static int reader(const std::string& name, const mmry::key& key) {
    auto s = shared_store::open(name, {.key = key});  // checks composition and key first
    long reads = 0;
    int latest[4] = {-1, -1, -1, -1};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    // Read until the writer's last version of every key has been seen.
    while (std::min({latest[0], latest[1], latest[2], latest[3]}) < versions - 1) {
        if (std::chrono::steady_clock::now() > deadline) return 2;
        for (int k = 0; k < 4; ++k) {
            auto v = s.get<std::string>("config/" + std::to_string(k));
            if (!v) continue;  // not written yet
            const int version = std::stoi(v->substr(v->find("version ") + 8));
            if (*v != value_of(k, version) || version < latest[k]) return 1;  // never torn or older
            latest[k] = version;
            ++reads;
        }
    }
    const auto st = s.stats();
    std::printf("reader %d: %ld reads, all exact and never older; cache: %llu hits, %llu misses\n",
                static_cast<int>(getpid()), reads, static_cast<unsigned long long>(st.cache.hits),
                static_cast<unsigned long long>(st.cache.misses));
    std::fflush(stdout);  // the child leaves with _exit, which does not flush
    return 0;
}

int main() {
    const std::string name = "mmry-example-" + std::to_string(getpid());
    const auto key = mmry::key::generate();  // in real use: key::from_passphrase or a key file
    auto s = shared_store::create(name, {.capacity = 16_MiB, .key = key});

    pid_t readers[3];
    for (auto& pid : readers) {
        pid = fork();
        if (pid == 0) _exit(reader(name, key));  // each child opens the store itself
    }
    for (int version = 0; version < versions; ++version)
        for (int k = 0; k < 4; ++k) s.put("config/" + std::to_string(k), value_of(k, version));

    int failed = 0;
    for (pid_t pid : readers) {
        int status = 0;
        waitpid(pid, &status, 0);
        failed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    const auto st = s.stats();
    std::printf(
        "writer: %llu puts, %llu keys, %llu logical bytes in %llu stored bytes (ratio %.2f), "
        "%zu segment(s)\n",
        static_cast<unsigned long long>(st.puts), static_cast<unsigned long long>(st.entries),
        static_cast<unsigned long long>(st.logical_bytes),
        static_cast<unsigned long long>(st.stored_bytes), st.ratio(), st.arena.segments);
    shared_store::remove(name);
    std::printf("%s\n", failed ? "a reader saw a wrong value" : "all readers saw exact values");
    return failed ? 1 : 0;
}
