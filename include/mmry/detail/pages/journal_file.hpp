#pragma once
// The journal of a mapped-file page store with durability::sync: a redo log of page images.
//
// A sync commit appends one entry, under the writer lock and before it publishes its meta: the
// pages it wrote and the meta itself, compressed. It returns once an fdatasync of the journal
// covers the entry; one fdatasync covers every entry appended before it (group commit), and it
// is the only flush a commit waits for. The segments reach the disk at checkpoints (the journal
// passing its limit, or a commit too large for it): msync of the segments written since the
// last one, the meta into the durable file, and the journal starts again at its first entry.
//
// After a power cut the store goes back to the durable file's state and replays the entries that
// follow it, in order, up to the last whole one. Pages that state or a replayed one reaches are
// never reused before the journal is on disk past the commit that freed them, so they are on disk
// as the checkpoint or an entry left them.
//
// File: a header page (magic, the store's id, page size, checksum), then entries, packed:
//   head  [magic u64][txn u64][pages u64][stored u64][raw u64][payload sum u64][head sum u64]
//   payload, `stored` bytes: a zstd frame of `raw` bytes, [page ids u64 × pages][pages × 4 KiB]
//   [the meta].
// An entry whose head or payload fails its checksum, or whose meta is not its commit's, ends
// the journal.
//
// Not thread-safe by itself: append under the store's writer lock, sync under its flusher lock.
// Throws mmry::error: errc::io_error, errc::not_found (a missing journal), errc::corrupt (a
// journal of another store, or a damaged header).

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <mmry/detail/fault.hpp>
#include <mmry/detail/file_io.hpp>
#include <mmry/detail/pages/page_format.hpp>
#include <mmry/error.hpp>

