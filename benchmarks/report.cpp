#include "report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string_view>

namespace mmry_bench {
namespace {

/// A number with about four significant digits, no exponent, no trailing zeros.
std::string num(double v) {
    if (!std::isfinite(v)) return "null";
    const double a = std::fabs(v);
    int decimals = a == 0 ? 0 : 3 - static_cast<int>(std::floor(std::log10(a)));
    decimals = std::clamp(decimals, 0, 9);
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", decimals, v);
    std::string s = b;
    if (s.find('.') != std::string::npos) {
        while (s.back() == '0') s.pop_back();
        if (s.back() == '.') s.pop_back();
    }
    return s;
}

std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (const char ch : s) {
        if (ch == '"' || ch == '\\') out += '\\';
        if (static_cast<unsigned char>(ch) < 0x20) {
            char b[8];
            std::snprintf(b, sizeof b, "\\u%04x", ch);
            out += b;
        } else {
            out += ch;
        }
    }
    return out + "\"";
}

std::string cell(std::optional<double> v) {
    return v ? num(*v) : "–";
}
std::string cpu_cell(std::optional<double> v) {
    if (!v) return {};
    std::string s = "(";
    return s.append(num(*v)).append(")");
}

std::string ratio(std::optional<double> a, std::optional<double> b) {
    if (!a || !b || *b == 0) return "–";
    return num(*a / *b) + "×";
}

const std::vector<std::string> mmry_small = {
    "mmry/heap/hashed",           "mmry/heap/ordered",       "mmry/shared_memory/hashed",
    "mmry/shared_memory/ordered", "mmry/mapped_file/hashed", "mmry/mapped_file/ordered"};
const std::vector<std::string> peers_small = {"std", "bip_unordered_map", "lmdb", "rocksdb"};

void small_tables(const report& r, std::ostream& out) {
    const auto& res = r.res;
    out << "## Small values\n\n"
        << r.cfg.n << " keys of 16 bytes (put in random key order), values of 100 bytes sliced "
        << "from the corpus; gets in another random order, each touching every byte of the value. "
        << "mmry: compress::none, cipher::none, per-process cache off (except `+cache`). "
        << "`+view` rows read through view() (zero copy) instead of get(). "
        << "`mmry-pages/` rows: the copy-on-write page layer alone (a preview of the core, not "
           "yet behind basic_store), one commit per put and one read transaction per get.\n\n"
        << "Each time is given twice: from the wall clock (steady_clock; the figure in the JSON "
           "file) and, in parentheses, from the CPU time the process got (steadier when other "
           "work shares the cores).\n\n"
        << "| system | put ns/op | (CPU) | get ns/op | (CPU) | bytes/entry |\n"
           "|---|--:|--:|--:|--:|--:|\n";
    std::vector<std::string> rows;
    for (const auto& m : mmry_small) {
        rows.push_back(m);
        rows.push_back(m + "+view");
        if (m == "mmry/shared_memory/hashed") rows.push_back(m + "+cache");
    }
    rows.push_back("mmry-pages/shared_memory/hashed");
    for (const auto& p : peers_small) rows.push_back(p);
    for (const auto& s : rows) {
        const auto put = res.find("small_put", s), get = res.find("small_get", s),
                   bpe = res.find("bytes_per_entry", s);
        if (!put && !get && !bpe) continue;
        out << "| " << s << " | " << cell(put) << " | " << cpu_cell(res.find_cpu("small_put", s))
            << " | " << cell(get) << " | " << cpu_cell(res.find_cpu("small_get", s)) << " | "
            << cell(bpe) << " |\n";
    }
    out << "\nRatios against each peer (mmry ÷ peer: below 1 means mmry is faster / smaller):\n\n"
        << "| system | get÷std | get÷bip | get÷lmdb | get÷rocksdb | put÷std | put÷bip | "
           "put÷lmdb | put÷rocksdb | bytes÷lmdb |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n";
    for (const auto& s : rows) {
        if (s.rfind("mmry", 0) != 0) continue;
        const auto get = res.find("small_get", s), put = res.find("small_put", s);
        if (!get && !put) continue;
        out << "| " << s;
        for (const auto& p : peers_small) out << " | " << ratio(get, res.find("small_get", p));
        for (const auto& p : peers_small) out << " | " << ratio(put, res.find("small_put", p));
        out << " | " << ratio(res.find("bytes_per_entry", s), res.find("bytes_per_entry", "lmdb"))
            << " |\n";
    }
    out << "\n";
}

const std::vector<std::string> durable_systems = {
    "mmry/mapped_file/sync", "mmry-pages/mapped_file/sync", "lmdb/sync", "rocksdb/sync"};

void durable_tables(const report& r, std::ostream& out) {
    const auto& res = r.res;
    bool any = false;
    for (const auto& s : durable_systems) any = any || res.find("durable_put", s).has_value();
    if (any) {
        out << "## Durable commits (one 100-byte put per commit, on disk when it returns)\n\n"
            << "| system | threads | commits/s | ÷ lmdb/sync | ÷ rocksdb/sync |\n"
               "|---|--:|--:|--:|--:|\n";
        for (const auto& s : durable_systems)
            for (const int t : {1, 4}) {
                const auto v = res.find("durable_put", s, t);
                if (!v) continue;
                out << "| " << s << " | " << t << " | " << num(*v) << " | "
                    << ratio(v, res.find("durable_put", "lmdb/sync", t)) << " | "
                    << ratio(v, res.find("durable_put", "rocksdb/sync", t)) << " |\n";
            }
        out << "\n(Ratios at the same thread count; above 1 means more commits per second than "
               "the peer. Wall clock only: the time is mostly spent waiting for the disk.)\n\n";
    }
    if (const auto b = res.find("backup", "mmry/mapped_file")) {
        const auto cp = res.find("backup", "cp");
        out << "## Backups (MB/s of stored bytes)\n\n"
            << "| system | backup | ÷ cp | restore | incremental fraction "
               "|\n|---|--:|--:|--:|--:|\n"
            << "| mmry/mapped_file | " << num(*b) << " | " << ratio(b, cp) << " | "
            << cell(res.find("restore", "mmry/mapped_file")) << " | "
            << cell(res.find("backup_incremental_fraction", "mmry/mapped_file")) << " |\n"
            << "| cp | " << cell(cp) << " | | | |\n\n";
    }
    if (const auto v = res.find("compact", "mmry/mapped_file"))
        out << "## Compaction (1 GiB of 64 KiB values, 90 % erased)\n\n"
            << "| system | s per GiB of live data | files after ÷ live stored bytes |\n"
            << "|---|--:|--:|\n| mmry/mapped_file | " << num(*v) << " | "
            << cell(res.find("compact_size_ratio", "mmry/mapped_file")) << " |\n\n";
    if (const auto v = res.find("recovery_ms", "mmry-pages/mapped_file"))
        out << "## Recovery after a writer killed mid-put (page layer, mapped file)\n\n"
            << "| system | open + first write transaction, ms |\n|---|--:|\n"
            << "| mmry-pages/mapped_file | " << num(*v)
            << " |\n\n(Store size: " << (r.cfg.recovery_bytes >> 20)
            << " MiB of 100-byte values.)\n\n";
}

void codec_tables(const report& r, std::ostream& out) {
    const auto& res = r.res;
    const std::string sealed = "mmry/heap/hashed/zstd3+aes256_gcm";
    const std::string plain = "mmry/heap/hashed/none+none";
    if (res.find("codec_put", sealed) || res.find("raw_put", "raw_pipeline")) {
        out << "## Codec path (64 KiB values of the corpus)\n\n"
            << "| system | put MB/s | (CPU) | get MB/s | (CPU) | ratio (logical/stored) | "
               "put÷ref | get÷ref | ratio÷ref |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|\n";
        auto row = [&](const std::string& s, const char* put_m, const char* get_m,
                       const std::string& ref) {
            const auto put = res.find(put_m, s), get = res.find(get_m, s),
                       rat = res.find("codec_ratio", s);
            if (!put && !get) return;
            out << "| " << s << " | " << cell(put) << " | " << cpu_cell(res.find_cpu(put_m, s))
                << " | " << cell(get) << " | " << cpu_cell(res.find_cpu(get_m, s)) << " | "
                << cell(rat);
            if (ref.empty()) {
                out << " | | | |\n";
                return;
            }
            out << " | " << ratio(put, res.find("raw_put", ref)) << " | "
                << ratio(get, res.find("raw_get", ref)) << " | "
                << ratio(rat, res.find("codec_ratio", ref)) << " |\n";
        };
        row(sealed, "codec_put", "codec_get", "raw_pipeline");
        row(sealed + "/no_content_hash", "codec_put", "codec_get", "raw_pipeline");
        row("raw_pipeline", "raw_put", "raw_get", "");
        row(plain, "codec_put", "codec_get", "memcpy");
        row("memcpy", "raw_put", "raw_get", "");
        out << "\n(ref: raw_pipeline for zstd3+aes256_gcm, memcpy for none+none; ratios from "
               "wall-clock figures.)\n\n";
    }
    const auto range = res.find("range_read", sealed), full = res.find("full_get", sealed);
    if (range || full) {
        out << "## Range read (one value holding the whole corpus, zstd 3 + AES-256-GCM)\n\n"
            << "| what | µs/op | (CPU) |\n|---|--:|--:|\n"
            << "| range_read: 4 KiB at the middle | " << cell(range) << " | "
            << cpu_cell(res.find_cpu("range_read", sealed)) << " |\n"
            << "| full_get: the whole value | " << cell(full) << " | "
            << cpu_cell(res.find_cpu("full_get", sealed)) << " |\n"
            << "| range_read ÷ full_get | " << ratio(range, full) << " | |\n\n";
    }
}

void open_scaling_tables(const report& r, std::ostream& out) {
    const auto& res = r.res;
    const auto bip = res.find("open", "bip_managed_shared_memory");
    if (bip || res.find("open", "mmry/mapped_file/hashed")) {
        out << "## Open an existing store (" << (r.cfg.open_bytes >> 20) << " MiB)\n\n"
            << "| system | µs | (CPU) | ÷ bip |\n|---|--:|--:|--:|\n";
        for (const char* s :
             {"mmry/mapped_file/hashed", "mmry/shared_memory/hashed", "bip_managed_shared_memory"})
            if (const auto v = res.find("open", s))
                out << "| " << s << " | " << num(*v) << " | " << cpu_cell(res.find_cpu("open", s))
                    << " | " << ratio(v, bip) << " |\n";
        out << "\n";
    }
    if (const auto v = res.find("read_scaling", "mmry/shared_memory/hashed"))
        out << "## Read scaling (shared memory, hashed)\n\n| gets/s of 2 reader processes ÷ 1 "
               "| the same from each reader's gets per CPU-second (as if each had a free core) "
               "|\n|--:|--:|\n| "
            << num(*v) << "× | " << cell(res.find_cpu("read_scaling", "mmry/shared_memory/hashed"))
            << "× |\n\n";
}

void fold_tables(const report& r, std::ostream& out) {
    const auto& res = r.res;
    const std::string cdc = "mmry/cdc", none = "mmry/none";
    if (res.find("fold_put", cdc) || res.find("fold_put", none)) {
        out << "## Folding: versions of one text (versioned path, zstd 3 + AES-256-GCM)\n\n"
            << "| system | put MB/s | (CPU) | get MB/s | (CPU) | stored ÷ none | dedup ratio | "
               "put÷none | get÷none |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|\n";
        for (const auto& s : {cdc, none}) {
            const auto put = res.find("fold_put", s), get = res.find("fold_get", s);
            if (!put && !get) continue;
            const bool is_none = s == none;
            out << "| " << s << " | " << cell(put) << " | " << cpu_cell(res.find_cpu("fold_put", s))
                << " | " << cell(get) << " | " << cpu_cell(res.find_cpu("fold_get", s)) << " | "
                << (is_none ? "1" : cell(res.find("fold_stored_fraction", s))) << " | "
                << (is_none ? "–" : cell(res.find("fold_dedup_ratio", s))) << " | "
                << ratio(put, res.find("fold_put", none)) << " | "
                << ratio(get, res.find("fold_get", none)) << " |\n";
        }
        out << "\n(MB/s of logical bytes; stored ÷ none = stats().stored_bytes of the cdc store ÷ "
               "that of the none store; dedup ratio = logical ÷ folded bytes.)\n\n";
    }
    const std::string dict = "mmry/zstd3+dict", plain = "mmry/zstd3";
    if (res.find("dict_ratio", dict) || res.find("dict_ratio", plain)) {
        out << "## Dictionaries: 4 KiB records of the corpus (zstd 3)\n\n"
            << "| system | logical ÷ frame payload | ÷ zstd3 | logical ÷ stored bytes | ÷ zstd3 "
               "|\n|---|--:|--:|--:|--:|\n";
        for (const auto& s : {dict, plain}) {
            const auto rat = res.find("dict_ratio", s), stored = res.find("dict_stored_ratio", s);
            if (!rat && !stored) continue;
            out << "| " << s << " | " << cell(rat) << " | "
                << ratio(rat, res.find("dict_ratio", plain)) << " | " << cell(stored) << " | "
                << ratio(stored, res.find("dict_stored_ratio", plain)) << " |\n";
        }
        out << "\n(stored bytes include each record's head, key, meta section and frame table: "
               "what the store holds for these records.)\n\n";
    }
}

struct target {
    std::string metric;
    std::string text;
    std::optional<double> measured;
    double limit;
    bool at_most;                    // measured <= limit, else measured >= limit
    std::optional<double> cpu = {};  // the same from CPU-time figures, where that applies
};

std::optional<double> over(std::optional<double> a, std::optional<double> b) {
    if (!a || !b || *b == 0) return std::nullopt;
    return *a / *b;
}

void target_table(const report& r, std::ostream& out) {
    const auto& res = r.res;
    const std::string shm = "mmry/shared_memory/hashed";
    const std::string sealed = "mmry/heap/hashed/zstd3+aes256_gcm";
    const std::string pages = "mmry-pages/shared_memory/hashed";
    auto cpu = [&](const char* metric, const std::string& system) {
        return res.find_cpu(metric, system);
    };
    const std::vector<target> targets = {
        {"small_get", "shared_memory/hashed ÷ lmdb ≤ 0.25",
         over(res.find("small_get", shm), res.find("small_get", "lmdb")), 0.25, true,
         over(cpu("small_get", shm), cpu("small_get", "lmdb"))},
        {"small_get", "shared_memory/hashed ÷ std ≤ 1.1",
         over(res.find("small_get", shm), res.find("small_get", "std")), 1.1, true,
         over(cpu("small_get", shm), cpu("small_get", "std"))},
        {"small_put", "shared_memory/hashed ÷ lmdb ≤ 0.35",
         over(res.find("small_put", shm), res.find("small_put", "lmdb")), 0.35, true,
         over(cpu("small_put", shm), cpu("small_put", "lmdb"))},
        {"bytes_per_entry", "shared_memory/hashed ≤ 150 B", res.find("bytes_per_entry", shm), 150,
         true},
        {"codec_put", "zstd3+aes ÷ raw_pipeline ≥ 0.95",
         over(res.find("codec_put", sealed), res.find("raw_put", "raw_pipeline")), 0.95, false,
         over(cpu("codec_put", sealed), cpu("raw_put", "raw_pipeline"))},
        {"codec_get", "zstd3+aes ÷ raw_pipeline ≥ 0.95",
         over(res.find("codec_get", sealed), res.find("raw_get", "raw_pipeline")), 0.95, false,
         over(cpu("codec_get", sealed), cpu("raw_get", "raw_pipeline"))},
        {"codec_ratio", "zstd3+aes ÷ raw_pipeline ≥ 0.99",
         over(res.find("codec_ratio", sealed), res.find("codec_ratio", "raw_pipeline")), 0.99,
         false},
        {"range_read", "÷ full_get ≤ 0.01",
         over(res.find("range_read", sealed), res.find("full_get", sealed)), 0.01, true,
         over(cpu("range_read", sealed), cpu("full_get", sealed))},
        {"open", "mapped_file ≤ 100 µs", res.find("open", "mmry/mapped_file/hashed"), 100, true,
         cpu("open", "mmry/mapped_file/hashed")},
        {"read_scaling", "2 processes ÷ 1 ≥ 1.8", res.find("read_scaling", shm), 1.8, false,
         cpu("read_scaling", shm)},
        {"put_under_reads", "p99 beside 2 readers ÷ alone ≤ 2", res.find("put_under_reads", shm), 2,
         true, cpu("put_under_reads", shm)},
        {"fold_stored_fraction", "cdc ÷ none stored bytes ≤ 0.05",
         res.find("fold_stored_fraction", "mmry/cdc"), 0.05, true},
        {"dict_ratio", "zstd3+dict logical ÷ frame payload ≥ 2.9",
         res.find("dict_ratio", "mmry/zstd3+dict"), 2.9, false},
        {"durable_put", "mmry/mapped_file/sync ÷ rocksdb/sync, 4 threads ≥ 1",
         over(res.find("durable_put", durable_systems[0], 4),
              res.find("durable_put", "rocksdb/sync", 4)),
         1, false},
        {"durable_put", "mmry/mapped_file/sync ÷ lmdb/sync, 1 thread ≥ 1.5",
         over(res.find("durable_put", durable_systems[0], 1),
              res.find("durable_put", "lmdb/sync", 1)),
         1.5, false},
        {"small_put", "pages/shared_memory/hashed ÷ shared_memory/hashed ≤ 1 (÷ lmdb no worse)",
         over(res.find("small_put", pages), res.find("small_put", shm)), 1, true,
         over(cpu("small_put", pages), cpu("small_put", shm))},
        {"backup", "mmry/mapped_file ÷ cp ≥ 0.8",
         over(res.find("backup", "mmry/mapped_file"), res.find("backup", "cp")), 0.8, false},
        {"backup_incremental_fraction", "after 1 % changed ≤ 0.02",
         res.find("backup_incremental_fraction", "mmry/mapped_file"), 0.02, true},
        {"compact_size_ratio", "files after compaction ÷ live stored bytes ≤ 1.2",
         res.find("compact_size_ratio", "mmry/mapped_file"), 1.2, true},
        {"recovery_ms",
         "pages/mapped_file ≤ 100 ms (on 1 GiB; this run: " +
             std::to_string(r.cfg.recovery_bytes >> 20) + " MiB)",
         res.find("recovery_ms", "mmry-pages/mapped_file"), 100, true},
    };
    out << "## Targets\n\n"
        << "| metric | target | measured | met | from CPU time | met |\n"
           "|---|---|--:|:-:|--:|:-:|\n";
    auto verdict = [](const target& t, std::optional<double> v) -> std::string {
        if (!v) return "";
        return (t.at_most ? *v <= t.limit : *v >= t.limit) ? "met" : "**not met**";
    };
    for (const auto& t : targets)
        out << "| " << t.metric << " | " << t.text << " | " << cell(t.measured) << " | "
            << verdict(t, t.measured) << " | " << (t.cpu ? num(*t.cpu) : "") << " | "
            << verdict(t, t.cpu) << " |\n";
    out << "\nThe verdict is the wall-clock one (\"measured\"); the CPU-time column shows what "
           "the same ratio is when time the process spent waiting for a core is left out.\n\n";
}

}  // namespace

