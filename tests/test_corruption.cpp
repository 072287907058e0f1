// The corruption campaign (docs/FUZZING.md, "Corruption campaign"): closed stores of each shared
// arena, damaged at a random byte of one region at a time, each then opened, read in full,
// verified and written in a forked child under a time limit. Regions: the control page (creation
// header, lock words), the store header, the reader slots, the segment table, the two meta pages,
// the tables' pages (index, key heads, chunk table, counters), the records' pages, the free lists,
// anywhere in the files, and a segment file cut short. Damage: one byte xored, or 8 bytes
// overwritten (a cut file: cut to 0 bytes, one page, or half).
//
// Required of every trial:
// - no crash (no signal) and no hang (the child's alarm);
// - no wrong value: a get that answers returns the bytes that were put, before and after the
//   child's own writes, and a key that was erased stays erased;
// - no silent miss: a key that is gone is reported, by its get or by verify();
// - a put that succeeds reads back; every failure is a mmry::error.
// Trials: MMRY_CORRUPTION_TRIALS per composition and region (default 8: 480 trials, about 20 s);
// the run recorded in docs/FUZZING.md used MMRY_CORRUPTION_TRIALS=2000.

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <mmry/arena/mapped_file.hpp>
#include <mmry/arena/shared_memory.hpp>
#include <mmry/fold/cdc.hpp>
#include <mmry/path/versioned.hpp>

#include "shared_support.hpp"
#include "support.hpp"

using mmry::detail::store_access;
using mmry_test::env_count;
using mmry_test::file;
using mmry_test::numbered;
using mmry_test::place;
using mmry_test::random_bytes;
using mmry_test::shared_traits;
using mmry_test::shm;
namespace fs = std::filesystem;
namespace pg = mmry::detail::pages;

