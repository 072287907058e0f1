#pragma once
// What repair (basic_store::repair) reports, and what its quarantine holds. Repair acts on what
// verify() finds: a record that fails its checks leaves the index for the quarantine (its bytes
// kept as stored, to be listed, exported and dropped by the user), chunks nothing names are
// freed, reference counts and counters are set to what the store holds, and pages nothing
// reaches go back to the free lists. docs/DECISIONS.md §14 says how.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace mmry {
inline namespace v1 {

/// One thing in the quarantine: a record repair took out of the store, or an index entry it
/// had to drop. Its bytes stay in the store, as they were stored, until drop_quarantined().
struct quarantined {
    enum class kind : std::uint8_t {
        record = 0,  ///< a stored key's record (a value or a kept version)
        chunk = 1,   ///< a chunk or manifest piece of folded values
        entry = 2,   ///< an index entry too damaged to name a record: nothing kept
    };
    std::uint64_t id = 0;  ///< names it for export_quarantined() and drop_quarantined()
    kind what = kind::record;
    std::string name;        ///< the stored key, or "chunk <reference>" (hexadecimal)
    std::string reason;      ///< what failed, as verify() words it
    std::uint64_t size = 0;  ///< bytes kept (0 for an entry)
    std::chrono::system_clock::time_point when;  ///< when repair moved it
};

/// What repair() did. Every action is also named in `actions`, one line each.
struct repair_report {
    std::uint64_t records_checked = 0;   ///< distinct records decoded and checked
    std::uint64_t chunks_checked = 0;    ///< chunks and pieces decoded and checked
    std::uint64_t quarantined = 0;       ///< records, chunks and entries moved to quarantine
    std::uint64_t entries_restored = 0;  ///< damaged index entries rewritten from their record
    std::uint64_t chunks_freed = 0;      ///< chunks and pieces that nothing named, freed
    std::uint64_t references_fixed = 0;  ///< chunk reference counts set to what names them
    std::uint64_t counters_fixed = 0;    ///< store counters set to what the records add up to
    std::uint64_t pages_reclaimed = 0;   ///< pages nothing reached and no free list named
    std::vector<std::string> actions;    ///< each change, naming what and why
    std::vector<std::string> remaining;  ///< what verify() still finds afterwards
    std::chrono::nanoseconds time{};

    /// True when the store verifies clean after the repair.
    bool ok() const noexcept { return remaining.empty(); }
    /// True when repair changed nothing.
    bool untouched() const noexcept { return actions.empty(); }
};

}  // namespace v1
}  // namespace mmry
