#pragma once
// Pieces of the index policies: the stored-key string type (allocator-aware, so that an index
// can live in a shared segment) and transparent ordering over string_view.

#include <cstddef>
#include <memory>
#include <string_view>

#include <boost/container/string.hpp>

namespace mmry {
inline namespace v1 {
namespace index::detail {

template <class Alloc>
using key_string = boost::container::basic_string<
    char, std::char_traits<char>,
    typename std::allocator_traits<Alloc>::template rebind_alloc<char>>;

template <class S>
std::string_view view(const S& s) noexcept {
    return {s.data(), s.size()};
}

struct key_less {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const noexcept {
        return view(a) < view(b);
    }
};

}  // namespace index::detail
}  // namespace v1
}  // namespace mmry
