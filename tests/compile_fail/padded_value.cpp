// Must NOT compile: the built-in codec refuses a trivially copyable type with padding bytes (its
// padding would reach the store as uninitialised memory). tests/CMakeLists.txt checks that the
// compiler stops here with mmry's message, not somewhere else.
#include <cstdint>

#include <mmry/store.hpp>

struct padded {
    char flag;
    std::int64_t count;
};

int main() {
    mmry::store s;
    s.put("p", padded{1, 2});
}
