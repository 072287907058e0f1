#pragma once
// The tool's commands over one open store: templates over the store type, instantiated once per
// composition the tool knows (compositions_*.cpp). Each returns an exit status; errors are thrown
// (mmry::error and std::exception) and reported by main() as one line.

#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <mmry/format/store_header.hpp>
#include <mmry/store.hpp>

#include "backups.hpp"
#include "dump_stream.hpp"
#include "output.hpp"
#include "request.hpp"

namespace mmry_tool {

using json = nlohmann::json;

inline std::uint64_t number_of(std::uint64_t v) {
    return v;
}
inline std::uint64_t number_of(mmry::version v) {
    return v.number;
}

/// A FILE* for "-"/"" (stdin or stdout) or a path; closed at the end of scope unless standard.
class stream {
  public:
    stream(const std::string& path, bool for_writing) {
        if (path.empty() || path == "-") {
            f_ = for_writing ? stdout : stdin;
            return;
        }
        f_ = std::fopen(path.c_str(), for_writing ? "wb" : "rb");
        if (!f_)
            throw mmry::error(mmry::errc::io_error,
                              "cannot open " + path + ": " + std::strerror(errno));
        owned_ = true;
        name_ = path;
    }
    ~stream() {
        if (owned_) std::fclose(f_);
    }
    stream(const stream&) = delete;
    stream& operator=(const stream&) = delete;
    std::FILE* get() const noexcept { return f_; }
    const std::string& name() const noexcept { return name_; }
    /// Bytes of a regular file, or 0 when unknown (a pipe).
    std::uint64_t size() const {
        struct stat st {};
        return ::fstat(::fileno(f_), &st) == 0 && S_ISREG(st.st_mode)
                   ? static_cast<std::uint64_t>(st.st_size)
                   : 0;
    }

  private:
    std::FILE* f_ = nullptr;
    bool owned_ = false;
    std::string name_ = "(standard stream)";
};

inline mmry::bytes read_all(std::FILE* in, const std::string& name) {
    mmry::bytes out;
    std::byte buf[1 << 16];
    while (true) {
        const std::size_t n = std::fread(buf, 1, sizeof buf, in);
        out.insert(out.end(), buf, buf + n);
        if (n < sizeof buf) break;
    }
    if (std::ferror(in))
        throw mmry::error(mmry::errc::io_error, "reading " + name + ": " + std::strerror(errno));
    return out;
}

inline void write_all(std::FILE* out, mmry::byte_view b) {
    if ((!b.empty() && std::fwrite(b.data(), 1, b.size(), out) != b.size()) ||
        std::fflush(out) != 0)
        throw mmry::error(mmry::errc::io_error, std::string("writing: ") + std::strerror(errno));
}

template <class Store>
class commands {
  public:
    commands(Store& s, const request& r, const mmry::format::store_header& h, std::string layout)
        : s_(s), r_(r), header_(h), layout_(std::move(layout)) {}

    int run() {
        const auto& c = r_.command;
        if (c == "stat") return stat();
        if (c == "ls") return ls();
        if (c == "get") return get();
        if (c == "put") return put();
        if (c == "rm") return rm();
        if (c == "history") return history();
        if (c == "dump") return dump();
        if (c == "load") return load();
        if (c == "verify") return verify();
        if (c == "create") return created();
        if (c == "compact") return compact();
        if (c == "repair") return repair();
        if (c == "quarantine") return quarantine();
        if (c == "backup") return backup();
        if (c == "restore") return restored();
        throw mmry::error(mmry::errc::invalid_argument, "unknown command " + c);
    }

  private:
    static constexpr bool history_kept = Store::path_type::history;

    // ---- stat ------------------------------------------------------------------------------
    json composition() const {
        json j;
        for (std::size_t i = 0; i < 6; ++i) {
            const auto name = mmry::format::builtin_policy_name(i, header_.policies.ids[i]);
            j[mmry::format::fingerprint::roles[i]] = std::string(name);
        }
        j["path_layout"] = layout_;
        return j;
    }

