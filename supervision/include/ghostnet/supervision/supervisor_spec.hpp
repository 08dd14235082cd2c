#pragma once

// A supervisor's flags and children: OTP's sup_flags() and child specs.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/timespan.hpp>

#include "ghostnet/supervision/child_spec.hpp"

namespace ghostnet::supervision {

/// Which children are restarted when one of them exits and must be restarted.
enum class strategy : uint8_t {
  one_for_one,        ///< only the child that exited
  one_for_all,        ///< all children: the others are stopped, all restarted
  rest_for_one,       ///< the child and those started after it
  simple_one_for_one, ///< one_for_one over dynamic children of one template
};

/// When the exit of a significant child ends the supervisor (OTP 24+).
enum class auto_shutdown : uint8_t { never, any_significant, all_significant };

struct supervisor_flags {
  strategy how = strategy::one_for_one;
  /// At most `intensity` restarts within `period`; one more and the
  /// supervisor stops its children and exits with restart_intensity_exceeded.
  uint32_t intensity = 1;
  caf::timespan period = std::chrono::seconds(5); ///< must be > 0
  auto_shutdown shutdown_when = auto_shutdown::never;
};

struct supervisor_spec {
  std::string name = "supervisor"; ///< used in logs and events
  supervisor_flags flags;
  /// Started in order, stopped in reverse. For simple_one_for_one exactly one
  /// spec: the template from which `start_child(args)` makes children.
  std::vector<child_spec> children;
  /// Receive every supervisor_event from the start, including the starts of
  /// the initial children (a later `subscribe` would miss those).
  std::vector<caf::actor> subscribers;
  /// Run on the middleman's I/O (multiplexer) thread instead of the
  /// scheduler. For a supervisor of brokers (a TCP service's connections):
  /// adopting a child and learning of its exit then cost no thread hop. Its
  /// start functions share the thread with every socket: they must be quick.
  /// Needs the middleman loaded (else invalid_configuration).
  bool io_thread = false;
  /// The exit rule (OTP's): an exit message stops the supervisor only if it
  /// comes from its parent: this actor, or the supervisor that started it
  /// (it sends `await_start` first and so makes itself known), or nobody
  /// (`anon_send_exit`, an explicit order). Exits of other actors, such as
  /// a linked stranger that died, are logged and ignored. `kill` always
  /// ends it (CAF does not ask).
  caf::actor_addr parent;
  /// simple_one_for_one: at most this many dynamic starts await their start
  /// handshake at once (later ones wait, in arrival order, and start in a
  /// burst once half of these confirmed), and a parallel
  /// stop asks this many children at a time, one more for each that goes
  /// and another wave every millisecond. Each child asked to start or stop
  /// waits in a scheduler queue until it runs, and CAF 0.17's work stealing
  /// walks that queue for every steal: 50,000 at once were quadratic.
  size_t max_in_flight = 512;
};

/// Validates flags and every child spec: a non-positive period, duplicate
/// ids, a simple_one_for_one without exactly one template, a significant
/// child under auto_shutdown `never` (as OTP refuses it), ... each becomes
/// a typed error (`invalid_configuration`, `duplicate_child`).
[[nodiscard]] caf::error validate(const supervisor_spec& spec);

/// Refuses a significant child under auto_shutdown `never`
/// (`invalid_configuration`); used by validate() and by start_child.
[[nodiscard]] caf::error validate_significance(const child_spec& child,
                                               auto_shutdown when,
                                               const std::string& supervisor);

/// A child that is itself a supervisor (kind supervisor, shutdown infinity).
[[nodiscard]] child_spec supervisor_child(std::string id, supervisor_spec spec,
                                          restart_type restart
                                          = restart_type::permanent);

[[nodiscard]] const char* to_string(strategy x) noexcept;
[[nodiscard]] const char* to_string(auto_shutdown x) noexcept;

} // namespace ghostnet::supervision
