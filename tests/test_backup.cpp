// basic_store::backup and ::restore, list_backups, prune_backups, check_backups: what a restore
// gives back, incremental backups, consistency under writers, and every refusal of bad input.

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <mmry/backup.hpp>

#include "history_support.hpp"
#include "shared_support.hpp"
#include "support.hpp"

using namespace mmry_test;
using mmry::errc;
namespace fs = std::filesystem;

namespace {

/// Every version kept, folded, zstd-3 + AES-GCM: in shared memory (the source) and in a mapped
/// file (where it is restored).
using sealed_shm = folded_history_traits<shm>;
using sealed_file = folded_history_traits<file>;

/// A fresh directory for a repository, removed with it.
class repo_dir {
  public:
    repo_dir() {
        std::string pattern = "/tmp/mmry-backup-XXXXXX";
        if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp");
        dir_ = pattern;
    }
    ~repo_dir() {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    repo_dir(const repo_dir&) = delete;
    repo_dir& operator=(const repo_dir&) = delete;
    /// The repository (inside the directory: backup() makes it).
    std::string path() const { return dir_ + "/repo"; }
    std::vector<std::string> files(const std::string& sub, const std::string& ending) const {
        std::vector<std::string> out;
        for (const auto& e : fs::directory_iterator(path() + "/" + sub))
            if (e.path().string().ends_with(ending)) out.push_back(e.path().string());
        std::sort(out.begin(), out.end());
        return out;
    }

  private:
    std::string dir_;
};

void flip_byte(const std::string& path, std::uint64_t offset) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(offset));
    char c = 0;
    f.read(&c, 1);
    c ^= 0x20;
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(&c, 1);
}

/// The highest sequence number of a record the store lists.
template <class Store>
std::uint64_t last_seq(const Store& s) {
    std::uint64_t out = 0;
    for (const auto& e : s.stored()) out = std::max(out, e.meta.seq);
    return out;
}

/// Every key of `a` and `b`, and every version with what a user sees of it, are the same; and
/// each current record is stored byte for byte the same (records are copied as stored).
template <class A, class B>
void check_same(const A& a, const B& b) {
    REQUIRE(sorted_keys(b.list()) == sorted_keys(a.list()));
    for (const auto& e : a.list()) {
        INFO(e.key);
        CHECK(seen(b, e.key) == seen(a, e.key));
        CHECK(b.export_record(e.key) == a.export_record(e.key));
    }
}

}  // namespace

TEST_CASE("backup: a folded, encrypted store with history restores into another arena as it was",
          "[backup]") {
    stepping_clock c;
    place<shm> at;
    auto opts = options_for<sealed_shm>(1 << 20);
    opts.clock = c.fn();
    auto s = mmry::basic_store<sealed_shm>::create(at.name(), opts);
    fill(s);
    s.put("big", redundant_bytes(3 << 20));  // folded into chunks and pieces
    repo_dir repo;
    const auto report = s.backup(repo.path());
    CHECK(report.number == 1);
    CHECK(report.written_records == report.records);
    // Every piece, and the snapshot that lists them.
    CHECK(report.written_bytes > report.stored_bytes);
    CHECK(report.written_bytes < report.stored_bytes + 200 * 100);
    CHECK(report.stored_bytes >= s.stats().stored_bytes);  // every record, chunk and piece
    CHECK(report.sequence == last_seq(s));

    place<file> to;
    auto r = mmry::basic_store<sealed_file>::restore(repo.path(), to.name(), opts);
    check_same(s, r);
    check_counters(r);
    CHECK(r.stats().chunks == s.stats().chunks);
    CHECK(r.stats().stored_bytes == s.stats().stored_bytes);

    // The restored store goes on as the original would: the next version follows the last one,
    // and numbers far past the original's (the two share an id and a key).
    const auto key = numbered("doc/", 3);
    const auto before = s.metadata(key)->version;
    CHECK(r.put(key, to_bytes("after the restore")) == mmry::version{before.number + 1});
    CHECK(r.metadata(key)->seq > last_seq(s) + (std::uint64_t{1} << 44));
    // And it opens again, as any store, with the same key.
    r = mmry::basic_store<sealed_file>::open(to.name(), opts);
    CHECK(r.get(key) == to_bytes("after the restore"));
}

