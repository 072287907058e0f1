// Fuzz target: sequences of operations on the copy-on-write core (a page store on the heap with a
// hashed and an ordered index on it), checked against a std::map model (differential).
//
// Input: a sequence of operations, each an opcode byte then its operands:
//   0 put    key byte, value length byte (values repeat the key byte)
//   1 erase  key byte
//   2 commit
//   3 drop   (the transaction ends without commit)
//   4 check  (both indexes against the model, and the page accounting)
// Keys are 1 to 40 bytes long (the key byte picks both the length and the bytes), so entries of
// many sizes split and merge buckets, leaves and branches.
//
// Checks: no operation throws; after each commit both indexes count the model's entries and hold
// what it holds for every key the transaction touched; at a check (at most four per input) and at
// the end, both indexes hold exactly the model and every page is reachable or free exactly once.
// (A full check after every commit made a run cost O(commits x entries): ~100 inputs a second.)

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include <mmry/detail/pages/hash_index.hpp>
#include <mmry/detail/pages/page_store.hpp>
#include <mmry/detail/pages/tree_index.hpp>

#include "fuzz_support.hpp"

namespace {

using namespace mmry_fuzz;
namespace pg = mmry::detail::pages;
using store = pg::page_store<pg::heap_backend>;
using model = std::map<std::string, std::string>;

const pg::hash_index hashed(0);
const pg::tree_index ordered(pg::hash_index::words);

std::string key_of(std::uint8_t k) {
    return std::string(1 + k % 40, static_cast<char>('a' + k % 26)) + std::to_string(k);
}
std::span<const std::byte> bytes_of(const std::string& s) {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// After a commit: counts, and the keys the transaction touched, in both indexes.
void check_touched(store& s, const model& m, const std::set<std::string>& touched) {
    auto r = s.read();
    MMRY_FUZZ_CHECK(hashed.size(r) == m.size() && ordered.size(r) == m.size(), "entry counts");
    for (const auto& k : touched) {
        const auto it = m.find(k);
        const auto a = hashed.find(r, k), b = ordered.find(r, k);
        MMRY_FUZZ_CHECK(a.has_value() == (it != m.end()) && b.has_value() == a.has_value(),
                        "presence of " + k);
        if (it == m.end()) continue;
        MMRY_FUZZ_CHECK(
            std::string(reinterpret_cast<const char*>(a->data()), a->size()) == it->second &&
                std::string(reinterpret_cast<const char*>(b->data()), b->size()) == it->second,
            "the value of " + k);
    }
}

void check(store& s, const model& m) {
    auto r = s.read();
    MMRY_FUZZ_CHECK(hashed.size(r) == m.size() && ordered.size(r) == m.size(), "entry counts");
    model seen;
    ordered.for_each(r, "", [&](std::string_view k, std::span<const std::byte> v) {
        seen.emplace(std::string(k),
                     std::string(reinterpret_cast<const char*>(v.data()), v.size()));
        return true;
    });
    MMRY_FUZZ_CHECK(seen == m, "the ordered index holds what the model does");
    for (const auto& [k, v] : m) {
        const auto got = hashed.find(r, k);
        MMRY_FUZZ_CHECK(
            got && std::string(reinterpret_cast<const char*>(got->data()), got->size()) == v,
            "the hashed index holds " + k);
    }
    const auto c = s.check([](const auto& view, auto&& mark) {
        hashed.mark(view, mark);
        ordered.mark(view, mark);
    });
    MMRY_FUZZ_CHECK(c.ok(), c.problems.empty() ? std::string() : c.problems.front());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    input in(data, size);
    pg::page_store_options o;
    o.segment_bytes = 64 * 1024;
    o.max_bytes = 64 << 20;
    store s(pg::create, "fuzz", o);
    model committed, pending;
    std::set<std::string> touched;
    int full_checks = 0;
    std::unique_ptr<store::write_txn> w;  // (not movable: made in place by new)
    for (int ops = 0; !in.empty() && ops < 2000; ++ops) {
        const std::uint8_t op = in.u8() % 5;
        if (op <= 1 && !w) {
            w.reset(new store::write_txn(s.write()));
            pending = committed;
            touched.clear();
        }
        if (op == 0) {
            const std::uint8_t k = in.u8(), n = in.u8();
            const std::string key = key_of(k), value(n * 3u, static_cast<char>(k));
            hashed.put(*w, key, bytes_of(value), 7);
            ordered.put(*w, key, bytes_of(value));
            pending[key] = value;
            touched.insert(key);
        } else if (op == 1) {
            const std::string key = key_of(in.u8());
            const bool a = hashed.erase(*w, key), b = ordered.erase(*w, key);
            MMRY_FUZZ_CHECK(a == b && a == (pending.erase(key) == 1), "erase of " + key);
            touched.insert(key);
        } else if (op == 2 && w) {
            w->commit();
            w.reset();
            committed = pending;
            check_touched(s, committed, touched);
        } else if (op == 3) {
            w.reset();
        } else if (op == 4 && !w && full_checks < 4) {
            ++full_checks;
            check(s, committed);
        }
    }
    w.reset();
    check(s, committed);
    return 0;
}