    json stats_json(const mmry::store_stats& st) const {
        const auto& a = st.arena;
        return {
            {"store", r_.store.shown},
            {"composition", composition()},
            {"encrypted", header_.policies.ids[3] != 0},
            {"passphrase", header_.passphrase},
            {"frame_size", header_.frame_size},
            {"entries", st.entries},
            {"records", st.records},
            {"logical_bytes", st.logical_bytes},
            {"stored_bytes", st.stored_bytes},
            {"ratio", st.ratio()},
            {"dedup_ratio", st.dedup_ratio()},
            {"compression_ratio", st.compression_ratio()},
            {"folded_values", st.folded_values},
            {"chunks", st.chunks},
            {"dictionaries", st.dictionaries.size()},
            {"puts", st.puts},
            {"erases", st.erases},
            {"readers", st.readers.readers},
            {"reading", st.readers.reading},
            {"writing", st.readers.writing},
            {"recoveries", st.recoveries},
            {"recovery_ms", std::chrono::duration<double, std::milli>(st.recovery_time).count()},
            {"durable_txn", st.durable_txn},
            {"flushes", st.flushes},
            {"journal_bytes", st.journal_bytes},
            {"journal_syncs", st.journal_syncs},
            {"journal_replayed", st.journal_replayed},
            {"journal_dropped", st.journal_dropped},
            {"segments", a.segments},
            {"reserved_bytes", a.reserved_bytes},
            {"free_bytes", a.free_bytes},
            {"limit_bytes", a.limit_bytes},
            {"usage", a.limit_bytes ? static_cast<double>(a.reserved_bytes - a.free_bytes) /
                                          static_cast<double>(a.limit_bytes)
                                    : 0.0},
        };
    }

    int stat() {
        if (r_.watch_seconds > 0) return watch();
        const auto st = s_.stats();
        if (r_.json) {
            print_json(stats_json(st));
            return ok;
        }
        const auto& a = st.arena;
        auto name = [&](std::size_t role) {
            return mmry::format::builtin_policy_name(role, header_.policies.ids[role]);
        };
        fmt::print("store        {}\n", r_.store.shown);
        fmt::print("composition  arena {}, index {}, compressor {}, cipher {}, path {}, fold {}\n",
                   name(0), name(1), name(2), name(3), layout_, name(5));
        fmt::print("key          {}\n", header_.policies.ids[3] == 0 ? "none (not encrypted)"
                                        : header_.passphrase         ? "passphrase (scrypt)"
                                                                     : "32-byte key");
        fmt::print("entries      {} keys, {} records\n", st.entries, st.records);
        fmt::print("values       {} logical, {} stored (ratio {:.2f}",
                   human_bytes(st.logical_bytes), human_bytes(st.stored_bytes), st.ratio());
        if (st.folded_values)
            fmt::print("; folding {:.2f}, compression {:.2f}", st.dedup_ratio(),
                       st.compression_ratio());
        fmt::print(")\n");
        if (st.folded_values)
            fmt::print("folding      {} folded values, {} chunks ({})\n", st.folded_values,
                       st.chunks, human_bytes(st.chunk_stored_bytes));
        fmt::print("frames       {} ({} compressed), {} dictionaries\n", st.frames,
                   st.compressed_frames, st.dictionaries.size());
        fmt::print("writes       {} puts, {} erases since creation\n", st.puts, st.erases);
        // The tool itself is one of the readers.
        fmt::print("readers      {} open (this tool included), {} reading now{}\n",
                   st.readers.readers, st.readers.reading,
                   st.readers.writing ? ", a writer at work" : "");
        fmt::print(
            "recoveries   {} (writers that took the lock from a dead one; {:.3f} ms in all)\n",
            st.recoveries, std::chrono::duration<double, std::milli>(st.recovery_time).count());
        if (st.flushes || st.durable_txn)
            fmt::print("durability   commit {} on disk, {} checkpoints\n", st.durable_txn,
                       st.flushes);
        if (st.journal_bytes || st.journal_replayed || st.journal_dropped)
            fmt::print(
                "journal      {} since the last checkpoint, {} syncs; {} entries replayed after "
                "power cuts, {} dropped\n",
                human_bytes(st.journal_bytes), st.journal_syncs, st.journal_replayed,
                st.journal_dropped);
        fmt::print("segments     {} mapped, {} reserved, {} free", a.segments,
                   human_bytes(a.reserved_bytes), human_bytes(a.free_bytes));
        if (a.limit_bytes)
            fmt::print(", limit {} ({:.1f} % used)", human_bytes(a.limit_bytes),
                       100.0 * static_cast<double>(a.reserved_bytes - a.free_bytes) /
                           static_cast<double>(a.limit_bytes));
        fmt::print("\n");
        return ok;
    }

