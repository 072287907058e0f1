#pragma once
// The ordered index on pages (docs/DECISIONS.md §11): a copy-on-write B+tree of byte-string keys
// in byte order, values in the leaves (key + value at most max_entry bytes).
//
// - A put or erase copies the leaf it changes and the branches above it (path copying); readers
//   of the state before keep the old pages. A leaf that overflows splits in two by bytes, its
//   right half's first key going up as separator; a branch that overflows splits around its
//   middle separator; a root that splits gets a new root above it.
// - An erase that leaves a leaf under a quarter full merges it with a sibling when the two fit
//   in three quarters of a page; a node left empty leaves its parent; a root with one child
//   gives way to it.
// - A leaf rewritten (a change, split or merge) keeps every entry it does not change byte for
//   byte, checksum included: an entry damaged on disk stays damaged (read as errc::corrupt)
//   whatever its neighbours go through, and stays erasable and replaceable by key (writers never
//   check the checksum of the entry they replace). Branches are re-encoded from what they held;
//   their separators carry no checksum to keep (tree_node.hpp).
// - Its state is three meta words from `first_word`: root page, height, entry count.
//
// Complexity: O(height) pages read per lookup and copied per change; height grows as log over
// ~30 entries per leaf and ~100 separators per branch for short keys. Thread-safety: that of the
// transaction it is given. Throws errc::corrupt for any page that fails its checks (naming it),
// errc::invalid_argument for an entry over max_entry.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <mmry/detail/describe.hpp>
#include <mmry/detail/pages/page_format.hpp>
#include <mmry/detail/pages/tree_node.hpp>
#include <mmry/error.hpp>

