#pragma once

// Limits and timeouts of a WebSocket connection, server and client alike.

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/timespan.hpp>

namespace ghostnet::transports::ws {

struct websocket_options {
  /// A message (all its fragments, after reassembly) may be this long;
  /// longer: closed with 1009 as soon as a frame header announces it.
  /// Default 1 MiB.
  size_t max_message_size = 1024 * 1024;
  /// After this long without a frame from the peer, a ping goes out.
  /// 0: no keep-alive. Default 30 s.
  caf::timespan ping_interval = std::chrono::seconds(30);
  /// After a keep-alive ping, a frame (a pong or any other) must arrive
  /// within this long, or the connection is dropped as dead
  /// (errc::timeout). Default 10 s.
  caf::timespan pong_timeout = std::chrono::seconds(10);
  /// After sending a close frame, the peer's close frame (and, for a
  /// server, the end of the TCP connection) is awaited this long, then the
  /// connection is dropped. Default 5 s.
  caf::timespan close_timeout = std::chrono::seconds(5);
  /// Subprotocols this end speaks, most preferred first (server: the
  /// first the client offers that is listed here is chosen; client:
  /// offered in Sec-WebSocket-Protocol). Empty: none.
  std::vector<std::string> subprotocols;
};

[[nodiscard]] caf::error validate(const websocket_options& opts);

} // namespace ghostnet::transports::ws
