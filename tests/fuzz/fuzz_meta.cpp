// Fuzz target: format::meta_view::parse, the meta section of a record.
//
// Input: byte 0, bit 0: the section is a folded record's (it then holds the value size and chunk
// count); the rest is the section (without a MAC).
//
// Checks: parse fails only with mmry::error; a section it accepts is walked (content type, tags,
// attributes, hashes) and written again with format::write_meta from what was read, which gives
// the same bytes but for version, previous version and chain hash (stamped at commit, not by
// write_meta), and format::meta_size agrees with its size.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include <mmry/format/meta.hpp>

#include "fuzz_support.hpp"

namespace {

using namespace mmry_fuzz;
namespace meta_off = format::meta_off;

bool same_range(byte_view a, byte_view b, std::size_t from, std::size_t to) {
    return std::equal(a.begin() + static_cast<std::ptrdiff_t>(from),
                      a.begin() + static_cast<std::ptrdiff_t>(to),
                      b.begin() + static_cast<std::ptrdiff_t>(from));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    input in(data, size);
    const bool folded = (in.u8() & 1) != 0;
    const byte_view section = in.rest();
    std::optional<format::meta_view> parsed;
    try {
        parsed = format::meta_view::parse(section, "fuzz", folded);
    } catch (const mmry::error&) {
        return 0;
    }
    const auto& m = *parsed;
    mmry::put_options o;
    o.content_type = std::string(m.content_type());
    m.for_each_tag([&](std::string_view t) { o.tags.emplace_back(t); });
    m.for_each_attribute(
        [&](std::string_view k, std::string_view v) { o.attributes.emplace_back(k, v); });
    MMRY_FUZZ_CHECK(m.version() != 0 && m.previous() < m.version(), "versions");
    for (const auto& t : o.tags) MMRY_FUZZ_CHECK(!t.empty() && m.has_tag(t), "tag");
    for (const auto& a : o.attributes) MMRY_FUZZ_CHECK(!a.first.empty(), "attribute name");

    MMRY_FUZZ_CHECK(format::meta_size(o, false, folded) == section.size(),
                    "meta_size gives " + std::to_string(format::meta_size(o, false, folded)) +
                        " for a section of " + std::to_string(section.size()));
    MMRY_FUZZ_CHECK(section.size() >= format::meta_fixed_size + 6,
                    "accepted a section of " + std::to_string(section.size()) + " bytes");
    std::optional<format::folded_info> info;
    if (folded) info = format::folded_info{m.folded_size(), m.folded_chunks()};
    bytes again(section.size());
    format::write_meta(again.data(), o, m.hash_kind(), m.content_hash(), info);
    MMRY_FUZZ_CHECK(same_range(section, again, 0, meta_off::version) &&
                        same_range(section, again, meta_off::content_hash, meta_off::chain_hash) &&
                        same_range(section, again, meta_off::variable, section.size()),
                    "written again as " + hex_of(again, 200) + ", was " + hex_of(section, 200));
    return 0;
}
