// Fuzz target: a differential test of the store against a std::map.
//
// Input: byte 0 chooses the composition (bits 0-1: 0 default mmry::store; 1 ordered index, no
// compression, aes256_gcm, path::versioned, fold::cdc<64,256,1024>; 2 ordered, zstd<3>, no
// cipher, fold::cdc<64,256,1024>; 3 is 0), the frame size (bit 2: 64 bytes, else 64 KiB) and the
// cache (bit 3: off). Then operations, until the input ends: put, erase, get, contains, list
// under a prefix, read of a range, size (with a compaction before it for codes from 128). Keys are
// few and short ("a/0" ... "c/4", and the prefixes "", "a", "a/", ...), values up to a few KiB:
// input bytes, a repeated pattern, or another key's value with an edit (which folding stores share
// chunks with).
//
// Every answer must be the model's: any difference, and any mmry::error but the out_of_range of a
// read past a value's end, is a finding. At the end verify() must find no problem, and repair()
// nothing to do.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <mmry/cipher/aes256_gcm.hpp>
#include <mmry/compact.hpp>
#include <mmry/compress/none.hpp>
#include <mmry/compress/zstd.hpp>
#include <mmry/fold/cdc.hpp>
#include <mmry/index/ordered.hpp>
#include <mmry/path/versioned.hpp>
#include <mmry/repair.hpp>
#include <mmry/store.hpp>

#include "fuzz_support.hpp"

