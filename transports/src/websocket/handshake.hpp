#pragma once

// The opening handshake's pieces (RFC 6455, section 4), shared by the
// HTTP server's upgrade and the client's upgrade layer.

#include <string>
#include <string_view>
#include <vector>

namespace ghostnet::transports::ws::detail {

/// Sec-WebSocket-Accept for `client_key`: base64(SHA-1(key + the GUID)).
[[nodiscard]] std::string accept_key(std::string_view client_key);

/// A fresh Sec-WebSocket-Key: 16 random bytes, base64.
[[nodiscard]] std::string make_client_key();

/// True if `key` is base64 of 16 bytes (24 characters, "==" at the end).
[[nodiscard]] bool valid_client_key(std::string_view key) noexcept;

/// True if the comma-separated `value` lists `token` (case-insensitive),
/// as Connection: keep-alive, Upgrade does.
[[nodiscard]] bool has_token(std::string_view value,
                             std::string_view token) noexcept;

/// The first of `ours` that the comma-separated `offered` lists, or empty.
[[nodiscard]] std::string choose_subprotocol(std::string_view offered,
                                             const std::vector<std::string>& ours);

} // namespace ghostnet::transports::ws::detail
