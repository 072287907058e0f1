#pragma once
// mmry::error and mmry::errc: the one error channel of the library.
//
// A missing key is never an error (operations return std::optional). Everything else that fails
// throws mmry::error, a std::system_error whose code is in mmry's category and whose message names
// what failed: the key, the frame, the offset, the expected and the found values.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include <mmry/version.hpp>

namespace mmry {
inline namespace v1 {

enum class errc : int {
    invalid_argument = 1,   ///< the caller passed something the operation cannot take
    out_of_range,           ///< a read past the end of a value, or a size beyond a format limit
    corrupt,                ///< stored bytes fail a checksum, a tag or a structural check
    authentication_failed,  ///< a frame does not authenticate under a verified key
    wrong_key,              ///< data was written under another key than the one given
    policy_mismatch,        ///< a store or record was written with other policies
    version_mismatch,       ///< a store or record has a format version this build cannot read
    limit_exceeded,         ///< the store's size limit would be passed
    not_found,              ///< a store (not a key) that was asked for does not exist
    already_exists,         ///< a store that was to be created exists already
    needs_recovery,         ///< a writer died mid-update; the store must be recovered first
    io_error,               ///< the operating system refused an operation
    conflict,               ///< a conditional write's condition did not hold; nothing changed
};

/// The error category of mmry::errc.
class error_category final : public std::error_category {
  public:
    const char* name() const noexcept override { return "mmry"; }
    std::string message(int code) const override {
        switch (static_cast<errc>(code)) {
            case errc::invalid_argument:
                return "invalid argument";
            case errc::out_of_range:
                return "out of range";
            case errc::corrupt:
                return "corrupt data";
            case errc::authentication_failed:
                return "authentication failed";
            case errc::wrong_key:
                return "wrong key";
            case errc::policy_mismatch:
                return "policy mismatch";
            case errc::version_mismatch:
                return "format version mismatch";
            case errc::limit_exceeded:
                return "size limit exceeded";
            case errc::not_found:
                return "not found";
            case errc::already_exists:
                return "already exists";
            case errc::needs_recovery:
                return "store needs recovery";
            case errc::io_error:
                return "I/O error";
            case errc::conflict:
                return "conflict";
        }
        return "unknown mmry error";
    }
};

inline const std::error_category& mmry_category() noexcept {
    static const error_category category;
    return category;
}

inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), mmry_category()};
}

/// The numbers of an errc::limit_exceeded, in bytes: what the refused operation needed, what the
/// store had in use, and its limit (max_size).
struct limit_details {
    std::uint64_t requested = 0;
    std::uint64_t in_use = 0;
    std::uint64_t limit = 0;
};

/// The exception every mmry operation throws for anything but "not there".
/// what() reads "mmry: <what failed, with names and values>: <category message>".
class error : public std::system_error {
  public:
    error(errc code, const std::string& what)
        : std::system_error(make_error_code(code), "mmry: " + what) {}
    /// An error with the numbers of a limit (errc::limit_exceeded).
    error(errc code, const std::string& what, const limit_details& limit) : error(code, what) {
        limit_ = limit;
    }
    errc code_value() const noexcept { return static_cast<errc>(code().value()); }
    /// The numbers of an errc::limit_exceeded that a put, a batch or an allocation refused
    /// (requested, in use, limit), as fields; none for other errors.
    const std::optional<limit_details>& limit() const noexcept { return limit_; }
    /// what() without its "mmry: " prefix and category suffix: to say it again in context.
    std::string detail() const {
        std::string_view w = what();
        const std::string tail = ": " + code().message();
        if (w.starts_with("mmry: ")) w.remove_prefix(6);
        if (w.ends_with(tail)) w.remove_suffix(tail.size());
        return std::string(w);
    }

  private:
    std::optional<limit_details> limit_;
};

}  // namespace v1
}  // namespace mmry

template <>
struct std::is_error_code_enum<mmry::errc> : std::true_type {};
