#pragma once
// path::temporal: each put lands in the time bucket of its write, filed under
// Prefix + "YYYY/MM/DD/HH" (down to the granularity) + "/" + key, in UTC. A later put in the same
// bucket replaces the earlier one there, so a bucket holds the last value written in it: hourly
// snapshots with granularity::hour. get_as_of(key, t) is the newest kept write at or before t.
// The store's clock (options.clock) stamps the writes, so tests can inject one.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include <mmry/concepts.hpp>
#include <mmry/path/input.hpp>

namespace mmry {
inline namespace v1 {
namespace path {

enum class granularity { year, month, day, hour, minute, second };

template <granularity G = granularity::hour, fixed_string Prefix = "">
struct temporal_with {
    static constexpr std::uint8_t id = 2;
    static constexpr std::string_view name = "temporal";
    static constexpr bool history = true;
    static constexpr std::size_t layouts = 1;
    static constexpr path::exists existence = path::exists::first;
    static constexpr path::granularity bucket = G;

    /// The bucket of time t as "YYYY/MM/DD/HH/" (as far as the granularity goes).
    static std::string bucket_of(std::int64_t time_ns) {
        using namespace std::chrono;
        const auto t = sys_time<nanoseconds>(nanoseconds(time_ns));
        const auto day = floor<days>(t);
        const year_month_day ymd(day);
        const hh_mm_ss hms(floor<seconds>(t - day));
        const int fields[] = {
            int(ymd.year()),          int(unsigned(ymd.month())), int(unsigned(ymd.day())),
            int(hms.hours().count()), int(hms.minutes().count()), int(hms.seconds().count())};
        std::string out;
        char part[16];
        for (int i = 0; i <= static_cast<int>(G); ++i) {
            std::snprintf(part, sizeof part, i == 0 ? "%04d/" : "%02d/", fields[i]);
            out += part;
        }
        return out;
    }

    static void stored_key(std::size_t, const input& in, std::string& out) {
        out.assign(Prefix.view());
        out += bucket_of(in.time_ns);
        out += in.key;
    }
};

/// Hourly buckets: "2026/11/21/14/<key>".
using temporal = temporal_with<>;

}  // namespace path

static_assert(path_policy<path::temporal>);
}  // namespace v1
}  // namespace mmry