TEST_CASE("backup: dictionaries come back, and the current one stays current", "[backup]") {
    mmry::store s;
    std::vector<std::string> keys;
    for (int i = 0; i < 1500; ++i) {
        keys.push_back(numbered("r/", i));
        s.put(keys.back(), to_bytes("{\"user\": " + std::to_string(i) +
                                    ", \"kind\": \"record\", \"flags\": [1, 2, 3]}"));
    }
    const auto id = s.train_dictionary(keys);
    s.put("after", to_bytes("{\"user\": 7, \"kind\": \"record\", \"flags\": [1, 2, 3]}"));
    REQUIRE(s.metadata("after")->dictionary == id);
    repo_dir repo;
    s.backup(repo.path());
    auto r = mmry::store::restore(repo.path(), "restored");
    CHECK(r.get("after") == s.get("after"));
    CHECK(r.get("r/7") == s.get("r/7"));
    r.put("later", to_bytes("{\"user\": 8, \"kind\": \"record\", \"flags\": [1, 2, 3]}"));
    CHECK(r.metadata("later")->dictionary == id);
    check_counters(r);
}

TEST_CASE("backup: a later backup writes only what changed, and each restores as it was",
          "[backup]") {
    stepping_clock c;
    mmry::store s({.clock = c.fn()});
    for (int i = 0; i < 1000; ++i) s.put(numbered("k/", i), random_bytes(100, std::uint64_t(i)));
    repo_dir repo;
    const auto first = s.backup(repo.path());
    CHECK(first.records == 1000);
    for (int i = 0; i < 10; ++i) s.put(numbered("k/", i), to_bytes("changed " + std::to_string(i)));
    s.erase(numbered("k/", 999));
    const auto second = s.backup(repo.path());
    CHECK(second.number == 2);
    CHECK(second.records == 999);
    CHECK(second.written_records == 10);
    CHECK(second.written_bytes * 50 < first.written_bytes);
    CHECK(second.sequence > first.sequence);
    const auto third = s.backup(repo.path());  // nothing changed
    CHECK(third.written_records == 0);

    const auto all = mmry::list_backups(repo.path());
    REQUIRE(all.size() == 3);
    CHECK(all[0].number == 1);
    CHECK(all[0].sequence == first.sequence);
    CHECK(all[1].written_bytes == second.written_bytes);
    CHECK(all[0].time_ns < all[1].time_ns);

    auto latest = mmry::store::restore(repo.path(), "latest");
    CHECK(latest.get(numbered("k/", 3)) == to_bytes("changed 3"));
    CHECK_FALSE(latest.contains(numbered("k/", 999)));
    CHECK(latest.size() == 999);
    auto by_number = mmry::store::restore(repo.path(), "one", {}, {.number = 1});
    auto by_seq =
        mmry::store::restore(repo.path(), "seq", {}, {.as_of_sequence = second.sequence - 1});
    const auto when = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::nanoseconds(all[1].time_ns - 1)));
    auto by_time = mmry::store::restore(repo.path(), "time", {}, {.as_of_time = when});
    for (auto* old : {&by_number, &by_seq, &by_time}) {
        CHECK(old->size() == 1000);
        CHECK(old->get(numbered("k/", 3)) == random_bytes(100, 3));
        CHECK(old->contains(numbered("k/", 999)));
    }
    CHECK_THROWS_MATCHES(mmry::store::restore(repo.path(), "x", {}, {.number = 7}), mmry::error,
                         is_error(errc::not_found, "no backup 7"));
    CHECK_THROWS_MATCHES(
        mmry::store::restore(repo.path(), "x", {}, {.as_of_sequence = first.sequence - 1}),
        mmry::error, is_error(errc::not_found, "as old as"));
}

TEST_CASE("backup: consistent as of one commit while a writer goes on in other threads",
          "[backup]") {
    place<file> at;
    using traits = raw_traits<file>;
    auto s = mmry::basic_store<traits>::create(at.name(), options_for<traits>(1 << 20));
    for (int i = 0; i < 2000; ++i) s.put(numbered("k/", i), to_bytes(std::to_string(i)));
    std::atomic<bool> stop{false};
    std::atomic<int> written{2000};
    // Keys are written in order, each a commit: a consistent backup holds k/0..k/(n-1) for some
    // n, each with its value, and nothing after a gap.
    std::thread writer([&] {
        auto w = mmry::basic_store<traits>::open(at.name(), options_for<traits>(1 << 20));
        for (int i = 2000; !stop; ++i) {
            w.put(numbered("k/", i), to_bytes(std::to_string(i)));
            written = i + 1;
        }
    });
    repo_dir repo;
    std::vector<mmry::backup_report> reports;
    for (int b = 0; b < 3; ++b) reports.push_back(s.backup(repo.path(), {.sync = false}));
    stop = true;
    writer.join();
    CHECK(written > 2000);
    for (const auto& report : reports) {
        INFO("backup " << report.number);
        place<file> to;
        auto r = mmry::basic_store<traits>::restore(
            repo.path(), to.name(), options_for<traits>(1 << 20), {.number = report.number});
        const auto n = r.size();
        CHECK(n == report.keys);
        for (std::uint64_t i = 0; i < n; ++i)
            CHECK(r.get(numbered("k/", static_cast<long long>(i))) == to_bytes(std::to_string(i)));
        CHECK(report.sequence == last_seq(r));
    }
}

