#pragma once
// Where the tool takes a store's key from - never the command line, where `ps` and shell history
// would show it: --key-file FILE, else the environment variable MMRY_KEY, else a prompt on the
// terminal (/dev/tty) with echo off. A passphrase store takes the text as its passphrase (one
// trailing newline dropped); a store keyed with 32 bytes takes 64 hex digits, or a key file of
// exactly 32 raw bytes.

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>

#include <cryptopp/misc.h>

#include <mmry/error.hpp>
#include <mmry/key.hpp>

#include "request.hpp"

namespace mmry_tool {

/// Wipes a string's bytes before it goes (the text of a key or passphrase).
struct secret {
    std::string text;
    ~secret() { CryptoPP::SecureWipeBuffer(text.data(), text.size()); }
};

/// Reads a line from /dev/tty with echo off; nullopt when there is no terminal.
inline std::optional<std::string> prompt_without_echo(const std::string& question) {
    const int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return std::nullopt;
    termios old{};
    const bool is_tty = ::tcgetattr(fd, &old) == 0;
    if (is_tty) {
        termios quiet = old;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        quiet.c_lflag |= ECHONL;
        ::tcsetattr(fd, TCSANOW, &quiet);
    }
    (void)!::write(fd, question.data(), question.size());
    std::string line;
    char c;
    while (::read(fd, &c, 1) == 1 && c != '\n') line += c;
    if (is_tty) ::tcsetattr(fd, TCSANOW, &old);
    ::close(fd);
    return line;
}

inline std::string hex_decode(std::string_view hex, const std::string& from) {
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    };
    std::string out;
    if (hex.size() % 2 == 0)
        for (std::size_t i = 0; i < hex.size(); i += 2) {
            const int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
            if (hi < 0 || lo < 0) break;
            out += static_cast<char>(hi * 16 + lo);
        }
    if (out.size() * 2 != hex.size() || out.size() != mmry::key::size)
        throw mmry::error(mmry::errc::invalid_argument,
                          "the key from " + from + " is not " +
                              std::to_string(mmry::key::size * 2) +
                              " hex digits (a store keyed with a passphrase says so in `mmry "
                              "stat`)");
    return out;
}

inline std::string_view trimmed(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    return s;
}

/// The key for `store`, whose header says whether it is a passphrase.
inline mmry::key key_for(const request& r, bool passphrase) {
    secret text;
    std::string from;
    bool raw_file = false;
    if (!r.key_file.empty()) {
        std::ifstream in(r.key_file, std::ios::binary);
        if (!in) throw mmry::error(mmry::errc::io_error, "cannot read key file " + r.key_file);
        text.text.assign(std::istreambuf_iterator<char>(in), {});
        from = "key file " + r.key_file;
        raw_file = true;
    } else if (const char* env = std::getenv("MMRY_KEY"); env && *env) {
        text.text = env;
        from = "MMRY_KEY";
    } else if (auto typed = prompt_without_echo(
                   passphrase ? "Passphrase for " + r.store.shown + ": "
                              : "Key for " + r.store.shown + " (64 hex digits): ")) {
        text.text = std::move(*typed);
        from = "the terminal";
    } else {
        throw mmry::error(mmry::errc::invalid_argument,
                          "store " + r.store.shown +
                              " is encrypted: give its key in MMRY_KEY or with --key-file FILE "
                              "(no terminal to ask on)");
    }
    if (passphrase) {
        std::string_view p = text.text;
        if (!p.empty() && p.back() == '\n') p.remove_suffix(1);
        if (!p.empty() && p.back() == '\r') p.remove_suffix(1);
        if (p.empty())
            throw mmry::error(mmry::errc::invalid_argument,
                              "the passphrase from " + from + " is empty");
        return mmry::key::from_passphrase(p);
    }
    secret material;
    if (raw_file && text.text.size() == mmry::key::size)
        material.text = text.text;
    else
        material.text = hex_decode(trimmed(text.text), from);
    return mmry::key::from_bytes(mmry::byte_view(
        reinterpret_cast<const std::byte*>(material.text.data()), material.text.size()));
}

}  // namespace mmry_tool
