#pragma once

// A TCP service as a supervised subtree (OTP/ranch shape):
//
//   service "<name>"            supervisor, rest_for_one
//   ├── connections             supervisor, simple_one_for_one, temporary
//   │   └── connection ...      one broker per accepted socket
//   └── listener                owns the listening socket
//
// Started in that order, stopped in reverse: the listener stops accepting
// first, then every connection finishes what it was asked to send. If the
// connections supervisor fails, the listener is restarted after it.

#include <functional>
#include <string>

#include "ghostnet/supervision/child_spec.hpp"
#include "ghostnet/transports/connection_handler.hpp"
#include "ghostnet/transports/tcp_options.hpp"

namespace ghostnet::transports {

struct tcp_service_options {
  std::string name = "tcp";   ///< service id in the tree and in logs
  listener_options listener;  ///< bind address, limits, connection options
  /// One handler per connection (required unless
  /// listener.connection.protocol makes the layers).
  handler_factory handler;
  /// Called (in the supervisor, once per bind) with the bound address. With
  /// port 0 the first bind picks a port; restarts rebind that same port.
  std::function<void(const endpoint&)> on_bound;
};

/// Validates and returns the child spec of the whole service.
[[nodiscard]] caf::expected<supervision::child_spec>
tcp_service(tcp_service_options opts);

} // namespace ghostnet::transports
