#pragma once
// The segments of a page store: fixed-size files (a mapped-file store), shared memory objects, or
// anonymous memory (a heap store, private to its process), mapped whole on first use.
//
// - A segment is made with every byte reserved (posix_fallocate) before anything points into it,
//   so a full file system is an error at growth, never a SIGBUS inside a commit.
// - A segment is opened only if it has exactly the size the store's creation header gives; a
//   missing, short or long one is an error naming the file.
// - A segment past the committed state's pages may be the leftover of a writer that died: the
//   next writer that needs it takes it over (never unlinks it: a process may have it mapped).
//
// Thread-safety: map() may run in any number of threads; make() needs the store's writer lock.

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>

#include <mmry/detail/describe.hpp>
#include <mmry/detail/file_io.hpp>
#include <mmry/detail/pages/page_format.hpp>
#include <mmry/error.hpp>

namespace mmry {
inline namespace v1 {
namespace detail::pages {

/// Segments as files in a directory: <dir>/pages-0000.mmry, ... Durable: sync() reaches the disk.
struct file_backend {
    static constexpr bool named = true;
    static constexpr bool durable = true;
    static std::string object(const std::string& store, std::uint32_t k) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "/pages-%04u.mmry", k);
        return store + buf;
    }
    static int open(const std::string& obj, int flags, unsigned mode) {
        return ::open(obj.c_str(), flags | O_CLOEXEC, mode);
    }
    static bool unlink(const std::string& obj) noexcept { return ::unlink(obj.c_str()) == 0; }
    /// The durable file: the last flushed metas (page_format.hpp).
    static std::string durable_object(const std::string& store) { return store + "/durable.mmry"; }
    static std::string journal_object(const std::string& store) { return store + "/journal.mmry"; }
    /// Makes the store's directory, with the store's mode and x where it has r (0600: 0700).
    static void prepare(const std::string& store, unsigned mode) {
        std::error_code ec;
        std::filesystem::create_directories(store, ec);
        if (ec)
            throw error(errc::io_error,
                        "creating the directory of store " + quote(store) + ": " + ec.message());
        const unsigned dir = (mode & 0777) | ((mode & 0444) >> 2);
        if (::chmod(store.c_str(), dir) != 0) {
            const int e = errno;
            throw error(errc::io_error, "setting the mode of the directory of store " +
                                            quote(store) + ": " + errno_text(e));
        }
    }
    /// Makes a file's creation durable: its directory entry is on disk once this returns.
    static void sync_directory(const std::string& store) {
        const int fd = ::open(store.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) return;
        fd_guard guard(fd);
        ::fsync(fd);
    }
};

/// Segments as POSIX shared memory objects: /<name>.p0000, ... Gone at reboot.
struct shm_backend {
    static constexpr bool named = true;
    static constexpr bool durable = false;
    static std::string object(const std::string& store, std::uint32_t k) {
        char buf[16];
        std::snprintf(buf, sizeof buf, ".p%04u", k);
        return "/" + store + buf;
    }
    static int open(const std::string& obj, int flags, unsigned mode) {
        return ::shm_open(obj.c_str(), flags | O_CLOEXEC, mode);
    }
    static bool unlink(const std::string& obj) noexcept { return ::shm_unlink(obj.c_str()) == 0; }
    static void prepare(const std::string&, unsigned) {}
    static void sync_directory(const std::string&) {}
};

/// Segments in anonymous memory: one process, no name, nothing to open again.
struct heap_backend {
    static constexpr bool named = false;
    static constexpr bool durable = false;
};

template <class Backend>
class segment_set {
  public:
    segment_set(std::string store, std::uint64_t segment_pages, unsigned mode)
        : store_(std::move(store)), bytes_(segment_pages * page_size), mode_(mode) {}
    ~segment_set() {
        for (auto& s : maps_)
            if (std::byte* p = s.load()) ::munmap(p, bytes_);
    }
    segment_set(const segment_set&) = delete;
    segment_set& operator=(const segment_set&) = delete;

    std::uint64_t segment_bytes() const noexcept { return bytes_; }
    const std::string& store() const noexcept { return store_; }

