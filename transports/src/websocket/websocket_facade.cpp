// The facade actor of a WebSocket connection: websocket_actor's typed
// requests, forwarded to the connection as layer requests (the connection
// actor's interface stays the same across the upgrade).

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "ghostnet/actors/atoms.hpp"
#include "websocket_layer.hpp"

namespace ghostnet::transports::ws::detail {

namespace {

websocket_actor::behavior_type
facade(websocket_actor::pointer self, connection_actor conn, caf::actor watch,
       uint16_t code) {
  // It lives as long as its connection; a watched handler actor that goes
  // first takes the connection with it (closed with `code`).
  self->monitor(conn);
  if (watch)
    self->monitor(watch);
  self->set_down_handler([self, conn, watch, code](caf::down_msg& msg) {
    if (msg.source == conn.address()) {
      self->quit();
      return;
    }
    if (watch && msg.source == watch.address())
      caf::anon_send(conn, layer_request_atom::value,
                     caf::make_message(close_atom::value, code,
                                       std::string{"handler actor down"}));
  });
  auto forward = [self, conn](caf::message msg) -> caf::result<caf::ok_atom> {
    auto* current = self->current_mailbox_element();
    if (current == nullptr || current->mid.is_async()) {
      // A plain send, not a request: nobody waits for the ok, and an
      // application actor should not get one it never asked for.
      caf::anon_send(conn, layer_request_atom::value, std::move(msg));
      return caf::delegated<caf::ok_atom>{};
    }
    return self->delegate(conn, layer_request_atom::value, std::move(msg));
  };
  return {
    [forward](text_atom, std::string& text) {
      return forward(caf::make_message(text_atom::value, std::move(text)));
    },
    [forward](binary_atom, std::vector<char>& data) {
      return forward(caf::make_message(binary_atom::value, std::move(data)));
    },
    [forward](close_atom, uint16_t code, std::string& reason) {
      return forward(caf::make_message(close_atom::value, code, std::move(reason)));
    },
    [self, conn](demand_atom, uint32_t n) {
      self->send(conn, demand_atom::value, n);
    },
    [self, conn](info_atom) { return self->delegate(conn, info_atom::value); },
    [conn](caf::get_atom) { return conn; },
  };
}

} // namespace

websocket_actor spawn_facade(const connection_actor& conn,
                             const caf::actor& watch, uint16_t code) {
  auto& sys = caf::actor_cast<caf::actor>(conn)->home_system();
  return sys.spawn(facade, conn, watch, code);
}

} // namespace ghostnet::transports::ws::detail