namespace mmry {
inline namespace v1 {
namespace detail::pages {

inline constexpr std::uint64_t journal_magic = 0x4c4e524a'59524d4dull;  // "MMRYJRNL"
inline constexpr std::uint64_t entry_magic = 0x544e454a'59524d4dull;    // "MMRYJENT"
/// Entries start after the header page.
inline constexpr std::uint64_t journal_start = page_size;

class journal_file {
  public:
    /// What replay() found.
    struct replayed {
        std::uint64_t applied = 0;  // entries replayed
        std::uint64_t dropped = 0;  // entries after the last good one (a damaged one counts)
        std::uint64_t last = 0;     // the last replayed commit (0: none)
    };

    journal_file() = default;
    /// Creates the journal (its header written and on disk), or opens it and checks that it is
    /// this store's.
    /// `mode`: the permissions a created journal gets (the store's, whatever the umask).
    journal_file(std::string path, bool create, const std::array<std::uint8_t, 16>& store_id,
                 unsigned mode = 0600)
        : path_(std::move(path)) {
        fd_ = open_store_file(path_, create, mode);
        head h{};
        if (create) {
            h.id = store_id;
            h.sum = checksum(&h, offsetof(head, sum));
            std::byte page[page_size]{};
            std::memcpy(page, &h, sizeof h);
            if (::pwrite(fd_, page, page_size, 0) != static_cast<ssize_t>(page_size) ||
                ::fdatasync(fd_) != 0)
                fail("writing");
            return;
        }
        if (::pread(fd_, &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h) ||
            h.magic != journal_magic || h.sum != checksum(&h, offsetof(head, sum)) ||
            h.page_bytes != page_size)
            throw error(errc::corrupt, path_ +
                                           ": not a journal of an mmry store (its header page "
                                           "fails its checks)");
        if (h.id != store_id)
            throw error(errc::corrupt, path_ +
                                           ": the journal of another store (its store id is "
                                           "not this store's)");
    }
    ~journal_file() {
        if (fd_ >= 0) ::close(fd_);
        if (cctx_) ZSTD_freeCCtx(cctx_);
    }
    journal_file(journal_file&& o) noexcept { swap(o); }
    journal_file& operator=(journal_file&& o) noexcept {
        swap(o);
        return *this;
    }

    bool active() const noexcept { return fd_ >= 0; }

    /// Bytes the entry of `ids` takes before compression.
    static std::uint64_t raw_bytes(std::uint64_t pages) noexcept {
        return pages * (8 + page_size) + sizeof(meta);
    }

    /// Writes the entry of commit m.txn at byte `at` (page p's bytes from page_at(p)); returns
    /// the byte past it. Not on disk until sync().
    template <class PageAt>
    std::uint64_t append(std::uint64_t at, const meta& m, const std::vector<page_id>& ids,
                         PageAt&& page_at) {
        raw_.resize(raw_bytes(ids.size()));
        std::byte* out = raw_.data();
        if (!ids.empty()) std::memcpy(out, ids.data(), ids.size() * 8);  // data() may be null
        out += ids.size() * 8;
        for (const page_id p : ids) {
            std::memcpy(out, page_at(p), page_size);
            out += page_size;
        }
        std::memcpy(out, &m, sizeof m);
        if (!cctx_ && !(cctx_ = ZSTD_createCCtx()))
            throw error(errc::io_error, path_ + ": no memory for the journal's compressor");
        stored_.resize(sizeof(entry) + ZSTD_compressBound(raw_.size()));
        const std::size_t n =
            ZSTD_compressCCtx(cctx_, stored_.data() + sizeof(entry), stored_.size() - sizeof(entry),
                              raw_.data(), raw_.size(), -3);
        if (ZSTD_isError(n))
            throw error(errc::io_error,
                        path_ + ": compressing a journal entry: " + ZSTD_getErrorName(n));
        entry e{};
        e.txn = m.txn;
        e.pages = ids.size();
        e.stored = n;
        e.raw = raw_.size();
        e.payload_sum = checksum(stored_.data() + sizeof(entry), n);
        e.head_sum = checksum(&e, offsetof(entry, head_sum));
        std::memcpy(stored_.data(), &e, sizeof e);
        const std::size_t total = sizeof(entry) + n;
        prepare(at + total);
        for (std::size_t done = 0; done < total;) {
            const ssize_t w =
                ::pwrite(fd_, stored_.data() + done, total - done, static_cast<off_t>(at + done));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) fail("writing");
            done += static_cast<std::size_t>(w);
        }
        fault_point("pages.journal_written");
        return at + total;
    }

    /// Everything appended so far, on disk.
    void sync() {
        if (::fdatasync(fd_) != 0) fail("flushing");
    }

    /// Replays the entries after commit `after`: apply(meta, ids, images) for each, in order,
    /// from the one of commit after + 1 up to the last whole one. Entries of commits up to
    /// `after` that lead (a checkpoint taken without starting the journal again) are skipped.
    /// An entry names at most `max_pages` pages (the store's limit) and holds at most `max_raw`
    /// bytes before compression (what a commit journals: larger ones take a checkpoint).
    template <class Apply>
    replayed replay(std::uint64_t after, std::uint64_t max_pages, std::uint64_t max_raw,
                    Apply&& apply) {
        replayed out;
        struct stat st {};
        if (::fstat(fd_, &st) != 0) fail("reading");
        const auto size = static_cast<std::uint64_t>(st.st_size);
        std::uint64_t at = journal_start;
        std::uint64_t expected = after + 1;
        for (;;) {
            bool damaged = false;
            const auto e = read_head(at, size, max_pages, max_raw, damaged);
            if (!e) {
                out.dropped += damaged;
                break;
            }
            if (e->txn < expected && out.applied == 0) {  // held by the durable file already
                at += sizeof(entry) + e->stored;
                continue;
            }
            meta m;
            if (e->txn != expected || !read_payload(at, *e, m)) {
                count_rest(at, size, max_pages, max_raw, expected, out);
                break;
            }
            std::vector<page_id> ids(e->pages);
            if (!ids.empty()) std::memcpy(ids.data(), raw_.data(), e->pages * 8);
            check_pages(m, ids, max_pages);
            apply(m, ids,
                  std::span<const std::byte>(raw_.data() + e->pages * 8, e->pages * page_size));
            ++out.applied;
            out.last = e->txn;
            ++expected;
            at += sizeof(entry) + e->stored;
        }
        return out;
    }

  private:
    // Makes the file at least `end` bytes long, in steps of zeroes written (not a hole, not
    // fallocate's unwritten extents): an entry then overwrites blocks the file system has
    // already allocated and initialized, and the fdatasync that covers it writes no metadata
    // (the file's size and extents change once per step, not per commit).
    void prepare(std::uint64_t end) {
        if (end <= prepared_) return;
        struct stat st {};
        if (::fstat(fd_, &st) != 0) fail("examining");
        prepared_ = static_cast<std::uint64_t>(st.st_size);
        if (end <= prepared_) return;
        static constexpr std::uint64_t step = 1 << 20;
        const std::uint64_t to = (end + step - 1) / step * step;
        const std::vector<std::byte> zeroes(1 << 16);
        for (std::uint64_t at = prepared_; at < to;) {
            const std::size_t n =
                static_cast<std::size_t>(std::min<std::uint64_t>(zeroes.size(), to - at));
            const ssize_t w = ::pwrite(fd_, zeroes.data(), n, static_cast<off_t>(at));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) fail("extending");
            at += static_cast<std::uint64_t>(w);
        }
        prepared_ = to;
    }

    struct head {
        std::uint64_t magic = journal_magic;
        std::array<std::uint8_t, 16> id{};
        std::uint64_t page_bytes = page_size;
        std::uint64_t sum = 0;
    };
    struct entry {
        std::uint64_t magic = entry_magic;
        std::uint64_t txn = 0;
        std::uint64_t pages = 0;
        std::uint64_t stored = 0;
        std::uint64_t raw = 0;
        std::uint64_t payload_sum = 0;
        std::uint64_t head_sum = 0;
    };

    // The head of the entry at byte `at`, or none: where no entry begins (zeros, old bytes, the
    // end of the file), and where one begins but fails its checks (then `damaged`).
    std::optional<entry> read_head(std::uint64_t at, std::uint64_t size, std::uint64_t max_pages,
                                   std::uint64_t max_raw, bool& damaged) const {
        entry e{};
        damaged = false;
        if (at + sizeof e > size) return std::nullopt;
        if (::pread(fd_, &e, sizeof e, static_cast<off_t>(at)) != sizeof e) fail("reading");
        if (e.magic != entry_magic) return std::nullopt;
        damaged = e.head_sum != checksum(&e, offsetof(entry, head_sum)) ||
                  e.stored > size - at - sizeof e || e.pages > max_pages ||
                  e.raw != raw_bytes(e.pages) || e.raw > max_raw;
        if (damaged) return std::nullopt;
        return e;
    }

    // Reads, checks and decompresses the payload of entry e at `at` into raw_, its meta into m;
    // false when any of it fails.
    bool read_payload(std::uint64_t at, const entry& e, meta& m) {
        stored_.resize(e.stored);
        if (::pread(fd_, stored_.data(), e.stored, static_cast<off_t>(at + sizeof e)) !=
            static_cast<ssize_t>(e.stored))
            fail("reading");
        if (e.payload_sum != checksum(stored_.data(), e.stored) ||
            ZSTD_getFrameContentSize(stored_.data(), stored_.size()) != e.raw)
            return false;
        raw_.resize(e.raw);
        if (ZSTD_decompress(raw_.data(), raw_.size(), stored_.data(), stored_.size()) != e.raw)
            return false;
        std::memcpy(&m, raw_.data() + e.raw - sizeof m, sizeof m);
        return m.txn == e.txn && m.magic == meta_magic && m.sum == m.compute_sum() &&
               m.head_sum == m.compute_head_sum() && m.bounded();
    }

    // An entry that passed its checksums but names pages outside its store is not a torn write:
    // errc::corrupt, naming it.
    void check_pages(const meta& m, const std::vector<page_id>& ids,
                     std::uint64_t max_pages) const {
        const std::string where = path_ + ": the entry of commit " + std::to_string(m.txn);
        if (m.high_water > max_pages || m.high_water < first_data_page)
            throw error(errc::corrupt, where + " has a high-water mark of " +
                                           std::to_string(m.high_water) + " pages");
        for (const page_id p : ids)
            if (p < first_data_page || p >= m.high_water)
                throw error(errc::corrupt,
                            where + " names page " + std::to_string(p) + ", outside its pages");
    }

    // Counts the entries from `at` on that come at or after commit `from` (those that will not
    // be replayed); older ones are what the journal held before it started again.
    void count_rest(std::uint64_t at, std::uint64_t size, std::uint64_t max_pages,
                    std::uint64_t max_raw, std::uint64_t from, replayed& out) const {
        for (;;) {
            bool damaged = false;
            const auto e = read_head(at, size, max_pages, max_raw, damaged);
            if (!e) {
                out.dropped += damaged;
                return;
            }
            if (e->txn < from) return;
            ++out.dropped;
            at += sizeof(entry) + e->stored;
        }
    }

    void swap(journal_file& o) noexcept {
        std::swap(path_, o.path_);
        std::swap(fd_, o.fd_);
        std::swap(cctx_, o.cctx_);
        std::swap(prepared_, o.prepared_);
        std::swap(raw_, o.raw_);
        std::swap(stored_, o.stored_);
    }
    [[noreturn]] void fail(const char* what) const { io_failure(what, path_); }

    std::string path_;
    int fd_ = -1;
    ZSTD_CCtx* cctx_ = nullptr;
    std::uint64_t prepared_ = 0;  // bytes the file has at least
    std::vector<std::byte> raw_;
    std::vector<std::byte> stored_;
};

}  // namespace detail::pages
}  // namespace v1
}  // namespace mmry
