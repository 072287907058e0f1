// Fuzz target: the files of a backup repository (detail/backup/backup_format.hpp), which restore,
// list_backups and check_backups read from a directory anyone may have written.
//
// Input: [u8 kind] then the file's bytes. kind % 4:
//   0  the repository header (parse_repository_header)
//   1  a pack's index, the pack's entries ending at the u32 after the kind byte
//   2  a snapshot (parse_snapshot, its 32-byte check not checked)
//   3  a whole pack file, in a repository of its own: load() reads its index from its end, and
//      every piece it lists is read back and checked
//
// Checks: parsing fails only with mmry::error; what it accepts is written again byte for byte
// (header, index, snapshot body), lists entries inside the pack's entries, and every piece read
// from a pack is what its id names.

#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include <mmry/detail/backup/repository.hpp>

#include "fuzz_support.hpp"

using namespace mmry_fuzz;
namespace bk = mmry::detail::backup;

namespace {

bool same(std::string_view a, byte_view b) {
    return a.size() == b.size() &&
           std::equal(b.begin(), b.end(), bk::bytes_of(std::string(a)).begin());
}

void whole_pack(byte_view b) {
    static const std::string dir = [] {
        const auto d = std::filesystem::temp_directory_path() /
                       ("mmry-fuzz-backup-" + std::to_string(::getpid()));
        std::filesystem::create_directories(d / "packs");
        std::filesystem::create_directories(d / "snapshots");
        std::array<std::byte, format::store_header_size> header{};
        bk::write_file((d / "MMRYBACKUP").string(),
                       bk::bytes_of(bk::write_repository_header(header)), false);
        bk::write_file((d / "lock").string(), {}, false);
        return d.string();
    }();
    bk::write_file(dir + "/packs/00000000000000aa.pack", b, false);
    bk::repository r(dir, false);
    try {
        r.load();
    } catch (const mmry::error&) {
        return;
    }
    const auto check = r.check();  // no snapshot lists a piece: reads nothing, must not fail
    MMRY_FUZZ_CHECK(check.ok(), "a repository without snapshots has problems");
    // Every piece the index lists: read (checked against its checksum and id), or refused.
    for (const auto& id : r.ids()) {
        try {
            const auto piece = r.read(id);
            MMRY_FUZZ_CHECK(bk::id_of(piece) == id, "a piece read that its id does not name");
        } catch (const mmry::error&) {
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const byte_view in(reinterpret_cast<const std::byte*>(data) + 1, size - 1);
    try {
        switch (data[0] % 4) {
            case 0: {
                const auto h = bk::parse_repository_header(in, "header");
                MMRY_FUZZ_CHECK(same(bk::write_repository_header(h), in),
                                "header written again differs");
                break;
            }
            case 1: {
                if (in.size() < 4) return 0;
                const std::uint64_t end = mmry::detail::load_le<std::uint32_t>(in.data());
                const auto body = in.subspan(4);
                const auto entries = bk::parse_index(body, "index", end);
                for (const auto& e : entries)
                    MMRY_FUZZ_CHECK(
                        e.offset >= 8 && e.offset + bk::entry_head + e.size + bk::entry_tail <= end,
                        "an entry outside the pack's entries");
                MMRY_FUZZ_CHECK(same(bk::write_index(entries), body),
                                "index written again differs");
                break;
            }
            case 2: {
                const auto s = bk::parse_snapshot(in, "snapshot", [](auto, auto, const auto&) {});
                MMRY_FUZZ_CHECK(
                    same(bk::write_snapshot_body(s), in.first(in.size() - bk::check_size)),
                    "snapshot written again differs");
                break;
            }
            default:
                whole_pack(in);
        }
    } catch (const mmry::error&) {
    }
    return 0;
}
