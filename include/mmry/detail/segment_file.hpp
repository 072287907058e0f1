#pragma once
// The file (or shared memory object) behind a segment, seen with plain POSIX calls before and
// after Boost.Interprocess maps it:
//
// - check_before_open: Boost's open_only spins for ever on a file of 0 bytes, and on one whose
//   first word does not say "initialized"; a file shorter than its segment manager claims raises
//   SIGBUS at the first touch past its end. These checks turn each into an error in bounded time.
// - reserve: a sparse file (or shared memory object) on a full file system raises SIGBUS at the
//   page fault that finds no block, inside whatever the writer was doing. posix_fallocate makes a
//   full file system an error when the segment is made, before anything points into it.
//
// Throws mmry::error: errc::not_found, errc::corrupt (naming the file, its size and what was
// expected), errc::needs_recovery (a segment whose creator never finished), errc::io_error.

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

/// Boost.Interprocess's first word of a managed segment (managed_open_or_create_impl.hpp).
enum class segment_word : std::uint32_t { uninitialized = 0, initializing = 1, initialized = 2 };

/// The smallest segment file Boost could have made: its first word and a segment manager.
inline constexpr std::uint64_t min_segment_file = 4096;

/// Checks the segment behind `fd` (opened for reading) before Boost maps it: not shorter than a
/// segment can be, and marked initialized by its creator. A creator still at work gets
/// `patience` to finish. `what` names the file or object in messages.
inline void check_before_open(int fd, const std::string& what,
                              std::chrono::milliseconds patience = std::chrono::seconds(2)) {
    const auto deadline = std::chrono::steady_clock::now() + patience;
    for (;;) {
        struct stat st {};
        if (::fstat(fd, &st) != 0) {
            const int e = errno;
            throw error(errc::io_error, "examining " + what + ": " + errno_text(e));
        }
        std::uint32_t word = 0;
        const bool sized = static_cast<std::uint64_t>(st.st_size) >= min_segment_file;
        if (sized && ::pread(fd, &word, sizeof word, 0) != static_cast<ssize_t>(sizeof word)) {
            const int e = errno;
            throw error(errc::io_error, "reading " + what + ": " + errno_text(e));
        }
        if (sized && word == static_cast<std::uint32_t>(segment_word::initialized)) return;
        const bool in_progress =
            st.st_size == 0 ||
            (sized && word <= static_cast<std::uint32_t>(segment_word::initializing));
        if (!in_progress) {
            if (!sized)
                throw error(errc::corrupt, what + " is " + std::to_string(st.st_size) +
                                               " bytes, shorter than any segment (" +
                                               std::to_string(min_segment_file) + "): truncated");
            throw error(errc::corrupt,
                        what + " does not start with an initialized segment (word " +
                            std::to_string(word) + ", expected " +
                            std::to_string(static_cast<std::uint32_t>(segment_word::initialized)) +
                            ")");
        }
        if (std::chrono::steady_clock::now() >= deadline)
            throw error(errc::needs_recovery,
                        what + " is " + std::to_string(st.st_size) +
                            " bytes and was never completely initialized (did its creator die, or "
                            "was it truncated?)");
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

/// Checks, after Boost has mapped it, that the file behind `fd` holds every byte of the segment
/// (`claimed`: what the segment manager says it manages, from its offset in the file).
inline void check_mapped_size(int fd, std::uint64_t claimed, const std::string& what) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int e = errno;
        throw error(errc::io_error, "examining " + what + ": " + errno_text(e));
    }
    if (static_cast<std::uint64_t>(st.st_size) < claimed)
        throw error(errc::corrupt, what + " is " + std::to_string(st.st_size) +
                                       " bytes but its segment manages " + std::to_string(claimed) +
                                       ": truncated");
}

/// Gives the file behind `fd` real blocks for its first `size` bytes (errc::io_error, e.g. "No
/// space left on device", when the file system cannot).
inline void reserve(int fd, std::uint64_t size, const std::string& what) {
    int rc;
    do {
        rc = ::posix_fallocate(fd, 0, static_cast<off_t>(size));
    } while (rc == EINTR);
    if (rc != 0)
        throw error(errc::io_error, "reserving " + std::to_string(size) + " bytes for " + what +
                                        ": " + errno_text(rc));
}

/// Reserves `size` bytes for a segment about to be made, before Boost touches any of its pages:
/// in a scratch file that `open_scratch` creates (returns its descriptor, or -1 with errno) and
/// `remove_scratch` removes, so that a full file system fails here and not with SIGBUS inside
/// Boost's construction. The segment's own file is reserved again once it exists (reserve()).
template <class Open, class Remove>
void reserve_ahead(std::uint64_t size, const std::string& what, Open&& open_scratch,
                   Remove&& remove_scratch) {
    int fd = open_scratch();
    if (fd < 0 && errno == EEXIST) {  // left by a creator that died here
        remove_scratch();
        fd = open_scratch();
    }
    if (fd < 0) {
        const int e = errno;
        throw error(errc::io_error, "reserving " + std::to_string(size) + " bytes for " + what +
                                        ": " + errno_text(e));
    }
    fd_guard guard(fd);
    try {
        reserve(fd, size, what);
    } catch (...) {
        remove_scratch();
        throw;
    }
    remove_scratch();
}

/// Creates a segment of `size` bytes with every byte of it reserved: `make()` is Boost's
/// create_only, `open_fd()` opens the file or object behind it, `remove()` removes it. The
/// space is reserved in `scratch` first (see reserve_ahead), then in the segment itself; when that
/// fails, the segment is unmapped and removed.
template <class Make, class OpenFd, class OpenScratch, class RemoveScratch, class Remove>
auto create_reserved(std::uint64_t size, const std::string& what, Make&& make, OpenFd&& open_fd,
                     OpenScratch&& open_scratch, RemoveScratch&& remove_scratch, Remove&& remove) {
    reserve_ahead(size, what, open_scratch, remove_scratch);
    auto m = make();
    try {
        fd_guard fd(open_fd());
        if (fd.get() < 0) {
            const int e = errno;
            throw error(errc::io_error, "reopening " + what + ": " + errno_text(e));
        }
        reserve(fd.get(), size, what);
    } catch (...) {
        m = decltype(m)();
        remove();
        throw;
    }
    return m;
}

/// Opens a segment, refusing in bounded time one that is missing (errc::not_found), not ours to
/// read (errc::io_error), truncated, garbled or never finished (see check_before_open): the
/// checks look through `open_fd()` (read-only), then `open()` is Boost's open_only.
template <class OpenFd, class Open>
auto open_checked(const std::string& what, std::chrono::milliseconds patience, OpenFd&& open_fd,
                  Open&& open) {
    fd_guard fd(open_fd());
    if (fd.get() < 0) {
        const int e = errno;
        throw error(e == ENOENT ? errc::not_found : errc::io_error,
                    (e == ENOENT ? "no " : "opening ") + what + ": " + errno_text(e));
    }
    check_before_open(fd.get(), what, patience);
    auto m = open();
    check_mapped_size(fd.get(), m.get_segment_manager()->get_size(), what);
    return m;
}

}  // namespace detail
}  // namespace v1
}  // namespace mmry
