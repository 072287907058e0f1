#pragma once
// Backups of a store into a directory (a *repository*), restoring them, listing and pruning them.
// The backup itself and the restore are members of the store (basic_store::backup, ::restore,
// defined in detail/store_backup.hpp); what needs no store (listing, pruning, checking a
// repository) is here.
//
// A repository holds the backups of one store (its id is in the repository's header: a backup
// of another store into it is refused). Records are copied as the store keeps them, compressed
// and encrypted: a backup of an encrypted store is encrypted. Each stored piece (a record, a
// chunk of a folded value, a dictionary) is kept once, named by the SHA-256 of its stored bytes,
// in pack files shared by all backups: a later backup writes only the pieces the repository
// lacks. Each backup is a snapshot file listing the pieces of the store as of one commit
// (docs/FORMAT.md, "Backups"); its checksum is an HMAC under a key derived from the store's key
// when the store is encrypted (whoever lacks the key cannot forge one), SHA-256 otherwise.
//
// Thread-safety: the functions here may be called from any number of threads and processes; a
// repository is locked (flock) by whoever writes it (a backup, a prune), and other writers wait.
// Crashes: every file of a repository is written under a temporary name, flushed and renamed, so
// a backup or prune interrupted at any instant leaves the earlier backups whole. The pieces an
// interrupted backup already wrote are reused by the next one.
// Errors: mmry::error; errc::not_found for a directory that holds no repository, errc::corrupt
// for a damaged or foreign piece, naming the file (and the entry) at fault.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <mmry/backup_options.hpp>
#include <mmry/detail/backup/repository.hpp>

namespace mmry {
inline namespace v1 {

/// The backups in repository `dir`, oldest first. Throws errc::not_found when `dir` holds no
/// repository, errc::corrupt for a damaged snapshot (naming it).
inline std::vector<backup_info> list_backups(const std::string& dir) {
    detail::backup::repository r(dir, false);
    std::vector<backup_info> out;
    for (const auto n : r.snapshots()) out.push_back(r.read_snapshot(n).info);
    return out;
}

/// The backup restore() takes for `r` (number, as_of_sequence and as_of_time; the latest when
/// none is set). Throws errc::not_found when there is none, naming what was asked for.
inline backup_info find_backup(const std::string& dir, const restore_options& r) {
    detail::backup::repository repo(dir, false);
    std::optional<backup_info> chosen;
    for (const auto n : repo.snapshots()) {
        if (r.number && n != *r.number) continue;
        const auto info = repo.read_snapshot(n).info;
        if (r.as_of_sequence && info.sequence > *r.as_of_sequence) continue;
        if (r.as_of_time && info.time_ns > std::chrono::duration_cast<std::chrono::nanoseconds>(
                                               r.as_of_time->time_since_epoch())
                                               .count())
            continue;
        chosen = info;
    }
    if (!chosen)
        throw error(errc::not_found,
                    "backup repository " + dir + " holds no backup " +
                        (r.number                           ? std::to_string(*r.number)
                         : r.as_of_sequence || r.as_of_time ? "as old as the one asked for"
                                                            : std::string("at all")));
    return *chosen;
}

/// Removes the backups `o` does not keep, then the pieces no kept backup lists: pack files that
/// hold only such pieces are removed, the others rewritten when at least a quarter of their
/// bytes is freed. Throws errc::invalid_argument when `o` keeps nothing.
inline prune_report prune_backups(const std::string& dir, const prune_options& o) {
    detail::backup::repository r(dir, true);
    return r.prune(o);
}

/// Reads every piece every backup lists and checks it against its id (SHA-256 of its bytes) and
/// its pack's checksum. Never throws for damage: reports it. Keyless: a snapshot's HMAC is checked
/// by restore, which has the key.
inline backup_check_report check_backups(const std::string& dir) {
    detail::backup::repository r(dir, false);
    return r.check();
}

}  // namespace v1
}  // namespace mmry
