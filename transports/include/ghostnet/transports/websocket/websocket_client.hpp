#pragma once

// A WebSocket client: connects, sends the upgrade request, checks the 101
// (status, Upgrade, Sec-WebSocket-Accept, the subprotocol) and switches the
// connection to the WebSocket layer in the client role (masked frames).
//
//   ws::websocket_client_options opts;
//   auto conn = ws::websocket_connect(sys, "ws://127.0.0.1:8080/echo", opts,
//                                     ws::websocket_actor_handler(find_me));
//   // (connect_atom) on *conn is answered once the 101 is in.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include "ghostnet/transports/connection_actor.hpp"
#include "ghostnet/transports/tcp_options.hpp"
#include "ghostnet/transports/websocket/websocket_handler.hpp"
#include "ghostnet/transports/websocket/websocket_options.hpp"

namespace ghostnet::transports::ws {

struct websocket_client_options {
  websocket_options websocket;
  /// Timeouts, retries and connection options of the TCP connection
  /// (`remote` is taken from the URL). For wss:// set
  /// `connect.connection.tls.context` to a client context (verification
  /// on); the URL's host is the server name unless one is set.
  connect_options connect;
  /// More request header fields (Origin, Authorization, ...).
  std::vector<std::pair<std::string, std::string>> headers;
  /// From the TCP connection (and TLS) being up to the 101; then
  /// errc::timeout. Default 10 s.
  caf::timespan handshake_timeout = std::chrono::seconds(10);
  /// The 101's status line and header fields at most; more:
  /// errc::protocol_error. Default 16 KiB.
  size_t max_header_bytes = 16 * 1024;
};

/// Connects to a ws:// or wss:// URL. The connection actor exists at once;
/// its connect request is answered once the handshake is done, or with
/// what ended it: the TCP connect's errors, errc::timeout
/// ("websocket handshake"), errc::protocol_error for an answer that is not
/// a valid 101 (the detail names the status or the header). Errors before
/// the connection exists: errc::invalid_address for a bad URL,
/// errc::invalid_configuration for bad options (wss without a TLS context).
[[nodiscard]] caf::expected<connection_actor>
websocket_connect(caf::actor_system& sys, std::string_view url,
                  websocket_client_options opts,
                  websocket_handler_factory make_handler);

} // namespace ghostnet::transports::ws