TEST_CASE("backup: refusals that leave stores and repositories as they were", "[backup]") {
    place<shm> at;
    using traits = sealed_traits<shm>;
    auto s = mmry::basic_store<traits>::create(at.name(), options_for<traits>(1 << 20));
    s.put("a", to_bytes("alpha"));
    repo_dir repo;
    s.backup(repo.path());

    SECTION("another store's backups") {
        mmry::store other;
        other.put("b", to_bytes("beta"));
        CHECK_THROWS_MATCHES(other.backup(repo.path()), mmry::error,
                             is_error(errc::invalid_argument, "holds the backups of store"));
        CHECK(mmry::list_backups(repo.path()).size() == 1);
    }
    SECTION("no repository") {
        CHECK_THROWS_MATCHES(mmry::list_backups(repo.path() + "-none"), mmry::error,
                             is_error(errc::not_found, "no backup repository"));
        CHECK_THROWS_MATCHES(mmry::basic_store<traits>::restore(repo.path() + "-none", "x",
                                                                options_for<traits>(1 << 20)),
                             mmry::error, is_error(errc::not_found));
    }
    SECTION("over a store that exists, unless asked") {
        place<shm> to;
        auto t = mmry::basic_store<traits>::create(to.name(), options_for<traits>(1 << 20));
        t.put("mine", to_bytes("kept"));
        CHECK_THROWS_MATCHES(mmry::basic_store<traits>::restore(repo.path(), to.name(),
                                                                options_for<traits>(1 << 20)),
                             mmry::error, is_error(errc::already_exists, "replace"));
        CHECK(t.get("mine") == to_bytes("kept"));
        t = mmry::basic_store<traits>::restore(repo.path(), to.name(), options_for<traits>(1 << 20),
                                               {.replace = true});
        CHECK(keys_of(t.list()) == std::vector<std::string>{"a"});
    }
    SECTION("the wrong key, and no store is left behind") {
        place<shm> to;
        auto o = options_for<traits>(1 << 20);
        o.key = mmry::key::generate();
        CHECK_THROWS_MATCHES(mmry::basic_store<traits>::restore(repo.path(), to.name(), o),
                             mmry::error, is_error(errc::wrong_key));
        CHECK_FALSE(mmry::basic_store<traits>::exists(to.name()));
    }
    SECTION("another composition") {
        CHECK_THROWS_MATCHES(mmry::store::restore(repo.path(), "x"), mmry::error,
                             is_error(errc::policy_mismatch, "cipher"));
    }
}

