#pragma once

// Every atom ghostnet's typed interfaces use, in one place (CAF 0.17 atoms are
// at most 10 characters).

#include <caf/atom.hpp>

namespace ghostnet {

// -- supervision --------------------------------------------------------------
using start_child_atom = caf::atom_constant<caf::atom("startchild")>;
/// Hands running actors over to a simple_one_for_one supervisor.
using adopt_child_atom = caf::atom_constant<caf::atom("adoptchild")>;
using terminate_child_atom = caf::atom_constant<caf::atom("termchild")>;
using restart_child_atom = caf::atom_constant<caf::atom("restartchd")>;
using delete_child_atom = caf::atom_constant<caf::atom("deletechld")>;
using which_children_atom = caf::atom_constant<caf::atom("whichchild")>;
using count_children_atom = caf::atom_constant<caf::atom("countchild")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using unsubscribe_atom = caf::atom_constant<caf::atom("unsubscrib")>;
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;
/// The start handshake: a supervisor answers once its children have started.
using await_start_atom = caf::atom_constant<caf::atom("awaitstart")>;

// -- transports ---------------------------------------------------------------
using send_atom = caf::atom_constant<caf::atom("send")>;
using close_atom = caf::atom_constant<caf::atom("close")>;
using abort_atom = caf::atom_constant<caf::atom("abort")>;
using info_atom = caf::atom_constant<caf::atom("info")>;
using received_atom = caf::atom_constant<caf::atom("received")>;
using closed_atom = caf::atom_constant<caf::atom("closed")>;
using timeouts_atom = caf::atom_constant<caf::atom("timeouts")>;
using connect_atom = caf::atom_constant<caf::atom("connect")>;
using accepted_atom = caf::atom_constant<caf::atom("accepted")>;
using bound_atom = caf::atom_constant<caf::atom("bound")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;
using resume_atom = caf::atom_constant<caf::atom("resume")>;
using stats_atom = caf::atom_constant<caf::atom("stats")>;
using send_to_atom = caf::atom_constant<caf::atom("sendto")>;
using datagram_atom = caf::atom_constant<caf::atom("datagram")>;

// -- pools --------------------------------------------------------------------
using acquire_atom = caf::atom_constant<caf::atom("acquire")>;
using release_atom = caf::atom_constant<caf::atom("release")>;

} // namespace ghostnet
