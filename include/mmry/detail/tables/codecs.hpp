#pragma once
// The values of the store's tables and their bytes: record references, key heads (history),
// chunk slots.

#include <cstdint>
#include <cstring>
#include <memory>

#include <mmry/detail/history.hpp>
#include <mmry/detail/tables/encoding.hpp>
#include <mmry/detail/tables/values.hpp>

namespace mmry {
inline namespace v1 {
namespace detail {
namespace tables {

// Value codecs: a value type and its bytes.
struct record_codec {
    using value_type = record_ref;
    static void encode(const record_ref& r, writer& w) { w.ref(r); }
    static record_ref decode(reader& r) { return r.ref(); }
};

template <class Head>
struct head_codec {
    using value_type = Head;
    static void encode(const Head& h, writer& w) {
        w.u64(h.next_version);
        w.u64(static_cast<std::uint64_t>(h.created_ns));
        w.u32(static_cast<std::uint32_t>(h.versions.size()));
        for (const auto& s : h.versions) {
            w.u64(s.version);
            w.u64(static_cast<std::uint64_t>(s.time_ns));
            w.ref(s.ref);
            w.u32(s.layouts);
        }
    }
    static Head decode(reader& r) {
        Head h{std::allocator<char>()};
        h.next_version = r.u64();
        h.created_ns = static_cast<std::int64_t>(r.u64());
        const std::uint32_t n = r.u32();
        if (n > r.rest().size() / 52) r.take(r.rest().size() + 1);  // too many: reported short
        h.versions.reserve(n);
        for (std::uint32_t i = 0; i < n; ++i) {
            detail::version_slot s;
            s.version = r.u64();
            s.time_ns = static_cast<std::int64_t>(r.u64());
            s.ref = r.ref();
            s.layouts = r.u32();
            h.versions.push_back(s);
        }
        return h;
    }
};

struct chunk_codec {
    using value_type = chunk_slot;
    static void encode(const chunk_slot& c, writer& w) {
        w.ref(c.ref);
        w.u64(c.refs);
        w.raw(c.id.data(), c.id.size());
        w.u8(static_cast<std::uint8_t>(c.kind));
    }
    static chunk_slot decode(reader& r) {
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
