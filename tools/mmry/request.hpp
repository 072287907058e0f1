#pragma once
// What the command line asked for, parsed (main.cpp) and handed to the store's commands
// (commands.hpp). Plain data: no store type appears here.

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <mmry/backup_options.hpp>

namespace mmry_tool {

/// Exit statuses (README, "The mmry tool").
enum exit_status : int { ok = 0, not_found = 1, failed = 2 };

/// The time load's puts are stamped with (a value entry's modified time); the store's clock
/// reads it (run.hpp). Zero: now.
inline std::chrono::system_clock::time_point load_clock{};

/// A key or version that is not there: exit status 1 (not_found), not 2.
struct missing : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Where a store lives: a mapped-file store's directory, or "shm:NAME" for shared memory.
struct location {
    enum class kind { mapped_file, shared_memory } arena = kind::mapped_file;
    std::string name;   ///< the directory, or the shared-memory name
    std::string shown;  ///< as the user wrote it, for messages
};

/// The composition `create` makes, by policy name.
struct composition_names {
    std::string index = "hashed";
    std::string compressor = "zstd";
    std::string cipher = "none";
    std::string path = "latest";
    std::string fold = "none";
};

struct request {
    std::string command;
    location store;
    bool json = false;
    std::optional<bool> progress;  ///< --progress / --no-progress; default: stderr is a terminal
    // Key sources (never the key itself on the command line).
    std::string key_file;
    bool ask_passphrase = false;

    // Arguments of the commands (each uses its own).
    std::vector<std::string> keys;  ///< rm KEY...; get/put/history KEY
    std::string prefix;             ///< ls, dump
    std::optional<std::pair<std::string, std::string>> key_range;       ///< ls --range FROM TO
    std::string tag;                                                    ///< ls --tag
    bool long_format = false;                                           ///< ls -l
    std::optional<std::pair<std::uint64_t, std::uint64_t>> byte_range;  ///< get --range OFF LEN
    std::optional<std::uint64_t> version;                               ///< get/rm --version
    std::string input;   ///< put FILE, load FILE ("-" or empty: stdin)
    std::string output;  ///< get -o FILE, dump -o FILE ("-" or empty: stdout)
    std::optional<std::uint64_t> export_item, drop_item;  ///< quarantine --export / --drop ID
    std::vector<std::string> tags;
    std::string content_type;
    std::vector<std::string> attributes;  ///< NAME=VALUE
    bool if_absent = false;
    std::optional<std::uint64_t> if_version;
    bool records = false;           ///< dump --records: records as stored, not values
    double watch_seconds = 0;       ///< stat --watch N
    std::uint64_t watch_count = 0;  ///< stat --count C (0: until interrupted)

    // backup, restore, backups, prune, check-backups
    std::string repository;                       ///< the backup repository's directory
    bool no_sync = false;                         ///< backup --no-sync
    std::optional<std::uint64_t> backup_number;   ///< restore --number
    std::optional<std::uint64_t> as_of_sequence;  ///< restore --as-of-sequence
    bool replace = false;                         ///< restore --replace
    std::string restore_index;  ///< restore --index (empty: the backed-up store's)
    std::uint64_t keep_last = 0, keep_daily = 0, keep_weekly = 0, keep_monthly = 0;  ///< prune

    // create
    composition_names composition;
    std::uint64_t capacity = std::uint64_t{64} << 20;
    std::uint64_t max_size = 0;
    std::string durability = "none";  ///< create: none, periodic or sync
    double flush_seconds = 1;         ///< create: the interval of durability periodic
    bool passphrase_key = false;      ///< create: the key is a passphrase (else 32 bytes)
};

/// What restore takes from the command line.
inline mmry::restore_options restore_options(const request& r) {
    mmry::restore_options o;
    o.number = r.backup_number;
    o.as_of_sequence = r.as_of_sequence;
    o.replace = r.replace;
    return o;
}

}  // namespace mmry_tool
