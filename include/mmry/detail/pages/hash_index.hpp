#pragma once
// The hashed index on pages (docs/DECISIONS.md §11): extendible hashing over copy-on-write bucket
// pages. Key → value, both byte strings (key + value at most max_entry bytes; the store keeps
// larger things out of line and indexes a reference).
//
// - A key's hash (hash64 under the index's random seed, so colliding keys cannot be made without
//   the store's bytes) picks a directory slot by its top G bits; the directory (2^G page numbers,
//   in pages of 512, one to three levels deep) names the bucket. A bucket of local depth d holds
//   the keys whose hashes begin with its d-bit prefix, and owns the 2^(G-d) slots that share it.
// - A put copies the bucket it changes (and the directory pages naming it): readers of the state
//   before see the old pages, untouched. A full bucket splits in two (doubling the directory when
//   its depth is G); an erase that leaves a bucket and its buddy together half full merges them.
// - Its state is four meta words from `first_word`: directory root, G, entry count, seed.
//
// Complexity: a lookup reads 1 to 3 directory pages and one bucket; a put or erase copies them;
// doubling the directory rewrites it (2^G page numbers), amortized O(1) per key.
// Thread-safety: that of the transaction it is given. Throws errc::corrupt for any page that
// fails its checks (naming it), errc::invalid_argument for an entry over max_entry,
// errc::limit_exceeded past 2^27 buckets.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <mmry/detail/hash64.hpp>
#include <mmry/detail/pages/hash_bucket.hpp>
#include <mmry/detail/pages/page_format.hpp>
#include <mmry/error.hpp>

