#pragma once

// The typed face of a WebSocket connection, and the messages its handler
// actor receives (see docs/websocket.md, "Actor mode").
//
// A WebSocket connection is a connection actor (connection_actor.hpp)
// whose top layer switched from HTTP/1.1 to WebSocket. Its handle keeps
// working (send = a binary message, close = the close handshake with 1000,
// demand, info), and what only WebSocket has goes through a facade actor,
// websocket_actor, which forwards to the connection: the compiler checks
// both interfaces.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "ghostnet/actors/atoms.hpp"
#include "ghostnet/transports/connection_actor.hpp"

namespace ghostnet::transports::ws {

using ghostnet::binary_atom;
using ghostnet::text_atom;

/// How a WebSocket connection ended.
struct ws_close {
  /// The code of the close handshake: the peer's (1005 if its close frame
  /// had none), or the one this end sent (1009, 1002, ...); 1006 if the
  /// connection ended without a close frame.
  uint16_t code = 1006;
  std::string reason;
  /// none after a clean close handshake; the connection's error otherwise
  /// (protocol_error for a violation, timeout, connection_reset).
  caf::error error;
  /// True if the peer started the close handshake.
  bool by_peer = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ws_close& x) {
  return f(caf::meta::type_name("ws_close"), x.code, x.reason, x.error,
           x.by_peer);
}

/// Requests a WebSocket connection answers:
/// - text / binary: one message; ok once accepted for sending;
///   errc::backpressure while the connection's send buffer is above its
///   high-water mark (nothing was accepted: retry later or drop it),
///   errc::transport_closed once the close handshake began;
///   errc::protocol_error for text that is not UTF-8.
/// - close(code, reason): starts the close handshake; ok once the close
///   frame is queued. errc::invalid_configuration for a code that may not
///   be sent (1005, 1006, 1015, < 1000, ...).
/// - demand(n): the handler actor takes n more messages (actor_flow).
/// - info: the connection's addresses, state and counters.
/// - connection: the connection actor underneath.
using websocket_actor = caf::typed_actor<
  caf::replies_to<text_atom, std::string>::with<caf::ok_atom>,
  caf::replies_to<binary_atom, std::vector<char>>::with<caf::ok_atom>,
  caf::replies_to<close_atom, uint16_t, std::string>::with<caf::ok_atom>,
  caf::reacts_to<demand_atom, uint32_t>,
  caf::replies_to<info_atom>::with<connection_info>,
  caf::replies_to<caf::get_atom>::with<connection_actor>>;

/// Messages a WebSocket handler actor receives (actor mode):
///   (opened_atom, websocket_actor, connection_info)
///   (text_atom, websocket_actor, std::string)       — valid UTF-8
///   (binary_atom, websocket_actor, std::vector<char>)
///   (closed_atom, websocket_actor, ws_close)
/// With an actor_flow window, each text/binary message uses one unit of
/// credit: send (demand_atom, n) to the websocket_actor to grant more.

} // namespace ghostnet::transports::ws
