#pragma once
// A backup repository on disk: its header, its pack files (pieces named by id) and its
// snapshots; writing each file whole under a temporary name, flushed and renamed; and the
// functions of mmry/backup.hpp that need no store (list, prune, check).
//
// Thread-safety: one repository object per thread. Between objects and processes, a writer holds
// an exclusive flock on the repository's lock file while it lives, a reader a shared one.

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <mmry/backup_options.hpp>
#include <mmry/detail/backup/backup_format.hpp>
#include <mmry/detail/content_hash.hpp>
#include <mmry/detail/file_io.hpp>

namespace mmry {
inline namespace v1 {
namespace detail {
namespace backup {

namespace fs = std::filesystem;

inline piece_id id_of(std::span<const std::byte> stored) {
    return content_hasher().hash(stored);
}

struct id_hash {
    std::size_t operator()(const piece_id& id) const noexcept {
        return load_le<std::uint64_t>(id.data());
    }
};

/// Reads a whole file (errc::not_found when it does not exist).
inline bytes read_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) throw error(errc::not_found, "no " + path);
        io_failure("opening", path);
    }
    fd_guard guard(fd);
    struct stat st {};
    if (::fstat(fd, &st) != 0) io_failure("reading the size of", path);
    bytes out(static_cast<std::size_t>(st.st_size));
    std::size_t at = 0;
    while (at < out.size()) {
        const auto n = ::read(fd, out.data() + at, out.size() - at);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) io_failure("reading", path);
        if (n == 0) break;
        at += static_cast<std::size_t>(n);
    }
    out.resize(at);
    return out;
}

inline void write_all(int fd, std::span<const std::byte> b, const std::string& path) {
    while (!b.empty()) {
        const auto n = ::write(fd, b.data(), b.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) io_failure("writing", path);
        b = b.subspan(static_cast<std::size_t>(n));
    }
}

inline void sync_dir(const std::string& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) io_failure("opening", dir);
    fd_guard guard(fd);
    if (::fsync(fd) != 0) io_failure("flushing", dir);
}

/// Writes `path` whole: a temporary file, flushed when `sync`, then renamed over it.
inline void write_file(const std::string& path, std::span<const std::byte> b, bool sync) {
    const std::string tmp = path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) io_failure("creating", tmp);
    {
        fd_guard guard(fd);
        write_all(fd, b, tmp);
        if (sync && ::fdatasync(fd) != 0) io_failure("flushing", tmp);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) io_failure("naming", path);
}

inline std::string pack_name(std::uint64_t pack) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(pack));
    return buf;
}
inline std::string snapshot_name(std::uint64_t number) {
    char buf[21];
    std::snprintf(buf, sizeof buf, "%08llu", static_cast<unsigned long long>(number));
    return buf;
}

class repository {
  public:
    /// Opens the repository in `dir`: for writing (an exclusive lock) or reading (a shared one).
    /// Throws errc::not_found when there is none.
    repository(const std::string& dir, bool write) : dir_(dir), write_(write) {
        lock(false);
        header_ = parse_repository_header(read_file(header_path()), header_path());
        if (write_) clean();
    }
    /// Opens the repository in `dir` for writing, making it (for the store whose header is
    /// `store_header`) when there is none. Throws errc::invalid_argument when it backs up another
    /// store.
    repository(const std::string& dir, std::span<const std::byte> store_header)
        : dir_(dir), write_(true) {
        std::error_code ec;
        fs::create_directories(dir_ + "/packs", ec);
        fs::create_directories(dir_ + "/snapshots", ec);
        if (ec)
            throw error(errc::io_error, "making backup repository " + dir_ + ": " + ec.message());
        lock(true);
        if (!fs::exists(header_path())) {
            write_file(header_path(), bytes_of(write_repository_header(store_header)), true);
            sync_dir(dir_);
        }
        header_ = parse_repository_header(read_file(header_path()), header_path());
        // The store id (bytes 32..48 of the store header) says whose backups these are.
        if (std::memcmp(header_.data() + 32, store_header.data() + 32, 16) != 0)
            throw error(errc::invalid_argument,
                        "backup repository " + dir_ + " holds the backups of store " +
                            hex(std::span(header_).subspan(32, 16)) + ", not of this one (" +
                            hex(store_header.subspan(32, 16)) + ")");
        clean();
    }
    repository(const repository&) = delete;
    repository& operator=(const repository&) = delete;
    ~repository() {
        for (auto& [pack, fd] : packs_open_) ::close(fd);
    }

