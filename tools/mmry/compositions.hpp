#pragma once
// The compositions the tool opens: 32 store types (see policies.hpp for why not 432), and the
// function each one is run through. compositions_<arena>_<index>.cpp instantiate them, eight per
// file, so that the build spreads over cores; dispatch.cpp picks one from a store's header.

#include <memory>
#include <string>

#include <mmry/arena/mapped_file.hpp>
#include <mmry/arena/shared_memory.hpp>
#include <mmry/cipher/none.hpp>
#include <mmry/fold/cdc.hpp>
#include <mmry/fold/none.hpp>
#include <mmry/format/store_header.hpp>
#include <mmry/index/hashed.hpp>
#include <mmry/index/ordered.hpp>
#include <mmry/key.hpp>
#include <mmry/path/latest.hpp>

#include "policies.hpp"
#include "request.hpp"

namespace mmry_tool {

template <class Arena, class Index, class Cipher, class Path, class Fold>
struct tool_traits {
    using arena = Arena;
    using index = Index;
    using compressor = any_compressor;
    using cipher = Cipher;
    using path = Path;
    using fold = Fold;
};

/// What dispatch found out before opening: the header, the key, and the path layout's name.
struct opening {
    mmry::format::store_header header;
    mmry::key key;
    std::string layout;
};

/// Opens (or, for `create`, creates) the store with composition Traits and runs the command.
template <class Traits>
int run_with(const request& r, const opening& o);

/// X(arena, index, cipher, path, fold) for the eight compositions of one arena and index; the
/// order (cipher, then path, then fold, each plain first) is dispatch.cpp's table order.
#define MMRY_TOOL_COMPOSITIONS(Arena, Index)                                   \
    X(Arena, Index, mmry::cipher::none, mmry::path::latest, mmry::fold::none)  \
    X(Arena, Index, mmry::cipher::none, mmry::path::latest, mmry::fold::cdc<>) \
    X(Arena, Index, mmry::cipher::none, any_history_path, mmry::fold::none)    \
    X(Arena, Index, mmry::cipher::none, any_history_path, mmry::fold::cdc<>)   \
    X(Arena, Index, any_aead, mmry::path::latest, mmry::fold::none)            \
    X(Arena, Index, any_aead, mmry::path::latest, mmry::fold::cdc<>)           \
    X(Arena, Index, any_aead, any_history_path, mmry::fold::none)              \
    X(Arena, Index, any_aead, any_history_path, mmry::fold::cdc<>)

#define MMRY_TOOL_ALL_COMPOSITIONS                                          \
    MMRY_TOOL_COMPOSITIONS(mmry::arena::mapped_file, mmry::index::hashed)   \
    MMRY_TOOL_COMPOSITIONS(mmry::arena::mapped_file, mmry::index::ordered)  \
    MMRY_TOOL_COMPOSITIONS(mmry::arena::shared_memory, mmry::index::hashed) \
    MMRY_TOOL_COMPOSITIONS(mmry::arena::shared_memory, mmry::index::ordered)

#define X(A, I, C, P, F) \
    extern template int run_with<tool_traits<A, I, C, P, F>>(const request&, const opening&);
MMRY_TOOL_ALL_COMPOSITIONS
#undef X

}  // namespace mmry_tool
