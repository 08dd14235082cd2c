#pragma once

// Works around a CAF 0.17.6 bug: abstract_broker::cleanup() calls
// local_actor::cleanup() directly and skips scheduled_actor::cleanup(), so a
// terminated broker's mailbox is never closed. A message that arrives later
// (a timer the broker armed, a request) is queued into the dead broker, the
// broker is never released (LeakSanitizer shows it), and a request waits
// forever instead of failing. Every ghostnet broker (connections, listeners,
// UDP endpoints, supervisors on the I/O thread) calls this from on_exit.

#include <caf/scheduled_actor.hpp>

namespace ghostnet::detail {

/// Closes the mailbox of an exiting broker as scheduled_actor::cleanup would:
/// queued and later messages are dropped, requests are answered with the
/// broker's exit reason.
void close_mailbox_on_exit(caf::scheduled_actor& self);

} // namespace ghostnet::detail
