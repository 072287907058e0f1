#pragma once
// put_options: what a put records about its value besides the bytes, kept in the record's meta
// section and returned by metadata() and queries without decoding the value.
//
// Content type, tags and attributes are stored in the clear even in an encrypted store (like keys;
// they are authenticated, not hidden): do not put secrets in them.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <mmry/versions.hpp>

namespace mmry {
inline namespace v1 {

struct put_options {
    /// A media type or any label, e.g. "application/json" (at most 65535 bytes).
    std::string content_type{};
    /// Labels to find the entry by (mmry::basic_store::with_tag); each 1 to 65535 bytes.
    std::vector<std::string> tags{};
    /// Small name/value pairs (names 1 to 65535 bytes, values up to 65535 bytes).
    std::vector<std::pair<std::string, std::string>> attributes{};

    // Conditions, checked under the write lock against the store as it is then; when one does
    // not hold, the put throws errc::conflict and changes nothing (compare-and-swap, optimistic
    // concurrency). Neither is stored.

    /// Put only when the key's current version is this one.
    std::optional<version> if_version{};
    /// Put only when the key has no current version.
    bool if_absent = false;
};

}  // namespace v1
}  // namespace mmry
