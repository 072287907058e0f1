#pragma once
// The values of the store's tables and their bytes: record references, key heads (history),
// chunk slots.

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include <mmry/detail/history.hpp>
#include <mmry/detail/tables/encoding.hpp>
#include <mmry/detail/tables/values.hpp>

namespace mmry {
inline namespace v1 {
namespace detail {
namespace tables {

/// Records small enough to live in their index entry (path::latest), as one transaction holds
/// them: their bytes, named by a handle of this transaction (`flag` and an index) that no table
/// ever stores (the entry holds the bytes themselves).
class inline_records {
  public:
    static constexpr std::uint64_t flag = std::uint64_t{1} << 62;
    static bool is(const record_ref& r) noexcept {
        return (r.where.raw() >> 62) == 1;  // not a run list (bit 63)
    }
    /// A reader's transaction borrows the bytes from its pinned pages, which no one changes
    /// while it lives; a write transaction copies them (it may rewrite a page it made).
    void borrow() noexcept { borrowing_ = true; }
    handle add(std::span<const std::byte> b) {
        if (!borrowing_) b = owned_.emplace_back(b.begin(), b.end());  // moves keep the bytes
        items_.push_back(b);
        return handle::from_raw(flag | (items_.size() - 1));
    }
    /// For a scan that keeps none of the records it decodes (compaction): borrowing(true)
    /// while it runs, and forget(size() before each entry) after it.
    bool borrowing(bool b) noexcept { return std::exchange(borrowing_, b); }
    std::size_t size() const noexcept { return items_.size(); }
    void forget(std::size_t n) {
        if (n < items_.size()) items_.resize(n);
    }
    std::span<const std::byte> get(const record_ref& r) const {
        const std::uint64_t i = r.where.raw() & ~flag;
        if (i >= items_.size())
            throw error(errc::corrupt, "an inline record's handle names no record");
        return items_[i];
    }

  private:
    bool borrowing_ = false;
    std::vector<std::span<const std::byte>> items_;
    std::vector<std::vector<std::byte>> owned_;
};

// Value codecs: a value type and its bytes.
struct record_codec {
    using value_type = record_ref;
    // kind 0: a reference to pages; kind 1: the record itself, with what its ref counts; kind
    // 2 and 3: the same with the binding of an encrypted store's record.
    static void encode(const record_ref& r, writer& w, const inline_records* in) {
        const std::uint8_t bound = r.binding != 0 ? 2 : 0;
        if (in && inline_records::is(r)) {
            const auto bytes = in->get(r);
            w.u8(1 | bound);
            w.u64(r.logical_size);
            w.u32(r.frames);
            w.u32(r.compressed_frames);
            if (bound) w.u64(r.binding);
            w.raw(bytes.data(), bytes.size());
        } else {
            w.u8(bound);
            w.ref(r);
            if (bound) w.u64(r.binding);
        }
    }
    static record_ref decode(reader& r, inline_records* in) {
        const auto kind = r.u8();
        if (kind > 3 || ((kind & 1) && !in)) r.take(r.rest().size() + 1);  // reported as malformed
        if (!(kind & 1)) {
            record_ref out = r.ref();
            if (kind & 2) out.binding = r.u64();
            return out;
        }
        record_ref out;
        out.logical_size = r.u64();
        out.frames = r.u32();
        out.compressed_frames = r.u32();
        if (kind & 2) out.binding = r.u64();
        const auto bytes = r.take(r.rest().size());
        out.size = bytes.size();
        out.where = in->add(bytes);
        return out;
    }
};

template <class Head>
struct head_codec {
    using value_type = Head;
    static void encode(const Head& h, writer& w, const inline_records*) {
        w.u64(h.next_version);
        w.u64(static_cast<std::uint64_t>(h.created_ns));
        w.u32(static_cast<std::uint32_t>(h.versions.size()));
        for (const auto& s : h.versions) {
            w.u64(s.version);
            w.u64(static_cast<std::uint64_t>(s.time_ns));
            w.ref(s.ref);
            w.u32(s.layouts);
            w.u64(s.ref.binding);
        }
    }
    static Head decode(reader& r, inline_records*) {
        Head h{std::allocator<char>()};
        h.next_version = r.u64();
        h.created_ns = static_cast<std::int64_t>(r.u64());
        const std::uint32_t n = r.u32();
        constexpr std::size_t slot_bytes = 8 + 8 + 40 + 4 + 8;
        if (n > r.rest().size() / slot_bytes) r.take(r.rest().size() + 1);  // reported short
        h.versions.reserve(n);
        for (std::uint32_t i = 0; i < n; ++i) {
            detail::version_slot s;
            s.version = r.u64();
            s.time_ns = static_cast<std::int64_t>(r.u64());
            s.ref = r.ref();
            s.layouts = r.u32();
            s.ref.binding = r.u64();
            h.versions.push_back(s);
        }
        return h;
    }
};

struct chunk_codec {
    using value_type = chunk_slot;
    static void encode(const chunk_slot& c, writer& w, const inline_records*) {
        w.ref(c.ref);
        w.u64(c.refs);
        w.raw(c.id.data(), c.id.size());
        w.u8(static_cast<std::uint8_t>(c.kind));
    }
    static chunk_slot decode(reader& r, inline_records*) {
        chunk_slot c;
        c.ref = r.ref();
        c.refs = r.u64();
        std::memcpy(c.id.data(), r.take(c.id.size()).data(), c.id.size());
        c.kind = static_cast<chunk_kind>(r.u8());
        return c;
    }
};

}  // namespace tables
}  // namespace detail
}  // namespace v1
}  // namespace mmry
