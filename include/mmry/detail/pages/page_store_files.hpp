#pragma once
// What a page store reads and checks of its files before it maps them, and the little it needs
// of the system: the options checked, the creation header read with plain I/O, the permissions
// later segments take, the lock that makes openers after a reboot or a copy take turns, the boot
// id and random ids. Throws mmry::error (errc::invalid_argument, not_found, io_error, corrupt,
// version_mismatch), naming the store and the file.

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <span>
#include <string>
#include <thread>

#include <mmry/detail/describe.hpp>
#include <mmry/detail/file_io.hpp>
#include <mmry/detail/hash64.hpp>
#include <mmry/detail/pages/page_format.hpp>
#include <mmry/error.hpp>

namespace mmry {
inline namespace v1 {
namespace detail::pages {

/// How a page store is made (read at creation only; an opener takes the store's own).
struct page_store_options {
    std::uint64_t segment_bytes = 64ull << 20;  // a multiple of 4 KiB, at least 64 KiB
    std::uint64_t max_bytes = 0;                // 0: as many segments as the format allows
    unsigned mode = 0600;
    /// Fixed at creation (page_format.hpp says what each level promises).
    durability level = durability::none;
    std::chrono::milliseconds interval{1000};  // of durability::periodic
    /// Of durability::sync: the journal's bytes past which a commit takes a checkpoint (writes
    /// the segments back and starts the journal again).
    std::uint64_t journal_bytes = 64ull << 20;
    /// Bytes (at most user_header_size) written into page 0 before the store is ready, so that
    /// an opener sees them whole or not at all (the store's composition and key check).
    std::span<const std::byte> header{};
};

/// Checks a creator's segment size and limit; returns the pages of a segment.
inline std::uint64_t check_options(const page_store_options& o) {
    if (o.segment_bytes % page_size != 0 || o.segment_bytes < 64 * 1024 ||
        o.segment_bytes > (1ull << 40))
        throw error(errc::invalid_argument,
                    "segment size " + std::to_string(o.segment_bytes) +
                        " is not a multiple of 4096 between 64 KiB and 1 TiB");
    if (o.max_bytes != 0 && o.max_bytes < o.segment_bytes)
        throw error(errc::invalid_argument, "max_size " + std::to_string(o.max_bytes) +
                                                " is below the segment size " +
                                                std::to_string(o.segment_bytes));
    return o.segment_bytes / page_size;
}

/// The creation header of a named store, read with plain I/O before anything is mapped (its
// segment size says how much to map). A creator still at work gets two seconds.
template <class Backend>
creation_header read_header(const std::string& name) {
    if constexpr (!Backend::named) {
        throw error(errc::not_found, "a heap store cannot be opened again: " + quote(name));
    } else {
        const std::string obj = Backend::object(name, 0);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        for (;;) {
            const int fd = Backend::open(obj, O_RDONLY, 0);
            if (fd < 0) {
                const int e = errno;
                throw error(e == ENOENT ? errc::not_found : errc::io_error,
                            "store " + quote(name) + ": " + (e == ENOENT ? "no " : "opening ") +
                                obj + ": " + errno_text(e));
            }
            fd_guard guard(fd);
            alignas(8) std::array<std::byte, sizeof(control_block)> raw{};
            const auto got = ::pread(fd, raw.data(), raw.size(), 0);
            creation_header h;
            std::memcpy(&h, raw.data(), sizeof h);
            std::uint32_t ready = 0;
            std::memcpy(&ready, raw.data() + offsetof(control_block, ready), sizeof ready);
            if (got == static_cast<ssize_t>(raw.size()) && ready == 1) {
                if (h.magic != control_magic || h.sum != h.compute_sum())
                    throw error(errc::corrupt,
                                "store " + quote(name) + ": " + obj +
                                    " does not start with a valid page store header");
                if (h.format != format_version || h.page_bytes != page_size)
                    throw error(errc::version_mismatch,
                                "store " + quote(name) + " has page store format " +
                                    std::to_string(h.format) + " with " +
                                    std::to_string(h.page_bytes) +
                                    "-byte pages; this build reads format " +
                                    std::to_string(format_version) + " with 4096-byte pages");
                if (h.segment_pages < 16 || h.segment_pages > (1ull << 28) ||
                    h.max_pages < h.segment_pages || h.max_pages > max_segments * h.segment_pages)
                    throw error(errc::corrupt,
                                "store " + quote(name) + ": its header gives segments of " +
                                    std::to_string(h.segment_pages) + " pages and a limit of " +
                                    std::to_string(h.max_pages));
                return h;
            }
            if (std::chrono::steady_clock::now() >= deadline)
                throw error(errc::corrupt, "store " + quote(name) + ": " + obj + " is " +
                                               (got < static_cast<ssize_t>(raw.size())
                                                    ? "shorter than a store header"
                                                    : "a store whose creator never finished"));
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }
}

/// The permissions of segment 0: the ones later segments get, whoever makes them.
template <class Backend>
unsigned mode_of(const std::string& name) {
    if constexpr (!Backend::named) {
        return 0600;
    } else {
        const int fd = Backend::open(Backend::object(name, 0), O_RDONLY, 0);
        if (fd < 0) return 0600;
        fd_guard guard(fd);
        struct stat st {};
        return ::fstat(fd, &st) == 0 ? static_cast<unsigned>(st.st_mode & 07777) : 0600;
    }
}

/// An flock on segment 0's object while it lives (none for the heap).
template <class Backend>
class exclusive_open {
  public:
    explicit exclusive_open(const std::string& name) : fd_(segment_zero(name)) {
        if (fd_.get() >= 0) ::flock(fd_.get(), LOCK_EX);
    }

  private:
    static int segment_zero(const std::string& name) {
        if constexpr (Backend::named)
            return Backend::open(Backend::object(name, 0), O_RDONLY, 0);
        else
            return -1;
    }
    fd_guard fd_;  // closing it releases the lock
};
/// A hash of this boot's id: a store whose control block holds another was last opened before
/// a reboot.
inline std::uint64_t boot_id_hash() {
    std::ifstream in("/proc/sys/kernel/random/boot_id");
    std::string id;
    std::getline(in, id);
    return hash64(id);
}
/// 16 random bytes (a store's id).
inline std::array<std::uint8_t, 16> random_id() {
    std::array<std::uint8_t, 16> id{};
    std::ifstream in("/dev/urandom", std::ios::binary);
    in.read(reinterpret_cast<char*>(id.data()), id.size());
    const auto t = std::chrono::steady_clock::now().time_since_epoch().count();
    for (std::size_t i = 0; i < 8; ++i) id[i] ^= static_cast<std::uint8_t>(t >> (8 * i));
    return id;
}

}  // namespace detail::pages
}  // namespace v1
}  // namespace mmry
