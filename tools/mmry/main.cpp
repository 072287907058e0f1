// mmry: look into and work on mmry stores from a shell (README, "The mmry tool").
//
//   mmry stat STORE [--watch SECONDS [--count N]]      mmry ls STORE [PREFIX] [-l] [--tag T]
//   mmry get STORE KEY [-o FILE] [--range OFF LEN]    mmry put STORE KEY [FILE] [--tag T] ...
//   mmry rm STORE KEY...    mmry history STORE KEY    mmry dump STORE -o FILE   mmry load STORE
//   FILE mmry verify STORE       mmry create STORE [--index ...] [--compressor ...] [--cipher ...]
//   mmry compact STORE     mmry repair STORE     mmry quarantine STORE [--export ID -o FILE]
//   [--drop ID]
//   mmry backup STORE REPO  mmry restore REPO STORE [--number N] [--replace]  mmry backups REPO
//   mmry prune REPO --keep-last N [--keep-daily N ...]   mmry check-backups REPO
//
// STORE is a mapped-file store's directory, or shm:NAME for a shared-memory store. Exit status:
// 0 ok, 1 not found (a key, a version) or problems found (verify), 2 an error - printed as one
// line, "mmry: <what>", on stderr.

#include <cstdio>
#include <exception>
#include <string>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <mmry/error.hpp>
#include <mmry/version.hpp>

#include "backups.hpp"
#include "dispatch.hpp"
#include "output.hpp"
#include "request.hpp"

namespace {

using mmry_tool::request;

/// Options every command that opens a store takes.
void store_options(CLI::App& cmd, request& r, std::string& store) {
    cmd.add_option("STORE", store, "the store: a directory (mapped file) or shm:NAME")->required();
    cmd.add_option("--key-file", r.key_file,
                   "read the key (64 hex digits, 32 raw bytes, or the passphrase) from FILE; "
                   "else MMRY_KEY, else a prompt on the terminal");
}

void json_flag(CLI::App& cmd, request& r) {
    cmd.add_flag("--json", r.json, "print JSON (JSON Lines for listings)");
}

void progress_flags(CLI::App& cmd, request& r) {
    cmd.add_flag_callback(
        "--progress", [&r] { r.progress = true; },
        "show a progress bar even when stderr is not a terminal");
    cmd.add_flag_callback(
        "--no-progress", [&r] { r.progress = false; }, "never show a progress bar");
}

}  // namespace

