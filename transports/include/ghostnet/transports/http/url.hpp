#pragma once

// Absolute http and https URLs, as the HTTP client takes them, and the
// resolution of a redirect's Location against the URL it answered.

#include <cstdint>
#include <string>
#include <string_view>

#include <caf/expected.hpp>

namespace ghostnet::transports::http {

struct url {
  std::string scheme; ///< "http" or "https" (lower case)
  std::string host;   ///< a name or an address; IPv6 without brackets
  uint16_t port = 0;  ///< the explicit port, else 80 or 443
  std::string target; ///< path and query, at least "/"; no fragment

  [[nodiscard]] bool tls() const noexcept {
    return scheme == "https";
  }

  /// The Host header: host (bracketed if IPv6) and the port unless it is
  /// the scheme's default.
  [[nodiscard]] std::string authority() const;

  /// scheme://authority/target
  [[nodiscard]] std::string to_string() const;

  /// scheme, host and port: what a connection can be shared by.
  [[nodiscard]] std::string origin() const;
};

/// Parses an absolute http or https URL. User info (`user@`) is refused (a
/// credential in a URL ends up in logs), as are other schemes, an empty
/// host, a port outside 1..65535, and control characters or spaces.
/// Errors: errc::invalid_address ("parse url", detail says why).
[[nodiscard]] caf::expected<url> parse_url(std::string_view text);

/// The URL a `Location` value points to from `base`: absolute URLs as
/// parse_url, "//host/..." with base's scheme, "/path" on base's origin,
/// and a relative path against base's directory (RFC 3986 §5.2, without
/// dot-segment removal beyond what the server does).
[[nodiscard]] caf::expected<url> resolve_location(const url& base,
                                                  std::string_view location);

} // namespace ghostnet::transports::http
