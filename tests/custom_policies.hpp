#pragma once
// A user-written index and a user-written arena, as someone outside the library would write them:
// only what mmry/concepts.hpp asks for (index_policy, arena_policy), nothing from detail/.
//
// - custom::listed: every entry of the index in one run of pages, sorted by key, rewritten by each
//   change (copy on write: a new run, the old one freed). Linear in the entries: a model, not a
//   fast index. The run starts with a header (magic, bytes, entries, checksum), so damage is
//   refused as errc::corrupt, never followed.
// - custom::directory: a store's segments as files seg-<k> in the directory it is named by (on
//   tmpfs, like shared memory: shared between processes, gone at reboot, never synced).

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <mmry/concepts.hpp>
#include <mmry/error.hpp>

namespace custom {

/// The sorted run of entries behind index `listed`.
class entry_run {
  public:
    static constexpr std::size_t max_entry = 1024;
    static constexpr std::size_t words = 3;  // first page, pages, entries

    explicit entry_run(std::size_t first_word) : w_(first_word) {}

    template <class View>
    std::uint64_t size(const View& v) const {
        return v.word(w_) == none ? 0 : v.word(w_ + 2);
    }
    template <class View>
    std::optional<std::span<const std::byte>> find(const View& v, std::string_view key) const {
        return lookup(v, key, true);
    }
    template <class View>
    std::optional<std::span<const std::byte>> find_unchecked(const View& v,
                                                             std::string_view key) const {
        return lookup(v, key, false);
    }
    template <class Txn>
    bool put(Txn& t, std::string_view key, std::span<const std::byte> entry) const {
        if (key.size() + entry.size() > max_entry || key.size() > 0xffff)
            throw mmry::error(mmry::errc::invalid_argument, "listed index: entry too long");
        auto all = load(t, true);
        const bool added = all.find(key) == all.end();
        all.insert_or_assign(std::string(key), entry);
        store(t, all);
        return added;
    }
    template <class Txn>
    bool erase(Txn& t, std::string_view key) const {
        auto all = load(t, true);
        const auto it = all.find(key);
        if (it == all.end()) return false;
        all.erase(it);
        store(t, all);
        return true;
    }
    template <class View, class F>
    void for_each(const View& v, std::string_view from, F&& f, bool checked = true) const {
        entries all;
        try {
            all = load(v, true);
        } catch (const mmry::error&) {
            if (checked) throw;
            return;  // unchecked: the damage is verify()'s to report
        }
        for (auto it = all.lower_bound(from); it != all.end(); ++it)
            if (!f(std::string_view(it->first), it->second)) return;
    }
    template <class View, class Mark>
    void mark(const View& v, Mark&& mark) const {
        if (v.word(w_) != none) mark(v.word(w_), v.word(w_ + 1));
    }
    template <class View>
    std::vector<std::string> verify(const View& v) const {
        try {
            const auto all = load(v, true);
            if (all.size() != size(v)) return {"listed index: the entry count is wrong"};
            return {};
        } catch (const mmry::error& e) {
            return {e.what()};
        }
    }

  private:
    using bytes = std::vector<std::byte>;
    // Key -> entry bytes, where the run holds them: entries handed out must live as long as the
    // state the view pins (the store keeps small records borrowed from them).
    using entries = std::map<std::string, std::span<const std::byte>, std::less<>>;
    static constexpr std::uint64_t none = 0;  // words of an empty store (page 0 is no data page)
    static constexpr std::uint64_t magic = 0x5453494c'4d4f5453ull;
    static constexpr std::size_t page = 4096, head = 32;  // magic, bytes, entries, checksum

    static std::uint64_t fnv(std::span<const std::byte> b) {
        std::uint64_t h = 0xcbf29ce484222325ull;
        for (const auto x : b) h = (h ^ std::to_integer<std::uint64_t>(x)) * 0x100000001b3ull;
        return h;
    }
    static std::uint64_t u64(const std::byte* p) {
        std::uint64_t v;
        std::memcpy(&v, p, 8);
        return v;
    }
    static std::uint16_t u16(const std::byte* p) {
        std::uint16_t v;
        std::memcpy(&v, p, 2);
        return v;
    }
    [[noreturn]] static void damaged(const std::string& what) {
        throw mmry::error(mmry::errc::corrupt, "listed index: " + what);
    }

