#pragma once
// Helpers of the tests of the page layer (test_pages, test_page_index): a unique place for a page
// store, options with small segments, and a check() result required clean.

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <type_traits>

#include <catch2/catch.hpp>

#include <mmry/detail/pages/page_store.hpp>

namespace mmry_test {

namespace pg = mmry::detail::pages;

/// A unique name for a page store of Backend, removed (with its directory) at scope exit.
template <class Backend>
class page_place {
  public:
    page_place() {
        static int counter = 0;
        const std::string unique =
            "mmry-pages-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
        if constexpr (std::is_same_v<Backend, pg::file_backend>) {
            dir_ = (std::filesystem::temp_directory_path() / unique).string();
            name_ = dir_ + "/store";
        } else {
            name_ = unique;
        }
    }
    ~page_place() {
        if constexpr (Backend::named) pg::page_store<Backend>::remove(name_);
        if (!dir_.empty()) std::filesystem::remove_all(dir_);
    }
    page_place(const page_place&) = delete;
    page_place& operator=(const page_place&) = delete;
    const std::string& name() const { return name_; }

  private:
    std::string dir_, name_;
};

/// Options with segments of `bytes`, so that tests cross segments soon.
inline pg::page_store_options segments_of(std::uint64_t bytes) {
    pg::page_store_options o;
    o.segment_bytes = bytes;
    return o;
}

/// Requires a check() that found nothing, showing the first problem otherwise.
inline void require_clean(const pg::page_check& c) {
    INFO((c.problems.empty() ? std::string() : c.problems.front()));
    REQUIRE(c.ok());
}

}  // namespace mmry_test