namespace {

enum region : int {
    control,
    store_header,
    reader_slots,
    segment_table,
    meta,
    tables,
    records,
    free_lists,
    anywhere,
    cut_file,
    region_count
};
constexpr std::array<const char*, region_count> region_names = {
    "control page", "store header", "reader slots", "segment table", "meta pages",
    "tables",       "records",      "free lists",   "anywhere",      "cut segment file"};

/// What a trial's child found (its exit code).
enum outcome : int {
    intact = 0,          // every answer right, verify() clean: the damage hit unused bytes
    detected = 1,        // an error reported the damage, and no answer was wrong
    wrong_value = 10,    // a get answered bytes that were never put (or an erased key's)
    silent_miss = 11,    // a key was gone, and neither its get nor verify() said so
    foreign_error = 12,  // a failure that is not a mmry::error
    lost_write = 13,     // a put succeeded, and the key then read back otherwise
    wrong_after = 14,    // after the child's writes, a get answered bytes never put
    repair_lied = 15,    // repair() said the store was whole, and a get or verify() disagreed
    repaired = 2,        // detected, and repair() made the store verify clean
};

/// The files a closed store consists of, and their bytes.
using files_type = std::map<std::string, std::string>;

template <class Arena>
files_type files_of(const place<Arena>& at) {
    files_type out;
    auto take = [&](const fs::path& p) {
        std::ifstream in(p, std::ios::binary);
        out[p.string()] = std::string(std::istreambuf_iterator<char>(in), {});
    };
    if constexpr (place<Arena>::files) {
        for (const auto& e : fs::recursive_directory_iterator(at.name()))
            if (e.is_regular_file()) take(e.path());
    } else {
        for (const auto& e : fs::directory_iterator("/dev/shm"))
            if (e.path().filename().string().starts_with(at.name() + ".")) take(e.path());
    }
    return out;
}

/// Puts the store's files back as `pristine` holds them, removing any made since.
template <class Arena>
void restore(const place<Arena>& at, const files_type& pristine) {
    for (const auto& [path, bytes] : files_of(at))
        if (!pristine.contains(path)) fs::remove(path);
    for (const auto& [path, bytes] : pristine) {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
}

/// The value of key i (one of several sizes: in index entries, in a page, in several pages,
/// across segments), and its number-th version.
mmry::bytes value_of(int i, int version) {
    static constexpr std::size_t sizes[] = {30, 200, 900, 5000, 30000, 90000};
    auto v =
        random_bytes(sizes[i % 6] + static_cast<std::size_t>(i), static_cast<std::uint64_t>(i));
    if (i % 2 == 0)  // half of them compressible
        for (std::size_t k = 0; k < v.size(); ++k)
            if (k % 8) v[k] = std::byte{'a'};
    v[0] = static_cast<std::byte>(version);
    return v;
}

constexpr int key_count = 60;

/// One byte's place in the store's files.
struct spot {
    std::string path;
    std::size_t offset;
};

/// The byte ranges of each region in the pristine files.
struct regions_type {
    std::array<std::vector<std::pair<spot, std::size_t>>, region_count> ranges;  // (start, length)
    std::vector<std::string> segments;                                           // by number
};

template <class Arena>
regions_type regions_of(const place<Arena>& at, const files_type& pristine,
                        const std::vector<std::uint8_t>& kinds) {
    regions_type r;
    r.segments = at.segment_paths();
    const std::size_t segment_bytes = pristine.at(r.segments.at(0)).size();
    const std::size_t segment_pages = segment_bytes / pg::page_size;
    for (std::size_t seg = 0; seg < r.segments.size(); ++seg) {
        const auto& path = r.segments[seg];
        const auto& bytes = pristine.at(path);
        for (std::size_t i = 0; i * pg::page_size < bytes.size(); ++i) {
            const std::size_t page = seg * segment_pages + i, at_byte = i * pg::page_size;
            auto add = [&](region which, std::size_t from, std::size_t n) {
                r.ranges[which].push_back({spot{path, at_byte + from}, n});
            };
            add(anywhere, 0, pg::page_size);
            std::uint64_t magic = 0;
            std::memcpy(&magic, bytes.data() + at_byte, 8);
            if (page == 0) {
                add(control, 0, 3072);
                add(store_header, 3072, pg::page_size - 3072);
            } else if (page < pg::segment_table_first) {
                add(reader_slots, 0, pg::page_size);
            } else if (page < pg::meta_page[0]) {
                add(segment_table, 0, pg::page_size);
            } else if (page < pg::first_data_page) {
                add(meta, 0, pg::page_size);
            } else if (page < kinds.size() && kinds[page] == store_access::table_page) {
                add(tables, 0, pg::page_size);
            } else if (page < kinds.size() && kinds[page] == store_access::record_page) {
                add(records, 0, pg::page_size);
            } else if (magic == pg::list_magic) {
                add(free_lists, 0, pg::page_size);
            }
        }
    }
    return r;
}

/// Damages one region at random; returns what it did.
std::string damage(const regions_type& r, region which, std::mt19937_64& rng) {
    std::ostringstream what;
    if (which == cut_file) {
        const auto& path = r.segments[rng() % r.segments.size()];
        const auto size = fs::file_size(path);
        const std::uintmax_t to[] = {0, pg::page_size, size / 2};
        const auto n = to[rng() % 3];
        fs::resize_file(path, n);
        what << path << " cut to " << n << " bytes";
        return what.str();
    }
    const auto& ranges = r.ranges[which];
    std::size_t total = 0;
    for (const auto& [at, n] : ranges) total += n;
    std::size_t pick = rng() % total;
    auto it = ranges.begin();
    while (pick >= it->second) pick -= (it++)->second;
    const spot s{it->first.path, it->first.offset + pick};
    std::fstream f(s.path, std::ios::binary | std::ios::in | std::ios::out);
    if (rng() % 2 == 0) {
        char c = 0;
        f.seekg(static_cast<std::streamoff>(s.offset));
        f.get(c);
        const auto mask = static_cast<char>(1 + rng() % 255);
        f.seekp(static_cast<std::streamoff>(s.offset));
        f.put(static_cast<char>(c ^ mask));
        what << s.path << " byte " << s.offset << " xor " << int(static_cast<unsigned char>(mask));
    } else {
        const std::uint64_t smash = rng();
        f.seekp(static_cast<std::streamoff>(s.offset));
        // Within the file: the last bytes of a page near its end are smashed short.
        const auto n = std::min<std::size_t>(8, fs::file_size(s.path) - s.offset);
        f.write(reinterpret_cast<const char*>(&smash), static_cast<std::streamsize>(n));
        what << s.path << " bytes " << s.offset << "+" << n << " smashed";
    }
    return what.str();
}

/// The child of one trial: opens, reads, verifies, writes, reads again. Returns an outcome.
template <class S>
int check_damaged(const std::string& name, const mmry::options& opts,
                  const std::vector<bool>& erased) {
    bool reported = false, mended = false;
    std::vector<std::string> held;  // the names of what repair() quarantined
    // Named: k in a quarantined item's name, not followed by a digit (k/1, k/10).
    auto quarantined = [&](const std::string& k) {
        return std::any_of(held.begin(), held.end(), [&](const std::string& n) {
            for (auto at = n.find(k); at != std::string::npos; at = n.find(k, at + 1))
                if (at + k.size() == n.size() ||
                    !std::isdigit(static_cast<unsigned char>(n[at + k.size()])))
                    return true;
            return false;
        });
    };
    // What key i may read: its value, or, when repair quarantined that version, the one before.
    auto own = [&](int i, const mmry::bytes& got) {
        return got == value_of(i, 2) || (got == value_of(i, 1) && quarantined(numbered("k/", i)));
    };
    try {
        std::optional<S> s;
        try {
            s.emplace(S::open(name, opts));
        } catch (const mmry::error&) {
            return detected;
        }
        std::vector<int> gone;
        for (int i = 0; i < key_count; ++i) {
            try {
                const auto got = s->get(numbered("k/", i));
                if (erased[i] ? got.has_value() : got && *got != value_of(i, 2)) {
                    std::fprintf(stderr, "k/%d: a value that is not its own\n", i);
                    return wrong_value;
                }
                if (!erased[i] && !got) gone.push_back(i);
            } catch (const mmry::error&) {
                reported = true;
            }
        }
        try {
            for (const auto& e : s->list("k/")) {
                const std::string& k = e.key;
                const int i = std::atoi(k.c_str() + 2);
                if (k != numbered("k/", i) || i >= key_count || erased[i]) {
                    std::fprintf(stderr, "list: a key never stored: %s\n", k.c_str());
                    return wrong_value;
                }
            }
        } catch (const mmry::error&) {
            reported = true;
        }
        bool verify_clean = false;
        try {
            verify_clean = s->verify().ok();
        } catch (const mmry::error&) {
        }
        reported = reported || !verify_clean;
        if (!gone.empty() && verify_clean) {
            std::fprintf(stderr, "k/%d: gone, and verify() finds nothing\n", gone.front());
            return silent_miss;
        }
        // Repair: afterwards every key reads its own value, or is named by the quarantine (a
        // kept version may then be what it reads), or is still reported (its get fails, or
        // repair says what it could not mend). A repair that says the store is whole is right.
        try {
            const auto r = s->repair();
            for (const auto& q : s->quarantine()) held.push_back(q.name);
            for (int i = 0; i < key_count; ++i) {
                if (erased[i]) continue;
                const std::string k = numbered("k/", i);
                const bool named = quarantined(k);
                try {
                    const auto got = s->get(k);
                    if (got && !own(i, *got)) {
                        std::fprintf(stderr, "%s: after repair, a value that is not its own (%s)\n",
                                     k.c_str(),
                                     *got == value_of(i, 1) ? "the one before, not quarantined"
                                                            : "never put");
                        for (const auto& n : held)
                            std::fprintf(stderr, "  quarantined: %s\n", n.c_str());
                        return wrong_value;
                    }
                    if (!got && !named && r.ok()) {
                        std::fprintf(stderr, "%s: gone after a repair that names nothing\n",
                                     k.c_str());
                        return silent_miss;
                    }
                } catch (const mmry::error& e) {
                    if (r.ok()) {
                        std::fprintf(stderr, "%s: after a clean repair: %s\n", k.c_str(), e.what());
                        return repair_lied;
                    }
                }
            }
            mended = s->verify().ok();
            if (r.ok() != mended) {
                std::fprintf(stderr, "repair says %s, verify() says %s\n",
                             r.ok() ? "whole" : "not whole", mended ? "whole" : "not whole");
                return repair_lied;
            }
        } catch (const mmry::error&) {
            reported = true;
        }
        // Writes: a new key, a replaced one, an erased one; each that succeeds holds.
        auto put_and_check = [&](const std::string& key, const mmry::bytes& v) {
            try {
                s->put(key, v);
            } catch (const mmry::error&) {
                reported = true;
                return true;
            }
            try {
                return s->get(key) == v;
            } catch (const mmry::error&) {
                reported = true;
                return true;  // the write happened; the damage elsewhere is what is reported
            }
        };
        if (!put_and_check("new/1", value_of(7, 9))) return lost_write;
        if (!put_and_check(numbered("k/", 1), value_of(1, 9))) return lost_write;
        try {
            s->erase(numbered("k/", 2));
        } catch (const mmry::error&) {
            reported = true;
        }
        for (int i = 3; i < key_count; ++i) {
            try {
                const auto got = s->get(numbered("k/", i));
                if (erased[i] ? got.has_value() : got && !own(i, *got)) {
                    std::fprintf(stderr, "k/%d: after writes, a value that is not its own\n", i);
                    return wrong_after;
                }
            } catch (const mmry::error&) {
            }
        }
    } catch (const mmry::error&) {
        reported = true;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "not a mmry::error: %s\n", e.what());
        return foreign_error;
    } catch (...) {
        return foreign_error;
    }
    return !reported ? intact : mended ? repaired : detected;
}

struct tally {
    // trials, intact, detected, failed, repaired (of detected)
    std::array<std::array<int, 5>, region_count> by_region{};
    std::vector<std::string> failures;
};

template <class Traits>
void campaign(const char* label) {
    using S = mmry::basic_store<Traits>;
    const int trials = env_count("MMRY_CORRUPTION_TRIALS", 8);
    const mmry::options opts = mmry_test::options_for<Traits>(64 * 1024);
    place<typename Traits::arena> at;
    std::vector<bool> erased(key_count, false);
    std::vector<std::uint8_t> kinds;
    {
        auto s = S::create(at.name(), opts);
        for (int version = 1; version <= 2; ++version)
            for (int i = 0; i < key_count; ++i) s.put(numbered("k/", i), value_of(i, version));
        for (int i = 5; i < key_count; i += 7) {
            s.erase(numbered("k/", i));
            erased[i] = true;
        }
        s.put("tail", "so that free lists hold the pages freed last");
        REQUIRE(s.verify().ok());
        kinds = store_access::page_kinds(s);
    }
    const files_type pristine = files_of(at);
    const regions_type r = regions_of(at, pristine, kinds);

    tally t;
    std::mt19937_64 rng(0x5eed ^ std::hash<std::string>{}(label));
    for (int trial = 0; trial < trials; ++trial) {
        for (int k = 0; k < region_count; ++k) {
            const auto which = static_cast<region>(k);
            if (which != cut_file && r.ranges[which].empty()) continue;
            restore(at, pristine);
            const std::string what = damage(r, which, rng);
            const pid_t child = ::fork();
            if (child == 0) {
                ::alarm(20);
                ::_exit(check_damaged<S>(at.name(), opts, erased));
            }
            int status = 0;
            REQUIRE(::waitpid(child, &status, 0) == child);
            auto& row = t.by_region[which];
            ++row[0];
            std::string failure;
            if (WIFSIGNALED(status))
                failure = WTERMSIG(status) == SIGALRM
                              ? "hang"
                              : std::string("crash: ") + ::strsignal(WTERMSIG(status));
            else if (WEXITSTATUS(status) == intact)
                ++row[1];
            else if (WEXITSTATUS(status) == detected || WEXITSTATUS(status) == repaired) {
                ++row[2];
                if (WEXITSTATUS(status) == repaired) ++row[4];
            } else
                failure = "outcome " + std::to_string(WEXITSTATUS(status));
            if (!failure.empty()) {
                ++row[3];
                if (t.failures.size() < 20)
                    t.failures.push_back(std::string(region_names[which]) + ": " + what + ": " +
                                         failure);
            }
        }
    }
    restore(at, pristine);

    std::ostringstream table;
    table << label
          << "\n| region | trials | intact | detected | repaired | failed |\n"
             "|---|--:|--:|--:|--:|--:|\n";
    int failed = 0;
    for (int k = 0; k < region_count; ++k) {
        const auto& row = t.by_region[k];
        if (row[0] == 0) continue;
        table << "| " << region_names[k] << " | " << row[0] << " | " << row[1] << " | " << row[2]
              << " | " << row[4] << " | " << row[3] << " |\n";
        failed += row[3];
    }
    WARN(table.str());
    for (const auto& f : t.failures) UNSCOPED_INFO(f);
    CHECK(failed == 0);
}

}  // namespace

TEST_CASE("corruption: damaged mapped-file stores never crash, hang or answer wrong",
          "[corruption][processes]") {
    campaign<mmry_test::raw_traits<file>>("mapped_file, raw, hashed");
    campaign<mmry_test::sealed_ordered_traits<file>>("mapped_file, zstd-3 + AES-GCM, ordered");
    campaign<mmry_test::folded_history_traits<file>>(
        "mapped_file, versioned + fold::cdc, zstd-3 + AES-GCM");
}

TEST_CASE("corruption: damaged shared-memory stores never crash, hang or answer wrong",
          "[corruption][processes]") {
    campaign<mmry_test::raw_traits<shm>>("shared_memory, raw, hashed");
    campaign<mmry_test::sealed_ordered_traits<shm>>("shared_memory, zstd-3 + AES-GCM, ordered");
    campaign<mmry_test::folded_history_traits<shm>>(
        "shared_memory, versioned + fold::cdc, zstd-3 + AES-GCM");
}
