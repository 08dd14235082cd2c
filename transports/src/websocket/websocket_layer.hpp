#pragma once

// The WebSocket protocol layer (RFC 6455 after the opening handshake):
// frames in and out, reassembly, control frames, keep-alive, the close
// handshake. The HTTP server switches to it after a 101; the client's
// upgrade layer after it checked the 101 it got.

#include <memory>
#include <string>

#include "ghostnet/transports/layer.hpp"
#include "ghostnet/transports/websocket/frame_codec.hpp"
#include "ghostnet/transports/websocket/websocket_handler.hpp"
#include "ghostnet/transports/websocket/websocket_options.hpp"

namespace ghostnet::transports::ws::detail {

[[nodiscard]] layer_ptr
make_websocket_layer(role self_role,
                     std::shared_ptr<const websocket_options> opts,
                     std::unique_ptr<websocket_handler> handler,
                     std::string subprotocol);

/// The facade of `conn`: forwards to it, exits with it. If `watch` is not
/// null and goes down first, the connection is closed with `code`.
[[nodiscard]] websocket_actor spawn_facade(const connection_actor& conn,
                                           const caf::actor& watch,
                                           uint16_t code);

} // namespace ghostnet::transports::ws::detail