    // Every entry, parsed from the run; checked: its checksum too.
    template <class View>
    entries load(const View& v, bool checked) const {
        entries out;
        if (v.word(w_) == none) return out;
        const auto run = v.page(v.word(w_), v.word(w_ + 1));  // the page store checks the range
        if (run.size() < head || u64(run.data()) != magic) damaged("no header");
        const std::uint64_t used = u64(run.data() + 8), count = u64(run.data() + 16);
        if (used > run.size() - head) damaged("a header claiming " + std::to_string(used));
        const auto body = run.subspan(head, used);
        if (checked && fnv(body) != u64(run.data() + 24)) damaged("a checksum that fails");
        for (std::size_t at = 0; at < body.size();) {
            if (body.size() - at < 4) damaged("an entry cut short");
            const std::size_t k = u16(body.data() + at), e = u16(body.data() + at + 2);
            if (body.size() - at - 4 < k + e) damaged("an entry past the run");
            out.insert_or_assign(std::string(reinterpret_cast<const char*>(&body[at + 4]), k),
                                 body.subspan(at + 4 + k, e));
            at += 4 + k + e;
        }
        if (out.size() != count) damaged("an entry count that does not match");
        return out;
    }
    template <class View>
    std::optional<std::span<const std::byte>> lookup(const View& v, std::string_view key,
                                                     bool checked) const {
        const auto all = load(v, checked);
        const auto it = all.find(key);
        if (it == all.end()) return std::nullopt;
        return it->second;
    }
    // Writes `all` into a new run and frees the old one (after reading it: `all` may point
    // into it).
    template <class Txn>
    void store(Txn& t, const entries& all) const {
        bytes body;
        for (const auto& [k, e] : all) {
            const std::uint16_t sizes[2] = {static_cast<std::uint16_t>(k.size()),
                                            static_cast<std::uint16_t>(e.size())};
            const auto* kp = reinterpret_cast<const std::byte*>(k.data());
            body.insert(body.end(), reinterpret_cast<const std::byte*>(sizes),
                        reinterpret_cast<const std::byte*>(sizes) + 4);
            body.insert(body.end(), kp, kp + k.size());
            body.insert(body.end(), e.begin(), e.end());
        }
        if (t.word(w_) != none) t.free(t.word(w_), t.word(w_ + 1));
        if (all.empty()) {
            for (std::size_t i = 0; i < words; ++i) t.set_word(w_ + i, none);
            return;
        }
        const std::uint64_t pages = (head + body.size() + page - 1) / page;
        const auto p = t.allocate(pages);  // zeroed
        auto out = t.write(p, pages);
        const std::uint64_t fields[4] = {magic, body.size(), all.size(), fnv(body)};
        std::memcpy(out.data(), fields, head);
        std::memcpy(out.data() + head, body.data(), body.size());
        t.set_word(w_, p);
        t.set_word(w_ + 1, pages);
        t.set_word(w_ + 2, all.size());
    }

    std::size_t w_;
};

/// index::ordered's role, played by entry_run.
struct listed {
    static constexpr std::uint8_t id = 210;  // 128-255: users' own policies
    static constexpr std::string_view name = "listed";
    static constexpr bool sorted = true;
    using table = entry_run;
};
static_assert(mmry::index_policy<listed>);

/// Segments as files in the store's directory.
struct directory_backend {
    static constexpr bool named = true;
    static constexpr bool durable = false;
    static std::string object(const std::string& store, std::uint32_t k) {
        return store + "/seg-" + std::to_string(k);
    }
    static int open(const std::string& obj, int flags, unsigned mode) {
        return ::open(obj.c_str(), flags | O_CLOEXEC, mode);
    }
    static bool unlink(const std::string& obj) noexcept { return ::unlink(obj.c_str()) == 0; }
    static void prepare(const std::string& store, unsigned) {
        std::error_code ec;
        std::filesystem::create_directories(store, ec);
        if (ec) throw mmry::error(mmry::errc::io_error, "directory arena: " + ec.message());
    }
    static void sync_directory(const std::string&) {}  // tmpfs: nothing reaches a disk
};

struct directory {
    static constexpr std::uint8_t id = 211;
    static constexpr std::string_view name = "directory";
    static constexpr bool shared = true;
    using backend = directory_backend;
    static void check_name(std::string_view n) {
        if (n.empty() || n.front() != '/')
            throw mmry::error(mmry::errc::invalid_argument,
                              "directory arena: a store is named by an absolute path");
    }
};
static_assert(mmry::arena_policy<directory>);

}  // namespace custom
