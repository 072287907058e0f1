// From a store's header to one of the tool's 32 compositions: check that every policy is one
// the tool knows, bind the run-time policies (policies.hpp), take the key, and run the command.

#include "dispatch.hpp"

#include <array>
#include <filesystem>
#include <string>

#include <mmry/backup.hpp>
#include <mmry/error.hpp>
#include <mmry/inspect.hpp>

#include "compositions.hpp"
#include "keys.hpp"

namespace mmry_tool {
namespace {

using mmry::format::builtin_policy_name;
using mmry::format::fingerprint;

constexpr std::size_t arena_role = 0, index_role = 1, compressor_role = 2, cipher_role = 3,
                      path_role = 4, fold_role = 5;

using runner = int (*)(const request&, const opening&);

// In the order of MMRY_TOOL_ALL_COMPOSITIONS: arena, index, cipher, path, fold; plain first.
#define X(A, I, C, P, F) &run_with<tool_traits<A, I, C, P, F>>,
constexpr std::array<runner, 32> runners = {MMRY_TOOL_ALL_COMPOSITIONS};
#undef X

[[noreturn]] void refuse(const request& r, std::size_t role, std::uint8_t id,
                         const std::string& why) {
    throw mmry::error(mmry::errc::policy_mismatch,
                      "store " + r.store.shown + " uses " + fingerprint::roles[role] + " " +
                          mmry::format::describe_policy(role, id) + ": " + why);
}

/// Binds any_history_path to the layout whose check value the header holds; its name, or throws.
std::string bind_path(const request& r, const fingerprint& f) {
    const auto id = f.ids[path_role];
    if (id == 0) return "latest";
    if (id != 1 && id != 2)
        refuse(r, path_role, id,
               "the tool opens stores of the built-in path policies latest, versioned and "
               "temporal only (a custom or multi path is code of the program that made it)");
    any_history_path::id = id;
    any_history_path::name = builtin_policy_name(path_role, id);
    for (int l = 0; l < any_history_path::layout_count; ++l) {
        if ((l == 0) != (id == 1)) continue;  // layout 0 is versioned, the others temporal
        any_history_path::layout = l;
        if (fingerprint::layout_of<any_history_path>() == f.layout)
            return std::string(any_history_path::describe(l));
    }
    refuse(r, path_role, id,
           "its layout (a prefix or suffix of the program's own) is not one the tool knows: "
           "versioned_with<\"v\", \"/\"> or temporal_with<granularity> without a prefix");
}

/// Checks the ids the header names and binds the run-time policies; returns the runner.
runner choose(const request& r, const fingerprint& f, std::string& layout) {
    const auto& ids = f.ids;
    const std::uint8_t arena = r.store.arena == location::kind::mapped_file ? 3 : 2;
    if (ids[arena_role] != arena)
        refuse(r, arena_role, ids[arena_role], "not the arena its location says");
    if (ids[index_role] != 1 && ids[index_role] != 2)
        refuse(r, index_role, ids[index_role], "the tool knows hashed and ordered");
    if (ids[compressor_role] > 2)
        refuse(r, compressor_role, ids[compressor_role], "the tool knows none, zstd, adaptive");
    if (ids[cipher_role] > 2)
        refuse(r, cipher_role, ids[cipher_role],
               "the tool knows none, aes256_gcm, xchacha20_poly1305");
    if (ids[fold_role] > 1) refuse(r, fold_role, ids[fold_role], "the tool knows none and cdc");
    any_compressor::id = ids[compressor_role];
    any_compressor::name = builtin_policy_name(compressor_role, ids[compressor_role]);
    if (ids[cipher_role] != 0) {
        any_aead::id = ids[cipher_role];
        any_aead::name = builtin_policy_name(cipher_role, ids[cipher_role]);
    }
    layout = bind_path(r, f);
    const std::size_t at = (r.store.arena == location::kind::mapped_file ? 0 : 16) +
                           (ids[index_role] == 2 ? 8 : 0) + (ids[cipher_role] != 0 ? 4 : 0) +
                           (ids[path_role] != 0 ? 2 : 0) + (ids[fold_role] != 0 ? 1 : 0);
    return runners[at];
}

std::uint8_t id_of(const request& r, std::size_t role, const std::string& name) {
    for (std::uint8_t id = 0; id < 5; ++id)
        if (!name.empty() && builtin_policy_name(role, id) == name) return id;
    throw mmry::error(mmry::errc::invalid_argument, r.command + " " + r.store.shown + ": no " +
                                                        fingerprint::roles[role] + " named '" +
                                                        name + "'");
}

/// The header `create` will write, as far as choose() reads it.
fingerprint planned(const request& r) {
    const auto& c = r.composition;
    fingerprint f;
    f.ids[arena_role] = r.store.arena == location::kind::mapped_file ? 3 : 2;
    f.ids[index_role] = id_of(r, index_role, c.index);
    f.ids[compressor_role] = id_of(r, compressor_role, c.compressor);
    f.ids[cipher_role] = id_of(r, cipher_role, c.cipher);
    f.ids[fold_role] = id_of(r, fold_role, c.fold);
    // "versioned", "latest", or "temporal-<granularity>".
    constexpr std::string_view granularities[] = {"year", "month",  "day",
                                                  "hour", "minute", "second"};
    if (c.path == "latest" || c.path == "versioned") {
        f.ids[path_role] = id_of(r, path_role, c.path);
        any_history_path::layout = 0;
    } else {
        int g = -1;
        for (int i = 0; i < 6; ++i)
            if (c.path == "temporal-" + std::string(granularities[i])) g = i;
        if (c.path == "temporal") g = 3;
        if (g < 0)
            throw mmry::error(mmry::errc::invalid_argument,
                              "create " + r.store.shown + ": no path named '" + c.path +
                                  "' (latest, versioned, temporal[-year|-month|-day|-hour|"
                                  "-minute|-second])");
        f.ids[path_role] = 2;
        any_history_path::layout = 1 + g;
    }
    any_history_path::id = f.ids[path_role];
    f.layout = fingerprint::layout_of<any_history_path>();
    return f;
}

}  // namespace

location parse_location(const std::string& text) {
    location l;
    l.shown = text;
    if (text.starts_with("shm:")) {
        l.arena = location::kind::shared_memory;
        l.name = text.substr(4);
    } else {
        l.name = text.starts_with("file:") ? text.substr(5) : text;
    }
    if (l.name.empty())
        throw mmry::error(mmry::errc::invalid_argument,
                          "no store named: give a directory, or shm:NAME for shared memory");
    return l;
}

int dispatch(const request& r) {
    opening o;
    if (r.command == "create") {
        o.header.policies = planned(r);
        o.header.passphrase = r.passphrase_key;
    } else if (r.command == "restore") {
        // The backed-up store's composition, in the arena the target names (and the index asked
        // for, if any).
        mmry::detail::backup::repository repo(r.repository, false);
        o.header = mmry::format::store_header::parse(repo.store_header(), r.repository);
        o.header.policies.ids[arena_role] = r.store.arena == location::kind::mapped_file ? 3 : 2;
        if (!r.restore_index.empty())
            o.header.policies.ids[index_role] = id_of(r, index_role, r.restore_index);
    } else if (r.store.arena == location::kind::mapped_file) {
        if (!std::filesystem::exists(r.store.name))
            throw mmry::error(mmry::errc::not_found,
                              "store " + r.store.shown + " does not exist (no such directory)");
        o.header = mmry::inspect<mmry::arena::mapped_file>(r.store.name);
    } else {
        o.header = mmry::inspect<mmry::arena::shared_memory>(r.store.name);
    }
    const auto run = choose(r, o.header.policies, o.layout);
    if (o.header.policies.ids[cipher_role] != 0) o.key = key_for(r, o.header.passphrase);
    return run(r, o);
}

}  // namespace mmry_tool