    /// One line per interval, as `redis-cli --stat`: counters and the rates since the last line.
    int watch() {
        const auto interval = std::chrono::duration<double>(r_.watch_seconds);
        if (!r_.json)
            fmt::print("{:<20} {:>10} {:>12} {:>12} {:>9} {:>9} {:>8}\n", "time", "keys", "logical",
                       "stored", "puts/s", "erases/s", "used");
        mmry::store_stats last = s_.stats();
        auto at = std::chrono::steady_clock::now();
        for (std::uint64_t n = 0; r_.watch_count == 0 || n < r_.watch_count; ++n) {
            if (n > 0) std::this_thread::sleep_until(at + interval * n);
            const auto st = s_.stats();
            const double secs = n == 0 ? 0 : r_.watch_seconds;
            auto rate = [&](std::uint64_t now, std::uint64_t before) {
                return secs > 0 ? static_cast<double>(now - std::min(now, before)) / secs : 0.0;
            };
            const auto& a = st.arena;
            const std::uint64_t used = a.reserved_bytes - std::min(a.reserved_bytes, a.free_bytes);
            if (r_.json) {
                auto j = stats_json(st);
                j["time"] = iso_time(std::chrono::system_clock::now());
                j["puts_per_second"] = rate(st.puts, last.puts);
                j["erases_per_second"] = rate(st.erases, last.erases);
                print_json(j);
            } else {
                fmt::print("{:<20} {:>10} {:>12} {:>12} {:>9.1f} {:>9.1f} {:>8}\n",
                           iso_time(std::chrono::system_clock::now()), st.entries,
                           human_bytes(st.logical_bytes), human_bytes(st.stored_bytes),
                           rate(st.puts, last.puts), rate(st.erases, last.erases),
                           human_bytes(used));
            }
            std::fflush(stdout);
            last = st;
        }
        return ok;
    }

    // ---- ls --------------------------------------------------------------------------------
    json entry_json(const mmry::entry& e) const {
        const auto& m = e.meta;
        json j{{"key", e.key},
               {"size", m.logical_size},
               {"stored_size", m.stored_size},
               {"version", number_of(m.version)},
               {"created", iso_time(m.created)},
               {"modified", iso_time(m.modified)},
               {"modified_ns", unix_ns(m.modified)},
               {"compressed", m.compressed},
               {"encrypted", m.encrypted},
               {"folded", m.folded},
               {"tags", m.tags}};
        if (!m.content_type.empty()) j["content_type"] = m.content_type;
        if (!m.attributes.empty()) {
            json a = json::object();
            for (const auto& [k, v] : m.attributes) a[k] = v;
            j["attributes"] = a;
        }
        return j;
    }

    void print_entry(const mmry::entry& e) const {
        if (r_.json) return print_json(entry_json(e));
        if (!r_.long_format) return fmt::print("{}\n", e.key);
        const auto& m = e.meta;
        std::string tags;
        for (const auto& t : m.tags) tags += (tags.empty() ? "" : ",") + t;
        fmt::print("{:>10} {:>10} v{:<5} {} {:<16} {:<12} {}\n", human_bytes(m.logical_size),
                   human_bytes(m.stored_size), number_of(m.version), iso_time(m.modified),
                   m.content_type.empty() ? "-" : m.content_type, tags.empty() ? "-" : tags, e.key);
    }

    int ls() {
        auto range = r_.key_range      ? s_.range(r_.key_range->first, r_.key_range->second)
                     : !r_.tag.empty() ? s_.with_tag(r_.tag, r_.prefix)
                                       : s_.list(r_.prefix);
        for (const auto& e : range) print_entry(e);
        return ok;
    }

    // ---- get -------------------------------------------------------------------------------
    [[noreturn]] void absent(const std::string& key) const {
        throw missing("no key " + mmry::detail::quote(key) +
                      (r_.version ? " at version " + std::to_string(*r_.version) : ""));
    }

    int get() {
        const auto& key = r_.keys.at(0);
        std::optional<mmry::bytes> value;
        if (r_.version) {
            if constexpr (history_kept)
                value = s_.get(key, mmry::version{*r_.version});
            else
                throw mmry::error(mmry::errc::invalid_argument,
                                  "--version needs a store that keeps history (its path policy "
                                  "is '" +
                                      layout_ + "')");
            if (value && r_.byte_range) value = slice(*value);
        } else if (r_.byte_range) {
            value = s_.read(key, r_.byte_range->first, r_.byte_range->second);
        } else {
            value = s_.get(key);
        }
        if (!value) absent(key);
        stream out(r_.output, true);
        write_all(out.get(), *value);
        return ok;
    }

