// The files behind a shared store's segments, when they are not what the store left: truncated,
// garbled, unreadable to the opener, on a file system that fills up, or carried across a reboot
// with lock words that name owners of the old boot. Each case ends in an mmry::error that names
// the file, or in the store serving its last commit, in bounded time: never a hang, a SIGBUS or
// a store served half changed.
//
// Cases that could hang run in a forked child under alarm(); a child reports through its exit
// code. The full-file-system cases mount a small tmpfs in a private mount namespace of the child
// (root only; elsewhere they say that they were skipped).

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <thread>

#include <mmry/arena/mapped_file.hpp>
#include <mmry/arena/shared_memory.hpp>
#include <mmry/detail/pages/page_format.hpp>
#include <mmry/detail/process_id.hpp>

#include "shared_support.hpp"
#include "support.hpp"

using mmry::errc;
using mmry_test::file;
using mmry_test::in_child;
using mmry_test::is_error;
using mmry_test::numbered;
using mmry_test::place;
using mmry_test::random_bytes;
using mmry_test::raw_traits;
using mmry_test::shm;
using steady = std::chrono::steady_clock;

namespace {

constexpr int skipped = 77;

/// Runs f in a child that dies by SIGALRM after `seconds`: a hang is a failure, not a stall.
int bounded(unsigned seconds, const std::function<int()>& f) {
    return in_child([&] {
        ::alarm(seconds);
        return f();
    });
}

/// 0 when f throws an mmry::error with code `code` whose message holds `text`, within 5 s.
template <class F>
int expect_error(errc code, const std::string& text, F&& f) {
    const auto t0 = steady::now();
    try {
        f();
        std::fprintf(stderr, "no error (wanted '%s')\n", text.c_str());
        return 1;
    } catch (const mmry::error& e) {
        if (e.code() != code || std::string(e.what()).find(text) == std::string::npos) {
            std::fprintf(stderr, "unexpected error: %s\n", e.what());
            return 2;
        }
    }
    return steady::now() - t0 < std::chrono::seconds(5) ? 0 : 3;
}

void resize(const std::string& path, off_t size) {
    REQUIRE(::truncate(path.c_str(), size) == 0);
}

void write_at(const std::string& path, off_t offset, const void* data, std::size_t n) {
    const int fd = ::open(path.c_str(), O_WRONLY);
    REQUIRE(fd >= 0);
    REQUIRE(::pwrite(fd, data, n, offset) == static_cast<ssize_t>(n));
    ::close(fd);
}

std::uint64_t size_of(const std::string& path) {
    return std::filesystem::file_size(path);
}

/// Changes segment 0's control block in place, as a crash or another boot would have left it.
template <class Arena, class F>
void edit_control(const place<Arena>& at, F&& edit) {
    const int fd = ::open(at.segment_path(0).c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    void* p = ::mmap(nullptr, 5 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    REQUIRE(p != MAP_FAILED);
    edit(*static_cast<mmry::detail::pages::control_block*>(p));
    ::munmap(p, 5 * 4096);
}

/// Makes the writer mutex name thread `tid` as its owner, as a crashed or other-boot owner would.
inline void own_writer(mmry::detail::pages::control_block& c, int tid) {
    auto* raw = reinterpret_cast<pthread_mutex_t*>(&c.writer);
    raw->__data.__lock = tid;
    raw->__data.__owner = tid;
}

/// Leaves reader slot k pinned at an old state by process `pid` (start time `start`).
inline void leave_pin(mmry::detail::pages::control_block& c, unsigned k, std::uint32_t pid,
                      std::uint64_t start);

/// Reader pin slot k of segment 0.
inline mmry::detail::pages::pin_slot& pin_of(mmry::detail::pages::control_block& c, unsigned k) {
    auto* base = reinterpret_cast<std::byte*>(&c);
    return reinterpret_cast<mmry::detail::pages::pin_slot*>(
        base + mmry::detail::pages::slot_pages_first * 4096)[k];
}

inline void leave_pin(mmry::detail::pages::control_block& c, unsigned k, std::uint32_t pid,
                      std::uint64_t start) {
    pin_of(c, k).pid = pid;
    pin_of(c, k).start = start;
    pin_of(c, k).pin = 2;
    c.slots_high_water = std::max(c.slots_high_water.load(), k + 1);
}

}  // namespace

TEMPLATE_TEST_CASE("segment files: a truncated segment 0 is refused at open, in bounded time",
                   "[segment_files][truncated]", shm, file) {
    using S = mmry::basic_store<raw_traits<TestType>>;
    place<TestType> at;
    {
        auto s = S::create(at.name(), {.capacity = 1 << 20});
        for (int i = 0; i < 50; ++i) s.put(numbered("k/", i), random_bytes(300, i));
    }
    const std::string seg0 = at.segment_path(0);
    const auto full = static_cast<off_t>(size_of(seg0));

    SECTION("to half its size") {
        resize(seg0, full / 2);
        CHECK(bounded(20, [&] {
                  return expect_error(errc::corrupt, "the store's segments are",
                                      [&] { S::open(at.name()); });
              }) == 0);
    }
    SECTION("to one page") {
        resize(seg0, 4096);
        CHECK(bounded(20, [&] {
                  return expect_error(errc::corrupt, "the store's segments are",
                                      [&] { S::open(at.name()); });
              }) == 0);
    }
    SECTION("to less than a page") {
        resize(seg0, 100);
        CHECK(bounded(20, [&] {
                  return expect_error(errc::corrupt, "shorter than a store header",
                                      [&] { S::open(at.name()); });
              }) == 0);
    }
    SECTION("to nothing: refused after the grace period a creator at work gets") {
        resize(seg0, 0);
        CHECK(bounded(20, [&] {
                  return expect_error(errc::corrupt, "shorter than a store header",
                                      [&] { S::open(at.name()); });
              }) == 0);
    }
    SECTION("with a first word that is not the page store's magic") {
        const std::uint32_t garbage = 0xdeadbeef;
        write_at(seg0, 0, &garbage, sizeof garbage);
        CHECK(bounded(20, [&] {
                  return expect_error(errc::corrupt,
                                      "does not start with a valid page store header",
                                      [&] { S::open(at.name()); });
              }) == 0);
    }
    SECTION("with its ready word clear (a creator that died)") {
        const std::uint32_t not_ready = 0;
        write_at(seg0, offsetof(mmry::detail::pages::control_block, ready), &not_ready,
                 sizeof not_ready);
        CHECK(bounded(20, [&] {
                  return expect_error(errc::corrupt, "a store whose creator never finished",
                                      [&] { S::open(at.name()); });
              }) == 0);
    }
}

TEMPLATE_TEST_CASE(
    "segment files: a later segment truncated fails the reads that need it, and "
    "holds no lock",
    "[segment_files][truncated]", shm, file) {
    using S = mmry::basic_store<raw_traits<TestType>>;
    place<TestType> at;
    const int keys = 40;
    {
        auto s = S::create(at.name(), {.capacity = 64 * 1024});
        for (int i = 0; i < keys; ++i) s.put(numbered("k/", i), random_bytes(8000, i));
        REQUIRE(s.stats().arena.segments >= 3);
    }
    resize(at.segment_path(1), 0);

    CHECK(bounded(30, [&] {
              auto s = S::open(at.name());
              int failed = 0;
              for (int i = 0; i < keys; ++i) {
                  try {
                      if (s.get(numbered("k/", i)) != random_bytes(8000, i)) return 10;
                  } catch (const mmry::error& e) {
                      const std::string what = e.what();
                      if (what.find("segment") == std::string::npos) return 11;
                      ++failed;
                  }
              }
              if (failed == 0) return 12;
              // The failed reads left no reader slot taken: another process can still write (or
              // is refused with an error), and does not wait.
              const int writer = in_child([&] {
                  auto t = S::open(at.name());
                  try {
                      t.put("after", "value");
                  } catch (const mmry::error&) {
                  }
                  return 0;
              });
              return writer == 0 ? 0 : 13;
          }) == 0);
}

TEMPLATE_TEST_CASE("segment files: a store the opener may not read is an mmry::error naming it",
                   "[segment_files][permissions]", shm, file) {
    using S = mmry::basic_store<raw_traits<TestType>>;
    if (::geteuid() != 0) {
        WARN("skipped: needs root to open the store as another user");
        return;
    }
    place<TestType> at;
    S::create(at.name(), {.capacity = 1 << 20}).put("k", "v");
    CHECK(bounded(20, [&] {
              if (::setegid(65534) != 0 || ::seteuid(65534) != 0) return skipped;
              return expect_error(errc::io_error, "Permission denied", [&] { S::open(at.name()); });
          }) == 0);
}

namespace {

/// In a child with a private mount namespace, mounts a tmpfs of `bytes` at `where` and runs f.
int with_small_file_system(const std::string& where, std::size_t bytes,
                           const std::function<int()>& f) {
    return bounded(60, [&] {
        if (::unshare(CLONE_NEWNS) != 0) return skipped;
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return skipped;
        const std::string size = "size=" + std::to_string(bytes);
        if (::mount("tmpfs", where.c_str(), "tmpfs", 0, size.c_str()) != 0) return skipped;
        return f();
    });
}

}  // namespace

TEMPLATE_TEST_CASE(
    "segment files: a full file system fails the put that needs a new segment, "
    "and the store keeps every value",
    "[segment_files][full]", shm, file) {
    using S = mmry::basic_store<raw_traits<TestType>>;
    constexpr bool files = std::is_same_v<TestType, file>;
    // A mapped-file store in a directory of its own, on the small file system; a shared-memory
    // store in /dev/shm, which the child's namespace replaces with the small file system.
    std::string dir;
    if constexpr (files) {
        dir = "/tmp/mmry-full-" + std::to_string(::getpid()) + "-XXXXXX";
        REQUIRE(::mkdtemp(dir.data()) != nullptr);
    }
    const std::string mount_at = files ? dir : "/dev/shm";
    const int code = with_small_file_system(mount_at, 2 << 20, [&] {
        const std::string name = files ? dir + "/store" : "mmry-full-" + std::to_string(::getpid());
        auto s = S::create(name, {.capacity = 256 * 1024});
        std::map<std::string, mmry::bytes> kept;
        for (int i = 0;; ++i) {
            const auto key = numbered("k/", i);
            const auto value = random_bytes(20000, i);
            try {
                s.put(key, value);
                kept[key] = value;
            } catch (const mmry::error& e) {
                const std::string what = e.what();
                if (e.code() != errc::io_error) return 20;
                if (what.find("No space left on device") == std::string::npos) return 21;
                if (what.find("segment") == std::string::npos) return 22;
                if (s.contains(key)) return 23;
                break;
            }
            if (i > 1000) return 24;  // the file system never filled up
        }
        if (kept.size() < 10) return 25;
        for (const auto& [k, v] : kept)
            if (s.get(k) != v) return 26;
        // The store still works: space freed by an erase serves the next put.
        s.erase(kept.begin()->first);
        s.put("after", random_bytes(1000, 1));
        if (s.get("after") != random_bytes(1000, 1)) return 27;
        if (s.size() != kept.size()) return 28;
        // No scratch file or half-made segment is left behind.
        if constexpr (files) {
            for (const auto& e : std::filesystem::directory_iterator(name))
                if (e.path().extension() != ".mmry") return 29;
        }
        S::remove(name);
        return 0;
    });
    if (!dir.empty()) std::filesystem::remove_all(dir);
    if (code == skipped) {
        WARN("skipped: cannot mount a small tmpfs here (needs root and mount namespaces)");
        return;
    }
    CHECK(code == 0);
}

TEMPLATE_TEST_CASE(
    "segment files: after a reboot, lock words of the old boot are reset and the store serves "
    "its last commit",
    "[segment_files][reboot]", shm, file) {
    using S = mmry::basic_store<raw_traits<TestType>>;
    place<TestType> at;
    {
        auto s = S::create(at.name(), {.capacity = 1 << 20});
        for (int i = 0; i < 20; ++i) s.put(numbered("k/", i), random_bytes(100, i));
    }
    edit_control(at, [](auto& c) {
        c.boot_id_hash ^= 1;  // another boot
        // A writer of the old boot held the mutex (a thread id the kernel never marks dead)...
        own_writer(c, 4242);
        // ...and a reader of the old boot pinned an old state.
        leave_pin(c, 5, 999998, 0);
    });
    CHECK(bounded(20, [&] {
              const auto t0 = steady::now();
              auto s = S::open(at.name());
              for (int i = 0; i < 20; ++i)
                  if (s.get(numbered("k/", i)) != random_bytes(100, i)) return 1;
              s.put("k/new", "v");
              if (s.size() != 21) return 2;
              if (s.stats().readers.reading != 0) return 3;
              return steady::now() - t0 < std::chrono::seconds(5) ? 0 : 4;
          }) == 0);
}

TEMPLATE_TEST_CASE(
    "segment files: a copy of a store whose writer and reader are alive opens in bounded time, "
    "serves its last commit and takes writes",
    "[segment_files][copy]", shm, file) {
    using S = mmry::basic_store<raw_traits<TestType>>;
    place<TestType> original, copy;
    {
        auto s = S::create(original.name(), {.capacity = 1 << 20});
        for (int i = 0; i < 20; ++i) s.put(numbered("k/", i), random_bytes(100, i));
    }
    // As cp finds a live store: its writer (this thread, alive all along) holds the mutex, and a
    // reader (this process) pins a state.
    edit_control(original, [](auto& c) {
        own_writer(c, static_cast<int>(::gettid()));
        leave_pin(c, 5, static_cast<std::uint32_t>(::getpid()),
                  mmry::detail::process_id::start_time(static_cast<std::uint32_t>(::getpid())));
    });
    if constexpr (place<TestType>::files) std::filesystem::create_directory(copy.name());
    for (unsigned k = 0; k < original.segment_paths().size(); ++k)
        std::filesystem::copy_file(original.segment_path(k), copy.segment_path(k));
    // Two openers at once: one resets the copy's lock words, the other finds them reset.
    const auto open_and_write = [&](int id) {
        return bounded(20, [&] {
            auto s = S::open(copy.name());
            for (int i = 0; i < 20; ++i)
                if (s.get(numbered("k/", i)) != random_bytes(100, i)) return 1;
            s.put(numbered("new/", id), "v");
            return 0;
        });
    };
    int first = -1;
    std::thread other([&] { first = open_and_write(1); });
    const int second = open_and_write(2);
    other.join();
    CHECK(first == 0);
    CHECK(second == 0);
    CHECK(bounded(20, [&] {
              auto s = S::open(copy.name());
              if (s.size() != 22) return 1;
              return s.stats().readers.reading == 0 ? 0 : 2;  // the pin copied is gone
          }) == 0);
}

TEMPLATE_TEST_CASE(
    "segment files: lock words that name no live owner are taken back, in bounded "
    "time",
    "[segment_files][locks]", shm, file) {
    using S = mmry::basic_store<raw_traits<TestType>>;
    place<TestType> at;
    {
        auto s = S::create(at.name(), {.capacity = 1 << 20});
        for (int i = 0; i < 10; ++i) s.put(numbered("k/", i), random_bytes(100, i));
    }
    SECTION("a writer mutex owned by a thread id that cannot exist (above any pid_max)") {
        edit_control(at, [](auto& c) { own_writer(c, 0x3ffffff0); });
    }
    SECTION("a reader pin left by a process that is gone") {
        edit_control(at, [](auto& c) { leave_pin(c, 7, 999997, 12345); });
    }
    CHECK(bounded(20, [&] {
              const auto t0 = steady::now();
              auto s = S::open(at.name());
              s.put("k/new", "v");
              for (int i = 0; i < 10; ++i)
                  if (s.get(numbered("k/", i)) != random_bytes(100, i)) return 1;
              return steady::now() - t0 < std::chrono::seconds(5) ? 0 : 2;
          }) == 0);
}

TEMPLATE_TEST_CASE("segment files: erased and replaced values do not stay readable in the files",
                   "[segment_files][erase]", shm, file) {
    using S = mmry::basic_store<raw_traits<TestType>>;
    place<TestType> at;
    // Values that no compressor or cipher changes (raw_traits stores them as they are), each with
    // a marker of its own, small (one page) and large (a run of pages).
    const auto value_of = [](int i, std::size_t size) {
        std::string v(size, '.');
        const std::string marker = numbered("<<erased-value-", i) + ">>";
        for (std::size_t at = 0; at + marker.size() <= size; at += 4096)
            v.replace(at, marker.size(), marker);
        return v;
    };
    {
        auto s = S::create(at.name(), {.capacity = 1 << 20});
        for (int i = 0; i < 20; ++i) s.put(numbered("small/", i), value_of(i, 100));
        for (int i = 20; i < 40; ++i) s.put(numbered("large/", i), value_of(i, 40000));
        for (int i = 0; i < 20; ++i) s.erase(numbered("small/", i));
        for (int i = 20; i < 30; ++i) s.erase(numbered("large/", i));
        // Replaced: the old value's block is freed too.
        for (int i = 30; i < 40; ++i) s.put(numbered("large/", i), std::string(100, '#'));
        s.put("kept", value_of(99, 100));
        // The pages a write frees are zeroed once no reader can reach them: at the next write.
        s.put("one more", "write");
    }
    std::string all;
    for (const auto& path : at.segment_paths()) {
        std::ifstream in(path, std::ios::binary);
        all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    for (int i = 0; i < 40; ++i) {
        INFO("value " << i);
        CHECK(all.find(numbered("<<erased-value-", i) + ">>") == std::string::npos);
    }
    // The live value is there, as it is: the search would have found an erased one.
    CHECK(all.find("<<erased-value-99>>") != std::string::npos);
}

TEMPLATE_TEST_CASE(
    "segment files: a store of an earlier format is refused by version, naming the "
    "way across",
    "[segment_files][version]", shm, file) {
    using S = mmry::basic_store<raw_traits<TestType>>;
    place<TestType> at;
    // What a build before store format 6 left: segment 0 under its old name, nothing else.
    const std::string old = std::is_same_v<TestType, file> ? at.name() + "/segment-0000.mmry"
                                                           : "/dev/shm/mmry." + at.name() + ".0";
    if constexpr (std::is_same_v<TestType, file>) std::filesystem::create_directories(at.name());
    std::ofstream(old) << std::string(4096, 'x');
    CHECK_THROWS_MATCHES(S::open(at.name()), mmry::error,
                         is_error(errc::version_mismatch, "mmry dump"));
    std::filesystem::remove(old);
    CHECK_THROWS_MATCHES(S::open(at.name()), mmry::error, is_error(errc::not_found));
}
