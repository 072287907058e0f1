#pragma once
// The stream `mmry dump` writes and `mmry load` reads, framed and checksummed. Two kinds of entry:
//   - a value (the default): the key, version, times, content type, tags and attributes as JSON,
//     then the value's bytes - portable to a store of any composition, key or machine (and, like
//     mdb_dump's output, not encrypted: whoever holds the dump holds the values);
//   - a record (`dump --records`): the record as the store keeps it, still compressed and
//     encrypted (basic_store::export_record), which only the same store takes back (the records
//     are bound to it), keeping sequence numbers and hashes.
//
//   "MMRYDUMP" | u32 stream version (1) | u32 zero
//   per entry:  u8 kind (1 record, 2 value) | u32 length | u32 CRC32C of the entry | the entry
//               (a value entry: u32 JSON length | JSON | value bytes)
//   end:        u8 0 | u64 entries | u32 CRC32C of the 8 count bytes
// Little-endian. A stream without its end mark is truncated, and load says so (the records before
// it are loaded: each one is a whole put).

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <mmry/bytes.hpp>
#include <mmry/detail/crc32c.hpp>
#include <mmry/detail/le.hpp>
#include <mmry/error.hpp>

namespace mmry_tool {

inline constexpr char dump_magic[8] = {'M', 'M', 'R', 'Y', 'D', 'U', 'M', 'P'};
inline constexpr std::uint32_t dump_version = 1;
/// Bigger records than this are refused on load before allocating (a record holds at most a
/// value of the store's limits; 4 GiB is the frame table's bound).
inline constexpr std::uint32_t max_dump_record = 0xFFFF'FFFFu;

class dump_writer {
  public:
    explicit dump_writer(std::FILE* out) : out_(out) {
        std::byte head[16]{};
        std::memcpy(head, dump_magic, 8);
        mmry::detail::store_le<std::uint32_t>(head + 8, dump_version);
        write(head, sizeof head);
    }
    enum kind : std::uint8_t { record_entry = 1, value_entry = 2 };

    void record(mmry::byte_view r) { entry(record_entry, r); }

    /// A value entry: `meta` (JSON text) and the value.
    void value(std::string_view meta, mmry::byte_view v) {
        mmry::bytes e(4 + meta.size() + v.size());
        mmry::detail::store_le<std::uint32_t>(e.data(), static_cast<std::uint32_t>(meta.size()));
        std::memcpy(e.data() + 4, meta.data(), meta.size());
        if (!v.empty()) std::memcpy(e.data() + 4 + meta.size(), v.data(), v.size());
        entry(value_entry, e);
    }

  private:
    void entry(kind k, mmry::byte_view r) {
        if (r.size() > max_dump_record)
            throw mmry::error(
                mmry::errc::invalid_argument,
                "a record of " + std::to_string(r.size()) + " bytes does not fit a dump");
        std::byte head[9];
        head[0] = std::byte{k};
        mmry::detail::store_le<std::uint32_t>(head + 1, static_cast<std::uint32_t>(r.size()));
        mmry::detail::store_le<std::uint32_t>(head + 5, mmry::detail::crc32c({r}));
        write(head, sizeof head);
        write(r.data(), r.size());
        ++count_;
    }

  public:
    /// Writes the end mark; returns the number of records.
    std::uint64_t finish() {
        std::byte tail[13];
        tail[0] = std::byte{0};
        mmry::detail::store_le<std::uint64_t>(tail + 1, count_);
        mmry::detail::store_le<std::uint32_t>(
            tail + 9, mmry::detail::crc32c({std::span<const std::byte>(tail + 1, 8)}));
        write(tail, sizeof tail);
        if (std::fflush(out_) != 0)
            throw mmry::error(mmry::errc::io_error,
                              std::string("writing the dump: ") + std::strerror(errno));
        return count_;
    }

