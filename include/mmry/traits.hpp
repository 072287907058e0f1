#pragma once
// default_traits: the composition a store gets when it names no policy, and the base users derive
// their own traits from, overriding only the policies they change.

#include <mmry/arena/heap.hpp>
#include <mmry/cipher/none.hpp>
#include <mmry/compress/zstd.hpp>
#include <mmry/concepts.hpp>
#include <mmry/fold/none.hpp>
#include <mmry/index/hashed.hpp>
#include <mmry/path/latest.hpp>

namespace mmry {
inline namespace v1 {

struct default_traits {
    using arena = mmry::arena::heap;
    using index = mmry::index::hashed;
    using compressor = mmry::compress::zstd<3>;
    using cipher = mmry::cipher::none;
    using path = mmry::path::latest;
    using fold = mmry::fold::none;
};

static_assert(store_traits<default_traits>);

}  // namespace v1
}  // namespace mmry
