// Must NOT compile: an index policy whose table has no erase(txn, key). tests/CMakeLists.txt
// checks that the compiler's message names the missing member.
#include <cstdint>
#include <string_view>

#include <mmry/store.hpp>

#include "../custom_policies.hpp"

struct without_erase : custom::entry_run {
    using entry_run::entry_run;
    template <class Txn>
    bool erase(Txn&, std::string_view, int) const;  // hides entry_run::erase(t, key)
};
struct broken {
    static constexpr std::uint8_t id = 212;
    static constexpr std::string_view name = "broken";
    static constexpr bool sorted = true;
    using table = without_erase;
};
struct traits : mmry::default_traits {
    using index = broken;
};

int main() {
    mmry::basic_store<traits> s;
}
