#pragma once
// What a store object holds, and how it comes to hold it: creating a store (header, root objects)
// or opening one (checking header, composition and key before touching anything).

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <cryptopp/osrng.h>
#include <cryptopp/secblock.h>
#include <boost/container/vector.hpp>
#include <boost/interprocess/creation_tags.hpp>

#include <mmry/codec/frame_codec.hpp>
#include <mmry/compress/dictionary.hpp>
#include <mmry/detail/arena_params.hpp>
#include <mmry/detail/describe.hpp>
#include <mmry/detail/fastcdc.hpp>
#include <mmry/detail/hash64.hpp>
#include <mmry/detail/history.hpp>
#include <mmry/detail/key_schedule.hpp>
#include <mmry/detail/value_cache.hpp>
#include <mmry/error.hpp>
#include <mmry/format/manifest.hpp>
#include <mmry/format/meta.hpp>
#include <mmry/format/record.hpp>
#include <mmry/format/store_header.hpp>
#include <mmry/options.hpp>

namespace mmry {
inline namespace v1 {
namespace detail {

inline constexpr std::size_t size_classes = 48;  // blocks of < 2^k bytes, k = 0..47
inline constexpr std::size_t level_slots = 256;  // frames by the signed level byte of their entry

/// What a chunk holds: bytes of values, or a piece of a manifest (format/manifest.hpp).
enum class chunk_kind : std::uint8_t { data = 0, piece = 1 };

/// A distinct chunk of folded values, filed under its reference (the first 16 bytes of its id):
/// its whole id, its record, what it holds, and how many manifest entries (of records or of
/// pieces) refer to it.
struct chunk_slot {
    record_ref ref;
    std::uint64_t refs = 0;
    format::hash_bytes id{};
    chunk_kind kind = chunk_kind::data;
};

/// A trained dictionary: its record (key "mmry.dictionary/<id>") and the records using it.
struct dictionary_slot {
    std::uint32_t id = 0;
    std::uint64_t bytes = 0;
    record_ref ref;
    std::uint64_t records = 0;
};

/// The key a dictionary's record is stored under.
inline std::string dictionary_key(std::uint32_t id) {
    return "mmry.dictionary/" + std::to_string(id);
}

/// A chunk's name in messages: the first 8 bytes of its reference, in hex.
inline std::string chunk_name(const format::chunk_reference& ref) {
    return hex(std::span<const std::byte>(ref).first(8));
}

/// The store's shared state, in segment 0 of its arena: the index and exact counters. Changed
/// only under the write lock; seq also by writers before they take it.
template <class IndexMap, class HeadMap, class ChunkMap, class Alloc>
struct store_root {
    using dictionary_alloc =
        typename std::allocator_traits<Alloc>::template rebind_alloc<dictionary_slot>;

    std::atomic<std::uint64_t> seq{0};
    std::uint64_t logical_bytes = 0, stored_bytes = 0, frames = 0, compressed_frames = 0;
    std::uint64_t puts = 0, erases = 0;
    std::uint64_t records = 0;  ///< records kept (a record filed under several stored keys: one)
    std::uint64_t folded_values = 0, folded_logical = 0;  ///< records holding a manifest
    std::uint64_t chunk_refs = 0, chunk_logical = 0, chunk_stored = 0, pieces = 0;
    std::uint64_t dictionary_stored = 0;
    std::uint64_t payload_bytes = 0;  ///< frames' stored bytes, of records and chunks
    std::array<std::uint64_t, size_classes> class_blocks{}, class_bytes{};
    std::array<std::uint64_t, level_slots> level_frames{};
    IndexMap index;   ///< stored key -> record
    HeadMap heads;    ///< logical key -> its versions (path policies with history only)
    ChunkMap chunks;  ///< chunk id -> chunk (fold::cdc only)
    boost::container::vector<dictionary_slot, dictionary_alloc> dictionaries;
    std::atomic<std::uint32_t> current_dictionary{0};  ///< 0: none
    /// The block a writer is copying a record into, between the update that allocated it and
    /// the one that links it (size 0: none). A writer that holds the lock and finds one set
    /// knows its writer died while copying, and frees it.
    handle pending_where{};
    std::uint64_t pending_size = 0;
    std::uint64_t pending_check = 0;  ///< pending_check_of(where, size): damaged bytes free nothing

    static std::uint64_t pending_check_of(handle where, std::uint64_t size) noexcept {
        const std::uint64_t words[2] = {where.raw(), size};
        return detail::hash64(std::string_view(reinterpret_cast<const char*>(words), sizeof words));
    }

    explicit store_root(const Alloc& alloc)
        : index(alloc), heads(alloc), chunks(alloc), dictionaries(dictionary_alloc(alloc)) {}
};

template <class Traits>
struct store_state {
    using arena_type = typename Traits::arena;
    using cipher_type = typename Traits::cipher;
    using allocator_type = typename arena_type::template allocator<char>;
    using index_map = typename Traits::index::template map<allocator_type>;
    using head_type = key_head<allocator_type>;
    using head_map = typename Traits::index::template map<allocator_type, head_type>;
    using chunk_map = typename Traits::index::template map<allocator_type, chunk_slot>;
    using root_type = store_root<index_map, head_map, chunk_map, allocator_type>;
    using codec_type = frame_codec<typename Traits::compressor, cipher_type>;
    using lock_type = typename arena_type::lock_type;
    static constexpr bool encrypted = cipher_type::tag_size > 0;

    std::string name;
    options opts;
    std::unique_ptr<arena_type> arena;  // declared first: destroyed last
    root_type* root;
    format::store_header header;
    codec_type codec;
    mutable lock_type lock;
    mutable value_cache cache;
    unsigned alerted = 0;            // the highest usage threshold this process has reported
    std::optional<fastcdc> chunker;  // fold::cdc only
    // Dictionaries this process has loaded, by id; never dropped (a store keeps every dictionary
    // it trained, so an id always names the same bytes).
    mutable std::mutex dictionaries_mutex;
    mutable std::map<std::uint32_t, std::shared_ptr<const compress::dictionary>> dictionaries;

    store_state(std::string n, options o, std::unique_ptr<arena_type> a, root_type* r,
                const format::store_header& h, CryptoPP::SecByteBlock master)
        : name(std::move(n))
        , opts(std::move(o))
        , arena(std::move(a))
        , root(r)
        , header(h)
        , codec(h.id, std::move(master), h.frame_size)
        , lock(arena->locks(), quote(name))
        , cache(opts.cache_bytes) {
        if constexpr (Traits::fold::id != 0)
            chunker.emplace(Traits::fold::min_size, Traits::fold::avg_size, Traits::fold::max_size,
                            gear_table(codec.gear_seed()));
    }

    static std::unique_ptr<store_state> create(std::string_view name, options opts) {
        check_options(opts);
        format::store_header h;
        CryptoPP::AutoSeededRandomPool rng;
        rng.GenerateBlock(reinterpret_cast<CryptoPP::byte*>(h.id.data()), h.id.size());
        rng.GenerateBlock(reinterpret_cast<CryptoPP::byte*>(h.salt.data()), h.salt.size());
        if (auto given = opts.key.salt(); given && given->size() == h.salt.size())
            std::copy(given->begin(), given->end(), h.salt.begin());
        h.policies = format::fingerprint::of<Traits>();
        h.frame_size = static_cast<std::uint32_t>(opts.frame_size);
        h.kdf = opts.key.params();
        h.passphrase = opts.key.is_passphrase();
        CryptoPP::SecByteBlock master;
        if constexpr (encrypted) {
            master = opts.key.material(h.salt);
            h.key_check = key_check(master, h.id);
        }
        auto arena = std::make_unique<arena_type>(boost::interprocess::create_only,
                                                  std::string(name), params(opts));
        try {
            h.write(arena->header_bytes());
            auto* root =
                arena->template construct_root<root_type>("mmry.root", arena->root_allocator());
            arena->publish();
            arena->attach();
            return std::make_unique<store_state>(std::string(name), std::move(opts),
                                                 std::move(arena), root, h, std::move(master));
        } catch (...) {
            if constexpr (arena_type::shared) {
                arena.reset();
                arena_type::remove(name);
            }
            throw;
        }
    }

    /// Opens an existing shared store. Nothing is written before the header, the composition and
    /// the key have been checked.
    static std::unique_ptr<store_state> open(std::string_view name, options opts) {
        auto arena = std::make_unique<arena_type>(boost::interprocess::open_only, std::string(name),
                                                  params(opts));
        const auto h = format::store_header::parse(arena->header_bytes(), name);
        h.check_policies(format::fingerprint::of<Traits>(), name);
        CryptoPP::SecByteBlock master;
        if constexpr (encrypted) {
            if (opts.key.empty())
                throw error(errc::invalid_argument, "store " + quote(name) +
                                                        " is encrypted with '" +
                                                        std::string(cipher_type::name) +
                                                        "': options.key is needed to open it");
            master = opts.key.material(h.salt, h.kdf);
            h.check_key(master, name);
        } else if (!opts.key.empty()) {
            throw error(errc::invalid_argument,
                        "options.key was given, but store " + quote(name) + " is not encrypted");
        }
        auto* root = arena->template find_root<root_type>("mmry.root");
        if (!root)
            throw error(errc::corrupt,
                        "store " + quote(name) + " has no root objects in segment 0");
        arena->attach();
        auto state = std::make_unique<store_state>(std::string(name), std::move(opts),
                                                   std::move(arena), root, h, std::move(master));
        // A store left half-changed by a writer that died is refused here, at open: taking the
        // read lock meets the dead writer's mutex, or the mark an earlier process left.
        state->lock.lock_shared();
        state->lock.unlock_shared();
        return state;
    }

  private:
    static arena_params params(const options& o) { return {o.capacity, o.max_size, o.mode}; }

    static void check_options(const options& opts) {
        if (opts.frame_size < format::min_frame_size || opts.frame_size > format::max_frame_size)
            throw error(errc::invalid_argument,
                        "options.frame_size " + std::to_string(opts.frame_size) + " is outside " +
                            std::to_string(format::min_frame_size) + ".." +
                            std::to_string(format::max_frame_size));
        if (encrypted && opts.key.empty())
            throw error(errc::invalid_argument, "the store's cipher is '" +
                                                    std::string(cipher_type::name) +
                                                    "' but options.key is empty");
        if (!encrypted && !opts.key.empty())
            throw error(errc::invalid_argument,
                        "options.key was given, but the store's cipher is 'none': its values would "
                        "not be encrypted");
    }
};

}  // namespace detail
}  // namespace v1
}  // namespace mmry
