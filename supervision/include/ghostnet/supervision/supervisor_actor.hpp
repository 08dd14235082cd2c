#pragma once

// The typed interface of a supervisor (OTP's supervisor API as messages).

#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/message.hpp>
#include <caf/replies_to.hpp>
#include <caf/timespan.hpp>
#include <caf/typed_actor.hpp>

#include "ghostnet/actors/atoms.hpp"
#include "ghostnet/supervision/child_spec.hpp"
#include "ghostnet/supervision/supervisor_messages.hpp"

namespace ghostnet::supervision {

// Requests that change children are answered once the change is complete
// (e.g. terminate_child replies after the child is gone). Failures are
// ghostnet errors: duplicate_child, unknown_child, start_failed, invalid_state.
using supervisor_actor = caf::typed_actor<
  // The start handshake: answers ok once every static child has confirmed
  // its start (recursively: a supervisor child answers once its own children
  // have), or the error that ended the start. The sender becomes the
  // supervisor's parent: its exit messages stop the tree (see the exit rule
  // in supervisor_spec::parent). A parent supervisor sends it to each child
  // of kind supervisor; node::start waits on it for the root.
  caf::replies_to<await_start_atom>::with<caf::ok_atom>,
  // Adds and starts a child (not for simple_one_for_one).
  caf::replies_to<start_child_atom, child_spec>::with<caf::actor>,
  // simple_one_for_one: starts a child from the template with these args.
  caf::replies_to<start_child_atom, caf::message>::with<caf::actor>,
  // simple_one_for_one with a temporary template: takes over a child that
  // the caller spawned itself (monitors it, stops it on shutdown). Meant as a
  // one-way message (anon_send) on a hot path such as accepting connections;
  // a request gets ok, or invalid_state (wrong strategy, not temporary, no
  // actor, shutting down: then the child is adopted and stopped) or
  // duplicate_child. A child that already exited is adopted and reported as
  // exited at once. The vector form adopts each and answers the first error.
  caf::replies_to<adopt_child_atom, caf::actor>::with<caf::ok_atom>,
  caf::replies_to<adopt_child_atom, std::vector<caf::actor>>::with<caf::ok_atom>,
  // Stops a child by id (its spec stays unless temporary).
  caf::replies_to<terminate_child_atom, std::string>::with<caf::ok_atom>,
  // Stops a child by actor (how simple_one_for_one children are addressed).
  caf::replies_to<terminate_child_atom, caf::actor>::with<caf::ok_atom>,
  // Starts a stopped child again.
  caf::replies_to<restart_child_atom, std::string>::with<caf::actor>,
  // Removes the spec of a stopped child.
  caf::replies_to<delete_child_atom, std::string>::with<caf::ok_atom>,
  caf::replies_to<which_children_atom>::with<std::vector<child_info>>,
  caf::replies_to<count_children_atom>::with<child_counts>,
  // Subscribers get every supervisor_event until they unsubscribe or exit.
  caf::reacts_to<subscribe_atom, caf::actor>,
  caf::reacts_to<unsubscribe_atom, caf::actor>,
  // Stops all children in reverse order, then the supervisor itself. Children
  // still running at the deadline are killed; those still alive
  // `abandon_grace` later (blocked inside a handler) are abandoned and listed
  // in the report. A deadline <= 0 means none (each child's own shutdown
  // policy still applies). Replies when done, within deadline + grace.
  caf::replies_to<shutdown_atom, caf::timespan>::with<shutdown_report>>;

} // namespace ghostnet::supervision
