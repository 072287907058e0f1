#pragma once
// arena::shared_memory: the store's pages live in named POSIX shared memory objects, one per
// segment ("/<name>.p0000", "/<name>.p0001", ... under /dev/shm), shared by every process that
// opens the store by name. They last until remove() or a reboot. Created 0600 unless
// options.mode says otherwise.
//
// A store object must not be carried across fork(): the child opens the store again.
// Throws: errc::invalid_argument for a name that is not 1-200 characters of [A-Za-z0-9._-].

#include <cstdint>
#include <string>
#include <string_view>

#include <mmry/concepts.hpp>
#include <mmry/detail/describe.hpp>
#include <mmry/detail/pages/page_segments.hpp>
#include <mmry/error.hpp>

namespace mmry {
inline namespace v1 {
namespace arena {

struct shared_memory {
    static constexpr std::uint8_t id = 2;
    static constexpr std::string_view name = "shared_memory";
    static constexpr bool shared = true;
    using backend = detail::pages::shm_backend;
    static void check_name(std::string_view n) {
        if (n.empty() || n.size() > 200 ||
            n.find_first_not_of(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") !=
                std::string_view::npos)
            throw error(errc::invalid_argument, "shared memory store name " + detail::quote(n) +
                                                    " is not 1-200 characters of [A-Za-z0-9._-]");
    }
};

}  // namespace arena

static_assert(arena_policy<arena::shared_memory>);

}  // namespace v1
}  // namespace mmry