    /// Makes segment k ready for pages: creates it (or takes over a leftover of a writer that
    /// died, which no process has mapped while its size is wrong), sizes it, reserves its bytes
    /// and maps it. A segment once mapped is never replaced: other processes may have it mapped.
    /// `exclusive`: segment 0 of a new store, which must not exist. Throws
    /// errc::already_exists (exclusive, and it exists), errc::io_error or errc::limit_exceeded.
    std::byte* make(std::uint32_t k, bool exclusive) {
        check_index(k);
        if (std::byte* p = maps_[k].load(std::memory_order_acquire)) return p;
        if constexpr (!Backend::named) {
            void* p =
                ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) throw error(errc::limit_exceeded, "out of memory: " + what(k));
            return publish(k, static_cast<std::byte*>(p));
        } else {
            const std::string obj = Backend::object(store_, k);
            const int fd = Backend::open(obj, O_RDWR | O_CREAT | (exclusive ? O_EXCL : 0), mode_);
            if (fd < 0) {
                const int e = errno;
                throw error(e == EEXIST ? errc::already_exists : errc::io_error,
                            "creating " + what(k) + ": " + errno_text(e));
            }
            fd_guard guard(fd);
            try {
                // The mode asked for, whatever the umask (the store's, not the opener's).
                if (::fchmod(fd, mode_) != 0) io_failure("setting the mode of", what(k));
                struct stat st {};
                if (::fstat(fd, &st) != 0 || (static_cast<std::uint64_t>(st.st_size) != bytes_ &&
                                              ::ftruncate(fd, static_cast<off_t>(bytes_)) != 0))
                    io_failure("sizing", what(k));
                reserve(fd, bytes_, what(k));
                Backend::sync_directory(store_);
                return publish(k, map_fd(fd, k));
            } catch (...) {
                if (exclusive) Backend::unlink(obj);
                throw;
            }
        }
    }

    /// Segment k's bytes from page `from` on are to be used again (after give_back): its object
    /// gets its whole size and every byte reserved again. Throws errc::io_error (a full file
    /// system) and changes nothing the store reaches.
    void reserve_again(std::uint32_t k, std::uint64_t from) {
        check_index(k);
        if constexpr (Backend::named) {
            const int fd = Backend::open(Backend::object(store_, k), O_RDWR, 0);
            if (fd < 0) io_failure("opening", what(k));
            fd_guard guard(fd);
            struct stat st {};
            if (::fstat(fd, &st) != 0 || (static_cast<std::uint64_t>(st.st_size) != bytes_ &&
                                          ::ftruncate(fd, static_cast<off_t>(bytes_)) != 0))
                io_failure("sizing", what(k));
            reserve(fd, bytes_, what(k) + " again", from * page_size);
        }
    }