void print_markdown(const report& r, std::ostream& out) {
    out << "# mmry-bench\n\n`" << r.command << "`";
    if (r.cfg.smoke) out << " (smoke run: sizes too small to mean anything)";
    out << "\n\n| machine | |\n|---|---|\n";
    for (const auto& [k, v] : r.machine) out << "| " << k << " | " << v << " |\n";
    out << "\n| library | version |\n|---|---|\n";
    for (const auto& [k, v] : r.versions) out << "| " << k << " | " << v << " |\n";
    out << "\nData: " << r.corpus_origin << ". Every figure is the median of " << r.cfg.reps
        << " repetitions (open: 21) timed with std::chrono::steady_clock. Whole run: "
        << num(r.seconds) << " s.\n\n";
    small_tables(r, out);
    durable_tables(r, out);
    codec_tables(r, out);
    open_scaling_tables(r, out);
    fold_tables(r, out);
    target_table(r, out);
    if (!r.nt.lines.empty()) {
        out << "## How each figure was measured\n\n";
        for (const auto& l : r.nt.lines) out << "- " << l << "\n";
        out << "\n";
    }
}

void write_json_lines(const results& res, std::ostream& out) {
    for (const auto& m : res.all()) {
        out << "{\"metric\": " << json_string(m.metric)
            << ", \"system\": " << json_string(m.system);
        if (m.threads) out << ", \"threads\": " << *m.threads;
        out << ", \"value\": " << num(m.value) << ", \"unit\": " << json_string(m.unit) << "}\n";
    }
}

}  // namespace mmry_bench
