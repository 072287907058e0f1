// Fuzz target: the page parsers of the copy-on-write core, detail::pages::bucket_view (a bucket
// of the hashed index) and node_view (a leaf or branch of the ordered index).
//
// Input: byte 0, bit 0: a tree node (else a bucket); the rest is the page, cut or zero-padded to
// 4096 bytes.
//
// Checks: parsing fails only with mmry::error; a page it accepts is walked in full (every entry
// looked up both through the full parse and through bucket_lookup, the read path, which must
// agree), then built again from what was read, which must parse to the same entries.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <mmry/detail/pages/hash_bucket.hpp>
#include <mmry/detail/pages/tree_node.hpp>

#include "fuzz_support.hpp"

namespace {

using namespace mmry_fuzz;
namespace pg = mmry::detail::pages;

void bucket(const std::vector<std::byte>& page) {
    pg::bucket_view b(page, "fuzz bucket");
    pg::bucket_builder again(b.depth(), b.prefix());
    for (const auto& e : b.entries()) {
        // The lookup path reads the page on its own: it must agree with the full parse.
        const pg::bucket_entry* found = nullptr;
        std::optional<std::span<const std::byte>> looked;
        bool found_failed = false, lookup_failed = false;
        try {
            found = b.find(e.hash, e.key);
        } catch (const mmry::error&) {
            found_failed = true;
        }
        try {
            looked = pg::bucket_lookup(std::span<const std::byte>(page), e.hash, e.key,
                                       [] { return std::string("fuzz bucket"); });
        } catch (const mmry::error&) {
            lookup_failed = true;
        }
        MMRY_FUZZ_CHECK(found_failed == lookup_failed, "the lookup path and the parse disagree");
        if (!found_failed)
            MMRY_FUZZ_CHECK(looked.has_value() == (found != nullptr) &&
                                (!looked || looked->data() == found->value.data()),
                            "the lookup path finds another entry");
        again.add(e);
    }
    std::vector<std::byte> copy(pg::page_size);
    again.write(copy);
    pg::bucket_view c(copy, "fuzz copy");
    MMRY_FUZZ_CHECK(c.entries().size() == b.entries().size(), "entry count after a rebuild");
    for (std::size_t i = 0; i < c.entries().size(); ++i)
        MMRY_FUZZ_CHECK(
            c.entries()[i].key == b.entries()[i].key && c.entries()[i].hash == b.entries()[i].hash,
            "entry " + std::to_string(i) + " after a rebuild");
}

void node(const std::vector<std::byte>& page) {
    pg::node_view n(page, "fuzz node");
    pg::node_builder again(n.leaf());
    for (std::size_t i = 0; i < n.entries().size(); ++i) {
        const auto& e = n.entries()[i];
        if (n.leaf()) {
            try {
                n.check(e);
            } catch (const mmry::error&) {
            }
            MMRY_FUZZ_CHECK(n.lower_bound(e.key) == i, "lower_bound of entry " + std::to_string(i));
            again.add(e.key, e.value);
        } else {
            MMRY_FUZZ_CHECK(n.child_for(e.key) == i || i == 0, "child_for separator");
            if (i == 0)
                again.first_child(e.child);
            else
                again.add(e.key, e.child);
        }
    }
    (void)n.lower_bound("\xff\xff\xff");
    std::vector<std::byte> copy(pg::page_size);
    again.write(copy);
    pg::node_view c(copy, "fuzz copy");
    MMRY_FUZZ_CHECK(c.entries().size() == n.entries().size() && c.leaf() == n.leaf(),
                    "entries after a rebuild");
    for (std::size_t i = 0; i < c.entries().size(); ++i)
        MMRY_FUZZ_CHECK(c.entries()[i].key == n.entries()[i].key, "key after a rebuild");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    input in(data, size);
    const bool tree = (in.u8() & 1) != 0;
    const byte_view rest = in.rest();
    std::vector<std::byte> page(pg::page_size);
    std::memcpy(page.data(), rest.data(), std::min(rest.size(), page.size()));
    try {
        if (tree)
            node(page);
        else
            bucket(page);
    } catch (const mmry::error&) {
    }
    return 0;
}