    /// Gives the bytes of the segments from page `first` on back to the system: the segments past
    /// it shrink to nothing, and the rest of the one it lies in becomes a hole (no memory, no
    /// disk; still the segment's size, so that every process's mapping stays valid). Nothing may
    /// reach those pages (the caller holds the writer lock, and no state or reader does).
    /// Returns the bytes given back (the blocks the objects held). Errors are ignored: what is
    /// not given back stays reserved, which is what it was.
    std::uint64_t give_back(std::uint64_t first) {
        const std::uint64_t sp = bytes_ / page_size;
        std::uint64_t freed = 0;
        for (std::uint64_t k = first / sp; k < max_segments; ++k) {
            const std::uint64_t from = k == first / sp ? first % sp : 0;
            if constexpr (!Backend::named) {
                std::byte* p = maps_[k].load(std::memory_order_acquire);
                if (!p) break;
                if (::madvise(p + from * page_size, bytes_ - from * page_size, MADV_DONTNEED) == 0)
                    freed += bytes_ - from * page_size;
            } else {
                const int fd = Backend::open(Backend::object(store_, k), O_RDWR, 0);
                if (fd < 0) break;
                fd_guard guard(fd);
                struct stat before {
                }, after{};
                if (::fstat(fd, &before) != 0) continue;
                if (from == 0)
                    (void)::ftruncate(fd, 0);
                else
                    (void)::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                                      static_cast<off_t>(from * page_size),
                                      static_cast<off_t>(bytes_ - from * page_size));
                if (::fstat(fd, &after) == 0 && after.st_blocks < before.st_blocks)
                    freed += static_cast<std::uint64_t>(before.st_blocks - after.st_blocks) * 512;
            }
        }
        return freed;
    }

    /// The bytes segment objects hold (blocks on disk or in memory; mapped bytes for the heap).
    std::uint64_t held_bytes() const {
        std::uint64_t n = 0;
        for (std::uint32_t k = 0; k < max_segments; ++k) {
            if constexpr (!Backend::named) {
                if (!maps_[k].load(std::memory_order_acquire)) break;
                n += bytes_;
            } else {
                struct stat st {};
                fd_guard fd(Backend::open(Backend::object(store_, k), O_RDONLY, 0));
                if (fd.get() < 0) break;
                if (::fstat(fd.get(), &st) == 0)
                    n += static_cast<std::uint64_t>(st.st_blocks) * 512;
            }
        }
        return n;
    }

    /// The mapping of segment k, mapping it on first use. Throws errc::not_found when it does
    /// not exist, errc::corrupt when its size is not the store's segment size.
    std::byte* map(std::uint32_t k) const {
        check_index(k);
        if (std::byte* p = maps_[k].load(std::memory_order_acquire)) return p;
        if constexpr (!Backend::named) {
            throw error(errc::corrupt, what(k) + " was never made");
        } else {
            std::lock_guard lock(mutex_);
            if (std::byte* p = maps_[k].load(std::memory_order_acquire)) return p;
            const int fd = Backend::open(Backend::object(store_, k), O_RDWR, 0);
            if (fd < 0) {
                const int e = errno;
                throw error(e == ENOENT ? errc::not_found : errc::io_error,
                            (e == ENOENT ? "no " : "opening ") + what(k) + ": " + errno_text(e));
            }
            fd_guard guard(fd);
            struct stat st {};
            if (::fstat(fd, &st) != 0) io_failure("examining", what(k));
            if (static_cast<std::uint64_t>(st.st_size) != bytes_)
                throw error(errc::corrupt, what(k) + " is " + std::to_string(st.st_size) +
                                               " bytes; the store's segments are " +
                                               std::to_string(bytes_) + " bytes");
            std::byte* p = map_fd(fd, k);
            maps_[k].store(p, std::memory_order_release);
            return p;
        }
    }

    /// What tells segment k's object from a copy of it (its device and inode: cp, a restore
    /// or a snapshot make another); 0 for the heap.
    std::uint64_t identity(std::uint32_t k) const {
        if constexpr (!Backend::named) {
            return 0;
        } else {
            fd_guard fd(Backend::open(Backend::object(store_, k), O_RDONLY, 0));
            struct stat st {};
            if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0) {
                const int e = errno;
                throw error(errc::io_error, "examining " + what(k) + ": " + errno_text(e));
            }
            const std::uint64_t words[2] = {static_cast<std::uint64_t>(st.st_dev),
                                            static_cast<std::uint64_t>(st.st_ino)};
            return hash64(std::string_view(reinterpret_cast<const char*>(words), sizeof words));
        }
    }

    /// Writes the byte range [offset, offset + n) of segment k to its file and waits for it.
    void sync(std::uint32_t k, std::uint64_t offset, std::uint64_t n) const {
        if constexpr (Backend::durable) {
            std::byte* base = map(k);
            const std::uint64_t first = offset / page_size * page_size;
            if (::msync(base + first, offset + n - first, MS_SYNC) != 0) {
                const int e = errno;
                throw error(errc::io_error, "writing " + what(k) + " to disk: " + errno_text(e));
            }
        }
    }

    /// Removes every segment of a named store; true when segment 0 existed.
    static bool remove(const std::string& store) {
        if constexpr (!Backend::named) {
            return false;
        } else {
            if constexpr (Backend::durable) {
                Backend::unlink(Backend::durable_object(store));
                Backend::unlink(Backend::journal_object(store));
            }
            const bool any = Backend::unlink(Backend::object(store, 0));
            for (std::uint32_t k = 1; k < max_segments; ++k)
                if (!Backend::unlink(Backend::object(store, k))) break;
            return any;
        }
    }

    std::string what(std::uint32_t k) const {
        return "segment " + std::to_string(k) + " of store " + quote(store_);
    }

  private:
    void check_index(std::uint32_t k) const {
        if (k >= max_segments)
            throw error(errc::corrupt, "store " + quote(store_) + ": segment " + std::to_string(k) +
                                           " is past the last possible one (" +
                                           std::to_string(max_segments - 1) + ")");
    }
    std::byte* map_fd(int fd, std::uint32_t k) const {
        void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            const int e = errno;
            throw error(errc::io_error, "mapping " + what(k) + ": " + errno_text(e));
        }
        return static_cast<std::byte*>(p);
    }
    std::byte* publish(std::uint32_t k, std::byte* p) {
        std::lock_guard lock(mutex_);
        std::byte* expected = nullptr;
        if (!maps_[k].compare_exchange_strong(expected, p, std::memory_order_acq_rel)) {
            ::munmap(p, bytes_);  // mapped meanwhile by a reader of this process
            return expected;
        }
        return p;
    }

    std::string store_;
    std::uint64_t bytes_;
    unsigned mode_;
    mutable std::mutex mutex_;
    mutable std::array<std::atomic<std::byte*>, max_segments> maps_{};
};

}  // namespace detail::pages
}  // namespace v1
}  // namespace mmry
