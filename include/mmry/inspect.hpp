#pragma once
// mmry::inspect<Arena>(name): what a shared store is made of, read from its header without
// knowing its composition and without its key. Tools that open any store (the `mmry` command)
// read this first, then open the store with the policies it names.
//
// Thread-safety: any number of threads and processes, also while others use the store; it reads
// the header only (no lock is taken; the header does not change after creation).
// Throws: errc::not_found when there is no such store, errc::corrupt when its header is damaged or
// it is not an mmry store, errc::version_mismatch for another store format, errc::io_error when
// it cannot be read. Cost: mapping segment 0 and checking 88 bytes.
// Opening the page store this way takes nothing but a moment (no lock, no write), except the
// first open after a reboot, which resets the lock words as any open would.

#include <cstdint>
#include <string>
#include <string_view>

#include <mmry/concepts.hpp>
#include <mmry/detail/pages/page_store.hpp>
#include <mmry/format/store_header.hpp>

namespace mmry {
inline namespace v1 {

/// A store's header: its six policy ids (format::store_header::policies, with
/// format::builtin_policy_name for their names), the path layout check, frame size, whether its
/// key is a passphrase (and the scrypt parameters), and the store id.
template <class Arena>
requires(arena_policy<Arena>&& Arena::shared) format::store_header inspect(std::string_view name) {
    detail::pages::page_store<typename Arena::backend> pages(detail::pages::open,
                                                             std::string(name));
    auto h = format::store_header::parse(pages.header_bytes(), name);
    for (std::size_t i = 0; i < h.policies.names.size(); ++i)
        h.policies.names[i] = format::builtin_policy_name(i, h.policies.ids[i]);
    return h;
}

}  // namespace v1
}  // namespace mmry