int main(int argc, char** argv) {
    request r;
    std::string store, key;
    CLI::App app{"mmry " MMRY_VERSION_STRING
                 ": inspect and change mmry stores (mapped-file directories or shm:NAME)",
                 "mmry"};
    app.set_version_flag("--version", MMRY_VERSION_STRING);
    app.require_subcommand(1);

    auto* stat = app.add_subcommand("stat", "sizes, ratios, segments and usage of a store");
    store_options(*stat, r, store);
    json_flag(*stat, r);
    stat->add_option("--watch", r.watch_seconds, "print one line every SECONDS")
        ->check(CLI::PositiveNumber);
    stat->add_option("--count", r.watch_count, "with --watch: stop after N lines");

    auto* ls = app.add_subcommand("ls", "list keys (by prefix, key range or tag)");
    store_options(*ls, r, store);
    json_flag(*ls, r);
    ls->add_option("PREFIX", r.prefix, "only keys starting with PREFIX");
    ls->add_flag("-l,--long", r.long_format, "sizes, version, time, content type and tags");
    ls->add_option("--tag", r.tag, "only entries with this tag");
    ls->add_option("--range", r.key_range, "keys in [FROM, TO)")->type_size(2);

    auto* get = app.add_subcommand("get", "write a value to stdout or a file");
    store_options(*get, r, store);
    get->add_option("KEY", key, "the key")->required();
    get->add_option("-o,--output", r.output, "write to FILE (default: stdout)");
    get->add_option("--range", r.byte_range, "bytes [OFF, OFF + LEN) only")->type_size(2);
    get->add_option("--version", r.version, "that version (stores that keep history)");

    auto* put = app.add_subcommand("put", "store a value from a file or stdin");
    store_options(*put, r, store);
    json_flag(*put, r);
    put->add_option("KEY", key, "the key")->required();
    put->add_option("FILE", r.input, "read the value from FILE (default or -: stdin)");
    put->add_option("--tag", r.tags, "a tag (repeat for more)");
    put->add_option("--content-type", r.content_type, "a media type, e.g. application/json");
    put->add_option("--attribute", r.attributes, "NAME=VALUE (repeat for more)");
    put->add_flag("--if-absent", r.if_absent, "only when the key has no value (else exit 2)");
    put->add_option("--if-version", r.if_version, "only when the key is at version N");

    auto* rm = app.add_subcommand("rm", "erase keys");
    store_options(*rm, r, store);
    json_flag(*rm, r);
    rm->add_option("KEY", r.keys, "keys to erase")->required();
    rm->add_option("--version", r.version, "erase that version only (stores that keep history)");

    auto* history = app.add_subcommand("history", "the kept versions of a key");
    store_options(*history, r, store);
    json_flag(*history, r);
    history->add_option("KEY", key, "the key")->required();

    auto* dump = app.add_subcommand("dump", "write every record as stored to a portable stream");
    store_options(*dump, r, store);
    json_flag(*dump, r);
    progress_flags(*dump, r);
    dump->add_option("PREFIX", r.prefix, "only keys starting with PREFIX");
    dump->add_flag("--records", r.records,
                   "records as stored (compressed, encrypted): only this store takes them back");
    dump->add_option("-o,--output", r.output, "write to FILE (default: stdout, not a terminal)");

    auto* load = app.add_subcommand("load", "put back the records of a dump");
    store_options(*load, r, store);
    json_flag(*load, r);
    progress_flags(*load, r);
    load->add_option("FILE", r.input, "the dump (default or -: stdin)");

    auto* verify = app.add_subcommand("verify", "decode and check every record, chunk and counter");
    store_options(*verify, r, store);
    json_flag(*verify, r);
    progress_flags(*verify, r);

    auto* compact = app.add_subcommand(
        "compact",
        "move what lies at the end of the store into its free pages, and give the rest "
        "back to the system");
    store_options(*compact, r, store);
    json_flag(*compact, r);

    auto* repair = app.add_subcommand(
        "repair",
        "act on what verify finds: damaged records to the quarantine, unnamed chunks freed, "
        "counts and counters set to what the store holds");
    store_options(*repair, r, store);
    json_flag(*repair, r);

    auto* quarantine = app.add_subcommand(
        "quarantine", "list what repair took out of the store; export or drop an item of it");
    store_options(*quarantine, r, store);
    json_flag(*quarantine, r);
    auto* export_item =
        quarantine->add_option("--export", r.export_item, "write item ID's bytes as stored");
    quarantine->add_option("-o,--output", r.output, "write to FILE (default: stdout)");
    quarantine->add_option("--drop", r.drop_item, "free item ID")->excludes(export_item);

    auto* backup = app.add_subcommand(
        "backup", "back the store up into a repository (only what the repository lacks)");
    store_options(*backup, r, store);
    json_flag(*backup, r);
    backup->add_option("REPO", r.repository, "the backup repository (a directory)")->required();
    backup->add_flag("--no-sync", r.no_sync,
                     "do not flush the files written (faster; no power-cut promise)");

    auto* restore = app.add_subcommand("restore", "make a store from a backup");
    restore->add_option("REPO", r.repository, "the backup repository")->required();
    store_options(*restore, r, store);
    json_flag(*restore, r);
    restore->add_option("--number", r.backup_number, "that backup (mmry backups lists them)");
    restore->add_option("--as-of-sequence", r.as_of_sequence,
                        "the latest backup whose sequence is at most this");
    restore->add_flag("--replace", r.replace, "remove a store of that name first");
    restore->add_option("--index", r.restore_index,
                        "hashed or ordered (default: the backed-up store's)");

    std::string repo_only;
    auto* backups = app.add_subcommand("backups", "list the backups of a repository");
    backups->add_option("REPO", repo_only, "the backup repository")->required();
    json_flag(*backups, r);
    auto* prune = app.add_subcommand("prune", "remove old backups and the pieces only they held");
    prune->add_option("REPO", repo_only, "the backup repository")->required();
    json_flag(*prune, r);
    prune->add_option("--keep-last", r.keep_last, "the latest N backups");
    prune->add_option("--keep-daily", r.keep_daily, "the latest backup of each of N days");
    prune->add_option("--keep-weekly", r.keep_weekly, "... of each of N weeks");
    prune->add_option("--keep-monthly", r.keep_monthly, "... of each of N months");
    auto* check = app.add_subcommand("check-backups", "read and check every piece of every backup");
    check->add_option("REPO", repo_only, "the backup repository")->required();
    json_flag(*check, r);

    auto* create = app.add_subcommand("create", "make a new store of built-in policies");
    store_options(*create, r, store);
    json_flag(*create, r);
    auto& c = r.composition;
    create->add_option("--index", c.index, "hashed or ordered")->capture_default_str();
    create->add_option("--compressor", c.compressor, "none, zstd or adaptive")
        ->capture_default_str();
    create->add_option("--cipher", c.cipher, "none, aes256_gcm or xchacha20_poly1305")
        ->capture_default_str();
    create
        ->add_option("--path", c.path,
                     "latest, versioned, temporal-{year,month,day,hour,minute,second}")
        ->capture_default_str();
    create->add_option("--fold", c.fold, "none or cdc")->capture_default_str();
    create->add_option("--capacity", r.capacity, "bytes of the first segment")
        ->capture_default_str();
    create->add_option("--max-size", r.max_size, "ceiling on all segments (0: none)");
    create
        ->add_option("--durability", r.durability,
                     "what a commit promises across a power cut: none, periodic or sync "
                     "(mapped-file stores; docs/DURABILITY.md)")
        ->check(CLI::IsMember({"none", "periodic", "sync"}))
        ->capture_default_str();
    create->add_option("--flush-interval", r.flush_seconds, "seconds between periodic flushes")
        ->check(CLI::Range(0.001, 86400.0))
        ->capture_default_str();
    create->add_flag("--passphrase", r.passphrase_key,
                     "the key is a passphrase (scrypt), not 64 hex digits");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? 0 : mmry_tool::failed;
    }
    r.command = app.get_subcommands().front()->get_name();
    if (!key.empty()) r.keys.push_back(key);
    if (!repo_only.empty()) {  // commands on a repository alone
        try {
            r.repository = repo_only;
            return mmry_tool::repository_command(r);
        } catch (const std::exception& e) {
            fmt::print(stderr, "mmry: {}\n", mmry_tool::reason(e));
            return mmry_tool::failed;
        }
    }
    try {
        r.store = mmry_tool::parse_location(store);
        return mmry_tool::dispatch(r);
    } catch (const mmry_tool::missing& e) {
        fmt::print(stderr, "mmry: store {}: {}\n", store, e.what());
        return mmry_tool::not_found;
    } catch (const std::exception& e) {
        // mmry's messages name the store already; others get it here.
        const std::string what = mmry_tool::reason(e);
        if (what.find(store) != std::string::npos)
            fmt::print(stderr, "mmry: {}\n", what);
        else
            fmt::print(stderr, "mmry: store {}: {}\n", store, what);
        return mmry_tool::failed;
    }
}
