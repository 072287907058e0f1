#pragma once
// The tool's entry into a store: from a location and a command to the composition that opens it.

#include <string>

#include "request.hpp"

namespace mmry_tool {

/// "shm:NAME" (shared memory), "file:DIR" or DIR (mapped file). Throws on an empty name.
location parse_location(const std::string& text);

/// Reads the store's header (or, for `create`, the composition asked for), takes the key when
/// the store is encrypted, and runs `r` on the store. Returns the exit status; throws on errors.
int dispatch(const request& r);

}  // namespace mmry_tool