  private:
    void write(const void* p, std::size_t n) {
        if (n && std::fwrite(p, 1, n, out_) != n)
            throw mmry::error(mmry::errc::io_error,
                              std::string("writing the dump: ") + std::strerror(errno));
    }
    std::FILE* out_;
    std::uint64_t count_ = 0;
};

class dump_reader {
  public:
    /// Checks the stream's head; `name` names it in errors.
    dump_reader(std::FILE* in, std::string name) : in_(in), name_(std::move(name)) {
        std::byte head[16];
        if (!read(head, sizeof head) || std::memcmp(head, dump_magic, 8) != 0)
            fail("is not an mmry dump (no MMRYDUMP head)");
        const auto v = mmry::detail::load_le<std::uint32_t>(head + 8);
        if (v != dump_version)
            fail("has stream version " + std::to_string(v) + ", this tool reads version " +
                 std::to_string(dump_version));
    }

    struct entry {
        std::uint8_t kind = 0;  ///< 1 record, 2 value
        mmry::bytes bytes;      ///< the record, or the value
        std::string meta;       ///< a value's JSON
    };

    /// The next entry, or nullopt at the end mark (whose count is then checked).
    std::optional<entry> next() {
        std::byte kind;
        if (!read(&kind, 1)) fail("is truncated after " + std::to_string(count_) + " entries");
        if (kind == std::byte{0}) {
            std::byte tail[12];
            if (!read(tail, sizeof tail)) fail("is truncated in its end mark");
            const auto n = mmry::detail::load_le<std::uint64_t>(tail);
            if (mmry::detail::load_le<std::uint32_t>(tail + 8) !=
                    mmry::detail::crc32c({std::span<const std::byte>(tail, 8)}) ||
                n != count_)
                fail("ends with a count of " + std::to_string(n) + " entries, but holds " +
                     std::to_string(count_));
            return std::nullopt;
        }
        if (kind != std::byte{1} && kind != std::byte{2})
            fail("entry " + std::to_string(count_ + 1) + " at byte " + std::to_string(offset_ - 1) +
                 " has an unknown kind");
        std::byte head[8];
        if (!read(head, sizeof head))
            fail("is truncated after " + std::to_string(count_) + " entries");
        const auto size = mmry::detail::load_le<std::uint32_t>(head);
        const auto crc = mmry::detail::load_le<std::uint32_t>(head + 4);
        mmry::bytes r;
        // Read in steps, so that a damaged length costs what the file holds, not what it says.
        constexpr std::size_t step = std::size_t{1} << 20;
        while (r.size() < size) {
            const std::size_t n = std::min<std::size_t>(step, size - r.size());
            const std::size_t at = r.size();
            r.resize(at + n);
            if (!read(r.data() + at, n))
                fail("is truncated in entry " + std::to_string(count_ + 1));
        }
        if (mmry::detail::crc32c({mmry::byte_view(r)}) != crc)
            fail("entry " + std::to_string(count_ + 1) + " fails its checksum");
        ++count_;
        entry e{static_cast<std::uint8_t>(kind), {}, {}};
        if (kind == std::byte{2}) {
            const std::uint32_t n =
                r.size() >= 4 ? mmry::detail::load_le<std::uint32_t>(r.data()) : 0;
            if (r.size() < 4 || n > r.size() - 4)
                fail("value entry " + std::to_string(count_) + " has a bad metadata length");
            e.meta.assign(reinterpret_cast<const char*>(r.data()) + 4, n);
            r.erase(r.begin(), r.begin() + 4 + n);
        }
        e.bytes = std::move(r);
        return e;
    }

    std::uint64_t records() const noexcept { return count_; }
    std::uint64_t offset() const noexcept { return offset_; }

  private:
    bool read(void* p, std::size_t n) {
        const std::size_t got = std::fread(p, 1, n, in_);
        offset_ += got;
        return got == n;
    }
    [[noreturn]] void fail(const std::string& what) const {
        throw mmry::error(mmry::errc::corrupt, "dump " + name_ + " " + what);
    }
    std::FILE* in_;
    std::string name_;
    std::uint64_t count_ = 0, offset_ = 0;
};

}  // namespace mmry_tool