TEST_CASE("backup: damaged pieces are refused, naming them, and check_backups finds them",
          "[backup]") {
    place<shm> at;
    using traits = sealed_traits<shm>;
    const auto opts = options_for<traits>(1 << 20);
    auto s = mmry::basic_store<traits>::create(at.name(), opts);
    for (int i = 0; i < 50; ++i) s.put(numbered("k/", i), random_bytes(300, std::uint64_t(i)));
    repo_dir repo;
    s.backup(repo.path());
    REQUIRE(mmry::check_backups(repo.path()).ok());
    CHECK(mmry::check_backups(repo.path()).pieces == 50);
    place<shm> to;
    auto restore = [&] { return mmry::basic_store<traits>::restore(repo.path(), to.name(), opts); };

    SECTION("a byte of a pack") {
        const auto pack = repo.files("packs", ".pack").at(0);
        flip_byte(pack, 1000);
        CHECK_THROWS_MATCHES(restore(), mmry::error, is_error(errc::corrupt, pack));
        CHECK_FALSE(mmry::basic_store<traits>::exists(to.name()));
        const auto check = mmry::check_backups(repo.path());
        CHECK_FALSE(check.ok());
        REQUIRE(check.problems.size() == 1);
        CHECK_THAT(check.problems[0], Catch::Contains("fails its checksum"));
    }
    SECTION("a pack's index, or its trailer") {
        const auto pack = repo.files("packs", ".pack").at(0);
        flip_byte(pack, fs::file_size(pack) - GENERATE(20, 2));
        CHECK_THROWS_MATCHES(restore(), mmry::error, is_error(errc::corrupt, pack));
        CHECK_FALSE(mmry::check_backups(repo.path()).ok());
    }
    SECTION("a truncated pack") {
        const auto pack = repo.files("packs", ".pack").at(0);
        fs::resize_file(pack, GENERATE(0, 10, 5000));
        CHECK_THROWS_MATCHES(restore(), mmry::error, is_error(errc::corrupt, pack));
    }
    SECTION("a truncated snapshot") {
        const auto snap = repo.files("snapshots", "").at(0);
        fs::resize_file(snap, fs::file_size(snap) / 2);
        CHECK_THROWS_MATCHES(restore(), mmry::error, is_error(errc::corrupt, snap));
        CHECK_THROWS_MATCHES(mmry::list_backups(repo.path()), mmry::error,
                             is_error(errc::corrupt, snap));
    }
    SECTION("a snapshot rewritten by someone without the key") {
        // Drop the last item and make the CRC right again: only the HMAC can tell.
        const auto snap = repo.files("snapshots", "").at(0);
        auto bytes = mmry::detail::backup::read_file(snap);
        auto parsed =
            mmry::detail::backup::parse_snapshot(bytes, snap, [](auto, auto, const auto&) {});
        parsed.items.pop_back();
        auto body = mmry::detail::backup::write_snapshot_body(parsed);
        body.append(32, '\0');
        mmry::detail::backup::write_file(snap, mmry::detail::backup::bytes_of(body), false);
        CHECK(mmry::list_backups(repo.path()).size() == 1);  // its CRC holds
        CHECK_THROWS_MATCHES(restore(), mmry::error, is_error(errc::corrupt, "fails its check"));
        CHECK_FALSE(mmry::basic_store<traits>::exists(to.name()));
    }
    SECTION("a piece gone") {
        for (const auto& f : repo.files("packs", "")) fs::remove(f);
        CHECK_THROWS_MATCHES(restore(), mmry::error, is_error(errc::corrupt, "lacks piece"));
        CHECK_FALSE(mmry::check_backups(repo.path()).ok());
    }
}

TEST_CASE(
    "backup: one killed midway leaves the earlier backups whole, and its pieces serve the "
    "next",
    "[backup]") {
    mmry::store s;
    for (int i = 0; i < 400; ++i) s.put(numbered("k/", i), random_bytes(1000, std::uint64_t(i)));
    repo_dir repo;
    s.backup(repo.path());
    for (int i = 0; i < 400; ++i)
        s.put(numbered("k/", i), random_bytes(1000, std::uint64_t(i + 1000)));
    // The child dies after its second pack file (of about 64 KiB each).
    const int status = in_child([&] {
        int packs = 0;
        s.backup(repo.path(), {.pack_bytes = 64 << 10, .progress = [&](const auto&) {
                                   if (++packs == 2) ::_exit(0);
                               }});
        return 1;
    });
    CHECK(status == 0);
    CHECK(mmry::list_backups(repo.path()).size() == 1);
    auto old = mmry::store::restore(repo.path(), "old");
    CHECK(old.get(numbered("k/", 5)) == random_bytes(1000, 5));
    const auto report = s.backup(repo.path());
    CHECK(report.number == 2);
    CHECK(report.written_records < 400);  // what the child wrote is there
    CHECK(report.written_records > 0);
    CHECK(mmry::check_backups(repo.path()).ok());
    auto now = mmry::store::restore(repo.path(), "now");
    CHECK(now.get(numbered("k/", 5)) == random_bytes(1000, 1005));
    for (const auto& f : fs::recursive_directory_iterator(repo.path()))
        CHECK_FALSE(f.path().string().ends_with(".tmp"));
}

