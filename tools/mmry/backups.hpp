#pragma once
// The commands on a backup repository alone (no store opened): backups, prune, check-backups.
// backup and restore open a store: they are in commands.hpp and run.hpp.

#include <string>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <mmry/backup.hpp>
#include <mmry/error.hpp>

#include "output.hpp"
#include "request.hpp"

namespace mmry_tool {

inline nlohmann::json backup_json(const mmry::backup_info& b) {
    return {{"number", b.number},
            {"sequence", b.sequence},
            {"time_ns", b.time_ns},
            {"keys", b.keys},
            {"records", b.records},
            {"stored_bytes", b.stored_bytes},
            {"written_bytes", b.written_bytes}};
}

inline int repository_command(const request& r) {
    const auto& dir = r.repository;
    if (r.command == "backups") {
        for (const auto& b : mmry::list_backups(dir)) {
            if (r.json)
                print_json(backup_json(b));
            else
                fmt::print("#{}  sequence {}  {} keys  {} pieces  {} bytes stored  {} written\n",
                           b.number, b.sequence, b.keys, b.records, b.stored_bytes,
                           b.written_bytes);
        }
        return ok;
    }
    if (r.command == "prune") {
        const auto p =
            mmry::prune_backups(dir, {r.keep_last, r.keep_daily, r.keep_weekly, r.keep_monthly});
        if (r.json)
            print_json({{"kept", p.kept},
                        {"removed", p.removed},
                        {"pack_files_removed", p.pack_files_removed},
                        {"pack_files_rewritten", p.pack_files_rewritten},
                        {"bytes_freed", p.bytes_freed}});
        else
            fmt::print(
                "kept {} backups, removed {}; {} pack files removed, {} rewritten, {} bytes "
                "freed\n",
                p.kept.size(), p.removed.size(), p.pack_files_removed, p.pack_files_rewritten,
                p.bytes_freed);
        return ok;
    }
    // check-backups
    const auto c = mmry::check_backups(dir);
    if (r.json) {
        print_json({{"ok", c.ok()},
                    {"backups", c.backups},
                    {"pieces", c.pieces},
                    {"bytes", c.bytes},
                    {"problems", c.problems}});
    } else {
        fmt::print("checked {} backups, {} pieces, {} bytes: {}\n", c.backups, c.pieces, c.bytes,
                   c.ok() ? "ok" : fmt::format("{} problems", c.problems.size()));
        for (const auto& p : c.problems) fmt::print("problem: {}\n", p);
    }
    return c.ok() ? ok : not_found;
}

}  // namespace mmry_tool
