// Composes the default store, puts a value and reads it back: exit code 0 when mmry works.
#include <mmry/mmry.hpp>

#include <string>

int main() {
    mmry::basic_store<mmry::default_traits> s;
    s.put("greeting", std::string("hello, mmry"));
    const auto v = s.get<std::string>("greeting");
    return v && *v == "hello, mmry" ? 0 : 1;
}
