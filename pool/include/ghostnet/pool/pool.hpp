#pragma once

// Spawning connection pools.
//
//   pool "<name>"                 pool actor: leases, waiters, balancing,
//   │                             breakers, health checks, stats
//   └── <name>.members            supervisor, simple_one_for_one, temporary
//       └── member ...            one connection actor per connection
//
// The pool decides when a member is opened, replaced or closed; the
// supervisor only starts them and owns their shutdown (graceful with a
// deadline, killed after it). Members are temporary: a dead member is
// replaced by the pool (which picks the endpoint, asks the breaker and
// counts), never restarted blindly by the supervisor.

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>

#include "ghostnet/pool/pool_actor.hpp"
#include "ghostnet/pool/pool_options.hpp"
#include "ghostnet/supervision/child_spec.hpp"

namespace ghostnet::pool {

/// Validates `opts` and spawns a pool (and its members' supervisor). Needs
/// the middleman loaded. With min_idle > 0 it starts connecting at once.
/// The pool is not linked to the caller: close it (close_atom) or send it
/// an exit message; if it is killed, its members are killed with it.
[[nodiscard]] caf::expected<pool_actor> spawn_pool(caf::actor_system& sys,
                                                   pool_options opts);

/// A pool as a child of a supervision tree (id = opts.name, permanent). An
/// exit message from the supervisor closes it as close_atom does.
[[nodiscard]] caf::expected<supervision::child_spec>
pool_child(pool_options opts);

/// Registers the pool's public message types (lease, pool_stats,
/// endpoint_stats) with `cfg`, for messages that cross the network.
void add_message_types(caf::actor_system_config& cfg);

} // namespace ghostnet::pool