namespace mmry {
inline namespace v1 {
namespace detail::pages {

class tree_index {
  public:
    static constexpr std::size_t max_entry = 1024;
    static constexpr std::size_t words = 3;
    static constexpr std::uint64_t max_height = 32;

    explicit tree_index(std::size_t first_word, std::string where = "ordered index")
        : w_(first_word), where_(std::move(where)) {}

    template <class View>
    std::uint64_t size(const View& v) const {
        return v.word(w_ + 2);
    }

    /// The value of `key`, pointing into the view's pages (valid while the view lives).
    template <class View>
    std::optional<std::span<const std::byte>> find(const View& v, std::string_view key) const {
        return lookup(v, key, true);
    }
    /// The same whether or not the entry passes its checksum: for a writer that must still erase
    /// or replace a damaged entry, never for a reader.
    template <class View>
    std::optional<std::span<const std::byte>> find_unchecked(const View& v,
                                                             std::string_view key) const {
        return lookup(v, key, false);
    }

  private:
    template <class View>
    std::optional<std::span<const std::byte>> lookup(const View& v, std::string_view key,
                                                     bool checked) const {
        page_id node = v.word(w_);
        if (node == no_page) return std::nullopt;
        const std::uint64_t h = height(v);
        for (std::uint64_t level = 0;; ++level) {
            node_view n(v.page(node), where_, node);
            expect(n, level, h);
            if (n.leaf()) {
                const std::size_t i = n.lower_bound(key);
                if (i == n.entries().size() || n.entries()[i].key != key) return std::nullopt;
                if (checked) n.check(n.entries()[i]);
                return n.entries()[i].value;
            }
            node = n.entries()[n.child_for(key)].child;
        }
    }

  public:
    /// Calls f(key, value) in key order from the first key not below `from`, while f returns
    /// true; each entry's checksum checked first unless `checked` is false (verify(), which
    /// reports damaged entries itself and goes on past them).
    template <class View, class F>
    void for_each(const View& v, std::string_view from, F&& f, bool checked = true) const {
        if (v.word(w_) != no_page) visit(v, v.word(w_), 0, height(v), from, f, checked);
    }

    /// Sets `key` to `value`; true when the key is new.
    template <class Txn>
    bool put(Txn& t, std::string_view key, std::span<const std::byte> value) const {
        check_entry(where_, key.size(), value.size(), max_entry);
        if (t.word(w_) == no_page) {
            node_builder leaf(true);
            leaf.add(key, value);
            const page_id p = t.allocate();
            leaf.write(t.write(p));
            t.set_word(w_, p);
            t.set_word(w_ + 1, 1);
            t.set_word(w_ + 2, 1);
            return true;
        }
        std::vector<step> path;
        const page_id leaf_page = descend(t, key, path);
        node_view leaf(t.page(leaf_page), where_, leaf_page);
        const std::size_t i = leaf.lower_bound(key);
        const bool exists = i < leaf.entries().size() && leaf.entries()[i].key == key;
        std::vector<item> items;
        for (std::size_t k = 0; k < leaf.entries().size(); ++k) {
            if (k == i) items.push_back({key, value});
            if (k == i && exists) continue;
            items.push_back(item::copy(leaf.entries()[k]));
        }
        if (i == leaf.entries().size()) items.push_back({key, value});
        up(t, path, write_leaves(t, leaf_page, items));
        if (!exists) t.set_word(w_ + 2, t.word(w_ + 2) + 1);
        return !exists;
    }

    /// Removes `key`; false when it was not there.
    template <class Txn>
    bool erase(Txn& t, std::string_view key) const {
        if (t.word(w_) == no_page) return false;
        std::vector<step> path;
        const page_id leaf_page = descend(t, key, path);
        node_view leaf(t.page(leaf_page), where_, leaf_page);
        const std::size_t i = leaf.lower_bound(key);
        if (i == leaf.entries().size() || leaf.entries()[i].key != key) return false;
        std::vector<item> items;
        std::size_t bytes = 0;
        for (std::size_t k = 0; k < leaf.entries().size(); ++k)
            if (k != i) {
                items.push_back(item::copy(leaf.entries()[k]));
                bytes += leaf.entries()[k].size;
            }
        t.set_word(w_ + 2, t.word(w_ + 2) - 1);
        if (items.empty()) {
            t.free(leaf_page);
            up(t, path, change::removed());
        } else if (!path.empty() && bytes < node_capacity / 4 && merge(t, path, leaf_page, items)) {
        } else {
            up(t, path, write_leaves(t, leaf_page, items));
        }
        return true;
    }

    /// Compaction: moves every page of the tree at or past `ceiling` to a page t allocates
    /// (below the ceiling in a confined transaction): leaves byte for byte, branches re-encoded
    /// with their children's new pages. O(pages of the tree).
    template <class Txn>
    void relocate(Txn& t, page_id ceiling) const {
        if (t.word(w_) == no_page) return;
        t.set_word(w_, move_node(t, t.word(w_), 0, height(t), ceiling));
    }

    /// Calls mark(page, 1) for every page of the index.
    template <class View, class Mark>
    void mark(const View& v, Mark&& mark) const {
        if (v.word(w_) != no_page) mark_pages(v, v.word(w_), 0, height(v), mark);
    }

    /// Every problem a full read finds: pages failing their checks, entries failing their
    /// checksum, keys out of order or outside their branch's bounds, an entry count that
    /// disagrees.
    template <class View>
    std::vector<std::string> verify(const View& v) const {
        std::vector<std::string> problems;
        std::uint64_t n = 0;
        std::string last;
        bool first = true;
        try {
            for_each(v, "", [&](std::string_view k, std::span<const std::byte>) {
                if (!first && !(last < k))
                    problems.push_back(where_ + ": key order breaks between leaves");
                last.assign(k);
                first = false;
                ++n;
                return true;
            });
            if (v.word(w_) != no_page) check_bounds(v, v.word(w_), 0, height(v), {}, {}, problems);
        } catch (const error& e) {
            problems.push_back(e.what());
            return problems;
        }
        if (n != size(v))
            problems.push_back(where_ + ": holds " + std::to_string(n) +
                               " entries; its count says " + std::to_string(size(v)));
        return problems;
    }

  private:
    struct step {
        page_id node;
        std::size_t child;
    };
    // A child of a branch being rewritten, and its separator (none for the first child): kept
    // with its checksum (`sum`) while neither changes, so that a rewrite never makes a damaged
    // separator pass; made afresh for a separator or child this transaction set. The key views
    // the branch's page (or a change's separator): no copy per separator, but it must be read
    // before that page is written over (write_branch takes care).
    struct child {
        std::string_view key;
        page_id page = no_page;
        std::optional<std::uint32_t> sum;

        // Throws errc::corrupt when a kept separator fails its checksum: before it moves where
        // a fresh checksum would cover it (up into a parent, or to a branch's first child).
        void check(const std::string& where) const {
            if (sum && *sum != node_builder::separator_sum(key, page))
                throw error(errc::corrupt,
                            where + ": the separator " + quote(key) + " fails its checksum");
        }
        static std::vector<child> of(const node_view& n) {
            std::vector<child> out;
            out.reserve(n.entries().size());
            for (const auto& e : n.entries())
                out.push_back({e.key, e.child, out.empty() ? std::nullopt : std::optional(e.sum)});
            return out;
        }
    };

    // What a rewritten node asks of its parent.
    struct change {
        enum kind_t { replace, split, remove } kind;
        page_id left = no_page;
        std::string separator;
        page_id right = no_page;

        static change replaced(page_id p) { return {replace, p, {}, no_page}; }
        static change removed() { return {remove, no_page, {}, no_page}; }
    };
    // An entry of a leaf being rewritten: the one being written (`old` null), or an entry of the
    // old leaf, copied byte for byte with its checksum. Points into pages read, so it is added
    // to builders before any page of the transaction is written.
    struct item {
        std::string_view key;
        std::span<const std::byte> value;
        const node_entry* old = nullptr;

        static item copy(const node_entry& e) { return {e.key, e.value, &e}; }
        std::size_t size() const {
            return old ? old->size : leaf_entry_size(key.size(), value.size());
        }
        void add_to(node_builder& b) const {
            if (old)
                b.add(*old);
            else
                b.add(key, value);
        }
    };

    std::string name(page_id p) const { return where_ + ", page " + std::to_string(p); }

    template <class View>
    std::uint64_t height(const View& v) const {
        const std::uint64_t h = v.word(w_ + 1);
        if (h == 0 || h > max_height)
            throw error(errc::corrupt, where_ + ": height " + std::to_string(h) +
                                           " is not between 1 and " + std::to_string(max_height));
        return h;
    }
    void expect(const node_view& n, std::uint64_t level, std::uint64_t h) const {
        if (n.leaf() != (level + 1 == h))
            n.fail(std::string(n.leaf() ? "a leaf" : "a branch") + " at level " +
                   std::to_string(level) + " of a tree of height " + std::to_string(h));
    }

    // The leaf for `key`, with the branches above it and the child taken at each.
    template <class Txn>
    page_id descend(const Txn& t, std::string_view key, std::vector<step>& path) const {
        page_id node = t.word(w_);
        const std::uint64_t h = height(t);
        for (std::uint64_t level = 0;; ++level) {
            node_view n(t.page(node), where_, node);
            expect(n, level, h);
            if (n.leaf()) return node;
            const std::size_t c = n.child_for(key);
            path.push_back({node, c});
            node = n.entries()[c].child;
        }
    }

    // Writes b over `old` (in place when this transaction made it, else as a new page).
    template <class Txn>
    page_id place(Txn& t, page_id old, const node_builder& b) const {
        if (old != no_page && t.fresh(old)) {
            b.write(t.write(old));
            return old;
        }
        const page_id p = t.allocate();
        b.write(t.write(p));
        if (old != no_page) t.free(old);
        return p;
    }

    // Writes leaf entries in place of `old`: one page, or two split by bytes.
    template <class Txn>
    change write_leaves(Txn& t, page_id old, const std::vector<item>& items) const {
        std::size_t total = 0;
        for (const auto& e : items) total += e.size();
        if (total <= node_capacity) {
            node_builder b(true);
            for (const auto& e : items) e.add_to(b);
            return change::replaced(place(t, old, b));
        }
        node_builder left(true), right(true);
        std::size_t k = 0;
        for (; k < items.size() && left.used() < total / 2; ++k) items[k].add_to(left);
        for (std::size_t r = k; r < items.size(); ++r) items[r].add_to(right);
        const std::string separator(items[k].key);
        const page_id l = place(t, old, left);
        return {change::split, l, separator, place(t, no_page, right)};
    }

    // Applies a child's change to each branch on the path, bottom up, then to the root.
    template <class Txn>
    void up(Txn& t, const std::vector<step>& path, change c) const {
        for (std::size_t level = path.size(); level-- > 0;) {
            const auto [node, at] = path[level];
            node_view n(t.page(node), where_, node);
            auto children = child::of(n);
            if (c.kind == change::remove) {
                children.erase(children.begin() + static_cast<std::ptrdiff_t>(at));
                if (at == 0 && !children.empty()) {
                    children[0].check(name(node));
                    children[0].key = {};
                    children[0].sum.reset();
                }
            } else {
                children[at].page = c.left;  // descend() checked this separator
                children[at].sum.reset();
                if (c.kind == change::split)
                    children.insert(children.begin() + static_cast<std::ptrdiff_t>(at) + 1,
                                    {c.separator, c.right, std::nullopt});
            }
            c = write_branch(t, node, children);
        }
        if (c.kind == change::split) {
            node_builder root(false);
            root.first_child(c.left);
            root.add(c.separator, c.right);
            t.set_word(w_, place(t, no_page, root));
            t.set_word(w_ + 1, t.word(w_ + 1) + 1);
        } else if (c.kind == change::remove) {
            t.set_word(w_, no_page);
            t.set_word(w_ + 1, 0);
        } else {
            t.set_word(w_, c.left);
        }
        // A root branch with one child gives way to it.
        while (t.word(w_ + 1) > 1) {
            node_view root(t.page(t.word(w_)), where_, t.word(w_));
            if (root.entries().size() != 1) break;
            t.free(t.word(w_));
            t.set_word(w_, root.entries()[0].child);
            t.set_word(w_ + 1, t.word(w_ + 1) - 1);
        }
    }

    template <class Txn>
    change write_branch(Txn& t, page_id old, const std::vector<child>& children) const {
        if (children.empty()) {
            t.free(old);
            return change::removed();
        }
        std::size_t total = 8;
        for (std::size_t k = 1; k < children.size(); ++k)
            total += separator_size(children[k].key.size());
        auto fill = [&](node_builder& b, std::size_t from, std::size_t to) {
            b.first_child(children[from].page);
            for (std::size_t k = from + 1; k < to; ++k)
                b.add(children[k].key, children[k].page, children[k].sum);
        };
        if (total <= node_capacity) {
            node_builder b(false);
            fill(b, 0, children.size());
            return change::replaced(place(t, old, b));
        }
        // The middle separator (by bytes) goes up; the children on each side stay.
        std::size_t m = 1, bytes = 8;
        while (m + 1 < children.size() && bytes < total / 2)
            bytes += separator_size(children[m++].key.size());
        children[m].check(name(old));
        node_builder left(false), right(false);
        fill(left, 0, m);
        fill(right, m, children.size());
        std::string separator(children[m].key);  // before `old` may be written over
        const page_id l = place(t, old, left);
        return {change::split, l, std::move(separator), place(t, no_page, right)};
    }

    // Merges a leaf left small by an erase with a sibling when the two fit in three quarters
    // of a page; false when no sibling will do.
    template <class Txn>
    bool merge(Txn& t, const std::vector<step>& path, page_id leaf,
               const std::vector<item>& items) const {
        const auto [parent, at] = path.back();
        node_view p(t.page(parent), where_, parent);
        const std::size_t other = at + 1 < p.entries().size() ? at + 1 : at - 1;
        if (other >= p.entries().size() || other == at) return false;
        try {
            p.check(p.entries()[other]);
        } catch (const error&) {
            return false;  // a damaged separator: no merge through it (verify() reports it)
        }
        const page_id sibling = p.entries()[other].child;
        node_view s(t.page(sibling), where_, sibling);
        if (!s.leaf()) s.fail("a branch where its sibling is a leaf");
        std::size_t bytes = s.used();
        for (const auto& e : items) bytes += e.size();
        if (bytes > node_capacity * 3 / 4) return false;
        node_builder merged(true);
        auto add_sibling = [&] {
            for (const auto& e : s.entries()) merged.add(e);  // damaged or not, as it was
        };
        if (other < at) add_sibling();
        for (const auto& e : items) e.add_to(merged);
        if (other > at) add_sibling();
        const std::size_t low = std::min(at, other);
        const page_id m = place(t, no_page, merged);
        t.free(leaf);
        t.free(sibling);
        // The parent: the lower child becomes the merged leaf, the higher one goes.
        auto children = child::of(p);
        children[low].page = m;
        children[low].sum.reset();
        children.erase(children.begin() + static_cast<std::ptrdiff_t>(low) + 1);
        std::vector<step> rest(path.begin(), path.end() - 1);
        up(t, rest, write_branch(t, parent, children));
        return true;
    }

    template <class View, class F>
    bool visit(const View& v, page_id node, std::uint64_t level, std::uint64_t h,
               std::string_view from, F& f, bool checked) const {
        node_view n(v.page(node), where_, node);
        expect(n, level, h);
        if (n.leaf()) {
            for (std::size_t i = n.lower_bound(from); i < n.entries().size(); ++i) {
                if (checked) n.check(n.entries()[i]);
                if (!f(n.entries()[i].key, n.entries()[i].value)) return false;
            }
            return true;
        }
        for (std::size_t c = n.child_for(from); c < n.entries().size(); ++c) {
            if (checked) n.check(n.entries()[c]);
            if (!visit(v, n.entries()[c].child, level + 1, h, from, f, checked)) return false;
        }
        return true;
    }

    // Node's page once its subtree has no page at or past the ceiling: itself, or its copy.
    template <class Txn>
    page_id move_node(Txn& t, page_id node, std::uint64_t level, std::uint64_t h,
                      page_id ceiling) const {
        node_view n(t.page(node), where_, node);
        expect(n, level, h);
        bool changed = false;
        std::vector<child> children;
        if (!n.leaf()) {
            children = child::of(n);
            for (auto& c : children) {
                const page_id p = move_node(t, c.page, level + 1, h, ceiling);
                if (p == c.page) continue;
                c.check(name(node));  // a damaged separator is not made to pass
                c.page = p;
                c.sum.reset();
                changed = true;
            }
        }
        if (!changed) return node < ceiling ? node : t.cow(node);
        const change c = write_branch(t, node, children);
        if (c.kind != change::replace) n.fail("its children no longer fit it");
        return c.left;
    }

    template <class View, class Mark>
    void mark_pages(const View& v, page_id node, std::uint64_t level, std::uint64_t h,
                    Mark& mark) const {
        node_view n(v.page(node), where_, node);
        expect(n, level, h);
        mark(node, 1);
        if (!n.leaf())
            for (const auto& e : n.entries()) mark_pages(v, e.child, level + 1, h, mark);
    }

    // Checks that every key under `node` lies in [low, high) (an empty bound: none), and every
    // separator's checksum. The bounds point into the pinned pages read.
    template <class View>
    void check_bounds(const View& v, page_id node, std::uint64_t level, std::uint64_t h,
                      std::optional<std::string_view> low, std::optional<std::string_view> high,
                      std::vector<std::string>& problems) const {
        node_view n(v.page(node), where_, node);
        expect(n, level, h);
        const auto& entries = n.entries();
        for (std::size_t k = 0; k < entries.size(); ++k) {
            const auto& e = entries[k];
            if (n.leaf() || k > 0) {
                if ((low && e.key < *low) || (high && e.key >= *high))
                    problems.push_back(name(node) +
                                       ": a key lies outside the bounds its parent gives");
            }
            if (!n.leaf()) {
                try {
                    n.check(e);
                } catch (const error& x) {
                    problems.push_back(x.what());
                }
                const auto lo = k == 0 ? low : std::optional(e.key);
                const auto hi = k + 1 < entries.size() ? std::optional(entries[k + 1].key) : high;
                check_bounds(v, e.child, level + 1, h, lo, hi, problems);
            }
        }
    }

    std::size_t w_;
    std::string where_;
};

}  // namespace detail::pages
}  // namespace v1
}  // namespace mmry
