#pragma once
// What a store object holds, and how it comes to hold it: creating a store (its page store with
// the header written into it) or opening one (checking header, composition and key before
// touching anything else); and the transactions its members run in.
//
// Every member of basic_store runs inside one transaction of the page store: a read (a pinned
// state: see reading) or the write (see writing). The transaction a thread is in is its
// *current* context, which the store's parts reach through root(): a thread-local list, so that
// the parts keep the signatures they had when the tables were objects in a segment.

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <cryptopp/osrng.h>
#include <cryptopp/secblock.h>

#include <mmry/arena/stats.hpp>
#include <mmry/codec/frame_codec.hpp>
#include <mmry/compress/dictionary.hpp>
#include <mmry/detail/describe.hpp>
#include <mmry/detail/fastcdc.hpp>
#include <mmry/detail/hash64.hpp>
#include <mmry/detail/history.hpp>
#include <mmry/detail/key_schedule.hpp>
#include <mmry/detail/pages/page_store.hpp>
#include <mmry/detail/store_tables.hpp>
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

template <class Traits>
struct store_state {
    using arena_type = typename Traits::arena;
    using cipher_type = typename Traits::cipher;
    using page_store_type = pages::page_store<typename arena_type::backend>;
    using head_type = key_head<std::allocator<char>>;
    using context_type = tables::context<page_store_type, typename Traits::index::table, head_type>;
    using codec_type = frame_codec<typename Traits::compressor, cipher_type>;
    static constexpr bool encrypted = cipher_type::tag_size > 0;
    static constexpr std::size_t min_capacity = 64 * 1024;

    /// A read transaction, current for its thread while it lives (unless detached).
    class reading {
      public:
        explicit reading(const store_state& s)
            : s_(&s), ctx_(std::make_unique<context_type>(*s.pages, s.name)) {
            enter(s_, ctx_.get());
        }
        reading(reading&& o) noexcept
            : s_(o.s_), ctx_(std::move(o.ctx_)), current_(std::exchange(o.current_, false)) {}
        reading& operator=(reading&&) = delete;
        ~reading() { detach(); }
        /// No longer the thread's current context (its pages stay pinned): for a value_view,
        /// which may be dropped on another thread.
        void detach() noexcept {
            if (std::exchange(current_, false)) leave(ctx_.get());
        }
        /// Ends the transaction early.
        void unlock() noexcept {
            detach();
            ctx_.reset();
        }

      private:
        const store_state* s_;
        std::unique_ptr<context_type> ctx_;
        bool current_ = true;
    };

    /// The write transaction (the writer lock of every process sharing the store), current for
    /// its thread while it lives. commit() makes its changes current; without it they are gone.
    class writing {
      public:
        explicit writing(store_state& s)
            : ctx_(std::make_unique<context_type>(*s.pages, s.name,
                                                  typename context_type::for_write{})) {
            enter(&s, ctx_.get());
        }
        writing(const writing&) = delete;
        writing& operator=(const writing&) = delete;
        ~writing() { leave(ctx_.get()); }
        std::uint64_t commit(bool wait = true) { return ctx_->commit(wait); }

      private:
        std::unique_ptr<context_type> ctx_;
    };

    std::string name;
    options opts;
    std::unique_ptr<page_store_type> pages;  // declared first: destroyed last
    format::store_header header;
    codec_type codec;
    mutable value_cache cache;
    // The highest usage threshold this process has reported; writers check it after their
    // commit, outside the writer lock, so it is atomic.
    std::atomic<unsigned> alerted{0};
    std::optional<fastcdc> chunker;  // fold::cdc only
    // Dictionaries this process has loaded, by id; never dropped (a store keeps every dictionary
    // it trained, so an id always names the same bytes).
    mutable std::mutex dictionaries_mutex;
    mutable std::map<std::uint32_t, std::shared_ptr<const compress::dictionary>> dictionaries;

    store_state(std::string n, options o, std::unique_ptr<page_store_type> p,
                const format::store_header& h, CryptoPP::SecByteBlock master)
        : name(std::move(n))
        , opts(std::move(o))
        , pages(std::move(p))
        , header(h)
        , codec(h.id, std::move(master), h.frame_size)
        , cache(opts.cache_bytes) {
        if constexpr (Traits::fold::id != 0)
            chunker.emplace(Traits::fold::min_size, Traits::fold::avg_size, Traits::fold::max_size,
                            gear_table(codec.gear_seed()));
    }

    reading read() const { return reading(*this); }
    writing write() { return writing(*this); }

    /// The page store's use, as an arena reports it. Takes the writer lock for a moment.
    mmry::arena_stats usage() const { return usage(pages->stats()); }
    mmry::arena_stats usage(const pages::page_stats& st) const {
        const std::uint64_t segment = pages->segment_pages() * pages::page_size;
        mmry::arena_stats a;
        a.segments = st.segments;
        a.reserved_bytes = st.segments * segment;
        const std::uint64_t used = (st.pages - st.free_pages) * pages::page_size;
        a.free_bytes = a.reserved_bytes > used ? a.reserved_bytes - used : 0;
        a.blocks = st.pages - st.free_pages;
        // A store created without max_size may grow to the format's last segment: no limit.
        if (pages->max_pages() < pages::max_segments * pages->segment_pages())
            a.limit_bytes = pages->max_pages() * pages::page_size;
        return a;
    }

    /// The calling thread's current transaction on this store.
    context_type& root() const {
        auto& list = current();
        for (auto it = list.rbegin(); it != list.rend(); ++it)
            if (it->first == this) return *it->second;
        throw std::logic_error("mmry: a store member ran outside a transaction");
    }