    mmry::bytes slice(const mmry::bytes& v) const {
        const auto [off, len] = *r_.byte_range;
        if (off > v.size() || len > v.size() - off)
            throw mmry::error(mmry::errc::out_of_range, "range " + std::to_string(off) + "+" +
                                                            std::to_string(len) +
                                                            " passes the end of the value (" +
                                                            std::to_string(v.size()) + " bytes)");
        return {v.begin() + static_cast<std::ptrdiff_t>(off),
                v.begin() + static_cast<std::ptrdiff_t>(off + len)};
    }

    // ---- put / rm --------------------------------------------------------------------------
    int put() {
        const auto& key = r_.keys.at(0);
        mmry::put_options o;
        o.content_type = r_.content_type;
        o.tags = r_.tags;
        for (const auto& a : r_.attributes) {
            const auto eq = a.find('=');
            if (eq == std::string::npos || eq == 0)
                throw mmry::error(mmry::errc::invalid_argument,
                                  "--attribute " + a + ": expected NAME=VALUE");
            o.attributes.emplace_back(a.substr(0, eq), a.substr(eq + 1));
        }
        o.if_absent = r_.if_absent;
        if (r_.if_version) o.if_version = mmry::version{*r_.if_version};
        stream in(r_.input, false);
        const auto value = read_all(in.get(), in.name());
        const auto v = number_of(s_.put(key, mmry::byte_view(value), o));
        if (r_.json) print_json({{"key", key}, {"version", v}, {"size", value.size()}});
        return ok;
    }

    int rm() {
        int status = ok;
        for (const auto& key : r_.keys) {
            std::optional<mmry::metadata> gone;
            if (r_.version) {
                if constexpr (history_kept)
                    gone = s_.erase(key, mmry::version{*r_.version});
                else
                    throw mmry::error(mmry::errc::invalid_argument,
                                      "--version needs a store that keeps history");
            } else {
                gone = s_.erase(key);
            }
            if (!gone) {
                fmt::print(stderr, "mmry: store {}: no key {}\n", r_.store.shown,
                           mmry::detail::quote(key));
                status = not_found;
            } else if (r_.json) {
                print_json({{"key", key}, {"erased", true}});
            }
        }
        return status;
    }

    // ---- history ---------------------------------------------------------------------------
    int history() {
        const auto& key = r_.keys.at(0);
        bool any = false;
        for (const auto& e : s_.history(key)) {
            any = true;
            if (r_.json) {
                print_json(entry_json(e));
                continue;
            }
            fmt::print("v{:<5} {} {:>10} {:>10} {}\n", number_of(e.meta.version),
                       iso_time(e.meta.modified), human_bytes(e.meta.logical_size),
                       human_bytes(e.meta.stored_size), e.key);
        }
        if (!any) absent(key);
        return ok;
    }

    // ---- dump / load -----------------------------------------------------------------------
    /// The versions of `key` to dump, oldest first (the current one only without history).
    std::vector<std::optional<std::uint64_t>> versions_of(const std::string& key) {
        std::vector<std::optional<std::uint64_t>> out;
        if constexpr (history_kept) {
            for (const auto& h : s_.history(key)) out.push_back(number_of(h.meta.version));
            std::sort(out.begin(), out.end());
        } else {
            out.push_back(std::nullopt);
        }
        return out;
    }

    void dump_value(dump_writer& w, const std::string& key, std::optional<std::uint64_t> v) {
        const auto m = v ? s_.metadata(key, mmry::version{*v}) : s_.metadata(key);
        const auto value = v ? s_.get(key, mmry::version{*v}) : s_.get(key);
        if (!m || !value) return;  // erased meanwhile
        json j = entry_json({key, *m});
        j["created_ns"] = unix_ns(m->created);
        w.value(j.dump(), *value);
    }

