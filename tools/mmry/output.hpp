#pragma once
// How the tool writes: sizes and times for people, JSON for programs, one-line errors, and a
// progress bar on stderr only when stderr is a terminal.

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

namespace mmry_tool {

/// "1.5 MiB", "312 B".
inline std::string human_bytes(std::uint64_t n) {
    constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = static_cast<double>(n);
    int u = 0;
    while (v >= 1024 && u < 5) v /= 1024, ++u;
    return u == 0 ? fmt::format("{} B", n) : fmt::format("{:.1f} {}", v, units[u]);
}

/// ISO 8601 in UTC with seconds, e.g. "2026-12-06T05:54:46Z" ("-" for the epoch).
inline std::string iso_time(std::chrono::system_clock::time_point t) {
    if (t.time_since_epoch().count() == 0) return "-";
    const std::time_t s = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&s, &tm);
    char out[32];
    std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return out;
}

inline std::int64_t unix_ns(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

/// What an exception says, without mmry::error's "mmry: " head and ": <category>" tail (the
/// tool prints its own head, and the category says less than the text).
inline std::string reason(const std::exception& e) {
    std::string_view w = e.what();
    if (w.starts_with("mmry: ")) w.remove_prefix(6);
    if (const auto* se = dynamic_cast<const std::system_error*>(&e)) {
        const std::string tail = ": " + se->code().message();
        if (w.ends_with(tail)) w.remove_suffix(tail.size());
    }
    return std::string(w);
}

/// One JSON document (or one line of JSON Lines) to stdout.
inline void print_json(const nlohmann::json& j) {
    fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

/// A progress bar on stderr: "verify [#####.....]  52%  1.2k/s  0:03 left", redrawn at most
/// ten times a second, and erased by finish(). Silent when not enabled.
class progress_bar {
  public:
    progress_bar(std::string label, bool enabled, std::string unit = "")
        : label_(std::move(label))
        , unit_(std::move(unit))
        , enabled_(enabled)
        , start_(clock::now()) {}
    ~progress_bar() { finish(); }
    progress_bar(const progress_bar&) = delete;
    progress_bar& operator=(const progress_bar&) = delete;

    /// Whether a bar should be drawn: stderr is a terminal, unless the user said otherwise.
    static bool wanted(std::optional<bool> forced) {
        return forced.value_or(::isatty(STDERR_FILENO) == 1);
    }

    void update(std::uint64_t done, std::uint64_t total) {
        if (!enabled_) return;
        const auto now = clock::now();
        if (drawn_ && now - last_ < std::chrono::milliseconds(100) && done < total) return;
        last_ = now;
        drawn_ = true;
        const double secs = std::chrono::duration<double>(now - start_).count();
        const double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
        const double fraction =
            total ? std::min(1.0, static_cast<double>(done) / static_cast<double>(total)) : 0;
        constexpr int width = 24;
        const int filled = static_cast<int>(fraction * width);
        std::string bar(static_cast<std::size_t>(filled), '#');
        bar.append(static_cast<std::size_t>(width - filled), '.');
        std::string left = "--:--";
        if (rate > 0 && total >= done) {
            const auto s = static_cast<std::uint64_t>(static_cast<double>(total - done) / rate);
            left = fmt::format("{}:{:02}", s / 60, s % 60);
        }
        fmt::print(stderr, "\r{} [{}] {:3.0f}%  {}/s  {} left\x1b[K", label_, bar, fraction * 100,
                   rate_text(rate), left);
        std::fflush(stderr);
    }

    void finish() {
        if (!enabled_ || !drawn_) return;
        fmt::print(stderr, "\r\x1b[K");
        std::fflush(stderr);
        drawn_ = false;
    }

  private:
    using clock = std::chrono::steady_clock;
    std::string rate_text(double r) const {
        if (unit_ == "B") return human_bytes(static_cast<std::uint64_t>(r));
        return r >= 1000 ? fmt::format("{:.1f}k", r / 1000) : fmt::format("{:.0f}", r);
    }
    std::string label_, unit_;
    bool enabled_;
    bool drawn_ = false;
    clock::time_point start_, last_{};
};

}  // namespace mmry_tool
