#pragma once
// Helpers of the tests of the page layer (test_pages, test_page_index): a unique place for a page
// store, options with small segments, and a check() result required clean.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <span>

#include <cstdint>
#include <filesystem>
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
    }
    ~page_place() {
        if constexpr (Backend::named) pg::page_store<Backend>::remove(name_);
        if (!dir_.empty()) std::filesystem::remove_all(dir_);
    }
    page_place(const page_place&) = delete;
    page_place& operator=(const page_place&) = delete;
    const std::string& name() const { return name_; }

  private:
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

}  // namespace mmry_test