    const std::string& dir() const noexcept { return dir_; }
    const std::array<std::byte, format::store_header_size>& store_header() const noexcept {
        return header_;
    }

    // ---- pieces --------------------------------------------------------------------------

    /// Loads every pack's index: which pieces the repository holds, and where.
    void load() {
        where_.clear();
        for (const auto pack : packs())
            for (const auto& e : pack_index(pack))
                where_.try_emplace(e.id, location{pack, e.offset, e.size});
    }
    const location* find(const piece_id& id) const {
        const auto it = where_.find(id);
        return it == where_.end() ? nullptr : &it->second;
    }
    /// The ids of the pieces the repository holds (as load() found them).
    std::vector<piece_id> ids() const {
        std::vector<piece_id> out;
        out.reserve(where_.size());
        for (const auto& [id, at] : where_) out.push_back(id);
        return out;
    }

    /// The bytes of piece `id`, checked against its pack's checksum and its id.
    bytes read(const piece_id& id) const {
        const auto* at = find(id);
        if (!at)
            throw error(errc::corrupt, "backup repository " + dir_ + " lacks piece " +
                                           hex(std::span(id).first(8)) + " that a snapshot lists");
        return read_at(*at, id, true);
    }

    /// Writes pieces into a new pack file, its index at its end; finish() names it.
    class pack_writer {
      public:
        pack_writer(repository& r, bool sync) : r_(r), sync_(sync) {
            std::random_device rd;
            pack_ = (std::uint64_t{rd()} << 32) ^ rd();
            tmp_ = r_.pack_path(pack_) + ".tmp";
            fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            if (fd_ < 0) io_failure("creating", tmp_);
            own(std::as_bytes(std::span(pack_magic)));
        }
        pack_writer(const pack_writer&) = delete;
        pack_writer& operator=(const pack_writer&) = delete;
        ~pack_writer() {
            if (fd_ >= 0) {
                ::close(fd_);
                ::unlink(tmp_.c_str());
            }
        }
        /// Adds piece `id`. With `pinned`, its bytes are written from where they are (they must
        /// stay there until finish() or the writer's end); otherwise they are copied.
        void add(const piece_id& id, std::span<const std::byte> b, bool pinned = false) {
            std::byte head[entry_head];
            std::memcpy(head, id.data(), 32);
            store_le<std::uint64_t>(head + 32, b.size());
            const std::uint32_t crc = crc32c({std::span<const std::byte>(head), b});
            std::byte tail[4];
            store_le<std::uint32_t>(tail, crc);
            entries_.push_back({id, size_, b.size()});
            own(head);
            if (pinned) {
                parts_.push_back({b.data(), 0, b.size()});
                size_ += b.size();
                pending_ += b.size();
            } else {
                own(b);
            }
            own(tail);
            if (pending_ >= (4u << 20) || parts_.size() >= 900) flush();
        }
        std::uint64_t size() const noexcept { return size_; }
        /// Writes the pack's index, flushes the pack and names it: the repository now finds its
        /// pieces. The name is durable once the repository's sync_packs() returns.
        void finish() {
            const auto index = write_index(entries_);
            std::byte trailer[pack_trailer];
            store_le<std::uint64_t>(trailer, size_);
            std::memcpy(trailer + 8, pack_end_magic, 8);
            own(bytes_of(index));
            own(trailer);
            flush();
            if (sync_ && ::fdatasync(fd_) != 0) io_failure("flushing", tmp_);
            ::close(std::exchange(fd_, -1));
            const std::string path = r_.pack_path(pack_);
            if (::rename(tmp_.c_str(), path.c_str()) != 0) io_failure("naming", path);
            r_.named_ = true;
            for (const auto& e : entries_)
                r_.where_.try_emplace(e.id, location{pack_, e.offset, e.size});
        }

