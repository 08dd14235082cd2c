#pragma once

// Spawning connection actors: one broker per TCP connection, running its
// layer stack ([TLS] → framing → handler, or `connection_options::protocol`;
// see layer.hpp) on CAF's multiplexer thread. `make_handler` may be empty
// when `opts.protocol` is set.

#include <memory>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include "ghostnet/transports/connection_actor.hpp"
#include "ghostnet/transports/connection_handler.hpp"
#include "ghostnet/transports/socket_handle.hpp"
#include "ghostnet/transports/tcp_options.hpp"

namespace ghostnet::transports {

/// Adopts an accepted (connected) socket. Needs the middleman loaded.
[[nodiscard]] caf::expected<connection_actor>
spawn_connection(caf::actor_system& sys, socket_handle sock,
                 const connection_options& opts, handler_factory make_handler);

/// Connects to `opts.remote` without blocking any thread: the actor exists at
/// once in state `connecting`; `connect_atom` requests are answered once the
/// connection is up or has failed (connection_refused, network_unreachable,
/// invalid_address, timeout — after `opts.retries` further attempts with
/// exponential backoff and jitter). The handler's on_open / on_close tell the
/// same story.
[[nodiscard]] caf::expected<connection_actor>
connect(caf::actor_system& sys, const connect_options& opts,
        handler_factory make_handler);

namespace detail {

/// What all connections of one listener share: one copy, not one each (an
/// idle connection's memory counts).
struct connection_config {
  connection_options options;
  handler_factory make_handler;
};

using connection_config_ptr = std::shared_ptr<const connection_config>;

/// Validates `opts` once, for every connection that will use them.
[[nodiscard]] caf::expected<connection_config_ptr>
make_connection_config(connection_options opts, handler_factory make_handler);

/// As spawn_connection, for a socket accepted from a listening socket that
/// carries the socket options already (Linux copies them on accept), from
/// `peer` (as accept4 reported it), with a validated shared `config`.
[[nodiscard]] caf::expected<connection_actor>
spawn_accepted_connection(caf::actor_system& sys, socket_handle sock,
                          const endpoint& peer,
                          const connection_config_ptr& config);

} // namespace detail

} // namespace ghostnet::transports
