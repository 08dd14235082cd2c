#pragma once

// The TCP listener actor (OTP's acceptor, ranch-style): it owns the listening
// socket, accepts, spawns one connection actor per accepted socket on its own
// thread and hands it to its connections supervisor to adopt (one one-way
// message per accept burst; no request/response on the accept path).

#include <cstdint>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "ghostnet/actors/atoms.hpp"
#include "ghostnet/supervision/supervisor_actor.hpp"
#include "ghostnet/transports/connection_handler.hpp"
#include "ghostnet/transports/endpoint.hpp"
#include "ghostnet/transports/socket_handle.hpp"
#include "ghostnet/transports/tcp_options.hpp"

namespace ghostnet::transports {

struct listener_info {
  endpoint bound;
  uint64_t active = 0;        ///< connections spawned and not yet ended
  uint64_t accepted = 0;      ///< connections spawned and handed over
  uint64_t rejected = 0;      ///< closed at once: max_connections reached
  uint64_t accept_errors = 0; ///< EMFILE and friends (each backs off)
  uint64_t start_failures = 0;///< a connection could not be spawned or adopted
  bool accepting = true;      ///< false while paused or drained
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, listener_info& x) {
  return f(caf::meta::type_name("listener_info"), x.bound, x.active,
           x.accepted, x.rejected, x.accept_errors, x.start_failures,
           x.accepting);
}

/// - info: the bound address and counters.
/// - drain: stops accepting (closes the listening socket); open connections
///   are left to their supervisor. Answered at once.
using tcp_listener_actor = caf::typed_actor<
  caf::replies_to<info_atom>::with<listener_info>,
  caf::replies_to<drain_atom>::with<caf::ok_atom>>;

/// Starts a listener on an already listening socket. For each accepted
/// socket it spawns a connection actor (`opts.connection`, a handler from
/// `make_handler`) and sends it to `connections` to adopt (`adopt_child`):
/// a simple_one_for_one supervisor with a temporary template (tcp_service()
/// builds that pair), which then monitors it and stops it on shutdown.
/// - `max_connections` counts connections from their spawn until their actor
///   has exited (an exit hook on each connection; no down_msg per connection).
/// - If the supervisor is gone, connections it had not adopted yet are killed
///   (a hook on the supervisor), and the listener exits.
[[nodiscard]] caf::expected<tcp_listener_actor>
spawn_tcp_listener(caf::actor_system& sys, socket_handle listening,
                   const listener_options& opts, handler_factory make_handler,
                   supervision::supervisor_actor connections);

} // namespace ghostnet::transports
