// Must NOT compile: an arena whose named backend cannot remove a segment (no unlink(obj) that
// returns bool without throwing). tests/CMakeLists.txt checks that the compiler's message names
// the missing member.
#include <string>

#include <mmry/store.hpp>

#include "../custom_policies.hpp"

struct backend : custom::directory_backend {
    static void unlink(const std::string&);
};
struct arena : custom::directory {
    using backend = ::backend;
};
struct traits : mmry::default_traits {
    using arena = ::arena;
};

int main() {
    auto s = mmry::basic_store<traits>::create("/dev/shm/never-made");
}
