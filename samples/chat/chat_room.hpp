#pragma once

// A chat room: every text or binary message a member sends goes to every
// member (the sender included). The room is one supervised actor found by
// name, so a restarted room serves new connections at once.
//
// Memory stays bounded whatever the clients do: a member's messages reach
// the room through a credit window (a flooding client is paused, not
// queued), and a member that cannot keep up with the room loses messages
// (counted); after `max_consecutive_drops` in a row it is closed with 1008.
// A room that dies closes its members with 1012 (service restart: they
// may reconnect); the HTTP listener is another child and stays up.

#include <cstdint>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

#include "ghostnet/supervision/child_spec.hpp"
#include "ghostnet/transports/websocket/websocket_handler.hpp"

namespace chat {

struct room_options {
  /// The room's name in the actor system's registry.
  caf::atom_value name = caf::atom("chatroom");
  /// A member's messages the room holds undelivered at most (sent to the
  /// connection, not yet accepted): above, a message to it is dropped.
  uint32_t max_in_flight = 64;
  /// A member that lost this many messages in a row is closed with 1008.
  uint32_t max_consecutive_drops = 256;
  /// Messages from one member the room takes before it handled them.
  uint32_t window = 8;
};

/// What (caf::get_atom) on the room answers.
struct room_stats {
  uint64_t members = 0;
  uint64_t messages = 0;  ///< received from members
  uint64_t delivered = 0; ///< accepted by a member's connection
  uint64_t dropped = 0;   ///< not delivered: that member was too slow
  uint64_t slow_closed = 0; ///< members closed with 1008
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, room_stats& x) {
  return f(caf::meta::type_name("room_stats"), x.members, x.messages,
           x.delivered, x.dropped, x.slow_closed);
}

/// A supervised room: spawns it and registers it under `opts.name`.
[[nodiscard]] ghostnet::supervision::child_spec room_child(room_options opts = {});

/// The handler of a WebSocket route whose connections join the room
/// registered under `opts.name` in `sys` (which must outlive the route).
[[nodiscard]] ghostnet::transports::ws::websocket_handler_factory
room_member(caf::actor_system& sys, room_options opts = {});

} // namespace chat
