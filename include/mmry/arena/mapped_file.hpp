#pragma once
// arena::mapped_file: the store lives in a directory of memory-mapped segment files
// ("<dir>/segment-0000.mmry", "<dir>/segment-0001.mmry", ...: the segment number in four digits),
// shared by every process that opens it and still there after they all exit, a clean close or a
// reboot. Files are created 0600 (the directory 0700) unless options.mode says otherwise.
// Durability across a machine crash is not promised here: pages reach the disk when the kernel
// writes them back (a journal comes later).
//
// Thread-safety and growth: see detail/segment_arena.hpp. A store object must not be carried
// across fork(): the child opens the store again.
// Throws: errc::already_exists (create), errc::not_found (open), errc::io_error when the system
// refuses.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include <boost/interprocess/exceptions.hpp>
#include <boost/interprocess/file_mapping.hpp>
#include <boost/interprocess/indexes/iset_index.hpp>
#include <boost/interprocess/managed_mapped_file.hpp>
#include <boost/interprocess/mem_algo/rbtree_best_fit.hpp>
#include <boost/interprocess/permissions.hpp>
#include <boost/interprocess/sync/mutex_family.hpp>

#include <mmry/arena/shared_memory.hpp>
#include <mmry/concepts.hpp>
#include <mmry/detail/segment_arena.hpp>
#include <mmry/detail/segment_file.hpp>
#include <mmry/error.hpp>

namespace mmry {
inline namespace v1 {
namespace detail {

struct file_backend {
    using managed = boost::interprocess::basic_managed_mapped_file<
        char, boost::interprocess::rbtree_best_fit<boost::interprocess::null_mutex_family>,
        boost::interprocess::iset_index>;

    static std::string segment_name(const std::string& dir, std::uint32_t k) {
        if (dir.empty())
            throw error(errc::invalid_argument, "a mapped-file store needs a directory path");
        char file[32];
        std::snprintf(file, sizeof file, "segment-%04u.mmry", k);
        return (std::filesystem::path(dir) / file).string();
    }
    /// Creates the segment file with every block of it allocated (posix_fallocate), so that a
    /// full file system is an error here, never a SIGBUS at a later page fault.
    static managed create(const std::string& file, std::size_t size, unsigned mode) {
        namespace bip = boost::interprocess;
        const auto dir = std::filesystem::path(file).parent_path();
        std::error_code ec;
        if (std::filesystem::create_directories(dir, ec))
            ::chmod(dir.c_str(), (mode & 0777) | ((mode & 0444) >> 2));  // x wherever r
        if (ec)
            throw error(errc::io_error,
                        "creating directory " + quote(dir.string()) + ": " + ec.message());
        const std::string what = "segment file " + quote(file);
        const std::string scratch = file + ".reserve";
        return create_reserved(
            size, what,
            [&] {
                return interprocess_call("creating " + what, [&] {
                    return managed(bip::create_only, file.c_str(), size, nullptr,
                                   bip::permissions(mode));
                });
            },
            [&] { return ::open(file.c_str(), O_RDWR | O_CLOEXEC); },
            [&] { return ::open(scratch.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600); },
            [&] { ::unlink(scratch.c_str()); }, [&] { remove(file); });
    }
    /// Opens the segment file, refusing in bounded time one that is truncated, never finished,
    /// or not ours to read.
    static managed open(const std::string& file,
                        std::chrono::milliseconds patience = std::chrono::seconds(2)) {
        const std::string what = "segment file " + quote(file);
        return open_checked(
            what, patience, [&] { return ::open(file.c_str(), O_RDONLY | O_CLOEXEC); },
            [&] {
                return interprocess_call("opening " + what, [&] {
                    return managed(boost::interprocess::open_only, file.c_str());
                });
            });
    }
    static bool remove(const std::string& file) {
        std::error_code ec;
        return std::filesystem::remove(file, ec);
    }
    static bool exists(const std::string& file) {
        std::error_code ec;
        return std::filesystem::exists(file, ec);
    }
    /// Removes the store's directory when nothing else is left in it.
    static void remove_store(const std::string& dir) {
        std::error_code ec;
        std::filesystem::remove(dir, ec);
    }
};

}  // namespace detail

namespace arena {

class mapped_file : public detail::segment_arena<detail::file_backend> {
  public:
    static constexpr std::uint8_t id = 3;
    static constexpr std::string_view name = "mapped_file";
    static constexpr bool shared = true;
    using segment_arena::segment_arena;
};

}  // namespace arena

static_assert(arena_policy<arena::mapped_file>);

}  // namespace v1
}  // namespace mmry
