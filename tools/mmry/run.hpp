#pragma once
// run_with<Traits>: open the store (or create it) with one composition and run the command.
// Included by the compositions_*.cpp files only, which instantiate it.

#include <utility>

#include <mmry/store.hpp>

#include "commands.hpp"
#include "compositions.hpp"

namespace mmry_tool {

template <class Traits>
int run_with(const request& r, const opening& o) {
    using store = mmry::basic_store<Traits>;
    mmry::options opts;
    opts.key = o.key;
    opts.cache_bytes = 0;  // one pass over the data: a cache would only cost memory
    if (r.command == "load")
        opts.clock = [] {
            return load_clock.time_since_epoch().count() != 0 ? load_clock
                                                              : std::chrono::system_clock::now();
        };
    if (r.command == "create") {
        opts.capacity = r.capacity;
        opts.max_size = r.max_size;
        opts.durability = r.durability == "sync"       ? mmry::durability::sync
                          : r.durability == "periodic" ? mmry::durability::periodic
                                                       : mmry::durability::none;
        opts.flush_interval =
            std::chrono::milliseconds(static_cast<std::int64_t>(r.flush_seconds * 1000));
        auto s = store::create(r.store.name, std::move(opts));
        return commands<store>(s, r, o.header, o.layout).run();
    }
    if (r.command == "restore") {
        auto s = store::restore(r.repository, r.store.name, std::move(opts), restore_options(r));
        return commands<store>(s, r, o.header, o.layout).run();
    }
    auto s = store::open(r.store.name, std::move(opts));
    return commands<store>(s, r, o.header, o.layout).run();
}

}  // namespace mmry_tool
