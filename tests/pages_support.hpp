#pragma once
// Helpers of the tests of the page layer (test_pages, test_page_index): a unique place for a page
// store, options with small segments, and a check() result required clean.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <span>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <type_traits>

#include <catch2/catch.hpp>

#include <mmry/detail/pages/page_store.hpp>

namespace mmry_test {

namespace pg = mmry::detail::pages;

/// A unique name for a page store of Backend, removed (with its directory) at scope exit.
template <class Backend>
class page_place {
  public:
    page_place() {
        static int counter = 0;
        const std::string unique =
            "mmry-pages-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
        if constexpr (std::is_same_v<Backend, pg::file_backend>) {
            dir_ = (std::filesystem::temp_directory_path() / unique).string();
            name_ = dir_ + "/store";
        } else {
            name_ = unique;
        }
        // What a killed earlier run of the same pid left goes first: the names are only
        // unique among live processes.
        clear();
    }
    ~page_place() { clear(); }
    page_place(const page_place&) = delete;
    page_place& operator=(const page_place&) = delete;
    const std::string& name() const { return name_; }

  private:
    void clear() {
        if constexpr (Backend::named) pg::page_store<Backend>::remove(name_);
        std::error_code ec;
        if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
    }
    std::string dir_, name_;
};

/// Options with segments of `bytes`, so that tests cross segments soon.
inline pg::page_store_options segments_of(std::uint64_t bytes) {
    pg::page_store_options o;
    o.segment_bytes = bytes;
    return o;
}

/// Requires a check() that found nothing, showing the first problem otherwise.
inline void require_clean(const pg::page_check& c) {
    INFO((c.problems.empty() ? std::string() : c.problems.front()));
    REQUIRE(c.ok());
}

inline std::span<const std::byte> as_bytes(const std::string& s) {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
inline std::string as_string(std::span<const std::byte> b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

/// The whitebox crash loop. Each of `rounds` rounds has children apply the next two steps
/// (apply(store, step); meta word 0 says which step a state is at), killed with SIGKILL at
/// fault point 0, 1, 2, ... (sparser as the count grows) until one passes every point. After
/// each child the store is opened: it must hold a whole state between the last one and the
/// two steps after, which check(store, step) verifies, and take the next child's writes.
template <class Store, class Apply, class Check>
void kill_at_every_point(const std::string& name, int rounds, Apply&& apply, Check&& check) {
    static std::atomic<int> hits{0};
    static int kill_at = 0;
    std::uint64_t step = 0;
    for (int round = 0; round < rounds; ++round) {
        for (kill_at = 0;; kill_at += 1 + kill_at / 8) {
            const pid_t child = ::fork();
            if (child == 0) {
                hits = 0;
                mmry::detail::fault_hook = [](std::string_view) {
                    if (hits++ == kill_at) ::kill(::getpid(), SIGKILL);
                };
                try {
                    Store s(pg::open, name);
                    for (std::uint64_t k = 1; k <= 2; ++k) apply(s, step + k);
                } catch (...) {
                    ::_exit(3);
                }
                ::_exit(0);
            }
            int status = 0;
            REQUIRE(::waitpid(child, &status, 0) == child);
            Store s(pg::open, name);
            const auto now = s.read().word(0);
            INFO("round " << round << ", killed at point " << kill_at << ", state " << now);
            REQUIRE((now >= step && now <= step + 2));
            check(s, now);
            const auto before = step;
            step = now;
            if (WIFEXITED(status)) {
                REQUIRE(WEXITSTATUS(status) == 0);
                REQUIRE(now == before + 2);
                break;
            }
            REQUIRE(WIFSIGNALED(status));
        }
    }
}

/// A directory's files by name, with their bytes.
using files = std::map<std::string, std::string>;

inline files read_all(const std::string& dir) {
    files out;
    for (const auto& f : std::filesystem::directory_iterator(dir)) {
        std::ifstream in(f.path(), std::ios::binary);
        out[f.path().filename().string()] = {std::istreambuf_iterator<char>(in), {}};
    }
    return out;
}

/// Makes the next open of the store at `dir` take it for the first since a reboot.
inline void forget_boot(const std::string& dir) {
    std::fstream f(dir + "/pages-0000.mmry", std::ios::in | std::ios::out | std::ios::binary);
    const std::uint64_t none = 0;
    f.seekp(offsetof(pg::control_block, boot_id_hash));
    f.write(reinterpret_cast<const char*>(&none), sizeof none);
}

/// A simulated power cut of the store at `dir`, whose files were `flushed` at its last flush:
/// every page is found on disk either as it was then or as it is now, each at random (the kernel
/// writes dirty pages back when it likes); files made since may be missing.
template <class Rng>
void cut_power(const std::string& dir, const files& flushed, Rng& rng) {
    const files now = read_all(dir);
    for (const auto& [name, bytes] : now) {
        const auto old = flushed.find(name);
        if (old == flushed.end() && rng() % 2 == 0) {
            std::filesystem::remove(dir + "/" + name);
            continue;
        }
        std::string mixed = bytes;
        for (std::size_t at = 0; at < mixed.size(); at += pg::page_size)
            if (rng() % 2 == 0) {
                if (old != flushed.end() && at < old->second.size())
                    mixed.replace(at, pg::page_size, old->second, at, pg::page_size);
                else
                    std::fill_n(mixed.begin() + static_cast<std::ptrdiff_t>(at),
                                std::min(pg::page_size, mixed.size() - at), '\0');
            }
        std::ofstream(dir + "/" + name, std::ios::binary | std::ios::trunc) << mixed;
    }
}

}  // namespace mmry_test