namespace mmry {
inline namespace v1 {
namespace detail::pages {

class hash_index {
  public:
    static constexpr std::size_t max_entry = 1024;
    static constexpr std::uint32_t max_depth = 27;
    static constexpr std::size_t words = 4;

    explicit hash_index(std::size_t first_word, std::string where = "hashed index")
        : w_(first_word), where_(std::move(where)) {}

    template <class View>
    std::uint64_t size(const View& v) const {
        return v.word(w_ + 2);
    }

    /// The value of `key`, pointing into the view's pages (valid while the view lives).
    template <class View>
    std::optional<std::span<const std::byte>> find(const View& v, std::string_view key) const {
        const page_id root = v.word(w_);
        if (root == no_page) return std::nullopt;
        const std::uint64_t h = hash64(key, v.word(w_ + 3));
        const page_id b = slot(v, index_of(h, depth(v)));
        return bucket_lookup(v.page(b), h, key, [&] { return name(b); });
    }

    /// The value of `key` whether or not its entry passes its checksum (the key and hash match):
    /// for a writer that must still erase or replace a damaged entry, never for a reader.
    template <class View>
    std::optional<std::span<const std::byte>> find_unchecked(const View& v,
                                                             std::string_view key) const {
        const page_id root = v.word(w_);
        if (root == no_page) return std::nullopt;
        const std::uint64_t h = hash64(key, v.word(w_ + 3));
        const page_id b = slot(v, index_of(h, depth(v)));
        bucket_view bucket(v.page(b), name(b));
        const auto* e = bucket.find(h, key, false);
        if (!e) return std::nullopt;
        return e->value;
    }

    /// Sets `key` to `value`; true when the key is new. Throws errc::invalid_argument when
    /// key and value together pass max_entry bytes.
    template <class Txn>
    bool put(Txn& t, std::string_view key, std::span<const std::byte> value,
             std::uint64_t seed = 0) const {
        check_entry(where_, key.size(), value.size(), max_entry);
        if (t.word(w_) == no_page) start(t, seed);
        const std::uint64_t h = hash64(key, t.word(w_ + 3));
        for (;;) {
            const std::uint32_t g = depth(t);
            const page_id b = slot(t, index_of(h, g));
            bucket_view bucket(t.page(b), name(b));
            // An entry of this key that fails its checksum is replaced all the same: damage
            // must not make a key impossible to write.
            const auto* old = bucket.find(h, key, false);
            const std::size_t freed = old ? old->cost() : 0;
            if (bucket.used() - freed + entry_cost(key.size(), value.size()) <= bucket_capacity) {
                bucket_builder next(bucket.depth(), bucket.prefix());
                for (const auto& e : bucket.entries())
                    if (&e != old) next.add(e);
                next.add(h, key, value);
                replace(t, b, bucket, next);
                if (!old) t.set_word(w_ + 2, t.word(w_ + 2) + 1);
                return old == nullptr;
            }
            split(t, b, bucket);
        }
    }

    /// Removes `key`; false when it was not there.
    template <class Txn>
    bool erase(Txn& t, std::string_view key) const {
        if (t.word(w_) == no_page) return false;
        const std::uint64_t h = hash64(key, t.word(w_ + 3));
        const page_id b = slot(t, index_of(h, depth(t)));
        bucket_view bucket(t.page(b), name(b));
        const auto* old = bucket.find(h, key, false);  // damaged or not: erasable
        if (!old) return false;
        t.set_word(w_ + 2, t.word(w_ + 2) - 1);
        if (merge(t, b, bucket, old)) return true;
        bucket_builder next(bucket.depth(), bucket.prefix());
        for (const auto& e : bucket.entries())
            if (&e != old) next.add(e);
        replace(t, b, bucket, next);
        return true;
    }

    /// Calls f(key, value) for every entry, bucket by bucket. Checks that every bucket owns
    /// exactly the directory slots its prefix gives it, and each entry's checksum before f sees
    /// it (errc::corrupt naming the page and byte), unless `checked` is false (verify(), which
    /// reports damaged entries itself and goes on past them).
    template <class View, class F>
    void for_each(const View& v, F&& f, bool checked = true) const {
        walk(v, [&](page_id, const bucket_view& bucket) {
            for (const auto& e : bucket.entries()) {
                if (checked) bucket.check(e);  // a damaged key is reported, never listed
                f(e.key, e.value);
            }
        });
    }

    /// Compaction: moves every page of the index at or past `ceiling` (buckets as they are, the
    /// directory rebuilt) to a page t allocates (below the ceiling in a confined transaction).
    /// O(pages of the index).
    template <class Txn>
    void relocate(Txn& t, page_id ceiling) const {
        if (t.word(w_) == no_page) return;
        struct high_bucket {
            page_id page;
            std::uint32_t depth;
            std::uint64_t prefix;
        };
        std::vector<high_bucket> high;
        walk(t, [&](page_id b, const bucket_view& bucket) {
            if (b >= ceiling) high.push_back({b, bucket.depth(), bucket.prefix()});
        });
        for (const auto& b : high) point(t, b.depth, b.prefix, t.cow(b.page));
        const std::uint32_t g = depth(t);
        bool moved = false;
        dir_pages(t, t.word(w_), 0, g, [&](page_id p, std::uint64_t) { moved |= p >= ceiling; });
        if (!moved) return;
        std::vector<page_id> flat(std::size_t{1} << g);
        for (std::uint64_t i = 0; i < flat.size(); ++i) flat[i] = slot(t, i);
        dir_pages(t, t.word(w_), 0, g, [&](page_id p, std::uint64_t) { t.free(p); });
        t.set_word(w_, build(t, flat, 0, g, 0));
    }

    /// Calls mark(page, 1) for every page of the index (directory and buckets).
    template <class View, class Mark>
    void mark(const View& v, Mark&& mark) const {
        if (v.word(w_) == no_page) return;
        dir_pages(v, v.word(w_), 0, depth(v), mark);
        walk(v, [&](page_id b, const bucket_view&) { mark(b, 1); });
    }

    /// Every problem a full read finds: entries failing their checksum, hashes that are not
    /// their keys', buckets in the wrong slots, an entry count that disagrees.
    template <class View>
    std::vector<std::string> verify(const View& v) const {
        std::vector<std::string> problems;
        std::uint64_t n = 0;
        try {
            walk(v, [&](page_id b, const bucket_view& bucket) {
                for (const auto& e : bucket.entries()) {
                    ++n;
                    try {
                        bucket.check(e);
                        if (e.hash != hash64(e.key, v.word(w_ + 3)) || !bucket.holds(e.hash))
                            bucket.fail("an entry's hash is not its key's, or not the bucket's");
                        if (e.fingerprint != fingerprint_of(e.hash))
                            bucket.fail("the slot of the entry at byte " +
                                        std::to_string(e.offset) +
                                        " holds another fingerprint than its hash's: lookups "
                                        "pass it by");
                    } catch (const error& x) {
                        problems.push_back(x.what());
                    }
                }
                (void)b;
            });
        } catch (const error& x) {
            problems.push_back(x.what());
            return problems;
        }
        if (n != size(v))
            problems.push_back(where_ + ": holds " + std::to_string(n) +
                               " entries; its count says " + std::to_string(size(v)));
        return problems;
    }

  private:
    static constexpr std::uint32_t fan_bits = 9;
    static constexpr std::uint64_t fan = 1u << fan_bits;

    std::string name(page_id p) const { return where_ + ", page " + std::to_string(p); }

    template <class View>
    std::uint32_t depth(const View& v) const {
        const std::uint64_t g = v.word(w_ + 1);
        if (g > max_depth)
            throw error(errc::corrupt, where_ + ": directory depth " + std::to_string(g) +
                                           " is past the largest possible, " +
                                           std::to_string(max_depth));
        return static_cast<std::uint32_t>(g);
    }
    static std::uint64_t index_of(std::uint64_t h, std::uint32_t g) {
        return g == 0 ? 0 : h >> (64 - g);
    }
    static std::uint32_t levels(std::uint32_t g) {
        return g <= fan_bits ? 1 : (g - 1) / fan_bits + 1;
    }
    // Index bits below level l of a directory of depth g.
    static std::uint32_t below(std::uint32_t g, std::uint32_t l) {
        return fan_bits * (levels(g) - 1 - l);
    }
    static std::uint64_t read_word(std::span<const std::byte> page, std::uint64_t i) {
        std::uint64_t v = 0;
        std::memcpy(&v, page.data() + i * 8, 8);
        return v;
    }

    // The bucket named by directory slot i.
    template <class View>
    page_id slot(const View& v, std::uint64_t i) const {
        const std::uint32_t g = depth(v);
        page_id node = v.word(w_);
        for (std::uint32_t l = 0; l < levels(g); ++l)
            node = read_word(v.page(node), (i >> below(g, l)) & (fan - 1));
        return node;
    }

    // An empty index: one bucket of depth 0, a directory of one slot.
    template <class Txn>
    void start(Txn& t, std::uint64_t seed) const {
        const page_id b = t.allocate();
        bucket_builder(0, 0).write(t.write(b));
        const page_id dir = t.allocate();
        std::memcpy(t.write(dir).data(), &b, 8);
        t.set_word(w_, dir);
        t.set_word(w_ + 1, 0);
        t.set_word(w_ + 2, 0);
        t.set_word(w_ + 3, seed);
    }

    // Writes `next` over bucket b (in place when this transaction made b, else as a copy whose
    // directory slots are updated).
    template <class Txn>
    void replace(Txn& t, page_id b, const bucket_view& bucket, const bucket_builder& next) const {
        if (t.fresh(b)) {
            next.write(t.write(b));
            return;
        }
        const page_id copy = t.allocate();
        next.write(t.write(copy));
        point(t, bucket.depth(), bucket.prefix(), copy);
        t.free(b);
    }

    // Points every directory slot of the bucket (depth d, prefix p) at page b.
    template <class Txn>
    void point(Txn& t, std::uint32_t d, std::uint64_t p, page_id b) const {
        const std::uint32_t g = depth(t);
        const std::uint64_t lo = d == 0 ? 0 : p << (g - d),
                            hi = d == 0 ? 1ull << g : (p + 1) << (g - d);
        t.set_word(w_, set_range(t, t.word(w_), 0, g, 0, lo, hi, b));
    }
    // Sets slots [lo, hi) under directory page `node` (level l, covering slots from `base`) to
    // b, copying the pages it changes; returns the page now in node's place.
    template <class Txn>
    page_id set_range(Txn& t, page_id node, std::uint32_t l, std::uint32_t g, std::uint64_t base,
                      std::uint64_t lo, std::uint64_t hi, page_id b) const {
        const page_id n = t.cow(node);
        const std::uint32_t shift = below(g, l);
        const std::uint64_t first = (std::max(lo, base) - base) >> shift;
        const std::uint64_t last = ((std::min(hi, base + (fan << shift)) - base) - 1) >> shift;
        for (std::uint64_t c = first; c <= last; ++c) {
            page_id child = b;
            if (l + 1 < levels(g))
                child =
                    set_range(t, read_word(t.page(n), c), l + 1, g, base + (c << shift), lo, hi, b);
            std::memcpy(t.write(n).data() + c * 8, &child, 8);
        }
        return n;
    }

    // Splits bucket b in two by the next bit of its keys' hashes, doubling the directory first
    // when the bucket's depth is the directory's.
    template <class Txn>
    void split(Txn& t, page_id b, const bucket_view& bucket) const {
        const std::uint32_t d = bucket.depth();
        if (d == depth(t)) {
            if (d == max_depth)
                throw error(errc::limit_exceeded,
                            where_ + ": a bucket would split past the directory's limit of 2^" +
                                std::to_string(max_depth) + " slots");
            grow(t);
        }
        bucket_builder low(static_cast<std::uint8_t>(d + 1), bucket.prefix() << 1);
        bucket_builder high(static_cast<std::uint8_t>(d + 1), bucket.prefix() << 1 | 1);
        for (const auto& e : bucket.entries()) {
            bucket.check(e);
            ((e.hash >> (63 - d)) & 1 ? high : low).add(e);
        }
        const page_id lp = t.allocate(), hp = t.allocate();
        low.write(t.write(lp));
        high.write(t.write(hp));
        point(t, d + 1, bucket.prefix() << 1, lp);
        point(t, d + 1, bucket.prefix() << 1 | 1, hp);
        t.free(b);
    }

    // Merges bucket b, less its entry `gone`, with its buddy when both have its depth and
    // together fill at most half a bucket; false when they do not.
    template <class Txn>
    bool merge(Txn& t, page_id b, const bucket_view& bucket, const bucket_entry* gone) const {
        const std::uint32_t d = bucket.depth();
        if (d == 0) return false;
        const std::uint64_t buddy_prefix = bucket.prefix() ^ 1;
        const page_id other = slot(t, buddy_prefix << (depth(t) - d));
        bucket_view buddy(t.page(other), name(other));
        if (buddy.depth() != d || buddy.prefix() != buddy_prefix ||
            bucket.used() - gone->cost() + buddy.used() > bucket_capacity / 2)
            return false;
        bucket_builder merged(static_cast<std::uint8_t>(d - 1), bucket.prefix() >> 1);
        for (const auto& e : bucket.entries())
            if (&e != gone) merged.add(e);
        for (const auto& e : buddy.entries()) merged.add(e);
        const page_id m = t.allocate();
        merged.write(t.write(m));
        point(t, d - 1, bucket.prefix() >> 1, m);
        t.free(b);
        t.free(other);
        return true;
    }

    // Doubles the directory: slot i becomes slots 2i and 2i + 1.
    template <class Txn>
    void grow(Txn& t) const {
        const std::uint32_t g = depth(t);
        std::vector<page_id> flat(std::size_t{1} << (g + 1));
        for (std::uint64_t i = 0; i < (1ull << g); ++i) flat[2 * i] = flat[2 * i + 1] = slot(t, i);
        dir_pages(t, t.word(w_), 0, g, [&](page_id p, std::uint64_t) { t.free(p); });
        t.set_word(w_ + 1, g + 1);
        t.set_word(w_, build(t, flat, 0, g + 1, 0));
    }
    // Writes the directory pages of level l for slots from `base`; returns the page.
    template <class Txn>
    page_id build(Txn& t, const std::vector<page_id>& flat, std::uint32_t l, std::uint32_t g,
                  std::uint64_t base) const {
        const page_id n = t.allocate();
        const std::uint32_t shift = below(g, l);
        const std::uint64_t count =
            std::min<std::uint64_t>(fan, ((flat.size() - base) + (1ull << shift) - 1) >> shift);
        for (std::uint64_t c = 0; c < count; ++c) {
            const page_id child =
                l + 1 < levels(g) ? build(t, flat, l + 1, g, base + (c << shift)) : flat[base + c];
            std::memcpy(t.write(n).data() + c * 8, &child, 8);
        }
        return n;
    }
    // Calls mark(page, 1) for each directory page under `node` (level l).
    template <class View, class Mark>
    void dir_pages(const View& v, page_id node, std::uint32_t l, std::uint32_t g,
                   Mark&& mark) const {
        const auto page = v.page(node);
        mark(node, 1);
        if (l + 1 == levels(g)) return;
        const std::uint32_t shift = below(g, l);
        const std::uint64_t count = l == 0 ? ((1ull << g) + (1ull << shift) - 1) >> shift : fan;
        for (std::uint64_t c = 0; c < count; ++c) dir_pages(v, read_word(page, c), l + 1, g, mark);
    }

    // Calls f(page, bucket) once per bucket, checking that each owns exactly its slots.
    template <class View, class F>
    void walk(const View& v, F&& f) const {
        if (v.word(w_) == no_page) return;
        const std::uint32_t g = depth(v);
        for (std::uint64_t i = 0; i < (1ull << g);) {
            const page_id b = slot(v, i);
            bucket_view bucket(v.page(b), name(b));
            const std::uint32_t d = bucket.depth();
            if (d > g || index_of_prefix(bucket.prefix(), d, g) != i)
                bucket.fail("directory slot " + std::to_string(i) + " names it, but its prefix " +
                            bucket_view::hex(bucket.prefix()) + "/" + std::to_string(d) +
                            " gives it other slots");
            const std::uint64_t span = 1ull << (g - d);
            for (std::uint64_t k = 1; k < span; ++k)
                if (slot(v, i + k) != b)
                    bucket.fail("it owns " + std::to_string(span) + " slots from " +
                                std::to_string(i) + ", but slot " + std::to_string(i + k) +
                                " names another page");
            f(b, bucket);
            i += span;
        }
    }
    static std::uint64_t index_of_prefix(std::uint64_t p, std::uint32_t d, std::uint32_t g) {
        return d == 0 ? 0 : p << (g - d);
    }

    std::size_t w_;
    std::string where_;
};

}  // namespace detail::pages
}  // namespace v1
}  // namespace mmry
