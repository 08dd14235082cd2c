#pragma once

// Spawning supervisors.

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include "ghostnet/supervision/supervisor_actor.hpp"
#include "ghostnet/supervision/supervisor_spec.hpp"

namespace ghostnet::supervision {

/// Validates `spec` and spawns a supervisor that starts its children in
/// order. A child that fails to start makes the supervisor stop the children
/// already started and exit with `errc::start_failed` (naming the child): its
/// own supervisor sees that exit like any other.
[[nodiscard]] caf::expected<supervisor_actor>
spawn_supervisor(caf::actor_system& sys, supervisor_spec spec);

} // namespace ghostnet::supervision
