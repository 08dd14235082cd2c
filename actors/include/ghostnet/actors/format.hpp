#pragma once

// How ghostnet renders values in error details, log lines and settings:
// once, so that a duration reads the same in a log line, an error and
// `--help`, and every JSON string is escaped the same way.

#include <string>
#include <string_view>

#include <caf/timespan.hpp>

namespace ghostnet {

/// `str` in double quotes, as it appears in error details ("x.pem").
[[nodiscard]] std::string quoted(std::string_view str);

/// Appends a duration in the largest unit that divides it exactly: `250ms`,
/// `5s`, `2min`, `1500us`; `0s` for zero. The config parser reads it back.
void append_duration(std::string& out, caf::timespan x);

/// append_duration into a new string.
[[nodiscard]] std::string format_duration(caf::timespan x);

/// Appends `str` as a JSON string, quotes included. Invalid UTF-8 (bytes from
/// the network end up in error details) becomes U+FFFD, so every JSON line
/// ghostnet writes stays valid.
void append_json_string(std::string& out, std::string_view str);

namespace detail {

/// The escapes JSON and logfmt share inside double quotes (`"`, `\`, control
/// characters); false if `c` needs none.
bool append_common_escape(std::string& out, unsigned char c);

/// `\u00XX` for a byte below 0x80.
void append_unicode_escape(std::string& out, unsigned char c);

} // namespace detail

} // namespace ghostnet