namespace {

using namespace mmry_fuzz;
using model = std::map<std::string, bytes>;

struct sealed_versioned : mmry::default_traits {
    using index = mmry::index::ordered;
    using compressor = mmry::compress::none;
    using cipher = mmry::cipher::aes256_gcm;
    using path = mmry::path::versioned;
    using fold = mmry::fold::cdc<64, 256, 1024>;
};
struct ordered_folding : mmry::default_traits {
    using index = mmry::index::ordered;
    using fold = mmry::fold::cdc<64, 256, 1024>;
};

std::string key_of(std::uint8_t b) {
    std::string k(1, static_cast<char>('a' + b % 3));
    k += '/';
    k += static_cast<char>('0' + (b / 3) % 5);
    return k;
}

std::string prefix_of(std::uint8_t b) {
    const std::string k = key_of(b);
    return k.substr(0, (b / 15) % 4);  // "", "a", "a/", "a/0"
}

/// A value: [kind u8][length u16 (of up to 4 KiB)] then, by kind, its bytes from the input, a
/// pattern of input bytes repeated, or another key's value with one byte changed and up to 7 cut
/// off.
bytes value_of(input& in, const model& m) {
    const std::uint8_t kind = in.u8();
    const std::size_t length = in.u16() % 4097;
    bytes v;
    switch (kind % 3) {
        case 0: {
            const auto b = in.take(length);
            v.assign(b.begin(), b.end());
            break;
        }
        case 1: {
            const auto pattern = in.take(1 + in.u8() % 16);
            if (pattern.empty()) break;
            v.resize(length);
            for (std::size_t i = 0; i < length; ++i) v[i] = pattern[i % pattern.size()];
            break;
        }
        default: {
            const auto it = m.find(key_of(in.u8()));
            if (it == m.end()) break;
            v = it->second;
            if (!v.empty()) v[length % v.size()] ^= std::byte{0x5a};
            const std::size_t cut = in.u8() % 8;
            v.resize(v.size() > cut ? v.size() - cut : 0);
            break;
        }
    }
    return v;
}

template <class Traits>
void run(input& in, std::uint8_t mode) {
    mmry::options o;
    o.capacity = std::size_t{1} << 20;
    o.frame_size = (mode & 4) ? 64 : std::size_t{64} << 10;
    o.cache_bytes = (mode & 8) ? 0 : std::size_t{1} << 20;
    o.clock = fixed_clock;
    if constexpr (Traits::cipher::tag_size > 0) o.key = mmry::key::from_bytes(seed_key_material());
    mmry::basic_store<Traits> s(std::move(o));
    model m;

    for (int op = 0; !in.empty() && op < 200; ++op) {
        const std::uint8_t code = in.u8();
        const std::string k = key_of(in.u8());
        const std::string what = "op " + std::to_string(op) + " on '" + k + "'";
        switch (code % 7) {
            case 0: {  // put
                const bytes v = value_of(in, m);
                s.put(k, v);
                m[k] = v;
                break;
            }
            case 1: {  // erase
                const bool had = s.erase(k).has_value();
                MMRY_FUZZ_CHECK(had == (m.erase(k) == 1),
                                what + ": erase says " + (had ? "erased" : "absent"));
                break;
            }
            case 2: {  // get
                const auto got = s.get(k);
                const auto it = m.find(k);
                MMRY_FUZZ_CHECK(got.has_value() == (it != m.end()) && (!got || *got == it->second),
                                what + ": get gives " + (got ? hex_of(*got) : "nothing") +
                                    ", the model " +
                                    (it != m.end() ? hex_of(it->second) : "nothing"));
                break;
            }
            case 3: {  // contains
                MMRY_FUZZ_CHECK(s.contains(k) == m.contains(k), what + ": contains disagrees");
                break;
            }
            case 4: {  // list under a prefix, in key order
                const std::string p = prefix_of(in.u8());
                std::vector<std::string> got, want;
                for (const auto& e : s.list(p)) got.push_back(e.key);
                for (auto it = m.lower_bound(p); it != m.end() && it->first.starts_with(p); ++it)
                    want.push_back(it->first);
                std::string listed;
                for (const auto& g : got) listed += g + " ";
                MMRY_FUZZ_CHECK(got == want,
                                "op " + std::to_string(op) + ": list('" + p + "') gives " + listed);
                break;
            }
            case 5: {  // read a range
                const std::uint64_t offset = in.u16() % 4200, length = in.u16() % 4200;
                const auto it = m.find(k);
                std::optional<bytes> got;
                bool past_end = false;
                try {
                    got = s.read(k, offset, length);
                } catch (const mmry::error& e) {
                    MMRY_FUZZ_CHECK(e.code() == mmry::errc::out_of_range,
                                    what + ": read threw " + e.what());
                    past_end = true;
                }
                if (it == m.end()) {
                    MMRY_FUZZ_CHECK(!past_end && !got, what + ": read of a missing key");
                } else if (offset > it->second.size() || length > it->second.size() - offset) {
                    MMRY_FUZZ_CHECK(past_end, what + ": read past the end did not throw");
                } else {
                    const auto b = it->second.begin() + static_cast<std::ptrdiff_t>(offset);
                    MMRY_FUZZ_CHECK(
                        got && *got == bytes(b, b + static_cast<std::ptrdiff_t>(length)),
                        what + ": read of [" + std::to_string(offset) + ", +" +
                            std::to_string(length) + ") disagrees");
                }
                break;
            }
            default: {  // size (after a compaction, for codes from 128)
                if (code >= 128) {
                    const auto r = s.compact();
                    MMRY_FUZZ_CHECK(r.size_after <= r.size_before,
                                    "op " + std::to_string(op) + ": compact() grew the store");
                }
                MMRY_FUZZ_CHECK(s.size() == m.size(), "op " + std::to_string(op) + ": size() " +
                                                          std::to_string(s.size()) + ", model " +
                                                          std::to_string(m.size()));
                break;
            }
        }
    }
    MMRY_FUZZ_CHECK(s.size() == m.size(), "at the end: size() disagrees");
    for (const auto& [k, v] : m) MMRY_FUZZ_CHECK(s.get(k) == v, "at the end: key '" + k + "'");
    const auto report = s.verify();
    MMRY_FUZZ_CHECK(report.ok(), "verify: " + report.problems.front());
    // A sound store is one repair() leaves exactly as it was.
    const auto repaired = s.repair();
    MMRY_FUZZ_CHECK(repaired.untouched(),
                    "repair() of a sound store: " +
                        (repaired.actions.empty() ? std::string() : repaired.actions.front()));
    MMRY_FUZZ_CHECK(repaired.ok() && s.quarantine().empty(), "repair() left problems");
    const auto st = s.stats();
    MMRY_FUZZ_CHECK(st.entries == m.size(), "stats().entries disagrees");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    input in(data, size);
    const std::uint8_t mode = in.u8();
    switch (mode & 3) {
        case 1:
            run<sealed_versioned>(in, mode);
            break;
        case 2:
            run<ordered_folding>(in, mode);
            break;
        default:
            run<mmry::default_traits>(in, mode);
            break;
    }
    return 0;
}
