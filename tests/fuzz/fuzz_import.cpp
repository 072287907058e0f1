// Fuzz target: basic_store::import_record on a heap store, fed mutated exports.
//
// Input: byte 0, bits 0-1: the store's composition (0 plain: the default mmry::store; 1 sealed:
// aes256_gcm; 2 folding: fold::cdc<64,256,1024>; 3 is plain), bit 2: re-seal the export for the
// target's store first (checksums; sealed exports come in plain form, see fuzz_support.hpp). The
// rest is the export: a record, or a bundle.
//
// Each run builds a fresh store with store_cases.hpp's contents and reads every value once (so
// that the cache holds them), then imports. The import must succeed or throw mmry::error. Then:
// a refused import left the counters and arena as they were; every key reads back its value (the
// imported key its new one, alike through get, which may answer from the cache, and read, which
// decodes); after an import, two more rounds of puts over every key read back too, each put with
// a write sequence number the store never used before; verify() finds no problem.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "store_cases.hpp"

namespace {

using namespace mmry_fuzz;

/// Everything a refused import must leave as it was.
struct snapshot {
    std::uint64_t entries, records, logical, stored, frames, compressed, puts, erases, chunks;
    std::uint64_t chunk_refs, segments, reserved, free, blocks;
    bool operator==(const snapshot&) const = default;
    std::string describe() const {
        std::string s;
        for (std::uint64_t v : {entries, records, logical, stored, frames, compressed, puts, erases,
                                chunks, chunk_refs, segments, reserved, free, blocks})
            s += std::to_string(v) + " ";
        return s;
    }
};

template <class Store>
snapshot snapshot_of(const Store& s) {
    const auto st = s.stats();
    return {st.entries,          st.records,           st.logical_bytes,  st.stored_bytes,
            st.frames,           st.compressed_frames, st.puts,           st.erases,
            st.chunks,           st.chunk_refs,        st.arena.segments, st.arena.reserved_bytes,
            st.arena.free_bytes, st.arena.blocks};
}

/// get(k), where an mmry::error is a finding (the key was put or imported: it must read back).
template <class Store>
std::optional<bytes> read_back(const Store& s, const std::string& k, const char* when) {
    try {
        return s.get(k);
    } catch (const mmry::error& e) {
        finding(__FILE__, __LINE__, "read_back",
                std::string(when) + ": get of key '" + k + "' throws: " + e.what());
    }
}

template <class Store>
void check_all(const Store& s, const std::map<std::string, bytes>& expected, const char* when) {
    for (const auto& [k, v] : expected) {
        const auto got = read_back(s, k, when);
        MMRY_FUZZ_CHECK(got == v, std::string(when) + ": key '" + k + "' reads back " +
                                      (got ? hex_of(*got) : "nothing") + ", expected " + hex_of(v));
    }
    MMRY_FUZZ_CHECK(s.size() == expected.size(), std::string(when) + ": size() is " +
                                                     std::to_string(s.size()) + ", expected " +
                                                     std::to_string(expected.size()));
}

template <class Traits>
void run(byte_view exported, bool rebind) {
    mmry::basic_store<Traits> s(import_options<Traits>());
    auto expected = fill(s);
    check_all(s, expected, "before the import");
    std::set<std::uint64_t> seqs;  // of the records this store wrote
    for (const auto& [k, v] : expected) seqs.insert(s.metadata(k)->seq);
    std::uint64_t imported_seq = 0;
    const auto before = snapshot_of(s);

    bytes e(exported.begin(), exported.end());
    if (rebind) reseal_export(e, id_of(s), master_for<Traits>());
    bool imported = false;
    try {
        s.import_record(e);
        imported = true;
    } catch (const mmry::error& x) {
        // The documented failure channel; what it left behind is checked below.
        if (verbose()) std::fprintf(stderr, "  refused: %s\n", x.what());
    }

    if (!imported) {
        const auto after = snapshot_of(s);
        MMRY_FUZZ_CHECK(after == before, "a refused import changed the store: before " +
                                             before.describe() + ", after " + after.describe());
    } else {
        const byte_view first =
            format::is_bundle(e) ? format::parse_bundle(e).records.at(0) : byte_view(e);
        const auto parsed = format::record_view::parse(first, {}, tag_size);
        const std::string key(parsed.key());
        imported_seq = parsed.header().seq;
        const auto got = read_back(s, key, "after the import");
        MMRY_FUZZ_CHECK(got.has_value(), "imported key '" + key + "' is not there");
        std::optional<bytes> decoded;
        try {
            decoded = s.read(key, 0, got->size());
        } catch (const mmry::error& x) {
            finding(__FILE__, __LINE__, "read",
                    "imported key '" + key + "' gets, but read throws: " + x.what());
        }
        MMRY_FUZZ_CHECK(decoded == got, "imported key '" + key + "': get gives " + hex_of(*got) +
                                            ", read decodes " +
                                            (decoded ? hex_of(*decoded) : "nothing"));
        if (!format::is_bundle(e)) {
            const auto again = s.export_record(key);
            MMRY_FUZZ_CHECK(again == e, "imported key '" + key + "' exports other bytes");
        }
        expected[key] = *got;
        if (verbose()) std::fprintf(stderr, "  imported key '%s'\n", key.c_str());
    }
    check_all(s, expected, "after the import");
    auto report = s.verify();
    MMRY_FUZZ_CHECK(report.ok(), "verify after the import: " + report.problems.front());

    // Puts after the import: new versions of every key, twice, read back exactly. Each gets a
    // write sequence number the store has not used before (sealed frames take it as their nonce).
    // After a refused import the store is the one fill() made (the snapshot says so): the puts
    // would test nothing the import did, and they were most of a run's time.
    if (!imported) return;
    for (int round = 0; round < 2; ++round) {
        for (auto& [k, v] : expected) {
            v.push_back(static_cast<std::byte>(round));
            s.put(k, v);
            const std::uint64_t seq = s.metadata(k)->seq;
            MMRY_FUZZ_CHECK(seqs.insert(seq).second,
                            "a put after the import of a record with sequence number " +
                                std::to_string(imported_seq) + " got sequence number " +
                                std::to_string(seq) + ", which an earlier put had");
        }
        check_all(s, expected, round == 0 ? "after a round of puts" : "after two rounds of puts");
    }
    report = s.verify();
    MMRY_FUZZ_CHECK(report.ok(), "verify after the puts: " + report.problems.front());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    input in(data, size);
    const std::uint8_t mode = in.u8();
    const bool rebind = (mode & 4) != 0;
    const byte_view exported = in.rest();
    switch (static_cast<import_case>(mode & 3)) {
        case import_case::sealed:
            run<sealed_traits>(exported, rebind);
            break;
        case import_case::folding:
            run<folding_traits>(exported, rebind);
            break;
        default:
            run<mmry::default_traits>(exported, rebind);
            break;
    }
    return 0;
}
