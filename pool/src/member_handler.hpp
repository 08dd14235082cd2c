#pragma once

// The handler of a pool member: forwards every frame and the close to the
// member's receiver, which the pool switches with a set_receiver request to
// the connection (itself while the member is idle, the holder while it is
// leased). The switch happens in the connection actor, between two reads:
// no shared state, no lock.
//
// On open it tells the pool which member it is: (member_up_atom, member id,
// connection_actor). That may arrive before the supervisor's reply to the
// pool's start_child. The pool learns of a failed connect from the member's
// down_msg; it never sends the connection a request it might not answer
// (see docs/pool.md, CAF 0.17 brokers).
//
// With a receive window it is actor_flow's twin: at most `window` received
// messages outstanding at the receiver, more granted by demand messages to
// the connection, reading paused without credit.

#include <cstdint>

#include <caf/actor.hpp>

#include "ghostnet/transports/connection_handler.hpp"

namespace ghostnet::pool::detail {

/// Handlers for member `id` whose first receiver is `pool`; `window`:
/// pool_options::receive_window (0: no flow control).
[[nodiscard]] transports::handler_factory
member_handler(uint64_t id, caf::actor pool, uint32_t window);

} // namespace ghostnet::pool::detail
