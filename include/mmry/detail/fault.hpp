#pragma once
// A test seam: named points in the write path where a test can make the process die (or do
// anything else) to prove that other processes carry on. One relaxed atomic load when unused.

#include <atomic>
#include <string_view>

namespace mmry {
inline namespace v1 {
namespace detail {

using fault_hook_fn = void (*)(std::string_view point);
inline std::atomic<fault_hook_fn> fault_hook{nullptr};

inline void fault_point(std::string_view point) {
    if (auto hook = fault_hook.load(std::memory_order_relaxed)) hook(point);
}

}  // namespace detail
}  // namespace v1
}  // namespace mmry