      private:
        // A part of what is to be written: bytes elsewhere, or a range of buffer_.
        struct part {
            const std::byte* external;
            std::size_t offset, n;
        };
        void own(std::span<const std::byte> b) {
            parts_.push_back({nullptr, buffer_.size(), b.size()});
            buffer_.insert(buffer_.end(), b.begin(), b.end());
            size_ += b.size();
            pending_ += b.size();
        }
        void flush() {
            std::vector<iovec> io;
            io.reserve(parts_.size());
            for (const auto& p : parts_)
                io.push_back(
                    {const_cast<std::byte*>(p.external ? p.external : buffer_.data() + p.offset),
                     p.n});
            std::size_t i = 0;
            while (i < io.size()) {
                const int count = static_cast<int>(std::min<std::size_t>(io.size() - i, 1024));
                const auto n = ::writev(fd_, io.data() + i, count);
                if (n < 0 && errno == EINTR) continue;
                if (n < 0) io_failure("writing", tmp_);
                auto left = static_cast<std::size_t>(n);
                while (i < io.size() && left >= io[i].iov_len) left -= io[i++].iov_len;
                if (left > 0) {
                    io[i].iov_base = static_cast<char*>(io[i].iov_base) + left;
                    io[i].iov_len -= left;
                }
            }
            parts_.clear();
            buffer_.clear();
            pending_ = 0;
        }
        repository& r_;
        bool sync_;
        std::uint64_t pack_ = 0, size_ = 0, pending_ = 0;
        std::string tmp_;
        int fd_ = -1;
        bytes buffer_;
        std::vector<part> parts_;
        std::vector<index_entry> entries_;
    };

    /// Makes the names of the packs finished so far durable (before a snapshot names them).
    void sync_packs() {
        if (std::exchange(named_, false)) sync_dir(dir_ + "/packs");
    }

    // ---- snapshots -----------------------------------------------------------------------

    /// The numbers of the backups (snapshots not pruned), in ascending order.
    std::vector<std::uint64_t> snapshots() const { return numbered(false); }
    /// The numbers of pruned snapshots that kept ones still build on.
    std::vector<std::uint64_t> pruned() const { return numbered(true); }

    std::string snapshot_path(std::uint64_t n) const {
        return dir_ + "/snapshots/" + snapshot_name(n);
    }
    /// Snapshot n (pruned or not), its checksum checked (and its 32-byte check by `check`).
    template <class Check>
    snapshot read_snapshot(std::uint64_t n, Check&& check) const {
        std::string path = snapshot_path(n);
        if (!fs::exists(path) && fs::exists(path + ".pruned")) path += ".pruned";
        auto s = parse_snapshot(read_file(path), path, std::forward<Check>(check));
        if (s.info.number != n)
            throw error(errc::corrupt,
                        path + " says it is backup " + std::to_string(s.info.number));
        return s;
    }
    snapshot read_snapshot(std::uint64_t n) const {
        return read_snapshot(n, [](auto, auto, const auto&) {});
    }

