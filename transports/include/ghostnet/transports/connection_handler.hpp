#pragma once

// The application end of a connection, running inside the connection actor:
// no actor hop per frame. For handlers that are actors, see actor_handler().

#include <functional>
#include <memory>

#include <caf/actor.hpp>
#include <caf/error.hpp>

#include "ghostnet/transports/connection_actor.hpp"
#include "ghostnet/transports/framing.hpp"

namespace ghostnet::transports {

/// What a handler may do with its connection. Valid during the callbacks.
class connection_context {
public:
  virtual ~connection_context() = default;

  /// Frames and sends `payload`. errc::backpressure above the high-water
  /// mark (nothing sent: wait for on_writable), errc::transport_closed after
  /// close, errc::protocol_error if the framer refuses the payload.
  [[nodiscard]] virtual caf::error send(byte_view payload) = 0;

  /// Graceful close: sends what was accepted, then closes.
  virtual void close() = 0;

  /// Drops the connection at once with `reason` as its exit reason.
  virtual void abort(caf::error reason) = 0;

  [[nodiscard]] virtual const connection_info& info() const noexcept = 0;

  /// The connection actor itself (to hand to other actors).
  [[nodiscard]] virtual connection_actor self() const = 0;

  /// Stops reading from the socket until resume_reading (the handler cannot
  /// take more now); independent of the send-buffer backpressure, which
  /// pauses reading on its own. Frames of a read in progress still arrive.
  virtual void pause_reading() = 0;
  virtual void resume_reading() = 0;
};

class connection_handler {
public:
  virtual ~connection_handler() = default;

  /// The connection is established.
  virtual void on_open(connection_context&) {}

  /// One complete frame arrived. `frame` is valid only during the call.
  virtual void on_frame(connection_context& ctx, byte_view frame) = 0;

  /// Sending is possible again after errc::backpressure.
  virtual void on_writable(connection_context&) {}

  /// The connection is gone: `reason` is none after a clean close.
  virtual void on_close(const caf::error& reason) {}

  /// Someone sent the connection actor (demand_atom, n): `n` more frames
  /// may be handed on (see actor_handler's window).
  virtual void on_demand(connection_context&, uint32_t /*n*/) {}

  /// Someone sent the connection actor (set_receiver_atom, actor): the
  /// messages of an actor handler go to `receiver` (never null: the
  /// connection refuses that itself) from now on. Default:
  /// errc::invalid_state (this handler sends to no actor).
  [[nodiscard]] virtual caf::error on_set_receiver(connection_context& ctx,
                                                   caf::actor receiver);
};

/// Makes one handler per connection.
using handler_factory = std::function<std::unique_ptr<connection_handler>()>;

/// A handler that echoes every frame (the echo service).
[[nodiscard]] handler_factory echo_handler();

/// Flow control of actor mode, as gen_tcp's `{active, N}`: at most `window`
/// `received` messages are outstanding at the handler actor; each
/// `(demand_atom, n)` it sends to the connection grants `n` more. While none
/// is granted the connection stops reading, so a slow handler actor slows
/// its peer down (TCP's window fills) instead of growing its mailbox. The
/// frames of the read that used up the window wait in the connection (one
/// read's worth at most). 0: no limit (every frame is sent at once).
struct actor_flow {
  uint32_t window = 0;
};

/// Actor mode: forwards opened/received/closed messages (see
/// connection_actor.hpp) to `app`, one actor for all connections.
[[nodiscard]] handler_factory actor_handler(caf::actor app,
                                            actor_flow flow = {});

} // namespace ghostnet::transports
