#pragma once

// The application end of a WebSocket connection, running inside the
// connection actor (no actor hop per message), as connection_handler is
// for framed TCP. For handlers that are actors, see websocket_actor_handler.

#include <functional>
#include <memory>
#include <string_view>

#include <caf/actor.hpp>
#include <caf/error.hpp>

#include "ghostnet/transports/connection_handler.hpp"
#include "ghostnet/transports/websocket/websocket_actor.hpp"

namespace ghostnet::transports::ws {

/// What a handler may do with its WebSocket. Valid during the callbacks.
class websocket_context {
public:
  virtual ~websocket_context() = default;

  /// Sends one message. errc::backpressure above the high-water mark
  /// (nothing sent: wait for on_writable), errc::transport_closed once the
  /// close handshake began, errc::protocol_error for text that is not
  /// UTF-8.
  [[nodiscard]] virtual caf::error send_text(std::string_view text) = 0;
  [[nodiscard]] virtual caf::error send_binary(byte_view data) = 0;

  /// Starts the close handshake with `code` (one a peer may receive:
  /// is_valid_close_code) and `reason` (cut to 123 bytes).
  virtual void close(uint16_t code, std::string_view reason) = 0;

  [[nodiscard]] virtual const connection_info& info() const noexcept = 0;

  /// The subprotocol agreed in the handshake, or empty.
  [[nodiscard]] virtual std::string_view subprotocol() const noexcept = 0;

  /// The facade actor of this WebSocket (spawned on first use): hand it
  /// to other actors so they can send to this connection.
  [[nodiscard]] virtual websocket_actor self() = 0;

  /// The connection actor underneath.
  [[nodiscard]] virtual connection_actor connection() const = 0;

  /// Stops reading until resume_reading (messages of a read in progress
  /// still arrive); reading also pauses by itself while the send buffer is
  /// above its high-water mark.
  virtual void pause_reading() = 0;
  virtual void resume_reading() = 0;
};

class websocket_handler {
public:
  virtual ~websocket_handler() = default;

  /// The handshake is done; messages may be sent.
  virtual void on_open(websocket_context&) {}

  /// One complete message (fragments reassembled; text is valid UTF-8).
  /// `data` is valid only during the call.
  virtual void on_message(websocket_context& ctx, bool text,
                          std::string_view data) = 0;

  /// Sending is possible again after errc::backpressure.
  virtual void on_writable(websocket_context&) {}

  /// (demand_atom, n) reached the connection: `n` more messages may go to
  /// the handler's actor.
  virtual void on_demand(websocket_context&, uint32_t /*n*/) {}

  /// The connection is gone.
  virtual void on_close(const ws_close& how) {
    (void) how;
  }
};

/// Makes one handler per WebSocket connection.
using websocket_handler_factory
  = std::function<std::unique_ptr<websocket_handler>()>;

/// Echoes every message (text as text, binary as binary). A peer that does
/// not read its echoes is paused: reading stops while the send buffer is
/// above its high-water mark.
[[nodiscard]] websocket_handler_factory websocket_echo();

/// Actor mode: the connection's messages go to the actor `find_app`
/// returns when the connection opens (see websocket_actor.hpp for the
/// messages), so a supervised actor that was restarted is found under its
/// name. If that actor is gone (or null), or goes down later, the
/// connection closes with `app_down_code` (default 1012, service restart:
/// the client may reconnect).
struct websocket_actor_options {
  actor_flow flow;
  uint16_t app_down_code = 1012;
};

[[nodiscard]] websocket_handler_factory
websocket_actor_handler(std::function<caf::actor()> find_app,
                        websocket_actor_options opts = {});

} // namespace ghostnet::transports::ws
