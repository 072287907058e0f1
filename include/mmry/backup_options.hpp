#pragma once
// What backups take and report (mmry/backup.hpp says what a backup is).

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace mmry {
inline namespace v1 {

/// One backup in a repository, as list_backups() and backup() report it.
struct backup_info {
    std::uint64_t number = 0;    ///< 1, 2, ... in the order the backups were taken
    std::uint64_t sequence = 0;  ///< the highest sequence number of a record it holds
    std::int64_t time_ns = 0;    ///< when it was taken (ns since the epoch, the store's clock)
    std::uint64_t keys = 0;      ///< stored keys of the index (a key keeping history has several)
    std::uint64_t records = 0;   ///< records, dictionaries and chunks it lists
    std::uint64_t stored_bytes = 0;   ///< their stored (compressed, encrypted) size
    std::uint64_t written_bytes = 0;  ///< what taking it wrote: the pieces the repository lacked
};

/// What backup() did.
struct backup_report : backup_info {
    std::uint64_t written_records = 0;  ///< pieces written (the others were in the repository)
    std::uint64_t pack_files = 0;       ///< pack files written
};

/// How to back up.
struct backup_options {
    /// Pieces are written in pack files of about this size (the last one smaller).
    std::uint64_t pack_bytes = 64u << 20;
    /// Flush every file written (fdatasync) before it is named: a backup that survives a power
    /// cut. Off, a backup survives the process's death only.
    bool sync = true;
    /// Called after each pack file with what was done so far.
    std::function<void(const backup_report&)> progress{};
};

/// Which backup to restore, and how.
struct restore_options {
    /// The backup of this number (list_backups); unset: see as_of_sequence and as_of_time.
    std::optional<std::uint64_t> number{};
    /// The latest backup whose sequence is at most this (the store as it was when this
    /// sequence number was the last one written).
    std::optional<std::uint64_t> as_of_sequence{};
    /// The latest backup taken at or before this time.
    std::optional<std::chrono::system_clock::time_point> as_of_time{};
    /// A store of the target's name that exists is removed first; unset, it is refused
    /// (errc::already_exists).
    bool replace = false;
};

/// Which backups prune_backups keeps (the union of the rules; the latest is always kept).
struct prune_options {
    std::uint64_t keep_last = 0;     ///< the latest n backups
    std::uint64_t keep_daily = 0;    ///< the latest backup of each of the latest n days (UTC)
    std::uint64_t keep_weekly = 0;   ///< ... of each of the latest n weeks
    std::uint64_t keep_monthly = 0;  ///< ... of each of the latest n months (of 30 days)
};

/// What prune_backups did.
struct prune_report {
    std::vector<std::uint64_t> kept, removed;  ///< backup numbers
    std::uint64_t pack_files_removed = 0;      ///< pack files no kept backup needed
    std::uint64_t pack_files_rewritten = 0;    ///< packs rewritten without their unneeded pieces
    std::uint64_t bytes_freed = 0;
};

/// What check_backups found: every piece of every backup read and checked against its id.
struct backup_check_report {
    std::uint64_t backups = 0, pieces = 0, bytes = 0;
    std::vector<std::string> problems;  ///< each naming the file and piece
    bool ok() const noexcept { return problems.empty(); }
};

}  // namespace v1
}  // namespace mmry
