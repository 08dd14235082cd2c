#pragma once

// Thin, error-typed wrappers around the socket calls ghostnet makes itself.
// None of them blocks: sockets are non-blocking and close-on-exec.

#include <string>

#include <caf/expected.hpp>

#include "ghostnet/transports/endpoint.hpp"
#include "ghostnet/transports/socket_handle.hpp"
#include "ghostnet/transports/tcp_options.hpp"

namespace ghostnet::transports::detail {

/// socket + options + bind + listen. Errors name the endpoint.
[[nodiscard]] caf::expected<socket_handle>
open_tcp_listener(const listener_options& opts);

/// socket + non-blocking connect. `in_progress` tells whether the connect
/// completes later (writability, then SO_ERROR) or already did.
[[nodiscard]] caf::expected<socket_handle>
start_tcp_connect(const endpoint& remote, bool& in_progress);

/// The pending error of a socket (SO_ERROR), 0 if none.
[[nodiscard]] int pending_socket_error(int fd) noexcept;

/// Makes the next close() send RST instead of FIN.
void set_abortive_close(int fd) noexcept;

} // namespace ghostnet::transports::detail