    /// Snapshot n with every item it holds: its own, or those of the snapshots it builds on with
    /// the changes of each applied; dictionaries first, then records by sequence number. Every
    /// snapshot of the chain is checked by `check`.
    template <class Check>
    snapshot materialize(std::uint64_t n, Check&& check) const {
        std::vector<snapshot> chain;
        for (std::uint64_t at = n;;) {
            chain.push_back(read_snapshot(at, check));
            if (chain.back().parent == 0) break;
            at = chain.back().parent;  // < at: parse_snapshot refuses another
        }
        std::unordered_map<piece_id, item, id_hash> items;
        for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
            for (const auto& id : it->removed)
                if (items.erase(id) == 0)
                    throw error(errc::corrupt, snapshot_path(it->info.number) + " removes piece " +
                                                   hex(std::span(id).first(8)) + ", which backup " +
                                                   std::to_string(it->parent) + " does not hold");
            for (auto& i : it->items) items.insert_or_assign(i.id, std::move(i));
        }
        snapshot out = std::move(chain.front());
        out.parent = 0;
        out.removed.clear();
        out.items.clear();
        for (auto& [id, i] : items) out.items.push_back(std::move(i));
        std::sort(out.items.begin(), out.items.end(), [](const item& a, const item& b) {
            if (a.kind != b.kind) return a.kind < b.kind;  // dictionaries first
            return a.kind == item::dictionary ? a.arg < b.arg : a.seq < b.seq;
        });
        return out;
    }
    snapshot materialize(std::uint64_t n) const {
        return materialize(n, [](auto, auto, const auto&) {});
    }
    /// How many snapshots snapshot n builds on (0: none).
    std::size_t depth(std::uint64_t n) const {
        std::size_t d = 0;
        for (auto s = read_snapshot(n); s.parent != 0; s = read_snapshot(s.parent)) ++d;
        return d;
    }

    void write_snapshot(std::uint64_t n, std::span<const std::byte> b, bool sync) {
        if (sync) sync_packs();
        write_file(snapshot_path(n), b, sync);
        if (sync) sync_dir(dir_ + "/snapshots");
    }

    // ---- pruning -------------------------------------------------------------------------

    prune_report prune(const prune_options& o) {
        if (o.keep_last + o.keep_daily + o.keep_weekly + o.keep_monthly == 0)
            throw error(errc::invalid_argument,
                        "prune_options keep nothing: say how many backups to keep");
        prune_report out;
        std::vector<backup_info> all;
        for (const auto n : snapshots()) all.push_back(read_snapshot(n).info);
        std::sort(all.begin(), all.end(),
                  [](const auto& a, const auto& b) { return a.number > b.number; });
        std::set<std::uint64_t> keep;
        if (!all.empty()) keep.insert(all.front().number);
        for (std::uint64_t i = 0; i < all.size() && i < o.keep_last; ++i)
            keep.insert(all[i].number);
        constexpr std::int64_t day = 86'400'000'000'000;
        auto by_period = [&](std::uint64_t count, std::int64_t period) {
            std::set<std::int64_t> seen;
            for (const auto& b : all) {
                if (seen.size() >= count) break;
                const std::int64_t bucket =
                    b.time_ns >= 0 ? b.time_ns / period : (b.time_ns - period + 1) / period;
                if (seen.insert(bucket).second) keep.insert(b.number);
            }
        };
        by_period(o.keep_daily, day);
        by_period(o.keep_weekly, 7 * day);
        by_period(o.keep_monthly, 30 * day);
        // The snapshots the kept ones build on stay, as pruned (listed nowhere, restorable from
        // nowhere, read only as links of a chain); the others go.
        std::set<std::uint64_t> links;
        for (const auto n : keep)
            for (auto s = read_snapshot(n); s.parent != 0; s = read_snapshot(s.parent))
                links.insert(s.parent);
        for (auto it = all.rbegin(); it != all.rend(); ++it) {
            const auto n = it->number;
            if (keep.contains(n)) {
                out.kept.push_back(n);
                continue;
            }
            const std::string path = snapshot_path(n);
            const int rc = links.contains(n) ? ::rename(path.c_str(), (path + ".pruned").c_str())
                                             : ::unlink(path.c_str());
            if (rc != 0) io_failure("removing", path);
            out.removed.push_back(n);
        }
        for (const auto n : pruned())
            if (!links.contains(n)) {
                const std::string path = snapshot_path(n) + ".pruned";
                if (::unlink(path.c_str()) != 0) io_failure("removing", path);
            }
        sync_dir(dir_ + "/snapshots");
        collect(out);
        return out;
    }

    /// Checks every piece every snapshot lists.
    backup_check_report check() {
        backup_check_report out;
        try {
            load();
        } catch (const error& e) {
            out.problems.push_back(e.what());
            return out;
        }
        std::set<piece_id> seen;
        for (const auto n : snapshots()) {
            ++out.backups;
            snapshot s;
            try {
                s = materialize(n);
            } catch (const error& e) {
                out.problems.push_back(e.what());
                continue;
            }
            auto one = [&](const piece_id& id) {
                if (!seen.insert(id).second) return;
                try {
                    out.bytes += read(id).size();
                    ++out.pieces;
                } catch (const error& e) {
                    out.problems.push_back(snapshot_path(n) + ": " + e.what());
                }
            };
            for (const auto& it : s.items) {
                one(it.id);
                for (const auto& c : it.chunks) one(c);
            }
        }
        return out;
    }

  private:
    std::vector<std::uint64_t> numbered(bool pruned) const {
        std::vector<std::uint64_t> out;
        for (const auto& e : fs::directory_iterator(dir_ + "/snapshots")) {
            const auto name = e.path().filename().string();
            if (name.size() != (pruned ? 15 : 8) || (pruned && !name.ends_with(".pruned")) ||
                !std::all_of(name.begin(), name.begin() + 8,
                             [](char c) { return c >= '0' && c <= '9'; }))
                continue;
            out.push_back(std::stoull(name.substr(0, 8)));
        }
        std::sort(out.begin(), out.end());
        return out;
    }

    std::string header_path() const { return dir_ + "/MMRYBACKUP"; }
    std::string pack_path(std::uint64_t p) const {
        return dir_ + "/packs/" + pack_name(p) + ".pack";
    }

    // The lock is a file of its own: the header is written by renaming a new file over it.
    void lock(bool create) {
        const std::string path = dir_ + "/lock";
        lock_.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
        if (lock_.fd < 0) {
            if (errno == ENOENT)
                throw error(errc::not_found,
                            "no backup repository in " + dir_ + " (no " + path + ")");
            io_failure("opening", path);
        }
        int rc;
        do {
            rc = ::flock(lock_.fd, write_ ? LOCK_EX : LOCK_SH);
        } while (rc != 0 && errno == EINTR);
        if (rc != 0) io_failure("locking", path);
    }

    /// The packs, by name.
    std::vector<std::uint64_t> packs() const {
        std::vector<std::uint64_t> out;
        for (const auto& e : fs::directory_iterator(dir_ + "/packs")) {
            const auto name = e.path().filename().string();
            if (name.size() != 21 || !name.ends_with(".pack")) continue;
            out.push_back(std::stoull(name.substr(0, 16), nullptr, 16));
        }
        return out;
    }

    /// Removes what a writer cut short left: its temporary files.
    void clean() {
        for (const auto* sub : {"/packs", "/snapshots"})
            for (const auto& e : fs::directory_iterator(dir_ + sub))
                if (e.path().string().ends_with(".tmp")) ::unlink(e.path().c_str());
    }

    /// The index at the end of a pack.
    std::vector<index_entry> pack_index(std::uint64_t pack) const {
        const std::string path = pack_path(pack);
        const int fd = pack_fd(pack);
        struct stat st {};
        if (::fstat(fd, &st) != 0) io_failure("reading the size of", path);
        const auto size = static_cast<std::uint64_t>(st.st_size);
        auto read = [&](std::uint64_t at, std::size_t n) {
            return read_exactly(fd, at, n, path, "before its index");
        };
        if (size < 8 + pack_trailer)
            throw error(errc::corrupt,
                        path + " is " + std::to_string(size) + " bytes, too short for a pack");
        const auto trailer = read(size - pack_trailer, pack_trailer);
        const auto at = load_le<std::uint64_t>(trailer.data());
        if (std::memcmp(trailer.data() + 8, pack_end_magic, 8) != 0 || at < 8 ||
            at > size - pack_trailer)
            throw error(errc::corrupt, path + " does not end with a pack trailer");
        return parse_index(read(at, static_cast<std::size_t>(size - pack_trailer - at)),
                           path + " (its index)", at);
    }

    /// Bytes [at, at + n) of the file `path` open as `fd`; errc::corrupt (the file ends `where`)
    /// when it is shorter.
    static bytes read_exactly(int fd, std::uint64_t at, std::size_t n, const std::string& path,
                              const std::string& where) {
        bytes b(n);
        std::size_t got = 0;
        while (got < n) {
            const auto r = ::pread(fd, b.data() + got, n - got, static_cast<off_t>(at + got));
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) io_failure("reading", path);
            if (r == 0) throw error(errc::corrupt, path + " ends " + where);
            got += static_cast<std::size_t>(r);
        }
        return b;
    }

    int pack_fd(std::uint64_t pack) const {
        if (auto it = packs_open_.find(pack); it != packs_open_.end()) return it->second;
        const std::string path = pack_path(pack);
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) io_failure("opening", path);
        return packs_open_.emplace(pack, fd).first->second;
    }

    bytes read_at(const location& at, const piece_id& id, bool check_id) const {
        const std::string path = pack_path(at.pack);
        const bytes b = read_exactly(pack_fd(at.pack), at.offset, entry_head + at.size + entry_tail,
                                     path, "inside its entry at " + std::to_string(at.offset));
        const std::span<const std::byte> all(b);
        auto fail = [&](const char* why) {
            throw error(errc::corrupt, path + ": the entry at " + std::to_string(at.offset) +
                                           " (piece " + hex(std::span(id).first(8)) + ") " + why);
        };
        if (std::memcmp(b.data(), id.data(), 32) != 0) fail("is another piece");
        if (load_le<std::uint64_t>(b.data() + 32) != at.size) fail("has another length");
        if (crc32c({all.first(entry_head + at.size)}) !=
            load_le<std::uint32_t>(b.data() + entry_head + at.size))
            fail("fails its checksum");
        bytes out(b.begin() + entry_head,
                  b.begin() + static_cast<std::ptrdiff_t>(entry_head + at.size));
        if (check_id && id_of(out) != id) fail("does not hold the bytes its id names");
        return out;
    }

    /// Removes or rewrites the packs whose pieces no snapshot lists.
    void collect(prune_report& out) {
        std::set<piece_id> live;
        for (const auto n : snapshots()) {
            const auto s = materialize(n);
            for (const auto& it : s.items) {
                live.insert(it.id);
                live.insert(it.chunks.begin(), it.chunks.end());
            }
        }
        for (const auto pack : packs()) {
            const std::string ppath = pack_path(pack);
            const std::uint64_t size = fs::file_size(ppath);
            const auto entries = pack_index(pack);
            std::uint64_t dead = 0;
            std::size_t kept = 0;
            for (const auto& e : entries) {
                if (live.contains(e.id))
                    ++kept;
                else
                    dead += entry_head + e.size + entry_tail;
            }
            if (kept != 0 && dead * 4 < size) continue;
            if (kept != 0) {
                pack_writer w(*this, true);
                for (const auto& e : entries)
                    if (live.contains(e.id))
                        w.add(e.id, read_at(location{pack, e.offset, e.size}, e.id, false));
                w.finish();
                sync_packs();  // the new pack's name before the old pack goes
                ++out.pack_files_rewritten;
            } else {
                ++out.pack_files_removed;
            }
            if (auto it = packs_open_.find(pack); it != packs_open_.end()) {
                ::close(it->second);
                packs_open_.erase(it);
            }
            if (::unlink(ppath.c_str()) != 0) io_failure("removing", ppath);
            out.bytes_freed += dead;
            if (kept == 0) out.bytes_freed += size - dead;
        }
        sync_dir(dir_ + "/packs");
    }

    // Closed (and so unlocked) also when a constructor throws after taking the lock.
    struct lock_file {
        int fd = -1;
        lock_file() = default;
        lock_file(const lock_file&) = delete;
        lock_file& operator=(const lock_file&) = delete;
        ~lock_file() {
            if (fd >= 0) ::close(fd);
        }
    };

    std::string dir_;
    bool write_;
    bool named_ = false;  // packs named since the last sync_packs()
    lock_file lock_;
    std::array<std::byte, format::store_header_size> header_{};
    std::unordered_map<piece_id, location, id_hash> where_;
    mutable std::map<std::uint64_t, int> packs_open_;
};

}  // namespace backup
}  // namespace detail
}  // namespace v1
}  // namespace mmry
