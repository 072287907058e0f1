#pragma once
// Helpers of the tests that share stores between processes (test_shared, test_segment_files):
// compositions over the shared arenas, and a unique place for a store that cleans up after itself.

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include <mmry/arena/mapped_file.hpp>
#include <mmry/arena/shared_memory.hpp>
#include <mmry/fold/cdc.hpp>
#include <mmry/path/versioned.hpp>
#include <mmry/store.hpp>

#include "support.hpp"

namespace mmry_test {

using shm = mmry::arena::shared_memory;
using file = mmry::arena::mapped_file;

template <class Arena, class Index = mmry_test::hashed, class Compressor = mmry_test::zstd3,
          class Cipher = mmry_test::no_cipher>
struct shared_traits : mmry::default_traits {
    using arena = Arena;
    using index = Index;
    using compressor = Compressor;
    using cipher = Cipher;
};

/// Values kept as they are: view() works on these.
template <class Arena>
using raw_traits =
    shared_traits<Arena, mmry_test::hashed, mmry_test::no_compression, mmry_test::no_cipher>;
/// Compressed and encrypted.
template <class Arena>
using sealed_traits = shared_traits<Arena, mmry_test::hashed, mmry_test::zstd3, mmry_test::aes>;

/// Compressed and encrypted, under the ordered index.
template <class Arena>
using sealed_ordered_traits =
    shared_traits<Arena, mmry_test::ordered, mmry_test::zstd3, mmry_test::aes>;
/// Every version kept, values folded into chunks: a put and an erase touch heads, stored keys and
/// chunk counts.
template <class Arena>
struct folded_history_traits : sealed_traits<Arena> {
    using path = mmry::path::versioned;
    using fold = mmry::fold::cdc<>;
};

/// Options of a test store of composition Traits with segments of `capacity` bytes, and a key when
/// it encrypts (one per composition for the whole run, so that every process of a test, forked
/// from it, holds the same).
template <class Traits>
mmry::options options_for(std::size_t capacity) {
    mmry::options o{.capacity = capacity};
    if constexpr (mmry_test::encrypted<Traits>) {
        static const mmry::key k = mmry::key::generate();
        o.key = k;
    }
    return o;
}

/// A unique place for one shared store; the store (every segment) and, for a mapped-file store,
/// its temporary directory are removed when the place goes.
template <class Arena>
class place {
  public:
    static constexpr bool files = std::is_same_v<Arena, file>;
    using any_store = mmry::basic_store<raw_traits<Arena>>;

    place() {
        static int counter = 0;
        const std::string unique =
            "mmry-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
        if constexpr (files) {
            std::string pattern = "/tmp/" + unique + "-XXXXXX";
            if (!::mkdtemp(pattern.data()))
                throw std::system_error(errno, std::generic_category(), "mkdtemp");
            dir_ = pattern;
            name_ = dir_ + "/store";
        } else {
            name_ = unique;
        }
    }
    ~place() {
        try {
            any_store::remove(name_);
        } catch (...) {
        }
        if (!dir_.empty()) {
            std::error_code ec;
            std::filesystem::remove_all(dir_, ec);
        }
    }
    place(const place&) = delete;
    place& operator=(const place&) = delete;

    const std::string& name() const { return name_; }

    /// The file that holds segment k: /dev/shm/<name>.p<kkkk> or <dir>/pages-<kkkk>.mmry.
    std::string segment_path(unsigned k) const {
        char file_name[32];
        if constexpr (files) {
            std::snprintf(file_name, sizeof file_name, "/pages-%04u.mmry", k);
            return name_ + file_name;
        } else {
            std::snprintf(file_name, sizeof file_name, ".p%04u", k);
            return "/dev/shm/" + name_ + file_name;
        }
    }
    /// The files of every segment there is now.
    std::vector<std::string> segment_paths() const {
        std::vector<std::string> out;
        for (unsigned k = 0; std::filesystem::exists(segment_path(k)); ++k)
            out.push_back(segment_path(k));
        return out;
    }

  private:
    std::string name_, dir_;
};

}  // namespace mmry_test
