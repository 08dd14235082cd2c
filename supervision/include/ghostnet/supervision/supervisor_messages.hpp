#pragma once

// The values a supervisor answers with and the events it publishes.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

#include "ghostnet/supervision/child_spec.hpp"

namespace ghostnet::supervision {

/// Life-cycle state of one child as the supervisor sees it.
enum class child_state : uint8_t {
  starting,   ///< spawned, its start not yet confirmed (the start handshake)
  running,    ///< started, not asked to stop
  restarting, ///< exited; waiting for its backoff delay before the restart
  stopping,   ///< asked to stop, not yet gone
  stopped,    ///< not running and not scheduled (terminated, or transient exit)
};

[[nodiscard]] const char* to_string(child_state x) noexcept;

/// One row of `which_children`.
struct child_info {
  std::string id;
  caf::actor actor; ///< invalid unless running or stopping
  child_kind kind = child_kind::worker;
  restart_type restart = restart_type::permanent;
  child_state state = child_state::stopped;
  uint64_t restarts = 0;  ///< automatic restarts (after an exit) only
  caf::error last_exit;   ///< reason of its last exit (none if never exited)
  uint64_t manual_restarts = 0; ///< starts by `restart_child` requests
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_info& x) {
  return f(caf::meta::type_name("child_info"), x.id, x.actor, x.kind,
           x.restart, x.state, x.restarts, x.last_exit, x.manual_restarts);
}

/// The answer to `count_children` (OTP's count_children/1). Under
/// simple_one_for_one, as in OTP, `specs` is 1 (the template) and
/// `supervisors` / `workers` count the dynamic children of the template's
/// kind.
struct child_counts {
  uint64_t specs = 0;       ///< child specs known, their children running or not
  uint64_t active = 0;      ///< children with a live actor (starting, running, stopping)
  uint64_t supervisors = 0; ///< children of kind supervisor
  uint64_t workers = 0;     ///< children of kind worker
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_counts& x) {
  return f(caf::meta::type_name("child_counts"), x.specs, x.active,
           x.supervisors, x.workers);
}

/// What happened in a supervisor; published to every subscriber.
enum class event_kind : uint8_t {
  child_started,     ///< a child started (first time)
  child_exited,      ///< a child exited on its own; `reason` says why
  restart_scheduled, ///< a restart waits for `delay` (backoff)
  child_restarted,   ///< a child started again; `restarts` counts them
  child_terminated,  ///< a child was stopped by its supervisor
  start_failed,      ///< a start function failed; `reason` says why
  gave_up,           ///< restart intensity exceeded: the supervisor exits
  supervisor_stopped,///< the supervisor finished stopping and exits
  child_abandoned,   ///< still alive after its kill at the shutdown deadline
};

[[nodiscard]] const char* to_string(event_kind x) noexcept;

struct supervisor_event {
  event_kind kind = event_kind::child_started;
  std::string supervisor; ///< the supervisor's name
  std::string child;      ///< the child's id (empty for supervisor events)
  caf::actor_addr actor;  ///< the child actor, where there is one
  caf::error reason;      ///< exit or failure reason, where there is one
  uint64_t restarts = 0;  ///< the child's restart counter after the event
  caf::timespan delay{0}; ///< for restart_scheduled: the backoff delay
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, supervisor_event& x) {
  return f(caf::meta::type_name("supervisor_event"), x.kind, x.supervisor,
           x.child, x.actor, x.reason, x.restarts, x.delay);
}

/// The answer to `shutdown`: whether every child stopped. A child blocked
/// inside a handler cannot process even a kill; at the deadline (plus a
/// short grace for the kills, `abandon_grace`) the supervisor stops waiting,
/// lists it here and exits. The abandoned actor dies when its handler
/// returns (the kill is queued).
struct shutdown_report {
  std::vector<std::string> abandoned; ///< ids of the children left behind

  [[nodiscard]] bool clean() const noexcept {
    return abandoned.empty();
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shutdown_report& x) {
  return f(caf::meta::type_name("shutdown_report"), x.abandoned);
}

/// How long a supervisor waits for the children it killed at its shutdown
/// deadline before it abandons them.
constexpr caf::timespan abandon_grace = std::chrono::milliseconds(250);

} // namespace ghostnet::supervision
