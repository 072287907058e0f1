#pragma once
// Plain POSIX file handling for segments and the durable file: a closing guard, errno in words,
// and reserve(): a sparse file (or shared memory object) on a full file system raises SIGBUS at
// the page fault that finds no block, inside whatever the writer was doing; posix_fallocate
// makes a full file system an error when the segment is made, before anything points into it.
//
// Throws mmry::error: errc::io_error or errc::limit_exceeded, naming the file.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>

#include <mmry/detail/describe.hpp>
#include <mmry/error.hpp>

namespace mmry {
inline namespace v1 {
namespace detail {

/// Closes a descriptor on scope exit.
class fd_guard {
  public:
    explicit fd_guard(int fd) noexcept : fd_(fd) {}
    ~fd_guard() {
        if (fd_ >= 0) ::close(fd_);
    }
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    int get() const noexcept { return fd_; }

  private:
    int fd_;
};

inline std::string errno_text(int e) {
    return std::strerror(e);
}

/// The error of a failed system call on a store's file: errc::io_error, saying what was being
/// done, to which file, and errno's text. Call right after the failure (it reads errno).
[[noreturn]] inline void io_failure(const char* what, const std::string& path) {
    const int e = errno;
    throw error(errc::io_error, std::string(what) + " " + path + ": " + errno_text(e));
}

/// Boost.Interprocess's first word of a managed segment (managed_open_or_create_impl.hpp).
enum class segment_word : std::uint32_t { uninitialized = 0, initializing = 1, initialized = 2 };

/// Gives the file behind `fd` real blocks for its bytes from `from` up to `size` (errc::io_error,
/// e.g. "No space left on device", when the file system cannot).
inline void reserve(int fd, std::uint64_t size, const std::string& what, std::uint64_t from = 0) {
    int rc;
    do {
        rc = ::posix_fallocate(fd, static_cast<off_t>(from), static_cast<off_t>(size - from));
    } while (rc == EINTR);
    if (rc != 0)
        throw error(errc::io_error, "reserving " + std::to_string(size - from) + " bytes for " +
                                        what + ": " + errno_text(rc));
}

/// Opens (or with `create`, makes: errc::already_exists when it exists) a file of a store,
/// read-write, with permissions `mode` whatever the umask; returns its descriptor. Throws
/// errc::not_found for a missing file, errc::io_error otherwise, naming it.
inline int open_store_file(const std::string& path, bool create, unsigned mode) {
    const int fd =
        ::open(path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0), mode & 07777);
    if (fd < 0) {
        const int e = errno;
        throw error(e == ENOENT   ? errc::not_found
                    : e == EEXIST ? errc::already_exists
                                  : errc::io_error,
                    (e == ENOENT ? "no " : "opening ") + path + ": " + errno_text(e));
    }
    if (create && ::fchmod(fd, mode & 07777) != 0) {
        const int e = errno;
        ::close(fd);
        throw error(errc::io_error, "setting the mode of " + path + ": " + errno_text(e));
    }
    return fd;
}

}  // namespace detail
}  // namespace v1
}  // namespace mmry
