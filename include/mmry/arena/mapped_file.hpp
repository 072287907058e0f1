#pragma once
// arena::mapped_file: the store's pages live in a directory of memory-mapped segment files
// ("<dir>/pages-0000.mmry", "<dir>/pages-0001.mmry", ...), shared by every process that opens
// the store and still there after they all exit or the machine reboots. Files are created 0600
// (the directory 0700) unless options.mode says otherwise. What survives a power cut is the
// store's durability level (options.durability, docs/DURABILITY.md): with `sync` every commit
// that returned; with `periodic` all but the last interval; with `none` (the default) nothing
// is promised, though a process killed at any instruction never costs more than its own write.
//
// A store object must not be carried across fork(): the child opens the store again.
// Throws: errc::invalid_argument for an empty name.

#include <cstdint>
#include <string>
#include <string_view>

#include <mmry/concepts.hpp>
#include <mmry/detail/pages/page_segments.hpp>
#include <mmry/error.hpp>

namespace mmry {
inline namespace v1 {
namespace arena {

struct mapped_file {
    static constexpr std::uint8_t id = 3;
    static constexpr std::string_view name = "mapped_file";
    static constexpr bool shared = true;
    using backend = detail::pages::file_backend;
    static void check_name(std::string_view n) {
        if (n.empty())
            throw error(errc::invalid_argument, "a mapped-file store needs a directory name");
    }
};

}  // namespace arena

static_assert(arena_policy<arena::mapped_file>);

}  // namespace v1
}  // namespace mmry
