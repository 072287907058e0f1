#pragma once
// arena::shared_memory: the store lives in named POSIX shared memory objects, one per segment
// ("mmry.<name>.<k>" under /dev/shm), and is shared by every process that opens it by name. It
// lasts until remove() or a reboot. Created 0600 unless options.mode says otherwise.
//
// Thread-safety and growth: see detail/segment_arena.hpp. A store object must not be carried
// across fork(): the child opens the store again.
// Throws: errc::already_exists (create), errc::not_found (open), errc::invalid_argument for a name
// that is not 1-200 characters of [A-Za-z0-9._-], errc::io_error when the system refuses.

#include <fcntl.h>
#include <sys/mman.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/interprocess/exceptions.hpp>
#include <boost/interprocess/indexes/iset_index.hpp>
#include <boost/interprocess/managed_shared_memory.hpp>
#include <boost/interprocess/mem_algo/rbtree_best_fit.hpp>
#include <boost/interprocess/permissions.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <boost/interprocess/sync/mutex_family.hpp>

#include <mmry/concepts.hpp>
#include <mmry/detail/segment_arena.hpp>
#include <mmry/detail/segment_file.hpp>
#include <mmry/error.hpp>

namespace mmry {
inline namespace v1 {
namespace detail {

/// Maps a Boost.Interprocess exception to mmry's error, naming what was being done.
inline error from_interprocess(const boost::interprocess::interprocess_exception& e,
                               const std::string& what) {
    namespace bip = boost::interprocess;
    const errc code = e.get_error_code() == bip::already_exists_error ? errc::already_exists
                      : e.get_error_code() == bip::not_found_error    ? errc::not_found
                                                                      : errc::io_error;
    return error(code, what + ": " + e.what());
}

/// Runs f, turning a Boost.Interprocess exception into mmry::error about `what`.
template <class F>
auto interprocess_call(const std::string& what, F&& f) {
    try {
        return f();
    } catch (const boost::interprocess::interprocess_exception& e) {
        throw from_interprocess(e, what);
    }
}

struct shm_backend {
    using managed = boost::interprocess::basic_managed_shared_memory<
        char, boost::interprocess::rbtree_best_fit<boost::interprocess::null_mutex_family>,
        boost::interprocess::iset_index>;

    static std::string segment_name(const std::string& name, std::uint32_t k) {
        if (name.empty() || name.size() > 200 ||
            name.find_first_not_of(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") !=
                std::string::npos)
            throw error(errc::invalid_argument, "shared memory store name " + quote(name) +
                                                    " must be 1-200 characters of [A-Za-z0-9._-]");
        return "mmry." + name + "." + std::to_string(k);
    }
    /// Creates the segment with every page of it reserved in /dev/shm (so that a full /dev/shm
    /// is an error here, never a SIGBUS later).
    static managed create(const std::string& seg, std::size_t size, unsigned mode) {
        namespace bip = boost::interprocess;
        const std::string what = "shared memory segment " + quote(seg);
        const std::string object = "/" + seg, scratch = "/" + seg + ".reserve";
        return create_reserved(
            size, what,
            [&] {
                return interprocess_call("creating " + what, [&] {
                    return managed(bip::create_only, seg.c_str(), size, nullptr,
                                   bip::permissions(mode));
                });
            },
            [&] { return ::shm_open(object.c_str(), O_RDWR | O_CLOEXEC, 0); },
            [&] {
                return ::shm_open(scratch.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
            },
            [&] { ::shm_unlink(scratch.c_str()); }, [&] { remove(seg); });
    }
    /// Opens the segment, refusing in bounded time one that is truncated or never finished.
    static managed open(const std::string& seg,
                        std::chrono::milliseconds patience = std::chrono::seconds(2)) {
        const std::string what = "shared memory segment " + quote(seg);
        const std::string object = "/" + seg;
        return open_checked(
            what, patience, [&] { return ::shm_open(object.c_str(), O_RDONLY | O_CLOEXEC, 0); },
            [&] {
                return interprocess_call("opening " + what, [&] {
                    return managed(boost::interprocess::open_only, seg.c_str());
                });
            });
    }
    static bool remove(const std::string& seg) {
        return boost::interprocess::shared_memory_object::remove(seg.c_str());
    }
    static bool exists(const std::string& seg) {
        namespace bip = boost::interprocess;
        try {
            bip::shared_memory_object probe(bip::open_only, seg.c_str(), bip::read_only);
            return true;
        } catch (const bip::interprocess_exception&) {
            return false;
        }
    }
    static void remove_store(const std::string&) {}
};

}  // namespace detail

namespace arena {

class shared_memory : public detail::segment_arena<detail::shm_backend> {
  public:
    static constexpr std::uint8_t id = 2;
    static constexpr std::string_view name = "shared_memory";
    static constexpr bool shared = true;
    using segment_arena::segment_arena;
};

}  // namespace arena

static_assert(arena_policy<arena::shared_memory>);

}  // namespace v1
}  // namespace mmry