    int dump() {
        stream out(r_.output, true);
        if (out.get() == stdout && ::isatty(STDOUT_FILENO))
            throw mmry::error(mmry::errc::invalid_argument,
                              "dump writes a binary stream: give -o FILE or redirect stdout");
        dump_writer w(out.get());
        const std::uint64_t total = s_.stats().entries;
        progress_bar bar("dump", progress_bar::wanted(r_.progress));
        std::uint64_t keys = 0;
        for (const auto& e : s_.list(r_.prefix)) {
            for (const auto v : versions_of(e.key)) {
                if (!r_.records) {
                    dump_value(w, e.key, v);
                } else if (auto rec = v ? s_.export_record(e.key, mmry::version{*v})
                                        : s_.export_record(e.key)) {
                    w.record(*rec);
                }
            }
            bar.update(++keys, std::max(keys, total));
        }
        const auto n = w.finish();
        bar.finish();
        if (r_.json)
            print_json({{"keys", keys}, {"entries", n}, {"records", r_.records}});
        else if (out.get() != stdout)
            fmt::print("dumped {} keys ({} {}) to {}\n", keys, n, r_.records ? "records" : "values",
                       out.name());
        return ok;
    }

    /// Puts a value entry back with its content type, tags, attributes, time and (where the
    /// store keeps history and the key has versions already) its version number.
    void load_value(const dump_reader::entry& e) {
        const json j = json::parse(e.meta, nullptr, false);
        if (j.is_discarded() || !j.is_object() || !j.contains("key") || !j["key"].is_string())
            throw mmry::error(mmry::errc::corrupt, "a value entry's metadata is not valid");
        const auto key = j["key"].get<std::string>();
        mmry::put_options o;
        o.content_type = j.value("content_type", std::string{});
        o.tags = j.value("tags", std::vector<std::string>{});
        if (j.contains("attributes") && j["attributes"].is_object())
            for (const auto& [k, v] : j["attributes"].items())
                if (v.is_string()) o.attributes.emplace_back(k, v.template get<std::string>());
        if constexpr (history_kept) {
            const std::uint64_t v = j.value("version", std::uint64_t{0});
            const auto m = s_.metadata(key);
            if (m && v > number_of(m->version) + 1) s_.set_version(key, mmry::version{v});
        }
        load_clock = std::chrono::system_clock::time_point(
            std::chrono::duration_cast<std::chrono::system_clock::duration>(
                std::chrono::nanoseconds(j.value("modified_ns", std::int64_t{0}))));
        s_.put(key, mmry::byte_view(e.bytes), o);
    }

    int load() {
        stream in(r_.input, false);
        dump_reader reader(in.get(), in.name());
        const std::uint64_t total = in.size();
        progress_bar bar("load", progress_bar::wanted(r_.progress) && total > 0, "B");
        std::uint64_t n = 0;
        while (auto e = reader.next()) {
            try {
                if (e->kind == dump_writer::record_entry)
                    s_.import_record(mmry::byte_view(e->bytes));
                else
                    load_value(*e);
            } catch (const mmry::error& x) {
                const bool record = e->kind == dump_writer::record_entry;
                throw mmry::error(x.code_value(),
                                  "dump " + in.name() + ", entry " +
                                      std::to_string(reader.records()) + ": " + reason(x) +
                                      (record ? " (a dump made with --records loads only into "
                                                "the store it was made from)"
                                              : ""));
            }
            ++n;
            bar.update(reader.offset(), total);
        }
        bar.finish();
        if (r_.json)
            print_json({{"entries", n}});
        else
            fmt::print("loaded {} entries\n", n);
        return ok;
    }

    // ---- verify ----------------------------------------------------------------------------
    int verify() {
        progress_bar bar("verify", progress_bar::wanted(r_.progress));
        const auto report =
            s_.verify([&](std::uint64_t done, std::uint64_t total) { bar.update(done, total); });
        bar.finish();
        if (r_.json) {
            print_json({{"store", r_.store.shown},
                        {"ok", report.ok()},
                        {"records", report.records},
                        {"chunks", report.chunks},
                        {"pieces", report.pieces},
                        {"dictionaries", report.dictionaries},
                        {"problems", report.problems}});
        } else {
            fmt::print("checked {} records, {} chunks, {} pieces, {} dictionaries: {}\n",
                       report.records, report.chunks, report.pieces, report.dictionaries,
                       report.ok() ? "ok" : fmt::format("{} problems", report.problems.size()));
            for (const auto& p : report.problems) fmt::print("problem: {}\n", p);
        }
        return report.ok() ? ok : not_found;
    }

