#pragma once
// The durable file of a mapped-file page store (durability above `none`): two 4 KiB slots, each
// the meta of a transaction whose pages were on disk before the slot was written. A flush writes
// the slot that does not hold the newer state, then fdatasync: a power cut during the write
// leaves the other slot, and a torn slot fails its checksum. After a reboot the store opens at
// the newer valid slot (the mapped meta pages may hold later commits whose pages never reached
// the disk).
//
// Written only under the store's flusher mutex. Throws mmry::error: errc::io_error,
// errc::not_found (open of a missing file).

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

#include <mmry/detail/fault.hpp>
#include <mmry/detail/file_io.hpp>
#include <mmry/detail/pages/page_format.hpp>
#include <mmry/error.hpp>

namespace mmry {
inline namespace v1 {
namespace detail::pages {

class durable_file {
  public:
    durable_file() = default;
    /// `mode`: the permissions a created file gets (the store's, whatever the umask).
    durable_file(std::string path, bool create, unsigned mode = 0600) : path_(std::move(path)) {
        fd_ = open_store_file(path_, create, mode);
    }
    ~durable_file() {
        if (fd_ >= 0) ::close(fd_);
    }
    durable_file(durable_file&& o) noexcept : path_(std::move(o.path_)), fd_(o.fd_) { o.fd_ = -1; }
    durable_file& operator=(durable_file&& o) noexcept {
        std::swap(path_, o.path_);
        std::swap(fd_, o.fd_);
        return *this;
    }

    bool active() const noexcept { return fd_ >= 0; }

    /// The newer valid slot, or none.
    std::optional<meta> latest() const {
        std::optional<meta> best;
        for (int slot = 0; slot < 2; ++slot)
            if (auto m = read(slot); m && (!best || m->txn > best->txn)) best = m;
        return best;
    }

    /// Writes m to disk, in the slot that does not hold the newer state.
    void write(const meta& m) {
        const auto a = read(0), b = read(1);
        const int slot = !a ? 0 : !b ? 1 : a->txn < b->txn ? 0 : 1;
        std::byte page[page_size]{};
        std::memcpy(page, &m, sizeof m);
        if (::pwrite(fd_, page, page_size, static_cast<off_t>(slot * page_size)) !=
            static_cast<ssize_t>(page_size))
            fail("writing");
        fault_point("pages.flush_written");
        if (::fdatasync(fd_) != 0) fail("flushing");
    }

  private:
    std::optional<meta> read(int slot) const {
        meta m;
        if (::pread(fd_, &m, sizeof m, static_cast<off_t>(slot * page_size)) !=
            static_cast<ssize_t>(sizeof m))
            return std::nullopt;
        if (m.txn == 0 || m.magic != meta_magic || m.sum != m.compute_sum() ||
            m.head_sum != m.compute_head_sum() || !m.bounded() || m.high_water < first_data_page)
            return std::nullopt;
        return m;
    }
    [[noreturn]] void fail(const char* what) const { io_failure(what, path_); }

    std::string path_;
    int fd_ = -1;
};

}  // namespace detail::pages
}  // namespace v1
}  // namespace mmry