    /// Creates a store. With `as`, the header of another store (a backup's): the new store takes
    /// its identity (id, key derivation, key check, frame size), so that the other's records
    /// import into it as they are; its compressor, cipher, path and folding must be this
    /// composition's (errc::policy_mismatch), and opts.key its key (errc::wrong_key).
    static std::unique_ptr<store_state> create(std::string_view name, options opts,
                                               const format::store_header* as = nullptr) {
        if (as) opts.frame_size = as->frame_size;
        check_options(opts);
        arena_type::check_name(name);
        format::store_header h;
        h.policies = format::fingerprint::of<Traits>();
        CryptoPP::SecByteBlock master;
        if (as) {
            as->check_policies(h.policies, name, 2);
            h.id = as->id;
            h.salt = as->salt;
            h.kdf = as->kdf;
            h.passphrase = as->passphrase;
            h.frame_size = as->frame_size;
            h.key_check = as->key_check;
            if constexpr (encrypted) {
                master = opts.key.material(h.salt, h.kdf);
                h.check_key(master, name);
            }
        } else {
            CryptoPP::AutoSeededRandomPool rng;
            rng.GenerateBlock(reinterpret_cast<CryptoPP::byte*>(h.id.data()), h.id.size());
            rng.GenerateBlock(reinterpret_cast<CryptoPP::byte*>(h.salt.data()), h.salt.size());
            if (auto given = opts.key.salt(); given && given->size() == h.salt.size())
                std::copy(given->begin(), given->end(), h.salt.begin());
            h.frame_size = static_cast<std::uint32_t>(opts.frame_size);
            h.kdf = opts.key.params();
            h.passphrase = opts.key.is_passphrase();
            if constexpr (encrypted) {
                master = opts.key.material(h.salt);
                h.key_check = key_check(master, h.id);
            }
        }
        std::array<std::byte, format::store_header_size> raw{};
        h.write(raw);
        pages::page_store_options po;
        const std::uint64_t segment =
            (opts.capacity + pages::page_size - 1) / pages::page_size * pages::page_size;
        po.segment_bytes = segment;
        po.max_bytes = opts.max_size == 0
                           ? 0
                           : std::max<std::uint64_t>(
                                 segment, opts.max_size / pages::page_size * pages::page_size);
        po.mode = opts.mode;
        po.level = static_cast<pages::durability>(opts.durability);
        po.interval = opts.flush_interval;
        po.header = raw;
        std::unique_ptr<page_store_type> store;
        try {
            store = std::make_unique<page_store_type>(pages::create, std::string(name), po);
        } catch (const error& e) {
            if (e.code_value() != errc::already_exists && arena_type::shared)
                page_store_type::remove(std::string(name));
            throw;
        }
        return std::make_unique<store_state>(std::string(name), std::move(opts), std::move(store),
                                             h, std::move(master));
    }

    /// Opens an existing shared store. Nothing is written before the header, the composition and
    /// the key have been checked.
    static std::unique_ptr<store_state> open(std::string_view name, options opts) {
        arena_type::check_name(name);
        std::unique_ptr<page_store_type> store;
        try {
            store = std::make_unique<page_store_type>(pages::open, std::string(name));
        } catch (const error& e) {
            if (e.code_value() == errc::not_found) refuse_older(name);
            throw;
        }
        const auto h = format::store_header::parse(store->header_bytes(), name);
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
        return std::make_unique<store_state>(std::string(name), std::move(opts), std::move(store),
                                             h, std::move(master));
    }

    static bool remove(std::string_view name) {
        arena_type::check_name(name);
        const bool any = page_store_type::remove(std::string(name));
        if constexpr (std::is_same_v<typename arena_type::backend, pages::file_backend>) {
            std::error_code ec;
            std::filesystem::remove(std::filesystem::path(std::string(name)), ec);  // if empty
        }
        return any;
    }
    static bool exists(std::string_view name) {
        arena_type::check_name(name);
        return page_store_type::exists(std::string(name));
    }

  private:
    using current_list = std::vector<std::pair<const store_state*, context_type*>>;
    static current_list& current() {
        thread_local current_list list;
        return list;
    }
    static void enter(const store_state* s, context_type* c) { current().emplace_back(s, c); }
    static void leave(context_type* c) noexcept {
        auto& list = current();
        for (auto it = list.rbegin(); it != list.rend(); ++it)
            if (it->second == c) {
                list.erase(std::next(it).base());
                return;
            }
    }

    // A store written by a build before the page store (format 5 and earlier) has segment files
    // of another name: say so, rather than that there is no store.
    static void refuse_older(std::string_view name) {
        const std::string n(name);
        const bool older = std::is_same_v<typename arena_type::backend, pages::file_backend>
                               ? std::filesystem::exists(n + "/segment-0000.mmry")
                               : std::is_same_v<typename arena_type::backend, pages::shm_backend> &&
                                     std::filesystem::exists("/dev/shm/mmry." + n + ".0");
        if (older)
            throw error(errc::version_mismatch,
                        "store " + quote(name) + " was written by an mmry before store format " +
                            std::to_string(store_format_version) +
                            " (segment files of the old layout): dump it with the build that "
                            "wrote it (mmry dump) and load the dump with this one (mmry load)");
    }

    static void check_options(const options& opts) {
        if (opts.capacity < min_capacity || opts.capacity > (std::size_t{1} << 40))
            throw error(errc::invalid_argument, "options.capacity " +
                                                    std::to_string(opts.capacity) +
                                                    " is outside 64 KiB..1 TiB (a segment's size)");
        if (opts.max_size != 0 && opts.max_size < opts.capacity)
            throw error(errc::invalid_argument,
                        "options.max_size " + std::to_string(opts.max_size) +
                            " is below options.capacity " + std::to_string(opts.capacity));
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