TEST_CASE("backup: snapshots list changes since the one before, and pruned links stay while needed",
          "[backup]") {
    mmry::store s;
    repo_dir repo;
    std::vector<std::map<std::string, mmry::bytes>> expected;
    std::map<std::string, mmry::bytes> now;
    auto put = [&](const std::string& k, const mmry::bytes& v) {
        s.put(k, v);
        now[k] = v;
    };
    for (int i = 0; i < 300; ++i) put(numbered("k/", i), random_bytes(200, std::uint64_t(i)));
    for (int b = 0; b < 5; ++b) {
        s.backup(repo.path());
        expected.push_back(now);
        for (int i = 0; i < 10; ++i)
            put(numbered("k/", b * 37 + i), random_bytes(200, std::uint64_t(1000 * b + i)));
        s.erase(numbered("k/", 299 - b));
        now.erase(numbered("k/", 299 - b));
    }
    // The repository's own view, opened for each look (it holds a shared lock while open).
    using raw = mmry::detail::backup::repository;
    auto depth = [&](std::uint64_t n) { return raw(repo.path(), false).depth(n); };
    auto pruned = [&] { return raw(repo.path(), false).pruned(); };
    auto listed = [&] { return raw(repo.path(), false).snapshots(); };
    CHECK(depth(1) == 0);
    CHECK(depth(5) == 4);
    const auto snapshot_size = [&](std::uint64_t n) {
        return fs::file_size(raw(repo.path(), false).snapshot_path(n));
    };
    CHECK(snapshot_size(2) * 10 < snapshot_size(1));  // 11 changes of 300 items
    auto restored = [&](std::uint64_t n) {
        auto t = mmry::store::restore(repo.path(), "t", {}, {.number = n});
        std::map<std::string, mmry::bytes> out;
        for (const auto& e : t.list()) out[e.key] = *t.get(e.key);
        return out;
    };
    for (std::uint64_t n = 1; n <= 5; ++n) {
        INFO("backup " << n);
        CHECK(restored(n) == expected[n - 1]);
    }
    const auto report = mmry::prune_backups(repo.path(), {.keep_last = 2});
    CHECK(report.removed == std::vector<std::uint64_t>{1, 2, 3});
    CHECK(pruned() == std::vector<std::uint64_t>{1, 2, 3});  // links of 4 and 5
    CHECK(mmry::list_backups(repo.path()).size() == 2);
    CHECK_THROWS_MATCHES(restored(2), mmry::error, is_error(errc::not_found, "no backup 2"));
    CHECK(restored(4) == expected[3]);
    CHECK(restored(5) == expected[4]);
    CHECK(mmry::check_backups(repo.path()).ok());
    // A long chain ends: the next snapshot lists every item, and the links before it go with
    // the backups that needed them.
    for (std::size_t b = 0; b < mmry::detail::backup::max_chain; ++b) s.backup(repo.path());
    const auto last = mmry::list_backups(repo.path()).back().number;
    CHECK(depth(last) < mmry::detail::backup::max_chain - 1);
    mmry::prune_backups(repo.path(), {.keep_last = 1});
    CHECK(listed() == std::vector<std::uint64_t>{last});
    CHECK(pruned().size() == depth(last));
    CHECK(restored(last) == now);
}

TEST_CASE("backup: prune keeps what it is asked to, and frees what nothing lists", "[backup]") {
    // A clock that moves 8 hours per read: backups land on different days.
    auto now = std::make_shared<std::chrono::system_clock::time_point>(
        std::chrono::system_clock::time_point{} + std::chrono::hours(24 * 1000));
    mmry::store s({.clock = [now] { return *now += std::chrono::hours(8); }});
    repo_dir repo;
    for (int b = 0; b < 6; ++b) {
        for (int i = 0; i < 100; ++i)
            s.put(numbered("k/", i), random_bytes(500, std::uint64_t(b * 1000 + i)));
        s.backup(repo.path());
    }
    CHECK(mmry::list_backups(repo.path()).size() == 6);
    CHECK_THROWS_MATCHES(mmry::prune_backups(repo.path(), {}), mmry::error,
                         is_error(errc::invalid_argument, "keep nothing"));

    SECTION("the latest") {
        const auto packs = repo.files("packs", ".pack").size();
        const auto report = mmry::prune_backups(repo.path(), {.keep_last = 2});
        CHECK(report.kept == std::vector<std::uint64_t>{5, 6});
        CHECK(report.removed == std::vector<std::uint64_t>{1, 2, 3, 4});
        CHECK(report.pack_files_removed == 4);
        CHECK(report.bytes_freed > 4 * 100 * 500);
        CHECK(repo.files("packs", ".pack").size() == packs - 4);
        CHECK(mmry::check_backups(repo.path()).ok());
        auto r = mmry::store::restore(repo.path(), "r", {}, {.number = 5});
        CHECK(r.get(numbered("k/", 7)) == random_bytes(500, 4007));
    }
    SECTION("one a day") {
        // Each backup takes about 100 clock reads (one per put) of 8 hours: one backup a day
        // at most, so keep_daily 3 keeps the latest three.
        const auto report = mmry::prune_backups(repo.path(), {.keep_daily = 3});
        CHECK(report.kept == std::vector<std::uint64_t>{4, 5, 6});
        CHECK(mmry::check_backups(repo.path()).ok());
    }
    // Later backups go on numbering after the pruned ones.
    CHECK(s.backup(repo.path()).number == 7);
}
