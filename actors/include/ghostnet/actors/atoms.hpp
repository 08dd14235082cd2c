#pragma once

// Every atom ghostnet uses, in one place (CAF 0.17 atoms are at most 10
// characters, and two atoms with the same text are the same type): those of
// the typed interfaces, then the ones actors send themselves.

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
/// (opened_atom, connection_actor, connection_info) to a handler actor.
using opened_atom = caf::atom_constant<caf::atom("opened")>;
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
/// (demand_atom, uint32_t n) to a connection: its handler actor takes n more.
using demand_atom = caf::atom_constant<caf::atom("demand")>;

/// (set_receiver_atom, caf::actor) to a connection: its messages go to that
/// actor from now on (gen_tcp's controlling_process).
using set_receiver_atom = caf::atom_constant<caf::atom("setrecv")>;

// -- WebSocket ----------------------------------------------------------------
/// (text_atom, std::string) to a websocket_actor: one text message.
using text_atom = caf::atom_constant<caf::atom("wstext")>;
/// (binary_atom, std::vector<char>) to a websocket_actor: one binary message.
using binary_atom = caf::atom_constant<caf::atom("wsbinary")>;
/// (layer_request_atom, caf::message) to a connection: a request for the
/// protocol on top (how a facade such as websocket_actor reaches its layer).
using layer_request_atom = caf::atom_constant<caf::atom("gnlayerreq")>;

// -- pools --------------------------------------------------------------------
using acquire_atom = caf::atom_constant<caf::atom("acquire")>;
using release_atom = caf::atom_constant<caf::atom("release")>;

// -- internal: self-messages and timers ---------------------------------------
/// The supervisor's one timer (restart delays, start and stop deadlines).
using supervisor_tick_atom = caf::atom_constant<caf::atom("gstick")>;
/// A connection stops itself from outside a handler (quit() would wait).
using connection_stop_atom = caf::atom_constant<caf::atom("gnstop")>;
/// A listener resumes accepting after an EMFILE back-off.
using listener_resume_atom = caf::atom_constant<caf::atom("gnresume")>;
/// A host name lookup's answer to the connection that asked for it.
using resolved_atom = caf::atom_constant<caf::atom("gnresolved")>;
/// To the listener: a connection ended while it waits for one to end.
using conn_ended_atom = caf::atom_constant<caf::atom("gnconnend")>;
/// (member_up_atom, uint64_t member, connection_actor): a pool member is up.
using member_up_atom = caf::atom_constant<caf::atom("gpmemberup")>;
using pool_waiter_timer_atom = caf::atom_constant<caf::atom("gpwaiter")>;
using pool_idle_timer_atom = caf::atom_constant<caf::atom("gpidle")>;
using pool_health_timer_atom = caf::atom_constant<caf::atom("gphealth")>;
using pool_probe_timer_atom = caf::atom_constant<caf::atom("gpprobe")>;
using pool_lifetime_atom = caf::atom_constant<caf::atom("gplifetime")>;
using pool_lease_timer_atom = caf::atom_constant<caf::atom("gplease")>;
using pool_breaker_timer_atom = caf::atom_constant<caf::atom("gpbreaker")>;
using pool_connect_deadline_atom = caf::atom_constant<caf::atom("gpconndl")>;
using pool_close_deadline_atom = caf::atom_constant<caf::atom("gpclosedl")>;
/// (writable_atom, connection_actor) from a pool member to its holder: a
/// send refused with errc::backpressure may be made again.
using writable_atom = caf::atom_constant<caf::atom("writable")>;
/// (http_body_atom, std::string piece) -> ok: the HTTP client hands the next
/// piece of a streamed response body to its sink. (http_body_atom) ->
/// std::string: it asks a request body's source for the next piece (empty:
/// the end).
using http_body_atom = caf::atom_constant<caf::atom("ghbody")>;
/// (http_timer_atom, uint64_t exchange, uint32_t attempt, uint8_t kind): a
/// deadline of one of the HTTP client's requests.
using http_timer_atom = caf::atom_constant<caf::atom("ghtimer")>;

} // namespace ghostnet