    int compact() {
        const auto c = s_.compact();
        if (r_.json) {
            print_json({{"records_moved", c.records_moved},
                        {"live_bytes", c.live_bytes},
                        {"size_before", c.size_before},
                        {"size_after", c.size_after},
                        {"held_before", c.held_before},
                        {"held_after", c.held_after},
                        {"seconds", std::chrono::duration<double>(c.time).count()}});
        } else {
            fmt::print(
                "compacted {}: moved {} records; {} bytes of pages -> {} ({} live); the "
                "files hold {} bytes -> {}\n",
                r_.store.shown, c.records_moved, c.size_before, c.size_after, c.live_bytes,
                c.held_before, c.held_after);
        }
        return ok;
    }

    int repair() {
        const auto report = s_.repair();
        if (r_.json) {
            print_json({{"records_checked", report.records_checked},
                        {"chunks_checked", report.chunks_checked},
                        {"quarantined", report.quarantined},
                        {"entries_restored", report.entries_restored},
                        {"chunks_freed", report.chunks_freed},
                        {"references_fixed", report.references_fixed},
                        {"counters_fixed", report.counters_fixed},
                        {"pages_reclaimed", report.pages_reclaimed},
                        {"actions", report.actions},
                        {"remaining", report.remaining},
                        {"seconds", std::chrono::duration<double>(report.time).count()}});
        } else {
            for (const auto& a : report.actions) fmt::print("repaired: {}\n", a);
            for (const auto& p : report.remaining) fmt::print("problem: {}\n", p);
            fmt::print(
                "checked {} records, {} chunks: {}; {} items quarantined{}\n",
                report.records_checked, report.chunks_checked,
                report.untouched() ? "nothing to repair"
                                   : fmt::format("{} changes", report.actions.size()),
                report.quarantined,
                report.ok() ? "" : fmt::format("; {} problems remain", report.remaining.size()));
        }
        return report.ok() ? ok : not_found;
    }

    int quarantine() {
        if (r_.export_item) {
            const auto b = s_.export_quarantined(*r_.export_item);
            if (!b)
                throw missing(fmt::format("no quarantined item {} with bytes", *r_.export_item));
            stream out(r_.output, true);
            write_all(out.get(), *b);
            return ok;
        }
        if (r_.drop_item) {
            if (!s_.drop_quarantined(*r_.drop_item))
                throw missing(fmt::format("no quarantined item {}", *r_.drop_item));
            if (!r_.json) fmt::print("dropped item {}\n", *r_.drop_item);
            return ok;
        }
        static constexpr const char* kinds[] = {"record", "chunk", "entry"};
        json items = json::array();
        for (const auto& q : s_.quarantine()) {
            const auto kind = kinds[static_cast<int>(q.what)];
            if (r_.json)
                items.push_back({{"id", q.id},
                                 {"kind", kind},
                                 {"name", q.name},
                                 {"reason", q.reason},
                                 {"size", q.size},
                                 {"time", iso_time(q.when)}});
            else
                fmt::print("{}\t{}\t{}\t{}\t{}\t{}\n", q.id, kind, q.size, iso_time(q.when), q.name,
                           q.reason);
        }
        if (r_.json) print_json(items);
        return ok;
    }

    int backup() {
        const auto b = s_.backup(r_.repository, {.sync = !r_.no_sync});
        if (r_.json) {
            auto j = backup_json(b);
            j["written_records"] = b.written_records;
            j["pack_files"] = b.pack_files;
            print_json(j);
        } else {
            fmt::print(
                "backup #{} of {} into {}: sequence {}, {} keys, {} pieces ({} bytes); "
                "wrote {} pieces ({} bytes)\n",
                b.number, r_.store.shown, r_.repository, b.sequence, b.keys, b.records,
                b.stored_bytes, b.written_records, b.written_bytes);
        }
        return ok;
    }

    int restored() {
        const auto b = mmry::find_backup(r_.repository, restore_options(r_));
        if (r_.json)
            print_json(
                {{"store", r_.store.shown}, {"backup", backup_json(b)}, {"keys", s_.size()}});
        else
            fmt::print("restored backup #{} (sequence {}) of {} into {}: {} keys\n", b.number,
                       b.sequence, r_.repository, r_.store.shown, s_.size());
        return ok;
    }

    int created() {
        if (r_.json)
            print_json(
                {{"store", r_.store.shown}, {"created", true}, {"composition", composition()}});
        else
            fmt::print("created {}\n", r_.store.shown);
        return ok;
    }

    Store& s_;
    const request& r_;
    const mmry::format::store_header& header_;
    std::string layout_;
};

}  // namespace mmry_tool
