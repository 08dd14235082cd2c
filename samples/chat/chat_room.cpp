// The chat room actor (see chat_room.hpp).

#include "chat_room.hpp"

#include <map>
#include <string>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "ghostnet/actors/atoms.hpp"
#include "ghostnet/actors/error.hpp"

namespace chat {

namespace ws = ghostnet::transports::ws;
using ghostnet::closed_atom;
using ghostnet::opened_atom;

namespace {

struct member {
  ws::websocket_actor handle;
  uint32_t in_flight = 0;
  uint32_t consecutive_drops = 0;
};

struct room_state {
  std::map<caf::actor_addr, member> members;
  room_stats stats;
  static inline const char* name = "chat-room";
};

using room_actor = caf::stateful_actor<room_state>;

/// One message `from` could not take.
void drop(room_actor* self, const room_options& opts, member& m) {
  ++self->state.stats.dropped;
  if (++m.consecutive_drops < opts.max_consecutive_drops)
    return;
  ++self->state.stats.slow_closed;
  self->send(m.handle, ghostnet::close_atom::value, uint16_t{1008},
             std::string{"too slow for the room"});
  self->state.members.erase(m.handle.address());
}

/// Sends `msg` (text_atom or binary_atom and its payload) to every member.
template <class Atom, class Payload>
void broadcast(room_actor* self, const room_options& opts, Atom atom,
               const Payload& payload) {
  // Copy the addresses first: drop() may erase members.
  std::vector<caf::actor_addr> to;
  for (auto& [addr, m] : self->state.members)
    to.push_back(addr);
  for (auto& addr : to) {
    auto& m = self->state.members.at(addr);
    if (m.in_flight >= opts.max_in_flight) {
      drop(self, opts, m);
      continue;
    }
    ++m.in_flight;
    auto settle = [self, addr](bool delivered) -> member* {
      auto i = self->state.members.find(addr);
      if (i == self->state.members.end())
        return nullptr;
      --i->second.in_flight;
      if (delivered) {
        ++self->state.stats.delivered;
        i->second.consecutive_drops = 0;
      }
      return &i->second;
    };
    self->request(m.handle, caf::infinite, atom, payload)
      .then([settle](caf::ok_atom) { settle(true); },
            [self, opts, settle](caf::error& err) {
              // Backpressure: the member's send buffer is full. Anything
              // else: it is closing, and its closed message follows.
              auto* m = settle(false);
              if (m != nullptr && ghostnet::is(err, ghostnet::errc::backpressure))
                drop(self, opts, *m);
            });
  }
}

caf::behavior room(room_actor* self, room_options opts) {
  self->set_down_handler([self](caf::down_msg& msg) {
    self->state.members.erase(msg.source);
  });
  // The registry holds the current room; a dead one leaves it, unless a
  // restarted room took its place already.
  auto* sys = &self->system();
  self->attach_functor([sys, name = opts.name, addr = self->address()] {
    if (caf::actor_cast<caf::actor_addr>(sys->registry().get(name)) == addr)
      sys->registry().erase(name);
  });
  auto received = [self](ws::websocket_actor& from) {
    ++self->state.stats.messages;
    self->send(from, ghostnet::demand_atom::value, uint32_t{1});
  };
  return {
    [self](opened_atom, ws::websocket_actor& who, ghostnet::transports::connection_info&) {
      self->monitor(who);
      self->state.members.emplace(who.address(), member{who});
    },
    [self, opts, received](ws::text_atom, ws::websocket_actor& from, std::string& text) {
      received(from);
      broadcast(self, opts, ws::text_atom::value, text);
    },
    [self, opts, received](ws::binary_atom, ws::websocket_actor& from,
                           std::vector<char>& data) {
      received(from);
      broadcast(self, opts, ws::binary_atom::value, data);
    },
    [self](closed_atom, ws::websocket_actor& who, ws::ws_close&) {
      self->demonitor(who.address());
      self->state.members.erase(who.address());
    },
    [self](caf::get_atom) {
      auto stats = self->state.stats;
      stats.members = self->state.members.size();
      return stats;
    },
  };
}

} // namespace

ghostnet::supervision::child_spec room_child(room_options opts) {
  return ghostnet::supervision::worker(
    "chat-room", [opts](caf::actor_system& sys, const caf::message&) {
      auto self = sys.spawn(room, opts);
      sys.registry().put(opts.name, self);
      return caf::expected<caf::actor>{self};
    });
}

ws::websocket_handler_factory room_member(caf::actor_system& sys, room_options opts) {
  ws::websocket_actor_options how;
  how.flow.window = opts.window;
  return ws::websocket_actor_handler(
    [&sys, name = opts.name] { return sys.registry().get<caf::actor>(name); }, how);
}

} // namespace chat
